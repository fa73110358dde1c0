using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Format;
using static ReSTE.Inference.Engine.BConv2d.CounterTranspose;
using static ReSTE.Inference.Engine.BConv2d.HarleySeal;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>
    /// A binary convolution on bit-planes, counted with carry-save adders (Harley–Seal).
    /// <para>
    /// The activation of each input channel becomes two bit-planes over the <em>output</em> pixels for every kernel
    /// tap: P (the input at that tap is &gt; 0) and N (&lt; 0); a zero, the zero padding included, is in neither. With
    /// ±1 weights the dot product of an output pixel is <c>2·agree − valid</c>, where agree counts the taps and
    /// channels whose sign matches the weight (the P plane where w = +1, the N plane where w = −1) and valid counts the
    /// nonzero inputs: C times the taps inside the image when the input has no exact zero, else counted the same way.
    /// </para>
    /// <para>
    /// Each 512-bit vector holds 512 output pixels (several images' planes side by side for small planes, or several
    /// channels' planes of one image, the weight then choosing P or N lane by lane). Agreements are summed bit by bit
    /// into bit-sliced counters with vpternlogq carry-save adders, about 2.3 instructions per 512 bit-products, then
    /// turned into integers per pixel by transposing the counter planes with vpermb and gf2p8affineqb.
    /// </para>
    /// <para>
    /// Set counting, when the input holds no exact zero and no weight is 0: there N = inside ∧ ¬P, so with S = the
    /// count of all P planes (once per image, shared by the output channels), P⁺ and P⁻ the counts of the P planes
    /// under the +1 and the −1 weights, and V the −1 weights whose tap is inside the image, agree = 2·P⁺ + V − S =
    /// S + V − 2·P⁻. Each output channel counts only its smaller weight set (about half the inputs) and the N planes
    /// are not even built; dot = (2·V − A) ± (4·C − 2·S), with 2·V − A precomputed per output channel and pixel.
    /// </para>
    /// <para>
    /// A call may split its output channels over several threads (<see cref="Scratch.Threads"/>, each with counts of
    /// its own) once its counting work passes <see cref="ParallelWork"/>: batch-1 latency on more than one core.
    /// </para>
    /// </summary>
    internal sealed unsafe partial class BitPlaneConv
    {
        /// <summary>Images one call takes at the most (an image group fills at most 8 lanes).</summary>
        public const int MaxBatch = 8;

        public readonly int InC, OutC, KH, KW, Taps, Stride, Pad, InH, InW, OutH, OutW;
        /// <summary>Output pixels per plane, and 64-bit words per plane.</summary>
        public readonly int PlaneBits, PlaneWords;
        /// <summary>Vectors per plane (1 for planes of up to 8 words).</summary>
        readonly int _vp;
        /// <summary>Words per lane when a plane fits 4 words or fewer (1, 2 or 4; planes of 5 to 7 words fit none); 8 otherwise.</summary>
        readonly int _laneWords;
        /// <summary>Planes per vector: 8 / lane words for small planes, else 1.</summary>
        public readonly int Group;
        /// <summary>Output-channel groups of the one-image layout for small planes: ⌈OutC / Group⌉.</summary>
        readonly int _outGroups;
        readonly bool _weightZeros;
        /// <summary>Per output channel, per (tap, channel): the byte offset of the tap vector holding the agreeing sign.</summary>
        readonly int[] _agreeIdx;
        /// <summary>With zero weights only: per output channel, the byte offset of each input's nonzero plane (or zero vector).</summary>
        readonly int[]? _validIdx;
        /// <summary>One image, small planes: per (output group, tap, c), bit g set where w[group·G + g, tap, c] &gt; 0.</summary>
        readonly byte[]? _laneBits;
        readonly Vector512<ulong>[]? _selectLut;
        /// <summary>Per output pixel, C × the kernel taps that fall inside the input: the valid count without zeros.</summary>
        readonly int[] _analyticValid;
        /// <summary>
        /// Set counting (no zero weights; used when the input has no exact zero): per output channel, the byte offsets of
        /// the P planes of its smaller weight set (+1 or −1), where they start in the array, how many, the set's sign,
        /// and per pixel 2·V − A (V: the −1 weights whose tap is inside the image, A: the valid count).
        /// </summary>
        readonly int[]? _setOffsets, _setStart;
        readonly sbyte[]? _setSign;
        readonly short[]? _setBias;
        /// <summary>Counter planes the largest weight set needs (a set is at most half the inputs: often one plane less).</summary>
        readonly int _setBits;
        /// <summary>Bit-sliced counter planes the largest count needs.</summary>
        readonly int _agreeBits;
        readonly int _rowWords, _streamWords;
        /// <summary>
        /// Stride 1, "same" padding and rows of 8, 16, 32 or 64 pixels: sign bits are kept row-aligned with Pad zero rows
        /// above and below, so a tap's vertical offset is an address offset and its horizontal one a shift in each row.
        /// </summary>
        readonly bool _aligned;
        /// <summary>Bytes per row, per plane, and per channel of the padded row-aligned sign bits.</summary>
        readonly int _rowBytes, _planeBytes, _channelBytes;
        /// <summary>
        /// Stride 2 halving the input, output rows of 8, 16 or 32 pixels: the input is split into its four phases (even or
        /// odd rows × even or odd columns), each a row-aligned plane of the output's size, and every tap is one phase
        /// shifted by at most a few rows and pixels.
        /// </summary>
        readonly bool _halved;
        /// <summary>Zero rows above and below each phase, and bytes per phase buffer.</summary>
        readonly int _phasePad, _phaseBytes;

        public BitPlaneConv(BinaryConv2dOp op, int inH, int inW)
        {
            InC = op.InChannels; OutC = op.OutChannels; KH = op.KernelH; KW = op.KernelW; Stride = op.Stride; Pad = op.Padding;
            Taps = KH * KW;
            InH = inH; InW = inW;
            OutH = (inH + 2 * Pad - KH) / Stride + 1;
            OutW = (inW + 2 * Pad - KW) / Stride + 1;
            if (OutH <= 0 || OutW <= 0) throw new ArgumentException($"{op.Name}: a {KH}×{KW} kernel does not fit a {inH}×{inW} input with padding {Pad}.");
            if (inW + 2 * Pad > 64)
                throw new NotSupportedException($"{op.Name}: rows of {inW} pixels plus padding {Pad} on both sides exceed the 64 bits a bit-plane row holds.");
            PlaneBits = OutH * OutW;
            PlaneWords = (PlaneBits + 63) / 64;
            // Planes of 5 to 7 words fit no lane of 1, 2 or 4 words: they take a whole vector, as larger planes do.
            if (PlaneWords > 4)
            {
                _vp = (PlaneWords + 7) / 8;
                _laneWords = 8;
                Group = 1;
            }
            else
            {
                _vp = 1;
                _laneWords = PlaneWords <= 1 ? 1 : PlaneWords <= 2 ? 2 : 4;
                Group = 8 / _laneWords;
            }
            _outGroups = (OutC + Group - 1) / Group;
            _streamWords = (inH * inW + 63) / 64 + 1;
            _rowWords = inH + 2 * Pad;
            _aligned = Stride == 1 && OutH == InH && OutW == InW && InW is 8 or 16 or 32 or 64;
            _rowBytes = InW / 8;
            _planeBytes = InH * _rowBytes;
            _channelBytes = ((InH + 2 * Pad) * _rowBytes + 63) / 64 * 64 + 64;
            _halved = Stride == 2 && InH == 2 * OutH && InW == 2 * OutW && OutW is 8 or 16 or 32;
            _phasePad = (Math.Max(KH, KW) + 1) / 2;
            _phaseBytes = ((OutH + 2 * _phasePad) * OutW / 8 + 63) / 64 * 64 + 64;

            // Weights as {−1, 0, +1}, [o][tap][c].
            var w = new sbyte[OutC * Taps * InC];
            for (int o = 0; o < OutC; o++)
                for (int c = 0; c < InC; c++)
                    for (int t = 0; t < Taps; t++)
                        w[(o * Taps + t) * InC + c] = (sbyte)op.Weight[((long)o * InC + c) * Taps + t];
            _weightZeros = op.Weight.NonZero is not null;

            int zero = ZeroIndex;
            _agreeIdx = new int[OutC * Taps * InC];
            if (_weightZeros) _validIdx = new int[OutC * Taps * InC];
            for (int i = 0; i < w.Length; i++)
            {
                int tc = i % (Taps * InC);
                int wv = w[i];
                // Byte offsets into the tap buffer, so that an input's address is one add.
                _agreeIdx[i] = 64 * (wv == 0 ? zero : ((wv > 0 ? 0 : 1) * Taps * InC + tc) * _vp);
                if (_validIdx is not null) _validIdx[i] = 64 * (wv == 0 ? zero : (2 * Taps * InC + tc) * _vp);
            }
            _agreeBits = BitLength(Taps * InC);
            if (Group > 1 && !_weightZeros)
            {
                _laneBits = new byte[_outGroups * Taps * InC];
                for (int o = 0; o < OutC; o++)
                    for (int tc = 0; tc < Taps * InC; tc++)
                        if (w[o * Taps * InC + tc] > 0) _laneBits[(o / Group) * Taps * InC + tc] |= (byte)(1 << (o % Group));
                _selectLut = new Vector512<ulong>[1 << Group];
                var lanes = new ulong[8];
                for (int bits = 0; bits < _selectLut.Length; bits++)
                {
                    for (int q = 0; q < 8; q++) lanes[q] = ((bits >> (q / _laneWords)) & 1) != 0 ? ulong.MaxValue : 0;
                    _selectLut[bits] = Vector512.Create(lanes);
                }
            }
            _analyticValid = new int[PlaneBits + 16]; // + a vector's slack: Dot16 may read past the last pixel
            for (int oy = 0; oy < OutH; oy++)
                for (int ox = 0; ox < OutW; ox++)
                {
                    int n = 0;
                    for (int t = 0; t < Taps; t++) if (TapInside(oy, ox, t)) n++;
                    _analyticValid[oy * OutW + ox] = InC * n;
                }
            // (2·V − A must fit a short: up to 16,383 inputs per output.)
            if (!_weightZeros && 2 * Taps * InC <= short.MaxValue)
            {
                int inputs = Taps * InC;
                _setStart = new int[OutC + 1];
                _setSign = new sbyte[OutC];
                _setBias = new short[OutC * PlaneBits + 16];
                var offsets = new System.Collections.Generic.List<int>();
                var negPerTap = new int[Taps];
                for (int o = 0; o < OutC; o++)
                {
                    int plus = 0;
                    Array.Clear(negPerTap);
                    for (int tc = 0; tc < inputs; tc++)
                        if (w[o * inputs + tc] > 0) plus++;
                        else negPerTap[tc / InC]++;
                    sbyte sign = (sbyte)(plus <= inputs - plus ? 1 : -1);
                    _setSign[o] = sign;
                    _setStart[o] = offsets.Count;
                    for (int tc = 0; tc < inputs; tc++)
                        if (w[o * inputs + tc] == sign) offsets.Add(64 * tc * _vp); // P plane of (tap, channel)
                    for (int oy = 0; oy < OutH; oy++)
                        for (int ox = 0; ox < OutW; ox++)
                        {
                            int v = 0;
                            for (int t = 0; t < Taps; t++) if (TapInside(oy, ox, t)) v += negPerTap[t];
                            _setBias[o * PlaneBits + oy * OutW + ox] = (short)(2 * v - _analyticValid[oy * OutW + ox]);
                        }
                }
                _setStart[OutC] = offsets.Count;
                _setOffsets = offsets.ToArray();
                int largest = 0;
                for (int o = 0; o < OutC; o++) largest = Math.Max(largest, _setStart[o + 1] - _setStart[o]);
                _setBits = BitLength(largest);
            }
        }

        /// <summary>Whether tap t (row-major in the kernel) of output pixel (oy, ox) falls inside the input, not the padding.</summary>
        bool TapInside(int oy, int ox, int t)
        {
            int iy = oy * Stride - Pad + t / KW, ix = ox * Stride - Pad + t % KW;
            return (uint)iy < (uint)InH && (uint)ix < (uint)InW;
        }

        internal static int BitLength(int count) => Math.Max(5, 32 - BitOperations.LeadingZeroCount((uint)count));

        /// <summary>The index of the all-zero vectors (one per vector of a plane) after the P, N and M planes.</summary>
        int ZeroIndex => 3 * Taps * InC * _vp;

        /// <summary>64-byte vectors of tap planes (P, N, M and the zero vector) the largest layout needs.</summary>
        public int TapVectors => ZeroIndex + _vp;

        /// <summary>Words of bit scratch (sign streams, padded rows, strided rows).</summary>
        public int BitScratchWords => Math.Max(Math.Max(2 * InC * _streamWords + 2 * _rowWords + 2 * Stride * KH * OutH + 8, 2 * InC * _channelBytes / 8),
            (2 * (InH * InW / 8 + 64) + 8 * _phaseBytes) / 8);

        /// <summary>Unsigned 16-bit counts of one unit (one image's plane, or a vector of lanes), with a vector's slack.</summary>
        public int CountSlots => _vp * 512 + 16;

        /// <summary>
        /// The counts of one image and output channel, per output pixel (OutH·OutW, row-major): the dot product is
        /// 2·agree − valid, valid either counted (with zeros in the input or the weights) or C × the taps inside the image.
        /// </summary>
        public readonly struct Counts
        {
            public readonly ushort* Agree;
            /// <summary>Counted valid inputs, or null (then <see cref="Analytic"/>); with <see cref="Bias"/>: S, the count of all P planes.</summary>
            public readonly ushort* Valid;
            public readonly int* Analytic;
            public readonly int Length;
            /// <summary>
            /// Set-counting mode (see <see cref="BitPlaneConv"/>): per pixel 2·V − A of this output channel, and
            /// <see cref="Sign"/> +1 when <see cref="Agree"/> counts the P planes of its +1 weights, −1 of its −1 weights.
            /// The dot is then Bias + Sign·(4·Agree − 2·S).
            /// </summary>
            public readonly short* Bias;
            public readonly int Sign;

            public Counts(ushort* agree, ushort* valid, int* analytic, int length) { Agree = agree; Valid = valid; Analytic = analytic; Length = length; Bias = null; Sign = 0; }

            public Counts(ushort* agree, ushort* all, short* bias, int sign, int length)
            {
                Agree = agree; Valid = all; Analytic = null; Bias = bias; Sign = sign; Length = length;
            }

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public int Dot(int p) => Bias is not null ? Bias[p] + Sign * (4 * Agree[p] - 2 * Valid[p])
                : 2 * Agree[p] - (Valid is null ? Analytic[p] : Valid[p]);

            /// <summary>The dot products of pixels p … p + 15.</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public Vector512<int> Dot16(int p)
            {
                var a = Avx512F.ConvertToVector512Int32(Vector256.Load(Agree + p));
                if (Bias is not null)
                {
                    var set = (a << 2) - (Avx512F.ConvertToVector512Int32(Vector256.Load(Valid + p)) << 1);
                    var bias = Avx512F.ConvertToVector512Int32(Vector256.Load(Bias + p));
                    return Sign > 0 ? bias + set : bias - set;
                }
                var v = Valid is null ? Vector512.Load(Analytic + p) : Avx512F.ConvertToVector512Int32(Vector256.Load(Valid + p));
                return (a << 1) - v;
            }
        }

        /// <summary>Where the counts of one image and output channel go.</summary>
        public abstract class Sink
        {
            public abstract void Write(int image, int o, in Counts counts);
        }

        /// <summary>Scratch of one call (pointers into 64-byte aligned, pinned memory).</summary>
        public readonly struct Scratch
        {
            public readonly Vector512<ulong>* Taps;
            public readonly ulong* Bits;
            public readonly ushort* Counts, Valid;
            /// <summary>Threads that have counts of their own (thread t's start <see cref="CountStride"/>·t further on).</summary>
            public readonly int Capacity, CountStride;
            /// <summary>Threads a call may split its output channels over (≤ <see cref="Capacity"/>).</summary>
            public readonly int Threads;

            public Scratch(Vector512<ulong>* taps, ulong* bits, ushort* counts, ushort* valid, int capacity = 1, int countStride = 0, int threads = 1)
            {
                Taps = taps; Bits = bits; Counts = counts; Valid = valid; Capacity = capacity; CountStride = countStride;
                Threads = Math.Clamp(threads, 1, capacity);
            }

            /// <summary>This scratch with <paramref name="threads"/> threads allowed (at most its capacity).</summary>
            public Scratch WithThreads(int threads) => new(Taps, Bits, Counts, Valid, Capacity, CountStride, threads);

            public ushort* CountsOf(int thread) => Counts + (long)thread * CountStride;
            public ushort* ValidOf(int thread) => Valid + (long)thread * CountStride;
        }

        /// <summary>
        /// Vector inputs one call must count (output channels × inputs × vectors) before its output channels are split
        /// over threads: about 20 µs of counting, well above what waking a second thread costs.
        /// </summary>
        public const long ParallelWork = 32_768;

        /// <summary>Output units (channels or channel groups) [from, to) counted with thread <c>t</c>'s counts.</summary>
        delegate void OutputRange(int from, int to, int thread);

        /// <summary>Threads for <paramref name="units"/> output units of <paramref name="workPerUnit"/> vector inputs each.</summary>
        static int ThreadsFor(int threads, int units, long workPerUnit) =>
            threads <= 1 || units < 2 || (long)units * workPerUnit < ParallelWork ? 1 : Math.Min(threads, units);

        /// <summary>
        /// Ranges that <see cref="InParallel"/> has run since the process started, each with a thread's own counts: how the
        /// tests see that a call's output channels were split (one increment per range, against ≥ 20 µs of counting).
        /// </summary>
        internal static long PartsRun;

        /// <summary>Splits <paramref name="units"/> into <paramref name="threads"/> contiguous ranges run in parallel.</summary>
        static void InParallel(int units, int threads, OutputRange body) =>
            System.Threading.Tasks.Parallel.For(0, threads, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = threads },
                t =>
                {
                    System.Threading.Interlocked.Increment(ref PartsRun);
                    body((int)((long)units * t / threads), (int)((long)units * (t + 1) / threads), t);
                });

        /// <summary>
        /// The dot products of <paramref name="n"/> images (CHW, <paramref name="inStride"/> floats apart), handed to
        /// <paramref name="sink"/> per image and output channel.
        /// </summary>
        public void Run(float* x, int n, int inStride, Sink sink, in Scratch s, bool allowSimd = true)
        {
            if (n < 1 || n > MaxBatch) throw new ArgumentOutOfRangeException(nameof(n), n, $"1 to {MaxBatch} images per call.");
            for (int done = 0; done < n;)
            {
                float* first = x + (long)done * inStride;
                switch (KernelSelection.NextLayout(Group, _laneBits is not null, n, done, out int m))
                {
                    case BConvLayout.SingleImage: RunSingle(first, done, sink, s, allowSimd); break;
                    case BConvLayout.ImageGroup: RunImageGroup(first, inStride, m, done, sink, s, allowSimd); break;
                    default: RunOutputLanes(first, done, sink, s, allowSimd); break;
                }
                done += m;
            }
        }

        /// <summary>
        /// Writes the P and N tap planes of one CHW image: for channel c, tap t and sign s, the plane starts at word
        /// <c>first + (c / group)·groupStride + (c % group)·laneStride + (s·Taps + t)·tapStride</c> (the N planes only
        /// <paramref name="withN"/>: set counting reads P alone); returns whether the input holds an exact zero (or a NaN:
        /// in neither plane). The builder is <see cref="KernelSelection"/>'s choice for this geometry.
        /// </summary>
        internal bool BuildPlanes(float* x, ulong* scratch, ulong* first, int group, long groupStride, int laneStride, long tapStride, bool withN, bool simd)
        {
            switch (KernelSelection.PlaneBuilderFor(_aligned, _halved, simd))
            {
                case PlaneBuilder.Aligned: return BuildAligned(x, (byte*)scratch, first, group, groupStride, laneStride, tapStride, withN);
                case PlaneBuilder.Halved: return BuildHalved(x, (byte*)scratch, first, group, groupStride, laneStride, tapStride, withN);
            }
            return BuildGeneric(x, scratch, first, group, groupStride, laneStride, tapStride, withN, simd);
        }

        /// <summary>Whether the row-aligned builder fits this geometry (stride 1, "same" padding, rows of 8, 16, 32 or 64 pixels).</summary>
        internal bool FitsAligned => _aligned;

        /// <summary>Whether the stride-2 phase builder fits this geometry (stride 2 halving the input, output rows of 8, 16 or 32).</summary>
        internal bool FitsHalved => _halved;

        /// <summary>Whether the output-lane layout can run this convolution (planes smaller than a vector, no zero weights).</summary>
        internal bool HasOutputLanes => _laneBits is not null;

        /// <summary>
        /// Runs <paramref name="n"/> images through one given layout (tests compare each kernel with the reference):
        /// <see cref="BConvLayout.SingleImage"/> image by image (any geometry), <see cref="BConvLayout.ImageGroup"/> in
        /// groups of up to <see cref="Group"/> (planes smaller than a vector), <see cref="BConvLayout.OutputLanes"/>
        /// image by image (<see cref="HasOutputLanes"/>).
        /// </summary>
        internal void RunLayout(BConvLayout layout, float* x, int n, int inStride, Sink sink, in Scratch s, bool simd)
        {
            if (n < 1 || n > MaxBatch) throw new ArgumentOutOfRangeException(nameof(n), n, $"1 to {MaxBatch} images per call.");
            switch (layout)
            {
                case BConvLayout.SingleImage:
                    for (int i = 0; i < n; i++) RunSingle(x + (long)i * inStride, i, sink, s, simd);
                    break;
                case BConvLayout.ImageGroup:
                    if (Group == 1) throw new InvalidOperationException($"Planes of {PlaneBits} pixels fill whole vectors: no image groups.");
                    for (int done = 0; done < n; done += Group) RunImageGroup(x + (long)done * inStride, inStride, Math.Min(Group, n - done), done, sink, s, simd);
                    break;
                default:
                    if (!HasOutputLanes) throw new InvalidOperationException("No output-lane layout: planes fill whole vectors, or a weight is 0.");
                    for (int i = 0; i < n; i++) RunOutputLanes(x + (long)i * inStride, i, sink, s, simd);
                    break;
            }
        }

        /// <summary>The plane builder this convolution runs (with <paramref name="simd"/> false: the generic one).</summary>
        internal PlaneBuilder Builder(bool simd = true) => KernelSelection.PlaneBuilderFor(_aligned, _halved, simd);

        /// <summary>
        /// The kernels this convolution runs (<see cref="KernelSelection"/>), for example "image groups of 8 (output lanes
        /// of 8 below 8 images), generic planes".
        /// </summary>
        internal string DescribeKernels()
        {
            string layout = Group == 1 ? "single image"
                : _laneBits is not null ? $"image groups of {Group} (output lanes of {Group} below {Group} images)"
                : $"image groups of {Group}";
            return $"{layout}, {Builder().ToString().ToLowerInvariant()} planes";
        }

        /// <summary>Hands over set counts: <paramref name="set"/> of output channel o's smaller weight set, <paramref name="all"/> = S.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        void EmitSet(Sink sink, int image, int o, ushort* set, ushort* all)
        {
            fixed (short* bias = &_setBias![o * PlaneBits]) sink.Write(image, o, new Counts(set, all, bias, _setSign![o], PlaneBits));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        void Emit(Sink sink, int image, int o, ushort* agree, ushort* valid)
        {
            fixed (int* analytic = _analyticValid) sink.Write(image, o, new Counts(agree, valid, analytic, PlaneBits));
        }

        /// <summary>M = P | N for <paramref name="vectors"/> vectors (P, then N, then M in the tap buffer).</summary>
        static void OrPlanes(Vector512<ulong>* taps, int vectors)
        {
            if (KernelSelection.Avx2Counting)
            {
                var t = (Vector256<ulong>*)taps;
                for (int i = 0; i < 2 * vectors; i++) t[4 * vectors + i] = t[i] | t[2 * vectors + i];
                return;
            }
            for (int i = 0; i < vectors; i++) taps[2 * vectors + i] = taps[i] | taps[vectors + i];
        }

        /// <summary>Counts <paramref name="inputs"/> consecutive plane groups (each <paramref name="vp"/> vectors) per pixel.</summary>
        void CountRange(Vector512<ulong>* first, int inputs, int vp, ushort* counts, bool simd)
        {
            var planes = stackalloc Vector512<ulong>[16];
            int bits = BitLength(inputs);
            for (int v = 0; v < vp; v++)
            {
                var range = new StridedInputs(first + v, vp);
                Count(range, inputs, planes, bits);
                ToCounts(planes, bits, counts + v * 512, simd);
            }
        }
    }
}

using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Format;

namespace ReSTE.Inference.Engine
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
    internal sealed unsafe class BitPlaneConv
    {
        /// <summary>Images one call takes at the most (an image group fills at most 8 lanes).</summary>
        public const int MaxBatch = 8;

        public readonly int InC, OutC, KH, KW, Taps, Stride, Pad, InH, InW, OutH, OutW;
        /// <summary>Output pixels per plane, and 64-bit words per plane.</summary>
        public readonly int PlaneBits, PlaneWords;
        /// <summary>Vectors per plane when a plane fills at least a vector, else 1.</summary>
        readonly int _vp;
        /// <summary>Words per lane when a plane is smaller than a vector (1, 2 or 4); 8 otherwise.</summary>
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
            if (PlaneWords >= 8)
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

        static int BitLength(int count) => Math.Max(5, 32 - BitOperations.LeadingZeroCount((uint)count));

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
            if (Group == 1)
            {
                for (int i = 0; i < n; i++) RunSingle(x + (long)i * inStride, i, sink, s, allowSimd);
                return;
            }
            int done = 0;
            // Whole groups of images share each vector; the rest go one at a time with output channels side by side (or,
            // with zero weights, which that layout cannot select, as a partial image group).
            while (n - done >= Group || (_laneBits is null && done < n))
            {
                int m = Math.Min(Group, n - done);
                RunImageGroup(x + (long)done * inStride, inStride, m, done, sink, s, allowSimd);
                done += m;
            }
            for (; done < n; done++) RunOutputLanes(x + (long)done * inStride, done, sink, s, allowSimd);
        }

        // ------------------------------------------------------------------ the three layouts

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void RunSingle(float* x, int image, Sink sink, in Scratch s, bool simd)
        {
            var taps = (ulong*)s.Taps;
            int vecWords = _vp * 8;
            bool zeros;
            // A plane that does not fill its last vector leaves words there the builders do not write.
            if (PlaneWords < vecWords)
                for (int c = 0; c < InC; c++)
                {
                    ulong* p = taps + (long)c * vecWords, nn = p + (long)Taps * InC * vecWords;
                    for (int t = 0; t < Taps; t++)
                    {
                        ulong* pt = p + (long)t * InC * vecWords, nt = nn + (long)t * InC * vecWords;
                        new Span<ulong>(pt + PlaneWords, vecWords - PlaneWords).Clear();
                        new Span<ulong>(nt + PlaneWords, vecWords - PlaneWords).Clear();
                    }
                }
            // N planes only where they are read: zero weights, no set counting, or (found only now) zeros in the input.
            bool withN = _setOffsets is null;
            zeros = BuildPlanes(x, s.Bits, taps, 1, vecWords, 0, (long)InC * vecWords, withN, simd);
            if (zeros && !withN) BuildPlanes(x, s.Bits, taps, 1, vecWords, 0, (long)InC * vecWords, true, simd);
            int vectors = Taps * InC * _vp;
            bool counted = zeros || _weightZeros;
            if (counted) OrPlanes(s.Taps, vectors);
            new Span<Vector512<ulong>>(s.Taps + ZeroIndex, _vp).Clear();
            if (zeros && !_weightZeros) CountRange(s.Taps + 2 * vectors, Taps * InC, _vp, s.Valid, simd);
            // Without zeros, count each output channel's smaller weight set only, against S = all P planes (in Valid).
            bool sets = !zeros && _setOffsets is not null;
            if (sets) CountRange(s.Taps, Taps * InC, _vp, s.Valid, simd);

            int threads = ThreadsFor(s.Threads, OutC, (long)vectors * (_weightZeros ? 2 : 1) / (sets ? 2 : 1));
            if (threads > 1) SingleOutputsInParallel(threads, image, sink, s, counted, sets, simd);
            else SingleOutputs(0, OutC, 0, image, sink, s, counted, sets, simd);
        }

        void SingleOutputsInParallel(int threads, int image, Sink sink, Scratch s, bool counted, bool sets, bool simd) =>
            InParallel(OutC, threads, (from, to, t) => SingleOutputs(from, to, t, image, sink, s, counted, sets, simd));

        /// <summary>Output channels [from, to) of <see cref="RunSingle"/>, with thread <paramref name="t"/>'s counts.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void SingleOutputs(int from, int to, int t, int image, Sink sink, in Scratch s, bool counted, bool sets, bool simd)
        {
            var planes = stackalloc Vector512<ulong>[16];
            // Valid counts: per output channel with zero weights (this thread's), else shared, counted once.
            ushort* counts = s.CountsOf(t), valid = _weightZeros ? s.ValidOf(t) : s.Valid;
            if (sets)
            {
                fixed (int* offsets = _setOffsets)
                    for (int o = from; o < to; o++)
                    {
                        int first = _setStart![o], n = _setStart[o + 1] - first;
                        for (int v = 0; v < _vp; v++)
                        {
                            Count(new IndexedInputs(s.Taps + v, offsets + first), n, planes, _setBits);
                            ToCounts(planes, _setBits, counts + v * 512, simd);
                        }
                        EmitSet(sink, image, o, counts, s.Valid);
                    }
                return;
            }
            for (int o = from; o < to; o++)
            {
                fixed (int* idx = &_agreeIdx[o * Taps * InC])
                {
                    for (int v = 0; v < _vp; v++)
                    {
                        var inputs = new IndexedInputs(s.Taps + v, idx);
                        Count(inputs, Taps * InC, planes, _agreeBits);
                        ToCounts(planes, _agreeBits, counts + v * 512, simd);
                    }
                    if (_weightZeros)
                        fixed (int* vidx = &_validIdx![o * Taps * InC])
                            for (int v = 0; v < _vp; v++)
                            {
                                var inputs = new IndexedInputs(s.Taps + v, vidx);
                                Count(inputs, Taps * InC, planes, _agreeBits);
                                ToCounts(planes, _agreeBits, valid + v * 512, simd);
                            }
                }
                Emit(sink, image, o, counts, counted ? valid : null);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void RunImageGroup(float* x, int inStride, int m, int firstImage, Sink sink, in Scratch s, bool simd)
        {
            int vectors = Taps * InC;
            // A full group with whole-word planes writes every word of P and N; M is written before it is read.
            if (m < Group || PlaneWords < _laneWords) new Span<Vector512<ulong>>(s.Taps, 2 * vectors).Clear();
            s.Taps[ZeroIndex] = Vector512<ulong>.Zero;
            bool zeros = false;
            bool withN = _setOffsets is null;
            for (int g = 0; g < m; g++)
                zeros |= BuildPlanes(x + (long)g * inStride, s.Bits, (ulong*)s.Taps + g * _laneWords, 1, 8, 0, (long)InC * 8, withN, simd);
            if (zeros && !withN)
                for (int g = 0; g < m; g++)
                    BuildPlanes(x + (long)g * inStride, s.Bits, (ulong*)s.Taps + g * _laneWords, 1, 8, 0, (long)InC * 8, true, simd);
            bool counted = zeros || _weightZeros;
            if (counted) OrPlanes(s.Taps, vectors);
            if (zeros && !_weightZeros) CountRange(s.Taps + 2 * vectors, vectors, 1, s.Valid, simd);
            bool sets = !zeros && _setOffsets is not null;
            if (sets) CountRange(s.Taps, vectors, 1, s.Valid, simd);

            int threads = ThreadsFor(s.Threads, OutC, (long)vectors * (_weightZeros ? 2 : 1) / (sets ? 2 : 1));
            if (threads > 1) GroupOutputsInParallel(threads, m, firstImage, sink, s, counted, sets, simd);
            else GroupOutputs(0, OutC, 0, m, firstImage, sink, s, counted, sets, simd);
        }

        void GroupOutputsInParallel(int threads, int m, int firstImage, Sink sink, Scratch s, bool counted, bool sets, bool simd) =>
            InParallel(OutC, threads, (from, to, t) => GroupOutputs(from, to, t, m, firstImage, sink, s, counted, sets, simd));

        /// <summary>Output channels [from, to) of <see cref="RunImageGroup"/>, with thread <paramref name="t"/>'s counts.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void GroupOutputs(int from, int to, int t, int m, int firstImage, Sink sink, in Scratch s, bool counted, bool sets, bool simd)
        {
            var planes = stackalloc Vector512<ulong>[16];
            int vectors = Taps * InC, laneBits = _laneWords * 64;
            ushort* counts = s.CountsOf(t), valid = _weightZeros ? s.ValidOf(t) : s.Valid;
            if (sets)
            {
                fixed (int* offsets = _setOffsets)
                    for (int o = from; o < to; o++)
                    {
                        int first = _setStart![o];
                        Count(new IndexedInputs(s.Taps, offsets + first), _setStart[o + 1] - first, planes, _setBits);
                        ToCounts(planes, _setBits, counts, simd);
                        for (int g = 0; g < m; g++) EmitSet(sink, firstImage + g, o, counts + g * laneBits, s.Valid + g * laneBits);
                    }
                return;
            }
            for (int o = from; o < to; o++)
            {
                fixed (int* idx = &_agreeIdx[o * Taps * InC])
                {
                    var inputs = new IndexedInputs(s.Taps, idx);
                    Count(inputs, vectors, planes, _agreeBits);
                    ToCounts(planes, _agreeBits, counts, simd);
                    if (_weightZeros)
                        fixed (int* vidx = &_validIdx![o * Taps * InC])
                        {
                            var validInputs = new IndexedInputs(s.Taps, vidx);
                            Count(validInputs, vectors, planes, _agreeBits);
                            ToCounts(planes, _agreeBits, valid, simd);
                        }
                }
                for (int g = 0; g < m; g++)
                    Emit(sink, firstImage + g, o, counts + g * laneBits, counted ? valid + g * laneBits : null);
            }
        }

        /// <summary>
        /// One image with planes smaller than a vector: the lanes are <see cref="Group"/> output channels. Each input is
        /// one tap plane broadcast to every lane, P or N chosen lane by lane by that output channel's weight.
        /// </summary>
        void RunOutputLanes(float* x, int image, Sink sink, in Scratch s, bool simd)
        {
            switch (_laneWords)
            {
                case 1: RunOutputLanes<Lane1>(x, image, sink, s, simd); break;
                case 2: RunOutputLanes<Lane2>(x, image, sink, s, simd); break;
                default: RunOutputLanes<Lane4>(x, image, sink, s, simd); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void RunOutputLanes<TLane>(float* x, int image, Sink sink, in Scratch s, bool simd) where TLane : struct, ILane
        {
            int lw = TLane.Words, inputs = Taps * InC;
            long block = (long)inputs * lw;
            var taps = (ulong*)s.Taps;
            if (PlaneWords < lw) new Span<ulong>(taps, (int)(2 * block)).Clear();
            bool zeros = BuildPlanes(x, s.Bits, taps, 1, lw, 0, (long)InC * lw, true, simd);
            if (zeros)
            {
                // M = P | N, then the valid count: the same in every lane.
                for (long i = 0; i < block; i++) taps[2 * block + i] = taps[i] | taps[block + i];
                var planesM = stackalloc Vector512<ulong>[16];
                var m = new BroadcastPlanes<TLane>(taps + 2 * block);
                Count(m, inputs, planesM, _agreeBits);
                ToCounts(planesM, _agreeBits, s.Valid, simd);
            }
            int threads = ThreadsFor(s.Threads, _outGroups, inputs);
            if (threads > 1) LaneOutputsInParallel<TLane>(threads, image, sink, s, zeros, simd);
            else LaneOutputs<TLane>(0, _outGroups, 0, image, sink, s, zeros, simd);
        }

        void LaneOutputsInParallel<TLane>(int threads, int image, Sink sink, Scratch s, bool zeros, bool simd) where TLane : struct, ILane =>
            InParallel(_outGroups, threads, (from, to, t) => LaneOutputs<TLane>(from, to, t, image, sink, s, zeros, simd));

        /// <summary>Output channel groups [from, to) of <see cref="RunOutputLanes{TLane}"/>, with thread <paramref name="t"/>'s counts.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void LaneOutputs<TLane>(int from, int to, int t, int image, Sink sink, in Scratch s, bool zeros, bool simd) where TLane : struct, ILane
        {
            int lw = TLane.Words, inputs = Taps * InC, laneBits = lw * 64;
            long block = (long)inputs * lw;
            var taps = (ulong*)s.Taps;
            var planes = stackalloc Vector512<ulong>[16];
            ushort* counts = s.CountsOf(t);
            fixed (byte* bits = _laneBits)
            fixed (Vector512<ulong>* lut = _selectLut)
                for (int og = from; og < to; og++)
                {
                    var xs = new BroadcastInputs<TLane>(taps, taps + block, bits + (long)og * inputs, lut);
                    Count(xs, inputs, planes, _agreeBits);
                    ToCounts(planes, _agreeBits, counts, simd);
                    for (int g = 0; g < Group && og * Group + g < OutC; g++)
                        Emit(sink, image, og * Group + g, counts + g * laneBits, zeros ? s.Valid : null);
                }
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

        // ------------------------------------------------------------------ bit-planes of the input

        /// <summary>
        /// Writes the P and N tap planes of one CHW image: for channel c, tap t and sign s, the plane starts at word
        /// <c>first + (c / group)·groupStride + (c % group)·laneStride + (s·Taps + t)·tapStride</c> (the N planes only
        /// <paramref name="withN"/>: set counting reads P alone); returns whether the input holds an exact zero.
        /// </summary>
        bool BuildPlanes(float* x, ulong* scratch, ulong* first, int group, long groupStride, int laneStride, long tapStride, bool withN, bool simd)
        {
            if (_aligned && simd && Vector512.IsHardwareAccelerated) return BuildAligned(x, (byte*)scratch, first, group, groupStride, laneStride, tapStride, withN);
            if (_halved && simd && Vector512.IsHardwareAccelerated && Bmi2.X64.IsSupported) return BuildHalved(x, (byte*)scratch, first, group, groupStride, laneStride, tapStride, withN);
            int signs = withN ? 2 : 1;
            int hw = InH * InW;
            ulong* pos = scratch, neg = scratch + (long)InC * _streamWords;
            ulong* prowP = neg + (long)InC * _streamWords, prowN = prowP + _rowWords;
            ulong* dec = prowN + _rowWords;
            bool zeros = false;
            for (int c = 0; c < InC; c++)
                zeros |= SignStream(x + (long)c * hw, hw, pos + (long)c * _streamWords, neg + (long)c * _streamWords, simd);
            ulong rowMask = InW == 64 ? ulong.MaxValue : (1UL << InW) - 1;
            for (int c = 0; c < InC; c++)
            {
                PaddedRows(pos + (long)c * _streamWords, prowP, rowMask);
                PaddedRows(neg + (long)c * _streamWords, prowN, rowMask);
                ulong* baseAddr = first + (c / group) * groupStride + (c % group) * laneStride;
                for (int sign = 0; sign < signs; sign++)
                {
                    ulong* prow = sign == 0 ? prowP : prowN;
                    for (int ky = 0; ky < KH; ky++)
                        for (int kx = 0; kx < KW; kx++)
                        {
                            ulong* rows;
                            if (Stride == 1) rows = prow + ky;
                            else
                            {
                                // Every Stride-th row and every Stride-th bit from phase kx mod Stride.
                                rows = dec;
                                int phase = kx % Stride;
                                ulong keep = StrideMask(Stride) << phase;
                                for (int oy = 0; oy < OutH; oy++) rows[oy] = ExtractBits(prow[oy * Stride + ky], keep);
                            }
                            int t = ky * KW + kx;
                            WritePlane(rows, kx / Stride, baseAddr + (sign * Taps + t) * tapStride, simd);
                        }
                }
            }
            return zeros;
        }

        /// <summary><see cref="BuildPlanes"/> for the row-aligned case (<see cref="_aligned"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        bool BuildAligned(float* x, byte* scratch, ulong* first, int group, long groupStride, int laneStride, long tapStride, bool withN)
        {
            int hw = InH * InW, rb = _rowBytes, pb = _planeBytes, cs = _channelBytes, padBytes = Pad * rb, signs = withN ? 2 : 1;
            byte* pos = scratch, neg = scratch + (long)InC * cs;
            bool zeros = false;
            for (int c = 0; c < InC; c++)
            {
                byte* p = pos + (long)c * cs, n = neg + (long)c * cs;
                // The zero rows above (before the sign bytes are written: the words may run into them) and below (the
                // channel's slack of 64 bytes takes the overrun).
                ZeroWords(p, padBytes);
                ZeroWords(n, padBytes);
                ZeroWords(p + padBytes + pb, padBytes);
                ZeroWords(n + padBytes + pb, padBytes);
                zeros |= SignBytes(x + (long)c * hw, hw, p + padBytes, n + padBytes);
                byte* dst = (byte*)(first + (c / group) * groupStride + (c % group) * laneStride);
                if (InW == 8 && InH == 8)
                {
                    // An 8×8 plane is one word, a row per byte: each tap is one shift and one mask, inline (a
                    // ShiftRows call per tap cost more than the shift here, with 64 to 512 channels of 18 taps).
                    for (int sign = 0; sign < signs; sign++)
                    {
                        byte* src = sign == 0 ? p : n;
                        for (int ky = 0; ky < KH; ky++)
                        {
                            ulong rows = *(ulong*)(src + ky);
                            for (int kx = 0; kx < KW; kx++)
                            {
                                int dx = kx - Pad;
                                ulong v = dx >= 0 ? (rows >> dx) & ((0xFFUL >> dx) * 0x0101010101010101UL)
                                                  : (rows << -dx) & (((0xFFUL << -dx) & 0xFF) * 0x0101010101010101UL);
                                *(ulong*)(dst + (sign * Taps + ky * KW + kx) * tapStride * 8) = v;
                            }
                        }
                    }
                    continue;
                }
                for (int sign = 0; sign < signs; sign++)
                {
                    byte* src = sign == 0 ? p : n, d = dst + sign * Taps * tapStride * 8;
                    switch (InW)
                    {
                        case 32: AllTaps<uint>(src, d, rb, pb, tapStride * 8); break;
                        case 16: AllTaps<ushort>(src, d, rb, pb, tapStride * 8); break;
                        case 8: AllTaps<byte>(src, d, rb, pb, tapStride * 8); break;
                        default: AllTaps<ulong>(src, d, rb, pb, tapStride * 8); break;
                    }
                }
            }
            return zeros;
        }

        /// <summary>The tap planes of one sign plane of row-aligned bits (rows of T), one shifted copy per tap.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        void AllTaps<T>(byte* src, byte* dst, int rowBytes, int planeBytes, long tapBytes) where T : unmanaged, IBinaryInteger<T>
        {
            for (int ky = 0; ky < KH; ky++)
                for (int kx = 0; kx < KW; kx++)
                    ShiftRows<T>(src + ky * rowBytes, dst + (ky * KW + kx) * tapBytes, planeBytes, kx - Pad);
        }

        /// <summary><see cref="BuildPlanes"/> for stride 2 halving the input (<see cref="_halved"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        bool BuildHalved(float* x, byte* scratch, ulong* first, int group, long groupStride, int laneStride, long tapStride, bool withN)
        {
            int hw = InH * InW, inRow = InW / 8, outRow = OutW / 8, pb = OutH * outRow, pp = _phasePad, phase = _phaseBytes, signs = withN ? 2 : 1;
            byte* pos = scratch, neg = scratch + InH * inRow + 64;
            byte* phases = neg + InH * inRow + 64; // [sign][row parity][column parity]
            ulong even = StrideMask(2) & (InW == 64 ? ulong.MaxValue : (1UL << InW) - 1), odd = even << 1;
            bool zeros = false;
            for (int c = 0; c < InC; c++)
            {
                zeros |= SignBytes(x + (long)c * hw, hw, pos, neg);
                new Span<byte>(phases, 8 * phase).Clear();
                for (int sign = 0; sign < signs; sign++)
                {
                    byte* rows = sign == 0 ? pos : neg;
                    for (int r = 0; r < InH; r++)
                    {
                        ulong bits = InW == 64 ? *(ulong*)(rows + r * inRow) : InW == 32 ? *(uint*)(rows + r * inRow) : *(ushort*)(rows + r * inRow);
                        byte* target = phases + ((sign * 2 + (r & 1)) * 2) * phase + ((r >> 1) + pp) * outRow;
                        ulong e = Bmi2.X64.ParallelBitExtract(bits, even), o = Bmi2.X64.ParallelBitExtract(bits, odd);
                        if (outRow == 4) { *(uint*)target = (uint)e; *(uint*)(target + phase) = (uint)o; }
                        else if (outRow == 2) { *(ushort*)target = (ushort)e; *(ushort*)(target + phase) = (ushort)o; }
                        else { *target = (byte)e; *(target + phase) = (byte)o; }
                    }
                }
                byte* dst = (byte*)(first + (c / group) * groupStride + (c % group) * laneStride);
                for (int sign = 0; sign < signs; sign++)
                    for (int ky = 0; ky < KH; ky++)
                        for (int kx = 0; kx < KW; kx++)
                        {
                            // Input row 2·oy + dy is row oy + sy of the phase with row parity ry; columns likewise.
                            int dy = ky - Pad, dx = kx - Pad, ry = dy & 1, rx = dx & 1, sy = (dy - ry) >> 1, sx = (dx - rx) >> 1;
                            byte* src = phases + ((sign * 2 + ry) * 2 + rx) * phase + (pp + sy) * outRow;
                            ShiftRows(src, dst + (sign * Taps + ky * KW + kx) * tapStride * 8, pb, sx, OutW);
                        }
            }
            return zeros;
        }

        /// <summary>
        /// Zeroes <paramref name="count"/> bytes a word at a time, up to 7 bytes past the end (a few bytes of padding
        /// rows: a call to memset per row cost more than the rest of building a small plane).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void ZeroWords(byte* p, int count)
        {
            for (int b = 0; b < count; b += 8) *(ulong*)(p + b) = 0;
        }

        /// <summary>Sign bits of n floats as bytes: bit i of pos is x[i] &gt; 0, of neg x[i] &lt; 0. Returns whether one is 0.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static bool SignBytes(float* x, int n, byte* pos, byte* neg)
        {
            int i = 0;
            uint missing = 0;
            var zero = Vector512<float>.Zero;
            ulong missing64 = 0;
            // 64 floats a round: four masks of 16 joined into one word per sign, one store each.
            for (; i + 64 <= n; i += 64)
            {
                var v0 = Vector512.Load(x + i); var v1 = Vector512.Load(x + i + 16);
                var v2 = Vector512.Load(x + i + 32); var v3 = Vector512.Load(x + i + 48);
                ulong gt = Vector512.GreaterThan(v0, zero).ExtractMostSignificantBits() | Vector512.GreaterThan(v1, zero).ExtractMostSignificantBits() << 16
                    | Vector512.GreaterThan(v2, zero).ExtractMostSignificantBits() << 32 | Vector512.GreaterThan(v3, zero).ExtractMostSignificantBits() << 48;
                ulong lt = Vector512.LessThan(v0, zero).ExtractMostSignificantBits() | Vector512.LessThan(v1, zero).ExtractMostSignificantBits() << 16
                    | Vector512.LessThan(v2, zero).ExtractMostSignificantBits() << 32 | Vector512.LessThan(v3, zero).ExtractMostSignificantBits() << 48;
                *(ulong*)(pos + (i >> 3)) = gt;
                *(ulong*)(neg + (i >> 3)) = lt;
                missing64 |= ~(gt | lt);
            }
            if (missing64 != 0) missing = 1;
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.Load(x + i);
                uint gt = (uint)Vector512.GreaterThan(v, zero).ExtractMostSignificantBits();
                uint lt = (uint)Vector512.LessThan(v, zero).ExtractMostSignificantBits();
                *(ushort*)(pos + (i >> 3)) = (ushort)gt;
                *(ushort*)(neg + (i >> 3)) = (ushort)lt;
                missing |= ~(gt | lt) & 0xFFFF;
            }
            for (; i < n; i += 8)
            {
                // Rows of 8 pixels: whole bytes.
                uint gt = 0, lt = 0;
                for (int b = 0; b < 8; b++)
                {
                    float v = x[i + b];
                    if (v > 0) gt |= 1u << b;
                    else if (v < 0) lt |= 1u << b;
                    else missing = 1;
                }
                pos[i >> 3] = (byte)gt;
                neg[i >> 3] = (byte)lt;
            }
            return missing != 0;
        }

        /// <summary>
        /// Copies <paramref name="bytes"/> bytes of row-aligned bits, each row shifted by <paramref name="dx"/> pixels
        /// (output pixel x takes input pixel x + dx; zero where that leaves the row).
        /// </summary>
        static void ShiftRows(byte* src, byte* dst, int bytes, int dx, int width)
        {
            switch (width)
            {
                case 32: ShiftRows<uint>(src, dst, bytes, dx); break;
                case 16: ShiftRows<ushort>(src, dst, bytes, dx); break;
                case 8: ShiftRows<byte>(src, dst, bytes, dx); break;
                default: ShiftRows<ulong>(src, dst, bytes, dx); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void ShiftRows<T>(byte* src, byte* dst, int bytes, int dx) where T : unmanaged, IBinaryInteger<T>
        {
            int i = 0;
            for (; i + 64 <= bytes; i += 64) Shift(Vector512.Load((T*)(src + i)), dx).Store((T*)(dst + i));
            for (; i + 32 <= bytes; i += 32) Shift(Vector256.Load((T*)(src + i)), dx).Store((T*)(dst + i));
            for (; i + 16 <= bytes; i += 16) Shift(Vector128.Load((T*)(src + i)), dx).Store((T*)(dst + i));
            if (i + 8 <= bytes)
            {
                // Lanes of a word: shift the word, then clear the bits that crossed into a neighbouring lane.
                ulong lane = sizeof(T) == 8 ? ulong.MaxValue : (1UL << (8 * sizeof(T))) - 1;
                ulong keep = (dx >= 0 ? lane >> dx : (lane << -dx) & lane) * (ulong.MaxValue / lane);
                for (; i + 8 <= bytes; i += 8)
                {
                    ulong v = *(ulong*)(src + i);
                    *(ulong*)(dst + i) = (dx >= 0 ? v >> dx : v << -dx) & keep;
                }
            }
            for (; i < bytes; i += sizeof(T))
            {
                T v = *(T*)(src + i);
                *(T*)(dst + i) = dx >= 0 ? v >>> dx : v << -dx;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<T> Shift<T>(Vector512<T> v, int dx) where T : unmanaged, IBinaryInteger<T> =>
            dx >= 0 ? v >>> dx : v << -dx;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<T> Shift<T>(Vector256<T> v, int dx) where T : unmanaged, IBinaryInteger<T> =>
            dx >= 0 ? v >>> dx : v << -dx;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector128<T> Shift<T>(Vector128<T> v, int dx) where T : unmanaged, IBinaryInteger<T> =>
            dx >= 0 ? v >>> dx : v << -dx;

        static ulong StrideMask(int stride)
        {
            ulong m = 0;
            for (int i = 0; i < 64; i += stride) m |= 1UL << i;
            return m;
        }

        static ulong ExtractBits(ulong value, ulong mask)
        {
            if (Bmi2.X64.IsSupported) return Bmi2.X64.ParallelBitExtract(value, mask);
            ulong r = 0;
            int k = 0;
            for (; mask != 0; mask &= mask - 1, k++)
                if ((value & (mask & ~(mask - 1))) != 0) r |= 1UL << k;
            return r;
        }

        /// <summary>Sign bits of <paramref name="n"/> floats: bit i of pos is x[i] &gt; 0, of neg x[i] &lt; 0. Returns whether one is 0.</summary>
        static bool SignStream(float* x, int n, ulong* pos, ulong* neg, bool simd)
        {
            int words = (n + 63) / 64;
            new Span<ulong>(pos, words).Clear();
            new Span<ulong>(neg, words).Clear();
            int i = 0;
            ulong missing = 0;
            if (simd && Vector512.IsHardwareAccelerated)
            {
                var zero = Vector512<float>.Zero;
                for (; i + 16 <= n; i += 16)
                {
                    var v = Vector512.Load(x + i);
                    ulong gt = Vector512.GreaterThan(v, zero).ExtractMostSignificantBits();
                    ulong lt = Vector512.LessThan(v, zero).ExtractMostSignificantBits();
                    pos[i >> 6] |= gt << (i & 63);
                    neg[i >> 6] |= lt << (i & 63);
                    missing |= ~(gt | lt) & 0xFFFF;
                }
            }
            for (; i < n; i++)
            {
                float v = x[i];
                if (v > 0) pos[i >> 6] |= 1UL << (i & 63);
                else if (v < 0) neg[i >> 6] |= 1UL << (i & 63);
                else missing = 1;
            }
            return missing != 0;
        }

        /// <summary>Input rows as words with <see cref="Pad"/> zero bits before each row and zero rows above and below.</summary>
        void PaddedRows(ulong* stream, ulong* rows, ulong rowMask)
        {
            for (int r = 0; r < Pad; r++) { rows[r] = 0; rows[_rowWords - 1 - r] = 0; }
            for (int y = 0; y < InH; y++)
            {
                int bit = y * InW, word = bit >> 6, off = bit & 63;
                ulong v = stream[word] >> off;
                if (off != 0 && off + InW > 64) v |= stream[word + 1] << (64 - off);
                rows[y + Pad] = (v & rowMask) << Pad;
            }
        }

        /// <summary>Output row oy of a tap plane is <c>(rows[oy] &gt;&gt; shift)</c>'s low OutW bits; the plane's words are overwritten.</summary>
        void WritePlane(ulong* rows, int shift, ulong* plane, bool simd)
        {
            int ow = OutW, oh = OutH;
            int oy = 0;
            if (simd && Avx512F.IsSupported && (ow == 8 || ow == 16 || ow == 32))
            {
                byte* dst = (byte*)plane;
                for (; oy + 8 <= oh; oy += 8)
                {
                    var v = Vector512.ShiftRightLogical(Vector512.Load(rows + oy), shift);
                    if (ow == 32) Avx512F.ConvertToVector256UInt32(v).Store((uint*)(dst + oy * 4));
                    else if (ow == 16) Avx512F.ConvertToVector128UInt16(v).Store((ushort*)(dst + oy * 2));
                    else *(ulong*)(dst + oy) = Avx512F.ConvertToVector128Byte(v).AsUInt64().ToScalar();
                }
                if (oy == oh) return;
            }
            ulong mask = ow == 64 ? ulong.MaxValue : (1UL << ow) - 1;
            // The vector path stops at a multiple of 8 rows of 8, 16 or 32 bits: a word boundary.
            int firstWord = oy * ow >> 6;
            new Span<ulong>(plane + firstWord, PlaneWords - firstWord).Clear();
            for (; oy < oh; oy++) Insert(plane, oy * ow, (rows[oy] >> shift) & mask, ow);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Insert(ulong* plane, int bit, ulong value, int width)
        {
            int word = bit >> 6, off = bit & 63;
            plane[word] |= value << off;
            if (off != 0 && off + width > 64) plane[word + 1] |= value >> (64 - off);
        }

        // ------------------------------------------------------------------ counting

        /// <summary>
        /// A sequence of input vectors, read at small constant offsets from a cursor that <see cref="Advance"/> moves, so
        /// that an input costs one load of its offset and one vector load.
        /// </summary>
        interface IInputs
        {
            Vector512<ulong> this[int i] { get; }
            void Advance(int n);
        }

        /// <summary>Input i is the vector at byte offset offsets[i] (the sign plane that agrees with the weight).</summary>
        struct IndexedInputs : IInputs
        {
            readonly byte* _base;
            int* _offsets;
            public IndexedInputs(Vector512<ulong>* b, int* offsets) { _base = (byte*)b; _offsets = offsets; }
            public readonly Vector512<ulong> this[int i] { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => *(Vector512<ulong>*)(_base + _offsets[i]); }
            [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Advance(int n) => _offsets += n;
        }

        /// <summary>Input i is the vector at i·stride.</summary>
        struct StridedInputs : IInputs
        {
            Vector512<ulong>* _base;
            readonly int _stride;
            public StridedInputs(Vector512<ulong>* b, int stride) { _base = b; _stride = stride; }
            public readonly Vector512<ulong> this[int i] { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => _base[i * _stride]; }
            [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Advance(int n) => _base += (long)n * _stride;
        }

        /// <summary>A plane of 1, 2 or 4 words, broadcast to all 8 words of a vector.</summary>
        interface ILane
        {
            static abstract int Words { get; }
            static abstract Vector512<ulong> Broadcast(ulong* plane);
        }

        readonly struct Lane1 : ILane
        {
            public static int Words => 1;
            public static Vector512<ulong> Broadcast(ulong* plane) => Vector512.Create(*plane);
        }

        readonly struct Lane2 : ILane
        {
            public static int Words => 2;
            // One vbroadcasti64x2 from memory (Vector512.Create of a Vector256 went through the stack).
            public static Vector512<ulong> Broadcast(ulong* plane) =>
                Avx512DQ.IsSupported ? Avx512DQ.BroadcastVector128ToVector512(plane) : Broadcast2(Vector128.Load(plane));

#if NET9_0_OR_GREATER
            static Vector512<ulong> Broadcast2(Vector128<ulong> q) => Vector512.Create(Vector256.Create(q));
#else
            static Vector512<ulong> Broadcast2(Vector128<ulong> q) { var h = Vector256.Create(q, q); return Vector512.Create(h, h); }
#endif
        }

        readonly struct Lane4 : ILane
        {
            public static int Words => 4;
            // A load and one vinserti64x4. (Vector512.Create of the Vector256 took two inserts and a spill; the
            // vbroadcasti64x4 intrinsic, BroadcastVector256ToVector512, computed wrong counts here once inlined.)
            public static Vector512<ulong> Broadcast(ulong* plane)
            {
#if NET9_0_OR_GREATER
                if (!Avx512F.IsSupported) return Vector512.Create(Vector256.Load(plane));
#else
                if (!Avx512F.IsSupported) { var h = Vector256.Load(plane); return Vector512.Create(h, h); }
#endif
                var half = Vector256.Load(plane);
                return Avx512F.InsertVector256(half.ToVector512Unsafe(), half, 1);
            }
        }

        /// <summary>
        /// Input i of the output-lane layout: plane i of P broadcast where that lane's weight is +1, of N where it is −1
        /// (the table: per weight byte, all-ones lanes where the weight is +1).
        /// </summary>
        struct BroadcastInputs<TLane> : IInputs where TLane : struct, ILane
        {
            ulong* _p, _n;
            byte* _bits;
            readonly Vector512<ulong>* _lut;
            public BroadcastInputs(ulong* p, ulong* n, byte* bits, Vector512<ulong>* lut) { _p = p; _n = n; _bits = bits; _lut = lut; }
            public readonly Vector512<ulong> this[int i]
            {
                [MethodImpl(MethodImplOptions.AggressiveInlining)]
                get => Select(_lut[_bits[i]], TLane.Broadcast(_p + i * TLane.Words), TLane.Broadcast(_n + i * TLane.Words));
            }
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public void Advance(int n)
            {
                _p += n * TLane.Words;
                _n += n * TLane.Words;
                _bits += n;
            }
        }

        /// <summary>Input i of the output-lane layout without selection: plane i broadcast to every lane (the valid count).</summary>
        struct BroadcastPlanes<TLane> : IInputs where TLane : struct, ILane
        {
            ulong* _p;
            public BroadcastPlanes(ulong* p) { _p = p; }
            public readonly Vector512<ulong> this[int i] { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => TLane.Broadcast(_p + i * TLane.Words); }
            [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Advance(int n) => _p += n * TLane.Words;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<ulong> Select(Vector512<ulong> mask, Vector512<ulong> a, Vector512<ulong> b) =>
            Avx512F.IsSupported ? Avx512F.TernaryLogic(mask, a, b, 0xCA) : (mask & a) | Vector512.AndNot(b, mask);

        /// <summary>Carry-save adder: l + a + b = l' + 2h, bit by bit.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Csa(out Vector512<ulong> h, ref Vector512<ulong> l, Vector512<ulong> a, Vector512<ulong> b)
        {
            if (Avx512F.IsSupported)
            {
                h = Avx512F.TernaryLogic(l, a, b, 0xE8);
                l = Avx512F.TernaryLogic(l, a, b, 0x96);
            }
            else
            {
                var u = l ^ a;
                h = (l & a) | (u & b);
                l = u ^ b;
            }
        }

        /// <summary>Adds <paramref name="carry"/> (weight 2^from) into the counter planes from..bits−1.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Ripple(Vector512<ulong>* planes, int from, int bits, Vector512<ulong> carry)
        {
            for (int k = from; k < bits; k++)
            {
                var t = planes[k] & carry;
                planes[k] ^= carry;
                carry = t;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<ulong> Block16<T>(ref T x, int i, ref Vector512<ulong> ones, ref Vector512<ulong> twos, ref Vector512<ulong> fours, ref Vector512<ulong> eights)
            where T : struct, IInputs
        {
            Csa(out var twosA, ref ones, x[i], x[i + 1]);
            Csa(out var twosB, ref ones, x[i + 2], x[i + 3]);
            Csa(out var foursA, ref twos, twosA, twosB);
            Csa(out twosA, ref ones, x[i + 4], x[i + 5]);
            Csa(out twosB, ref ones, x[i + 6], x[i + 7]);
            Csa(out var foursB, ref twos, twosA, twosB);
            Csa(out var eightsA, ref fours, foursA, foursB);
            Csa(out twosA, ref ones, x[i + 8], x[i + 9]);
            Csa(out twosB, ref ones, x[i + 10], x[i + 11]);
            Csa(out foursA, ref twos, twosA, twosB);
            Csa(out twosA, ref ones, x[i + 12], x[i + 13]);
            Csa(out twosB, ref ones, x[i + 14], x[i + 15]);
            Csa(out foursB, ref twos, twosA, twosB);
            Csa(out var eightsB, ref fours, foursA, foursB);
            Csa(out var sixteens, ref eights, eightsA, eightsB);
            return sixteens;
        }

        /// <summary>
        /// Per bit position, how many of the <paramref name="n"/> inputs have it set, as <paramref name="bits"/>
        /// bit-sliced planes (plane k = bit k of the count). Harley–Seal: blocks of 16 inputs through a tree of
        /// carry-save adders, pairs of blocks through one more, the rest rippled in.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static void Count<T>(T x, int n, Vector512<ulong>* planes, int bits) where T : struct, IInputs
        {
            for (int k = 0; k < bits; k++) planes[k] = Vector512<ulong>.Zero;
            Vector512<ulong> ones = default, twos = default, fours = default, eights = default, sixteens = default;
            int i = 0;
            for (; i + 32 <= n; i += 32)
            {
                var a = Block16(ref x, 0, ref ones, ref twos, ref fours, ref eights);
                var b = Block16(ref x, 16, ref ones, ref twos, ref fours, ref eights);
                x.Advance(32);
                Csa(out var thirtyTwos, ref sixteens, a, b);
                Ripple(planes, 5, bits, thirtyTwos);
            }
            if (i + 16 <= n)
            {
                var a = Block16(ref x, 0, ref ones, ref twos, ref fours, ref eights);
                x.Advance(16);
                var carry = sixteens & a;
                sixteens ^= a;
                Ripple(planes, 5, bits, carry);
                i += 16;
            }
            planes[0] = ones; planes[1] = twos; planes[2] = fours; planes[3] = eights; planes[4] = sixteens;
            for (; i < n; i++)
            {
                Ripple(planes, 0, bits, x[0]);
                x.Advance(1);
            }
        }

        // ------------------------------------------------------------------ counter planes → integers

        static readonly Vector512<ulong> Level1Lo = Vector512.Create(0UL, 8, 1, 9, 2, 10, 3, 11);
        static readonly Vector512<ulong> Level1Hi = Vector512.Create(4UL, 12, 5, 13, 6, 14, 7, 15);
        static readonly Vector512<ulong> Level2Lo = Vector512.Create(0UL, 1, 8, 9, 2, 3, 10, 11);
        static readonly Vector512<ulong> Level2Hi = Vector512.Create(4UL, 5, 12, 13, 6, 7, 14, 15);
        static readonly Vector512<ulong> Level3Lo = Vector512.Create(0UL, 1, 2, 3, 8, 9, 10, 11);
        static readonly Vector512<ulong> Level3Hi = Vector512.Create(4UL, 5, 6, 7, 12, 13, 14, 15);
        /// <summary>vpermb: qword b of the result holds byte b of planes 7, 6, …, 0 (the matrix gf2p8affineqb transposes).</summary>
        static readonly Vector512<byte> ByteTranspose = CreateByteTranspose();
        /// <summary>Bytes 1, 2, 4, …, 128 in every qword: with the data as the matrix, gf2p8affineqb transposes its 8×8 bits.</summary>
        static readonly Vector512<byte> UnitBytes = Vector512.Create(0x8040201008040201UL).AsByte();

        static Vector512<byte> CreateByteTranspose()
        {
            var idx = new byte[64];
            for (int b = 0; b < 8; b++)
                for (int m = 0; m < 8; m++) idx[b * 8 + m] = (byte)((7 - m) * 8 + b);
            return Vector512.Create(idx);
        }

#if NET10_0_OR_GREATER
        static bool FastTranspose => Avx512F.IsSupported && Avx512Vbmi.IsSupported && Gfni.V512.IsSupported;
#else
        // GFNI's intrinsics came with .NET 10: on net8.0 the counts are transposed by the portable path below.
        static bool FastTranspose => false;
#endif

        /// <summary>Turns <paramref name="bits"/> counter planes into 512 per-pixel counts.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static void ToCounts(Vector512<ulong>* planes, int bits, ushort* counts, bool simd)
        {
            if (simd && FastTranspose)
            {
                var lo = stackalloc Vector512<byte>[8];
                Transpose8(planes, Math.Min(bits, 8), lo);
                if (bits <= 8)
                {
                    for (int q = 0; q < 8; q++)
                    {
                        Avx512BW.ConvertToVector512UInt16(lo[q].GetLower()).Store(counts + q * 64);
                        Avx512BW.ConvertToVector512UInt16(lo[q].GetUpper()).Store(counts + q * 64 + 32);
                    }
                    return;
                }
                var hi = stackalloc Vector512<byte>[8];
                Transpose8(planes + 8, bits - 8, hi);
                for (int q = 0; q < 8; q++)
                {
                    var l0 = Avx512BW.ConvertToVector512UInt16(lo[q].GetLower());
                    var l1 = Avx512BW.ConvertToVector512UInt16(lo[q].GetUpper());
                    var h0 = Avx512BW.ConvertToVector512UInt16(hi[q].GetLower());
                    var h1 = Avx512BW.ConvertToVector512UInt16(hi[q].GetUpper());
                    (l0 | (h0 << 8)).Store(counts + q * 64);
                    (l1 | (h1 << 8)).Store(counts + q * 64 + 32);
                }
                return;
            }
            for (int p = 0; p < 512; p++)
            {
                int q = p >> 6, bit = p & 63, c = 0;
                for (int k = 0; k < bits; k++) c |= (int)((planes[k].GetElement(q) >> bit) & 1) << k;
                counts[p] = (ushort)c;
            }
        }

        /// <summary>
        /// Up to 8 counter planes → 8 vectors of 64 byte counts (vector q: pixels 64q … 64q + 63): a qword transpose
        /// (vector q gathers qword q of every plane), then per vector a byte transpose and a bit transpose.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static void Transpose8(Vector512<ulong>* planes, int count, Vector512<byte>* result)
        {
            var z = Vector512<ulong>.Zero;
            Vector512<ulong> p0 = count > 0 ? planes[0] : z, p1 = count > 1 ? planes[1] : z, p2 = count > 2 ? planes[2] : z, p3 = count > 3 ? planes[3] : z;
            Vector512<ulong> p4 = count > 4 ? planes[4] : z, p5 = count > 5 ? planes[5] : z, p6 = count > 6 ? planes[6] : z, p7 = count > 7 ? planes[7] : z;
            var a01 = Avx512F.PermuteVar8x64x2(p0, Level1Lo, p1); var b01 = Avx512F.PermuteVar8x64x2(p0, Level1Hi, p1);
            var a23 = Avx512F.PermuteVar8x64x2(p2, Level1Lo, p3); var b23 = Avx512F.PermuteVar8x64x2(p2, Level1Hi, p3);
            var a45 = Avx512F.PermuteVar8x64x2(p4, Level1Lo, p5); var b45 = Avx512F.PermuteVar8x64x2(p4, Level1Hi, p5);
            var a67 = Avx512F.PermuteVar8x64x2(p6, Level1Lo, p7); var b67 = Avx512F.PermuteVar8x64x2(p6, Level1Hi, p7);
            var c0 = Avx512F.PermuteVar8x64x2(a01, Level2Lo, a23); var d0 = Avx512F.PermuteVar8x64x2(a01, Level2Hi, a23);
            var e0 = Avx512F.PermuteVar8x64x2(b01, Level2Lo, b23); var f0 = Avx512F.PermuteVar8x64x2(b01, Level2Hi, b23);
            var c1 = Avx512F.PermuteVar8x64x2(a45, Level2Lo, a67); var d1 = Avx512F.PermuteVar8x64x2(a45, Level2Hi, a67);
            var e1 = Avx512F.PermuteVar8x64x2(b45, Level2Lo, b67); var f1 = Avx512F.PermuteVar8x64x2(b45, Level2Hi, b67);
            result[0] = BitTranspose(Avx512F.PermuteVar8x64x2(c0, Level3Lo, c1));
            result[1] = BitTranspose(Avx512F.PermuteVar8x64x2(c0, Level3Hi, c1));
            result[2] = BitTranspose(Avx512F.PermuteVar8x64x2(d0, Level3Lo, d1));
            result[3] = BitTranspose(Avx512F.PermuteVar8x64x2(d0, Level3Hi, d1));
            result[4] = BitTranspose(Avx512F.PermuteVar8x64x2(e0, Level3Lo, e1));
            result[5] = BitTranspose(Avx512F.PermuteVar8x64x2(e0, Level3Hi, e1));
            result[6] = BitTranspose(Avx512F.PermuteVar8x64x2(f0, Level3Lo, f1));
            result[7] = BitTranspose(Avx512F.PermuteVar8x64x2(f0, Level3Hi, f1));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<byte> BitTranspose(Vector512<ulong> planesOfQword) =>
#if NET10_0_OR_GREATER
            Gfni.V512.GaloisFieldAffineTransform(UnitBytes, Avx512Vbmi.PermuteVar64x8(planesOfQword.AsByte(), ByteTranspose), 0);
#else
            throw new PlatformNotSupportedException("GFNI needs .NET 10 (FastTranspose is false on net8.0).");
#endif
    }
}

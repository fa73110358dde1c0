using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading.Tasks;
using ReSTE.Inference.Format;

namespace ReSTE.Inference.Engine
{
    /// <summary>
    /// Runs a <see cref="PackedModel"/> on the CPU, no TorchSharp needed. Activations are CHW, as in PyTorch, and
    /// images go through the steps in groups of up to <see cref="BitPlaneConv.MaxBatch"/>; binary convolutions run on
    /// bit-planes (<see cref="BitPlaneConv"/>) with the element-wise ops that follow them (ReLU, Hardtanh, BatchNorm as
    /// a per-channel affine map) applied to each output plane as it is written; full-precision convolutions and max
    /// pooling likewise. BatchNorm is folded into a following Linear (through a global average pool: only logits follow,
    /// so rounding differences stay far below 1e-4); elsewhere it runs as libtorch's CPU kernel computes it (x·α + β
    /// with one rounding), so that every activation a binary layer takes has the sign it has in TorchSharp. One engine
    /// may be used from several threads: each call takes its own work buffers.
    /// </summary>
    public sealed unsafe class InferenceEngine
    {
        readonly List<Step> _steps = new();
        readonly int[] _slotSizes;
        readonly int _finalSlot;
        readonly int _tapVectors, _bitWords, _countSlots, _paddedFloats;
        readonly ConcurrentBag<Workspace> _pool = new();

        public InferenceEngine(PackedModel model)
        {
            Model = model ?? throw new ArgumentNullException(nameof(model));
            InputLength = model.InputChannels * model.InputHeight * model.InputWidth;
            var planner = new Planner(model);
            planner.Build(_steps);
            _slotSizes = planner.SlotSizes.ToArray();
            _finalSlot = planner.CurrentSlot;
            OutputLength = planner.Shape.Length;
            _tapVectors = planner.TapVectors;
            _bitWords = planner.BitWords;
            _countSlots = planner.CountSlots;
            _paddedFloats = planner.PaddedFloats;
        }

        public PackedModel Model { get; }
        /// <summary>Floats per input image (C·H·W).</summary>
        public int InputLength { get; }
        /// <summary>Floats per output (the logits; C·H·W in PyTorch's order for a model that ends with a feature map).</summary>
        public int OutputLength { get; }
        /// <summary>The executable steps, after fusion (for summaries and tests).</summary>
        public IReadOnlyList<string> Steps => _steps.ConvertAll(s => s.Describe());

        /// <summary>The model's output for one CHW image.</summary>
        public float[] Run(ReadOnlySpan<float> image)
        {
            var output = new float[OutputLength];
            Run(image, output);
            return output;
        }

        /// <summary>Writes the model's output for one CHW image into <paramref name="output"/>.</summary>
        public void Run(ReadOnlySpan<float> image, Span<float> output)
        {
            if (image.Length != InputLength) throw new ArgumentException($"An input image has {InputLength} floats (C·H·W), not {image.Length}.", nameof(image));
            if (output.Length < OutputLength) throw new ArgumentException($"The output needs {OutputLength} floats, not {output.Length}.", nameof(output));
            RunInto(image, 1, output);
        }

        /// <summary>
        /// Outputs for <paramref name="count"/> images stored one after another (N·C·H·W), groups of up to
        /// <see cref="BitPlaneConv.MaxBatch"/> images spread over up to <paramref name="maxDegreeOfParallelism"/> threads
        /// (1: the calling thread only). A batch of one group (≤ 8 images) uses the threads inside each large binary
        /// layer instead, each counting a share of its output channels.
        /// </summary>
        public float[] RunBatch(ReadOnlySpan<float> images, int count, int maxDegreeOfParallelism = 1)
        {
            if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The image count must be ≥ 0.");
            if (images.Length != (long)count * InputLength)
                throw new ArgumentException($"{count} images take {(long)count * InputLength} floats, not {images.Length}.", nameof(images));
            var output = new float[count * OutputLength];
            int groups = (count + BitPlaneConv.MaxBatch - 1) / BitPlaneConv.MaxBatch;
            if (maxDegreeOfParallelism <= 1 || groups <= 1)
            {
                // One group: the threads share each large layer's output channels instead.
                RunInto(images, count, output, Math.Max(1, maxDegreeOfParallelism));
                return output;
            }
            fixed (float* src = images)
            {
                var input = (IntPtr)src;
                Parallel.For(0, groups, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, g =>
                {
                    int first = g * BitPlaneConv.MaxBatch, n = Math.Min(BitPlaneConv.MaxBatch, count - first);
                    var slice = new ReadOnlySpan<float>((float*)input + (long)first * InputLength, n * InputLength);
                    RunInto(slice, n, output.AsSpan(first * OutputLength, n * OutputLength));
                });
            }
            return output;
        }

        /// <summary>
        /// Runs <paramref name="count"/> images, <see cref="BitPlaneConv.MaxBatch"/> at a time, on the calling thread; with
        /// <paramref name="layerThreads"/> &gt; 1, a binary layer with enough work splits its output channels over that many.
        /// </summary>
        internal void RunInto(ReadOnlySpan<float> images, int count, Span<float> output, int layerThreads = 1)
        {
            var ws = RentWorkspace();
            ws.Threads = layerThreads;
            try
            {
                for (int first = 0; first < count; first += BitPlaneConv.MaxBatch)
                {
                    int n = Math.Min(BitPlaneConv.MaxBatch, count - first);
                    LoadGroup(ws, images.Slice(first * InputLength), n);
                    RunSteps(ws, n);
                    var y = ws.Slots[_finalSlot];
                    int outSize = _slotSizes[_finalSlot];
                    for (int i = 0; i < n; i++)
                        y.AsSpan(i * outSize, OutputLength).CopyTo(output.Slice((first + i) * OutputLength, OutputLength));
                }
            }
            finally { _pool.Add(ws); }
        }


        /// <summary>Copies up to <see cref="BitPlaneConv.MaxBatch"/> images into <paramref name="ws"/>'s input slot.</summary>
        internal void LoadGroup(Workspace ws, ReadOnlySpan<float> images, int n)
        {
            for (int i = 0; i < n; i++) images.Slice(i * InputLength, InputLength).CopyTo(ws.Slots[0].AsSpan(i * _slotSizes[0], InputLength));
        }

        /// <summary>Runs every step on the group of <paramref name="n"/> images already in <paramref name="ws"/>'s input slot.</summary>
        internal void RunSteps(Workspace ws, int n)
        {
            foreach (var step in _steps) step.Run(ws, n);
        }

        /// <summary>The index of the largest value (the first one on ties).</summary>
        public static int ArgMax(ReadOnlySpan<float> values)
        {
            int best = 0;
            for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
            return best;
        }

        /// <summary>A workspace of this engine's sizes, from the pool (benchmarks also run the steps on one directly).</summary>
        internal Workspace RentWorkspace() => _pool.TryTake(out var ws) ? ws : new Workspace(_slotSizes, _tapVectors, _bitWords, _countSlots, _paddedFloats);

        /// <summary>One thread's buffers: activation slots (room for a group of images each) and bit-plane scratch.</summary>
        internal sealed class Workspace
        {
            public readonly float[][] Slots;
            public readonly int[] SlotSizes;
            public readonly BitPlaneConv.Scratch Scratch;
            /// <summary>A zero-bordered copy of a full-precision convolution's input.</summary>
            public readonly float[] Padded;
            readonly byte[] _pinned;

            /// <summary>Threads one small batch may spread a layer's output channels over (each has counts of its own).</summary>
            public static readonly int IntraThreads = Math.Clamp(Environment.ProcessorCount, 1, 8);

            public Workspace(int[] slotSizes, int tapVectors, int bitWords, int countSlots, int paddedFloats = 0)
            {
                Padded = new float[paddedFloats];
                SlotSizes = slotSizes;
                Slots = new float[slotSizes.Length][];
                for (int i = 0; i < slotSizes.Length; i++) Slots[i] = new float[slotSizes[i] * BitPlaneConv.MaxBatch];
                // One pinned block, each part on a 64-byte boundary (vector loads never straddle a cache line).
                long taps = (long)tapVectors * 64, bits = Align((long)bitWords * 8), counts = Align((long)countSlots * 2);
                int threads = IntraThreads;
                _pinned = GC.AllocateUninitializedArray<byte>((int)(taps + bits + 2 * threads * counts + 64), pinned: true);
                byte* p = (byte*)Align((long)Unsafe.AsPointer(ref _pinned[0]));
                Scratch = new BitPlaneConv.Scratch((Vector512<ulong>*)p, (ulong*)(p + taps), (ushort*)(p + taps + bits),
                    (ushort*)(p + taps + bits + threads * counts), threads, (int)(counts / 2));
            }

            /// <summary>Threads the current call may use inside one layer (1: the calling thread only).</summary>
            public int Threads = 1;

            static long Align(long v) => (v + 63) & ~63L;
        }

        internal readonly record struct Shape(int C, int H, int W)
        {
            public int Length => C * H * W;
            public int Plane => H * W;
            public override string ToString() => $"{C}×{H}×{W}";
        }

        // ------------------------------------------------------------------ element-wise ops

        internal enum PointwiseKind { Relu, Clamp, Affine }

        /// <summary>A per-channel element-wise op: max(x, 0), clamp(x, lo, hi) or x·A[c] + B[c] (one rounding).</summary>
        internal readonly record struct Pointwise(PointwiseKind Kind, float Lo = 0, float Hi = 0, float[]? A = null, float[]? B = null)
        {
            public string Describe() => Kind switch
            {
                PointwiseKind.Relu => "ReLU",
                PointwiseKind.Clamp => $"Hardtanh({Lo},{Hi})",
                _ => "BatchNorm(affine)",
            };

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public float Apply(float v, int c) => Kind switch
            {
                PointwiseKind.Relu => v > 0 ? v : 0,
                PointwiseKind.Clamp => v < Lo ? Lo : v > Hi ? Hi : v,
                _ => MathF.FusedMultiplyAdd(v, A![c], B![c]),
            };

            /// <summary>The ops in order ("ReLU → BatchNorm(affine)").</summary>
            public static string Chain(List<Pointwise> ops) => string.Join(" → ", ops.ConvertAll(o => o.Describe()));

            /// <summary>" + " and the ops, for a step that applies them as its epilogue; empty without ops.</summary>
            public static string Suffix(List<Pointwise> ops) => ops.Count > 0 ? " + " + Chain(ops) : "";

            /// <summary>Applies the ops in order to one channel's plane, in place.</summary>
            public static void Apply(List<Pointwise> ops, float* plane, int n, int c)
            {
                foreach (var op in ops)
                {
                    int i = 0;
                    switch (op.Kind)
                    {
                        case PointwiseKind.Relu:
                            for (; i + 16 <= n; i += 16) Vector512.Max(Vector512.Load(plane + i), Vector512<float>.Zero).Store(plane + i);
                            for (; i < n; i++) plane[i] = plane[i] > 0 ? plane[i] : 0;
                            break;
                        case PointwiseKind.Clamp:
                        {
                            float lo = op.Lo, hi = op.Hi;
                            var vlo = Vector512.Create(lo); var vhi = Vector512.Create(hi);
                            for (; i + 16 <= n; i += 16) Vector512.Min(Vector512.Max(Vector512.Load(plane + i), vlo), vhi).Store(plane + i);
                            for (; i < n; i++) { float v = plane[i]; plane[i] = v < lo ? lo : v > hi ? hi : v; }
                            break;
                        }
                        default:
                        {
                            float a = op.A![c], b = op.B![c];
                            var va = Vector512.Create(a); var vb = Vector512.Create(b);
                            for (; i + 16 <= n; i += 16) Vector512.FusedMultiplyAdd(Vector512.Load(plane + i), va, vb).Store(plane + i);
                            for (; i < n; i++) plane[i] = MathF.FusedMultiplyAdd(plane[i], a, b);
                            break;
                        }
                    }
                }
            }
        }

        // ------------------------------------------------------------------ steps

        internal abstract class Step
        {
            public int In, Out;
            public abstract void Run(Workspace ws, int n);
            public abstract string Describe();
        }

        sealed class PointwiseStep : Step
        {
            public readonly List<Pointwise> Ops = new();
            public Shape Shape;
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            public override void Run(Workspace ws, int n)
            {
                int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out], plane = Shape.Plane;
                fixed (float* x = ws.Slots[In], y = ws.Slots[Out])
                    for (int i = 0; i < n; i++)
                        for (int c = 0; c < Shape.C; c++)
                        {
                            float* src = x + (long)i * inSize + c * plane, dst = y + (long)i * outSize + c * plane;
                            if (src != dst) Buffer.MemoryCopy(src, dst, plane * 4L, plane * 4L);
                            Pointwise.Apply(Ops, dst, plane, c);
                        }
            }
            public override string Describe() => Pointwise.Chain(Ops);
        }

        sealed class NormalizeStep : Step
        {
            public float[] Mean = Array.Empty<float>(), Std = Array.Empty<float>();
            public Shape Shape;
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            public override void Run(Workspace ws, int n)
            {
                int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out], plane = Shape.Plane;
                var x = ws.Slots[In]; var y = ws.Slots[Out];
                for (int i = 0; i < n; i++)
                    for (int c = 0; c < Shape.C; c++)
                    {
                        float m = Mean[c], s = Std[c];
                        int src = i * inSize + c * plane, dst = i * outSize + c * plane;
                        for (int p = 0; p < plane; p++) y[dst + p] = (x[src + p] - m) / s;
                    }
            }
            public override string Describe() => "Normalize";
        }

        sealed class FloatConvStep : Step
        {
            public Shape InShape, OutShape;
            public int KH, KW, Stride, Pad;
            /// <summary>[o][c][ky][kx], PyTorch's layout.</summary>
            public float[] Weight = Array.Empty<float>();
            public float[] Bias = Array.Empty<float>();
            public readonly List<Pointwise> Epilogue = new();
            public string Name = "";

            /// <summary>
            /// Input channels a 1×1 convolution sums per block, as libtorch's oneDNN AVX2 1×1 kernel does: each block of
            /// 128 channels is summed from zero (the first from the bias), then added to the running sum. Seen on
            /// ResNet-18's 256→512 shortcut: sequential sums differed from libtorch on 28,713 of 32,768 outputs,
            /// blocks of 128 matched all of them. (A strided 1×1 convolution over an odd-sized input takes another oneDNN
            /// path; there the two agree to rounding only.)
            /// </summary>
            public const int PointwiseReduceBlock = 128;

            /// <summary>
            /// k×k: each output accumulates bias, then the taps in (ky, kx, c) order with one fused multiply-add each, the
            /// order libtorch's oneDNN kernel sums a small-channel convolution in; the input is first copied into a
            /// zero-bordered buffer (a tap in the padding adds 0·w, which leaves the sum as it is). 1×1: the input pixels
            /// the stride picks are gathered into dense planes, then summed over channels in blocks of
            /// <see cref="PointwiseReduceBlock"/>, 16 pixels per vector.
            /// </summary>
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            public override void Run(Workspace ws, int n)
            {
                int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out];
                fixed (float* xs = ws.Slots[In], ys = ws.Slots[Out], wt = Weight, xp = ws.Padded)
                    for (int i = 0; i < n; i++)
                    {
                        float* x = xs + (long)i * inSize, y = ys + (long)i * outSize;
                        if (KH == 1 && KW == 1) RunPointwise(x, y, wt, xp);
                        else RunSpatial(x, y, wt, xp);
                    }
            }

            void RunSpatial(float* x, float* y, float* wt, float* xp)
            {
                int ci = InShape.C, ih = InShape.H, iw = InShape.W, oh = OutShape.H, ow = OutShape.W, plane = oh * ow;
                int ph = ih + 2 * Pad, pw = iw + 2 * Pad, taps = KH * KW;
                new Span<float>(xp, ci * ph * pw).Clear();
                for (int c = 0; c < ci; c++)
                    for (int r = 0; r < ih; r++)
                        new ReadOnlySpan<float>(x + (c * ih + r) * iw, iw).CopyTo(new Span<float>(xp + (c * ph + r + Pad) * pw + Pad, iw));
                int o = 0;
                if (Stride == 1 && ow >= 32)
                {
                    // Four output channels × 32 pixels at a time: eight independent accumulators, one input load for
                    // four FMAs. (One accumulator at a time waited on each FMA's latency: the stem took a sixth of
                    // ResNet-20.) Each output still sums bias, then (ky, kx, c) in order: the same floats.
                    int wide = ow / 32 * 32, stride = ci * taps;
                    for (; o + 4 <= OutShape.C; o += 4)
                    {
                        float* w0 = wt + (long)o * stride;
                        var bias0 = Vector512.Create(Bias[o]); var bias1 = Vector512.Create(Bias[o + 1]);
                        var bias2 = Vector512.Create(Bias[o + 2]); var bias3 = Vector512.Create(Bias[o + 3]);
                        for (int oy = 0; oy < oh; oy++)
                            for (int ox = 0; ox < wide; ox += 32)
                            {
                                Vector512<float> a0 = bias0, b0 = bias0, a1 = bias1, b1 = bias1, a2 = bias2, b2 = bias2, a3 = bias3, b3 = bias3;
                                for (int ky = 0; ky < KH; ky++)
                                    for (int kx = 0; kx < KW; kx++)
                                        for (int c = 0; c < ci; c++)
                                        {
                                            float* src = xp + (c * ph + oy + ky) * pw + ox + kx;
                                            var lo = Vector512.Load(src); var hi = Vector512.Load(src + 16);
                                            float* w = w0 + c * taps + ky * KW + kx;
                                            var v0 = Vector512.Create(w[0]); var v1 = Vector512.Create(w[stride]);
                                            var v2 = Vector512.Create(w[2 * stride]); var v3 = Vector512.Create(w[3 * stride]);
                                            a0 = Vector512.FusedMultiplyAdd(lo, v0, a0); b0 = Vector512.FusedMultiplyAdd(hi, v0, b0);
                                            a1 = Vector512.FusedMultiplyAdd(lo, v1, a1); b1 = Vector512.FusedMultiplyAdd(hi, v1, b1);
                                            a2 = Vector512.FusedMultiplyAdd(lo, v2, a2); b2 = Vector512.FusedMultiplyAdd(hi, v2, b2);
                                            a3 = Vector512.FusedMultiplyAdd(lo, v3, a3); b3 = Vector512.FusedMultiplyAdd(hi, v3, b3);
                                        }
                                float* dst = y + o * plane + oy * ow + ox;
                                a0.Store(dst); b0.Store(dst + 16);
                                a1.Store(dst + plane); b1.Store(dst + plane + 16);
                                a2.Store(dst + 2 * plane); b2.Store(dst + 2 * plane + 16);
                                a3.Store(dst + 3 * plane); b3.Store(dst + 3 * plane + 16);
                            }
                        for (int j = 0; j < 4; j++)
                        {
                            if (wide < ow) SpatialChannel(o + j, wide, y, wt, xp);
                            Pointwise.Apply(Epilogue, y + (o + j) * plane, plane, o + j);
                        }
                    }
                }
                for (; o < OutShape.C; o++)
                {
                    SpatialChannel(o, 0, y, wt, xp);
                    Pointwise.Apply(Epilogue, y + o * plane, plane, o);
                }
            }

            /// <summary>Output channel <paramref name="o"/>, columns from <paramref name="fromX"/> on, of every row.</summary>
            void SpatialChannel(int o, int fromX, float* y, float* wt, float* xp)
            {
                int ci = InShape.C, oh = OutShape.H, ow = OutShape.W, plane = oh * ow;
                int ph = InShape.H + 2 * Pad, pw = InShape.W + 2 * Pad, s = Stride, taps = KH * KW;
                float* w = wt + (long)o * ci * taps;
                float bias = Bias[o];
                for (int oy = 0; oy < oh; oy++)
                {
                    float* dst = y + o * plane + oy * ow;
                    int ox = fromX;
                    if (s == 1)
                        for (; ox + 16 <= ow; ox += 16)
                        {
                            var acc = Vector512.Create(bias);
                            for (int ky = 0; ky < KH; ky++)
                                for (int kx = 0; kx < KW; kx++)
                                    for (int c = 0; c < ci; c++)
                                        acc = Vector512.FusedMultiplyAdd(Vector512.Load(xp + (c * ph + oy + ky) * pw + ox + kx),
                                            Vector512.Create(w[c * taps + ky * KW + kx]), acc);
                            acc.Store(dst + ox);
                        }
                    for (; ox < ow; ox++)
                    {
                        float acc = bias;
                        for (int ky = 0; ky < KH; ky++)
                            for (int kx = 0; kx < KW; kx++)
                                for (int c = 0; c < ci; c++)
                                    acc = MathF.FusedMultiplyAdd(xp[(c * ph + oy * s + ky) * pw + ox * s + kx], w[c * taps + ky * KW + kx], acc);
                        dst[ox] = acc;
                    }
                }
            }

            void RunPointwise(float* x, float* y, float* wt, float* xg)
            {
                int ci = InShape.C, ih = InShape.H, iw = InShape.W, oh = OutShape.H, ow = OutShape.W, plane = oh * ow, s = Stride;
                for (int c = 0; c < ci; c++)
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int iy = oy * s - Pad, ix = ox * s - Pad;
                            xg[c * plane + oy * ow + ox] = (uint)iy < (uint)ih && (uint)ix < (uint)iw ? x[(c * ih + iy) * iw + ix] : 0;
                        }
                const int block = PointwiseReduceBlock;
                for (int o = 0; o < OutShape.C; o++)
                {
                    float* w = wt + (long)o * ci;
                    float* dst = y + o * plane;
                    int p = 0;
                    for (; p + 16 <= plane; p += 16)
                    {
                        var acc = Vector512.Create(Bias[o]);
                        for (int c0 = 0; c0 < ci; c0 += block)
                        {
                            var part = c0 == 0 ? acc : Vector512<float>.Zero;
                            for (int c = c0, c1 = Math.Min(ci, c0 + block); c < c1; c++)
                                part = Vector512.FusedMultiplyAdd(Vector512.Load(xg + c * plane + p), Vector512.Create(w[c]), part);
                            acc = c0 == 0 ? part : acc + part;
                        }
                        acc.Store(dst + p);
                    }
                    for (; p < plane; p++)
                    {
                        float acc = Bias[o];
                        for (int c0 = 0; c0 < ci; c0 += block)
                        {
                            float part = c0 == 0 ? acc : 0;
                            for (int c = c0, c1 = Math.Min(ci, c0 + block); c < c1; c++)
                                part = MathF.FusedMultiplyAdd(xg[c * plane + p], w[c], part);
                            acc = c0 == 0 ? part : acc + part;
                        }
                        dst[p] = acc;
                    }
                    Pointwise.Apply(Epilogue, dst, plane, o);
                }
            }
            public override string Describe() => $"Conv2d {Name} {InShape}→{OutShape}" + Pointwise.Suffix(Epilogue);
        }

        sealed class BinaryConvStep : Step
        {
            public BitPlaneConv Kernel = null!;
            public float[] Scale = Array.Empty<float>();
            public readonly List<Pointwise> Epilogue = new();
            public string Name = "";

            /// <summary>
            /// Writes dot·β (one rounding, as libtorch's eval-mode layer computes it) and the fused element-wise ops, 16
            /// pixels at a time, straight from the counts.
            /// </summary>
            sealed class FloatSink : BitPlaneConv.Sink
            {
                public float* Output;
                public int OutStride;
                public BinaryConvStep Step = null!;
                /// <summary>An identity shortcut added after the epilogue (null: none), and its floats per image.</summary>
                public float* Shortcut;
                public int ShortcutStride;

                [MethodImpl(MethodImplOptions.AggressiveOptimization)]
                public override void Write(int image, int o, in BitPlaneConv.Counts counts)
                {
                    WritePlane(image, o, counts);
                    if (Shortcut is null) return;
                    // out + shortcut, as the block's add rounds it, while the plane is still in L1.
                    int n = counts.Length, i = 0;
                    float* y = Output + (long)image * OutStride + (long)o * n, sc = Shortcut + (long)image * ShortcutStride + (long)o * n;
                    for (; i + 16 <= n; i += 16) (Vector512.Load(y + i) + Vector512.Load(sc + i)).Store(y + i);
                    for (; i < n; i++) y[i] += sc[i];
                }

                [MethodImpl(MethodImplOptions.AggressiveInlining)]
                void WritePlane(int image, int o, in BitPlaneConv.Counts counts)
                {
                    int n = counts.Length;
                    float* y = Output + (long)image * OutStride + (long)o * n;
                    float s = Step.Scale[o];
                    int i = 0;
                    var fusedOp = Step.ReluThenAffine;
                    if (Avx512F.IsSupported)
                    {
                        var vs = Vector512.Create(s);
                        var a = fusedOp is { } f1 ? Vector512.Create(f1.A![o]) : default;
                        var b = fusedOp is { } f2 ? Vector512.Create(f2.B![o]) : default;
                        if (fusedOp is not null)
                            i = counts.Bias is not null
                                ? counts.Sign > 0 ? SetLoop<PlusSign, ReluAffine>(counts, y, vs, a, b) : SetLoop<MinusSign, ReluAffine>(counts, y, vs, a, b)
                                : CountLoop<ReluAffine>(counts, y, vs, a, b);
                        else
                            i = counts.Bias is not null
                                ? counts.Sign > 0 ? SetLoop<PlusSign, ScaleOnly>(counts, y, vs, a, b) : SetLoop<MinusSign, ScaleOnly>(counts, y, vs, a, b)
                                : CountLoop<ScaleOnly>(counts, y, vs, a, b);
                    }
                    if (fusedOp is { } fused)
                    {
                        for (; i < n; i++) y[i] = fused.Apply(Step.Epilogue[0].Apply(counts.Dot(i) * s, o), o);
                        return;
                    }
                    for (; i < n; i++) y[i] = counts.Dot(i) * s;
                    Pointwise.Apply(Step.Epilogue, y, n, o);
                }

                interface ISign { static abstract Vector512<int> Apply(Vector512<int> bias, Vector512<int> t); }
                readonly struct PlusSign : ISign { public static Vector512<int> Apply(Vector512<int> bias, Vector512<int> t) => bias + t; }
                readonly struct MinusSign : ISign { public static Vector512<int> Apply(Vector512<int> bias, Vector512<int> t) => bias - t; }

                interface IEpilogue { static abstract Vector512<float> Apply(Vector512<float> v, Vector512<float> a, Vector512<float> b); }
                /// <summary>The ReSTE block's BN(ReLU(conv)) in the same pass.</summary>
                readonly struct ReluAffine : IEpilogue
                {
                    public static Vector512<float> Apply(Vector512<float> v, Vector512<float> a, Vector512<float> b) =>
                        Vector512.FusedMultiplyAdd(Vector512.Max(v, Vector512<float>.Zero), a, b);
                }
                readonly struct ScaleOnly : IEpilogue
                {
                    public static Vector512<float> Apply(Vector512<float> v, Vector512<float> a, Vector512<float> b) => v;
                }

                /// <summary>Set counts: dot = bias ± (4·C − 2·S), then ·β (one rounding) and the epilogue; whole vectors only.</summary>
                [MethodImpl(MethodImplOptions.AggressiveInlining)]
                static int SetLoop<TSign, TEpi>(in BitPlaneConv.Counts counts, float* y, Vector512<float> vs, Vector512<float> a, Vector512<float> b)
                    where TSign : struct, ISign where TEpi : struct, IEpilogue
                {
                    ushort* set = counts.Agree, all = counts.Valid;
                    short* bias = counts.Bias;
                    int n = counts.Length, i = 0;
                    for (; i + 16 <= n; i += 16)
                    {
                        var t = (Avx512F.ConvertToVector512Int32(Vector256.Load(set + i)) << 2) - (Avx512F.ConvertToVector512Int32(Vector256.Load(all + i)) << 1);
                        var dot = TSign.Apply(Avx512F.ConvertToVector512Int32(Vector256.Load(bias + i)), t);
                        TEpi.Apply(Vector512.ConvertToSingle(dot) * vs, a, b).Store(y + i);
                    }
                    return i;
                }

                /// <summary>Agreement counts: dot = 2·agree − valid (counted or analytic); whole vectors only.</summary>
                [MethodImpl(MethodImplOptions.AggressiveInlining)]
                static int CountLoop<TEpi>(in BitPlaneConv.Counts counts, float* y, Vector512<float> vs, Vector512<float> a, Vector512<float> b)
                    where TEpi : struct, IEpilogue
                {
                    ushort* agree = counts.Agree, valid = counts.Valid;
                    int* analytic = counts.Analytic;
                    int n = counts.Length, i = 0;
                    if (valid is null)
                        for (; i + 16 <= n; i += 16)
                        {
                            var dot = (Avx512F.ConvertToVector512Int32(Vector256.Load(agree + i)) << 1) - Vector512.Load(analytic + i);
                            TEpi.Apply(Vector512.ConvertToSingle(dot) * vs, a, b).Store(y + i);
                        }
                    else
                        for (; i + 16 <= n; i += 16)
                        {
                            var dot = (Avx512F.ConvertToVector512Int32(Vector256.Load(agree + i)) << 1) - Avx512F.ConvertToVector512Int32(Vector256.Load(valid + i));
                            TEpi.Apply(Vector512.ConvertToSingle(dot) * vs, a, b).Store(y + i);
                        }
                    return i;
                }
            }

            /// <summary>The epilogue's BatchNorm when it is exactly ReLU then BatchNorm (fused in one pass), else null.</summary>
            public Pointwise? ReluThenAffine;
            /// <summary>The slot of an identity shortcut added to the output (a residual block's end fused in), or −1.</summary>
            public int Shortcut = -1;

            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            public override void Run(Workspace ws, int n)
            {
                fixed (float* x = ws.Slots[In], y = ws.Slots[Out], sc = ws.Slots[Shortcut < 0 ? Out : Shortcut])
                {
                    var sink = new FloatSink
                    {
                        Output = y, OutStride = ws.SlotSizes[Out], Step = this,
                        Shortcut = Shortcut < 0 ? null : sc, ShortcutStride = Shortcut < 0 ? 0 : ws.SlotSizes[Shortcut]
                    };
                    Kernel.Run(x, n, ws.SlotSizes[In], sink, ws.Threads > 1 ? ws.Scratch.WithThreads(ws.Threads) : ws.Scratch);
                }
            }
            public override string Describe() => $"BinaryConv2d(bit-planes) {Name} {Kernel.InC}×{Kernel.InH}×{Kernel.InW}→{Kernel.OutC}×{Kernel.OutH}×{Kernel.OutW}"
                + (Shortcut >= 0 ? " (+ identity shortcut after the epilogue)" : "")
                + Pointwise.Suffix(Epilogue);
        }

        sealed class ResidualAddStep : Step
        {
            public int Saved;
            public Shape SavedShape, Shape;
            public int Stride, PadBefore;
            /// <summary>Adds a block's main path to its shortcut branch (rather than a saved input to the body).</summary>
            public bool Branch;
            /// <summary>vpermt2ps indices picking the even floats of two vectors (every second pixel of a 32-pixel row).</summary>
            static readonly Vector512<int> EvenFloats = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            public override void Run(Workspace ws, int n)
            {
                int size = ws.SlotSizes[In], savedSize = ws.SlotSizes[Saved];
                int plane = Shape.Plane, sp = SavedShape.Plane, w = Shape.W, sw = SavedShape.W;
                fixed (float* xs = ws.Slots[In], ss = ws.Slots[Saved])
                    for (int i = 0; i < n; i++)
                        for (int c = 0; c < SavedShape.C; c++)
                        {
                            float* d = xs + (long)i * size + (c + PadBefore) * plane, a = ss + (long)i * savedSize + c * sp;
                            if (Stride == 1 && sp == plane)
                            {
                                int p = 0;
                                for (; p + 16 <= plane; p += 16) (Vector512.Load(d + p) + Vector512.Load(a + p)).Store(d + p);
                                for (; p < plane; p++) d[p] += a[p];
                            }
                            else if (Stride == 2 && w % 16 == 0 && sw >= 2 * w && Avx512F.IsSupported)
                                for (int oy = 0; oy < Shape.H; oy++)
                                    for (int ox = 0; ox < w; ox += 16)
                                    {
                                        // Option A: every second pixel of every second row.
                                        float* src = a + 2 * oy * sw + 2 * ox;
                                        var even = Avx512F.PermuteVar16x32x2(Vector512.Load(src), EvenFloats, Vector512.Load(src + 16));
                                        (Vector512.Load(d + oy * w + ox) + even).Store(d + oy * w + ox);
                                    }
                            else
                                for (int oy = 0; oy < Shape.H; oy++)
                                    for (int ox = 0; ox < w; ox++)
                                        d[oy * w + ox] += a[oy * Stride * sw + ox * Stride];
                        }
            }
            public override string Describe() => Branch ? "+ main path (shortcut branch)"
                : Stride == 1 && PadBefore == 0 && SavedShape.C == Shape.C ? "+ identity shortcut" : $"+ option-A shortcut {SavedShape}→{Shape}";
        }

        sealed class MaxPoolStep : Step
        {
            public Shape InShape, OutShape;
            public int Kernel, Stride;
            public readonly List<Pointwise> Epilogue = new();
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            public override void Run(Workspace ws, int n)
            {
                int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out];
                int ih = InShape.H, iw = InShape.W, oh = OutShape.H, ow = OutShape.W, k = Kernel, s = Stride;
                fixed (float* xs = ws.Slots[In], ys = ws.Slots[Out])
                    for (int i = 0; i < n; i++)
                        for (int c = 0; c < InShape.C; c++)
                        {
                            float* x = xs + (long)i * inSize + c * ih * iw, y = ys + (long)i * outSize + c * oh * ow;
                            for (int oy = 0; oy < oh; oy++)
                                for (int ox = 0; ox < ow; ox++)
                                {
                                    float* w = x + oy * s * iw + ox * s;
                                    float m = w[0];
                                    for (int ky = 0; ky < k; ky++)
                                        for (int kx = 0; kx < k; kx++)
                                        {
                                            // NaN propagates, as in PyTorch.
                                            float v = w[ky * iw + kx];
                                            if (v > m || float.IsNaN(v)) m = v;
                                        }
                                    y[oy * ow + ox] = m;
                                }
                            Pointwise.Apply(Epilogue, y, oh * ow, c);
                        }
            }
            public override string Describe() => $"MaxPool {Kernel}×{Kernel}/{Stride} {InShape}→{OutShape}" + Pointwise.Suffix(Epilogue);
        }

        sealed class GlobalAvgPoolStep : Step
        {
            public Shape InShape;
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            public override void Run(Workspace ws, int n)
            {
                int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out], hw = InShape.Plane;
                var x = ws.Slots[In]; var y = ws.Slots[Out];
                for (int i = 0; i < n; i++)
                    for (int c = 0; c < InShape.C; c++)
                    {
                        double sum = 0;
                        int src = i * inSize + c * hw;
                        for (int p = 0; p < hw; p++) sum += x[src + p];
                        y[i * outSize + c] = (float)(sum / hw);
                    }
            }
            public override string Describe() => $"GlobalAvgPool {InShape}→{InShape.C}";
        }

        sealed class LinearStep : Step
        {
            public int InF, OutF;
            /// <summary>[out][in], inputs in PyTorch's flattened CHW order.</summary>
            public float[] Weight = Array.Empty<float>();
            public double[] Bias = Array.Empty<double>();
            public string Name = "";
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            public override void Run(Workspace ws, int n)
            {
                int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out];
                var x = ws.Slots[In]; var y = ws.Slots[Out];
                for (int i = 0; i < n; i++)
                    for (int o = 0; o < OutF; o++)
                    {
                        double sum = Bias[o];
                        var w = Weight.AsSpan(o * InF, InF);
                        int src = i * inSize;
                        for (int j = 0; j < InF; j++) sum += (double)w[j] * x[src + j];
                        y[i * outSize + o] = (float)sum;
                    }
            }
            public override string Describe() => $"Linear {Name} {InF}→{OutF}";
        }

        // ------------------------------------------------------------------ planning

        sealed class Planner
        {
            readonly PackedModel _model;
            public readonly List<int> SlotSizes = new();
            readonly List<bool> _free = new();
            /// <summary>An open residual block: its saved input, and once its shortcut branch began, the main path's result.</summary>
            sealed record OpenBlock(int Slot, Shape Shape, string Name, int MainSlot = -1, Shape MainShape = default);
            readonly Stack<OpenBlock> _saved = new();
            public Shape Shape;
            public int CurrentSlot;
            public int TapVectors = 1, BitWords = 8, CountSlots = 528, PaddedFloats;
            Pointwise? _pendingAffine; // a BatchNorm waiting to be folded into a following Linear
            bool _pooled;

            public Planner(PackedModel model)
            {
                _model = model;
                Shape = new Shape(model.InputChannels, model.InputHeight, model.InputWidth);
                CurrentSlot = NewSlot(Shape.Length);
            }

            int NewSlot(int size)
            {
                for (int i = 0; i < SlotSizes.Count; i++)
                    if (_free[i]) { _free[i] = false; SlotSizes[i] = Math.Max(SlotSizes[i], size); return i; }
                SlotSizes.Add(size); _free.Add(false);
                return SlotSizes.Count - 1;
            }

            void Release(int slot)
            {
                foreach (var s in _saved) if (s.Slot == slot || s.MainSlot == slot) return;
                _free[slot] = true;
            }

            static InvalidOperationException Error(DeployOp op, string message) => new($"Op '{op.Name}' ({op.Kind}): {message}");

            void FlushAffine(List<Step> steps)
            {
                if (_pendingAffine is not { } affine) return;
                var step = new PointwiseStep { In = CurrentSlot, Out = InPlaceTarget(), Shape = Shape };
                step.Ops.Add(affine);
                steps.Add(step);
                CurrentSlot = step.Out;
                _pendingAffine = null;
            }

            /// <summary>The slot an element-wise op writes: the current one, or a fresh one while the current one is saved for a shortcut.</summary>
            int InPlaceTarget() => CurrentIsSaved() ? NewSlot(Shape.Length) : CurrentSlot;

            public void Build(List<Step> steps)
            {
                var ops = _model.Ops;
                for (int i = 0; i < ops.Count; i++)
                {
                    var op = ops[i];
                    if (op is not LinearOp && op is not GlobalAvgPoolOp) FlushAffine(steps);
                    switch (op)
                    {
                        case NormalizeOp n:
                        {
                            if (n.Mean.Length != Shape.C) throw Error(op, $"{n.Mean.Length} channels for a {Shape} input.");
                            var step = new NormalizeStep { In = CurrentSlot, Out = InPlaceTarget(), Mean = n.Mean, Std = n.Std, Shape = Shape };
                            steps.Add(step);
                            CurrentSlot = step.Out;
                            break;
                        }
                        case Conv2dOp c:
                            i = PlanFloatConv(c, c.Weight, c.Bias, ops, i, steps);
                            break;
                        case BinaryConv2dOp b when !b.BinarizesActivations:
                        {
                            // 1W/32A: a float convolution with weights ±β (0 where the latent weight is 0).
                            var w = new float[b.Weight.Count];
                            int per = b.InChannels * b.KernelH * b.KernelW;
                            for (int j = 0; j < w.Length; j++) w[j] = b.Weight[j] * b.ScaleOf(j / per);
                            i = PlanFloatConv(new Conv2dOp(b.Name, b.InChannels, b.OutChannels, b.KernelH, b.KernelW, b.Stride, b.Padding, w, null), w, null, ops, i, steps);
                            break;
                        }
                        case BinaryConv2dOp b:
                            i = PlanBinaryConv(b, ops, i, steps);
                            break;
                        case ReLUOp or HardtanhOp or BatchNormOp:
                        {
                            if (op is BatchNormOp bn0 && ((Shape.H == 1 && Shape.W == 1) || _pooled) && NextIsLinear(ops, i))
                            {
                                if (bn0.Channels != Shape.C) throw Error(op, $"{bn0.Channels} channels for a {Shape} input.");
                                var (a0, b0) = bn0.Fold();
                                _pendingAffine = new Pointwise(PointwiseKind.Affine, A: a0, B: b0);
                                break;
                            }
                            var step = new PointwiseStep { In = CurrentSlot, Out = InPlaceTarget(), Shape = Shape };
                            while (i < ops.Count && ToPointwise(ops[i]) is { } pw) { step.Ops.Add(pw); i++; }
                            i--;
                            steps.Add(step);
                            CurrentSlot = step.Out;
                            break;
                        }
                        case ResidualBeginOp:
                            // Element-wise ops inside the block write elsewhere while this slot is saved (InPlaceTarget).
                            _saved.Push(new OpenBlock(CurrentSlot, Shape, op.Name));
                            break;
                        case ShortcutBranchOp:
                        {
                            if (_saved.Count == 0) throw Error(op, "no residual block is open.");
                            var block = _saved.Pop();
                            if (block.MainSlot >= 0) throw Error(op, $"block '{block.Name}' already has a shortcut branch.");
                            if (block.Slot == CurrentSlot) throw Error(op, $"block '{block.Name}' has an empty main path.");
                            _saved.Push(block with { MainSlot = CurrentSlot, MainShape = Shape });
                            CurrentSlot = block.Slot;
                            Shape = block.Shape;
                            break;
                        }
                        case MaxPool2dOp m:
                            i = PlanMaxPool(m, ops, i, steps);
                            break;
                        case ResidualEndOp r:
                            PlanResidualEnd(r, steps);
                            break;
                        case GlobalAvgPoolOp:
                        {
                            if (_pendingAffine is not null) throw Error(op, "internal: pending BatchNorm before pooling.");
                            int outSlot = NewSlot(Shape.C);
                            steps.Add(new GlobalAvgPoolStep { In = CurrentSlot, Out = outSlot, InShape = Shape });
                            Release(CurrentSlot);
                            CurrentSlot = outSlot;
                            Shape = new Shape(Shape.C, 1, 1);
                            _pooled = true;
                            break;
                        }
                        case LinearOp l:
                            PlanLinear(l, steps);
                            break;
                        default:
                            throw Error(op, "the engine does not run this op.");
                    }
                }
                FlushAffine(steps);
                if (_saved.Count > 0) throw new InvalidOperationException($"Residual block '{_saved.Peek().Name}' is never closed.");
            }

            static bool NextIsLinear(IReadOnlyList<DeployOp> ops, int i) => i + 1 < ops.Count && ops[i + 1] is LinearOp;

            Pointwise? ToPointwise(DeployOp op)
            {
                switch (op)
                {
                    case ReLUOp: return new Pointwise(PointwiseKind.Relu);
                    case HardtanhOp h: return new Pointwise(PointwiseKind.Clamp, h.Min, h.Max);
                    case BatchNormOp bn:
                        if (bn.Channels != Shape.C) throw Error(op, $"{bn.Channels} channels for a {Shape} input.");
                        var (a, b) = bn.Fold();
                        return new Pointwise(PointwiseKind.Affine, A: a, B: b);
                    default: return null;
                }
            }

            /// <summary>Whether the current slot is saved for a shortcut (then in-place work must go elsewhere).</summary>
            bool CurrentIsSaved()
            {
                foreach (var s in _saved) if (s.Slot == CurrentSlot) return true;
                return false;
            }

            int PlanFloatConv(Conv2dOp c, float[] weight, float[]? bias, IReadOnlyList<DeployOp> ops, int i, List<Step> steps)
            {
                if (c.InChannels != Shape.C) throw Error(c, $"expects {c.InChannels} channels, gets {Shape}.");
                int oh = (Shape.H + 2 * c.Padding - c.KernelH) / c.Stride + 1, ow = (Shape.W + 2 * c.Padding - c.KernelW) / c.Stride + 1;
                if (oh <= 0 || ow <= 0) throw Error(c, $"the kernel does not fit a {Shape} input.");
                var outShape = new Shape(c.OutChannels, oh, ow);
                int co = c.OutChannels;
                var w = (float[])weight.Clone();
                var b = bias is null ? new float[co] : (float[])bias.Clone();
                int outSlot = NewSlot(outShape.Length);
                var step = new FloatConvStep
                {
                    In = CurrentSlot, Out = outSlot, InShape = Shape, OutShape = outShape, KH = c.KernelH, KW = c.KernelW,
                    Stride = c.Stride, Pad = c.Padding, Weight = w, Bias = b, Name = c.Name
                };
                // The padded copy, and a vector's slack past its end for the last row's loads.
                PaddedFloats = Math.Max(PaddedFloats, Shape.C * (Shape.H + 2 * c.Padding) * (Shape.W + 2 * c.Padding) + 16);
                Shape = outShape;
                // A BatchNorm right after the convolution is not folded into its weights: exact algebra, but not the
                // floats libtorch computes (it rounds the sum, then x·α + β), and an activation within rounding of 0
                // would then binarize differently downstream. It runs in the epilogue instead.
                return AddWithEpilogue(step, step.Epilogue, ops, i, steps);
            }

            int PlanBinaryConv(BinaryConv2dOp b, IReadOnlyList<DeployOp> ops, int i, List<Step> steps)
            {
                if (b.InChannels != Shape.C) throw Error(b, $"expects {b.InChannels} channels, gets {Shape}.");
                BitPlaneConv kernel;
                try { kernel = new BitPlaneConv(b, Shape.H, Shape.W); }
                catch (ArgumentException e) { throw new InvalidOperationException(e.Message, e); }
                var scale = new float[b.OutChannels];
                for (int o = 0; o < scale.Length; o++) scale[o] = b.ScaleOf(o);
                var outShape = new Shape(kernel.OutC, kernel.OutH, kernel.OutW);
                int outSlot = NewSlot(outShape.Length);
                var step = new BinaryConvStep { In = CurrentSlot, Out = outSlot, Kernel = kernel, Scale = scale, Name = b.Name };
                Shape = outShape;
                TapVectors = Math.Max(TapVectors, kernel.TapVectors);
                BitWords = Math.Max(BitWords, kernel.BitScratchWords);
                CountSlots = Math.Max(CountSlots, kernel.CountSlots);
                i = AddWithEpilogue(step, step.Epilogue, ops, i, steps);
                if (step.Epilogue.Count == 2 && step.Epilogue[0].Kind == PointwiseKind.Relu && step.Epilogue[1].Kind == PointwiseKind.Affine)
                    step.ReluThenAffine = step.Epilogue[1];
                return i;
            }

            /// <summary>
            /// Takes the element-wise ops after op <paramref name="i"/> into <paramref name="epilogue"/> (applied as each
            /// output plane is written), adds <paramref name="step"/> and makes its output the current activation.
            /// Returns the index of the last op consumed.
            /// </summary>
            int AddWithEpilogue(Step step, List<Pointwise> epilogue, IReadOnlyList<DeployOp> ops, int i, List<Step> steps)
            {
                while (i + 1 < ops.Count && ToPointwise(ops[i + 1]) is { } pw) { epilogue.Add(pw); i++; }
                steps.Add(step);
                Release(CurrentSlot);
                CurrentSlot = step.Out;
                return i;
            }

            void PlanResidualEnd(ResidualEndOp r, List<Step> steps)
            {
                if (_saved.Count == 0) throw Error(r, "no residual block is open.");
                var block = _saved.Pop();
                if (block.MainSlot >= 0)
                {
                    // Shortcut branch: the current slot holds the branch's result, the main path's is set aside.
                    if (r.Shortcut != ShortcutKind.Identity) throw Error(r, "after a shortcut branch the end must be an identity.");
                    if (block.MainShape != Shape) throw Error(r, $"the shortcut branch gives {Shape}, the block's main path {block.MainShape}.");
                    if (CurrentSlot == block.Slot) throw Error(r, $"block '{block.Name}' has an empty shortcut branch; drop the branch for an identity shortcut.");
                    steps.Add(new ResidualAddStep
                    {
                        In = CurrentSlot, Out = CurrentSlot, Saved = block.MainSlot, SavedShape = Shape, Shape = Shape,
                        Stride = 1, PadBefore = 0, Branch = true
                    });
                    Release(block.MainSlot);
                    Release(block.Slot);
                    return;
                }
                var savedShape = block.Shape;
                int sh = r.Shortcut == ShortcutKind.Identity ? savedShape.H : (savedShape.H + r.Stride - 1) / r.Stride;
                int sw = r.Shortcut == ShortcutKind.Identity ? savedShape.W : (savedShape.W + r.Stride - 1) / r.Stride;
                int sc = savedShape.C + r.PadBefore + r.PadAfter;
                if (sh != Shape.H || sw != Shape.W || sc != Shape.C)
                    throw Error(r, $"the shortcut gives {sc}×{sh}×{sw}, the block's body {Shape}.");
                if (block.Slot == CurrentSlot || CurrentIsSaved())
                    throw Error(r, "a residual block whose body is empty (x + x) is not supported.");
                if (r.Shortcut == ShortcutKind.Identity && steps[^1] is BinaryConvStep last && last.Out == CurrentSlot && last.Shortcut < 0)
                {
                    // The add joins the binary convolution's epilogue: one pass less over the block's output.
                    last.Shortcut = block.Slot;
                    Release(block.Slot);
                    return;
                }
                steps.Add(new ResidualAddStep
                {
                    In = CurrentSlot, Out = CurrentSlot, Saved = block.Slot, SavedShape = savedShape, Shape = Shape,
                    Stride = r.Shortcut == ShortcutKind.Identity ? 1 : r.Stride, PadBefore = r.PadBefore
                });
                Release(block.Slot);
            }

            int PlanMaxPool(MaxPool2dOp m, IReadOnlyList<DeployOp> ops, int i, List<Step> steps)
            {
                int oh = (Shape.H - m.Kernel) / m.Stride + 1, ow = (Shape.W - m.Kernel) / m.Stride + 1;
                if (Shape.H < m.Kernel || Shape.W < m.Kernel) throw Error(m, $"a {m.Kernel}×{m.Kernel} window does not fit a {Shape} input.");
                var outShape = new Shape(Shape.C, oh, ow);
                int outSlot = NewSlot(outShape.Length);
                var step = new MaxPoolStep { In = CurrentSlot, Out = outSlot, InShape = Shape, OutShape = outShape, Kernel = m.Kernel, Stride = m.Stride };
                Shape = outShape;
                return AddWithEpilogue(step, step.Epilogue, ops, i, steps);
            }

            void PlanLinear(LinearOp l, List<Step> steps)
            {
                if (l.InFeatures != Shape.Length) throw Error(l, $"expects {l.InFeatures} features, gets {Shape} = {Shape.Length}.");
                int inF = l.InFeatures, outF = l.OutFeatures, hw = Shape.Plane;
                var w = (float[])l.Weight.Clone();
                var bias = new double[outF];
                for (int o = 0; o < outF; o++) bias[o] = l.Bias?[o] ?? 0;
                if (_pendingAffine is { } aff)
                {
                    // Linear(a·x + b) = (W·diag(a))·x + (W·b + bias): a BatchNorm before the head folds into it.
                    for (int o = 0; o < outF; o++)
                        for (int j = 0; j < inF; j++)
                        {
                            int ch = j / hw;
                            bias[o] += (double)w[o * inF + j] * aff.B![ch];
                            w[o * inF + j] *= aff.A![ch];
                        }
                    _pendingAffine = null;
                }
                int outSlot = NewSlot(outF);
                steps.Add(new LinearStep { In = CurrentSlot, Out = outSlot, InF = inF, OutF = outF, Weight = w, Bias = bias, Name = l.Name });
                Release(CurrentSlot);
                CurrentSlot = outSlot;
                Shape = new Shape(outF, 1, 1);
            }
        }
    }
}

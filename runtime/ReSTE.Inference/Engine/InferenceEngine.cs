using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading.Tasks;
using ReSTE.Inference.Engine.BConv2d;
using ReSTE.Inference.Engine.Steps;
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

        /// <summary>Runs step <paramref name="index"/> alone on the group in <paramref name="ws"/> (a per-step profile times each).</summary>
        internal void RunStep(Workspace ws, int index, int n) => _steps[index].Run(ws, n);

        /// <summary>
        /// Whether this CPU runs the engine's fast kernels (AVX-512F + AVX-512BW, or AVX2 with FMA and BMI2); without
        /// them the portable paths run, slower than TorchSharp's oneDNN. <c>DOTNET_EnableAVX512F=0</c> selects the AVX2
        /// paths, <c>DOTNET_EnableHWIntrinsic=0</c> the portable ones.
        /// </summary>
        public static bool HasFastKernels => KernelSelection.FastPaths;

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
    }
}

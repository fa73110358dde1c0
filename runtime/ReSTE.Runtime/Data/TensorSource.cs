using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Data
{
    /// <summary>
    /// What a <see cref="TensorSource"/> does to its examples: training augmentation (random crop from a zero pad,
    /// random horizontal flip; images (N, C, H, W) only) and normalisation with a per-channel mean and standard
    /// deviation (training and evaluation). uint8 inputs are scaled to [0, 1] first.
    /// </summary>
    public sealed record TensorTransforms
    {
        /// <summary>Training: crop H×W at a uniform offset from the image padded with this many zeros on each side (0: no crop).</summary>
        public int CropPadding { get; init; }
        /// <summary>Training: flip each image left-right with probability ½.</summary>
        public bool HorizontalFlip { get; init; }
        /// <summary>Per-channel mean subtracted after scaling (null: none).</summary>
        public IReadOnlyList<float>? Mean { get; init; }
        /// <summary>Per-channel standard deviation divided by after the mean (null: none).</summary>
        public IReadOnlyList<float>? Std { get; init; }

        /// <summary>No augmentation, no normalisation.</summary>
        public static TensorTransforms None { get; } = new();

        /// <summary>The reference's CIFAR transforms: 4-pixel pad and crop, flip, ImageNet mean and std.</summary>
        public static TensorTransforms Cifar { get; } = new()
        {
            CropPadding = 4, HorizontalFlip = true, Mean = new[] { 0.485f, 0.456f, 0.406f }, Std = new[] { 0.229f, 0.224f, 0.225f },
        };
    }

    /// <summary>
    /// Labelled examples resident on a device: inputs of any shape (N, …), uint8 (scaled to [0, 1]) or floating, and
    /// int64 labels (N). Each batch is one gather; the augmentation of <see cref="TensorTransforms"/> runs on the
    /// device for the whole batch at once (no per-image launches), with randomness from a generator seeded by
    /// (seed, epoch, step); the epoch's order is a permutation drawn on the device from (seed, epoch).
    /// </summary>
    public sealed class TensorSource : IBatchSource, IDisposable
    {
        readonly Tensor _inputs, _labels;
        readonly Tensor? _mean, _std;
        readonly IReadOnlyList<string>? _classes;

        /// <summary>
        /// Copies <paramref name="inputs"/> (N, …) and <paramref name="labels"/> (N, integers) to <paramref name="device"/>
        /// (default: the inputs' device); the caller keeps and disposes its own tensors.
        /// </summary>
        public TensorSource(Tensor inputs, Tensor labels, TensorTransforms? transforms = null, Device? device = null, IReadOnlyList<string>? classNames = null)
        {
            Transforms = transforms ?? TensorTransforms.None;
            if (inputs.dim() < 1) throw new ArgumentException("The inputs must have a first dimension (N, …).", nameof(inputs));
            if (labels.dim() != 1 || labels.shape[0] != inputs.shape[0])
                throw new ArgumentException($"The labels must be one per input: {inputs.shape[0]} inputs, labels of shape [{string.Join(", ", labels.shape)}].", nameof(labels));
            if (labels.dtype is ScalarType.Float16 or ScalarType.Float32 or ScalarType.Float64 or ScalarType.BFloat16 or ScalarType.Bool)
                throw new ArgumentException($"The labels must be integer class indices, not {labels.dtype}.", nameof(labels));
            if (inputs.shape[0] > int.MaxValue) throw new ArgumentException($"{inputs.shape[0]} examples are more than a source holds.", nameof(inputs));
            var t = Transforms;
            bool image = inputs.dim() == 4;
            if ((t.CropPadding != 0 || t.HorizontalFlip) && !image)
                throw new ArgumentException($"Crop and flip need images (N, C, H, W); the inputs are [{string.Join(", ", inputs.shape)}].", nameof(transforms));
            if (t.CropPadding < 0) throw new ArgumentOutOfRangeException(nameof(transforms), t.CropPadding, "The crop padding must be ≥ 0.");
            if ((t.Mean is null) != (t.Std is null)) throw new ArgumentException("Give both the mean and the standard deviation, or neither.", nameof(transforms));
            if (t.Mean is not null)
            {
                long channels = inputs.dim() >= 2 ? inputs.shape[1] : 1;
                if (t.Mean.Count != channels || t.Std!.Count != channels)
                    throw new ArgumentException($"The mean and standard deviation need one value per channel ({channels}, dimension 1 of the inputs); got {t.Mean.Count} and {t.Std!.Count}.", nameof(transforms));
                if (t.Std.Any(s => !(s > 0))) throw new ArgumentException("Every standard deviation must be > 0.", nameof(transforms));
            }
            if (classNames is not null && classNames.Count == 0) throw new ArgumentException("The class names, when given, must not be empty.", nameof(classNames));
            Device = device ?? inputs.device;
            Count = (int)inputs.shape[0];
            _classes = classNames;
            using var scope = NewDisposeScope();
            _inputs = inputs.to(Device).clone().DetachFromDisposeScope();
            _labels = labels.to(ScalarType.Int64).to(Device).clone().DetachFromDisposeScope();
            if (t.Mean is not null)
            {
                var shape = new long[inputs.dim()];
                Array.Fill(shape, 1L);
                shape[1] = t.Mean.Count;
                _mean = tensor(t.Mean.ToArray(), shape).to(Device).DetachFromDisposeScope();
                _std = tensor(t.Std!.ToArray(), shape).to(Device).DetachFromDisposeScope();
            }
        }

        public Device Device { get; }
        public int Count { get; }
        public TensorTransforms Transforms { get; }
        public IReadOnlyList<string>? ClassNames => _classes;
        /// <summary>The inputs on the device as given (uint8 or floating).</summary>
        public Tensor Inputs => _inputs;
        /// <summary>The int64 labels on the device.</summary>
        public Tensor Labels => _labels;

        public int BatchCount(int batchSize) => BatchSources.BatchCount(Count, batchSize);

        /// <summary>A generator on the device, seeded from (seed, a, b) by a 64-bit mix.</summary>
        public static Generator MakeGenerator(long seed, long a, long b, Device device) =>
            new(BatchSources.Mix(seed, a, b) & 0x7FFFFFFFFFFFFFFFUL, device);

        /// <summary>The order of the epoch's examples: a permutation on the device, deterministic for (seed, epoch).</summary>
        public Tensor EpochOrder(long seed, int epoch)
        {
            using var g = MakeGenerator(seed, epoch, -1, Device);
            return randperm(Count, generator: g, dtype: ScalarType.Int64, device: Device);
        }

        /// <summary>The indices of batch <paramref name="step"/> of <paramref name="order"/> (a view, no copy).</summary>
        public static Tensor BatchIndices(Tensor order, int step, int batchSize)
        {
            long start = (long)step * batchSize;
            long n = Math.Min(batchSize, order.shape[0] - start);
            if (n <= 0) throw new ArgumentOutOfRangeException(nameof(step), step, "Past the last batch.");
            return order.narrow(0, start, n);
        }

        /// <summary>A training batch: the examples at <paramref name="indices"/>, augmented with randomness from (seed, epoch, step), normalised.</summary>
        public (Tensor Inputs, Tensor Labels) TrainBatch(Tensor indices, long seed, int epoch, int step)
        {
            using var g = MakeGenerator(seed, epoch, step, Device);
            using var scope = NewDisposeScope();
            var x = Augment(_inputs.index_select(0, indices), g);
            var y = _labels.index_select(0, indices);
            return (x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
        }

        /// <summary>An evaluation batch: the examples at <paramref name="indices"/> normalised, no augmentation.</summary>
        public (Tensor Inputs, Tensor Labels) EvalBatch(Tensor indices)
        {
            using var scope = NewDisposeScope();
            var x = Normalize(_inputs.index_select(0, indices));
            var y = _labels.index_select(0, indices);
            return (x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
        }

        /// <summary>Inputs → float32: uint8 scaled by 1/255, then (x − mean)/std when given.</summary>
        public Tensor Normalize(Tensor raw)
        {
            using var scope = NewDisposeScope();
            var x = raw.dtype == ScalarType.Byte ? raw.to(ScalarType.Float32).div_(255f) : raw.to(ScalarType.Float32);
            if (_mean is not null) x = x.sub_(_mean).div_(_std!);
            return x.MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Random crop from a zero pad and random horizontal flip for the whole batch in a few launches (pad, two
        /// gathers), then normalisation. Offsets are uniform in [0, 2·pad] per image, the flip a fair coin, as
        /// torchvision's RandomCrop(size, padding) and RandomHorizontalFlip.
        /// </summary>
        public Tensor Augment(Tensor raw, Generator generator)
        {
            var t = Transforms;
            if (t.CropPadding == 0 && !t.HorizontalFlip) return Normalize(raw);
            using var scope = NewDisposeScope();
            long b = raw.shape[0], c = raw.shape[1], h = raw.shape[2], w = raw.shape[3];
            int pad = t.CropPadding;
            var dev = raw.device;
            var p = pad > 0 ? nn.functional.pad(raw, new long[] { pad, pad, pad, pad }, PaddingModes.Constant, 0) : raw;
            var offsets = randint(2 * pad + 1, new long[] { 2, b }, generator: generator, dtype: ScalarType.Int64, device: dev);
            var flip = t.HorizontalFlip
                ? randint(2, new long[] { b }, generator: generator, dtype: ScalarType.Int64, device: dev)
                : zeros(b, dtype: ScalarType.Int64, device: dev);
            var rowRamp = arange(h, dtype: ScalarType.Int64, device: dev);
            var colRamp0 = arange(w, dtype: ScalarType.Int64, device: dev);
            var rows = offsets[0].unsqueeze(1).add(rowRamp);                                        // (B,H)
            // Flipped images read their columns right to left.
            var colRamp = flip.unsqueeze(1).mul(w - 1 - 2 * colRamp0.unsqueeze(0)).add(colRamp0.unsqueeze(0));
            var cols = offsets[1].unsqueeze(1).add(colRamp);                                         // (B,W)
            var rowIndex = rows.view(b, 1, h, 1).expand(b, c, h, w + 2 * pad);
            var cropped = p.gather(2, rowIndex);                                                    // (B,C,H,W+2p)
            var colIndex = cols.view(b, 1, 1, w).expand(b, c, h, w);
            var result = cropped.gather(3, colIndex);                                               // (B,C,H,W)
            return Normalize(result).MoveToOuterDisposeScope();
        }

        public IBatchReader Open(BatchPass pass) => new Reader(this, pass);

        sealed class Reader : IBatchReader
        {
            readonly TensorSource _s;
            readonly BatchPass _pass;
            readonly Tensor _order;
            int _step;

            public Reader(TensorSource s, BatchPass pass)
            {
                _s = s; _pass = pass;
                Steps = s.BatchCount(pass.BatchSize);
                if (pass.FirstStep < 0 || pass.FirstStep > Steps)
                    throw new ArgumentOutOfRangeException(nameof(pass), pass.FirstStep, $"The first step must lie in [0, {Steps}].");
                _step = pass.FirstStep;
                using var scope = NewDisposeScope();
                _order = (pass.Shuffle ? s.EpochOrder(pass.Seed, pass.Epoch) : arange(s.Count, dtype: ScalarType.Int64, device: s.Device)).DetachFromDisposeScope();
            }

            public int Steps { get; }

            public bool Next(out Tensor x, out Tensor y)
            {
                if (_step >= Steps) { x = null!; y = null!; return false; }
                using (var scope = NewDisposeScope())
                {
                    var idx = BatchIndices(_order, _step, _pass.BatchSize);
                    var (a, b) = _pass.Augment ? _s.TrainBatch(idx, _pass.Seed, _pass.Epoch, _step) : _s.EvalBatch(idx);
                    x = a.MoveToOuterDisposeScope(); y = b.MoveToOuterDisposeScope();
                }
                _step++;
                return true;
            }

            public void Dispose() => _order.Dispose();
        }

        public void Dispose()
        {
            _inputs.Dispose(); _labels.Dispose(); _mean?.Dispose(); _std?.Dispose();
        }
    }
}

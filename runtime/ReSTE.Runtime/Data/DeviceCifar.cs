using System;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Data
{
    /// <summary>
    /// A CIFAR-10 split resident on a device as one uint8 tensor (N, 3, 32, 32) and its int64 labels. Each batch is one
    /// gather of its images plus, for training, the reference's augmentation done on the device for the whole batch at
    /// once (no per-image launches): random 32×32 crop from a 4-pixel zero pad, random horizontal flip, then
    /// normalisation with mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). Randomness comes from a generator
    /// seeded by (seed, epoch, step), so a run is deterministic for a seed and resumes at any step identically.
    /// </summary>
    public sealed class DeviceCifar : IDisposable
    {
        public static readonly float[] Mean = { 0.485f, 0.456f, 0.406f };
        public static readonly float[] Std = { 0.229f, 0.224f, 0.225f };
        public const int Pad = 4;

        readonly Tensor _images;  // uint8 (N, 3, 32, 32)
        readonly Tensor _labels;  // int64 (N)
        readonly Tensor _mean, _std, _ramp;

        public DeviceCifar(Cifar10Set set, Device device)
        {
            Device = device;
            Count = set.Count;
            using var scope = NewDisposeScope();
            // Copy through a fresh tensor so that nothing shares the managed arrays.
            _images = tensor(set.Images, new long[] { set.Count, Cifar10.Channels, Cifar10.Side, Cifar10.Side }, dtype: ScalarType.Byte)
                .to(device).clone().MoveToOuterDisposeScope();
            _labels = tensor(set.Labels, new long[] { set.Count }, dtype: ScalarType.Byte)
                .to(ScalarType.Int64).to(device).MoveToOuterDisposeScope();
            _mean = tensor(Mean, new long[] { 1, 3, 1, 1 }).to(device).clone().MoveToOuterDisposeScope();
            _std = tensor(Std, new long[] { 1, 3, 1, 1 }).to(device).clone().MoveToOuterDisposeScope();
            _ramp = arange(Cifar10.Side, dtype: ScalarType.Int64, device: device).MoveToOuterDisposeScope();
        }

        public Device Device { get; }
        public int Count { get; }
        /// <summary>The uint8 images (N, 3, 32, 32) on the device.</summary>
        public Tensor Images => _images;
        /// <summary>The int64 labels (N) on the device.</summary>
        public Tensor Labels => _labels;

        /// <summary>The number of batches of <paramref name="batchSize"/> (the last one may be short).</summary>
        public int BatchCount(int batchSize) => (Count + batchSize - 1) / batchSize;

        /// <summary>A generator on the device, seeded from (seed, a, b) by a 64-bit mix.</summary>
        public static Generator MakeGenerator(long seed, long a, long b, Device device)
        {
            ulong x = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)a * 0xBF58476D1CE4E5B9UL ^ (ulong)b * 0x94D049BB133111EBUL);
            x ^= x >> 31; x *= 0xD6E9F8CC1F4F2F6BUL; x ^= x >> 29;
            return new Generator(x & 0x7FFFFFFFFFFFFFFFUL, device);
        }

        /// <summary>The order of the epoch's images: a permutation on the device, deterministic for (seed, epoch).</summary>
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

        /// <summary>
        /// A training batch: the images at <paramref name="indices"/>, augmented with randomness drawn from
        /// (seed, epoch, step), normalised; and their labels. Float32 (B, 3, 32, 32) and int64 (B).
        /// </summary>
        public (Tensor Images, Tensor Labels) TrainBatch(Tensor indices, long seed, int epoch, int step)
        {
            using var g = MakeGenerator(seed, epoch, step, Device);
            using var scope = NewDisposeScope();
            var raw = _images.index_select(0, indices);
            var x = Augment(raw, g);
            var y = _labels.index_select(0, indices);
            return (x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
        }

        /// <summary>An evaluation batch: the images at <paramref name="indices"/> normalised, no augmentation.</summary>
        public (Tensor Images, Tensor Labels) EvalBatch(Tensor indices)
        {
            using var scope = NewDisposeScope();
            var x = Normalize(_images.index_select(0, indices));
            var y = _labels.index_select(0, indices);
            return (x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
        }

        /// <summary>uint8 (B, 3, 32, 32) → float32 normalised.</summary>
        public Tensor Normalize(Tensor uint8Images)
        {
            using var scope = NewDisposeScope();
            return uint8Images.to(ScalarType.Float32).div_(255f).sub_(_mean).div_(_std).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Random crop from a 4-pixel zero pad and random horizontal flip, for the whole batch in a few launches
        /// (pad, two gathers), then normalisation. Crop offsets are uniform in [0, 8] per image, the flip a fair coin,
        /// as torchvision's RandomCrop(32, padding=4) and RandomHorizontalFlip.
        /// </summary>
        public Tensor Augment(Tensor uint8Images, Generator generator)
        {
            using var scope = NewDisposeScope();
            long b = uint8Images.shape[0];
            const int side = Cifar10.Side, padded = Cifar10.Side + 2 * Pad;
            var dev = uint8Images.device;
            var p = nn.functional.pad(uint8Images, new long[] { Pad, Pad, Pad, Pad }, PaddingModes.Constant, 0); // (B,3,40,40)
            var offsets = randint(2 * Pad + 1, new long[] { 2, b }, generator: generator, dtype: ScalarType.Int64, device: dev);
            var flip = randint(2, new long[] { b }, generator: generator, dtype: ScalarType.Int64, device: dev);
            var ramp = _ramp.to(dev);
            var rows = offsets[0].unsqueeze(1).add(ramp);                                   // (B,32)
            // Flipped images read their columns right to left.
            var colRamp = flip.unsqueeze(1).mul(side - 1 - 2 * ramp.unsqueeze(0)).add(ramp.unsqueeze(0)); // ramp or 31-ramp
            var cols = offsets[1].unsqueeze(1).add(colRamp);                                 // (B,32)
            var rowIndex = rows.view(b, 1, side, 1).expand(b, Cifar10.Channels, side, padded);
            var cropped = p.gather(2, rowIndex);                                            // (B,3,32,40)
            var colIndex = cols.view(b, 1, 1, side).expand(b, Cifar10.Channels, side, side);
            var result = cropped.gather(3, colIndex);                                       // (B,3,32,32)
            return Normalize(result).MoveToOuterDisposeScope();
        }

        public void Dispose()
        {
            _images.Dispose(); _labels.Dispose(); _mean.Dispose(); _std.Dispose(); _ramp.Dispose();
        }
    }
}

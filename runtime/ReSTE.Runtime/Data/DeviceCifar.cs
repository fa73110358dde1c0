using System;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Data
{
    /// <summary>
    /// A CIFAR split (CIFAR-10 or CIFAR-100: the same 3×32×32 layout) resident on a device as one uint8 tensor
    /// (N, 3, 32, 32) and its int64 labels: a <see cref="TensorSource"/> with the reference's augmentation done on the
    /// device for the whole batch at once (no per-image launches): random 32×32 crop from a 4-pixel zero pad, random
    /// horizontal flip, then normalisation with mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). Randomness
    /// comes from a generator seeded by (seed, epoch, step), so a run is deterministic for a seed and resumes at any
    /// step identically.
    /// </summary>
    public sealed class DeviceCifar : IBatchSource, IDisposable
    {
        public static readonly float[] Mean = { 0.485f, 0.456f, 0.406f };
        public static readonly float[] Std = { 0.229f, 0.224f, 0.225f };
        public const int Pad = 4;

        readonly TensorSource _source;

        public DeviceCifar(Cifar10Set set, Device device, IReadOnlyList<string>? classNames = null)
        {
            Device = device;
            Count = set.Count;
            using var scope = NewDisposeScope();
            // Copy through a fresh tensor so that nothing shares the managed arrays.
            var images = tensor(set.Images, new long[] { set.Count, Cifar10.Channels, Cifar10.Side, Cifar10.Side }, dtype: ScalarType.Byte);
            var labels = tensor(set.Labels, new long[] { set.Count }, dtype: ScalarType.Byte).to(ScalarType.Int64);
            _source = new TensorSource(images, labels, new TensorTransforms { CropPadding = Pad, HorizontalFlip = true, Mean = Mean, Std = Std }, device, classNames);
        }

        public Device Device { get; }
        public int Count { get; }
        public IReadOnlyList<string>? ClassNames => _source.ClassNames;
        /// <summary>The uint8 images (N, 3, 32, 32) on the device.</summary>
        public Tensor Images => _source.Inputs;
        /// <summary>The int64 labels (N) on the device.</summary>
        public Tensor Labels => _source.Labels;
        /// <summary>The same data as a general in-memory source.</summary>
        public TensorSource Source => _source;

        /// <summary>The number of batches of <paramref name="batchSize"/> (the last one may be short).</summary>
        public int BatchCount(int batchSize) => _source.BatchCount(batchSize);

        /// <summary>A generator on the device, seeded from (seed, a, b) by a 64-bit mix.</summary>
        public static Generator MakeGenerator(long seed, long a, long b, Device device) => TensorSource.MakeGenerator(seed, a, b, device);

        /// <summary>The order of the epoch's images: a permutation on the device, deterministic for (seed, epoch).</summary>
        public Tensor EpochOrder(long seed, int epoch) => _source.EpochOrder(seed, epoch);

        /// <summary>The indices of batch <paramref name="step"/> of <paramref name="order"/> (a view, no copy).</summary>
        public static Tensor BatchIndices(Tensor order, int step, int batchSize) => TensorSource.BatchIndices(order, step, batchSize);

        /// <summary>
        /// A training batch: the images at <paramref name="indices"/>, augmented with randomness drawn from
        /// (seed, epoch, step), normalised; and their labels. Float32 (B, 3, 32, 32) and int64 (B).
        /// </summary>
        public (Tensor Images, Tensor Labels) TrainBatch(Tensor indices, long seed, int epoch, int step) => _source.TrainBatch(indices, seed, epoch, step);

        /// <summary>An evaluation batch: the images at <paramref name="indices"/> normalised, no augmentation.</summary>
        public (Tensor Images, Tensor Labels) EvalBatch(Tensor indices) => _source.EvalBatch(indices);

        /// <summary>uint8 (B, 3, 32, 32) → float32 normalised.</summary>
        public Tensor Normalize(Tensor uint8Images) => _source.Normalize(uint8Images);

        /// <summary>
        /// Random crop from a 4-pixel zero pad and random horizontal flip, for the whole batch in a few launches
        /// (pad, two gathers), then normalisation. Crop offsets are uniform in [0, 8] per image, the flip a fair coin,
        /// as torchvision's RandomCrop(32, padding=4) and RandomHorizontalFlip.
        /// </summary>
        public Tensor Augment(Tensor uint8Images, Generator generator) => _source.Augment(uint8Images, generator);

        public IBatchReader Open(BatchPass pass) => _source.Open(pass);

        public void Dispose() => _source.Dispose();
    }
}

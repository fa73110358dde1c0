using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Data
{
    /// <summary>One pass over a source: which epoch, which batches, and whether they are shuffled and augmented.</summary>
    /// <param name="BatchSize">Examples per batch (the last batch of the pass may be short).</param>
    /// <param name="Shuffle">Visit the examples in an order drawn from (<paramref name="Seed"/>, <paramref name="Epoch"/>); otherwise in index order.</param>
    /// <param name="Augment">Apply the source's training augmentation, with randomness drawn from (seed, epoch, step); otherwise its evaluation transform.</param>
    /// <param name="Seed">The run's seed.</param>
    /// <param name="Epoch">The epoch, from 0.</param>
    /// <param name="FirstStep">The first batch to produce (a resumed run starts inside an epoch).</param>
    public sealed record BatchPass(int BatchSize, bool Shuffle = false, bool Augment = false, long Seed = 0, int Epoch = 0, int FirstStep = 0)
    {
        /// <summary>A training pass: shuffled, augmented when <paramref name="augment"/>.</summary>
        public static BatchPass Training(int batchSize, long seed, int epoch, int firstStep = 0, bool augment = true) =>
            new(batchSize, Shuffle: true, Augment: augment, Seed: seed, Epoch: epoch, FirstStep: firstStep);

        /// <summary>An evaluation pass: every example once, in order, no augmentation.</summary>
        public static BatchPass Evaluation(int batchSize) => new(batchSize);
    }

    /// <summary>
    /// Labelled examples that the <see cref="Training.Trainer"/> reads as device batches <c>(x, y)</c>: float inputs of
    /// any shape <c>(B, …)</c> and int64 class indices <c>(B)</c>. A pass's order and augmentation depend only on
    /// (seed, epoch, step), so a run is deterministic for a seed and a resumed run continues exactly at a step.
    /// </summary>
    public interface IBatchSource
    {
        /// <summary>The device the batches are on.</summary>
        Device Device { get; }
        /// <summary>The number of examples in one pass.</summary>
        int Count { get; }
        /// <summary>The class names by index when the source knows them (an image folder's sub-folders), else null.</summary>
        IReadOnlyList<string>? ClassNames => null;
        /// <summary>Starts a pass. The reader's batches belong to the caller (create them inside the caller's DisposeScope).</summary>
        IBatchReader Open(BatchPass pass);
    }

    /// <summary>The batches of one pass, in step order.</summary>
    public interface IBatchReader : IDisposable
    {
        /// <summary>The number of batches of the whole pass (steps before the first one included).</summary>
        int Steps { get; }
        /// <summary>
        /// The next batch, created in the current DisposeScope (false after the last one). Must not read the device: the
        /// training step calls it once per step.
        /// </summary>
        bool Next(out Tensor x, out Tensor y);
    }

    public static class BatchSources
    {
        /// <summary>The number of batches of <paramref name="batchSize"/> in <paramref name="count"/> examples.</summary>
        public static int BatchCount(int count, int batchSize)
        {
            if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be ≥ 1.");
            return (int)(((long)count + batchSize - 1) / batchSize);
        }

        /// <summary>
        /// A permutation of 0..n-1 on the host for (seed, epoch), by Fisher-Yates with a SplitMix64 stream: the same on
        /// every machine and .NET version.
        /// </summary>
        public static int[] HostPermutation(int n, long seed, int epoch)
        {
            var order = new int[n];
            for (int i = 0; i < n; i++) order[i] = i;
            var rng = new SplitMix64(Mix(seed, epoch, -1));
            for (int i = n - 1; i > 0; i--)
            {
                int j = (int)rng.NextBelow((ulong)(i + 1));
                (order[i], order[j]) = (order[j], order[i]);
            }
            return order;
        }

        /// <summary>A 64-bit mix of (seed, a, b), the seed of a random stream for one (epoch, step) or (epoch, image).</summary>
        public static ulong Mix(long seed, long a, long b)
        {
            ulong x = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)a * 0xBF58476D1CE4E5B9UL ^ (ulong)b * 0x94D049BB133111EBUL);
            x ^= x >> 31; x *= 0xD6E9F8CC1F4F2F6BUL; x ^= x >> 29;
            return x;
        }
    }

    /// <summary>SplitMix64: a small, fast, well-mixed random stream with a fixed definition (for host-side augmentation).</summary>
    public struct SplitMix64
    {
        ulong _state;

        public SplitMix64(ulong seed) { _state = seed; }

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, 1) with 53 bits.</summary>
        public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

        /// <summary>Uniform in [0, n) (n ≥ 1), without modulo bias.</summary>
        public ulong NextBelow(ulong n)
        {
            ulong limit = ulong.MaxValue - ulong.MaxValue % n;
            ulong v;
            do v = Next(); while (v >= limit);
            return v % n;
        }

        /// <summary>Uniform in [lo, hi).</summary>
        public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();
    }
}

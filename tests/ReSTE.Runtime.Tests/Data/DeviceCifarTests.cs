using System;
using System.Linq;
using ReSTE.Runtime.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Tests.Data
{
    public sealed class DeviceCifarTests
    {
        static Cifar10Set RandomSet(int n, int seed)
        {
            var rng = new Random(seed);
            var images = new byte[n * Cifar10.ImageBytes];
            rng.NextBytes(images);
            // Pixel value 0 never occurs in the image itself, so zero padding is recognisable.
            for (int i = 0; i < images.Length; i++) if (images[i] == 0) images[i] = 1;
            var labels = Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray();
            return new Cifar10Set(images, labels);
        }

        static float[] Normalised(Cifar10Set set, int image, int c, int y, int x)
        {
            float v = 0;
            if (y >= 0 && y < 32 && x >= 0 && x < 32) v = set.Images[image * Cifar10.ImageBytes + c * 1024 + y * 32 + x];
            return new[] { (v / 255f - DeviceCifar.Mean[c]) / DeviceCifar.Std[c] };
        }

        [Fact]
        public void Eval_batches_are_the_images_normalised_with_the_reference_constants()
        {
            var set = RandomSet(6, 1);
            using var data = new DeviceCifar(set, CPU);
            using var idx = tensor(new long[] { 4, 1 });
            var (x, y) = data.EvalBatch(idx);
            using (x) using (y)
            {
                Assert.Equal(new long[] { 2, 3, 32, 32 }, x.shape);
                Assert.Equal(new long[] { 4, 1 }, y.data<long>().ToArray());
                var v = x.data<float>().ToArray();
                for (int c = 0; c < 3; c++)
                    Assert.Equal(Normalised(set, 4, c, 5, 7)[0], v[c * 1024 + 5 * 32 + 7], 5);
                Assert.Equal(Normalised(set, 1, 2, 31, 0)[0], v[3072 + 2 * 1024 + 31 * 32], 5);
            }
        }

        [Fact]
        public void Every_augmented_image_is_a_crop_of_the_zero_padded_image_possibly_flipped()
        {
            const int n = 64;
            var set = RandomSet(n, 2);
            using var data = new DeviceCifar(set, CPU);
            using var order = data.EpochOrder(seed: 7, epoch: 0);
            var idx = DeviceCifar.BatchIndices(order, 0, n);
            var (x, _) = data.TrainBatch(idx, seed: 7, epoch: 0, step: 0);
            var images = idx.data<long>().ToArray();
            var v = x.data<float>().ToArray();
            var offsets = new System.Collections.Generic.HashSet<(int, int)>();
            int flips = 0;
            for (int b = 0; b < n; b++)
            {
                int matches = 0;
                for (int dy = 0; dy <= 8; dy++)
                    for (int dx = 0; dx <= 8; dx++)
                        for (int f = 0; f < 2; f++)
                        {
                            bool ok = true;
                            for (int c = 0; c < 3 && ok; c++)
                                for (int yy = 0; yy < 32 && ok; yy++)
                                    for (int xx = 0; xx < 32 && ok; xx++)
                                    {
                                        int sx = f == 1 ? 31 - xx : xx;
                                        float expected = Normalised(set, (int)images[b], c, yy + dy - 4, sx + dx - 4)[0];
                                        if (Math.Abs(expected - v[((b * 3 + c) * 32 + yy) * 32 + xx]) > 1e-5) ok = false;
                                    }
                            if (ok) { matches++; offsets.Add((dy, dx)); flips += f; }
                        }
                Assert.True(matches == 1, $"image {b}: {matches} crops match");
            }
            Assert.InRange(flips, 16, 48);        // a fair coin over 64 images
            Assert.True(offsets.Count >= 25, $"only {offsets.Count} distinct crop offsets");
            x.Dispose(); idx.Dispose();
        }

        [Fact]
        public void Augmentation_and_order_are_deterministic_for_a_seed_and_differ_between_steps()
        {
            var set = RandomSet(40, 3);
            using var data = new DeviceCifar(set, CPU);
            using var scope = NewDisposeScope();
            var o1 = data.EpochOrder(5, 2);
            var o2 = data.EpochOrder(5, 2);
            var o3 = data.EpochOrder(5, 3);
            Assert.True(o1.equal(o2).all().item<bool>());
            Assert.False(o1.equal(o3).all().item<bool>());
            Assert.Equal(Enumerable.Range(0, 40).Select(i => (long)i), o1.sort().Values.data<long>().ToArray());
            var idx = DeviceCifar.BatchIndices(o1, 1, 16);
            var a = data.TrainBatch(idx, 5, 2, 1).Images;
            var b = data.TrainBatch(idx, 5, 2, 1).Images;
            var c = data.TrainBatch(idx, 5, 2, 2).Images;
            var d = data.TrainBatch(idx, 6, 2, 1).Images;
            Assert.True(a.equal(b).all().item<bool>());
            Assert.False(a.equal(c).all().item<bool>());
            Assert.False(a.equal(d).all().item<bool>());
        }

        [Fact]
        public void Batches_cover_the_epoch_with_a_short_last_batch()
        {
            var set = RandomSet(10, 4);
            using var data = new DeviceCifar(set, CPU);
            Assert.Equal(3, data.BatchCount(4));
            using var order = data.EpochOrder(0, 0);
            using var last = DeviceCifar.BatchIndices(order, 2, 4);
            Assert.Equal(2, last.shape[0]);
            Assert.Throws<ArgumentOutOfRangeException>(() => DeviceCifar.BatchIndices(order, 3, 4));
        }

        [Fact]
        public void The_device_copy_does_not_share_memory_with_the_managed_arrays()
        {
            var set = RandomSet(2, 5);
            using var data = new DeviceCifar(set, CPU);
            byte before = data.Images[1, 2, 3, 4].item<byte>();
            set.Images[Cifar10.ImageBytes + 2 * 1024 + 3 * 32 + 4] ^= 0xFF;
            Assert.Equal(before, data.Images[1, 2, 3, 4].item<byte>());
        }
    }
}

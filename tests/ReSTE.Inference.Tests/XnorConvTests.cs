using System;
using System.Linq;
using System.Threading;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Engine.BConv2d;
using ReSTE.Inference.Format;
using Xunit;

namespace ReSTE.Inference.Tests
{
    public class XnorConvTests
    {
        /// <summary>Σ a·w with a, w ∈ {−1, 0, +1}, zero padding, in plain loops: what a float convolution of these tensors gives.</summary>
        static int[] ReferenceDots(float[] x, int c, int h, int w, float[] weight, int o, int k, int stride, int pad, out int oh, out int ow)
        {
            oh = (h + 2 * pad - k) / stride + 1;
            ow = (w + 2 * pad - k) / stride + 1;
            var result = new int[oh * ow * o];
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int oc = 0; oc < o; oc++)
                    {
                        float sum = 0;
                        for (int ic = 0; ic < c; ic++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue; // zero padding after binarization
                                    sum += Math.Sign(x[(ic * h + iy) * w + ix]) * Math.Sign(weight[((oc * c + ic) * k + ky) * k + kx]);
                                }
                        result[(oy * ow + ox) * o + oc] = (int)sum;
                    }
            return result;
        }

        static float[] Ternary(Random rng, int n, double zeroFraction)
        {
            var v = new float[n];
            for (int i = 0; i < n; i++) v[i] = rng.NextDouble() < zeroFraction ? 0f : (float)(rng.NextDouble() * 2 - 1);
            return v;
        }

        public static TheoryData<int, int, int, int, int, int, double, double> Cases() => new()
        {
            // in C, out C, H=W, kernel, stride, padding, activation zeros, weight zeros
            { 16, 16, 8, 3, 1, 1, 0.0, 0.0 },     // 64-pixel planes: 8 per vector
            { 64, 16, 8, 3, 1, 1, 0.2, 0.1 },     // 8×8 row-aligned planes: one word per tap, built inline
            { 8, 8, 8, 5, 1, 2, 0.1, 0.0 },       // 8×8 with a 5×5 kernel: shifts of up to 2 pixels within a byte row
            { 16, 32, 9, 3, 2, 1, 0.2, 0.0 },
            { 32, 32, 6, 3, 1, 1, 0.3, 0.1 },
            { 64, 64, 5, 3, 1, 1, 0.0, 0.0 },
            { 64, 64, 7, 3, 2, 1, 0.5, 0.0 },
            { 3, 5, 7, 3, 1, 1, 0.1, 0.0 },
            { 70, 9, 5, 3, 1, 1, 0.1, 0.2 },
            { 130, 12, 4, 3, 2, 2, 0.1, 0.0 },
            { 8, 8, 6, 1, 1, 0, 0.0, 0.0 },
            { 8, 16, 6, 5, 1, 2, 0.1, 0.0 },
            { 24, 8, 6, 3, 1, 0, 0.0, 0.0 },
            { 16, 16, 32, 3, 1, 1, 0.0, 0.0 },    // 1,024-pixel planes: two vectors per plane
            { 8, 8, 24, 3, 1, 1, 0.1, 0.1 },      // 576 pixels: a partly filled second vector
            { 16, 16, 30, 3, 2, 1, 0.05, 0.0 },   // 15×15: 4-word lanes, 2 per vector
            { 32, 16, 16, 3, 1, 1, 0.0, 0.0 },    // 16×16: ResNet-20's second stage
            { 40, 8, 62, 3, 1, 1, 0.0, 0.0 },     // the widest rows a word holds (62 + 2 padding bits)
            { 16, 12, 10, 3, 1, 1, 0.1, 0.0 },    // 100 pixels: 2-word lanes, 4 per vector
            { 8, 8, 13, 3, 1, 1, 0.2, 0.0 },      // 169 pixels: 3 words in 4-word lanes
            { 16, 32, 32, 3, 2, 1, 0.0, 0.0 },    // stride 2 halving 32×32 (ResNet-20's layer2.0.conv1): input phases
            { 32, 64, 16, 3, 2, 1, 0.1, 0.0 },    // stride 2 halving 16×16
            { 8, 8, 32, 5, 2, 2, 0.1, 0.0 },      // stride 2 with a 5×5 kernel: phases shifted by up to 1 row and pixel
            { 8, 8, 20, 3, 1, 1, 0.1, 0.0 },      // 400 pixels, 7 words: no lane of 4 words holds it (a whole vector does)
            { 8, 8, 17, 3, 1, 2, 0.0, 0.0 },      // 19×19 = 361 pixels from a 17×17 input (padding 2): 6 words
        };

        /// <summary>Runs the kernel on <paramref name="n"/> CHW images and collects its dots as [image][o][pixel].</summary>
        internal static unsafe int[] KernelDots(BitPlaneConv kernel, float[] images, int n, bool simd)
        {
            var ws = new InferenceEngine.Workspace(new[] { 1 }, kernel.TapVectors, kernel.BitScratchWords, kernel.CountSlots);
            var sink = new CollectingSink(kernel.OutC, kernel.PlaneBits, n);
            // Stale data from an earlier layer must not leak into this one.
            new Span<System.Runtime.Intrinsics.Vector512<ulong>>(ws.Scratch.Taps, kernel.TapVectors).Fill(System.Runtime.Intrinsics.Vector512<ulong>.AllBitsSet);
            new Span<ulong>(ws.Scratch.Bits, kernel.BitScratchWords).Fill(ulong.MaxValue);
            int inLen = kernel.InC * kernel.InH * kernel.InW;
            fixed (float* x = images)
                for (int first = 0; first < n; first += BitPlaneConv.MaxBatch)
                {
                    sink.Offset = first;
                    kernel.Run(x + (long)first * inLen, Math.Min(BitPlaneConv.MaxBatch, n - first), inLen, sink, ws.Scratch, simd);
                }
            return sink.Dots;
        }

        sealed unsafe class CollectingSink : BitPlaneConv.Sink
        {
            readonly int _o, _plane;
            public readonly int[] Dots;
            public int Offset;
            public CollectingSink(int o, int plane, int images) { _o = o; _plane = plane; Dots = new int[images * o * plane]; }
            public override void Write(int image, int o, in BitPlaneConv.Counts counts)
            {
                Assert.Equal(_plane, counts.Length);
                int p = 0;
                if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
                    for (; p + 16 <= _plane; p += 16) System.Runtime.Intrinsics.Vector512.CopyTo(counts.Dot16(p), Dots.AsSpan(((Offset + image) * _o + o) * _plane + p));
                for (; p < _plane; p++) Dots[((Offset + image) * _o + o) * _plane + p] = counts.Dot(p);
            }
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void BitPlaneConv_equals_the_convolution_of_ternary_tensors_including_borders(int c, int o, int size, int k, int stride, int pad, double aZeros, double wZeros)
        {
            var rng = new Random(c * 1000 + o * 10 + stride + pad + size);
            var w = Ternary(rng, o * c * k * k, wZeros);
            var op = new BinaryConv2dOp("conv", c, o, k, k, stride, pad, true, BitPacking.Pack(w), new[] { 1f });
            var kernel = new BitPlaneConv(op, size, size);
            // 1 image (channels side by side for small planes), then 11 (whole image groups and a rest).
            foreach (int n in new[] { 1, 11 })
            {
                var images = new float[n * c * size * size];
                var expected = new int[n * o * kernel.PlaneBits];
                for (int i = 0; i < n; i++)
                {
                    // Every other image without zeros: the count of valid inputs is then computed, not counted.
                    var x = Ternary(rng, c * size * size, i % 2 == 0 ? aZeros : 0);
                    x.CopyTo(images, i * x.Length);
                    var dots = ReferenceDots(x, c, size, size, w, o, k, stride, pad, out int oh, out int ow);
                    Assert.Equal((oh, ow), (kernel.OutH, kernel.OutW));
                    for (int p = 0; p < oh * ow; p++)
                        for (int oc = 0; oc < o; oc++) expected[(i * o + oc) * kernel.PlaneBits + p] = dots[p * o + oc];
                }
                foreach (bool simd in new[] { true, false })
                    Assert.Equal(expected, KernelDots(kernel, images, n, simd));
            }
        }

        [Fact]
        public void BitPlaneConv_refuses_rows_wider_than_a_word()
        {
            var op = new BinaryConv2dOp("wide", 4, 4, 3, 3, 1, 1, true, BitPacking.Pack(new float[4 * 4 * 9]), new[] { 1f });
            var e = Assert.Throws<NotSupportedException>(() => new BitPlaneConv(op, 63, 63));
            Assert.Contains("wide", e.Message);
        }

        [Fact]
        public void BinaryConvOp_matches_the_sign_convolution_with_a_scale_per_channel()
        {
            var rng = new Random(3);
            int c = 16, o = 8, size = 7;
            var x = Ternary(rng, c * size * size, 0.15).Select(v => v * 3).ToArray();
            var w = Ternary(rng, o * c * 9, 0);
            var scale = Enumerable.Range(0, o).Select(i => 0.1f + i * 0.05f).ToArray();
            var expected = ReferenceDots(x, c, size, size, w, o, 3, 2, 1, out int oh, out int ow);
            var model = new PackedModel(c, size, size, new DeployOp[] { new BinaryConv2dOp("conv", c, o, 3, 3, 2, 1, true, BitPacking.Pack(w), scale) });
            var engine = new InferenceEngine(model);
            var y = engine.Run(x);
            Assert.Equal(o * oh * ow, y.Length);
            // The output comes in PyTorch's CHW layout.
            for (int p = 0; p < oh * ow; p++)
                for (int oc = 0; oc < o; oc++)
                    Assert.Equal(expected[p * o + oc] * scale[oc], y[oc * oh * ow + p], 5);
        }

        /// <summary>
        /// A small batch on several threads splits each large binary layer's output channels between them: the outputs
        /// are those of one thread, in every layout (one image per vector, image groups, output channels in lanes) and
        /// with zeros in the activations and weights (per-thread valid counts). The split is observed (the ranges run,
        /// each with its own counts), so a case whose work is too small to split fails instead of comparing one thread
        /// with one thread; below two cores there is nothing to split over and the test is skipped.
        /// </summary>
        [MultiCoreTheory]
        [InlineData(64, 32, 1, 0.0, 0.0)]   // one image per vector
        [InlineData(64, 32, 3, 0.1, 0.1)]
        [InlineData(128, 8, 8, 0.0, 0.0)]   // an image group of 8 (64 channels without zeros count too little to split)
        [InlineData(64, 8, 8, 0.2, 0.1)]
        [InlineData(256, 8, 1, 0.0, 0.0)]   // output channels in the lanes
        [InlineData(256, 8, 1, 0.3, 0.0)]
        [InlineData(128, 16, 1, 0.0, 0.0)]  // 4-word lanes
        public void Large_layers_split_over_threads_give_the_outputs_of_one_thread(int c, int size, int n, double aZeros, double wZeros)
        {
            var rng = new Random(c + size + n);
            var w = Ternary(rng, c * c * 9, wZeros);
            var op = new BinaryConv2dOp("conv", c, c, 3, 3, 1, 1, true, BitPacking.Pack(w), new[] { 0.5f });
            var engine = new InferenceEngine(new PackedModel(c, size, size, new DeployOp[] { op, new ReLUOp("relu") }));
            var x = Ternary(rng, n * c * size * size, aZeros);
            long before = Interlocked.Read(ref BitPlaneConv.PartsRun);
            var one = engine.RunBatch(x, n, 1);
            long afterOne = Interlocked.Read(ref BitPlaneConv.PartsRun);
            var two = engine.RunBatch(x, n, 2);
            long afterTwo = Interlocked.Read(ref BitPlaneConv.PartsRun);
            Assert.Equal(0, afterOne - before); // one thread: no split
            // Two threads: the layer split its output channels (two ranges or more, each with its own counts).
            Assert.True(afterTwo - afterOne >= 2, $"{afterTwo - afterOne} ranges ran on two threads: the layer's work was not split");
            Assert.Equal(one, two);
            Assert.Contains(one, v => v > 0);
        }
    }
}

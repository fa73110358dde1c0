using System;
using System.Linq;
using ReSTE.Inference.Engine;
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
            { 16, 16, 8, 3, 1, 1, 0.0, 0.0 },
            { 16, 32, 9, 3, 2, 1, 0.2, 0.0 },
            { 32, 32, 6, 3, 1, 1, 0.3, 0.1 },
            { 64, 64, 5, 3, 1, 1, 0.0, 0.0 },
            { 64, 64, 7, 3, 2, 1, 0.5, 0.0 },
            { 3, 5, 7, 3, 1, 1, 0.1, 0.0 },
            { 70, 9, 5, 3, 1, 1, 0.1, 0.2 },   // two words per pixel, patches straddling words
            { 130, 12, 4, 3, 2, 2, 0.1, 0.0 },
            { 8, 8, 6, 1, 1, 0, 0.0, 0.0 },
            { 8, 16, 6, 5, 1, 2, 0.1, 0.0 },
            { 24, 8, 6, 3, 1, 0, 0.0, 0.0 },
        };

        [Theory]
        [MemberData(nameof(Cases))]
        public void XnorPopcount_EqualsTheConvolutionOfTernaryTensors_IncludingBorders(int c, int o, int size, int k, int stride, int pad, double aZeros, double wZeros)
        {
            var rng = new Random(c * 1000 + o * 10 + stride + pad);
            var x = Ternary(rng, c * size * size, aZeros);
            var w = Ternary(rng, o * c * k * k, wZeros);
            var expected = ReferenceDots(x, c, size, size, w, o, k, stride, pad, out int oh, out int ow);

            var op = new BinaryConv2dOp("conv", c, o, k, k, stride, pad, true, BitPacking.Pack(w), new[] { 1f });
            var kernel = new BinaryConvKernel(op, size, size);
            Assert.Equal((oh, ow), (kernel.OutH, kernel.OutW));
            var hwc = new float[x.Length];
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < size * size; p++) hwc[p * c + ch] = x[ch * size * size + p];
            int words = Math.Max(size * size * kernel.PixelWords, kernel.PatchCount * kernel.PatchWords);
            ulong[] ps = new ulong[words], pm = new ulong[words], qs = new ulong[words], qm = new ulong[words];
            BinaryConvKernel.PackPixels(hwc, size * size, c, ps, pm);
            kernel.Im2Col(ps, pm, qs, qm);
            foreach (bool simd in new[] { false, true })
            {
                var dots = new int[kernel.PatchCount * o];
                kernel.Dots(qs, qm, dots, allowSimd: simd);
                Assert.Equal(expected, dots);
            }
            if (kernel.ChunkedChannels)
            {
                // The fast path (16-channel chunks, zero-bordered grid) must build the very same patches.
                var gs = new ushort[kernel.FastPathWords * 4];
                var gm = new ushort[kernel.FastPathWords * 4];
                gs.AsSpan().Fill(0xFFFF); gm.AsSpan().Fill(0xFFFF); // stale data from an earlier layer
                ulong[] fs = Enumerable.Repeat(ulong.MaxValue, kernel.FastPathWords).ToArray(), fm = Enumerable.Repeat(ulong.MaxValue, kernel.FastPathWords).ToArray();
                kernel.PackGrid(hwc, gs, gm);
                kernel.Im2ColGrid(gs, gm, fs, fm);
                int n = kernel.PatchCount * kernel.PatchWords;
                Assert.Equal(qs[..n], fs[..n]);
                Assert.Equal(qm[..n], fm[..n]);
            }
        }

        [Fact]
        public void BinaryConvOp_MatchesSignConvolution_WithScalePerChannel()
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
    }
}

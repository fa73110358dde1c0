using System;
using System.Collections.Generic;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using Xunit;

namespace ReSTE.Inference.Tests.Kernels
{
    /// <summary>
    /// The fp32 convolution step (Engine/Steps/FloatConvStep.cs) against plain loops in libtorch's order, bit for bit:
    /// k×k sums bias, then the taps in (ky, kx, c) order with one FMA each (a tap in the padding adds 0·w); 1×1 sums
    /// the channels in blocks of <see cref="Engine.Steps.FloatConvStep.PointwiseReduceBlock"/>. The paths the machine
    /// selects run: 4 output channels × 32 pixels (Vector512), × 16 pixels (AVX2, <see cref="KernelSelection.Avx2Float"/>),
    /// the per-channel vector loops and the scalar rest.
    /// </summary>
    public class FloatConvTests
    {
        public static IEnumerable<object[]> Cases()
        {
            foreach (var (h, w) in new[] { (32, 32), (13, 17), (8, 40), (5, 9) })
                foreach (int k in new[] { 1, 3, 5 })
                    foreach (int stride in new[] { 1, 2 })
                        foreach (int pad in new[] { 0, 1, 2 })
                        {
                            if (h + 2 * pad < k || w + 2 * pad < k) continue;
                            yield return new object[] { k == 1 ? 130 : 3, h, w, k, stride, pad };
                        }
        }

        static float[] Expected(float[] x, float[] weight, float[] bias, int c, int h, int w, int o, int k, int stride, int pad)
        {
            int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
            var y = new float[o * oh * ow];
            for (int oc = 0; oc < o; oc++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        float acc = bias[oc];
                        if (k == 1)
                        {
                            int iy = oy * stride - pad, ix = ox * stride - pad;
                            for (int c0 = 0; c0 < c; c0 += Engine.Steps.FloatConvStep.PointwiseReduceBlock)
                            {
                                float part = c0 == 0 ? acc : 0;
                                for (int ic = c0; ic < Math.Min(c, c0 + Engine.Steps.FloatConvStep.PointwiseReduceBlock); ic++)
                                {
                                    float v = (uint)iy < (uint)h && (uint)ix < (uint)w ? x[(ic * h + iy) * w + ix] : 0;
                                    part = MathF.FusedMultiplyAdd(v, weight[oc * c + ic], part);
                                }
                                acc = c0 == 0 ? part : acc + part;
                            }
                        }
                        else
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                    for (int ic = 0; ic < c; ic++)
                                    {
                                        int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                        float v = (uint)iy < (uint)h && (uint)ix < (uint)w ? x[(ic * h + iy) * w + ix] : 0;
                                        acc = MathF.FusedMultiplyAdd(v, weight[((oc * c + ic) * k + ky) * k + kx], acc);
                                    }
                        y[(oc * oh + oy) * ow + ox] = acc;
                    }
            return y;
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void The_fp32_convolution_gives_libtorchs_order_bit_for_bit(int c, int h, int w, int k, int stride, int pad)
        {
            var rng = new Random(((c * 31 + h) * 31 + w) * 31 + k * 9 + stride * 3 + pad);
            // 6 output channels: a group of 4, then 2 one at a time.
            const int o = 6;
            var weight = new float[o * c * k * k];
            for (int i = 0; i < weight.Length; i++) weight[i] = (float)(rng.NextDouble() * 2 - 1);
            var bias = new float[o];
            for (int i = 0; i < o; i++) bias[i] = (float)(rng.NextDouble() - 0.5);
            var engine = new InferenceEngine(new PackedModel(c, h, w, new DeployOp[] { new Conv2dOp("conv", c, o, k, k, stride, pad, weight, bias) }));
            foreach (int n in new[] { 1, 3 })
            {
                var x = new float[n * c * h * w];
                for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 4 - 2);
                var y = engine.RunBatch(x, n);
                for (int i = 0; i < n; i++)
                {
                    var expected = Expected(x.AsSpan(i * c * h * w, c * h * w).ToArray(), weight, bias, c, h, w, o, k, stride, pad);
                    Assert.Equal(expected, y.AsSpan(i * engine.OutputLength, engine.OutputLength).ToArray());
                }
            }
        }
    }
}

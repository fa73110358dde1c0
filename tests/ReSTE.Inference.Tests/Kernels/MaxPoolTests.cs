using System;
using System.Collections.Generic;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using Xunit;

namespace ReSTE.Inference.Tests.Kernels
{
    /// <summary>
    /// Max pooling (Engine/Steps/MaxPoolStep.cs; 2×2/2 with AVX2 in Engine/Steps/MaxPool2x2Avx2.cs) against a plain loop:
    /// per window the first value, then each later one that is greater or NaN (NaN propagates, as in PyTorch; of +0 and
    /// −0 the first is kept), bit for bit, with NaN, ±0, ±∞ and ties in the input.
    /// </summary>
    public class MaxPoolTests
    {
        public static IEnumerable<object[]> Cases()
        {
            foreach (var (h, w) in new[] { (32, 32), (16, 17), (9, 40), (4, 4), (6, 18) })
                foreach (var (k, s) in new[] { (2, 2), (3, 2), (2, 1) })
                    yield return new object[] { h, w, k, s };
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void Max_pooling_gives_the_scalar_loops_floats(int h, int w, int k, int s)
        {
            var rng = new Random((h * 31 + w) * 31 + k * 3 + s);
            const int c = 3;
            int oh = (h - k) / s + 1, ow = (w - k) / s + 1;
            var engine = new InferenceEngine(new PackedModel(c, h, w, new DeployOp[] { new MaxPool2dOp("pool", k, s) }));
            var specials = new[] { 0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1f, -1f };
            foreach (int n in new[] { 1, 3 })
            {
                var x = new float[n * c * h * w];
                for (int i = 0; i < x.Length; i++)
                    x[i] = rng.NextDouble() < 0.1 ? specials[rng.Next(specials.Length)] : (float)Math.Round(rng.NextDouble() * 8 - 4, 1);
                var y = engine.RunBatch(x, n);
                var expected = new float[n * c * oh * ow];
                for (int i = 0; i < n * c; i++)
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int at = (i * h + oy * s) * w + ox * s;
                            float m = x[at];
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                {
                                    float v = x[at + ky * w + kx];
                                    if (v > m || float.IsNaN(v)) m = v;
                                }
                            expected[(i * oh + oy) * ow + ox] = m;
                        }
                // Bit for bit: NaN equals NaN here, and +0 differs from −0.
                Assert.Equal(Array.ConvertAll(expected, BitConverter.SingleToInt32Bits), Array.ConvertAll(y, BitConverter.SingleToInt32Bits));
            }
        }
    }
}

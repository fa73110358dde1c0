using System;
using System.Collections.Generic;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Engine.BConv2d;
using Xunit;

namespace ReSTE.Inference.Tests.Kernels
{
    /// <summary>
    /// The output transform (Engine/BConv2d/OutputTransform.cs: dot·β with one rounding, the fused element-wise ops, an
    /// identity shortcut) against <see cref="Reference.Output"/> on the reference dots: the same floats, bit for bit, in
    /// the set-counting and the valid-counting modes; 16 pixels per vector where <see cref="KernelSelection.VectorOutputTransform"/>
    /// (AVX-512F), 8 where <see cref="KernelSelection.Avx2OutputTransform"/> (AVX2 and FMA without AVX-512: this
    /// project's machines), pixel by pixel otherwise (CI's leg without intrinsics).
    /// </summary>
    public unsafe class OutputTransformTests
    {
        public static IEnumerable<object[]> Epilogues()
        {
            foreach (string epilogue in new[] { "", "relu", "relu,bn", "hardtanh", "bn", "relu,bn,hardtanh", "bn,relu" })
                foreach (bool zeros in new[] { false, true })
                    foreach (bool shortcut in new[] { false, true })
                        yield return new object[] { epilogue, zeros, shortcut };
        }

        static List<Pointwise> Parse(string epilogue, Random rng, int channels)
        {
            var ops = new List<Pointwise>();
            foreach (var name in epilogue.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                if (name == "relu") ops.Add(new Pointwise(PointwiseKind.Relu));
                else if (name == "hardtanh") ops.Add(new Pointwise(PointwiseKind.Clamp, -0.75f, 0.5f));
                else
                {
                    var a = new float[channels]; var b = new float[channels];
                    for (int i = 0; i < channels; i++) { a[i] = (float)(rng.NextDouble() * 2 - 0.5); b[i] = (float)(rng.NextDouble() - 0.5); }
                    ops.Add(new Pointwise(PointwiseKind.Affine, A: a, B: b));
                }
            }
            return ops;
        }

        [Theory]
        [MemberData(nameof(Epilogues))]
        public void The_output_transform_gives_the_reference_floats(string epilogue, bool zeros, bool shortcut)
        {
            var rng = new Random(epilogue.Length * 7 + (zeros ? 1 : 0) + (shortcut ? 2 : 0));
            // 13×13 (169 pixels: whole vectors and a rest) and 16×16; 3 images: an image group or output lanes.
            foreach (int size in new[] { 13, 16 })
            {
                int c = 24, o = 6, n = 3;
                var scale = new float[o];
                for (int i = 0; i < o; i++) scale[i] = (float)(rng.NextDouble() * 0.2 + 0.01) * (i == 2 ? -1 : 1);
                var op = KernelData.Op(rng, c, o, 3, 1, 1, zeros ? 0.1 : 0, scale);
                var kernel = new BitPlaneConv(op, size, size);
                var images = KernelData.Ternary(rng, n * c * size * size, zeros ? 0.1 : 0);
                var dots = Reference.Dots(op, images, n, size, size);
                var ops = Parse(epilogue, rng, o);
                int plane = kernel.PlaneBits, outLen = o * plane;
                var sc = new float[n * outLen];
                for (int i = 0; i < sc.Length; i++) sc[i] = (float)(rng.NextDouble() * 4 - 2);
                var expected = new float[n * outLen];
                for (int i = 0; i < n; i++)
                    for (int oc = 0; oc < o; oc++)
                        for (int p = 0; p < plane; p++)
                        {
                            int at = (i * o + oc) * plane + p;
                            expected[at] = Reference.Output(dots[at], scale[oc], ops, oc);
                            if (shortcut) expected[at] += sc[at];
                        }
                foreach (bool simd in new[] { true, false })
                {
                    var y = new float[n * outLen];
                    var ws = new InferenceEngine.Workspace(new[] { 1 }, kernel.TapVectors, kernel.BitScratchWords, kernel.CountSlots);
                    fixed (float* x = images, yp = y, scp = sc)
                    {
                        var sink = new OutputTransform
                        {
                            Output = yp, OutStride = outLen, Scale = scale, Epilogue = ops,
                            ReluThenAffine = epilogue == "relu,bn" ? ops[1] : null,
                            Shortcut = shortcut ? scp : null, ShortcutStride = shortcut ? outLen : 0,
                        };
                        kernel.Run(x, n, c * size * size, sink, ws.Scratch, simd);
                    }
                    Assert.Equal(expected, y);
                }
            }
        }
    }
}

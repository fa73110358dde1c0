using System;
using ReSTE.Inference.Engine;
using Xunit;

namespace ReSTE.TestSupport
{
    /// <summary>
    /// How far two sets of outputs (a row of <c>width</c> logits per image) are apart: images with the same arg-max, the
    /// largest |Δ|, and <see cref="Beyond"/>, the images with some |Δ| ≥ 1e-4.
    /// </summary>
    public readonly record struct Agreement(int Count, int SameArgMax, double MaxDiff, int Beyond)
    {
        public static Agreement Of(float[] expected, float[] actual, int count)
        {
            Assert.Equal(expected.Length, actual.Length);
            int width = expected.Length / count;
            int same = 0, beyond = 0;
            double max = 0;
            for (int i = 0; i < count; i++)
            {
                var e = expected.AsSpan(i * width, width);
                var a = actual.AsSpan(i * width, width);
                double d = 0;
                for (int j = 0; j < width; j++) d = Math.Max(d, Math.Abs(e[j] - a[j]));
                max = Math.Max(max, d);
                if (d >= 1e-4) beyond++;
                if (InferenceEngine.ArgMax(e) == InferenceEngine.ArgMax(a)) same++;
            }
            return new Agreement(count, same, max, beyond);
        }

        public override string ToString() => $"same argmax on {SameArgMax}/{Count}, max |Δ| = {MaxDiff:G3}, {Beyond} with |Δ| ≥ 1e-4";
    }
}

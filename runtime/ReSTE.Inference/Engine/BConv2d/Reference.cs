using System;
using System.Collections.Generic;
using ReSTE.Inference.Format;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>
    /// The scalar reference of a binary convolution, in plain loops: what every optimised kernel must give exactly.
    /// An activation's sign is +1 (x &gt; 0), −1 (x &lt; 0) or 0 (an exact zero of either sign, or NaN: a value that is
    /// in neither bit-plane); the weights are {−1, 0, +1}; the padding is zero after binarization (a tap outside the
    /// image adds nothing).
    /// </summary>
    internal static class Reference
    {
        /// <summary>The sign the engine gives an activation: +1, −1, or 0 for ±0 and NaN.</summary>
        public static int Sign(float x) => x > 0 ? 1 : x < 0 ? -1 : 0;

        /// <summary>
        /// The dot products Σ sign(x)·w of <paramref name="n"/> CHW images of <paramref name="h"/>×<paramref name="w"/>
        /// pixels (stored one after another), as [image][output channel][output pixel, row-major].
        /// </summary>
        public static int[] Dots(BinaryConv2dOp op, ReadOnlySpan<float> images, int n, int h, int w)
        {
            int c = op.InChannels, o = op.OutChannels, kh = op.KernelH, kw = op.KernelW, s = op.Stride, pad = op.Padding;
            int oh = (h + 2 * pad - kh) / s + 1, ow = (w + 2 * pad - kw) / s + 1;
            if (oh <= 0 || ow <= 0) throw new ArgumentException($"{op.Name}: a {kh}×{kw} kernel does not fit a {h}×{w} input with padding {pad}.");
            if (images.Length != (long)n * c * h * w) throw new ArgumentException($"{op.Name}: {n} images of {c}×{h}×{w} take {(long)n * c * h * w} floats, not {images.Length}.");
            var result = new int[n * o * oh * ow];
            for (int i = 0; i < n; i++)
                for (int oc = 0; oc < o; oc++)
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int sum = 0;
                            for (int ic = 0; ic < c; ic++)
                                for (int ky = 0; ky < kh; ky++)
                                    for (int kx = 0; kx < kw; kx++)
                                    {
                                        int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
                                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                        int wv = op.Weight[(((long)oc * c + ic) * kh + ky) * kw + kx];
                                        sum += Sign(images[((i * c + ic) * h + iy) * w + ix]) * wv;
                                    }
                            result[((i * o + oc) * oh + oy) * ow + ox] = sum;
                        }
            return result;
        }

        /// <summary>
        /// The output transform of one value, as <see cref="OutputTransform"/> computes it: dot·β (one rounding), then
        /// the element-wise ops of the epilogue in order.
        /// </summary>
        public static float Output(int dot, float scale, IReadOnlyList<Pointwise> epilogue, int channel)
        {
            float v = dot * scale;
            foreach (var op in epilogue) v = op.Apply(v, channel);
            return v;
        }
    }
}

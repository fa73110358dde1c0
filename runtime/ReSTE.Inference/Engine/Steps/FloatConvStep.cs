using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Engine.BConv2d;
using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    internal sealed unsafe class FloatConvStep : Step
    {
        public Shape InShape, OutShape;
        public int KH, KW, Stride, Pad;
        /// <summary>[o][c][ky][kx], PyTorch's layout.</summary>
        public float[] Weight = Array.Empty<float>();
        public float[] Bias = Array.Empty<float>();
        public readonly List<Pointwise> Epilogue = new();
        public string Name = "";

        /// <summary>
        /// Input channels a 1×1 convolution sums per block, as libtorch's oneDNN AVX2 1×1 kernel does: each block of
        /// 128 channels is summed from zero (the first from the bias), then added to the running sum. Seen on
        /// ResNet-18's 256→512 shortcut: sequential sums differed from libtorch on 28,713 of 32,768 outputs,
        /// blocks of 128 matched all of them. (A strided 1×1 convolution over an odd-sized input takes another oneDNN
        /// path; there the two agree to rounding only.)
        /// </summary>
        public const int PointwiseReduceBlock = 128;

        /// <summary>
        /// k×k: each output accumulates bias, then the taps in (ky, kx, c) order with one fused multiply-add each, the
        /// order libtorch's oneDNN kernel sums a small-channel convolution in; the input is first copied into a
        /// zero-bordered buffer (a tap in the padding adds 0·w, which leaves the sum as it is). 1×1: the input pixels
        /// the stride picks are gathered into dense planes, then summed over channels in blocks of
        /// <see cref="PointwiseReduceBlock"/>, 16 pixels per vector.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out];
            fixed (float* xs = ws.Slots[In], ys = ws.Slots[Out], wt = Weight, xp = ws.Padded)
                for (int i = 0; i < n; i++)
                {
                    float* x = xs + (long)i * inSize, y = ys + (long)i * outSize;
                    if (KH == 1 && KW == 1) RunPointwise(x, y, wt, xp);
                    else RunSpatial(x, y, wt, xp);
                }
        }

        void RunSpatial(float* x, float* y, float* wt, float* xp)
        {
            int ci = InShape.C, ih = InShape.H, iw = InShape.W, oh = OutShape.H, ow = OutShape.W, plane = oh * ow;
            int ph = ih + 2 * Pad, pw = iw + 2 * Pad, taps = KH * KW;
            new Span<float>(xp, ci * ph * pw).Clear();
            for (int c = 0; c < ci; c++)
                for (int r = 0; r < ih; r++)
                    new ReadOnlySpan<float>(x + (c * ih + r) * iw, iw).CopyTo(new Span<float>(xp + (c * ph + r + Pad) * pw + Pad, iw));
            int o = 0;
            if (Stride == 1 && ow >= 16 && KernelSelection.Avx2Float) o = Spatial256(y, wt, xp);
            else if (Stride == 1 && ow >= 32)
            {
                // Four output channels × 32 pixels at a time: eight independent accumulators, one input load for
                // four FMAs. (One accumulator at a time waited on each FMA's latency: the stem took a sixth of
                // ResNet-20.) Each output still sums bias, then (ky, kx, c) in order: the same floats.
                int wide = ow / 32 * 32, stride = ci * taps;
                for (; o + 4 <= OutShape.C; o += 4)
                {
                    float* w0 = wt + (long)o * stride;
                    var bias0 = Vector512.Create(Bias[o]); var bias1 = Vector512.Create(Bias[o + 1]);
                    var bias2 = Vector512.Create(Bias[o + 2]); var bias3 = Vector512.Create(Bias[o + 3]);
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < wide; ox += 32)
                        {
                            Vector512<float> a0 = bias0, b0 = bias0, a1 = bias1, b1 = bias1, a2 = bias2, b2 = bias2, a3 = bias3, b3 = bias3;
                            for (int ky = 0; ky < KH; ky++)
                                for (int kx = 0; kx < KW; kx++)
                                    for (int c = 0; c < ci; c++)
                                    {
                                        float* src = xp + (c * ph + oy + ky) * pw + ox + kx;
                                        var lo = Vector512.Load(src); var hi = Vector512.Load(src + 16);
                                        float* w = w0 + c * taps + ky * KW + kx;
                                        var v0 = Vector512.Create(w[0]); var v1 = Vector512.Create(w[stride]);
                                        var v2 = Vector512.Create(w[2 * stride]); var v3 = Vector512.Create(w[3 * stride]);
                                        a0 = Vector512.FusedMultiplyAdd(lo, v0, a0); b0 = Vector512.FusedMultiplyAdd(hi, v0, b0);
                                        a1 = Vector512.FusedMultiplyAdd(lo, v1, a1); b1 = Vector512.FusedMultiplyAdd(hi, v1, b1);
                                        a2 = Vector512.FusedMultiplyAdd(lo, v2, a2); b2 = Vector512.FusedMultiplyAdd(hi, v2, b2);
                                        a3 = Vector512.FusedMultiplyAdd(lo, v3, a3); b3 = Vector512.FusedMultiplyAdd(hi, v3, b3);
                                    }
                            float* dst = y + o * plane + oy * ow + ox;
                            a0.Store(dst); b0.Store(dst + 16);
                            a1.Store(dst + plane); b1.Store(dst + plane + 16);
                            a2.Store(dst + 2 * plane); b2.Store(dst + 2 * plane + 16);
                            a3.Store(dst + 3 * plane); b3.Store(dst + 3 * plane + 16);
                        }
                    for (int j = 0; j < 4; j++)
                    {
                        if (wide < ow) SpatialChannel(o + j, wide, y, wt, xp);
                        Pointwise.Apply(Epilogue, y + (o + j) * plane, plane, o + j);
                    }
                }
            }
            for (; o < OutShape.C; o++)
            {
                SpatialChannel(o, 0, y, wt, xp);
                Pointwise.Apply(Epilogue, y + o * plane, plane, o);
            }
        }

        /// <summary>
        /// <see cref="RunSpatial"/>'s four output channels at a time with AVX2: 4 channels × 16 pixels, eight 8-float
        /// accumulators, each output summing bias, then (ky, kx, c) in order with one FMA each (the same floats); returns
        /// the channels done (a multiple of 4), each with its epilogue applied.
        /// </summary>
        int Spatial256(float* y, float* wt, float* xp)
        {
            int ci = InShape.C, oh = OutShape.H, ow = OutShape.W, plane = oh * ow;
            int ph = InShape.H + 2 * Pad, pw = InShape.W + 2 * Pad, taps = KH * KW;
            int wide = ow / 16 * 16, stride = ci * taps, o = 0;
            for (; o + 4 <= OutShape.C; o += 4)
            {
                float* w0 = wt + (long)o * stride;
                var bias0 = Vector256.Create(Bias[o]); var bias1 = Vector256.Create(Bias[o + 1]);
                var bias2 = Vector256.Create(Bias[o + 2]); var bias3 = Vector256.Create(Bias[o + 3]);
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < wide; ox += 16)
                    {
                        Vector256<float> a0 = bias0, b0 = bias0, a1 = bias1, b1 = bias1, a2 = bias2, b2 = bias2, a3 = bias3, b3 = bias3;
                        for (int ky = 0; ky < KH; ky++)
                            for (int kx = 0; kx < KW; kx++)
                                for (int c = 0; c < ci; c++)
                                {
                                    float* src = xp + (c * ph + oy + ky) * pw + ox + kx;
                                    var lo = Vector256.Load(src); var hi = Vector256.Load(src + 8);
                                    float* w = w0 + c * taps + ky * KW + kx;
                                    var v0 = Vector256.Create(w[0]); var v1 = Vector256.Create(w[stride]);
                                    var v2 = Vector256.Create(w[2 * stride]); var v3 = Vector256.Create(w[3 * stride]);
                                    a0 = Vector256.FusedMultiplyAdd(lo, v0, a0); b0 = Vector256.FusedMultiplyAdd(hi, v0, b0);
                                    a1 = Vector256.FusedMultiplyAdd(lo, v1, a1); b1 = Vector256.FusedMultiplyAdd(hi, v1, b1);
                                    a2 = Vector256.FusedMultiplyAdd(lo, v2, a2); b2 = Vector256.FusedMultiplyAdd(hi, v2, b2);
                                    a3 = Vector256.FusedMultiplyAdd(lo, v3, a3); b3 = Vector256.FusedMultiplyAdd(hi, v3, b3);
                                }
                        float* dst = y + o * plane + oy * ow + ox;
                        a0.Store(dst); b0.Store(dst + 8);
                        a1.Store(dst + plane); b1.Store(dst + plane + 8);
                        a2.Store(dst + 2 * plane); b2.Store(dst + 2 * plane + 8);
                        a3.Store(dst + 3 * plane); b3.Store(dst + 3 * plane + 8);
                    }
                for (int j = 0; j < 4; j++)
                {
                    if (wide < ow) SpatialChannel(o + j, wide, y, wt, xp);
                    Pointwise.Apply(Epilogue, y + (o + j) * plane, plane, o + j);
                }
            }
            return o;
        }

        /// <summary>Output channel <paramref name="o"/>, columns from <paramref name="fromX"/> on, of every row.</summary>
        void SpatialChannel(int o, int fromX, float* y, float* wt, float* xp)
        {
            int ci = InShape.C, oh = OutShape.H, ow = OutShape.W, plane = oh * ow;
            int ph = InShape.H + 2 * Pad, pw = InShape.W + 2 * Pad, s = Stride, taps = KH * KW;
            float* w = wt + (long)o * ci * taps;
            float bias = Bias[o];
            for (int oy = 0; oy < oh; oy++)
            {
                float* dst = y + o * plane + oy * ow;
                int ox = fromX;
                if (s == 1 && KernelSelection.Avx2Float)
                    for (; ox + 8 <= ow; ox += 8)
                    {
                        var acc = Vector256.Create(bias);
                        for (int ky = 0; ky < KH; ky++)
                            for (int kx = 0; kx < KW; kx++)
                                for (int c = 0; c < ci; c++)
                                    acc = Vector256.FusedMultiplyAdd(Vector256.Load(xp + (c * ph + oy + ky) * pw + ox + kx),
                                        Vector256.Create(w[c * taps + ky * KW + kx]), acc);
                        acc.Store(dst + ox);
                    }
                else if (s == 1)
                    for (; ox + 16 <= ow; ox += 16)
                    {
                        var acc = Vector512.Create(bias);
                        for (int ky = 0; ky < KH; ky++)
                            for (int kx = 0; kx < KW; kx++)
                                for (int c = 0; c < ci; c++)
                                    acc = Vector512.FusedMultiplyAdd(Vector512.Load(xp + (c * ph + oy + ky) * pw + ox + kx),
                                        Vector512.Create(w[c * taps + ky * KW + kx]), acc);
                        acc.Store(dst + ox);
                    }
                for (; ox < ow; ox++)
                {
                    float acc = bias;
                    for (int ky = 0; ky < KH; ky++)
                        for (int kx = 0; kx < KW; kx++)
                            for (int c = 0; c < ci; c++)
                                acc = MathF.FusedMultiplyAdd(xp[(c * ph + oy * s + ky) * pw + ox * s + kx], w[c * taps + ky * KW + kx], acc);
                    dst[ox] = acc;
                }
            }
        }

        void RunPointwise(float* x, float* y, float* wt, float* xg)
        {
            int ci = InShape.C, ih = InShape.H, iw = InShape.W, oh = OutShape.H, ow = OutShape.W, plane = oh * ow, s = Stride;
            for (int c = 0; c < ci; c++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        int iy = oy * s - Pad, ix = ox * s - Pad;
                        xg[c * plane + oy * ow + ox] = (uint)iy < (uint)ih && (uint)ix < (uint)iw ? x[(c * ih + iy) * iw + ix] : 0;
                    }
            const int block = PointwiseReduceBlock;
            for (int o = 0; o < OutShape.C; o++)
            {
                float* w = wt + (long)o * ci;
                float* dst = y + o * plane;
                int p = 0;
                if (KernelSelection.Avx2Float)
                    for (; p + 8 <= plane; p += 8)
                    {
                        var acc = Vector256.Create(Bias[o]);
                        for (int c0 = 0; c0 < ci; c0 += block)
                        {
                            var part = c0 == 0 ? acc : Vector256<float>.Zero;
                            for (int c = c0, c1 = Math.Min(ci, c0 + block); c < c1; c++)
                                part = Vector256.FusedMultiplyAdd(Vector256.Load(xg + c * plane + p), Vector256.Create(w[c]), part);
                            acc = c0 == 0 ? part : acc + part;
                        }
                        acc.Store(dst + p);
                    }
                for (; p + 16 <= plane; p += 16)
                {
                    var acc = Vector512.Create(Bias[o]);
                    for (int c0 = 0; c0 < ci; c0 += block)
                    {
                        var part = c0 == 0 ? acc : Vector512<float>.Zero;
                        for (int c = c0, c1 = Math.Min(ci, c0 + block); c < c1; c++)
                            part = Vector512.FusedMultiplyAdd(Vector512.Load(xg + c * plane + p), Vector512.Create(w[c]), part);
                        acc = c0 == 0 ? part : acc + part;
                    }
                    acc.Store(dst + p);
                }
                for (; p < plane; p++)
                {
                    float acc = Bias[o];
                    for (int c0 = 0; c0 < ci; c0 += block)
                    {
                        float part = c0 == 0 ? acc : 0;
                        for (int c = c0, c1 = Math.Min(ci, c0 + block); c < c1; c++)
                            part = MathF.FusedMultiplyAdd(xg[c * plane + p], w[c], part);
                        acc = c0 == 0 ? part : acc + part;
                    }
                    dst[p] = acc;
                }
                Pointwise.Apply(Epilogue, dst, plane, o);
            }
        }
        public override string Describe() => $"Conv2d {Name} {InShape}→{OutShape}" + Pointwise.Suffix(Epilogue);
    }
}

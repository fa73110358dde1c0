using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Engine.BConv2d;
using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    internal sealed unsafe class MaxPoolStep : Step
    {
        public Shape InShape, OutShape;
        public int Kernel, Stride, Padding;
        public readonly List<Pointwise> Epilogue = new();
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out];
            int ih = InShape.H, iw = InShape.W, oh = OutShape.H, ow = OutShape.W, k = Kernel, s = Stride, p = Padding;
            fixed (float* xs = ws.Slots[In], ys = ws.Slots[Out])
                for (int i = 0; i < n; i++)
                    for (int c = 0; c < InShape.C; c++)
                    {
                        float* x = xs + (long)i * inSize + c * ih * iw, y = ys + (long)i * outSize + c * oh * ow;
                        for (int oy = 0; oy < oh; oy++)
                        {
                            // The window's rows and columns inside the input: padding is −∞, which never wins (a
                            // window always holds at least one input pixel, since padding ≤ kernel / 2).
                            int y0 = oy * s - p, ky0 = Math.Max(0, -y0), ky1 = Math.Min(k, ih - y0);
                            int ox = 0;
                            if (k == 2 && s == 2 && p == 0 && KernelSelection.Avx2MaxPool) ox = MaxPool2x2Avx2.Row(x + 2 * oy * iw, iw, y + oy * ow, ow);
                            for (; ox < ow; ox++)
                            {
                                int x0 = ox * s - p, kx0 = Math.Max(0, -x0), kx1 = Math.Min(k, iw - x0);
                                float* w = x + (long)y0 * iw + x0;
                                float m = float.NegativeInfinity;
                                for (int ky = ky0; ky < ky1; ky++)
                                    for (int kx = kx0; kx < kx1; kx++)
                                    {
                                        // NaN propagates, as in PyTorch.
                                        float v = w[ky * iw + kx];
                                        if (v > m || float.IsNaN(v)) m = v;
                                    }
                                y[oy * ow + ox] = m;
                            }
                        }
                        Pointwise.Apply(Epilogue, y, oh * ow, c);
                    }
        }
        public override string Describe() => $"MaxPool {Kernel}×{Kernel}/{Stride}" + (Padding > 0 ? $" pad {Padding}" : "") + $" {InShape}→{OutShape}" + Pointwise.Suffix(Epilogue);
    }
}

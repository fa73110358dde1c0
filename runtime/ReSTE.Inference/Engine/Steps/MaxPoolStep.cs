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
        public int Kernel, Stride;
        public readonly List<Pointwise> Epilogue = new();
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out];
            int ih = InShape.H, iw = InShape.W, oh = OutShape.H, ow = OutShape.W, k = Kernel, s = Stride;
            fixed (float* xs = ws.Slots[In], ys = ws.Slots[Out])
                for (int i = 0; i < n; i++)
                    for (int c = 0; c < InShape.C; c++)
                    {
                        float* x = xs + (long)i * inSize + c * ih * iw, y = ys + (long)i * outSize + c * oh * ow;
                        for (int oy = 0; oy < oh; oy++)
                            for (int ox = 0; ox < ow; ox++)
                            {
                                float* w = x + oy * s * iw + ox * s;
                                float m = w[0];
                                for (int ky = 0; ky < k; ky++)
                                    for (int kx = 0; kx < k; kx++)
                                    {
                                        // NaN propagates, as in PyTorch.
                                        float v = w[ky * iw + kx];
                                        if (v > m || float.IsNaN(v)) m = v;
                                    }
                                y[oy * ow + ox] = m;
                            }
                        Pointwise.Apply(Epilogue, y, oh * ow, c);
                    }
        }
        public override string Describe() => $"MaxPool {Kernel}×{Kernel}/{Stride} {InShape}→{OutShape}" + Pointwise.Suffix(Epilogue);
    }
}

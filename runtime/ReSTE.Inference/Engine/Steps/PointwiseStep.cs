using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Engine.BConv2d;
using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    internal sealed unsafe class PointwiseStep : Step
    {
        public readonly List<Pointwise> Ops = new();
        public Shape Shape;
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out], plane = Shape.Plane;
            fixed (float* x = ws.Slots[In], y = ws.Slots[Out])
                for (int i = 0; i < n; i++)
                    for (int c = 0; c < Shape.C; c++)
                    {
                        float* src = x + (long)i * inSize + c * plane, dst = y + (long)i * outSize + c * plane;
                        if (src != dst) Buffer.MemoryCopy(src, dst, plane * 4L, plane * 4L);
                        Pointwise.Apply(Ops, dst, plane, c);
                    }
        }
        public override string Describe() => Pointwise.Chain(Ops);
    }
}

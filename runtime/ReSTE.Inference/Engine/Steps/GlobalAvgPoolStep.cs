using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Engine.BConv2d;
using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    internal sealed unsafe class GlobalAvgPoolStep : Step
    {
        public Shape InShape;
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out], hw = InShape.Plane;
            var x = ws.Slots[In]; var y = ws.Slots[Out];
            for (int i = 0; i < n; i++)
                for (int c = 0; c < InShape.C; c++)
                {
                    double sum = 0;
                    int src = i * inSize + c * hw;
                    for (int p = 0; p < hw; p++) sum += x[src + p];
                    y[i * outSize + c] = (float)(sum / hw);
                }
        }
        public override string Describe() => $"GlobalAvgPool {InShape}→{InShape.C}";
    }
}

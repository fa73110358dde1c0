using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Engine.BConv2d;
using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    internal sealed unsafe class NormalizeStep : Step
    {
        public float[] Mean = Array.Empty<float>(), Std = Array.Empty<float>();
        public Shape Shape;
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out], plane = Shape.Plane;
            var x = ws.Slots[In]; var y = ws.Slots[Out];
            for (int i = 0; i < n; i++)
                for (int c = 0; c < Shape.C; c++)
                {
                    float m = Mean[c], s = Std[c];
                    int src = i * inSize + c * plane, dst = i * outSize + c * plane;
                    for (int p = 0; p < plane; p++) y[dst + p] = (x[src + p] - m) / s;
                }
        }
        public override string Describe() => "Normalize";
    }
}

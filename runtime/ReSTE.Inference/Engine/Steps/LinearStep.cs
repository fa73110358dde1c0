using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Engine.BConv2d;
using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    internal sealed unsafe class LinearStep : Step
    {
        public int InF, OutF;
        /// <summary>[out][in], inputs in PyTorch's flattened CHW order.</summary>
        public float[] Weight = Array.Empty<float>();
        public double[] Bias = Array.Empty<double>();
        public string Name = "";
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out];
            var x = ws.Slots[In]; var y = ws.Slots[Out];
            for (int i = 0; i < n; i++)
                for (int o = 0; o < OutF; o++)
                {
                    double sum = Bias[o];
                    var w = Weight.AsSpan(o * InF, InF);
                    int src = i * inSize;
                    for (int j = 0; j < InF; j++) sum += (double)w[j] * x[src + j];
                    y[i * outSize + o] = (float)sum;
                }
        }
        public override string Describe() => $"Linear {Name} {InF}→{OutF}";
    }
}

using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Engine.BConv2d;
using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    internal sealed unsafe class BinaryConvStep : Step
    {
        public BitPlaneConv Kernel = null!;
        public float[] Scale = Array.Empty<float>();
        public readonly List<Pointwise> Epilogue = new();
        public string Name = "";

        /// <summary>The epilogue's BatchNorm when it is exactly ReLU then BatchNorm (fused in one pass), else null.</summary>
        public Pointwise? ReluThenAffine;
        /// <summary>The slot of an identity shortcut added to the output (a residual block's end fused in), or −1.</summary>
        public int Shortcut = -1;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            fixed (float* x = ws.Slots[In], y = ws.Slots[Out], sc = ws.Slots[Shortcut < 0 ? Out : Shortcut])
            {
                var sink = new OutputTransform
                {
                    Output = y, OutStride = ws.SlotSizes[Out], Scale = Scale, Epilogue = Epilogue, ReluThenAffine = ReluThenAffine,
                    Shortcut = Shortcut < 0 ? null : sc, ShortcutStride = Shortcut < 0 ? 0 : ws.SlotSizes[Shortcut]
                };
                Kernel.Run(x, n, ws.SlotSizes[In], sink, ws.Threads > 1 ? ws.Scratch.WithThreads(ws.Threads) : ws.Scratch);
            }
        }
        public override string Describe() => $"BinaryConv2d(bit-planes) {Name} {Kernel.InC}×{Kernel.InH}×{Kernel.InW}→{Kernel.OutC}×{Kernel.OutH}×{Kernel.OutW}"
            + (Shortcut >= 0 ? " (+ identity shortcut after the epilogue)" : "")
            + Pointwise.Suffix(Epilogue)
            + $" [{Kernel.DescribeKernels()}]";
    }
}

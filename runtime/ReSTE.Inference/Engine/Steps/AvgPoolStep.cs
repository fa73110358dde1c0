using System.Collections.Generic;
using System.Runtime.CompilerServices;
using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    /// <summary>
    /// Average pooling over k×k windows every s pixels without padding (<c>avg_pool2d(x, k, s)</c>): each window's values
    /// summed in float row by row, then divided by k², as libtorch's CPU kernel computes it; then the element-wise epilogue.
    /// </summary>
    internal sealed unsafe class AvgPoolStep : Step
    {
        public Shape InShape, OutShape;
        public int Kernel, Stride;
        public readonly List<Pointwise> Epilogue = new();

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out];
            int ih = InShape.H, iw = InShape.W, oh = OutShape.H, ow = OutShape.W, k = Kernel, s = Stride;
            float divisor = k * k;
            fixed (float* xs = ws.Slots[In], ys = ws.Slots[Out])
                for (int i = 0; i < n; i++)
                    for (int c = 0; c < InShape.C; c++)
                    {
                        float* x = xs + (long)i * inSize + (long)c * ih * iw, y = ys + (long)i * outSize + (long)c * oh * ow;
                        for (int oy = 0; oy < oh; oy++)
                            for (int ox = 0; ox < ow; ox++)
                            {
                                float* w = x + oy * s * iw + ox * s;
                                float sum = 0;
                                for (int ky = 0; ky < k; ky++)
                                    for (int kx = 0; kx < k; kx++) sum += w[ky * iw + kx];
                                y[oy * ow + ox] = sum / divisor;
                            }
                        Pointwise.Apply(Epilogue, y, oh * ow, c);
                    }
        }

        public override string Describe() => $"AvgPool {Kernel}×{Kernel}/{Stride} {InShape}→{OutShape}" + Pointwise.Suffix(Epilogue);
    }
}

using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Engine.BConv2d;
using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    internal sealed unsafe class ResidualAddStep : Step
    {
        public int Saved;
        public Shape SavedShape, Shape;
        public int Stride, PadBefore;
        /// <summary>Adds a block's main path to its shortcut branch (rather than a saved input to the body).</summary>
        public bool Branch;
        /// <summary>vpermt2ps indices picking the even floats of two vectors (every second pixel of a 32-pixel row).</summary>
        static readonly Vector512<int> EvenFloats = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            int size = ws.SlotSizes[In], savedSize = ws.SlotSizes[Saved];
            int plane = Shape.Plane, sp = SavedShape.Plane, w = Shape.W, sw = SavedShape.W;
            fixed (float* xs = ws.Slots[In], ss = ws.Slots[Saved])
                for (int i = 0; i < n; i++)
                    for (int c = 0; c < SavedShape.C; c++)
                    {
                        float* d = xs + (long)i * size + (c + PadBefore) * plane, a = ss + (long)i * savedSize + c * sp;
                        if (Stride == 1 && sp == plane)
                        {
                            int p = 0;
                            if (KernelSelection.Avx2Float)
                                for (; p + 8 <= plane; p += 8) (Vector256.Load(d + p) + Vector256.Load(a + p)).Store(d + p);
                            else
                                for (; p + 16 <= plane; p += 16) (Vector512.Load(d + p) + Vector512.Load(a + p)).Store(d + p);
                            for (; p < plane; p++) d[p] += a[p];
                        }
                        else if (Stride == 2 && w % 16 == 0 && sw >= 2 * w && KernelSelection.StridedShortcutPermute)
                            for (int oy = 0; oy < Shape.H; oy++)
                                for (int ox = 0; ox < w; ox += 16)
                                {
                                    // Option A: every second pixel of every second row.
                                    float* src = a + 2 * oy * sw + 2 * ox;
                                    var even = Avx512F.PermuteVar16x32x2(Vector512.Load(src), EvenFloats, Vector512.Load(src + 16));
                                    (Vector512.Load(d + oy * w + ox) + even).Store(d + oy * w + ox);
                                }
                        else
                            for (int oy = 0; oy < Shape.H; oy++)
                                for (int ox = 0; ox < w; ox++)
                                    d[oy * w + ox] += a[oy * Stride * sw + ox * Stride];
                    }
        }
        public override string Describe() => Branch ? "+ main path (shortcut branch)"
            : Stride == 1 && PadBefore == 0 && SavedShape.C == Shape.C ? "+ identity shortcut" : $"+ option-A shortcut {SavedShape}→{Shape}";
    }
}

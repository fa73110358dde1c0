using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ReSTE.Inference.Engine
{
    internal enum PointwiseKind { Relu, Clamp, Affine }

    /// <summary>A per-channel element-wise op: max(x, 0), clamp(x, lo, hi) or x·A[c] + B[c] (one rounding).</summary>
    internal readonly unsafe record struct Pointwise(PointwiseKind Kind, float Lo = 0, float Hi = 0, float[]? A = null, float[]? B = null)
    {
        public string Describe() => Kind switch
        {
            PointwiseKind.Relu => "ReLU",
            PointwiseKind.Clamp => $"Hardtanh({Lo},{Hi})",
            _ => "BatchNorm(affine)",
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Apply(float v, int c) => Kind switch
        {
            PointwiseKind.Relu => v > 0 ? v : 0,
            PointwiseKind.Clamp => v < Lo ? Lo : v > Hi ? Hi : v,
            _ => MathF.FusedMultiplyAdd(v, A![c], B![c]),
        };

        /// <summary>The ops in order ("ReLU → BatchNorm(affine)").</summary>
        public static string Chain(List<Pointwise> ops) => string.Join(" → ", ops.ConvertAll(o => o.Describe()));

        /// <summary>" + " and the ops, for a step that applies them as its epilogue; empty without ops.</summary>
        public static string Suffix(List<Pointwise> ops) => ops.Count > 0 ? " + " + Chain(ops) : "";

        /// <summary>Applies the ops in order to one channel's plane, in place.</summary>
        public static void Apply(List<Pointwise> ops, float* plane, int n, int c)
        {
            foreach (var op in ops)
            {
                int i = 0;
                switch (op.Kind)
                {
                    case PointwiseKind.Relu:
                        if (KernelSelection.Avx2Float)
                            for (; i + 8 <= n; i += 8) Vector256.Max(Vector256.Load(plane + i), Vector256<float>.Zero).Store(plane + i);
                        else
                            for (; i + 16 <= n; i += 16) Vector512.Max(Vector512.Load(plane + i), Vector512<float>.Zero).Store(plane + i);
                        for (; i < n; i++) plane[i] = plane[i] > 0 ? plane[i] : 0;
                        break;
                    case PointwiseKind.Clamp:
                    {
                        float lo = op.Lo, hi = op.Hi;
                        var vlo = Vector512.Create(lo); var vhi = Vector512.Create(hi);
                        if (KernelSelection.Avx2Float)
                        {
                            var wlo = Vector256.Create(lo); var whi = Vector256.Create(hi);
                            for (; i + 8 <= n; i += 8) Vector256.Min(Vector256.Max(Vector256.Load(plane + i), wlo), whi).Store(plane + i);
                        }
                        for (; i + 16 <= n; i += 16) Vector512.Min(Vector512.Max(Vector512.Load(plane + i), vlo), vhi).Store(plane + i);
                        for (; i < n; i++) { float v = plane[i]; plane[i] = v < lo ? lo : v > hi ? hi : v; }
                        break;
                    }
                    default:
                    {
                        float a = op.A![c], b = op.B![c];
                        var va = Vector512.Create(a); var vb = Vector512.Create(b);
                        if (KernelSelection.Avx2Float)
                        {
                            var wa = Vector256.Create(a); var wb = Vector256.Create(b);
                            for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(plane + i), wa, wb).Store(plane + i);
                        }
                        for (; i + 16 <= n; i += 16) Vector512.FusedMultiplyAdd(Vector512.Load(plane + i), va, vb).Store(plane + i);
                        for (; i < n; i++) plane[i] = MathF.FusedMultiplyAdd(plane[i], a, b);
                        break;
                    }
                }
            }
        }
    }
}

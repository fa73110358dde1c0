using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>
    /// The output transform with AVX2 and FMA (<see cref="KernelSelection.Avx2OutputTransform"/>), 8 pixels per vector:
    /// the counts widened to 32 bits (vpmovzxwd, vpmovsxwd for the set bias), the integer dot, vcvtdq2ps (exact), ·β with
    /// one rounding and the fused ReLU → BatchNorm as max then one vfmadd: the floats of the scalar path, bit for bit.
    /// </summary>
    internal sealed unsafe partial class OutputTransform
    {
        /// <summary>
        /// Writes whole vectors of 8 pixels of one plane (dot·β, and with <paramref name="fused"/> max(·, 0)·a + b);
        /// returns the pixels written (the rest, and an unfused epilogue, are the caller's).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static int WritePlane256(in BitPlaneConv.Counts counts, float* y, float s, float a, float b, bool fused)
        {
            var vs = Vector256.Create(s);
            var va = Vector256.Create(a);
            var vb = Vector256.Create(b);
            if (fused)
                return counts.Bias is not null
                    ? counts.Sign > 0 ? SetLoop256<PlusSign256, ReluAffine256>(counts, y, vs, va, vb) : SetLoop256<MinusSign256, ReluAffine256>(counts, y, vs, va, vb)
                    : CountLoop256<ReluAffine256>(counts, y, vs, va, vb);
            return counts.Bias is not null
                ? counts.Sign > 0 ? SetLoop256<PlusSign256, ScaleOnly256>(counts, y, vs, va, vb) : SetLoop256<MinusSign256, ScaleOnly256>(counts, y, vs, va, vb)
                : CountLoop256<ScaleOnly256>(counts, y, vs, va, vb);
        }

        interface ISign256 { static abstract Vector256<int> Apply(Vector256<int> bias, Vector256<int> t); }
        readonly struct PlusSign256 : ISign256 { public static Vector256<int> Apply(Vector256<int> bias, Vector256<int> t) => bias + t; }
        readonly struct MinusSign256 : ISign256 { public static Vector256<int> Apply(Vector256<int> bias, Vector256<int> t) => bias - t; }

        interface IEpilogue256 { static abstract Vector256<float> Apply(Vector256<float> v, Vector256<float> a, Vector256<float> b); }
        /// <summary>The ReSTE block's BN(ReLU(conv)) in the same pass.</summary>
        readonly struct ReluAffine256 : IEpilogue256
        {
            public static Vector256<float> Apply(Vector256<float> v, Vector256<float> a, Vector256<float> b) =>
                Vector256.FusedMultiplyAdd(Vector256.Max(v, Vector256<float>.Zero), a, b);
        }
        readonly struct ScaleOnly256 : IEpilogue256
        {
            public static Vector256<float> Apply(Vector256<float> v, Vector256<float> a, Vector256<float> b) => v;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<int> Widen(ushort* p) => Avx2.ConvertToVector256Int32(Vector128.Load(p));

        /// <summary>Set counts: dot = bias ± (4·C − 2·S), then ·β (one rounding) and the epilogue; whole vectors only.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static int SetLoop256<TSign, TEpi>(in BitPlaneConv.Counts counts, float* y, Vector256<float> vs, Vector256<float> a, Vector256<float> b)
            where TSign : struct, ISign256 where TEpi : struct, IEpilogue256
        {
            ushort* set = counts.Agree, all = counts.Valid;
            short* bias = counts.Bias;
            int n = counts.Length, i = 0;
            for (; i + 8 <= n; i += 8)
            {
                var t = (Widen(set + i) << 2) - (Widen(all + i) << 1);
                var dot = TSign.Apply(Avx2.ConvertToVector256Int32(Vector128.Load(bias + i)), t);
                TEpi.Apply(Vector256.ConvertToSingle(dot) * vs, a, b).Store(y + i);
            }
            return i;
        }

        /// <summary>Agreement counts: dot = 2·agree − valid (counted or analytic); whole vectors only.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static int CountLoop256<TEpi>(in BitPlaneConv.Counts counts, float* y, Vector256<float> vs, Vector256<float> a, Vector256<float> b)
            where TEpi : struct, IEpilogue256
        {
            ushort* agree = counts.Agree, valid = counts.Valid;
            int* analytic = counts.Analytic;
            int n = counts.Length, i = 0;
            if (valid is null)
                for (; i + 8 <= n; i += 8)
                {
                    var dot = (Widen(agree + i) << 1) - Vector256.Load(analytic + i);
                    TEpi.Apply(Vector256.ConvertToSingle(dot) * vs, a, b).Store(y + i);
                }
            else
                for (; i + 8 <= n; i += 8)
                {
                    var dot = (Widen(agree + i) << 1) - Widen(valid + i);
                    TEpi.Apply(Vector256.ConvertToSingle(dot) * vs, a, b).Store(y + i);
                }
            return i;
        }
    }
}

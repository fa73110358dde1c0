using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>
    /// Writes dot·β (one rounding, as libtorch's eval-mode layer computes it) and the fused element-wise ops, 16
    /// pixels at a time, straight from the counts.
    /// </summary>
    internal sealed unsafe partial class OutputTransform : BitPlaneConv.Sink
    {
        public float* Output;
        public int OutStride;
        /// <summary>β per output channel.</summary>
        public float[] Scale = Array.Empty<float>();
        /// <summary>The element-wise ops after the convolution, in order.</summary>
        public List<Pointwise> Epilogue = new();
        /// <summary>The epilogue's BatchNorm when the epilogue is exactly ReLU then BatchNorm (fused in one pass), else null.</summary>
        public Pointwise? ReluThenAffine;
        /// <summary>An identity shortcut added after the epilogue (null: none), and its floats per image.</summary>
        public float* Shortcut;
        public int ShortcutStride;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Write(int image, int o, in BitPlaneConv.Counts counts)
        {
            WritePlane(image, o, counts);
            if (Shortcut is null) return;
            // out + shortcut, as the block's add rounds it, while the plane is still in L1.
            int n = counts.Length, i = 0;
            float* y = Output + (long)image * OutStride + (long)o * n, sc = Shortcut + (long)image * ShortcutStride + (long)o * n;
            if (KernelSelection.Avx2Float)
                for (; i + 8 <= n; i += 8) (Vector256.Load(y + i) + Vector256.Load(sc + i)).Store(y + i);
            else
                for (; i + 16 <= n; i += 16) (Vector512.Load(y + i) + Vector512.Load(sc + i)).Store(y + i);
            for (; i < n; i++) y[i] += sc[i];
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        void WritePlane(int image, int o, in BitPlaneConv.Counts counts)
        {
            int n = counts.Length;
            float* y = Output + (long)image * OutStride + (long)o * n;
            float s = Scale[o];
            int i = 0;
            var fusedOp = ReluThenAffine;
            if (KernelSelection.VectorOutputTransform)
            {
                var vs = Vector512.Create(s);
                var a = fusedOp is { } f1 ? Vector512.Create(f1.A![o]) : default;
                var b = fusedOp is { } f2 ? Vector512.Create(f2.B![o]) : default;
                if (fusedOp is not null)
                    i = counts.Bias is not null
                        ? counts.Sign > 0 ? SetLoop<PlusSign, ReluAffine>(counts, y, vs, a, b) : SetLoop<MinusSign, ReluAffine>(counts, y, vs, a, b)
                        : CountLoop<ReluAffine>(counts, y, vs, a, b);
                else
                    i = counts.Bias is not null
                        ? counts.Sign > 0 ? SetLoop<PlusSign, ScaleOnly>(counts, y, vs, a, b) : SetLoop<MinusSign, ScaleOnly>(counts, y, vs, a, b)
                        : CountLoop<ScaleOnly>(counts, y, vs, a, b);
            }
            else if (KernelSelection.Avx2OutputTransform)
                i = WritePlane256(counts, y, s, fusedOp is { } f ? f.A![o] : 0, fusedOp is { } g ? g.B![o] : 0, fusedOp is not null);
            if (fusedOp is { } fused)
            {
                for (; i < n; i++) y[i] = fused.Apply(Epilogue[0].Apply(counts.Dot(i) * s, o), o);
                return;
            }
            for (; i < n; i++) y[i] = counts.Dot(i) * s;
            Pointwise.Apply(Epilogue, y, n, o);
        }

        interface ISign { static abstract Vector512<int> Apply(Vector512<int> bias, Vector512<int> t); }
        readonly struct PlusSign : ISign { public static Vector512<int> Apply(Vector512<int> bias, Vector512<int> t) => bias + t; }
        readonly struct MinusSign : ISign { public static Vector512<int> Apply(Vector512<int> bias, Vector512<int> t) => bias - t; }

        interface IEpilogue { static abstract Vector512<float> Apply(Vector512<float> v, Vector512<float> a, Vector512<float> b); }
        /// <summary>The ReSTE block's BN(ReLU(conv)) in the same pass.</summary>
        readonly struct ReluAffine : IEpilogue
        {
            public static Vector512<float> Apply(Vector512<float> v, Vector512<float> a, Vector512<float> b) =>
                Vector512.FusedMultiplyAdd(Vector512.Max(v, Vector512<float>.Zero), a, b);
        }
        readonly struct ScaleOnly : IEpilogue
        {
            public static Vector512<float> Apply(Vector512<float> v, Vector512<float> a, Vector512<float> b) => v;
        }

        /// <summary>Set counts: dot = bias ± (4·C − 2·S), then ·β (one rounding) and the epilogue; whole vectors only.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static int SetLoop<TSign, TEpi>(in BitPlaneConv.Counts counts, float* y, Vector512<float> vs, Vector512<float> a, Vector512<float> b)
            where TSign : struct, ISign where TEpi : struct, IEpilogue
        {
            ushort* set = counts.Agree, all = counts.Valid;
            short* bias = counts.Bias;
            int n = counts.Length, i = 0;
            for (; i + 16 <= n; i += 16)
            {
                var t = (Avx512F.ConvertToVector512Int32(Vector256.Load(set + i)) << 2) - (Avx512F.ConvertToVector512Int32(Vector256.Load(all + i)) << 1);
                var dot = TSign.Apply(Avx512F.ConvertToVector512Int32(Vector256.Load(bias + i)), t);
                TEpi.Apply(Vector512.ConvertToSingle(dot) * vs, a, b).Store(y + i);
            }
            return i;
        }

        /// <summary>Agreement counts: dot = 2·agree − valid (counted or analytic); whole vectors only.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static int CountLoop<TEpi>(in BitPlaneConv.Counts counts, float* y, Vector512<float> vs, Vector512<float> a, Vector512<float> b)
            where TEpi : struct, IEpilogue
        {
            ushort* agree = counts.Agree, valid = counts.Valid;
            int* analytic = counts.Analytic;
            int n = counts.Length, i = 0;
            if (valid is null)
                for (; i + 16 <= n; i += 16)
                {
                    var dot = (Avx512F.ConvertToVector512Int32(Vector256.Load(agree + i)) << 1) - Vector512.Load(analytic + i);
                    TEpi.Apply(Vector512.ConvertToSingle(dot) * vs, a, b).Store(y + i);
                }
            else
                for (; i + 16 <= n; i += 16)
                {
                    var dot = (Avx512F.ConvertToVector512Int32(Vector256.Load(agree + i)) << 1) - Avx512F.ConvertToVector512Int32(Vector256.Load(valid + i));
                    TEpi.Apply(Vector512.ConvertToSingle(dot) * vs, a, b).Store(y + i);
                }
            return i;
        }
    }

}

#if !NET9_0_OR_GREATER
using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ReSTE.Inference.Engine
{
    /// <summary>
    /// The .NET 9 vector APIs the engine uses, for the net8.0 build: the same fused multiply-add (one rounding), as
    /// <c>vfmadd</c> where AVX-512F (512-bit) or FMA (256-bit) is there and per element otherwise.
    /// </summary>
    static class Net8Compat
    {
        extension(Vector512)
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static Vector512<float> FusedMultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c)
            {
                if (Avx512F.IsSupported) return Avx512F.FusedMultiplyAdd(a, b, c);
                Span<float> r = stackalloc float[16];
                for (int i = 0; i < 16; i++) r[i] = MathF.FusedMultiplyAdd(a.GetElement(i), b.GetElement(i), c.GetElement(i));
                return Vector512.Create<float>(r);
            }
        }

        extension(Vector256)
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static Vector256<float> FusedMultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c)
            {
                if (Fma.IsSupported) return Fma.MultiplyAdd(a, b, c);
                Span<float> r = stackalloc float[8];
                for (int i = 0; i < 8; i++) r[i] = MathF.FusedMultiplyAdd(a.GetElement(i), b.GetElement(i), c.GetElement(i));
                return Vector256.Create<float>(r);
            }
        }
    }
}
#endif

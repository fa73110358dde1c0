using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ReSTE.Inference.Engine.Bitpacking
{
    /// <summary>
    /// Sign-bit packing of activations: per float, a bit in the positive stream (x &gt; 0) and one in the negative stream
    /// (x &lt; 0); an exact zero (either sign) and NaN are in neither, and are reported as "missing".
    /// </summary>
    internal static unsafe class SignPacking
    {
        /// <summary>Sign bits of n floats as bytes: bit i of pos is x[i] &gt; 0, of neg x[i] &lt; 0. Returns whether one is 0.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static bool SignBytes(float* x, int n, byte* pos, byte* neg)
        {
            int i = 0;
            uint missing = 0;
            var zero = Vector512<float>.Zero;
            ulong missing64 = 0;
            if (KernelSelection.Avx2SignBits)
            {
                // 32 floats a round: four masks of 8 (vcmpps + vmovmskps) joined into one dword per sign.
                var z = Vector256<float>.Zero;
                uint missing32 = 0;
                for (; i + 32 <= n; i += 32)
                {
                    var v0 = Vector256.Load(x + i); var v1 = Vector256.Load(x + i + 8);
                    var v2 = Vector256.Load(x + i + 16); var v3 = Vector256.Load(x + i + 24);
                    uint gt = Vector256.GreaterThan(v0, z).ExtractMostSignificantBits() | Vector256.GreaterThan(v1, z).ExtractMostSignificantBits() << 8
                        | Vector256.GreaterThan(v2, z).ExtractMostSignificantBits() << 16 | Vector256.GreaterThan(v3, z).ExtractMostSignificantBits() << 24;
                    uint lt = Vector256.LessThan(v0, z).ExtractMostSignificantBits() | Vector256.LessThan(v1, z).ExtractMostSignificantBits() << 8
                        | Vector256.LessThan(v2, z).ExtractMostSignificantBits() << 16 | Vector256.LessThan(v3, z).ExtractMostSignificantBits() << 24;
                    *(uint*)(pos + (i >> 3)) = gt;
                    *(uint*)(neg + (i >> 3)) = lt;
                    missing32 |= ~(gt | lt);
                }
                for (; i + 8 <= n; i += 8)
                {
                    var v = Vector256.Load(x + i);
                    uint gt = Vector256.GreaterThan(v, z).ExtractMostSignificantBits(), lt = Vector256.LessThan(v, z).ExtractMostSignificantBits();
                    pos[i >> 3] = (byte)gt;
                    neg[i >> 3] = (byte)lt;
                    missing32 |= ~(gt | lt) & 0xFF;
                }
                missing64 = missing32;
            }
            else
            {
                // 64 floats a round: four masks of 16 joined into one word per sign, one store each.
                for (; i + 64 <= n; i += 64)
                {
                    var v0 = Vector512.Load(x + i); var v1 = Vector512.Load(x + i + 16);
                    var v2 = Vector512.Load(x + i + 32); var v3 = Vector512.Load(x + i + 48);
                    ulong gt = Vector512.GreaterThan(v0, zero).ExtractMostSignificantBits() | Vector512.GreaterThan(v1, zero).ExtractMostSignificantBits() << 16
                        | Vector512.GreaterThan(v2, zero).ExtractMostSignificantBits() << 32 | Vector512.GreaterThan(v3, zero).ExtractMostSignificantBits() << 48;
                    ulong lt = Vector512.LessThan(v0, zero).ExtractMostSignificantBits() | Vector512.LessThan(v1, zero).ExtractMostSignificantBits() << 16
                        | Vector512.LessThan(v2, zero).ExtractMostSignificantBits() << 32 | Vector512.LessThan(v3, zero).ExtractMostSignificantBits() << 48;
                    *(ulong*)(pos + (i >> 3)) = gt;
                    *(ulong*)(neg + (i >> 3)) = lt;
                    missing64 |= ~(gt | lt);
                }
            }
            if (missing64 != 0) missing = 1;
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.Load(x + i);
                uint gt = (uint)Vector512.GreaterThan(v, zero).ExtractMostSignificantBits();
                uint lt = (uint)Vector512.LessThan(v, zero).ExtractMostSignificantBits();
                *(ushort*)(pos + (i >> 3)) = (ushort)gt;
                *(ushort*)(neg + (i >> 3)) = (ushort)lt;
                missing |= ~(gt | lt) & 0xFFFF;
            }
            for (; i < n; i += 8)
            {
                // Rows of 8 pixels: whole bytes.
                uint gt = 0, lt = 0;
                for (int b = 0; b < 8; b++)
                {
                    float v = x[i + b];
                    if (v > 0) gt |= 1u << b;
                    else if (v < 0) lt |= 1u << b;
                    else missing = 1;
                }
                pos[i >> 3] = (byte)gt;
                neg[i >> 3] = (byte)lt;
            }
            return missing != 0;
        }

        /// <summary>Sign bits of <paramref name="n"/> floats: bit i of pos is x[i] &gt; 0, of neg x[i] &lt; 0. Returns whether one is 0.</summary>
        internal static bool SignStream(float* x, int n, ulong* pos, ulong* neg, bool simd)
        {
            int words = (n + 63) / 64;
            new Span<ulong>(pos, words).Clear();
            new Span<ulong>(neg, words).Clear();
            int i = 0;
            ulong missing = 0;
            if (simd && KernelSelection.Avx2SignBits)
            {
                var zero = Vector256<float>.Zero;
                for (; i + 8 <= n; i += 8)
                {
                    var v = Vector256.Load(x + i);
                    ulong gt = Vector256.GreaterThan(v, zero).ExtractMostSignificantBits();
                    ulong lt = Vector256.LessThan(v, zero).ExtractMostSignificantBits();
                    // 8 bits from bit i & 63: within one word, since i is a multiple of 8.
                    pos[i >> 6] |= gt << (i & 63);
                    neg[i >> 6] |= lt << (i & 63);
                    missing |= ~(gt | lt) & 0xFF;
                }
            }
            else if (simd && KernelSelection.VectorSignStream)
            {
                var zero = Vector512<float>.Zero;
                for (; i + 16 <= n; i += 16)
                {
                    var v = Vector512.Load(x + i);
                    ulong gt = Vector512.GreaterThan(v, zero).ExtractMostSignificantBits();
                    ulong lt = Vector512.LessThan(v, zero).ExtractMostSignificantBits();
                    pos[i >> 6] |= gt << (i & 63);
                    neg[i >> 6] |= lt << (i & 63);
                    missing |= ~(gt | lt) & 0xFFFF;
                }
            }
            for (; i < n; i++)
            {
                float v = x[i];
                if (v > 0) pos[i >> 6] |= 1UL << (i & 63);
                else if (v < 0) neg[i >> 6] |= 1UL << (i & 63);
                else missing = 1;
            }
            return missing != 0;
        }
    }
}

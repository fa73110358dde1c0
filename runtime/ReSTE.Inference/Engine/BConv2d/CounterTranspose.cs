using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>Bit-sliced counter planes → one integer count per pixel (vpermb + gf2p8affineqb, AVX2's <see cref="CounterTranspose256"/>, or a portable loop).</summary>
    internal static unsafe class CounterTranspose
    {
        // ------------------------------------------------------------------ counter planes → integers

        static readonly Vector512<ulong> Level1Lo = Vector512.Create(0UL, 8, 1, 9, 2, 10, 3, 11);
        static readonly Vector512<ulong> Level1Hi = Vector512.Create(4UL, 12, 5, 13, 6, 14, 7, 15);
        static readonly Vector512<ulong> Level2Lo = Vector512.Create(0UL, 1, 8, 9, 2, 3, 10, 11);
        static readonly Vector512<ulong> Level2Hi = Vector512.Create(4UL, 5, 12, 13, 6, 7, 14, 15);
        static readonly Vector512<ulong> Level3Lo = Vector512.Create(0UL, 1, 2, 3, 8, 9, 10, 11);
        static readonly Vector512<ulong> Level3Hi = Vector512.Create(4UL, 5, 6, 7, 12, 13, 14, 15);
        /// <summary>vpermb: qword b of the result holds byte b of planes 7, 6, …, 0 (the matrix gf2p8affineqb transposes).</summary>
        static readonly Vector512<byte> ByteTranspose = CreateByteTranspose();
        /// <summary>Bytes 1, 2, 4, …, 128 in every qword: with the data as the matrix, gf2p8affineqb transposes its 8×8 bits.</summary>
        static readonly Vector512<byte> UnitBytes = Vector512.Create(0x8040201008040201UL).AsByte();

        static Vector512<byte> CreateByteTranspose()
        {
            var idx = new byte[64];
            for (int b = 0; b < 8; b++)
                for (int m = 0; m < 8; m++) idx[b * 8 + m] = (byte)((7 - m) * 8 + b);
            return Vector512.Create(idx);
        }

        /// <summary>Turns <paramref name="bits"/> counter planes into 512 per-pixel counts.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static void ToCounts(Vector512<ulong>* planes, int bits, ushort* counts, bool simd)
        {
            if (simd && KernelSelection.FastTranspose)
            {
                var lo = stackalloc Vector512<byte>[8];
                Transpose8(planes, Math.Min(bits, 8), lo);
                if (bits <= 8)
                {
                    for (int q = 0; q < 8; q++)
                    {
                        Avx512BW.ConvertToVector512UInt16(lo[q].GetLower()).Store(counts + q * 64);
                        Avx512BW.ConvertToVector512UInt16(lo[q].GetUpper()).Store(counts + q * 64 + 32);
                    }
                    return;
                }
                var hi = stackalloc Vector512<byte>[8];
                Transpose8(planes + 8, bits - 8, hi);
                for (int q = 0; q < 8; q++)
                {
                    var l0 = Avx512BW.ConvertToVector512UInt16(lo[q].GetLower());
                    var l1 = Avx512BW.ConvertToVector512UInt16(lo[q].GetUpper());
                    var h0 = Avx512BW.ConvertToVector512UInt16(hi[q].GetLower());
                    var h1 = Avx512BW.ConvertToVector512UInt16(hi[q].GetUpper());
                    (l0 | (h0 << 8)).Store(counts + q * 64);
                    (l1 | (h1 << 8)).Store(counts + q * 64 + 32);
                }
                return;
            }
            if (simd && KernelSelection.Avx2Transpose)
            {
                CounterTranspose256.ToCounts(planes, bits, counts);
                return;
            }
            for (int p = 0; p < 512; p++)
            {
                int q = p >> 6, bit = p & 63, c = 0;
                for (int k = 0; k < bits; k++) c |= (int)((planes[k].GetElement(q) >> bit) & 1) << k;
                counts[p] = (ushort)c;
            }
        }

        /// <summary>
        /// Up to 8 counter planes → 8 vectors of 64 byte counts (vector q: pixels 64q … 64q + 63): a qword transpose
        /// (vector q gathers qword q of every plane), then per vector a byte transpose and a bit transpose.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static void Transpose8(Vector512<ulong>* planes, int count, Vector512<byte>* result)
        {
            var z = Vector512<ulong>.Zero;
            Vector512<ulong> p0 = count > 0 ? planes[0] : z, p1 = count > 1 ? planes[1] : z, p2 = count > 2 ? planes[2] : z, p3 = count > 3 ? planes[3] : z;
            Vector512<ulong> p4 = count > 4 ? planes[4] : z, p5 = count > 5 ? planes[5] : z, p6 = count > 6 ? planes[6] : z, p7 = count > 7 ? planes[7] : z;
            var a01 = Avx512F.PermuteVar8x64x2(p0, Level1Lo, p1); var b01 = Avx512F.PermuteVar8x64x2(p0, Level1Hi, p1);
            var a23 = Avx512F.PermuteVar8x64x2(p2, Level1Lo, p3); var b23 = Avx512F.PermuteVar8x64x2(p2, Level1Hi, p3);
            var a45 = Avx512F.PermuteVar8x64x2(p4, Level1Lo, p5); var b45 = Avx512F.PermuteVar8x64x2(p4, Level1Hi, p5);
            var a67 = Avx512F.PermuteVar8x64x2(p6, Level1Lo, p7); var b67 = Avx512F.PermuteVar8x64x2(p6, Level1Hi, p7);
            var c0 = Avx512F.PermuteVar8x64x2(a01, Level2Lo, a23); var d0 = Avx512F.PermuteVar8x64x2(a01, Level2Hi, a23);
            var e0 = Avx512F.PermuteVar8x64x2(b01, Level2Lo, b23); var f0 = Avx512F.PermuteVar8x64x2(b01, Level2Hi, b23);
            var c1 = Avx512F.PermuteVar8x64x2(a45, Level2Lo, a67); var d1 = Avx512F.PermuteVar8x64x2(a45, Level2Hi, a67);
            var e1 = Avx512F.PermuteVar8x64x2(b45, Level2Lo, b67); var f1 = Avx512F.PermuteVar8x64x2(b45, Level2Hi, b67);
            result[0] = BitTranspose(Avx512F.PermuteVar8x64x2(c0, Level3Lo, c1));
            result[1] = BitTranspose(Avx512F.PermuteVar8x64x2(c0, Level3Hi, c1));
            result[2] = BitTranspose(Avx512F.PermuteVar8x64x2(d0, Level3Lo, d1));
            result[3] = BitTranspose(Avx512F.PermuteVar8x64x2(d0, Level3Hi, d1));
            result[4] = BitTranspose(Avx512F.PermuteVar8x64x2(e0, Level3Lo, e1));
            result[5] = BitTranspose(Avx512F.PermuteVar8x64x2(e0, Level3Hi, e1));
            result[6] = BitTranspose(Avx512F.PermuteVar8x64x2(f0, Level3Lo, f1));
            result[7] = BitTranspose(Avx512F.PermuteVar8x64x2(f0, Level3Hi, f1));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<byte> BitTranspose(Vector512<ulong> planesOfQword) =>
#if NET10_0_OR_GREATER
            Gfni.V512.GaloisFieldAffineTransform(UnitBytes, Avx512Vbmi.PermuteVar64x8(planesOfQword.AsByte(), ByteTranspose), 0);
#else
            throw new PlatformNotSupportedException("GFNI needs .NET 10 (KernelSelection.FastTranspose is false on net8.0).");
#endif
    }
}

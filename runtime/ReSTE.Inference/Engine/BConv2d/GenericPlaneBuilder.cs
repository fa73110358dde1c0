using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static ReSTE.Inference.Engine.Bitpacking.SignPacking;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>The general tap-plane builder: any stride, padding and row width up to 64 bits with padding.</summary>
    internal sealed unsafe partial class BitPlaneConv
    {
        /// <summary><see cref="BuildPlanes"/> for any geometry.</summary>
        internal bool BuildGeneric(float* x, ulong* scratch, ulong* first, int group, long groupStride, int laneStride, long tapStride, bool withN, bool simd)
        {
            int signs = withN ? 2 : 1;
            int hw = InH * InW;
            ulong* pos = scratch, neg = scratch + (long)InC * _streamWords;
            ulong* prowP = neg + (long)InC * _streamWords, prowN = prowP + _rowWords;
            ulong* dec = prowN + _rowWords;
            bool zeros = false;
            for (int c = 0; c < InC; c++)
                zeros |= SignStream(x + (long)c * hw, hw, pos + (long)c * _streamWords, neg + (long)c * _streamWords, simd);
            ulong rowMask = InW == 64 ? ulong.MaxValue : (1UL << InW) - 1;
            for (int c = 0; c < InC; c++)
            {
                PaddedRows(pos + (long)c * _streamWords, prowP, rowMask);
                PaddedRows(neg + (long)c * _streamWords, prowN, rowMask);
                ulong* baseAddr = first + (c / group) * groupStride + (c % group) * laneStride;
                for (int sign = 0; sign < signs; sign++)
                {
                    ulong* prow = sign == 0 ? prowP : prowN;
                    for (int ky = 0; ky < KH; ky++)
                        for (int kx = 0; kx < KW; kx++)
                        {
                            ulong* rows;
                            if (Stride == 1) rows = prow + ky;
                            else
                            {
                                // Every Stride-th row and every Stride-th bit from phase kx mod Stride.
                                rows = dec;
                                int phase = kx % Stride;
                                ulong keep = StrideMask(Stride) << phase;
                                for (int oy = 0; oy < OutH; oy++) rows[oy] = ExtractBits(prow[oy * Stride + ky], keep);
                            }
                            int t = ky * KW + kx;
                            WritePlane(rows, kx / Stride, baseAddr + (sign * Taps + t) * tapStride, simd);
                        }
                }
            }
            return zeros;
        }

        static ulong StrideMask(int stride)
        {
            ulong m = 0;
            for (int i = 0; i < 64; i += stride) m |= 1UL << i;
            return m;
        }

        static ulong ExtractBits(ulong value, ulong mask)
        {
            if (KernelSelection.BitExtract) return Bmi2.X64.ParallelBitExtract(value, mask);
            ulong r = 0;
            int k = 0;
            for (; mask != 0; mask &= mask - 1, k++)
                if ((value & (mask & ~(mask - 1))) != 0) r |= 1UL << k;
            return r;
        }

        /// <summary>Input rows as words with <see cref="Pad"/> zero bits before each row and zero rows above and below.</summary>
        void PaddedRows(ulong* stream, ulong* rows, ulong rowMask)
        {
            for (int r = 0; r < Pad; r++) { rows[r] = 0; rows[_rowWords - 1 - r] = 0; }
            for (int y = 0; y < InH; y++)
            {
                int bit = y * InW, word = bit >> 6, off = bit & 63;
                ulong v = stream[word] >> off;
                if (off != 0 && off + InW > 64) v |= stream[word + 1] << (64 - off);
                rows[y + Pad] = (v & rowMask) << Pad;
            }
        }

        /// <summary>Output row oy of a tap plane is <c>(rows[oy] &gt;&gt; shift)</c>'s low OutW bits; the plane's words are overwritten.</summary>
        void WritePlane(ulong* rows, int shift, ulong* plane, bool simd)
        {
            int ow = OutW, oh = OutH;
            int oy = 0;
            if (simd && KernelSelection.VectorPlaneRows && (ow == 8 || ow == 16 || ow == 32))
            {
                byte* dst = (byte*)plane;
                for (; oy + 8 <= oh; oy += 8)
                {
                    var v = Vector512.ShiftRightLogical(Vector512.Load(rows + oy), shift);
                    if (ow == 32) Avx512F.ConvertToVector256UInt32(v).Store((uint*)(dst + oy * 4));
                    else if (ow == 16) Avx512F.ConvertToVector128UInt16(v).Store((ushort*)(dst + oy * 2));
                    else *(ulong*)(dst + oy) = Avx512F.ConvertToVector128Byte(v).AsUInt64().ToScalar();
                }
                if (oy == oh) return;
            }
            ulong mask = ow == 64 ? ulong.MaxValue : (1UL << ow) - 1;
            // The vector path stops at a multiple of 8 rows of 8, 16 or 32 bits: a word boundary.
            int firstWord = oy * ow >> 6;
            new Span<ulong>(plane + firstWord, PlaneWords - firstWord).Clear();
            for (; oy < oh; oy++) Insert(plane, oy * ow, (rows[oy] >> shift) & mask, ow);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Insert(ulong* plane, int bit, ulong value, int width)
        {
            int word = bit >> 6, off = bit & 63;
            plane[word] |= value << off;
            if (off != 0 && off + width > 64) plane[word + 1] |= value >> (64 - off);
        }
    }
}

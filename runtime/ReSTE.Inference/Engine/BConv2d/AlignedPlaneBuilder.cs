using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static ReSTE.Inference.Engine.BConv2d.RowShift;
using static ReSTE.Inference.Engine.Bitpacking.SignPacking;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>The tap-plane builder for stride 1, "same" padding and rows of 8, 16, 32 or 64 pixels.</summary>
    internal sealed unsafe partial class BitPlaneConv
    {
        /// <summary><see cref="BuildPlanes"/> for the row-aligned case (<see cref="_aligned"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal bool BuildAligned(float* x, byte* scratch, ulong* first, int group, long groupStride, int laneStride, long tapStride, bool withN)
        {
            int hw = InH * InW, rb = _rowBytes, pb = _planeBytes, cs = _channelBytes, padBytes = Pad * rb, signs = withN ? 2 : 1;
            byte* pos = scratch, neg = scratch + (long)InC * cs;
            bool zeros = false;
            for (int c = 0; c < InC; c++)
            {
                byte* p = pos + (long)c * cs, n = neg + (long)c * cs;
                // The zero rows above (before the sign bytes are written: the words may run into them) and below (the
                // channel's slack of 64 bytes takes the overrun).
                ZeroWords(p, padBytes);
                ZeroWords(n, padBytes);
                ZeroWords(p + padBytes + pb, padBytes);
                ZeroWords(n + padBytes + pb, padBytes);
                zeros |= SignBytes(x + (long)c * hw, hw, p + padBytes, n + padBytes);
                byte* dst = (byte*)(first + (c / group) * groupStride + (c % group) * laneStride);
                if (InW == 8 && InH == 8)
                {
                    // An 8×8 plane is one word, a row per byte: each tap is one shift and one mask, inline (a
                    // ShiftRows call per tap cost more than the shift here, with 64 to 512 channels of 18 taps).
                    for (int sign = 0; sign < signs; sign++)
                    {
                        byte* src = sign == 0 ? p : n;
                        for (int ky = 0; ky < KH; ky++)
                        {
                            ulong rows = *(ulong*)(src + ky);
                            for (int kx = 0; kx < KW; kx++)
                            {
                                int dx = kx - Pad;
                                ulong v = dx >= 0 ? (rows >> dx) & ((0xFFUL >> dx) * 0x0101010101010101UL)
                                                  : (rows << -dx) & (((0xFFUL << -dx) & 0xFF) * 0x0101010101010101UL);
                                *(ulong*)(dst + (sign * Taps + ky * KW + kx) * tapStride * 8) = v;
                            }
                        }
                    }
                    continue;
                }
                for (int sign = 0; sign < signs; sign++)
                {
                    byte* src = sign == 0 ? p : n, d = dst + sign * Taps * tapStride * 8;
                    switch (InW)
                    {
                        case 32: AllTaps<uint>(src, d, rb, pb, tapStride * 8); break;
                        case 16: AllTaps<ushort>(src, d, rb, pb, tapStride * 8); break;
                        case 8: AllTaps<byte>(src, d, rb, pb, tapStride * 8); break;
                        default: AllTaps<ulong>(src, d, rb, pb, tapStride * 8); break;
                    }
                }
            }
            return zeros;
        }

        /// <summary>The tap planes of one sign plane of row-aligned bits (rows of T), one shifted copy per tap.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        void AllTaps<T>(byte* src, byte* dst, int rowBytes, int planeBytes, long tapBytes) where T : unmanaged, IBinaryInteger<T>
        {
            for (int ky = 0; ky < KH; ky++)
                for (int kx = 0; kx < KW; kx++)
                    ShiftRows<T>(src + ky * rowBytes, dst + (ky * KW + kx) * tapBytes, planeBytes, kx - Pad);
        }

        /// <summary>
        /// Zeroes <paramref name="count"/> bytes a word at a time, up to 7 bytes past the end (a few bytes of padding
        /// rows: a call to memset per row cost more than the rest of building a small plane).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void ZeroWords(byte* p, int count)
        {
            for (int b = 0; b < count; b += 8) *(ulong*)(p + b) = 0;
        }
    }
}

using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static ReSTE.Inference.Engine.BConv2d.RowShift;
using static ReSTE.Inference.Engine.Bitpacking.SignPacking;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>The tap-plane builder for stride 2 halving the input (output rows of 8, 16 or 32 pixels).</summary>
    internal sealed unsafe partial class BitPlaneConv
    {
        /// <summary><see cref="BuildPlanes"/> for stride 2 halving the input (<see cref="_halved"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal bool BuildHalved(float* x, byte* scratch, ulong* first, int group, long groupStride, int laneStride, long tapStride, bool withN)
        {
            int hw = InH * InW, inRow = InW / 8, outRow = OutW / 8, pb = OutH * outRow, pp = _phasePad, phase = _phaseBytes, signs = withN ? 2 : 1;
            byte* pos = scratch, neg = scratch + InH * inRow + 64;
            byte* phases = neg + InH * inRow + 64; // [sign][row parity][column parity]
            ulong even = StrideMask(2) & (InW == 64 ? ulong.MaxValue : (1UL << InW) - 1), odd = even << 1;
            bool zeros = false;
            for (int c = 0; c < InC; c++)
            {
                zeros |= SignBytes(x + (long)c * hw, hw, pos, neg);
                new Span<byte>(phases, 8 * phase).Clear();
                for (int sign = 0; sign < signs; sign++)
                {
                    byte* rows = sign == 0 ? pos : neg;
                    for (int r = 0; r < InH; r++)
                    {
                        ulong bits = InW == 64 ? *(ulong*)(rows + r * inRow) : InW == 32 ? *(uint*)(rows + r * inRow) : *(ushort*)(rows + r * inRow);
                        byte* target = phases + ((sign * 2 + (r & 1)) * 2) * phase + ((r >> 1) + pp) * outRow;
                        ulong e = Bmi2.X64.ParallelBitExtract(bits, even), o = Bmi2.X64.ParallelBitExtract(bits, odd);
                        if (outRow == 4) { *(uint*)target = (uint)e; *(uint*)(target + phase) = (uint)o; }
                        else if (outRow == 2) { *(ushort*)target = (ushort)e; *(ushort*)(target + phase) = (ushort)o; }
                        else { *target = (byte)e; *(target + phase) = (byte)o; }
                    }
                }
                byte* dst = (byte*)(first + (c / group) * groupStride + (c % group) * laneStride);
                for (int sign = 0; sign < signs; sign++)
                    for (int ky = 0; ky < KH; ky++)
                        for (int kx = 0; kx < KW; kx++)
                        {
                            // Input row 2·oy + dy is row oy + sy of the phase with row parity ry; columns likewise.
                            int dy = ky - Pad, dx = kx - Pad, ry = dy & 1, rx = dx & 1, sy = (dy - ry) >> 1, sx = (dx - rx) >> 1;
                            byte* src = phases + ((sign * 2 + ry) * 2 + rx) * phase + (pp + sy) * outRow;
                            ShiftRows(src, dst + (sign * Taps + ky * KW + kx) * tapStride * 8, pb, sx, OutW);
                        }
            }
            return zeros;
        }
    }
}

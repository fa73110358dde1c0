using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>Shifts of row-aligned bit rows (rows of 8, 16, 32 or 64 pixels), used by the aligned and halved plane builders.</summary>
    internal static unsafe class RowShift
    {
        /// <summary>
        /// Copies <paramref name="bytes"/> bytes of row-aligned bits, each row shifted by <paramref name="dx"/> pixels
        /// (output pixel x takes input pixel x + dx; zero where that leaves the row).
        /// </summary>
        internal static void ShiftRows(byte* src, byte* dst, int bytes, int dx, int width)
        {
            switch (width)
            {
                case 32: ShiftRows<uint>(src, dst, bytes, dx); break;
                case 16: ShiftRows<ushort>(src, dst, bytes, dx); break;
                case 8: ShiftRows<byte>(src, dst, bytes, dx); break;
                default: ShiftRows<ulong>(src, dst, bytes, dx); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void ShiftRows<T>(byte* src, byte* dst, int bytes, int dx) where T : unmanaged, IBinaryInteger<T>
        {
            int i = 0;
            // With AVX2 and no hardware Vector512, whole 32-byte vectors only (a Vector512 would run in software).
            if (!KernelSelection.Avx2RowShifts)
                for (; i + 64 <= bytes; i += 64) Shift(Vector512.Load((T*)(src + i)), dx).Store((T*)(dst + i));
            for (; i + 32 <= bytes; i += 32) Shift(Vector256.Load((T*)(src + i)), dx).Store((T*)(dst + i));
            for (; i + 16 <= bytes; i += 16) Shift(Vector128.Load((T*)(src + i)), dx).Store((T*)(dst + i));
            if (i + 8 <= bytes)
            {
                // Lanes of a word: shift the word, then clear the bits that crossed into a neighbouring lane.
                ulong lane = sizeof(T) == 8 ? ulong.MaxValue : (1UL << (8 * sizeof(T))) - 1;
                ulong keep = (dx >= 0 ? lane >> dx : (lane << -dx) & lane) * (ulong.MaxValue / lane);
                for (; i + 8 <= bytes; i += 8)
                {
                    ulong v = *(ulong*)(src + i);
                    *(ulong*)(dst + i) = (dx >= 0 ? v >> dx : v << -dx) & keep;
                }
            }
            for (; i < bytes; i += sizeof(T))
            {
                T v = *(T*)(src + i);
                *(T*)(dst + i) = dx >= 0 ? v >>> dx : v << -dx;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<T> Shift<T>(Vector512<T> v, int dx) where T : unmanaged, IBinaryInteger<T> =>
            dx >= 0 ? v >>> dx : v << -dx;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<T> Shift<T>(Vector256<T> v, int dx) where T : unmanaged, IBinaryInteger<T> =>
            dx >= 0 ? v >>> dx : v << -dx;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector128<T> Shift<T>(Vector128<T> v, int dx) where T : unmanaged, IBinaryInteger<T> =>
            dx >= 0 ? v >>> dx : v << -dx;
    }
}

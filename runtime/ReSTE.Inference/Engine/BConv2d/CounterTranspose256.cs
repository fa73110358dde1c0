using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>
    /// Bit-sliced counter planes → one count per pixel with AVX2 (<see cref="KernelSelection.Avx2Transpose"/>), 32
    /// pixels per vector: for each plane, the 32 bits of those pixels broadcast to every dword, vpshufb spreads byte j of
    /// them to the 8 bytes of pixels 8j … 8j + 7, vpand + vpcmpeqb with 1, 2, 4, …, 128 turn each pixel's bit into a
    /// byte of 0 or −1, and the count's bits are gathered high plane first (count = 2·count − mask). Counts of up to 8
    /// planes are bytes; planes 8 and up make a second byte, joined as the high half of each 16-bit count.
    /// </summary>
    internal static unsafe class CounterTranspose256
    {
        /// <summary>Turns <paramref name="bits"/> (1 to 16) counter planes into 512 per-pixel counts, as <see cref="CounterTranspose.ToCounts"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static void ToCounts(Vector512<ulong>* planes, int bits, ushort* counts)
        {
            byte* p = (byte*)planes;
            // vpshufb works within 128-bit lanes: the low lane takes bytes 0 and 1 of the broadcast dword, the high lane bytes 2 and 3.
            var spread = Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
            var bit = Vector256.Create(0x8040201008040201UL).AsByte();
            int low = bits < 8 ? bits : 8;
            for (int j = 0; j < 16; j++)
            {
                byte* chunk = p + 4 * j;
                var lo = Gather(chunk, 0, low, spread, bit);
                if (bits <= 8)
                {
                    Avx2.ConvertToVector256Int16(lo.GetLower()).AsUInt16().Store(counts + 32 * j);
                    Avx2.ConvertToVector256Int16(lo.GetUpper()).AsUInt16().Store(counts + 32 * j + 16);
                    continue;
                }
                var hi = Gather(chunk, 8, bits, spread, bit);
                var l0 = Avx2.ConvertToVector256Int16(lo.GetLower()).AsUInt16();
                var l1 = Avx2.ConvertToVector256Int16(lo.GetUpper()).AsUInt16();
                var h0 = Avx2.ConvertToVector256Int16(hi.GetLower()).AsUInt16();
                var h1 = Avx2.ConvertToVector256Int16(hi.GetUpper()).AsUInt16();
                (l0 | Avx2.ShiftLeftLogical(h0, 8)).Store(counts + 32 * j);
                (l1 | Avx2.ShiftLeftLogical(h1, 8)).Store(counts + 32 * j + 16);
            }
        }

        /// <summary>Bits from..to−1 of the counts of the 32 pixels whose plane bits are the dword at <paramref name="chunk"/> (plane k 64·k bytes further).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<byte> Gather(byte* chunk, int from, int to, Vector256<byte> spread, Vector256<byte> bit)
        {
            var acc = Vector256<byte>.Zero;
            for (int k = to - 1; k >= from; k--)
            {
                var v = Avx2.Shuffle(Vector256.Create(*(uint*)(chunk + 64 * k)).AsByte(), spread);
                var set = Avx2.CompareEqual(v & bit, bit);
                acc = Avx2.Subtract(Avx2.Add(acc, acc), set);
            }
            return acc;
        }
    }
}

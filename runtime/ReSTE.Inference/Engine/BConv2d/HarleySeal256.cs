using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static ReSTE.Inference.Engine.BConv2d.HarleySeal;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>
    /// Harley–Seal counting with AVX2 (<see cref="KernelSelection.Avx2Counting"/>): the same counter planes as
    /// <see cref="HarleySeal.Count"/>, each 512-pixel input counted as two 256-bit halves, one after the other, so that
    /// the five running counters and the adder tree's temporaries of one half stay in the 16 ymm registers (carry-save
    /// adders of 5 logic ops each: AVX2 has no vpternlogq). Counter plane k's half h is the 32 bytes at
    /// <c>planes[k] + 32·h</c>, so the result is laid out as the 512-bit count's.
    /// </summary>
    internal static unsafe class HarleySeal256
    {
        /// <summary>Carry-save adder: l + a + b = l' + 2h, bit by bit.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Csa(out Vector256<ulong> h, ref Vector256<ulong> l, Vector256<ulong> a, Vector256<ulong> b)
        {
            var u = l ^ a;
            h = (l & a) | (u & b);
            l = u ^ b;
        }

        /// <summary>Adds <paramref name="carry"/> (weight 2^from) into the counter planes from..bits−1 (every other Vector256: one half).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Ripple(Vector256<ulong>* planes, int from, int bits, Vector256<ulong> carry)
        {
            for (int k = from; k < bits; k++)
            {
                var t = planes[2 * k] & carry;
                planes[2 * k] ^= carry;
                carry = t;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<ulong> Block16<T>(ref T x, int i, int h, ref Vector256<ulong> ones, ref Vector256<ulong> twos, ref Vector256<ulong> fours, ref Vector256<ulong> eights)
            where T : struct, IInputs
        {
            Csa(out var twosA, ref ones, x.Half(i, h), x.Half(i + 1, h));
            Csa(out var twosB, ref ones, x.Half(i + 2, h), x.Half(i + 3, h));
            Csa(out var foursA, ref twos, twosA, twosB);
            Csa(out twosA, ref ones, x.Half(i + 4, h), x.Half(i + 5, h));
            Csa(out twosB, ref ones, x.Half(i + 6, h), x.Half(i + 7, h));
            Csa(out var foursB, ref twos, twosA, twosB);
            Csa(out var eightsA, ref fours, foursA, foursB);
            Csa(out twosA, ref ones, x.Half(i + 8, h), x.Half(i + 9, h));
            Csa(out twosB, ref ones, x.Half(i + 10, h), x.Half(i + 11, h));
            Csa(out foursA, ref twos, twosA, twosB);
            Csa(out twosA, ref ones, x.Half(i + 12, h), x.Half(i + 13, h));
            Csa(out twosB, ref ones, x.Half(i + 14, h), x.Half(i + 15, h));
            Csa(out foursB, ref twos, twosA, twosB);
            Csa(out var eightsB, ref fours, foursA, foursB);
            Csa(out var sixteens, ref eights, eightsA, eightsB);
            return sixteens;
        }

        /// <summary>
        /// Per bit position, how many of the <paramref name="n"/> inputs have it set, as <paramref name="bits"/>
        /// bit-sliced 512-bit planes (plane k = bit k of the count), as <see cref="HarleySeal.Count"/> gives them.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static void Count<T>(T x, int n, Vector512<ulong>* planes, int bits) where T : struct, IInputs
        {
            CountHalf(x, n, (Vector256<ulong>*)planes, bits, 0);
            CountHalf(x, n, (Vector256<ulong>*)planes + 1, bits, 1);
        }

        /// <summary>Half <paramref name="h"/> of every input into half h of the counter planes (<paramref name="x"/> is a copy: its cursor moves here only).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void CountHalf<T>(T x, int n, Vector256<ulong>* planes, int bits, int h) where T : struct, IInputs
        {
            for (int k = 0; k < bits; k++) planes[2 * k] = Vector256<ulong>.Zero;
            Vector256<ulong> ones = default, twos = default, fours = default, eights = default, sixteens = default;
            int i = 0;
            for (; i + 32 <= n; i += 32)
            {
                var a = Block16(ref x, 0, h, ref ones, ref twos, ref fours, ref eights);
                var b = Block16(ref x, 16, h, ref ones, ref twos, ref fours, ref eights);
                x.Advance(32);
                Csa(out var thirtyTwos, ref sixteens, a, b);
                Ripple(planes, 5, bits, thirtyTwos);
            }
            if (i + 16 <= n)
            {
                var a = Block16(ref x, 0, h, ref ones, ref twos, ref fours, ref eights);
                x.Advance(16);
                var carry = sixteens & a;
                sixteens ^= a;
                Ripple(planes, 5, bits, carry);
                i += 16;
            }
            planes[0] = ones; planes[2] = twos; planes[4] = fours; planes[6] = eights; planes[8] = sixteens;
            for (; i < n; i++)
            {
                Ripple(planes, 0, bits, x.Half(0, h));
                x.Advance(1);
            }
        }
    }
}

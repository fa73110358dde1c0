using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>Per bit position, the count of set bits over many input vectors, as bit-sliced counter planes (Harley–Seal).</summary>
    internal static unsafe class HarleySeal
    {
        /// <summary>
        /// A sequence of input vectors, read at small constant offsets from a cursor that <see cref="Advance"/> moves, so
        /// that an input costs one load of its offset and one vector load.
        /// </summary>
        internal interface IInputs
        {
            Vector512<ulong> this[int i] { get; }
            /// <summary>Half <paramref name="h"/> (0: words 0–3, 1: words 4–7) of input i, for the 256-bit count (<see cref="HarleySeal256"/>).</summary>
            Vector256<ulong> Half(int i, int h);
            void Advance(int n);
        }

        /// <summary>Input i is the vector at byte offset offsets[i] (the sign plane that agrees with the weight).</summary>
        internal struct IndexedInputs : IInputs
        {
            readonly byte* _base;
            int* _offsets;
            public IndexedInputs(Vector512<ulong>* b, int* offsets) { _base = (byte*)b; _offsets = offsets; }
            public readonly Vector512<ulong> this[int i] { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => *(Vector512<ulong>*)(_base + _offsets[i]); }
            [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<ulong> Half(int i, int h) => *(Vector256<ulong>*)(_base + _offsets[i] + 32 * h);
            [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Advance(int n) => _offsets += n;
        }

        /// <summary>Input i is the vector at i·stride.</summary>
        internal struct StridedInputs : IInputs
        {
            Vector512<ulong>* _base;
            readonly int _stride;
            public StridedInputs(Vector512<ulong>* b, int stride) { _base = b; _stride = stride; }
            public readonly Vector512<ulong> this[int i] { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => _base[i * _stride]; }
            [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<ulong> Half(int i, int h) => ((Vector256<ulong>*)(_base + (long)i * _stride))[h];
            [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Advance(int n) => _base += (long)n * _stride;
        }

        /// <summary>Carry-save adder: l + a + b = l' + 2h, bit by bit.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Csa(out Vector512<ulong> h, ref Vector512<ulong> l, Vector512<ulong> a, Vector512<ulong> b)
        {
            if (KernelSelection.TernaryLogic)
            {
                h = Avx512F.TernaryLogic(l, a, b, 0xE8);
                l = Avx512F.TernaryLogic(l, a, b, 0x96);
            }
            else
            {
                var u = l ^ a;
                h = (l & a) | (u & b);
                l = u ^ b;
            }
        }

        /// <summary>Adds <paramref name="carry"/> (weight 2^from) into the counter planes from..bits−1.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Ripple(Vector512<ulong>* planes, int from, int bits, Vector512<ulong> carry)
        {
            for (int k = from; k < bits; k++)
            {
                var t = planes[k] & carry;
                planes[k] ^= carry;
                carry = t;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<ulong> Block16<T>(ref T x, int i, ref Vector512<ulong> ones, ref Vector512<ulong> twos, ref Vector512<ulong> fours, ref Vector512<ulong> eights)
            where T : struct, IInputs
        {
            Csa(out var twosA, ref ones, x[i], x[i + 1]);
            Csa(out var twosB, ref ones, x[i + 2], x[i + 3]);
            Csa(out var foursA, ref twos, twosA, twosB);
            Csa(out twosA, ref ones, x[i + 4], x[i + 5]);
            Csa(out twosB, ref ones, x[i + 6], x[i + 7]);
            Csa(out var foursB, ref twos, twosA, twosB);
            Csa(out var eightsA, ref fours, foursA, foursB);
            Csa(out twosA, ref ones, x[i + 8], x[i + 9]);
            Csa(out twosB, ref ones, x[i + 10], x[i + 11]);
            Csa(out foursA, ref twos, twosA, twosB);
            Csa(out twosA, ref ones, x[i + 12], x[i + 13]);
            Csa(out twosB, ref ones, x[i + 14], x[i + 15]);
            Csa(out foursB, ref twos, twosA, twosB);
            Csa(out var eightsB, ref fours, foursA, foursB);
            Csa(out var sixteens, ref eights, eightsA, eightsB);
            return sixteens;
        }

        /// <summary>
        /// Per bit position, how many of the <paramref name="n"/> inputs have it set, as <paramref name="bits"/>
        /// bit-sliced planes (plane k = bit k of the count). Harley–Seal: blocks of 16 inputs through a tree of
        /// carry-save adders, pairs of blocks through one more, the rest rippled in.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static void Count<T>(T x, int n, Vector512<ulong>* planes, int bits) where T : struct, IInputs
        {
            if (KernelSelection.Avx2Counting)
            {
                HarleySeal256.Count(x, n, planes, bits);
                return;
            }
            for (int k = 0; k < bits; k++) planes[k] = Vector512<ulong>.Zero;
            Vector512<ulong> ones = default, twos = default, fours = default, eights = default, sixteens = default;
            int i = 0;
            for (; i + 32 <= n; i += 32)
            {
                var a = Block16(ref x, 0, ref ones, ref twos, ref fours, ref eights);
                var b = Block16(ref x, 16, ref ones, ref twos, ref fours, ref eights);
                x.Advance(32);
                Csa(out var thirtyTwos, ref sixteens, a, b);
                Ripple(planes, 5, bits, thirtyTwos);
            }
            if (i + 16 <= n)
            {
                var a = Block16(ref x, 0, ref ones, ref twos, ref fours, ref eights);
                x.Advance(16);
                var carry = sixteens & a;
                sixteens ^= a;
                Ripple(planes, 5, bits, carry);
                i += 16;
            }
            planes[0] = ones; planes[1] = twos; planes[2] = fours; planes[3] = eights; planes[4] = sixteens;
            for (; i < n; i++)
            {
                Ripple(planes, 0, bits, x[0]);
                x.Advance(1);
            }
        }
    }
}

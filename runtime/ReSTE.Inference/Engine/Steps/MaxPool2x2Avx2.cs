using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ReSTE.Inference.Engine.Steps
{
    /// <summary>
    /// 2×2 max pooling with stride 2, 8 outputs per vector (AVX2, <see cref="KernelSelection.Avx2MaxPool"/>): the even
    /// and odd pixels of the two input rows split with vshufps + vpermpd, then taken in the scalar loop's order (row 0
    /// even, odd, row 1 even, odd), each step keeping the new value where it is greater or NaN: the same floats as
    /// <see cref="MaxPoolStep"/>'s scalar loop, NaN propagated and the first of equal values (+0 or −0) kept.
    /// </summary>
    internal static unsafe class MaxPool2x2Avx2
    {
        /// <summary>Output pixels 0 … 8·⌊<paramref name="ow"/>/8⌋ − 1 of one row from input rows <paramref name="x"/> and x + iw; returns how many.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Row(float* x, int iw, float* y, int ow)
        {
            int ox = 0;
            for (; ox + 8 <= ow; ox += 8)
            {
                float* r0 = x + 2 * ox, r1 = r0 + iw;
                Split(Vector256.Load(r0), Vector256.Load(r0 + 8), out var e0, out var o0);
                Split(Vector256.Load(r1), Vector256.Load(r1 + 8), out var e1, out var o1);
                Step(Step(Step(e0, o0), e1), o1).Store(y + ox);
            }
            return ox;
        }

        /// <summary>Pixels 0, 2, …, 14 and 1, 3, …, 15 of the 16 in <paramref name="a"/> and <paramref name="b"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Split(Vector256<float> a, Vector256<float> b, out Vector256<float> even, out Vector256<float> odd)
        {
            // vshufps gives (a0 a2 b0 b2 | a4 a6 b4 b6); vpermpd 0b11_01_10_00 puts the 64-bit pairs in order.
            even = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
            odd = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
        }

        /// <summary>The scalar loop's <c>if (v &gt; m || float.IsNaN(v)) m = v</c>, lane by lane.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<float> Step(Vector256<float> m, Vector256<float> v) =>
            Vector256.ConditionalSelect(Vector256.GreaterThan(v, m) | ~Vector256.Equals(v, v), v, m);
    }
}

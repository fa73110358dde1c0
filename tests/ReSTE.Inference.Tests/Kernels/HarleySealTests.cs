using System;
using System.Collections.Generic;
using System.Numerics;
using System.Runtime.Intrinsics;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Engine.BConv2d;
using Xunit;

namespace ReSTE.Inference.Tests.Kernels
{
    /// <summary>
    /// Harley–Seal counting (Engine/BConv2d/HarleySeal.cs) against a naive popcount: per bit position of 512, how many of
    /// n input vectors have it set, read back from the bit-sliced counter planes. Runs the counting the machine selects
    /// (<see cref="KernelSelection.TernaryLogic"/>, <see cref="KernelSelection.Avx2Counting"/>; CI's leg without
    /// intrinsics runs the portable one), and the AVX2 count (<see cref="HarleySeal256"/>) directly where the CPU has AVX2.
    /// </summary>
    public unsafe class HarleySealTests
    {
        public static IEnumerable<object[]> Counts()
        {
            // Around the blocks of 16 and pairs of blocks (32), and up to a 3×3×512 convolution's 4,608 inputs.
            foreach (int n in new[] { 0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 255, 256, 257, 1000, 4608 })
                foreach (double density in new[] { 0.5, 0.97 })
                    yield return new object[] { n, density };
        }

        static Vector512<ulong> RandomVector(Random rng, double density)
        {
            Span<ulong> w = stackalloc ulong[8];
            for (int q = 0; q < 8; q++)
            {
                ulong v = 0;
                for (int b = 0; b < 64; b++) if (rng.NextDouble() < density) v |= 1UL << b;
                w[q] = v;
            }
            return Vector512.Create<ulong>(w);
        }

        static int[] NaiveCounts(Vector512<ulong>[] inputs, IReadOnlyList<int> order)
        {
            var counts = new int[512];
            foreach (int i in order)
                for (int p = 0; p < 512; p++) counts[p] += (int)((inputs[i].GetElement(p >> 6) >> (p & 63)) & 1);
            return counts;
        }

        static int[] Decode(Vector512<ulong>* planes, int bits)
        {
            var counts = new int[512];
            for (int p = 0; p < 512; p++)
                for (int k = 0; k < bits; k++) counts[p] |= (int)((planes[k].GetElement(p >> 6) >> (p & 63)) & 1) << k;
            return counts;
        }

        [Theory]
        [MemberData(nameof(Counts))]
        public void Strided_inputs_count_as_a_naive_popcount_per_bit(int n, double density)
        {
            var rng = new Random(n * 31 + (int)(density * 100));
            const int stride = 3;
            var inputs = new Vector512<ulong>[Math.Max(1, n * stride)];
            for (int i = 0; i < inputs.Length; i++) inputs[i] = RandomVector(rng, density);
            var order = new List<int>();
            for (int i = 0; i < n; i++) order.Add(i * stride);
            int bits = BitPlaneConv.BitLength(n);
            var planes = stackalloc Vector512<ulong>[16];
            for (int k = 0; k < 16; k++) planes[k] = Vector512<ulong>.AllBitsSet; // stale counts must not survive
            fixed (Vector512<ulong>* x = inputs)
                HarleySeal.Count(new HarleySeal.StridedInputs(x, stride), n, planes, bits);
            Assert.Equal(NaiveCounts(inputs, order), Decode(planes, bits));
        }

        [Theory]
        [MemberData(nameof(Counts))]
        public void Indexed_inputs_count_as_a_naive_popcount_per_bit(int n, double density)
        {
            var rng = new Random(n * 17 + (int)(density * 100));
            var inputs = new Vector512<ulong>[Math.Max(1, n / 2 + 1)];
            for (int i = 0; i < inputs.Length; i++) inputs[i] = RandomVector(rng, density);
            // Any vectors in any order, some more than once (byte offsets, as the kernels' weight tables hold them).
            var order = new List<int>();
            var offsets = new int[Math.Max(1, n)];
            for (int i = 0; i < n; i++) { order.Add(rng.Next(inputs.Length)); offsets[i] = 64 * order[i]; }
            int bits = BitPlaneConv.BitLength(n);
            var planes = stackalloc Vector512<ulong>[16];
            fixed (Vector512<ulong>* x = inputs)
            fixed (int* o = offsets)
                HarleySeal.Count(new HarleySeal.IndexedInputs(x, o), n, planes, bits);
            Assert.Equal(NaiveCounts(inputs, order), Decode(planes, bits));
        }

        [IsaTheory(Isa.Avx2)]
        [MemberData(nameof(Counts))]
        public void The_AVX2_count_gives_a_naive_popcount_per_bit(int n, double density)
        {
            // HarleySeal256 called directly (the engine selects it without AVX-512): strided, then indexed inputs.
            var rng = new Random(n * 23 + (int)(density * 100));
            var inputs = new Vector512<ulong>[Math.Max(1, 2 * n)];
            for (int i = 0; i < inputs.Length; i++) inputs[i] = RandomVector(rng, density);
            var strided = new List<int>();
            for (int i = 0; i < n; i++) strided.Add(2 * i);
            var indexed = new List<int>();
            var offsets = new int[Math.Max(1, n)];
            for (int i = 0; i < n; i++) { indexed.Add(rng.Next(inputs.Length)); offsets[i] = 64 * indexed[i]; }
            int bits = BitPlaneConv.BitLength(n);
            var planes = stackalloc Vector512<ulong>[16];
            for (int k = 0; k < 16; k++) planes[k] = Vector512<ulong>.AllBitsSet; // stale counts must not survive
            fixed (Vector512<ulong>* x = inputs)
            {
                HarleySeal256.Count(new HarleySeal.StridedInputs(x, 2), n, planes, bits);
                Assert.Equal(NaiveCounts(inputs, strided), Decode(planes, bits));
                fixed (int* o = offsets) HarleySeal256.Count(new HarleySeal.IndexedInputs(x, o), n, planes, bits);
                Assert.Equal(NaiveCounts(inputs, indexed), Decode(planes, bits));
            }
        }

        [IsaFact(Isa.Avx2)]
        public void An_AVX2_carry_save_adder_adds_three_bits_per_position()
        {
            var rng = new Random(6);
            for (int round = 0; round < 50; round++)
            {
                Vector256<ulong> l = RandomVector(rng, 0.5).GetLower(), a = RandomVector(rng, 0.5).GetUpper(), b = RandomVector(rng, 0.5).GetLower(), l0 = l;
                HarleySeal256.Csa(out var h, ref l, a, b);
                for (int p = 0; p < 256; p++)
                {
                    int Bit(Vector256<ulong> v) => (int)((v.GetElement(p >> 6) >> (p & 63)) & 1);
                    Assert.Equal(Bit(l0) + Bit(a) + Bit(b), Bit(l) + 2 * Bit(h));
                }
            }
        }

        [Fact]
        public void The_counter_planes_are_as_many_as_the_largest_count_needs()
        {
            Assert.Equal(5, BitPlaneConv.BitLength(0));
            Assert.Equal(5, BitPlaneConv.BitLength(31));
            Assert.Equal(6, BitPlaneConv.BitLength(32));
            Assert.Equal(13, BitPlaneConv.BitLength(4608));
            for (int n = 1; n < 70000; n += 997)
                Assert.True(BitPlaneConv.BitLength(n) >= 32 - BitOperations.LeadingZeroCount((uint)n));
        }

        [Fact]
        public void A_carry_save_adder_adds_three_bits_per_position()
        {
            var rng = new Random(5);
            for (int round = 0; round < 50; round++)
            {
                Vector512<ulong> l = RandomVector(rng, 0.5), a = RandomVector(rng, 0.5), b = RandomVector(rng, 0.5), l0 = l;
                HarleySeal.Csa(out var h, ref l, a, b);
                for (int p = 0; p < 512; p++)
                {
                    int Bit(Vector512<ulong> v) => (int)((v.GetElement(p >> 6) >> (p & 63)) & 1);
                    Assert.Equal(Bit(l0) + Bit(a) + Bit(b), Bit(l) + 2 * Bit(h));
                }
            }
        }
    }

    /// <summary>
    /// The counter transpose (Engine/BConv2d/CounterTranspose.cs): bit-sliced counter planes → 512 counts, against
    /// reading the bits one by one; the portable path everywhere, the AVX2 one (vpshufb + vpcmpeqb) and the vpermb +
    /// gf2p8affineqb one where the CPU has them.
    /// </summary>
    public unsafe class CounterTransposeTests
    {
        public static IEnumerable<object[]> Bits()
        {
            for (int bits = 1; bits <= 16; bits++) yield return new object[] { bits };
        }

        static ushort[] Transposed(int bits, bool simd, out ushort[] expected) => Transposed(bits, out expected, (planes, c) => CounterTranspose.ToCounts(planes, bits, c, simd));

        delegate void Transpose(Vector512<ulong>* planes, ushort* counts);

        static ushort[] Transposed(int bits, out ushort[] expected, Transpose transpose)
        {
            var rng = new Random(bits);
            var planes = stackalloc Vector512<ulong>[16];
            Span<ulong> w = stackalloc ulong[8];
            for (int k = 0; k < 16; k++)
            {
                for (int q = 0; q < 8; q++) w[q] = (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 40);
                planes[k] = Vector512.Create<ulong>(w);
            }
            expected = new ushort[512];
            for (int p = 0; p < 512; p++)
                for (int k = 0; k < bits; k++) expected[p] |= (ushort)(((planes[k].GetElement(p >> 6) >> (p & 63)) & 1) << k);
            var counts = new ushort[512 + 16];
            Array.Fill(counts, (ushort)0xBEEF);
            fixed (ushort* c = counts) transpose(planes, c);
            for (int p = 512; p < counts.Length; p++) Assert.Equal(0xBEEF, counts[p]);
            return counts.AsSpan(0, 512).ToArray();
        }

        [Theory]
        [MemberData(nameof(Bits))]
        public void The_portable_transpose_gives_each_pixels_count(int bits)
        {
            var actual = Transposed(bits, simd: false, out var expected);
            Assert.Equal(expected, actual);
        }

        [IsaTheory(Isa.Avx2)]
        [MemberData(nameof(Bits))]
        public void The_AVX2_vpshufb_vpcmpeqb_transpose_gives_each_pixels_count(int bits)
        {
            var actual = Transposed(bits, out var expected, (planes, c) => CounterTranspose256.ToCounts(planes, bits, c));
            Assert.Equal(expected, actual);
        }

        [IsaTheory(Isa.FastTranspose)]
        [MemberData(nameof(Bits))]
        public void The_vpermb_gf2p8affineqb_transpose_gives_each_pixels_count(int bits)
        {
            Assert.True(KernelSelection.FastTranspose);
            var actual = Transposed(bits, simd: true, out var expected);
            Assert.Equal(expected, actual);
        }
    }
}

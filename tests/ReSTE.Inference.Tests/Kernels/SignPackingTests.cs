using System;
using System.Collections.Generic;
using ReSTE.Inference.Engine.BConv2d;
using ReSTE.Inference.Engine.Bitpacking;
using Xunit;

namespace ReSTE.Inference.Tests.Kernels
{
    /// <summary>
    /// Sign-bit packing of activations (Engine/Bitpacking/SignPacking.cs) against plain loops: bit i of the positive
    /// stream is x[i] &gt; 0, of the negative stream x[i] &lt; 0; +0, −0 and NaN are in neither and make the call report
    /// a missing sign (the engine then counts the valid inputs instead of assuming them).
    /// </summary>
    public unsafe class SignPackingTests
    {
        /// <summary>Random values with ±0, NaN, ±∞, subnormals and the smallest normals mixed in at <paramref name="special"/>.</summary>
        static float[] Values(Random rng, int n, double special)
        {
            var specials = new[] { 0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon, 1e-38f, -1e-38f };
            var v = new float[n];
            for (int i = 0; i < n; i++)
            {
                if (rng.NextDouble() < special) { v[i] = specials[rng.Next(specials.Length)]; continue; }
                float x = (float)(rng.NextDouble() * 2 - 1);
                v[i] = x == 0 ? 0.25f : x;
            }
            return v;
        }

        static (ulong[] Pos, ulong[] Neg, bool Missing) Naive(float[] x)
        {
            var pos = new ulong[(x.Length + 63) / 64];
            var neg = new ulong[pos.Length];
            bool missing = false;
            for (int i = 0; i < x.Length; i++)
            {
                int s = Reference.Sign(x[i]);
                if (s > 0) pos[i >> 6] |= 1UL << (i & 63);
                else if (s < 0) neg[i >> 6] |= 1UL << (i & 63);
                else missing = true;
            }
            return (pos, neg, missing);
        }

        public static IEnumerable<object[]> Lengths()
        {
            foreach (int n in new[] { 0, 1, 7, 15, 16, 17, 31, 63, 64, 65, 100, 127, 128, 129, 200, 511, 512, 513, 1000 })
                foreach (double special in new[] { 0.0, 0.05, 0.5 })
                    yield return new object[] { n, special };
        }

        [Theory]
        [MemberData(nameof(Lengths))]
        public void The_sign_stream_holds_the_positive_and_negative_bits_of_every_length(int n, double special)
        {
            var rng = new Random(n * 7 + (int)(special * 100));
            var x = Values(rng, n, special);
            var (pos, neg, missing) = Naive(x);
            int words = pos.Length;
            foreach (bool simd in new[] { true, false })
            {
                // Stale bits in the words it owns, a canary word after them.
                var p = new ulong[words + 1]; var m = new ulong[words + 1];
                Array.Fill(p, ulong.MaxValue); Array.Fill(m, ulong.MaxValue);
                bool reported;
                fixed (float* xs = x)
                fixed (ulong* pp = p, mp = m)
                    reported = SignPacking.SignStream(xs, n, pp, mp, simd);
                Assert.Equal(pos, p.AsSpan(0, words).ToArray());
                Assert.Equal(neg, m.AsSpan(0, words).ToArray());
                Assert.Equal(ulong.MaxValue, p[words]);
                Assert.Equal(ulong.MaxValue, m[words]);
                Assert.Equal(missing, reported);
            }
        }

        public static IEnumerable<object[]> RowLengths()
        {
            // Sign bytes take rows of 8 pixels: lengths are multiples of 8.
            foreach (int n in new[] { 8, 16, 24, 56, 64, 72, 120, 128, 136, 256, 264, 1024, 1032 })
                foreach (double special in new[] { 0.0, 0.05 })
                    yield return new object[] { n, special };
        }

        [Theory]
        [MemberData(nameof(RowLengths))]
        public void Sign_bytes_hold_the_positive_and_negative_bits_of_rows_of_8(int n, double special)
        {
            var rng = new Random(n * 13 + (int)(special * 100));
            var x = Values(rng, n, special);
            var (pos, neg, missing) = Naive(x);
            int bytes = n / 8;
            var p = new byte[bytes + 8]; var m = new byte[bytes + 8];
            Array.Fill(p, (byte)0xA5); Array.Fill(m, (byte)0xA5);
            bool reported;
            fixed (float* xs = x)
            fixed (byte* pp = p, mp = m)
                reported = SignPacking.SignBytes(xs, n, pp, mp);
            for (int i = 0; i < bytes; i++)
            {
                Assert.Equal((byte)(pos[i / 8] >> (8 * (i % 8))), p[i]);
                Assert.Equal((byte)(neg[i / 8] >> (8 * (i % 8))), m[i]);
            }
            for (int i = bytes; i < p.Length; i++) { Assert.Equal(0xA5, p[i]); Assert.Equal(0xA5, m[i]); }
            Assert.Equal(missing, reported);
        }

        [Theory]
        [InlineData("+0")]
        [InlineData("-0")]
        [InlineData("NaN")]
        public void Zero_negative_zero_and_NaN_are_in_neither_stream_and_reported_missing(string value)
        {
            float special = value switch { "+0" => 0f, "-0" => -0f, _ => float.NaN };
            Assert.True(value != "-0" || float.IsNegative(special));
            foreach (int at in new[] { 0, 15, 16, 63, 64, 100 })
            {
                var x = new float[128];
                for (int i = 0; i < x.Length; i++) x[i] = i % 3 == 0 ? -1.5f : 2f;
                x[at] = special;
                var p = new ulong[2]; var m = new ulong[2];
                var pb = new byte[16 + 8]; var mb = new byte[16 + 8];
                fixed (float* xs = x)
                fixed (ulong* pp = p, mp = m)
                fixed (byte* pbp = pb, mbp = mb)
                {
                    foreach (bool simd in new[] { true, false })
                    {
                        Assert.True(SignPacking.SignStream(xs, x.Length, pp, mp, simd));
                        Assert.Equal(0UL, (p[at >> 6] | m[at >> 6]) & (1UL << (at & 63)));
                    }
                    Assert.True(SignPacking.SignBytes(xs, x.Length, pbp, mbp));
                    Assert.Equal(0, (pb[at >> 3] | mb[at >> 3]) & (1 << (at & 7)));
                }
                // Without it, nothing is missing.
                x[at] = 1f;
                fixed (float* xs = x)
                fixed (ulong* pp = p, mp = m)
                fixed (byte* pbp = pb, mbp = mb)
                {
                    Assert.False(SignPacking.SignStream(xs, x.Length, pp, mp, true));
                    Assert.False(SignPacking.SignBytes(xs, x.Length, pbp, mbp));
                }
            }
        }
    }
}

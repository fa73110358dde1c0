using System;
using System.Collections.Generic;
using System.Linq;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Engine.BConv2d;
using Xunit;

namespace ReSTE.Inference.Tests.Kernels
{
    /// <summary>
    /// The tap-plane builders (Engine/BConv2d/*PlaneBuilder.cs) against plain loops: for channel c, tap (ky, kx) and sign
    /// s, bit p of the plane is whether the input at output pixel p's tap has sign s (P: &gt; 0, N: &lt; 0), 0 in the
    /// padding; each builder also reports whether an input is in neither plane. Every builder is called directly, also
    /// where <see cref="KernelSelection"/> would not choose it (the aligned builder runs on Vector512 in software there;
    /// with AVX2 and no AVX-512 its shifts are 256-bit, <see cref="KernelSelection.Avx2RowShifts"/>).
    /// </summary>
    public unsafe class PlaneBuilderTests
    {
        /// <summary>(channels, height, width, kernel, stride, padding) of every geometry the generic builder takes.</summary>
        public static IEnumerable<object[]> GenericCases()
        {
            foreach (var (h, w) in new[] { (5, 5), (7, 9), (8, 8), (13, 13), (16, 16), (9, 30), (6, 62) })
                foreach (int k in new[] { 1, 3, 5 })
                    foreach (int stride in new[] { 1, 2 })
                        foreach (int pad in new[] { 0, 1, 2 })
                        {
                            if (h + 2 * pad < k || w + 2 * pad < k || w + 2 * pad > 64) continue;
                            yield return new object[] { 3, h, w, k, stride, pad };
                        }
        }

        public static IEnumerable<object[]> AlignedCases()
        {
            foreach (int w in new[] { 8, 16, 32 })
                foreach (int h in new[] { 1, 3, 8, 13 })
                    foreach (int k in new[] { 1, 3, 5 })
                        yield return new object[] { 3, h, w, k, 1, (k - 1) / 2 };
            yield return new object[] { 2, 5, 64, 1, 1, 0 };
        }

        public static IEnumerable<object[]> HalvedCases()
        {
            foreach (int w in new[] { 16, 32 })
                foreach (int h in new[] { 2, 6, 16 })
                    foreach (int k in new[] { 1, 3, 5 })
                        yield return new object[] { 3, h, w, k, 2, (k - 1) / 2 };
            yield return new object[] { 2, 4, 64, 1, 2, 0 };
            yield return new object[] { 2, 8, 32, 2, 2, 0 };
        }

        /// <summary>Every geometry of the three grids once (they overlap: xUnit would skip a repeated case as a duplicate ID).</summary>
        public static IEnumerable<object[]> AllCases() =>
            GenericCases().Concat(AlignedCases()).Concat(HalvedCases()).DistinctBy(c => string.Join(",", c));

        enum Builder { Generic, GenericScalar, Aligned, Halved }

        static void Check(Builder builder, int c, int h, int w, int k, int stride, int pad)
        {
            var rng = new Random(((c * 31 + h) * 31 + w) * 31 + k * 7 + stride * 3 + pad);
            var kernel = new BitPlaneConv(KernelData.Op(rng, c, 2, k, stride, pad, 0), h, w);
            if (builder == Builder.Aligned) Assert.True(kernel.FitsAligned, "not a row-aligned geometry");
            if (builder == Builder.Halved) Assert.True(kernel.FitsHalved, "not a stride-2 halving geometry");
            int taps = k * k, oh = kernel.OutH, ow = kernel.OutW, bits = kernel.PlaneBits, words = kernel.PlaneWords;
            foreach (double zeros in new[] { 0.0, 0.15 })
                foreach (bool withN in new[] { true, false })
                {
                    var x = KernelData.Ternary(rng, c * h * w, zeros);
                    if (zeros > 0) x[rng.Next(x.Length)] = float.NaN; // in neither plane, like a zero
                    using var scratch = new Aligned<ulong>(kernel.BitScratchWords + 8, ulong.MaxValue);
                    // Planes one after another: channel c's plane of (sign, tap) at (c + (sign·taps + tap)·C)·words.
                    using var planes = new Aligned<ulong>(2 * taps * c * words + 8, ulong.MaxValue);
                    bool reported;
                    fixed (float* xp = x)
                        reported = builder switch
                        {
                            Builder.Generic => kernel.BuildGeneric(xp, scratch.Pointer, planes.Pointer, 1, words, 0, (long)c * words, withN, simd: true),
                            Builder.GenericScalar => kernel.BuildGeneric(xp, scratch.Pointer, planes.Pointer, 1, words, 0, (long)c * words, withN, simd: false),
                            Builder.Aligned => kernel.BuildAligned(xp, (byte*)scratch.Pointer, planes.Pointer, 1, words, 0, (long)c * words, withN),
                            _ => kernel.BuildHalved(xp, (byte*)scratch.Pointer, planes.Pointer, 1, words, 0, (long)c * words, withN),
                        };
                    bool missing = false;
                    foreach (float v in x) missing |= Reference.Sign(v) == 0;
                    Assert.Equal(missing, reported);
                    for (int sign = 0; sign < (withN ? 2 : 1); sign++)
                        for (int ch = 0; ch < c; ch++)
                            for (int t = 0; t < taps; t++)
                            {
                                ulong* plane = planes.Pointer + (ch + (long)(sign * taps + t) * c) * words;
                                for (int p = 0; p < bits; p++)
                                {
                                    int oy = p / ow, ox = p % ow, iy = oy * stride - pad + t / k, ix = ox * stride - pad + t % k;
                                    bool inside = (uint)iy < (uint)h && (uint)ix < (uint)w;
                                    int s = inside ? Reference.Sign(x[(ch * h + iy) * w + ix]) : 0;
                                    bool expected = sign == 0 ? s > 0 : s < 0;
                                    bool actual = ((plane[p >> 6] >> (p & 63)) & 1) != 0;
                                    if (expected != actual)
                                        Assert.Fail($"{builder}: channel {ch}, tap {t}, {(sign == 0 ? "P" : "N")} plane, pixel ({oy}, {ox}) of {oh}×{ow}: {actual}, expected {expected}");
                                }
                            }
                }
        }

        [Theory]
        [MemberData(nameof(AllCases))]
        public void The_generic_builder_writes_the_tap_planes_of_any_geometry(int c, int h, int w, int k, int stride, int pad)
        {
            Check(Builder.Generic, c, h, w, k, stride, pad);
            Check(Builder.GenericScalar, c, h, w, k, stride, pad);
        }

        [Theory]
        [MemberData(nameof(AlignedCases))]
        public void The_row_aligned_builder_writes_the_tap_planes(int c, int h, int w, int k, int stride, int pad) =>
            Check(Builder.Aligned, c, h, w, k, stride, pad);

        [IsaTheory(Isa.Bmi2)]
        [MemberData(nameof(HalvedCases))]
        public void The_stride_2_phase_builder_writes_the_tap_planes(int c, int h, int w, int k, int stride, int pad) =>
            Check(Builder.Halved, c, h, w, k, stride, pad);

        [Theory]
        [MemberData(nameof(AlignedCases))]
        [MemberData(nameof(HalvedCases))]
        public void The_engine_builds_with_the_builder_kernel_selection_allows(int c, int h, int w, int k, int stride, int pad)
        {
            var kernel = new BitPlaneConv(KernelData.Op(new Random(1), c, 2, k, stride, pad, 0), h, w);
            var expected = kernel.FitsAligned && KernelSelection.AlignedPlanes ? PlaneBuilder.Aligned
                : kernel.FitsHalved && KernelSelection.HalvedPlanes ? PlaneBuilder.Halved : PlaneBuilder.Generic;
            Assert.Equal(expected, kernel.Builder());
            Assert.Equal(PlaneBuilder.Generic, kernel.Builder(simd: false));
        }
    }
}

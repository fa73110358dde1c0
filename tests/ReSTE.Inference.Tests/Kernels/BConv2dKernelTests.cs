using System;
using System.Collections.Generic;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Engine.BConv2d;
using Xunit;

namespace ReSTE.Inference.Tests.Kernels
{
    /// <summary>
    /// Each optimised binary-convolution kernel (the three layouts in Engine/BConv2d/*Kernel.cs, and the dispatch that
    /// chooses between them) against the scalar <see cref="Reference"/>, exactly, over a grid of channels (including
    /// non-multiples of 64), kernel sizes 1, 3 and 5, strides 1 and 2, padding 0 to 2, odd and even image sizes, zeros in
    /// the activations and weights (counted valid inputs) or none (set counting), and batches of 1 and 11 images.
    /// </summary>
    public class BConv2dKernelTests
    {
        public static IEnumerable<object[]> Cases()
        {
            // (in C, out C, H, W): small planes (lanes of 1, 2 and 4 words), planes of whole vectors, a partly filled vector.
            var shapes = new[] { (3, 5, 5, 5), (70, 9, 7, 9), (64, 9, 8, 8), (5, 3, 13, 13), (130, 3, 10, 10), (3, 4, 24, 24), (8, 4, 32, 32), (16, 8, 16, 16) };
            foreach (var (c, o, h, w) in shapes)
                foreach (int k in new[] { 1, 3, 5 })
                    foreach (int stride in new[] { 1, 2 })
                        foreach (int pad in new[] { 0, 1, 2 })
                            foreach (bool zeros in new[] { false, true })
                                yield return new object[] { c, o, h, w, k, stride, pad, zeros };
        }

        static (BitPlaneConv Kernel, float[] Images, int[] Expected) Setup(int c, int o, int h, int w, int k, int stride, int pad, bool zeros, int n)
        {
            var rng = new Random((((c * 31 + o) * 31 + h) * 31 + w) * 31 + k * 9 + stride * 3 + pad + (zeros ? 1000 : 0) + n);
            var op = KernelData.Op(rng, c, o, k, stride, pad, zeros ? 0.1 : 0);
            var kernel = new BitPlaneConv(op, h, w);
            var images = new float[n * c * h * w];
            for (int i = 0; i < n; i++)
                // With zeros, every other image has none: a group mixes both.
                KernelData.Ternary(rng, c * h * w, zeros && i % 2 == 0 ? 0.2 : 0).CopyTo(images, i * c * h * w);
            return (kernel, images, Reference.Dots(op, images, n, h, w));
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void Every_layout_gives_the_reference_dots(int c, int o, int h, int w, int k, int stride, int pad, bool zeros)
        {
            foreach (int n in new[] { 1, 11 })
            {
                var (kernel, images, expected) = Setup(c, o, h, w, k, stride, pad, zeros, n);
                Assert.Equal(expected, KernelRunner.Dots(kernel, images, n, simd: true));
                Assert.Equal(expected, KernelRunner.Dots(kernel, images, n, simd: false));
                Assert.Equal(expected, KernelRunner.Dots(kernel, images, n, simd: true, BConvLayout.SingleImage));
                if (kernel.Group > 1) Assert.Equal(expected, KernelRunner.Dots(kernel, images, n, simd: true, BConvLayout.ImageGroup));
                if (kernel.HasOutputLanes) Assert.Equal(expected, KernelRunner.Dots(kernel, images, n, simd: true, BConvLayout.OutputLanes));
            }
        }

        [Fact]
        public void The_grid_reaches_every_layout()
        {
            var seen = new HashSet<BConvLayout>();
            foreach (var row in Cases())
            {
                var (kernel, _, _) = Setup((int)row[0], (int)row[1], (int)row[2], (int)row[3], (int)row[4], (int)row[5], (int)row[6], (bool)row[7], 1);
                foreach (int n in new[] { 1, 11 })
                    foreach (var (layout, _) in KernelSelection.LayoutsFor(kernel.Group, kernel.HasOutputLanes, Math.Min(n, BitPlaneConv.MaxBatch)))
                        seen.Add(layout);
            }
            Assert.Equal(new HashSet<BConvLayout> { BConvLayout.SingleImage, BConvLayout.ImageGroup, BConvLayout.OutputLanes }, seen);
        }

        [Theory]
        [InlineData(1, false, 3)]
        [InlineData(8, true, 8)]
        [InlineData(8, true, 3)]
        [InlineData(4, true, 7)]
        [InlineData(2, false, 7)]
        public void The_layouts_of_a_call_cover_its_images_once(int group, bool outputLanes, int images)
        {
            var layouts = KernelSelection.LayoutsFor(group, outputLanes, images);
            int total = 0;
            foreach (var (layout, m) in layouts)
            {
                total += m;
                Assert.True(m >= 1 && m <= Math.Max(1, group));
                if (group == 1) Assert.Equal(BConvLayout.SingleImage, layout);
                if (layout == BConvLayout.OutputLanes) Assert.True(outputLanes);
            }
            Assert.Equal(images, total);
            // Whole groups first; the rest one image at a time in output lanes where they can run.
            if (group > 1 && outputLanes) Assert.Equal(images % group, layouts.FindAll(l => l.Layout == BConvLayout.OutputLanes).Count);
        }

        [IsaFact(Isa.Avx512F)]
        public unsafe void The_16_pixel_dots_equal_the_scalar_ones()
        {
            foreach (bool zeros in new[] { false, true })
            {
                var (kernel, images, expected) = Setup(64, 9, 16, 16, 3, 1, 1, zeros, 3);
                var sink = new Dot16Sink(kernel.OutC, kernel.PlaneBits, 3);
                var ws = new InferenceEngine.Workspace(new[] { 1 }, kernel.TapVectors, kernel.BitScratchWords, kernel.CountSlots);
                fixed (float* x = images) kernel.Run(x, 3, kernel.InC * kernel.InH * kernel.InW, sink, ws.Scratch);
                Assert.Equal(expected, sink.Dots);
            }
        }

        sealed unsafe class Dot16Sink : BitPlaneConv.Sink
        {
            readonly int _o, _plane;
            public readonly int[] Dots;
            public Dot16Sink(int o, int plane, int images) { _o = o; _plane = plane; Dots = new int[images * o * plane]; }
            public override void Write(int image, int o, in BitPlaneConv.Counts counts)
            {
                int p = 0;
                for (; p + 16 <= _plane; p += 16) System.Runtime.Intrinsics.Vector512.CopyTo(counts.Dot16(p), Dots.AsSpan((image * _o + o) * _plane + p));
                for (; p < _plane; p++) Dots[(image * _o + o) * _plane + p] = counts.Dot(p);
            }
        }
    }
}

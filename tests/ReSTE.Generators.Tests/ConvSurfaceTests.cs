using System;
using System.Linq;
using ReSTE.Generators.Tests.Modules;
using ReSTE.Runtime.Layers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Generators.Tests
{
    /// <summary>
    /// The generated BinaryConv2d takes TorchSharp's nn.Conv2d surface (one value, a pair or an array for kernel, stride,
    /// padding and dilation; Padding.Same / Valid; groups; bias; device and dtype). Each form is checked against
    /// TorchSharp's own nn.Conv2d with the same arguments, holding sign(W)·β, on sign(x): the zero padding comes after
    /// binarization, so padded positions are 0 in both.
    /// </summary>
    public class ConvSurfaceTests
    {
        static void AssertMatches(ReSTEBlock.BinaryConv2d binary, nn.Module<Tensor, Tensor> reference, long inChannels, long h, long w, string form)
        {
            using var scope = NewDisposeScope();
            manual_seed(5);
            var x = randn(2, inChannels, h, w, dtype: binary.Weight.dtype);
            using (no_grad())
            {
                var latent = binary.Weight.detach();
                reference.get_parameter("weight")!.copy_(latent.sign().mul(latent.abs().mean()));
                if (binary.Bias is { } b) reference.get_parameter("bias")!.copy_(b);
                var expected = reference.call(x.sign());
                binary.train();
                var y = binary.call(x);
                Assert.True(expected.shape.SequenceEqual(y.shape), $"{form}: shape [{string.Join(", ", y.shape)}], nn.Conv2d gives [{string.Join(", ", expected.shape)}]");
                Assert.True(y.allclose(expected, rtol: 1e-5, atol: 1e-5), $"{form}: training forward differs from nn.Conv2d on sign(W)·β by {(y - expected).abs().max().to_type(ScalarType.Float64).item<double>()}");
                binary.eval();
                Assert.True(binary.call(x).allclose(expected, rtol: 1e-5, atol: 1e-5), $"{form}: eval forward differs from nn.Conv2d on sign(W)·β");
            }
        }

        [Fact]
        public void A_pair_kernel_stride_padding_and_dilation_match_nn_Conv2d()
        {
            using var binary = new ReSTEBlock.BinaryConv2d(3, 4, (3, 1), stride: (2, 1), padding: (1, 0), dilation: (1, 1));
            using var reference = nn.Conv2d(3, 4, (3L, 1L), stride: (2L, 1L), padding: (1L, 0L), dilation: (1L, 1L), bias: false);
            Assert.Equal(new long[] { 4, 3, 3, 1 }, binary.Weight.shape);
            AssertMatches(binary, reference, 3, 7, 6, "(3, 1) kernel, (2, 1) stride, (1, 0) padding");
        }

        [Fact]
        public void Arrays_match_nn_Conv2d()
        {
            using var binary = new ReSTEBlock.BinaryConv2d(2, 3, new long[] { 2, 3 }, stride: new long[] { 1, 2 }, padding: new long[] { 1, 2 }, dilation: new long[] { 2, 1 }, bias: true);
            using var reference = nn.Conv2d(2, 3, (2L, 3L), stride: (1L, 2L), padding: (1L, 2L), dilation: (2L, 1L), bias: true);
            AssertMatches(binary, reference, 2, 6, 7, "array kernel [2, 3], stride [1, 2], padding [1, 2], dilation [2, 1], bias");
        }

        [Fact]
        public void Padding_Same_keeps_the_size_also_with_an_even_kernel_and_groups()
        {
            using (var binary = new ReSTEBlock.BinaryConv2d(4, 4, 3, padding: Padding.Same, dilation: 2))
            using (var reference = nn.Conv2d(4, 4, 3, Padding.Same, dilation: 2, bias: false))
                AssertMatches(binary, reference, 4, 6, 5, "kernel 3, Padding.Same, dilation 2");
            // An even extent: PyTorch puts the extra zero row and column at the bottom and right.
            using (var binary = new ReSTEBlock.BinaryConv2d(4, 6, (2, 4), padding: Padding.Same, groups: 2, bias: true))
            using (var reference = nn.Conv2d(4, 6, (2L, 4L), Padding.Same, groups: 2, bias: true))
            {
                Assert.Equal(new long[] { 6, 2, 2, 4 }, binary.Weight.shape);
                AssertMatches(binary, reference, 4, 5, 5, "(2, 4) kernel, Padding.Same, groups 2, bias");
                using var scope = NewDisposeScope();
                Assert.Equal(new long[] { 1, 6, 5, 5 }, binary.call(randn(1, 4, 5, 5)).shape);
            }
        }

        [Fact]
        public void Padding_Valid_and_a_single_value_match_nn_Conv2d()
        {
            using (var binary = new ReSTEBlock.BinaryConv2d(3, 2, 3, padding: Padding.Valid))
            using (var reference = nn.Conv2d(3, 2, 3, Padding.Valid, bias: false))
                AssertMatches(binary, reference, 3, 6, 6, "kernel 3, Padding.Valid");
            using (var binary = new ReSTEBlock.BinaryConv2d(3, 2, 3, stride: 2, padding: 1, dilation: 1, bias: true))
            using (var reference = nn.Conv2d(3, 2, 3, stride: 2, padding: 1, dilation: 1, bias: true))
                AssertMatches(binary, reference, 3, 7, 7, "kernel 3, stride 2, padding 1, bias");
        }

        [Fact]
        public void The_factory_takes_the_same_forms_and_device_and_dtype_place_the_parameters()
        {
            IBinaryLayerFactory layers = ReSTEBlock.Layers;
            using var conv = (ReSTEBlock.BinaryConv2d)layers.Conv2d(2, 2, (3, 1), padding: Padding.Same, bias: true, device: CPU, dtype: ScalarType.Float64);
            Assert.Equal(ScalarType.Float64, conv.Weight.dtype);
            Assert.Equal(ScalarType.Float64, conv.Bias!.dtype);
            Assert.Equal(DeviceType.CPU, conv.Weight.device_type);
            using (var reference = nn.Conv2d(2, 2, (3L, 1L), Padding.Same, bias: true, dtype: ScalarType.Float64))
                AssertMatches(conv, reference, 2, 5, 4, "factory: (3, 1) kernel, Padding.Same, float64");
            using var fc = (ReSTEBlock.BinaryLinear)layers.Linear(3, 2, dtype: ScalarType.Float64);
            Assert.Equal(ScalarType.Float64, fc.Weight.dtype);
            using var scope = NewDisposeScope();
            Assert.Equal(ScalarType.Float64, fc.call(randn(1, 3, dtype: ScalarType.Float64)).dtype);
        }

        [Fact]
        public void Bad_forms_are_rejected_naming_the_value()
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ReSTEBlock.BinaryConv2d(2, 2, 3, stride: 2, padding: Padding.Same));
            Assert.Contains("padding = Padding.Same", e.Message);
            Assert.Contains("stride = 2", e.Message);
            var a = Assert.Throws<ArgumentException>(() => new ReSTEBlock.BinaryConv2d(2, 2, new long[] { 3, 3, 3 }));
            Assert.Contains("3 values (3, 3, 3)", a.Message);
            e = Assert.Throws<ArgumentOutOfRangeException>(() => new ReSTEBlock.BinaryConv2d(2, 2, 3, padding: (1, -1)));
            Assert.Contains("padding = (1, -1)", e.Message);
            e = Assert.Throws<ArgumentOutOfRangeException>(() => new ReSTEBlock.BinaryConv2d(2, 2, (3, 0)));
            Assert.Contains("kernelSize = (3, 0)", e.Message);
            e = Assert.Throws<ArgumentOutOfRangeException>(() => new ReSTEBlock.BinaryConv2d(2, 2, 3, dilation: (0, 1)));
            Assert.Contains("dilation = (0, 1)", e.Message);
        }
    }
}

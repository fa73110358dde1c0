using System;
using System.Linq;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using ReSTE.Runtime;
using ReSTE.Runtime.Deploy;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ReSTE.Inference.Tests
{
    public class EngineVsTorchTests
    {
        readonly ITestOutputHelper _out;
        public EngineVsTorchTests(ITestOutputHelper output) { _out = output; }

        /// <summary>Exports, writes and re-reads the model, and compares the engine's logits with TorchSharp's in eval mode.</summary>
        (double MaxDiff, int ArgmaxAgree) Compare(nn.Module<Tensor, Tensor> model, Tensor images, bool normalize = true)
        {
            model.eval();
            var packed = ModelExporter.Export(model, new[] { 3, 32, 32 }, normalize ? Normalization.ImageNet : null);
            var engine = new InferenceEngine(PackedModelFile.FromBytes(PackedModelFile.ToBytes(packed)));
            int n = (int)images.shape[0];
            float[] expected;
            using (no_grad())
            {
                var input = images;
                if (normalize)
                {
                    var mean = tensor(Normalization.ImageNet.Mean).reshape(1, 3, 1, 1);
                    var std = tensor(Normalization.ImageNet.Std).reshape(1, 3, 1, 1);
                    input = images.sub(mean).div(std);
                }
                expected = PackedModelBuilder.Floats(model.forward(input));
            }
            var actual = engine.RunBatch(PackedModelBuilder.Floats(images), n, maxDegreeOfParallelism: 2);
            Assert.Equal(expected.Length, actual.Length);
            var (_, agree, maxDiff, _) = Agreement.Of(expected, actual, n);
            _out.WriteLine($"{n} images: max |Δlogit| = {maxDiff:G3}, argmax agrees on {agree}/{n}");
            return (maxDiff, agree);
        }

        [Theory]
        [InlineData(false, ScaleMode.LayerMeanAbs, 11)]
        [InlineData(false, ScaleMode.ChannelMeanAbs, 12)]
        [InlineData(true, ScaleMode.LayerMeanAbs, 13)]
        public void A_small_ResNet_matches_TorchSharp_eval(bool biReal, ScaleMode scale, int seed)
        {
            manual_seed(seed);
            var model = new TestResNet(new long[] { 8, 16, 32 }, 2, biReal, scale);
            TorchTestUtil.RandomizeBatchNorms(model, seed);
            var images = rand(24, 3, 32, 32);
            var (diff, agree) = Compare(model, images);
            Assert.True(diff < 1e-4, $"max |Δlogit| {diff}");
            Assert.Equal(24, agree);
        }

        [Fact]
        public void Default_batch_norms_with_many_exact_zeros_are_still_exact()
        {
            // Fresh BatchNorms (γ=1, β=0, mean 0, var 1) keep ReLU's zeros as zeros: sign(0) = 0 is everywhere here.
            // Without a scale (β = 1) libtorch sums ±1 exactly, so a zero dot product is an exact 0 on both sides; with a
            // scale β, libtorch's float sum of ±β that cancel can leave rounding noise (±1e-8) whose sign then differs
            // from the exact 0 of the integer count, which only matters where BatchNorm maps 0 to exactly 0.
            manual_seed(5);
            var model = new TestResNet(new long[] { 16, 32, 64 }, 1, scale: ScaleMode.None);
            var (diff, agree) = Compare(model, rand(8, 3, 32, 32), normalize: false);
            Assert.True(diff < 1e-4, $"max |Δlogit| {diff}");
            Assert.Equal(8, agree);
        }

        [Fact]
        public void The_exporter_refuses_a_layer_it_cannot_represent()
        {
            // Padding.Same with an even kernel pads one more pixel on the bottom/right: the format pads both sides alike.
            manual_seed(1);
            var uneven = ReSTE.Samples.Models.ReSTEPolicy.Layers.Conv2d(4, 4, 2, padding: TorchSharp.Padding.Same);
            var holder = nn.Sequential(("body", (nn.Module<Tensor, Tensor>)nn.Sequential(("conv", uneven))));
            var e = Assert.Throws<NotSupportedException>(() => ModelExporter.Export(holder, new[] { 4, 8, 8 }));
            Assert.StartsWith("body.conv: Padding.Same with an even kernel", e.Message);
            var builder = new PackedModelBuilder(holder, 4, 8, 8);
            Assert.Throws<NotSupportedException>(() => builder.BinaryConv("body.conv"));
            Assert.Throws<ArgumentException>(() => builder.BinaryConv("nothing"));
        }

        [Fact]
        public void Export_refuses_a_graph_that_is_not_the_models_forward()
        {
            // A Bi-Real model exported as the plain form: every layer checks out, the wiring does not.
            manual_seed(4);
            var model = new TestResNet(new long[] { 4, 8, 8 }, 1, biReal: true);
            TorchTestUtil.RandomizeBatchNorms(model, 4);
            var asPlain = new ExportRegistry().Register<TestBlock>((block, ctx) => block.Export(ctx, asPlain: true));
            var e = Assert.Throws<NotSupportedException>(() => ModelExporter.Export(model, new[] { 3, 32, 32 }, Normalization.ImageNet, registry: asPlain));
            Assert.Contains("does not compute what the model's forward does", e.Message);
            Assert.True(model.training, "the check restores the model's training flag");
            ModelExporter.Export(model, new[] { 3, 32, 32 }, Normalization.ImageNet); // the right form (the block's own export) passes
        }

        [Fact]
        public void Export_stores_one_bit_per_binary_weight()
        {
            manual_seed(2);
            var model = new TestResNet(new long[] { 16, 32, 64 }, 3); // ResNet-20's shape
            var packed = ModelExporter.Export(model, new[] { 3, 32, 32 }, Normalization.ImageNet);
            var binary = packed.Ops.OfType<BinaryConv2dOp>().ToArray();
            Assert.Equal(18, binary.Length);
            Assert.Equal(267_264, binary.Sum(b => b.Weight.Count));
            Assert.Equal(267_264 / 8, binary.Sum(b => b.Weight.Signs.Length));
            Assert.All(binary, b => Assert.Null(b.Weight.NonZero));

            var summary = ReSTE.Inference.Summary.ModelSummary.Of(packed);
            _out.WriteLine(summary.ToText());
            Assert.Equal(267_264, summary.BinaryParameters);
            // The reference's ResNet-20 count: 269,850 parameters, 267,264 of them binary.
            Assert.Equal(269_850, summary.TotalParameters);
            Assert.Equal(33_408 + 18 * 4, summary.Layers.Where(l => l.Kind == "BinaryConv2d").Sum(l => l.MemoryBytes));
            // 16·32·32·16·9 per stage-1 conv (6 of them); stage 2 and 3 halve the first conv's MACs.
            Assert.Equal(6 * 2_359_296L + 2 * (5 * 2_359_296L + 1_179_648L), summary.BinaryMacs);
            Assert.Equal(16L * 32 * 32 * 27 + 640, summary.FloatMacs);
            Assert.True(summary.CompressionRatio > 20, $"compression {summary.CompressionRatio}");
            Assert.Contains("1-bit", summary.ToText());
        }

        /// <summary>
        /// Full-precision convolutions give libtorch's floats bit for bit (an activation within rounding of 0 must get
        /// the same sign before a binary layer): the stems (3 input channels, 3×3) and ResNet-18's 1×1 shortcuts, whose
        /// channel sums oneDNN splits into blocks of 128 (256→512, 384 and 200 channels, with and without bias). Not
        /// covered: a strided 1×1 convolution over an odd-sized input, where oneDNN takes another path and the sums
        /// agree to rounding only (200→64 over 15×15: 10,389 of 12,288 outputs differ in the last bits).
        /// </summary>
        [Theory]
        [InlineData(3, 16, 3, 1, 1, 32, false)]
        [InlineData(3, 64, 3, 1, 1, 32, true)]
        [InlineData(3, 128, 3, 1, 1, 32, false)]
        [InlineData(5, 6, 3, 1, 1, 40, true)]     // blocks of 4 channels × 32 pixels, then the rest of each row and channel
        [InlineData(4, 8, 5, 1, 2, 70, false)]
        [InlineData(64, 128, 1, 2, 0, 32, false)]
        [InlineData(128, 256, 1, 2, 0, 16, false)]
        [InlineData(256, 512, 1, 2, 0, 8, false)]
        [InlineData(256, 512, 1, 2, 0, 8, true)]
        [InlineData(384, 64, 1, 1, 0, 8, true)]
        [InlineData(200, 64, 1, 2, 0, 16, false)]
        public void A_full_precision_conv_equals_libtorch_bit_for_bit(int ci, int co, int k, int stride, int pad, int size, bool withBias)
        {
            manual_seed(ci * 1000 + co);
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var w = randn(co, ci, k, k).mul(Math.Sqrt(2.0 / (ci * k * k)));
            var bias = withBias ? randn(co) : null;
            var x = randn(3, ci, size, size);
            var expected = PackedModelBuilder.Floats(nn.functional.conv2d(x, w, bias, strides: new long[] { stride, stride }, padding: new long[] { pad, pad }));
            var op = new Conv2dOp("conv", ci, co, k, k, stride, pad, PackedModelBuilder.Floats(w), bias is null ? null : PackedModelBuilder.Floats(bias));
            var engine = new InferenceEngine(new PackedModel(ci, size, size, new DeployOp[] { op }));
            var actual = engine.RunBatch(PackedModelBuilder.Floats(x), 3);
            Assert.Equal(expected.Length, actual.Length);
            int differ = 0;
            for (int i = 0; i < actual.Length; i++) if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i])) differ++;
            _out.WriteLine($"{ci}→{co} {k}×{k}/{stride}: {differ} of {actual.Length} outputs differ");
            Assert.Equal(0, differ);
        }
    }
}

using System;
using System.Linq;
using ReSTE.Generators.Tests.Modules;
using ReSTE.Runtime;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Layers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Generators.Tests
{
    /// <summary>Behaviour of the generated layers of every estimator, as a consumer sees them.</summary>
    public class LayerTests
    {
        static IBinaryLayerFactory[] Factories => new[]
        {
            ReSTEBlock.Layers, ReSTECosine.Layers, SteWeightsOnly.Layers, ApproxSignChannel.Layers, SignSwishUnscaled.Layers,
            EdeBlock.Layers, DsqBlock.Layers, FdaBlock.Layers, RbnnBlock.Layers,
        };

        [Fact]
        public void State_dict_names_read_like_PyTorch()
        {
            using var block = new ReSTEBlock();
            var names = block.state_dict().Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
            Assert.Equal(new[] { "conv1.weight", "fc.bias", "fc.weight" }, names);
        }

        [Fact]
        public void Every_estimator_trains_a_conv_and_a_linear_layer_one_step()
        {
            manual_seed(1);
            foreach (var factory in Factories)
            {
                using var scope = NewDisposeScope();
                var conv = factory.Conv2d(3, 4, 3, padding: 1, bias: true);
                var fc = factory.Linear(4 * 5 * 5, 2);
                var layers = new[] { (IBinaryLayer)conv, (IBinaryLayer)fc };
                foreach (var layer in layers) layer.SetProgress(2, 10);
                var x = randn(2, 3, 5, 5);
                var y = fc.call(conv.call(x).flatten(1));
                Assert.Equal(new long[] { 2, 2 }, y.shape);
                y.square().sum().backward();
                foreach (var layer in layers)
                {
                    var grad = layer.LatentWeight.grad;
                    Assert.NotNull(grad);
                    Assert.True(grad!.isfinite().all().item<bool>(), $"{layer.Estimator.Kind}: non-finite weight gradient");
                }
                Assert.Equal(4 * 3 * 9, layers[0].BinaryWeightCount);
                Assert.Equal(2 * 100, layers[1].BinaryWeightCount);
                conv.Dispose();
                fc.Dispose();
            }
        }

        [Fact]
        public void Layers_describe_their_policy()
        {
            using var steConv = new SteWeightsOnly.BinaryConv2d(2, 2, 1);
            Assert.False(steConv.BinarizesActivations);
            Assert.Equal(ScaleMode.LayerMeanAbs, steConv.Scale);
            Assert.Equal(1.25, Assert.IsType<SteEstimator>(steConv.Estimator).Clip);

            using var approx = new ApproxSignChannel.BinaryLinear(3, 2);
            Assert.True(approx.BinarizesActivations);
            Assert.Equal(ScaleMode.ChannelMeanAbs, approx.Scale);
            Assert.IsType<ApproxSignEstimator>(approx.Estimator);

            using var swish = new SignSwishUnscaled.BinaryLinear(3, 2);
            Assert.Equal(ScaleMode.None, swish.Scale);
            Assert.Equal(4, Assert.IsType<SignSwishEstimator>(swish.Estimator).Beta);

            using var ede = new EdeBlock.BinaryConv2d(2, 2, 3);
            var e = Assert.IsType<EdeEstimator>(ede.Estimator);
            Assert.Equal((0.2, 8.0), (e.TMin, e.TMax));
            ede.SetProgress(10, 10);
            Assert.Equal(8, e.T, 9);

            Assert.Equal(0.3, Assert.IsType<DsqEstimator>(new DsqBlock.BinaryLinear(2, 2).Estimator).Alpha);
            var fda = Assert.IsType<FdaEstimator>(new FdaBlock.BinaryLinear(2, 2).Estimator);
            Assert.Equal((1.5, 3), (fda.Omega, fda.Terms));
            var rbnn = Assert.IsType<RbnnEstimator>(new RbnnBlock.BinaryLinear(2, 2).Estimator);
            Assert.Equal((0.02, 5.0), (rbnn.TMin, rbnn.TMax));

            using var cos = new ReSTECosine.BinaryConv2d(2, 2, 3);
            var r = Assert.IsType<ReSTEEstimator>(cos.Estimator);
            Assert.Equal((2.5, 1.2, 0.05, ScheduleKind.Cosine), (r.OEnd, r.T, r.M, r.Schedule));
            Assert.Equal(1, r.O);
            cos.SetProgress(10, 10);
            Assert.Equal(2.5, r.O, 12);
        }

        [Fact]
        public void Weights_only_layers_leave_the_input_full_precision()
        {
            using var scope = NewDisposeScope();
            using var fc = new SteWeightsOnly.BinaryLinear(2, 1, bias: false);
            using (no_grad()) fc.Weight.copy_(tensor(new float[] { 0.5f, -0.25f }, 1, 2));
            var y = fc.forward(tensor(new float[] { 0.3f, 0.7f }, 1, 2));
            // sign(w) · mean|w| = [0.375, −0.375]; input not binarized: 0.3·0.375 − 0.7·0.375 = −0.15
            Assert.Equal(-0.15f, y.item<float>(), 6);
        }

        [Fact]
        public void Channel_scale_is_the_mean_abs_of_each_output_channel()
        {
            using var scope = NewDisposeScope();
            using var fc = new ApproxSignChannel.BinaryLinear(2, 2, bias: false);
            using (no_grad()) fc.Weight.copy_(tensor(new float[] { 1f, -3f, 0.5f, 0.5f }, 2, 2));
            var y = fc.forward(tensor(new float[] { 1f, 1f }, 1, 2));
            // row 0: sign [1, −1]·2 → 1·2 − 1·2 = 0; row 1: [1, 1]·0.5 → 1
            Assert.Equal(new[] { 0f, 1f }, y.data<float>().ToArray());
        }

        [Fact]
        public void Bad_layer_arguments_are_rejected_naming_the_value()
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ReSTEBlock.BinaryConv2d(3, 4, 3, groups: 2));
            Assert.Contains("groups = 2", e.Message);
            e = Assert.Throws<ArgumentOutOfRangeException>(() => new ReSTEBlock.BinaryLinear(0, 4));
            Assert.Contains("inFeatures = 0", e.Message);
        }

        static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

        [Fact]
        public void Eval_mode_sums_the_signs_as_integers_then_scales_once_whatever_the_batch()
        {
            manual_seed(3);
            // Layer and channel scales, conv and linear; a bias is added after the scale.
            foreach (var factory in new[] { ReSTEBlock.Layers, ApproxSignChannel.Layers })
            {
                using var scope = NewDisposeScope();
                var conv = factory.Conv2d(32, 16, 3, padding: 1, bias: true);
                var fc = factory.Linear(300, 7, bias: true);
                conv.eval(); fc.eval();
                var layer = (IBinaryLayer)conv;
                var x = randn(9, 32, 10, 10);
                x[0, 0, 0, 0] = tensor(0f); // sign(0) = 0 contributes nothing
                var signsX = x.sign();
                var signsW = layer.LatentWeight.detach().sign();
                var beta = BinaryWeights.Scale(layer.LatentWeight.detach(), layer.Scale)!.reshape(-1, 1, 1);
                using (no_grad())
                {
                    var y = conv.call(x);
                    // Integer partial sums: the float convolution of the signs is exactly the integer one, in any order.
                    var integer = nn.functional.conv2d(signsX.to(ScalarType.Float64), signsW.to(ScalarType.Float64), padding: new long[] { 1, 1 });
                    var expected = integer.to(ScalarType.Float32).mul(beta).add(conv.get_parameter("bias")!.view(-1, 1, 1));
                    Assert.True(Same(y, expected), $"{layer.Estimator.Kind}: eval conv is not conv(signs)·β + bias exactly");
                    // Batch-invariant bit for bit: one image alone gives the same floats as inside the batch.
                    for (long i = 0; i < 9; i += 4)
                        Assert.True(Same(conv.call(x[TensorIndex.Slice(i, i + 1)]), y[TensorIndex.Slice(i, i + 1)]), $"image {i} alone differs");
                    var v = randn(5, 300);
                    var yl = fc.call(v);
                    var fcLayer = (IBinaryLayer)fc;
                    var betaL = BinaryWeights.Scale(fcLayer.LatentWeight.detach(), fcLayer.Scale)!.reshape(-1);
                    var expectedL = nn.functional.linear(v.sign().to(ScalarType.Float64), fcLayer.LatentWeight.detach().sign().to(ScalarType.Float64))
                        .to(ScalarType.Float32).mul(betaL).add(fc.get_parameter("bias")!);
                    Assert.True(Same(yl, expectedL), $"{fcLayer.Estimator.Kind}: eval linear is not linear(signs)·β + bias exactly");
                }
                // Training mode keeps the reference's order (β on the weights): the same values to rounding.
                using (no_grad())
                {
                    var inEval = conv.call(x);
                    conv.train();
                    Assert.True(conv.call(x).allclose(inEval, rtol: 1e-5, atol: 1e-6), "train and eval forwards differ beyond rounding");
                }
                conv.Dispose(); fc.Dispose();
            }
        }
    }
}

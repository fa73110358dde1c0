using System.Linq;
using ReSTE.Runtime;
using ReSTE.Runtime.Layers;
using ReSTE.Samples.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Samples.Tests
{
    public sealed class ModelTests
    {
        [Theory]
        [InlineData("resnet20", 269_850, 267_264)]
        [InlineData("resnet20-bireal", 269_850, 267_264)]
        [InlineData("resnet18", 11_174_986, 10_985_472)]
        [InlineData("vgg-small", 4_660_106, 4_571_136)]
        [InlineData("resnet18-imagenet", 11_690_536, -1)]
        [InlineData("resnet34-imagenet", 21_798_696, -1)]
        public void Parameter_counts_equal_the_reference(string name, long total, long binary)
        {
            using var scope = NewDisposeScope();
            var model = ModelZoo.Create(name, Policies.Default);
            var (t, b) = BinaryModel.CountParameters(model);
            Assert.Equal(total, t);
            if (binary >= 0) Assert.Equal(binary, b);
            else Assert.True(b > 0);
        }

        [Theory]
        [InlineData(Estimator.ReSTE, true)]
        [InlineData(Estimator.ReSTE, false)]
        [InlineData(Estimator.STE, true)]
        [InlineData(Estimator.ApproxSign, false)]
        [InlineData(Estimator.SignSwish, true)]
        [InlineData(Estimator.EDE, true)]
        [InlineData(Estimator.DSQ, false)]
        [InlineData(Estimator.FDA, true)]
        [InlineData(Estimator.RBNN, false)]
        public void Every_policy_builds_the_same_model_with_its_estimator(Estimator estimator, bool activations)
        {
            var model = ModelZoo.Create("resnet20", estimator, activations);
            var layers = BinaryModel.Layers(model);
            Assert.Equal(18, layers.Count);
            Assert.All(layers, l =>
            {
                Assert.Equal(estimator, l.Layer.Estimator.Kind);
                Assert.Equal(activations, l.Layer.BinarizesActivations);
            });
            Assert.Equal(269_850, BinaryModel.CountParameters(model).Total);
            using var x = randn(2, 3, 32, 32);
            using var y = model.forward(x);
            Assert.Equal(new long[] { 2, 10 }, y.shape);
        }

        [Fact]
        public void The_default_is_ReSTE_1W1A_and_o_end_reaches_the_layers()
        {
            var model = ModelZoo.Create("resnet20", Estimator.ReSTE, true, oEnd: 2);
            var layer = BinaryModel.Layers(model)[0].Layer;
            Assert.Equal(Estimator.ReSTE, layer.Estimator.Kind);
            BinaryModel.SetProgress(model, 10, 10);
            Assert.Equal(2.0, layer.Estimator.Parameter, 12);
            Assert.Throws<System.ArgumentException>(() => ModelZoo.Create("resnet20", Estimator.STE, true, oEnd: 2));
        }

        [Fact]
        public void ResNet20_names_its_state_as_the_reference()
        {
            var names = ModelZoo.Create("resnet20", Policies.Default).state_dict().Keys.ToHashSet();
            foreach (var n in new[] { "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                                      "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.2.conv2.weight", "layer2.0.conv1.weight",
                                      "layer3.2.bn2.running_var", "bn2.weight", "bn2.running_mean", "linear.weight", "linear.bias" })
                Assert.Contains(n, names);
            Assert.DoesNotContain(names, n => n.Contains("shortcut"));
        }

        [Fact]
        public void ResNet20_binary_layers_are_the_block_convolutions_with_Kaiming_normal_init()
        {
            manual_seed(1);
            var model = ModelZoo.Create("resnet20", Policies.Default);
            var layers = BinaryModel.Layers(model);
            Assert.Equal("layer1.0.conv1", layers[0].Name);
            Assert.Equal("layer3.2.conv2", layers[^1].Name);
            // Kaiming normal, fan-in 64·9: std √(2/576) ≈ 0.0589 (the default kaiming_uniform(√5) gives ≈ 0.024).
            var w = layers[^1].Layer.LatentWeight;
            Assert.InRange(w.std().item<float>(), 0.055, 0.063);
        }

        [Theory]
        [InlineData("resnet20-bireal", 32, 10)]
        [InlineData("resnet18", 32, 10)]
        [InlineData("vgg-small", 32, 10)]
        [InlineData("resnet18-imagenet", 64, 1000)]
        [InlineData("resnet34-imagenet", 64, 1000)]
        public void Forward_shapes(string name, int side, int classes)
        {
            using var scope = NewDisposeScope();
            var model = ModelZoo.Create(name, Policies.Default);
            model.eval();
            using var noGrad = no_grad();
            var y = model.forward(randn(2, 3, side, side));
            Assert.Equal(new long[] { 2, classes }, y.shape);
            Assert.False(y.isnan().any().item<bool>());
        }
    }
}

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
    /// <summary>What a user writes: a static policy class, concrete estimator types, the nn.Module extension methods, the summary.</summary>
    public class UserApiTests
    {
        [Fact]
        public void A_static_policy_class_gives_layers_through_Layers_and_new()
        {
            using var fromFactory = EdePolicy.Layers.Conv2d(2, 4, (3, 1), padding: Padding.Same);
            var conv = Assert.IsType<EdePolicy.BinaryConv2d>(fromFactory);
            Assert.Equal(new long[] { 4, 2, 3, 1 }, conv.Weight.shape);
            using var direct = new EdePolicy.BinaryLinear(3, 2);
            // The concrete estimator type, no cast: EdeEstimator's own properties.
            EdeEstimator estimator = direct.Estimator;
            Assert.Equal((0.2, 8.0), (estimator.TMin, estimator.TMax));
            double o = new ReSTECosine.BinaryConv2d(2, 2, 3).Estimator.O;
            Assert.Equal(1, o);
            using var scope = NewDisposeScope();
            Assert.Equal(new long[] { 1, 4, 5, 6 }, conv.call(randn(1, 2, 5, 6)).shape);
        }

        static nn.Module<Tensor, Tensor> Model() => nn.Sequential(
            ("stem", nn.Conv2d(3, 8, 3, padding: 1, bias: false)),
            ("bn", nn.BatchNorm2d(8)),
            ("conv", EdePolicy.Layers.Conv2d(8, 8, (3, 1), padding: Padding.Same)),
            ("flat", nn.Flatten()),
            ("fc", EdePolicy.Layers.Linear(8 * 4 * 4, 10)),
            ("head", nn.Linear(10, 2)));

        [Fact]
        public void Extension_methods_find_drive_and_count_the_binary_layers()
        {
            using var model = Model();
            var layers = model.BinaryLayers();
            Assert.Equal(new[] { "conv", "fc" }, layers.Select(l => l.Name));
            model.SetBinaryProgress(10, 10);
            Assert.All(layers, l => Assert.Equal(8, l.Layer.Estimator.Parameter, 9));
            var (total, binary) = model.CountBinaryParameters();
            Assert.Equal(8 * 8 * 3 * 1 + 10 * 128, binary);
            Assert.Equal(3 * 8 * 9 + 2 * 8 + binary + 10 + 10 * 2 + 2, total);
            // The older static names stay and agree.
            Assert.Equal((total, binary), BinaryModel.CountParameters(model));
        }

        [Fact]
        public void The_summary_lists_precision_parameters_memory_and_MACs_per_layer()
        {
            using var model = Model();
            model.train();
            var summary = model.Summary(1, 3, 4, 4);
            Assert.True(model.training, "the summary must restore training mode");
            Assert.Equal(new[] { "stem", "bn", "conv", "fc", "head" }, summary.Rows.Select(r => r.Name));
            var stem = summary.Rows[0];
            Assert.Equal((32, 0L, 216L, 216L * 4, 216L * 16), (stem.InputBits, stem.BinaryParameters, stem.FullPrecisionParameters, stem.DeployedBytes, stem.FullPrecisionMacs));
            var conv = summary.Rows[2];
            Assert.Equal(new long[] { 1, 8, 4, 4 }, conv.OutputShape);
            // 192 binary weights: 24 bytes of bits, plus β (one float); the (3, 1) kernel at every one of the 16 pixels.
            Assert.Equal((1, 192L, 0L, 24L + 4, 192L * 16, 0L), (conv.InputBits, conv.BinaryParameters, conv.FullPrecisionParameters, conv.DeployedBytes, conv.BinaryMacs, conv.FullPrecisionMacs));
            var fc = summary.Rows[3];
            Assert.Equal((1280L, 10L, 160L + 4 + 40, 1280L), (fc.BinaryParameters, fc.FullPrecisionParameters, fc.DeployedBytes, fc.BinaryMacs));
            Assert.Equal(model.CountBinaryParameters().Total, summary.TotalParameters);
            Assert.Equal(1472, summary.BinaryParameters);
            long deployed = summary.Rows.Sum(r => r.DeployedBytes);
            Assert.Equal(deployed, summary.DeployedBytes);
            Assert.Equal(4.0 * summary.TotalParameters / deployed, summary.CompressionRatio, 12);
            var text = summary.ToString();
            Assert.Contains("compression ratio", text);
            Assert.Contains("conv", text);
        }

        [Fact]
        public void The_README_policy_model_summary_has_the_totals_the_README_shows()
        {
            using var model = nn.Sequential(
                ("stem", nn.Conv2d(3, 16, 3, padding: 1, bias: false)),
                ("bn", nn.BatchNorm2d(16)),
                ("conv1", EdePolicy.Layers.Conv2d(16, 16, (3, 1), padding: Padding.Same)),
                ("conv2", new EdePolicy.BinaryConv2d(16, 16, (1, 3), padding: Padding.Same)),
                ("pool", nn.AdaptiveAvgPool2d(1)),
                ("flatten", nn.Flatten()),
                ("fc", nn.Linear(16, 10)));
            var summary = model.Summary(1, 3, 8, 8);
            Assert.Equal((2170L, 1536L, 634L, 2736L, 8680L), (summary.TotalParameters, summary.BinaryParameters, summary.FullPrecisionParameters, summary.DeployedBytes, summary.Float32Bytes));
            Assert.Equal((98304L, 27808L), (summary.BinaryMacs, summary.FullPrecisionMacs));
            Assert.Contains("memory: 2,736 bytes deployed, 8,680 bytes in fp32; compression ratio 3.17x", summary.ToString());
        }

        [Fact]
        public void A_bad_summary_input_shape_is_an_error_naming_it()
        {
            using var model = Model();
            var e = Assert.Throws<ArgumentException>(() => model.Summary(3, 0, 4));
            Assert.Contains("[3, 0, 4]", e.Message);
        }
    }
}

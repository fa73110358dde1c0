using System;
using System.Buffers.Binary;
using System.Linq;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using ReSTE.Inference.Summary;
using ReSTE.Runtime;
using ReSTE.Runtime.Deploy;
using ReSTE.Samples.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ReSTE.Inference.Tests
{
    /// <summary>
    /// Max pooling with padding (the ImageNet ResNets' stem: 3×3, stride 2, padding 1): the op and its format, the
    /// engine against libtorch's max_pool2d, and the paper's ImageNet ResNet-18 and ResNet-34 exported from their
    /// TorchSharp definitions and run against TorchSharp eval.
    /// </summary>
    public class PaddedMaxPoolTests
    {
        readonly ITestOutputHelper _out;
        public PaddedMaxPoolTests(ITestOutputHelper output) { _out = output; }

        [Fact]
        public void A_padded_max_pool_round_trips_through_a_version_2_file_and_an_unpadded_one_stays_version_1()
        {
            var padded = new PackedModel(4, 9, 9, new DeployOp[] { new MaxPool2dOp("stem.pool", 3, 2, padding: 1) });
            var bytes = PackedModelFile.ToBytes(padded);
            Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)));
            var back = (MaxPool2dOp)PackedModelFile.FromBytes(bytes).Ops[0];
            Assert.Equal((3, 2, 1), (back.Kernel, back.Stride, back.Padding));
            Assert.Equal(5, back.OutputSize(9));

            var plain = new PackedModel(4, 9, 9, new DeployOp[] { new MaxPool2dOp("pool", 3, 2) });
            Assert.Equal(1, PackedModelFile.RequiredVersion(plain));
            Assert.Equal(0, ((MaxPool2dOp)PackedModelFile.FromBytes(PackedModelFile.ToBytes(plain)).Ops[0]).Padding);

            var e = Assert.Throws<ArgumentException>(() => new MaxPool2dOp("pool", 3, 2, padding: 2));
            Assert.StartsWith("pool: padding 2 must be between 0 and half the kernel (1)", e.Message);
        }

        [Theory]
        [InlineData(3, 2, 1, 9, 9)]
        [InlineData(3, 2, 1, 8, 11)]
        [InlineData(3, 1, 1, 5, 6)]
        [InlineData(2, 2, 1, 7, 7)]
        [InlineData(5, 3, 2, 12, 10)]
        [InlineData(3, 2, 0, 9, 9)]
        public void The_engine_pools_as_libtorch_does(int kernel, int stride, int padding, int h, int w)
        {
            manual_seed(kernel * 100 + stride * 10 + padding);
            // Negative values everywhere a window meets the border: a zero padding would win there, −∞ must not.
            var model = nn.Sequential(("pool", nn.MaxPool2d(kernel, stride, padding)));
            var (packed, diff) = ModelExportTests.ExportAndCompare(model, new[] { 3, h, w }, 4, output: _out);
            var op = Assert.IsType<MaxPool2dOp>(Assert.Single(packed.Ops));
            Assert.Equal(padding, op.Padding);
            Assert.Equal(0, diff);
        }

        [Theory]
        [InlineData("resnet18-imagenet", 64, 10_985_472, 11_690_536)]
        [InlineData("resnet34-imagenet", 32, 21_086_208, 21_798_696)]
        public void The_ImageNet_ResNets_export_and_match_TorchSharp_eval(string name, int side, long binary, long total)
        {
            manual_seed(5);
            var model = ModelZoo.Create(name, Estimator.ReSTE, binaryActivations: true);
            TorchTestUtil.RandomizeBatchNorms(model, 5);
            var (packed, diff) = ModelExportTests.ExportAndCompare(model, new[] { 3, side, side }, 4, output: _out);
            var pool = Assert.Single(packed.Ops.OfType<MaxPool2dOp>());
            Assert.Equal(("maxpool", 3, 2, 1), (pool.Name, pool.Kernel, pool.Stride, pool.Padding));
            var summary = ModelSummary.Of(packed);
            Assert.Equal(binary, summary.BinaryParameters);
            Assert.Equal(total, summary.TotalParameters);
            _out.WriteLine($"{name} at {side}×{side}: max |Δlogit| {diff:G3}");
        }

        /// <summary>
        /// At 224×224, ResNet-18's operations, counted by hand: binary, 4·(64·64·9)·56² + 3 stages of
        /// (Cin·Cout·9 + 3·Cout²·9)·(56/2^s)² = 1,676,279,808 (Bi-Real Net's paper: 1.68·10⁹ BOPs); full precision, the
        /// stem 3·64·49·112² = 118,013,952, the three 1×1 downsample convolutions 3 · 6,422,528 and the classifier
        /// 512,000 = 137,793,536 (the paper: 1.39·10⁸ FLOPs).
        /// </summary>
        [Fact]
        public void ResNet18_at_224_has_the_papers_operation_counts()
        {
            manual_seed(6);
            var model = ModelZoo.Create("resnet18-imagenet", Estimator.ReSTE, binaryActivations: true);
            model.eval();
            var packed = ModelExporter.Export(model, new[] { 3, 224, 224 }, Normalization.ImageNet, verify: false);
            var summary = ModelSummary.Of(packed);
            Assert.Equal(1_676_279_808, summary.BinaryMacs);
            Assert.Equal(118_013_952 + 3 * 6_422_528 + 512_000, summary.FloatMacs);
        }
    }
}

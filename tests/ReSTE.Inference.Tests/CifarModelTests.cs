using System;
using System.IO;
using System.Linq;
using ReSTE.Inference.Data;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using ReSTE.Inference.Summary;
using ReSTE.Runtime;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Deploy;
using ReSTE.Samples.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ReSTE.Inference.Tests
{
    /// <summary>
    /// The sample's CIFAR-10 models (their generated binary layers), randomly initialised with trained-like BatchNorm
    /// statistics, exported and run on the engine against TorchSharp eval on CIFAR-10 test images: ResNet-20 (1W/1A ReSTE)
    /// and its Bi-Real form on the whole test set, ResNet-18 (projection shortcuts: full-precision 1×1 conv + BN) and
    /// VGG-small (max-pooling) on 500 images, as TorchSharp takes ~20 ms per image for them here. The generated layers'
    /// eval mode sums the signs as integers, so both sides compute the same floats up to the full-precision layers.
    /// </summary>
    public class CifarModelTests
    {
        readonly ITestOutputHelper _out;
        public CifarModelTests(ITestOutputHelper output) { _out = output; }

        static readonly string TestBatch = Path.Combine(
            Cifar10.FindDefaultFolder(AppContext.BaseDirectory) ?? throw new DirectoryNotFoundException("CIFAR-10 not found: shared/data/cifar10 above the test folder."),
            "test_batch.bin.gz");

        [Theory]
        [InlineData("resnet20", Estimator.ReSTE, false, 10_000, 267_264, 269_850)]
        [InlineData("resnet20", Estimator.STE, true, 64, 267_264, 269_850)]
        [InlineData("resnet20-bireal", Estimator.ReSTE, false, 10_000, 267_264, 269_850)]
        [InlineData("resnet18", Estimator.ReSTE, false, 500, 10_985_472, 11_174_986)]
        [InlineData("vgg-small", Estimator.ReSTE, false, 500, 4_571_136, 4_660_106)]
        public void A_random_model_matches_TorchSharp_eval_on_CIFAR10_test_images(string name, Estimator estimator, bool a32, int count, long binary, long total)
        {
            manual_seed(42);
            var model = ModelZoo.Create(name, estimator, binaryActivations: !a32);
            TorchTestUtil.RandomizeBatchNorms(model, 42);
            model.eval();

            var packed = ModelExporter.Export(model, new[] { 3, 32, 32 }, Normalization.ImageNet);
            var bytes = PackedModelFile.ToBytes(packed);
            var engine = new InferenceEngine(PackedModelFile.FromBytes(bytes));
            var summary = ModelSummary.Of(packed);
            Assert.Equal(binary, summary.BinaryParameters);
            Assert.Equal(total, summary.TotalParameters);
            _out.WriteLine($"{name} ({estimator}, {(a32 ? "1W/32A" : "1W/1A")}): file {bytes.Length:N0} bytes");

            var (images, labels) = Cifar10File.Read(TestBatch, count);
            Assert.Equal(count, labels.Length);
            var expected = new float[count * 10];
            const int batch = 500;
            for (int start = 0; start < count; start += batch)
            {
                int n = Math.Min(batch, count - start);
                using var noGrad = no_grad();
                using var scope = NewDisposeScope();
                var x = tensor(images.AsSpan(start * 3072, n * 3072).ToArray(), new long[] { n, 3, 32, 32 });
                var mean = tensor(Normalization.ImageNet.Mean).reshape(1, 3, 1, 1);
                var std = tensor(Normalization.ImageNet.Std).reshape(1, 3, 1, 1);
                PackedModelBuilder.Floats(model.forward(x.sub(mean).div(std))).CopyTo(expected, start * 10);
            }
            var actual = engine.RunBatch(images, count, maxDegreeOfParallelism: 2);
            var (_, agree, maxDiff, _) = Agreement.Of(expected, actual, count);
            _out.WriteLine($"{count} CIFAR-10 test images: max |Δlogit| = {maxDiff:G3}, same argmax on {agree}/{count}");
            Assert.True(maxDiff < 1e-4, $"max |Δlogit| {maxDiff}");
            Assert.Equal(count, agree);
        }
    }
}

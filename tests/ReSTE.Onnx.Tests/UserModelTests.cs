using System;
using System.IO;
using ReSTE.Inference.Data;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Deploy;
using ReSTE.Samples.Models;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ReSTE.Onnx.Tests
{
    /// <summary>
    /// User-style models built from TorchSharp modules and generated binary layers only (no export code), exported
    /// with <see cref="ModelExporter"/>, written as ONNX and run in ONNX Runtime against TorchSharp eval on CIFAR-10
    /// test images: a binary MLP, a depthwise / grouped / dilated binary conv net with average pooling, and the
    /// sample's ImageNet ResNet-18 (a model with its own forward and a padded max pool) with 10 classes.
    /// </summary>
    public class UserModelTests
    {
        readonly ITestOutputHelper _out;
        public UserModelTests(ITestOutputHelper output) { _out = output; }

        static nn.Module<Tensor, Tensor> Mlp() => nn.Sequential(
            ("flatten", nn.Flatten()),
            ("fc1", ReSTEPolicy.Layers.Linear(3 * 32 * 32, 128)),
            ("bn1", nn.BatchNorm1d(128)),
            ("fc2", ReSTEPolicy.Layers.Linear(128, 64)),
            ("bn2", nn.BatchNorm1d(64)),
            ("fc3", ReSTEPolicy.Layers.Linear(64, 10)));

        static nn.Module<Tensor, Tensor> DepthwiseNet() => nn.Sequential(
            ("stem", nn.Conv2d(3, 16, 3, padding: 1, bias: false)),
            ("bn0", nn.BatchNorm2d(16)),
            ("dw", ReSTEPolicy.Layers.Conv2d(16, 16, 3, 1, 2, groups: 16, dilation: 2)),
            ("bn1", nn.BatchNorm2d(16)),
            ("gconv", ReSTEPolicy.Layers.Conv2d(16, 32, 3, 2, 1, groups: 4)),
            ("bn2", nn.BatchNorm2d(32)),
            ("pool", nn.AvgPool2d(2, 2)),
            ("pw", ReSTEPolicy.Layers.Conv2d(32, 32, 1, 1, 0)),
            ("bn3", nn.BatchNorm2d(32)),
            ("gap", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(32, 10)));

        [Theory]
        [InlineData("binary MLP")]
        [InlineData("depthwise net")]
        [InlineData("ImageNet ResNet-18")]
        public void A_user_model_in_ONNX_Runtime_matches_TorchSharp_eval_on_CIFAR10_test_images(string name)
        {
            const int count = 200;
            manual_seed(31);
            // The ImageNet ResNet-18 (its stem's max pool is padded) with 10 classes, at 32×32, its smallest input.
            var model = name switch
            {
                "binary MLP" => Mlp(),
                "depthwise net" => DepthwiseNet(),
                _ => ModelZoo.Create("resnet18-imagenet", ReSTE.Runtime.Estimator.ReSTE, binaryActivations: true, numClasses: 10),
            };
            CifarModelTests.RandomizeBatchNorms(model, 31);
            model.eval();
            var packed = ModelExporter.Export(model, new[] { 3, 32, 32 }, Normalization.ImageNet);
            var folder = Cifar10.FindDefaultFolder(AppContext.BaseDirectory) ?? throw new DirectoryNotFoundException("CIFAR-10 not found: shared/data/cifar10 above the test folder.");
            var (images, _) = Cifar10File.Read(Path.Combine(folder, "test_batch.bin.gz"), count);
            using var ort = new OrtModel(OnnxExport.ToBytes(packed));
            var a = Agreement.Of(CifarModelTests.Torch(model, images, count), ort.Run(images, count), count);
            _out.WriteLine($"{name}: {string.Join(" ", Models.OpTypes(packed))}; {count} CIFAR-10 test images, ORT vs TorchSharp eval: {a}");
            Assert.Equal(count, a.SameArgMax);
            Assert.True(a.Beyond <= count / 100, a.ToString());
            Assert.True(a.MaxDiff < 0.1, a.ToString());
        }
    }
}

using System;
using System.IO;
using System.Linq;
using ReSTE.Inference.Data;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Deploy;
using ReSTE.Samples.Models;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ReSTE.Inference.Tests
{
    /// <summary>
    /// A user's binary MLP: Flatten → binary Linear → BatchNorm1d → Hardtanh → binary Linear, with the generated layers of
    /// a policy; it exports itself by naming its children and ops in forward's order. (The clamp is x.clamp(−1, 1):
    /// TorchSharp 0.107's nn.Hardtanh and functional hardtanh return their input unclamped.)
    /// </summary>
    sealed class BinaryMlp : nn.Module<Tensor, Tensor>, IExportable
    {
        private readonly Flatten flatten;
        private readonly nn.Module<Tensor, Tensor> fc1, fc2;
        private readonly BatchNorm1d bn1;

        public BinaryMlp(ReSTE.Runtime.Layers.IBinaryLayerFactory layers, long inFeatures, long hidden, long classes) : base(nameof(BinaryMlp))
        {
            flatten = nn.Flatten();
            fc1 = layers.Linear(inFeatures, hidden);
            bn1 = nn.BatchNorm1d(hidden);
            fc2 = layers.Linear(hidden, classes);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return fc2.forward(bn1.forward(fc1.forward(flatten.forward(x))).clamp(-1, 1)).MoveToOuterDisposeScope();
        }

        public void Export(ExportContext ctx)
        {
            ctx.Export(flatten); ctx.Export(fc1); ctx.Export(bn1); ctx.Hardtanh("act", -1, 1); ctx.Export(fc2);
        }
    }

    /// <summary>The new ops (binary Linear, grouped/depthwise/dilated binary convolutions, 1W/32A, average pooling) against TorchSharp eval.</summary>
    public class NewOpsTests
    {
        readonly ITestOutputHelper _out;
        public NewOpsTests(ITestOutputHelper output) { _out = output; }

        /// <summary>A depthwise / grouped / dilated binary conv net with average pooling, all TorchSharp modules and generated layers (no export code).</summary>
        static Sequential ConvNet(ReSTE.Runtime.Layers.IBinaryLayerFactory layers, ReSTE.Runtime.Layers.IBinaryLayerFactory a32) => nn.Sequential(
            ("stem", nn.Conv2d(3, 16, 3, padding: 1, bias: false)),
            ("bn0", nn.BatchNorm2d(16)),
            ("dw", layers.Conv2d(16, 16, 3, 1, 1, groups: 16)),
            ("bn1", nn.BatchNorm2d(16)),
            ("grouped", layers.Conv2d(16, 32, 3, 1, 2, dilation: 2, groups: 4)),
            ("bn2", nn.BatchNorm2d(32)),
            ("relu2", nn.ReLU()),
            ("pool", nn.AvgPool2d(2, 2)),
            ("pw", layers.Conv2d(32, 32, 1, 1, 0)),
            ("bn3", nn.BatchNorm2d(32)),
            ("dw32", a32.Conv2d(32, 32, 3, 2, 1, groups: 32)),
            ("bn4", nn.BatchNorm2d(32)),
            ("strided", layers.Conv2d(32, 32, 3, 2, 1, groups: 2)),
            ("bn5", nn.BatchNorm2d(32)),
            ("gap", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(32, 10)));

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void A_binary_MLP_exports_and_matches_TorchSharp_eval(bool binaryActivations)
        {
            manual_seed(21);
            var model = new BinaryMlp(binaryActivations ? ReSTEPolicy.Layers : ReSTEPolicyA32.Layers, 3 * 8 * 8, 48, 10);
            TorchTestUtil.RandomizeBatchNorms(model, 21);
            var (packed, diff) = ModelExportTests.ExportAndCompare(model, new[] { 3, 8, 8 }, 32, output: _out);
            Assert.Equal(new[] { OpKind.BinaryLinear, OpKind.BatchNorm, OpKind.Hardtanh, OpKind.BinaryLinear }, packed.Ops.Select(o => o.Kind));
            var fc1 = (BinaryLinearOp)packed.Ops[0];
            Assert.Equal((192, 48, binaryActivations), (fc1.InFeatures, fc1.OutFeatures, fc1.BinarizesActivations));
            Assert.NotNull(fc1.Bias);
            Assert.Equal(2, PackedModelFile.RequiredVersion(packed));
            _out.WriteLine($"max |Δlogit| {diff:G3}");
        }

        /// <summary>TorchSharp 0.107's nn.Hardtanh computes no clamp: exporting one as a clamp would be refused by the check, so the handler says why.</summary>
        [Fact]
        public void An_nn_Hardtanh_exports_as_what_it_computes()
        {
            manual_seed(26);
            var act = nn.Hardtanh();
            var model = nn.Sequential(("fc", ReSTEPolicy.Layers.Linear(20, 8)), ("bn", nn.BatchNorm1d(8)), ("head", nn.Sequential(("act", act))));
            TorchTestUtil.RandomizeBatchNorms(model, 26);
            bool clamps;
            using (no_grad()) clamps = act.forward(tensor(new[] { -3f, 3f })).data<float>().ToArray() is [-1f, 1f];
            if (clamps)
            {
                var (packed, _) = ModelExportTests.ExportAndCompare(model, new[] { 20 }, 16, output: _out);
                Assert.IsType<HardtanhOp>(packed.Ops[^1]);
            }
            else
            {
                var e = Assert.Throws<NotSupportedException>(() => ModelExporter.Export(model, new[] { 20 }));
                Assert.StartsWith("head.act: this Hardtanh returns its input unclamped", e.Message);
                _out.WriteLine(e.Message);
            }
        }

        /// <summary>The binary Linear kernel against a scalar reference: XNOR-popcount exactly (zeros in inputs and weights), both 1W/32A ways to rounding.</summary>
        [Theory]
        [InlineData(1, 1)]
        [InlineData(63, 5)]
        [InlineData(64, 3)]
        [InlineData(200, 17)]
        [InlineData(1000, 4)]
        public unsafe void The_binary_Linear_kernel_matches_a_scalar_reference(int inF, int outF)
        {
            var rng = new Random(inF * 31 + outF);
            float R() => rng.Next(5) == 0 ? 0f : (float)(rng.NextDouble() * 2 - 1);
            var w = Enumerable.Range(0, inF * outF).Select(_ => R()).ToArray();
            var x = Enumerable.Range(0, inF).Select(_ => R()).ToArray();
            var scale = Enumerable.Range(0, outF).Select(_ => (float)rng.NextDouble() + 0.1f).ToArray();
            var bias = Enumerable.Range(0, outF).Select(_ => (float)rng.NextDouble()).ToArray();
            var xnor = new ReSTE.Inference.Engine.Steps.BinaryLinearKernel(new BinaryLinearOp("fc", inF, outF, true, BitPacking.Pack(w), scale, bias));
            var a32 = new ReSTE.Inference.Engine.Steps.BinaryLinearKernel(new BinaryLinearOp("fc", inF, outF, false, BitPacking.Pack(w), scale, bias));
            var y = new float[outF]; var yFp32 = new float[outF]; var yAddSub = new float[outF];
            var scratch = new ulong[xnor.ScratchWords];
            fixed (float* px = x, py = y, pf = yFp32, pa = yAddSub)
            fixed (ulong* ps = scratch)
            {
                xnor.Run(px, py, ps);
                a32.RunFp32(px, pf);
                a32.RunAddSubtract(px, pa);
            }
            for (int o = 0; o < outF; o++)
            {
                int dot = 0;
                double sum = 0, abs = 0;
                for (int j = 0; j < inF; j++)
                {
                    int sw = Math.Sign(w[o * inF + j]);
                    dot += Math.Sign(x[j]) * sw;
                    sum += x[j] * sw;
                    abs += Math.Abs(x[j]);
                }
                Assert.Equal(dot * scale[o] + bias[o], y[o]);
                double expected = sum * scale[o] + bias[o], tolerance = 1e-5 * (abs * scale[o] + 1);
                Assert.True(Math.Abs(yFp32[o] - expected) <= tolerance, $"fp32 {yFp32[o]} vs {expected}");
                Assert.True(Math.Abs(yAddSub[o] - expected) <= tolerance, $"add/subtract {yAddSub[o]} vs {expected}");
            }
        }

        [Fact]
        public void A_binary_MLP_on_flat_vectors_exports_as_a_sequential()
        {
            manual_seed(22);
            var model = nn.Sequential(("fc1", ReSTEPolicy.Layers.Linear(100, 40)), ("bn1", nn.BatchNorm1d(40)), ("fc2", ReSTEPolicy.Layers.Linear(40, 5, bias: false)));
            TorchTestUtil.RandomizeBatchNorms(model, 22);
            var (packed, _) = ModelExportTests.ExportAndCompare(model, new[] { 100 }, 32, output: _out);
            Assert.Equal((100, 1, 1), (packed.InputChannels, packed.InputHeight, packed.InputWidth));
            Assert.Null(((BinaryLinearOp)packed.Ops[^1]).Bias);
        }

        [Fact]
        public void A_grouped_depthwise_dilated_conv_net_with_average_pooling_matches_TorchSharp_eval()
        {
            manual_seed(23);
            var model = ConvNet(ReSTEPolicy.Layers, ReSTEPolicyA32.Layers);
            TorchTestUtil.RandomizeBatchNorms(model, 23);
            var (packed, _) = ModelExportTests.ExportAndCompare(model, new[] { 3, 16, 16 }, 16, output: _out);
            var convs = packed.Ops.OfType<BinaryConv2dOp>().ToArray();
            Assert.Equal(new[] { (16, 1), (4, 2), (1, 1), (32, 1), (2, 1) }, convs.Select(c => (c.Groups, c.Dilation)));
            Assert.False(convs[3].BinarizesActivations);
            Assert.Single(packed.Ops.OfType<AvgPool2dOp>());
        }

        [Fact]
        public void A_binary_conv_with_a_bias_exports_the_bias_after_the_scale()
        {
            manual_seed(24);
            var model = nn.Sequential(("conv", ReSTEPolicy.Layers.Conv2d(4, 6, 3, 1, 1, bias: true)), ("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()));
            var (packed, _) = ModelExportTests.ExportAndCompare(model, new[] { 4, 8, 8 }, 8, output: _out);
            Assert.Equal(new[] { "conv", "conv.bias", "gap" }, packed.Ops.Select(o => o.Name));
        }

        /// <summary>The depthwise net and the MLP on CIFAR-10 test images: the same logits (within 1e-4) and predictions as TorchSharp eval.</summary>
        [Fact]
        public void New_ops_agree_with_TorchSharp_on_CIFAR10_test_images()
        {
            var folder = Cifar10.FindDefaultFolder(AppContext.BaseDirectory) ?? throw new DirectoryNotFoundException("CIFAR-10 not found: shared/data/cifar10 above the test folder.");
            const int count = 1000;
            var (images, _) = Cifar10File.Read(Path.Combine(folder, "test_batch.bin.gz"), count);
            manual_seed(25);
            var models = new (string Name, nn.Module<Tensor, Tensor> Model)[]
            {
                ("depthwise net", ConvNet(ReSTEPolicy.Layers, ReSTEPolicyA32.Layers)),
                ("binary MLP", new BinaryMlp(ReSTEPolicy.Layers, 3 * 32 * 32, 128, 10)),
            };
            foreach (var (name, model) in models)
            {
                TorchTestUtil.RandomizeBatchNorms(model, 25);
                var packed = ModelExporter.Export(model, new[] { 3, 32, 32 }, Normalization.ImageNet);
                var engine = new InferenceEngine(PackedModelFile.FromBytes(PackedModelFile.ToBytes(packed)));
                model.eval();
                float[] expected;
                using (no_grad())
                {
                    var x = tensor(images, new long[] { count, 3, 32, 32 });
                    var mean = tensor(Normalization.ImageNet.Mean).reshape(1, 3, 1, 1);
                    var std = tensor(Normalization.ImageNet.Std).reshape(1, 3, 1, 1);
                    expected = LayerExport.Floats(model.forward(x.sub(mean).div(std)));
                }
                var actual = engine.RunBatch(images, count, maxDegreeOfParallelism: 2);
                var (_, agree, maxDiff, _) = Agreement.Of(expected, actual, count);
                _out.WriteLine($"{name}: {count} CIFAR-10 test images, max |Δlogit| = {maxDiff:G3}, same argmax on {agree}/{count}");
                Assert.True(maxDiff < 1e-4, $"{name}: max |Δlogit| {maxDiff}");
                Assert.Equal(count, agree);
            }
        }
    }
}

using System;
using System.IO;
using System.Linq;
using Google.Protobuf;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using Xunit;
using Xunit.Abstractions;

namespace ReSTE.Onnx.Tests
{
    /// <summary>
    /// Small packed models, one or a few op kinds each, exported to ONNX and run in ONNX Runtime against the engine (which
    /// its own tests hold to TorchSharp eval) on random inputs.
    /// </summary>
    public class OpTests
    {
        readonly ITestOutputHelper _out;
        public OpTests(ITestOutputHelper output) { _out = output; }

        /// <summary>ORT's outputs of <paramref name="model"/> against the engine's on <paramref name="count"/> random inputs.</summary>
        Agreement CompareWithEngine(PackedModel model, int count, int seed, float lo = -1, float hi = 1)
        {
            var rng = new Random(seed);
            var engine = new InferenceEngine(model);
            var inputs = Models.Uniform(rng, count * engine.InputLength, lo, hi);
            var expected = engine.RunBatch(inputs, count, maxDegreeOfParallelism: 1);
            using var ort = new OrtModel(OnnxExport.ToBytes(model));
            Assert.Equal(engine.InputLength, ort.InputLength);
            var actual = ort.Run(inputs, count);
            var agreement = Agreement.Of(expected, actual, count);
            _out.WriteLine($"{string.Join(" ", Models.OpTypes(model))}: {agreement}");
            return agreement;
        }

        [Theory]
        [InlineData(true, 1, 1, false)]
        [InlineData(true, 2, 1, true)]
        [InlineData(false, 1, 0, true)]
        [InlineData(true, 2, 0, false)]
        public void A_binary_convolution_matches_the_engine(bool binarizesActivations, int stride, int padding, bool perChannelScale)
        {
            var rng = new Random(1);
            const int c = 16, o = 24;
            var scale = perChannelScale ? Models.Uniform(rng, o, 0.01f, 0.2f) : new[] { 0.037f };
            var model = new PackedModel(c, 9, 9, new DeployOp[]
            {
                new BinaryConv2dOp("conv", c, o, 3, 3, stride, padding, binarizesActivations, Models.RandomSigns(rng, o * c * 9), scale),
                Models.RandomBatchNorm(rng, "bn", o),
            });
            var ops = Models.OpTypes(model);
            Assert.Equal(binarizesActivations, ops.Contains("Sign"));
            var a = CompareWithEngine(model, 16, 2);
            Assert.True(a.MaxDiff < 1e-5, a.ToString());
        }

        [Fact]
        public void Sign_of_zero_is_zero_and_padding_after_the_sign_is_zero()
        {
            // Inputs that are exactly 0 (ReLU's zeros) are sign 0, not +1, and the border pixels of a padded binary
            // convolution contribute nothing: with an all-+1 kernel, an all-zero input gives exactly 0 everywhere and
            // an all-one input counts the taps inside the image (4 at a corner, 6 on an edge, 9 inside).
            var ones = BitPacking.Pack(Enumerable.Repeat(1f, 9).ToArray());
            var model = new PackedModel(1, 4, 4, new DeployOp[] { new BinaryConv2dOp("conv", 1, 1, 3, 3, 1, 1, true, ones, new[] { 1f }) });
            using var ort = new OrtModel(OnnxExport.ToBytes(model));
            Assert.All(ort.Run(new float[16], 1), v => Assert.Equal(0f, v));
            var counts = ort.Run(Enumerable.Repeat(0.25f, 16).ToArray(), 1);
            Assert.Equal(new float[] { 4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4 }, counts);
            var engine = new InferenceEngine(model);
            Assert.Equal(engine.Run(Enumerable.Repeat(0.25f, 16).ToArray()), counts);
        }

        [Fact]
        public void A_residual_net_with_option_A_and_projection_shortcuts_matches_the_engine()
        {
            var rng = new Random(3);
            DeployOp Bin(string name, int i, int o, int k, int s, int p) =>
                new BinaryConv2dOp(name, i, o, k, k, s, p, true, Models.RandomSigns(rng, (long)o * i * k * k), new[] { 0.05f });
            var model = new PackedModel(3, 16, 16, new DeployOp[]
            {
                new NormalizeOp("norm", new[] { 0.49f, 0.48f, 0.45f }, new[] { 0.25f, 0.24f, 0.26f }),
                new Conv2dOp("conv1", 3, 8, 3, 3, 1, 1, Models.Normal(rng, 8 * 3 * 9, 0.3f), Models.Normal(rng, 8, 0.1f)),
                Models.RandomBatchNorm(rng, "bn1", 8),
                // Identity shortcut.
                new ResidualBeginOp("l1"), Bin("l1.conv", 8, 8, 3, 1, 1), new ReLUOp("l1.relu"), Models.RandomBatchNorm(rng, "l1.bn", 8),
                new ResidualEndOp("l1.add", ShortcutKind.Identity),
                // Option A: stride 2, 4 zero channels on each side.
                new ResidualBeginOp("l2"), Bin("l2.conv", 8, 16, 3, 2, 1), new ReLUOp("l2.relu"), Models.RandomBatchNorm(rng, "l2.bn", 16),
                new ResidualEndOp("l2.add", ShortcutKind.OptionA, 2, 4, 4),
                // Projection: a 1×1 full-precision convolution and BatchNorm on the saved input.
                new ResidualBeginOp("l3"), Bin("l3.conv", 16, 32, 3, 2, 1), Models.RandomBatchNorm(rng, "l3.bn", 32), new HardtanhOp("l3.htanh", -1, 1),
                new ShortcutBranchOp("l3.shortcut"),
                new Conv2dOp("l3.shortcut.conv", 16, 32, 1, 1, 2, 0, Models.Normal(rng, 32 * 16, 0.3f), null), Models.RandomBatchNorm(rng, "l3.shortcut.bn", 32),
                new ResidualEndOp("l3.add", ShortcutKind.Identity),
                new MaxPool2dOp("pool", 2, 2),
                new GlobalAvgPoolOp("gap"),
                Models.RandomBatchNorm(rng, "bn2", 32),
                new LinearOp("fc", 32, 10, Models.Normal(rng, 320, 0.2f), Models.Normal(rng, 10, 0.1f)),
            });
            var ops = Models.OpTypes(model);
            foreach (var op in new[] { "Sub", "Div", "Conv", "BatchNormalization", "Sign", "Mul", "Relu", "Add", "Slice", "Pad", "Clip", "MaxPool", "GlobalAveragePool", "Flatten", "Gemm" })
                Assert.Contains(op, ops);
            var a = CompareWithEngine(model, 32, 4, 0, 1);
            Assert.Equal(32, a.SameArgMax);
            Assert.True(a.MaxDiff < 1e-4, a.ToString());
        }

        [Fact]
        public void Exact_BatchNorm_rounds_as_the_engine_does()
        {
            // A chain of binary layers, each input the sign of a BatchNorm output: with the BatchNorm in double
            // (x·a exact, one rounding of the sum to double, then to float), ORT gives the engine's floats.
            var rng = new Random(9);
            var ops = new System.Collections.Generic.List<DeployOp>();
            int c = 3;
            for (int i = 0; i < 4; i++)
            {
                ops.Add(new BinaryConv2dOp($"conv{i}", c, 16, 3, 3, 1, 1, true, Models.RandomSigns(rng, 16 * c * 9), Models.Uniform(rng, 16, 0.02f, 0.1f)));
                ops.Add(Models.RandomBatchNorm(rng, $"bn{i}", 16));
                c = 16;
            }
            ops.Add(new GlobalAvgPoolOp("gap"));
            ops.Add(Models.RandomBatchNorm(rng, "bn_head", 16));
            var model = new PackedModel(3, 8, 8, ops);
            var exact = new OnnxExportOptions { ExactBatchNorm = true };
            var types = OnnxExport.Convert(model, exact).Graph.Node.Select(n => n.OpType).ToList();
            Assert.DoesNotContain("BatchNormalization", types);
            Assert.Equal(10, types.Count(t => t == "Cast"));

            var engine = new InferenceEngine(model);
            var inputs = Models.Uniform(new Random(10), 64 * engine.InputLength, -1, 1);
            var expected = engine.RunBatch(inputs, 64);
            using var ort = new OrtModel(OnnxExport.ToBytes(model, exact));
            var a = Agreement.Of(expected, ort.Run(inputs, 64), 64);
            _out.WriteLine($"exact BatchNorm: {a}");
            Assert.True(a.MaxDiff < 1e-5, a.ToString());
        }

        [Fact]
        public void A_linear_layer_on_a_feature_map_is_flattened_in_channel_major_order()
        {
            var rng = new Random(5);
            var model = new PackedModel(4, 3, 3, new DeployOp[]
            {
                new MaxPool2dOp("pool", 2, 1),
                new LinearOp("fc", 4 * 2 * 2, 5, Models.Normal(rng, 80), null),
            });
            var a = CompareWithEngine(model, 8, 6);
            Assert.True(a.MaxDiff < 1e-5, a.ToString());
        }

        sealed class FutureOp : DeployOp
        {
            public FutureOp() : base("layer4.0.mystery") { }
            public override OpKind Kind => (OpKind)200;
        }

        [Fact]
        public void An_op_kind_it_does_not_know_is_an_error_naming_the_op()
        {
            var model = new PackedModel(3, 8, 8, new DeployOp[] { new ReLUOp("relu"), new FutureOp() });
            var e = Assert.Throws<NotSupportedException>(() => OnnxExport.ToBytes(model));
            Assert.Equal("layer4.0.mystery: ONNX export does not support op kind 200 (FutureOp).", e.Message);
        }

        [Fact]
        public void A_shape_mismatch_is_an_error_naming_the_op()
        {
            var model = new PackedModel(3, 8, 8, new DeployOp[] { new GlobalAvgPoolOp("gap"), new LinearOp("head", 4, 2, new float[8], null) });
            var e = Assert.Throws<InvalidDataException>(() => OnnxExport.ToBytes(model));
            Assert.Equal("head: takes 4 features; its input has 3 (3×1×1).", e.Message);
        }

        [Fact]
        public void The_model_declares_opset_13_a_free_batch_and_the_packed_metadata()
        {
            var model = new PackedModel(3, 8, 8, new DeployOp[] { new GlobalAvgPoolOp("gap") },
                new System.Collections.Generic.Dictionary<string, string> { ["source"] = "unit test" });
            var proto = OnnxExport.Convert(model);
            Assert.Equal(13, proto.OpsetImport.Single(o => o.Domain == "").Version);
            Assert.Equal("batch", proto.Graph.Input.Single().Type.TensorType.Shape.Dim[0].DimParam);
            Assert.Equal("unit test", proto.MetadataProps.Single(p => p.Key == "source").Value);
            using var ort = new OrtModel(proto.ToByteArray());
            var x = Enumerable.Range(0, 2 * 192).Select(i => (float)i).ToArray();
            var y = ort.Run(x, 2);
            Assert.Equal(new float[] { 31.5f, 95.5f, 159.5f, 223.5f, 287.5f, 351.5f }, y);
        }
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using Xunit;
using Xunit.Abstractions;

namespace ReSTE.Onnx.Tests
{
    /// <summary>
    /// The op kinds of format version 2 (binary Linear, grouped, depthwise and dilated binary convolutions, average
    /// pooling) in user-style models, exported to ONNX and run in ONNX Runtime against the engine on random inputs.
    /// </summary>
    public class NewOpTests
    {
        readonly ITestOutputHelper _out;
        public NewOpTests(ITestOutputHelper output) { _out = output; }

        Agreement CompareWithEngine(PackedModel model, int count, int seed, float lo = -1, float hi = 1)
        {
            var engine = new InferenceEngine(model);
            var inputs = Models.Uniform(new Random(seed), count * engine.InputLength, lo, hi);
            var expected = engine.RunBatch(inputs, count, maxDegreeOfParallelism: 1);
            using var ort = new OrtModel(OnnxExport.ToBytes(model));
            var a = Agreement.Of(expected, ort.Run(inputs, count), count);
            _out.WriteLine($"{string.Join(" ", Models.OpTypes(model))}: {a}");
            return a;
        }

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void A_binary_MLP_matches_the_engine(bool binaryInput)
        {
            var rng = new Random(21);
            var model = new PackedModel(3, 8, 8, new DeployOp[]
            {
                new BinaryLinearOp("fc1", 192, 96, binaryInput, Models.RandomSigns(rng, 192 * 96), new[] { 0.04f }, null),
                Models.RandomBatchNorm(rng, "bn1", 96),
                new HardtanhOp("act1"),
                new BinaryLinearOp("fc2", 96, 48, true, Models.RandomSigns(rng, 96 * 48), Models.Uniform(rng, 48, 0.02f, 0.08f), Models.Normal(rng, 48, 0.1f)),
                Models.RandomBatchNorm(rng, "bn2", 48),
                new BinaryLinearOp("fc3", 48, 10, true, Models.RandomSigns(rng, 480), new[] { 0.05f }, Models.Normal(rng, 10, 0.1f)),
            });
            var ops = Models.OpTypes(model);
            Assert.Equal(binaryInput ? 3 : 2, ops.Count(t => t == "Sign"));
            Assert.Equal(3, ops.Count(t => t == "Gemm"));
            Assert.Equal("Flatten", ops[0]);
            var a = CompareWithEngine(model, 64, 22);
            Assert.Equal(64, a.SameArgMax);
            Assert.True(a.MaxDiff < 1e-4, a.ToString());
        }

        [Fact]
        public void A_depthwise_grouped_and_dilated_binary_net_with_average_pooling_matches_the_engine()
        {
            var rng = new Random(23);
            var model = new PackedModel(3, 16, 16, new DeployOp[]
            {
                new Conv2dOp("stem", 3, 16, 3, 3, 1, 1, Models.Normal(rng, 16 * 27, 0.3f), null),
                Models.RandomBatchNorm(rng, "bn0", 16),
                // Depthwise, dilation 2 ("same" with padding 2).
                new BinaryConv2dOp("dw", 16, 16, 3, 3, 1, 2, true, Models.RandomSigns(rng, 16 * 9), Models.Uniform(rng, 16, 0.05f, 0.2f), groups: 16, dilation: 2),
                Models.RandomBatchNorm(rng, "bn1", 16),
                // Grouped (4 groups of 4 → 8), stride 2.
                new BinaryConv2dOp("gconv", 16, 32, 3, 3, 2, 1, true, Models.RandomSigns(rng, 32 * 4 * 9), new[] { 0.07f }, groups: 4),
                Models.RandomBatchNorm(rng, "bn2", 32),
                new AvgPool2dOp("avg", 2, 2),
                new BinaryConv2dOp("pw", 32, 32, 1, 1, 1, 0, true, Models.RandomSigns(rng, 32 * 32), new[] { 0.03f }),
                Models.RandomBatchNorm(rng, "bn3", 32),
                new GlobalAvgPoolOp("gap"),
                new LinearOp("fc", 32, 10, Models.Normal(rng, 320, 0.2f), Models.Normal(rng, 10, 0.1f)),
            });
            var proto = OnnxExport.Convert(model);
            var convs = proto.Graph.Node.Where(n => n.OpType == "Conv").ToList();
            Assert.Equal(new long[] { 1, 16, 4, 1 }, convs.Select(c => c.Attribute.Single(a => a.Name == "group").I));
            Assert.Equal(new long[] { 2, 2 }, convs[1].Attribute.Single(a => a.Name == "dilations").Ints);
            Assert.Contains("AveragePool", Models.OpTypes(model));
            var a = CompareWithEngine(model, 32, 24, 0, 1);
            Assert.Equal(32, a.SameArgMax);
            Assert.True(a.MaxDiff < 1e-4, a.ToString());
        }

        [Fact]
        public void Average_pooling_rounds_the_output_size_down()
        {
            var model = new PackedModel(2, 5, 5, new DeployOp[] { new AvgPool2dOp("avg", 2, 2) });
            var x = Enumerable.Range(0, 50).Select(i => (float)i).ToArray();
            using var ort = new OrtModel(OnnxExport.ToBytes(model));
            var y = ort.Run(x, 1);
            Assert.Equal(new float[] { 3, 5, 13, 15, 28, 30, 38, 40 }, y);
            Assert.Equal(new InferenceEngine(model).Run(x), y);
        }
    }
}

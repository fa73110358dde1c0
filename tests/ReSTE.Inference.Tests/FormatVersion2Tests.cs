using System;
using System.Buffers.Binary;
using System.Linq;
using ReSTE.Inference.Format;
using Xunit;

namespace ReSTE.Inference.Tests
{
    /// <summary>Format version 2: binary Linear, average pooling, grouped and dilated binary convolutions.</summary>
    public class FormatVersion2Tests
    {
        static float[] R(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

        static PackedModel Version2Model()
        {
            var rng = new Random(3);
            var withZero = R(rng, 10 * 32);
            withZero[7] = 0;
            var ops = new DeployOp[]
            {
                new BinaryConv2dOp("dw", 4, 4, 3, 3, 1, 2, true, BitPacking.Pack(R(rng, 4 * 1 * 9)), R(rng, 4), groups: 4, dilation: 2),
                new BinaryConv2dOp("grouped", 4, 8, 3, 3, 2, 1, false, BitPacking.Pack(R(rng, 8 * 2 * 9)), new[] { 0.5f }, groups: 2),
                new AvgPool2dOp("pool", 2, 2),
                new BinaryLinearOp("fc1", 32, 10, true, BitPacking.Pack(withZero), R(rng, 10), R(rng, 10)),
                new BinaryLinearOp("fc2", 10, 3, false, BitPacking.Pack(R(rng, 30)), new[] { 0.25f }, null),
            };
            return new PackedModel(4, 8, 8, ops);
        }

        [Fact]
        public void New_ops_round_trip_through_a_version_2_file()
        {
            var model = Version2Model();
            var bytes = PackedModelFile.ToBytes(model);
            Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)));
            var back = PackedModelFile.FromBytes(bytes);
            Assert.Equal(model.Ops.Select(o => (o.Kind, o.Name)), back.Ops.Select(o => (o.Kind, o.Name)));

            var dw = (BinaryConv2dOp)back.Ops[0];
            Assert.Equal((4, 4, 2, 2, 1), (dw.Groups, dw.InChannels, dw.Dilation, dw.Padding, dw.GroupInChannels));
            Assert.Equal(((BinaryConv2dOp)model.Ops[0]).Weight.ToFloats(), dw.Weight.ToFloats());
            Assert.Equal(((BinaryConv2dOp)model.Ops[0]).Scale, dw.Scale);
            var grouped = (BinaryConv2dOp)back.Ops[1];
            Assert.Equal((2, 1, false, 2), (grouped.Groups, grouped.Dilation, grouped.BinarizesActivations, grouped.Stride));
            var pool = (AvgPool2dOp)back.Ops[2];
            Assert.Equal((2, 2), (pool.Kernel, pool.Stride));
            var fc1 = (BinaryLinearOp)back.Ops[3];
            var fc1Before = (BinaryLinearOp)model.Ops[3];
            Assert.Equal((32, 10, true), (fc1.InFeatures, fc1.OutFeatures, fc1.BinarizesActivations));
            Assert.NotNull(fc1.Weight.NonZero);
            Assert.Equal(0f, fc1.Weight[7]);
            Assert.Equal(fc1Before.Weight.ToFloats(), fc1.Weight.ToFloats());
            Assert.Equal(fc1Before.Scale, fc1.Scale);
            Assert.Equal(fc1Before.Bias, fc1.Bias);
            var fc2 = (BinaryLinearOp)back.Ops[4];
            Assert.Null(fc2.Bias);
            Assert.False(fc2.BinarizesActivations);
            Assert.Equal(new[] { 0.25f }, fc2.Scale);
            Assert.Equal(bytes, PackedModelFile.ToBytes(back));
        }

        [Fact]
        public void A_model_of_version_1_ops_is_written_as_version_1()
        {
            var bytes = PackedModelFile.ToBytes(FormatTests.SampleModel());
            Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)));
            Assert.Equal(1, PackedModelFile.RequiredVersion(FormatTests.SampleModel()));
            Assert.Equal(2, PackedModelFile.RequiredVersion(Version2Model()));
            var back = PackedModelFile.FromBytes(bytes);
            Assert.All(back.Ops.OfType<BinaryConv2dOp>(), b => Assert.Equal((1, 1), (b.Groups, b.Dilation)));
        }

        [Fact]
        public void A_version_1_file_with_a_version_2_op_is_refused_naming_the_op()
        {
            var bytes = PackedModelFile.ToBytes(new PackedModel(4, 8, 8, new DeployOp[] { new AvgPool2dOp("head.pool", 2, 2) }));
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), 1);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(60), Crc32.Compute(bytes.AsSpan(0, 60)));
            var e = Assert.Throws<PackedModelFormatException>(() => PackedModelFile.FromBytes(bytes));
            Assert.Equal(PackedModelError.Corrupt, e.Error);
            Assert.Contains("'head.pool'", e.Message);
            Assert.Contains("needs format version 2", e.Message);
        }

        [Fact]
        public void Bad_groups_and_shapes_are_refused_naming_the_op()
        {
            var e = Assert.Throws<ArgumentException>(() =>
                new BinaryConv2dOp("conv", 6, 4, 3, 3, 1, 1, true, BitPacking.Pack(new float[4 * 2 * 9]), new[] { 1f }, groups: 4));
            Assert.StartsWith("conv: groups 4 must", e.Message);
            e = Assert.Throws<ArgumentException>(() => new BinaryLinearOp("fc", 8, 2, true, BitPacking.Pack(new float[15]), new[] { 1f }, null));
            Assert.StartsWith("fc: weight bit count", e.Message);
            e = Assert.Throws<ArgumentException>(() => new AvgPool2dOp("pool", 0, 1));
            Assert.StartsWith("pool:", e.Message);
        }
    }
}

using System;
using System.Buffers.Binary;
using System.IO;
using System.Linq;
using ReSTE.Inference.Format;
using Xunit;

namespace ReSTE.Inference.Tests
{
    public class FormatTests
    {
        [Fact]
        public void Crc32_matches_the_standard_check_value()
        {
            Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
            Assert.Equal(0u, Crc32.Compute(ReadOnlySpan<byte>.Empty));
            Assert.Equal(Crc32.Compute("123456789"u8), Crc32.Append(Crc32.Compute("1234"u8), "56789"u8));
        }

        [Fact]
        public void Pack_stores_one_bit_per_value_least_significant_first()
        {
            var bits = BitPacking.Pack(new float[] { 0.5f, -2f, 3f, 3f, -1f, -1f, -1f, 7f, 1e-30f, -1e-30f });
            Assert.Equal(2, bits.Signs.Length);
            Assert.Equal(0b1000_1101, bits.Signs[0]);
            Assert.Equal(0b0000_0001, bits.Signs[1]);
            Assert.Null(bits.NonZero);
            Assert.Equal(new float[] { 1, -1, 1, 1, -1, -1, -1, 1, 1, -1 }, bits.ToFloats());
        }

        [Fact]
        public void Pack_keeps_the_sign_of_zero_as_zero_with_a_mask_plane()
        {
            var values = new float[] { 1, 0, -1, 0, -0f, 2, 0, 0, 0, 3 };
            var bits = BitPacking.Pack(values);
            Assert.NotNull(bits.NonZero);
            Assert.Equal(new float[] { 1, 0, -1, 0, 0, 1, 0, 0, 0, 1 }, bits.ToFloats());
            Assert.Equal(0b0010_0101, bits.NonZero![0]);
            Assert.Equal(0b10, bits.NonZero[1]); // unused tail bits are 0
        }

        [Fact]
        public void ResNet20_binary_weights_take_33_KB()
        {
            Assert.Equal(33_408, BitPacking.ByteCount(267_264));
        }

        [Fact]
        public void Pack_refuses_NaN()
        {
            Assert.Throws<ArgumentException>(() => BitPacking.Pack(new[] { 1f, float.NaN }));
        }

        internal static PackedModel SampleModel(int seed = 1)
        {
            var rng = new Random(seed);
            float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            float[] Pos(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() + 0.5)).ToArray();
            var withZero = R(8 * 4 * 9);
            withZero[5] = 0; // sign(0) = 0 needs the nonzero mask plane
            var ops = new DeployOp[]
            {
                new NormalizeOp("normalize", new[] { 0.485f, 0.456f, 0.406f }, new[] { 0.229f, 0.224f, 0.225f }),
                new Conv2dOp("conv1", 3, 4, 3, 3, 1, 1, R(4 * 3 * 9), null),
                new ReLUOp("relu"),
                new BatchNormOp("bn1", R(4), R(4), R(4), Pos(4), 1e-5f),
                new ResidualBeginOp("layer1.0"),
                new BinaryConv2dOp("layer1.0.conv1", 4, 8, 3, 3, 2, 1, true, BitPacking.Pack(withZero), new[] { 0.25f }),
                new HardtanhOp("ht", -1, 1),
                new BinaryConv2dOp("layer1.0.conv2", 8, 8, 3, 3, 1, 1, true, BitPacking.Pack(R(8 * 8 * 9)), Pos(8)),
                new ResidualEndOp("layer1.0.shortcut", ShortcutKind.OptionA, 2, 2, 2),
                new ResidualBeginOp("layer2.0"),
                new BinaryConv2dOp("layer2.0.conv1", 8, 8, 3, 3, 1, 1, false, BitPacking.Pack(R(8 * 8 * 9)), new[] { 0.5f }),
                new ResidualEndOp("layer2.0.shortcut", ShortcutKind.Identity),
                new GlobalAvgPoolOp("avgpool"),
                new BatchNormOp("bn2", R(8), R(8), R(8), Pos(8), 1e-5f),
                new LinearOp("linear", 8, 10, R(80), R(10)),
            };
            return new PackedModel(3, 8, 8, ops, new System.Collections.Generic.Dictionary<string, string> { ["source"] = "test", ["ünïcode"] = "✓" });
        }

        [Fact]
        public void A_round_trip_preserves_every_op_and_is_byte_stable()
        {
            var model = SampleModel();
            var bytes = PackedModelFile.ToBytes(model);
            var back = PackedModelFile.FromBytes(bytes);
            Assert.Equal(model.InputChannels, back.InputChannels);
            Assert.Equal(model.InputHeight, back.InputHeight);
            Assert.Equal(model.InputWidth, back.InputWidth);
            Assert.Equal(model.Metadata.OrderBy(p => p.Key), back.Metadata.OrderBy(p => p.Key));
            Assert.Equal(model.Ops.Count, back.Ops.Count);
            for (int i = 0; i < model.Ops.Count; i++)
            {
                Assert.Equal(model.Ops[i].GetType(), back.Ops[i].GetType());
                Assert.Equal(model.Ops[i].Name, back.Ops[i].Name);
            }
            var b0 = (BinaryConv2dOp)model.Ops[5];
            var b1 = (BinaryConv2dOp)back.Ops[5];
            Assert.Equal(b0.Weight.Signs, b1.Weight.Signs);
            Assert.Equal((b0.Stride, b0.Padding, b0.BinarizesActivations), (b1.Stride, b1.Padding, b1.BinarizesActivations));
            Assert.Equal(((BatchNormOp)model.Ops[3]).RunningVar, ((BatchNormOp)back.Ops[3]).RunningVar);
            Assert.Equal(((LinearOp)model.Ops[^1]).Weight, ((LinearOp)back.Ops[^1]).Weight);
            var r = (ResidualEndOp)back.Ops[8];
            Assert.Equal((ShortcutKind.OptionA, 2, 2, 2), (r.Shortcut, r.Stride, r.PadBefore, r.PadAfter));
            Assert.Equal(bytes, PackedModelFile.ToBytes(back));

            using var dir = new TempDir();
            var path = dir.File("model.rbnn");
            PackedModelFile.Save(model, path);
            Assert.Equal(bytes, File.ReadAllBytes(path));
            Assert.Equal(model.Ops.Count, PackedModelFile.Load(path).Ops.Count);
        }

        [Fact]
        public void A_round_trip_keeps_max_pool_and_shortcut_branch_and_the_engine_runs_them()
        {
            var rng = new Random(3);
            float[] R(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
            var ops = new DeployOp[]
            {
                new ResidualBeginOp("block"),
                new BinaryConv2dOp("block.conv", 2, 4, 3, 3, 2, 1, true, BitPacking.Pack(R(4 * 2 * 9)), new[] { 0.5f }),
                new ShortcutBranchOp("block.shortcut"),
                new Conv2dOp("block.shortcut.0", 2, 4, 1, 1, 2, 0, R(8), null),
                new BatchNormOp("block.shortcut.1", R(4), R(4), R(4), new[] { 1f, 2f, 3f, 4f }, 1e-5f),
                new ResidualEndOp("block.add", ShortcutKind.Identity),
                new MaxPool2dOp("pool", 2, 2),
                new LinearOp("fc", 4 * 2 * 2, 3, R(48), null),
            };
            var model = new PackedModel(2, 8, 8, ops);
            var back = PackedModelFile.FromBytes(PackedModelFile.ToBytes(model));
            Assert.Equal(ops.Select(o => (o.Kind, o.Name)), back.Ops.Select(o => (o.Kind, o.Name)));
            var pool = (MaxPool2dOp)back.Ops[6];
            Assert.Equal((2, 2), (pool.Kernel, pool.Stride));

            // 2×8×8 → (binary conv / 2) 4×4×4 + (1×1 conv / 2 + BN) 4×4×4 → max-pool 4×2×2 → 3 logits.
            var engine = new ReSTE.Inference.Engine.InferenceEngine(back);
            Assert.Equal(3, engine.OutputLength);
            Assert.Contains(engine.Steps, s => s.StartsWith("MaxPool 2×2/2 4×4×4→4×2×2", StringComparison.Ordinal));
            Assert.Contains(engine.Steps, s => s.Contains("shortcut branch", StringComparison.Ordinal));
            var summary = ReSTE.Inference.Summary.ModelSummary.Of(back);
            Assert.Equal("4×2×2", summary.Layers.Single(l => l.Kind == "MaxPool2d").OutputShape);
            Assert.Equal("4×4×4", summary.Layers.Single(l => l.Name == "block.shortcut.0").OutputShape);
        }

        [Fact]
        public void The_engine_refuses_misplaced_shortcut_branches()
        {
            var conv = new Conv2dOp("c", 2, 2, 1, 1, 1, 0, new float[4], null);
            InvalidOperationException Plan(params DeployOp[] ops) =>
                Assert.Throws<InvalidOperationException>(() => new ReSTE.Inference.Engine.InferenceEngine(new PackedModel(2, 4, 4, ops)));
            Assert.Contains("no residual block is open", Plan(new ShortcutBranchOp("s")).Message);
            Assert.Contains("already has a shortcut branch",
                Plan(new ResidualBeginOp("b"), conv, new ShortcutBranchOp("s1"), conv, new ShortcutBranchOp("s2")).Message);
            Assert.Contains("must be an identity",
                Plan(new ResidualBeginOp("b"), conv, new ShortcutBranchOp("s"), conv, new ResidualEndOp("e", ShortcutKind.OptionA, 1, 0, 0)).Message);
            Assert.Contains("empty shortcut branch", Plan(new ResidualBeginOp("b"), conv, new ShortcutBranchOp("s"), new ResidualEndOp("e", ShortcutKind.Identity)).Message);
            var wide = new Conv2dOp("w", 2, 3, 1, 1, 1, 0, new float[6], null);
            Assert.Contains("the shortcut branch gives 3×4×4, the block's main path 2×4×4",
                Plan(new ResidualBeginOp("b"), conv, new ShortcutBranchOp("s"), wide, new ResidualEndOp("e", ShortcutKind.Identity)).Message);
            Assert.Contains("does not fit", Plan(new MaxPool2dOp("p", 5, 1)).Message);
        }

        [Fact]
        public void A_round_trip_keeps_the_zero_mask_of_weights()
        {
            var w = new float[2 * 1 * 3 * 3];
            for (int i = 0; i < w.Length; i++) w[i] = i % 3 - 1;
            var model = new PackedModel(1, 4, 4, new DeployOp[] { new BinaryConv2dOp("c", 1, 2, 3, 3, 1, 1, true, BitPacking.Pack(w), new[] { 1f, 2f }) });
            var back = (BinaryConv2dOp)PackedModelFile.FromBytes(PackedModelFile.ToBytes(model)).Ops[0];
            Assert.Equal(w, back.Weight.ToFloats());
            Assert.Equal(new[] { 1f, 2f }, back.Scale);
        }

        static PackedModelFormatException Fails(byte[] bytes) => Assert.Throws<PackedModelFormatException>(() => PackedModelFile.FromBytes(bytes));

        [Fact]
        public void A_file_truncated_at_any_length_is_reported_as_truncated()
        {
            var bytes = PackedModelFile.ToBytes(SampleModel());
            foreach (int length in new[] { 0, 4, 9, 30, 63, 64, 65, 200, bytes.Length / 2, bytes.Length - 1 })
            {
                var e = Fails(bytes[..length]);
                Assert.True(e.Error == PackedModelError.Truncated, $"length {length}: {e.Error} {e.Message}");
                Assert.Contains("Truncated", e.Message);
            }
        }

        [Fact]
        public void A_truncated_file_is_named_with_its_path()
        {
            var bytes = PackedModelFile.ToBytes(SampleModel());
            using var dir = new TempDir();
            var path = dir.File("model.rbnn");
            File.WriteAllBytes(path, bytes[..(bytes.Length - 10)]);
            var e = Assert.Throws<PackedModelFormatException>(() => PackedModelFile.Load(path));
            Assert.Equal(PackedModelError.Truncated, e.Error);
            Assert.Contains(path, e.Message);
            Assert.Contains($"the file has {bytes.Length - 10}", e.Message);
        }

        [Fact]
        public void A_flipped_bit_anywhere_after_the_version_is_reported_as_corrupt()
        {
            var bytes = PackedModelFile.ToBytes(SampleModel());
            var rng = new Random(7);
            var positions = new[] { 12, 20, 24, 30, 41, 61, 64, 70, 100, bytes.Length / 3, bytes.Length / 2, bytes.Length - 5, bytes.Length - 1 }
                .Concat(Enumerable.Range(0, 40).Select(_ => rng.Next(10, bytes.Length)));
            foreach (int at in positions)
            {
                var copy = (byte[])bytes.Clone();
                copy[at] ^= (byte)(1 << rng.Next(8));
                var e = Assert.Throws<PackedModelFormatException>(() => PackedModelFile.FromBytes(copy));
                Assert.True(e.Error is PackedModelError.Corrupt or PackedModelError.Truncated, $"byte {at}: {e.Error} {e.Message}");
            }
        }

        [Fact]
        public void Corrupt_weight_bits_name_the_op_record()
        {
            var model = SampleModel();
            var bytes = PackedModelFile.ToBytes(model);
            var op = (BinaryConv2dOp)model.Ops[7];
            // Find the record's sign bits in the file and flip one of them.
            int at = IndexOf(bytes, op.Weight.Signs);
            Assert.True(at > 0);
            bytes[at + 3] ^= 0x10;
            var e = Fails(bytes);
            Assert.Equal(PackedModelError.Corrupt, e.Error);
            Assert.Contains("'layer1.0.conv2'", e.Message);
            Assert.Contains("checksum", e.Message);
        }

        static int IndexOf(byte[] haystack, byte[] needle)
        {
            for (int i = 0; i + needle.Length <= haystack.Length; i++)
                if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
            return -1;
        }

        [Fact]
        public void A_wrong_version_is_reported_as_such_even_with_a_valid_checksum()
        {
            var bytes = PackedModelFile.ToBytes(SampleModel());
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), 3);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(60), Crc32.Compute(bytes.AsSpan(0, 60)));
            var e = Fails(bytes);
            Assert.Equal(PackedModelError.WrongVersion, e.Error);
            Assert.Contains("version 3", e.Message);
            Assert.Contains("versions 1 to 2", e.Message);
        }

        [Fact]
        public void Other_files_are_not_packed_models()
        {
            Assert.Equal(PackedModelError.NotAPackedModel, Fails("PK\u0003\u0004 a zip file, not a model"u8.ToArray()).Error);
            var bytes = PackedModelFile.ToBytes(SampleModel());
            bytes[0] = (byte)'X';
            Assert.Equal(PackedModelError.NotAPackedModel, Fails(bytes).Error);
        }

        [Fact]
        public void Trailing_bytes_are_reported_as_corrupt()
        {
            var bytes = PackedModelFile.ToBytes(SampleModel());
            var longer = bytes.Concat(new byte[] { 0, 0, 0 }).ToArray();
            var e = Fails(longer);
            Assert.Equal(PackedModelError.Corrupt, e.Error);
            Assert.Contains("3 bytes after the end", e.Message);
        }

        [Fact]
        public void Loading_a_missing_file_says_so()
        {
            var path = Path.Combine(Path.GetTempPath(), $"reste-missing-{Guid.NewGuid():N}.rbnn");
            var e = Assert.Throws<FileNotFoundException>(() => PackedModelFile.Load(path));
            Assert.Contains(path, e.Message);
        }
    }
}

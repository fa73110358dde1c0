using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using ReSTE.Runtime.Interop;
using ReSTE.Runtime.Tests.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Tests.Interop
{
    public sealed class SafetensorsTests
    {
        [Fact]
        public void Round_trips_every_supported_dtype_shape_and_metadata()
        {
            using var dir = new TempDir();
            using var scope = NewDisposeScope();
            var tensors = new Dictionary<string, Tensor>
            {
                ["conv1.weight"] = randn(16, 3, 3, 3),
                ["bn1.running_var"] = rand(16, dtype: ScalarType.Float64),
                ["bn1.num_batches_tracked"] = tensor(391L),
                ["half"] = randn(5, dtype: ScalarType.Float16),
                ["bf"] = randn(2, 3, dtype: ScalarType.BFloat16),
                ["i32"] = arange(7, dtype: ScalarType.Int32),
                ["i16"] = arange(3, dtype: ScalarType.Int16),
                ["i8"] = tensor(new sbyte[] { -3, 4 }),
                ["u8"] = tensor(new byte[] { 0, 255, 7 }),
                ["flags"] = tensor(new[] { true, false, true }),
                ["empty"] = zeros(0, 4),
                ["strided"] = randn(4, 6).t(),
            };
            var path = dir.File("m.safetensors");
            Safetensors.Save(path, tensors, new Dictionary<string, string> { ["epoch"] = "3", ["note"] = "ünïcode" });
            using var file = Safetensors.Load(path);
            Assert.Equal(tensors.Keys.OrderBy(k => k), file.Tensors.Keys.OrderBy(k => k));
            foreach (var (name, t) in tensors)
            {
                var back = file.Tensors[name];
                Assert.Equal(t.dtype, back.dtype);
                Assert.Equal(t.shape, back.shape);
                Assert.True(t.contiguous().bytes.SequenceEqual(back.bytes), name);
            }
            Assert.Equal("3", file.Metadata["epoch"]);
            Assert.Equal("ünïcode", file.Metadata["note"]);
        }

        [Fact]
        public void The_layout_is_the_format_s_header_length_aligned_JSON_and_offsets()
        {
            using var ms = new MemoryStream();
            using var a = tensor(new float[] { 1, 2, 3 });
            using var b = tensor(new long[] { 5 });
            Safetensors.Write(ms, new Dictionary<string, Tensor> { ["b"] = b, ["a"] = a });
            var bytes = ms.ToArray();
            long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.Equal(0, (8 + n) % 8);
            using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n).TrimEnd());
            var ja = doc.RootElement.GetProperty("a");
            Assert.Equal("F32", ja.GetProperty("dtype").GetString());
            Assert.Equal(new long[] { 3 }, ja.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
            Assert.Equal(new long[] { 0, 12 }, ja.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
            Assert.Equal(new long[] { 12, 20 }, doc.RootElement.GetProperty("b").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
            Assert.Equal(8 + n + 20, bytes.Length);
            Assert.Equal(2f, BitConverter.ToSingle(bytes, (int)(8 + n + 4)));
            Assert.Equal(5L, BitConverter.ToInt64(bytes, (int)(8 + n + 12)));
        }

        [Fact]
        public void Malformed_files_get_errors_naming_the_file_and_tensor()
        {
            using var ms = new MemoryStream();
            using var a = zeros(4);
            Safetensors.Write(ms, new Dictionary<string, Tensor> { ["layer1.0.conv1.weight"] = a });
            var good = ms.ToArray();
            var cut = good.AsSpan(0, good.Length - 4).ToArray();
            var e = Assert.Throws<InvalidDataException>(() => Safetensors.Read(cut, "cut.safetensors"));
            Assert.Contains("cut.safetensors", e.Message);
            Assert.Contains("layer1.0.conv1.weight", e.Message);
            var header = Assert.Throws<InvalidDataException>(() => Safetensors.Read(good.AsSpan(0, 20).ToArray(), "short.safetensors"));
            Assert.Contains("short.safetensors", header.Message);
            var junk = (byte[])good.Clone();
            junk[9] = (byte)'!';
            Assert.Contains("malformed", Assert.Throws<InvalidDataException>(() => Safetensors.Read(junk, "junk")).Message);
        }

        sealed class Net : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> conv1 = nn.Conv2d(3, 4, 3, bias: false);
            private readonly TorchSharp.Modules.BatchNorm2d bn1 = nn.BatchNorm2d(4);
            private readonly nn.Module<Tensor, Tensor> linear = nn.Linear(4, 2);
            public Net() : base("Net") { RegisterComponents(); }
            public override Tensor forward(Tensor x) => linear.forward(bn1.forward(conv1.forward(x)).mean(new long[] { 2, 3 }));
        }

        static Dictionary<string, Tensor> ReferenceStyle(Net source, bool withPrefix)
        {
            var d = new Dictionary<string, Tensor>();
            foreach (var (k, v) in source.state_dict()) d[(withPrefix ? "module." : "") + k] = v;
            return d;
        }

        [Fact]
        public void Reference_names_load_into_our_model_through_the_mapping()
        {
            var source = new Net();
            var target = new Net();
            var reference = ReferenceStyle(source, withPrefix: true);
            // PyTorch's BatchNorm has num_batches_tracked; drop ours if TorchSharp has none, keep it if it has.
            reference["module.bn1.num_batches_tracked"] = tensor(17L);
            ReferenceNames.Load(target, reference, "ref.safetensors");
            foreach (var (k, v) in source.state_dict())
                if (!k.EndsWith("num_batches_tracked")) Assert.True(v.equal(target.state_dict()[k]).all().item<bool>(), k);
        }

        [Fact]
        public void Missing_extra_and_misshaped_tensors_are_named()
        {
            var target = new Net();
            var reference = ReferenceStyle(new Net(), withPrefix: false);
            reference.Remove("linear.bias");
            reference["layer9.conv.weight"] = zeros(1);
            reference["conv1.weight"] = zeros(4, 3, 5, 5);
            var e = Assert.Throws<InvalidDataException>(() => ReferenceNames.Load(target, reference, "ref.safetensors"));
            Assert.Contains("ref.safetensors", e.Message);
            Assert.Contains("missing linear.bias", e.Message);
            Assert.Contains("unexpected layer9.conv.weight", e.Message);
            Assert.Contains("mis-shaped conv1.weight: [4, 3, 5, 5] where conv1.weight is [4, 3, 3, 3]", e.Message);
        }
    }
}

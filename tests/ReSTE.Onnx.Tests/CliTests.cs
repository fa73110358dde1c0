using System;
using System.IO;
using System.Linq;
using ReSTE.Inference.Data;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using ReSTE.Runtime.Data;
using Xunit;

namespace ReSTE.Onnx.Tests
{
    /// <summary>The samples CLI's <c>export --onnx</c>.</summary>
    public sealed class CliTests : IDisposable
    {
        readonly TempDir _tmp = new();
        public void Dispose() => _tmp.Dispose();

        static (int Code, string Out, string Err) Run(params string[] args)
        {
            var o = new StringWriter();
            var e = new StringWriter();
            int code = ReSTE.Samples.Program.Run(args, o, e);
            return (code, o.ToString(), e.ToString());
        }

        [Fact]
        public void Export_writes_the_ONNX_model_beside_the_packed_one_and_both_give_the_same_logits()
        {
            var rbnn = Path.Combine(_tmp.Path, "r20.rbnn");
            var onnx = Path.Combine(_tmp.Path, "out", "r20.onnx");
            var (code, output, err) = Run("export", "--random-init", "--seed", "3", "--out", rbnn, "--onnx", onnx);
            Assert.True(code == 0, err);
            Assert.Contains($"→ {onnx} ({new FileInfo(onnx).Length:N0} bytes, ONNX opset 13)", output);
            Assert.Equal(new[] { onnx }, Directory.GetFiles(Path.GetDirectoryName(onnx)!));

            var folder = Cifar10.FindDefaultFolder(AppContext.BaseDirectory)!;
            var (images, _) = Cifar10File.Read(Path.Combine(folder, "test_batch.bin.gz"), 20);
            var expected = new InferenceEngine(PackedModelFile.Load(rbnn)).RunBatch(images, 20, maxDegreeOfParallelism: 1);
            using var ort = new OrtModel(File.ReadAllBytes(onnx));
            var agreement = Agreement.Of(expected, ort.Run(images, 20), 20);
            Console.Error.WriteLine("CLI: " + agreement);
            Assert.Equal(20, agreement.SameArgMax);
            Assert.True(agreement.MaxDiff < 1e-4, agreement.ToString());
        }

        [Fact]
        public void Export_with_onnx_alone_writes_no_packed_file()
        {
            var onnx = Path.Combine(_tmp.Path, "vgg.onnx");
            var (code, output, err) = Run("export", "--model", "vgg-small", "--random-init", "--onnx", onnx);
            Assert.True(code == 0, err);
            Assert.True(new FileInfo(onnx).Length > 4_571_136 * 4, "the ±1 weights are stored as fp32");
            Assert.Single(Directory.GetFiles(_tmp.Path));
            Assert.DoesNotContain(".rbnn", output);
        }

        [Fact]
        public void Export_without_an_output_is_refused()
        {
            var (code, _, err) = Run("export", "--random-init");
            Assert.Equal(1, code);
            Assert.Contains("export needs --out <file.rbnn> (or --onnx <file.onnx>).", err);
        }
    }
}

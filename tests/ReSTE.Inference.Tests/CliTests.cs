using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using ReSTE.Inference.Format;
using Xunit;

namespace ReSTE.Inference.Tests
{
    /// <summary>The samples CLI's <c>export</c> and <c>infer</c> verbs, end to end.</summary>
    public sealed class CliTests : IDisposable
    {
        readonly TempDir _tmp = new();
        string _dir => _tmp.Path;
        public void Dispose() => _tmp.Dispose();

        static (int Code, string Out, string Err) Run(params string[] args)
        {
            var o = new StringWriter();
            var e = new StringWriter();
            int code = ReSTE.Samples.Program.Run(args, o, e);
            return (code, o.ToString(), e.ToString());
        }

        [Fact]
        public void Export_then_infer_on_test_images()
        {
            var file = Path.Combine(_dir, "r20.rbnn");
            var (code, output, err) = Run("export", "--random-init", "--seed", "3", "--out", file, "--summary");
            Assert.True(code == 0, err);
            Assert.Contains("267,264", output);
            Assert.Contains("33,408 bytes", output);
            var model = PackedModelFile.Load(file);
            Assert.Equal(18, model.Ops.Count(op => op is BinaryConv2dOp));

            (code, output, err) = Run("infer", "--packed", file, "--test-limit", "40", "--threads", "2");
            Assert.True(code == 0, err);
            Assert.Matches(new Regex(@"40 test images, top-1 \d+\.\d\d%, \d+ img/s"), output);
        }

        [Fact]
        public void Infer_on_a_corrupt_file_exits_with_the_reason()
        {
            var file = Path.Combine(_dir, "r20.rbnn");
            Assert.Equal(0, Run("export", "--random-init", "--out", file).Code);
            var bytes = File.ReadAllBytes(file);
            File.WriteAllBytes(file, bytes[..(bytes.Length / 2)]);
            var (code, _, err) = Run("infer", "--packed", file, "--test-limit", "5");
            Assert.Equal(1, code);
            Assert.Contains("Truncated packed model", err);
        }

        [Fact]
        public void Export_without_a_source_is_refused()
        {
            var (code, _, err) = Run("export", "--out", Path.Combine(_dir, "x.rbnn"));
            Assert.Equal(1, code);
            Assert.Contains("exactly one of --checkpoint, --weights and --random-init", err);
        }

        [Theory]
        [InlineData("vgg-small", "4,571,136", 5, 3)]   // binary weights; binary convs; max-pools
        [InlineData("resnet18", "10,985,472", 16, 0)]
        public void Export_of_VGG_small_and_ResNet18_then_infer(string name, string binary, int binaryConvs, int pools)
        {
            var file = Path.Combine(_dir, name + ".rbnn");
            var (code, output, err) = Run("export", "--model", name, "--random-init", "--out", file);
            Assert.True(code == 0, err);
            Assert.Contains(binary + " binary", output);
            var model = PackedModelFile.Load(file);
            Assert.Equal(binaryConvs, model.Ops.Count(op => op is BinaryConv2dOp));
            Assert.Equal(pools, model.Ops.Count(op => op is MaxPool2dOp));
            Assert.Equal(name == "resnet18" ? 3 : 0, model.Ops.Count(op => op is ShortcutBranchOp));
            Assert.Equal(name, model.Metadata["model"]);

            (code, output, err) = Run("infer", "--packed", file, "--test-limit", "16", "--threads", "2");
            Assert.True(code == 0, err);
            Assert.Matches(new Regex(@"16 test images, top-1 \d+\.\d\d%"), output);
        }

        [Fact]
        public void Export_of_an_ImageNet_model_takes_its_input_size()
        {
            var file = Path.Combine(_dir, "r18.rbnn");
            var (code, output, err) = Run("export", "--model", "resnet18-imagenet", "--random-init", "--image-size", "64", "--out", file);
            Assert.True(code == 0, err);
            var model = PackedModelFile.Load(file);
            Assert.Equal((3, 64, 64), (model.InputChannels, model.InputHeight, model.InputWidth));
            Assert.Equal(2, PackedModelFile.RequiredVersion(model)); // the stem's padded max pool
            Assert.Contains("11,690,536 parameters", output);

            (code, _, err) = Run("export", "--model", "resnet20", "--random-init", "--image-size", "64", "--out", Path.Combine(_dir, "x.rbnn"));
            Assert.Equal(1, code);
            Assert.Contains("--image-size applies to the ImageNet models; 'resnet20' takes 32×32 inputs.", err);
            (code, _, err) = Run("infer", "--packed", file, "--test-limit", "4");
            Assert.Equal(1, code);
            Assert.Contains("infer runs CIFAR-10 models (3×32×32 → 10)", err);
            Assert.False(File.Exists(Path.Combine(_dir, "x.rbnn")));
        }

        [Fact]
        public void Infer_on_a_PNG_prints_the_class_and_ten_logits()
        {
            var file = Path.Combine(_dir, "r20.rbnn");
            Assert.Equal(0, Run("export", "--random-init", "--out", file).Code);
            // A 40×40 image: infer resizes it to 32×32.
            var png = Path.Combine(_dir, "red.png");
            using (var bitmap = new SkiaSharp.SKBitmap(40, 40))
            {
                bitmap.Erase(new SkiaSharp.SKColor(220, 30, 30));
                using var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(png, data.ToArray());
            }
            var (code, output, err) = Run("infer", "--packed", file, "--png", png);
            Assert.True(code == 0, err);
            var line = output.Split('\n').Single(l => l.StartsWith(png, StringComparison.Ordinal));
            Assert.Matches(new Regex(@": (airplane|automobile|bird|cat|deer|dog|frog|horse|ship|truck) \(logits( -?\d+\.\d{3}){10}\)"), line);

            (code, _, err) = Run("infer", "--packed", file, "--png", Path.Combine(_dir, "missing.png"));
            Assert.Equal(1, code);
            Assert.Contains("--png: no file at", err);
            File.WriteAllText(Path.Combine(_dir, "text.png"), "not an image");
            (code, _, err) = Run("infer", "--packed", file, "--png", Path.Combine(_dir, "text.png"));
            Assert.Equal(1, code);
            Assert.Contains("is not an image SkiaSharp can decode", err);
        }
    }
}

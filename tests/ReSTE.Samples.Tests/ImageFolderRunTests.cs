using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Training;
using SkiaSharp;
using Xunit;

namespace ReSTE.Samples.Tests
{
    /// <summary>
    /// <c>train --dataset folder</c> and <c>eval --predictions</c> on an image folder the test writes: 300 CIFAR-10 test
    /// images of three classes as 32×32 JPEG and PNG files in train/ and val/ class folders.
    /// </summary>
    public sealed class ImageFolderRunTests : IClassFixture<ImageFolderRunTests.Folder>
    {
        public sealed class Folder : IDisposable
        {
            public Folder()
            {
                var cifar = Cifar10.Load(Cifar10.FindDefaultFolder(AppContext.BaseDirectory) ?? throw new DirectoryNotFoundException("../shared/data/cifar10 not found"),
                    Cifar10Split.Test, 2000);
                var names = new[] { "airplane", "automobile", "bird" };
                var count = new int[3];
                for (int i = 0; i < cifar.Count && count.Sum() < 300; i++)
                {
                    int label = cifar.Labels[i];
                    if (label >= 3 || count[label] == 100) continue;
                    int n = count[label]++;
                    string split = n < 80 ? "train" : "val";
                    bool png = n % 2 == 1;
                    var dir = Path.Combine(Root, split, names[label]);
                    Directory.CreateDirectory(dir);
                    using var bitmap = new SKBitmap(new SKImageInfo(32, 32, SKColorType.Rgba8888, SKAlphaType.Unpremul));
                    for (int y = 0; y < 32; y++)
                        for (int x = 0; x < 32; x++)
                        {
                            int o = i * Cifar10.ImageBytes + y * 32 + x;
                            bitmap.SetPixel(x, y, new SKColor(cifar.Images[o], cifar.Images[o + 1024], cifar.Images[o + 2048]));
                        }
                    using var data = bitmap.Encode(png ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg, 95);
                    File.WriteAllBytes(Path.Combine(dir, $"{i:D5}.{(png ? "png" : "jpg")}"), data.ToArray());
                }
            }

            public string Root { get; } = Path.Combine(Path.GetTempPath(), "reste-folder-" + Guid.NewGuid().ToString("N"));

            public void Dispose() { try { Directory.Delete(Root, true); } catch (IOException) { } }
        }

        readonly Folder _data;
        public ImageFolderRunTests(Folder data) => _data = data;

        string Out(string name) => Path.Combine(_data.Root, "runs", name);

        static string[] Train(string data, string outDir, int epochs = 1, params string[] more) => new[]
        {
            "train", "--dataset", "folder", "--data", data, "--model", "resnet18-imagenet", "--image-size", "32", "--epochs", epochs.ToString(CultureInfo.InvariantCulture),
            "--batch", "40", "--test-batch", "30", "--lr", "0.05", "--workers", "2", "--seed", "4", "--out", outDir,
        }.Concat(more).ToArray();

        static double[] Column(string csvPath, string column)
        {
            var lines = File.ReadAllLines(csvPath);
            int i = Array.IndexOf(lines[0].Split(','), column);
            return lines.Skip(1).Select(l => double.Parse(l.Split(',')[i], CultureInfo.InvariantCulture)).ToArray();
        }

        sealed class CancellingWriter : StringWriter
        {
            readonly string _marker; readonly CancellationTokenSource _cts;
            public CancellingWriter(string marker, CancellationTokenSource cts) { _marker = marker; _cts = cts; }
            public override void WriteLine(string? value) { base.WriteLine(value); if (value?.Contains(_marker) == true) _cts.Cancel(); }
        }

        [Fact]
        public void Train_on_a_folder_with_resnet18_imagenet_resumes_mid_epoch_as_if_uninterrupted_and_eval_writes_predictions()
        {
            var straight = Out("straight");
            var (code, stdout, err) = CliTests.Run(Train(_data.Root, straight));
            Assert.True(code == 0, err + stdout);
            Assert.Contains("resnet18-imagenet (ReSTE 1W/1A, o_end 3)", stdout);
            Assert.Contains("240 training, 60 validation images in 3 classes, 32×32 crops", stdout);
            Assert.Contains("epoch 1/1", stdout);
            using (var c = Checkpoint.Load(Path.Combine(straight, Trainer.CheckpointFile)))
            {
                Assert.Equal(new[] { "airplane", "automobile", "bird" }, Trainer.ClassNamesOf(c.Metadata));
                Assert.Equal("folder", c.Metadata["tag.dataset"]);
                Assert.Equal(new long[] { 3, 512 }, c.Model["fc.weight"].shape);
            }

            // Ctrl-C in the middle of the epoch (6 steps of 40: a progress line after step 3), then --resume alone.
            var resumed = Out("resumed");
            using var cts = new CancellationTokenSource();
            var o = new CancellingWriter("epoch 1 step 3/6", cts);
            int icode = Program.Run(Train(_data.Root, resumed), o, new StringWriter(), cts.Token);
            Assert.Equal(130, icode);
            Assert.Contains("Interrupted at epoch 1, step 3 of 6", o.ToString());
            var ckpt = Path.Combine(resumed, Trainer.CheckpointFile);
            var (rcode, rout, rerr) = CliTests.Run("train", "--resume", ckpt);
            Assert.True(rcode == 0, rerr + rout);
            Assert.Contains("epoch 1/1", rout);
            var a = Path.Combine(straight, MetricsFileHook.CsvFile);
            var b = Path.Combine(resumed, MetricsFileHook.CsvFile);
            Assert.Equal(Column(a, "train_loss")[0], Column(b, "train_loss")[0], 4);
            Assert.Equal(Column(a, "test_top1")[0], Column(b, "test_top1")[0], 6);
            Assert.Equal(Column(a, "test_loss")[0], Column(b, "test_loss")[0], 4);

            // eval --predictions: one CSV row per validation image; per-class accuracy and confusion matrix on the console.
            var predictions = Path.Combine(_data.Root, "predictions.csv");
            var (ecode, eout, eerr) = CliTests.Run("eval", "--checkpoint", ckpt, "--predictions", predictions, "--workers", "2");
            Assert.True(ecode == 0, eerr + eout);
            var m = Regex.Match(eout, @"test: 60 images, loss [0-9.]+, top-1 ([0-9.]+)%");
            Assert.True(m.Success, eout);
            Assert.Equal(Column(b, "test_top1")[0], double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), 2);
            var lines = File.ReadAllLines(predictions);
            Assert.Equal("index,file,label,prediction,logit_0,logit_1,logit_2", lines[0]);
            Assert.Equal(61, lines.Length);
            var rows = lines.Skip(1).Select(l => l.Split(',')).ToArray();
            Assert.All(rows, r => Assert.Equal(7, r.Length));
            Assert.Equal(20, rows.Count(r => r[2] == "1"));
            Assert.EndsWith(Path.Combine("val", "airplane", Path.GetFileName(rows[0][1])), rows[0][1]);
            // The prediction is the arg-max of the logits, and accuracy agrees with the rows.
            Assert.All(rows, r =>
            {
                var logits = r.Skip(4).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                Assert.Equal(Array.IndexOf(logits, logits.Max()), int.Parse(r[3], CultureInfo.InvariantCulture));
            });
            double top1 = 100.0 * rows.Count(r => r[2] == r[3]) / rows.Length;
            Assert.Equal(top1, double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), 2);
            Assert.Contains("class       images  correct  accuracy", eout);
            Assert.Matches(@"automobile\s+20\s+\d+\s+[0-9.]+%", eout);
            Assert.Contains("confusion matrix (rows: label, columns: predicted class index):", eout);
        }

        [Fact]
        public void A_corrupt_image_in_the_folder_stops_training_with_its_name_or_is_skipped_and_counted()
        {
            var bad = Path.Combine(_data.Root, "bad");
            foreach (var f in Directory.GetFiles(Path.Combine(_data.Root, "val"), "*", SearchOption.AllDirectories).Take(30))
            {
                var rel = Path.GetRelativePath(_data.Root, f);
                foreach (var split in new[] { "train", "val" })
                {
                    var to = Path.Combine(bad, split, Path.GetRelativePath("val", rel));
                    Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                    File.Copy(f, to);
                }
            }
            var broken = Path.Combine(bad, "train", "bird", "broken.jpg");
            File.WriteAllText(broken, "this is not a JPEG");
            var (code, stdout, err) = CliTests.Run(Train(bad, Out("bad")));
            Assert.Equal(1, code);
            Assert.Contains(broken, err);
            Assert.Contains("not a JPEG or PNG", err);

            var (scode, sout, serr) = CliTests.Run(Train(bad, Out("skip"), 1, "--skip-unreadable"));
            Assert.True(scode == 0, serr + sout);
            Assert.Contains("skipped unreadable images: 1", sout);
            Assert.Contains(broken, sout);
        }
    }
}

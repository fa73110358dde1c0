using System;
using System.IO;
using System.Linq;
using System.Threading;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Training;
using SkiaSharp;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Tests.Data
{
    public sealed class ImageFolderSourceTests
    {
        /// <summary>An RGB image with smooth gradients and some texture, width × height, as RGBA bytes.</summary>
        static byte[] Pattern(int width, int height, int seed)
        {
            var rng = new Random(seed);
            var rgba = new byte[width * height * 4];
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    int i = (y * width + x) * 4;
                    rgba[i] = (byte)(x * 255 / Math.Max(1, width - 1));
                    rgba[i + 1] = (byte)(y * 255 / Math.Max(1, height - 1));
                    rgba[i + 2] = (byte)rng.Next(256);
                    rgba[i + 3] = 255;
                }
            return rgba;
        }

        static void Write(string path, byte[] rgba, int width, int height, SKEncodedImageFormat format, int quality = 95)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            using var bitmap = new SKBitmap(info);
            System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
            using var image = SKImage.FromBitmap(bitmap);
            using var data = image.Encode(format, quality);
            File.WriteAllBytes(path, data.ToArray());
        }

        /// <summary>A folder of <paramref name="perClass"/> images in each of 3 classes, alternately JPEG and PNG, 40×30 .. 52×36.</summary>
        static void MakeFolder(string root, int perClass)
        {
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < perClass; i++)
                {
                    int w = 40 + 4 * (i % 4), h = 30 + 2 * (i % 4);
                    var rgba = Pattern(w, h, c * 1000 + i);
                    // Class c: the red channel is scaled so that classes differ.
                    for (int p = 0; p < rgba.Length; p += 4) rgba[p] = (byte)(rgba[p] * (c + 1) / 3);
                    bool png = i % 2 == 1;
                    Write(Path.Combine(root, $"class{c}", $"img{i:D3}.{(png ? "png" : "jpg")}"), rgba, w, h, png ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg);
                }
        }

        /// <summary>PyTorch's bilinear interpolate (align_corners = false, no antialias) of an (H, W, 4) image's box, as (3, outH, outW) floats.</summary>
        static float[] TorchBilinear(byte[] rgba, int width, int height, CropBox box, int outW, int outH)
        {
            using var scope = NewDisposeScope();
            var img = tensor(rgba, new long[] { height, width, 4 }, dtype: ScalarType.Byte).to(ScalarType.Float32)
                .permute(2, 0, 1).narrow(0, 0, 3).narrow(1, box.Y, box.Height).narrow(2, box.X, box.Width).unsqueeze(0);
            var r = nn.functional.interpolate(img, new long[] { outH, outW }, mode: InterpolationMode.Bilinear, align_corners: false);
            return r.contiguous().data<float>().ToArray();
        }

        [Fact]
        public void A_resized_crop_equals_a_plain_bilinear_resize_of_the_decoded_image()
        {
            using var dir = new TempDir();
            const int w = 61, h = 47;
            var rgba = Pattern(w, h, 7);
            var png = dir.File("a.png");
            Write(png, rgba, w, h, SKEncodedImageFormat.Png);
            var decoded = ImageDecoding.Decode(png);
            Assert.Equal((w, h), (decoded.Width, decoded.Height));
            Assert.Equal(rgba, decoded.Rgba.Take(rgba.Length).ToArray()); // PNG: lossless

            foreach (var (box, outW, outH) in new[] { (new CropBox(5, 3, 40, 30), 16, 16), (new CropBox(0, 0, w, h), 24, 20), (new CropBox(50, 40, 11, 7), 32, 32) })
            {
                var ours = new byte[3 * outW * outH];
                ImageDecoding.ResizeBox(decoded, box, outW, outH, flip: false, ours);
                var reference = TorchBilinear(rgba, w, h, box, outW, outH);
                for (int i = 0; i < ours.Length; i++)
                    Assert.True(Math.Abs(ours[i] - reference[i]) <= 0.5f + 1e-3f, $"box {box} → {outW}×{outH}: value {i} is {ours[i]}, bilinear {reference[i]}");
                var flipped = new byte[ours.Length];
                ImageDecoding.ResizeBox(decoded, box, outW, outH, flip: true, flipped);
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < outH; y++)
                        for (int x = 0; x < outW; x++)
                            Assert.Equal(ours[c * outW * outH + y * outW + x], flipped[c * outW * outH + y * outW + outW - 1 - x]);
            }
        }

        [Fact]
        public void The_evaluation_transform_is_resize_of_the_shorter_side_then_the_central_crop()
        {
            using var dir = new TempDir();
            const int w = 50, h = 37;
            var rgba = Pattern(w, h, 8);
            var png = dir.File("b.png");
            Write(png, rgba, w, h, SKEncodedImageFormat.Png);
            var decoded = ImageDecoding.Decode(png);
            var ours = new byte[3 * 16 * 16];
            ImageDecoding.ResizeCenterCrop(decoded, 18, 16, ours);
            // torchvision: Resize(18) → 18 × int(18·50/37) = 18 × 24; CenterCrop(16): top round(1) = 1, left round(4) = 4.
            using var scope = NewDisposeScope();
            var img = tensor(rgba, new long[] { h, w, 4 }, dtype: ScalarType.Byte).to(ScalarType.Float32).permute(2, 0, 1).narrow(0, 0, 3).unsqueeze(0);
            var resized = nn.functional.interpolate(img, new long[] { 18, 24 }, mode: InterpolationMode.Bilinear, align_corners: false);
            var reference = resized.narrow(2, 1, 16).narrow(3, 4, 16).contiguous().data<float>().ToArray();
            for (int i = 0; i < ours.Length; i++)
                Assert.True(Math.Abs(ours[i] - reference[i]) <= 0.5f + 1e-3f, $"value {i} is {ours[i]}, reference {reference[i]}");
        }

        [Fact]
        public void A_JPEG_decodes_close_to_the_pixels_it_was_written_from()
        {
            using var dir = new TempDir();
            const int w = 64, h = 48;
            var rgba = Pattern(w, h, 9);
            for (int i = 2; i < rgba.Length; i += 4) rgba[i] = 128; // no per-pixel noise: JPEG keeps smooth images close
            var jpg = dir.File("c.jpg");
            Write(jpg, rgba, w, h, SKEncodedImageFormat.Jpeg, quality: 100);
            var decoded = ImageDecoding.Decode(jpg);
            double err = 0;
            for (int i = 0; i < rgba.Length; i++) if (i % 4 != 3) err += Math.Abs(decoded.Rgba[i] - rgba[i]);
            err /= w * h * 3;
            Assert.True(err < 2, $"mean absolute error {err}");
        }

        [Fact]
        public void Random_resized_crops_follow_torchvisions_rules()
        {
            var rng = new SplitMix64(5);
            double minArea = 1, maxArea = 0;
            for (int i = 0; i < 2000; i++)
            {
                var b = ImageDecoding.RandomResizedCropBox(500, 375, ref rng, 0.08, 1.25);
                Assert.InRange(b.X, 0, 500 - b.Width);
                Assert.InRange(b.Y, 0, 375 - b.Height);
                double ratio = (double)b.Width / b.Height, area = (double)b.Width * b.Height / (500 * 375);
                Assert.InRange(ratio, 0.74, 1.35);
                minArea = Math.Min(minArea, area); maxArea = Math.Max(maxArea, area);
            }
            Assert.True(minArea < 0.1 && maxArea > 0.9, $"areas {minArea}..{maxArea}");
            // A very wide image where no try fits: the central crop with the ratio clamped to 4/3.
            var fallback = ImageDecoding.RandomResizedCropBox(400, 10, ref rng, 0.9, 1.0, 1.0, 1.0);
            Assert.Equal(new CropBox(195, 0, 10, 10), fallback);
        }

        [Fact]
        public void Batches_are_deterministic_for_a_seed_and_classes_come_from_the_folders()
        {
            using var dir = new TempDir();
            MakeFolder(dir.Path, 10);
            var options = new ImageFolderOptions { Size = 16, ResizeSize = 18, Workers = 2 };
            var src = new ImageFolderSource(dir.Path, CPU, options);
            Assert.Equal(new[] { "class0", "class1", "class2" }, src.ClassNames);
            Assert.Equal(30, src.Count);
            Assert.Equal(10, src.Labels.Count(l => l == 2));
            float[] Epoch(long seed, int epoch)
            {
                using var scope = NewDisposeScope();
                using var reader = src.Open(BatchPass.Training(8, seed, epoch));
                Assert.Equal(4, reader.Steps);
                var all = new System.Collections.Generic.List<float>();
                while (reader.Next(out var x, out var y))
                {
                    Assert.Equal(new long[] { 3, 16, 16 }, x.shape.Skip(1).ToArray());
                    all.AddRange(x.data<float>().ToArray());
                    all.AddRange(y.to(ScalarType.Float32).data<float>().ToArray());
                }
                return all.ToArray();
            }
            var a = Epoch(1, 0);
            Assert.Equal(a, Epoch(1, 0));
            Assert.NotEqual(a, Epoch(1, 1));
            Assert.NotEqual(a, Epoch(2, 0));
            // Workers do not change the result: one worker gives the same bytes.
            var one = new ImageFolderSource(dir.Path, CPU, options with { Workers = 1, Prefetch = 1 });
            using (var scope = NewDisposeScope())
            using (var r1 = one.Open(BatchPass.Training(8, 1, 0)))
            using (var r2 = src.Open(BatchPass.Training(8, 1, 0, firstStep: 2)))
            {
                for (int i = 0; i < 3; i++) Assert.True(r1.Next(out _, out _));
                Assert.True(r1.Next(out var x1, out var y1));
                Assert.True(r2.Next(out _, out _));
                Assert.True(r2.Next(out var x2, out var y2));
                Assert.True(x1.equal(x2).all().item<bool>());
                Assert.True(y1.equal(y2).all().item<bool>());
                Assert.False(r2.Next(out _, out _));
            }
            // A validation folder takes the training folder's class indices.
            using var val = new TempDir();
            MakeFolder(val.Path, 2);
            Directory.Delete(Path.Combine(val.Path, "class0"), recursive: true);
            var v = new ImageFolderSource(val.Path, CPU, options, src.ClassNames);
            Assert.Equal(new[] { 1, 1, 2, 2 }, v.Labels);
            Directory.CreateDirectory(Path.Combine(val.Path, "zebra"));
            File.Copy(src.Files[0], Path.Combine(val.Path, "zebra", "z.jpg"));
            var e = Assert.Throws<InvalidDataException>(() => new ImageFolderSource(val.Path, CPU, options, src.ClassNames));
            Assert.Contains("'zebra'", e.Message);
        }

        [Fact]
        public void A_truncated_JPEG_and_a_text_file_named_jpg_are_errors_naming_them_or_skipped_and_counted()
        {
            using var dir = new TempDir();
            MakeFolder(dir.Path, 4);
            var good = File.ReadAllBytes(Path.Combine(dir.Path, "class1", "img000.jpg"));
            var truncated = Path.Combine(dir.Path, "class1", "img000.jpg");
            File.WriteAllBytes(truncated, good.AsSpan(0, good.Length / 2).ToArray());
            var text = Path.Combine(dir.Path, "class2", "notes.jpg");
            File.WriteAllText(text, "not an image\n");
            var options = new ImageFolderOptions { Size = 16, ResizeSize = 18, Workers = 2 };

            var e1 = Assert.Throws<InvalidDataException>(() => ImageDecoding.Decode(truncated));
            Assert.Contains(truncated, e1.Message);
            Assert.Contains("truncated", e1.Message);
            var e2 = Assert.Throws<InvalidDataException>(() => ImageDecoding.Decode(text));
            Assert.Contains(text, e2.Message);
            Assert.Contains("not a JPEG or PNG", e2.Message);

            // Through a pass: the error reaches the reading thread, naming the file; the workers stop; nothing hangs.
            var src = new ImageFolderSource(dir.Path, CPU, options);
            Assert.Equal(13, src.Count);
            var failed = new System.Collections.Generic.List<string>();
            using (var scope = NewDisposeScope())
            using (var reader = src.Open(BatchPass.Evaluation(1)))
            {
                for (int i = 0; i < reader.Steps; i++)
                {
                    try { Assert.True(reader.Next(out _, out _)); }
                    catch (InvalidDataException e) { failed.Add(e.Message); }
                }
            }
            Assert.Equal(2, failed.Count);
            Assert.Contains(failed, m => m.Contains(truncated));
            Assert.Contains(failed, m => m.Contains(text));

            var skipping = new ImageFolderSource(dir.Path, CPU, options with { SkipUnreadable = true });
            long n = 0;
            using (var scope = NewDisposeScope())
            using (var reader = skipping.Open(BatchPass.Training(5, 0, 0)))
                while (reader.Next(out _, out var y)) n += y.shape[0];
            Assert.Equal(11, n);
            Assert.Equal(2, skipping.Skipped);
            Assert.Equal(new[] { truncated, text }.OrderBy(s => s), skipping.SkippedFiles.OrderBy(s => s));
        }

        [Fact]
        public void Training_on_a_folder_resumed_mid_epoch_equals_an_uninterrupted_run()
        {
            using var dir = new TempDir();
            using var ckptDir = new TempDir();
            MakeFolder(dir.Path, 12);
            var options = new ImageFolderOptions { Size = 16, ResizeSize = 18, Workers = 2 };
            var train = new ImageFolderSource(dir.Path, CPU, options);
            var test = new ImageFolderSource(dir.Path, CPU, options, train.ClassNames);
            var o = new TrainerOptions { Epochs = 2, BatchSize = 8, EvalBatchSize = 16, LearningRate = 0.05, Seed = 3 };
            var straight = new Training.TinyNet(4);
            var full = new Trainer(straight, train, test, o).Run();
            Assert.Equal(TrainOutcome.Completed, full.Outcome);

            using var cts = new CancellationTokenSource();
            var first = new Training.TinyNet(4);
            var part = new Trainer(first, train, test, o with { OutputDirectory = ckptDir.Path }, new[] { new Stop(1, 2, cts) }).Run(cts.Token);
            Assert.Equal(TrainOutcome.Interrupted, part.Outcome);
            var ckpt = Path.Combine(ckptDir.Path, Trainer.CheckpointFile);
            using (var c = Checkpoint.Load(ckpt))
            {
                Assert.Equal((1, 3), (c.Epoch, c.Step));
                Assert.Equal(train.ClassNames, Trainer.ClassNamesOf(c.Metadata));
            }
            var resumed = new Training.TinyNet(77);
            var rest = new Trainer(resumed, train, test, o with { OutputDirectory = ckptDir.Path, ResumeFrom = ckpt }).Run();
            Assert.Equal(full.History[1].TrainLoss, rest.History[0].TrainLoss, 5);
            Assert.Equal(full.History[1].TestTop1, rest.History[0].TestTop1, 6);
            var sb = resumed.state_dict();
            foreach (var (k, v) in straight.state_dict())
                Assert.True(v.to(ScalarType.Float64).allclose(sb[k].to(ScalarType.Float64), rtol: 1e-5, atol: 1e-6), $"{k} differs");
        }

        sealed class Stop : ITrainerHook
        {
            readonly int _epoch, _step;
            readonly CancellationTokenSource _cts;
            public Stop(int epoch, int step, CancellationTokenSource cts) { _epoch = epoch; _step = step; _cts = cts; }
            public void OnStep(int epoch, int step, int steps, int batchSize) { if (epoch == _epoch && step == _step) _cts.Cancel(); }
        }
    }
}

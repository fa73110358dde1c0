using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using ReSTE.Runtime.Data;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Benchmarks
{
    /// <summary>
    /// The image-folder pipeline's throughput on this machine's cores (a Stopwatch console, not BenchmarkDotNet: one
    /// pass is seconds long and its cost is the decoding, not the harness):
    /// <c>dotnet run -c Release --project benchmarks/ReSTE.Benchmarks -- --data-pipeline [images] [repeats]</c>.
    /// It writes <c>images</c> 500×375 JPEGs (ImageNet's typical size; quality 90, CIFAR-10 test images enlarged, with
    /// noise so that the files are as large as ImageNet's, about 105 KiB, rather than smooth) into class folders under the temporary folder once,
    /// then times, alternating: decoding alone (one thread), the training transform alone (one thread, decoded images
    /// in memory), and whole passes of <see cref="ImageFolderSource"/> (training: RandomResizedCrop(224) + flip; and
    /// evaluation: Resize(256) + CenterCrop(224)) with 1 and 2 worker threads, batches of 64 normalised on the CPU
    /// device as the trainer reads them.
    /// </summary>
    public static class DataPipeline
    {
        const int Width = 500, Height = 375, Classes = 10;
        /// <summary>Uniform noise of ±Noise grey levels: with 48 the files average 105 KiB, as ImageNet's training JPEGs do (about 140 GB for 1.28 million).</summary>
        const int Noise = 48;

        public static void Run(string[] args)
        {
            int images = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 1280;
            int repeats = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3;
            torch.set_num_threads(1);
            string root = MakeFolder(images);
            var files = Directory.GetFiles(root, "*.jpg", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            double meanKb = files.Average(f => new FileInfo(f).Length) / 1024.0;
            Console.WriteLine($"{files.Length} JPEGs of {Width}×{Height} in {root}, mean {meanKb:F0} KiB; {Environment.ProcessorCount} cores");

            for (int r = 0; r < repeats; r++)
            {
                Console.WriteLine($"-- repeat {r + 1}");
                Report("decode only, 1 thread", files.Length, () => { foreach (var f in files) ImageDecoding.Decode(f); });
                var decoded = files.Take(256).Select(ImageDecoding.Decode).ToArray();
                var output = new byte[3 * 224 * 224];
                Report("RandomResizedCrop(224)+flip only, 1 thread", decoded.Length, () =>
                {
                    var rng = new SplitMix64(7);
                    foreach (var image in decoded)
                    {
                        var box = ImageDecoding.RandomResizedCropBox(image.Width, image.Height, ref rng, 0.08, 1.25);
                        ImageDecoding.ResizeBox(image, box, 224, 224, flip: (rng.Next() & 1) == 1, output);
                    }
                });
                foreach (int workers in new[] { 1, 2 })
                    foreach (bool train in new[] { true, false })
                    {
                        var source = new ImageFolderSource(root, CPU, new ImageFolderOptions { Workers = workers });
                        var pass = train ? BatchPass.Training(64, seed: 1, epoch: r) : BatchPass.Evaluation(64);
                        Report($"{(train ? "training pass" : "evaluation pass")}, {workers} worker{(workers > 1 ? "s" : "")}", source.Count, () =>
                        {
                            using var reader = source.Open(pass);
                            while (true)
                            {
                                using var scope = NewDisposeScope();
                                if (!reader.Next(out _, out _)) break;
                            }
                        });
                    }
            }
        }

        static void Report(string what, int count, Action run)
        {
            var process = Process.GetCurrentProcess();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            run();
            sw.Stop();
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
            Console.WriteLine($"  {what,-46} {count / sw.Elapsed.TotalSeconds,8:F1} img/s   {1000 * cpu / count,6:F2} CPU ms/img   ({sw.Elapsed.TotalSeconds:F2} s wall, {cpu:F2} s CPU)");
        }

        /// <summary>The benchmark's folder (made once per image count): root/class_k/NNNNN.jpg.</summary>
        static string MakeFolder(int images)
        {
            string root = Path.Combine(Path.GetTempPath(), $"reste-bench-jpeg-{Width}x{Height}-n{Noise}-{images}");
            if (File.Exists(Path.Combine(root, ".complete"))) return root;
            var cifarDir = Cifar10.FindDefaultFolder() ?? throw new DirectoryNotFoundException("CIFAR-10 not found (../shared/data/cifar10 or CIFAR10_DIR).");
            var cifar = Cifar10.Load(cifarDir, Cifar10Split.Test, images);
            var rng = new SplitMix64(12345);
            var rgba = new byte[Width * Height * 4];
            for (int i = 0; i < images; i++)
            {
                int c = i % cifar.Count, label = cifar.Labels[c];
                int baseOffset = c * Cifar10.ImageBytes;
                for (int y = 0; y < Height; y++)
                {
                    double sy = Math.Clamp((y + 0.5) * 32.0 / Height - 0.5, 0, 31);
                    int y0 = (int)sy, y1 = Math.Min(y0 + 1, 31);
                    double fy = sy - y0;
                    for (int x = 0; x < Width; x++)
                    {
                        double sx = Math.Clamp((x + 0.5) * 32.0 / Width - 0.5, 0, 31);
                        int x0 = (int)sx, x1 = Math.Min(x0 + 1, 31);
                        double fx = sx - x0;
                        for (int ch = 0; ch < 3; ch++)
                        {
                            int p = baseOffset + ch * 1024;
                            double v = (1 - fy) * ((1 - fx) * cifar.Images[p + y0 * 32 + x0] + fx * cifar.Images[p + y0 * 32 + x1])
                                     + fy * ((1 - fx) * cifar.Images[p + y1 * 32 + x0] + fx * cifar.Images[p + y1 * 32 + x1]);
                            v += (int)(rng.Next() % (2 * Noise + 1)) - Noise; // texture, so that the files are photo-sized
                            rgba[(y * Width + x) * 4 + ch] = (byte)Math.Clamp((int)Math.Round(v), 0, 255);
                        }
                        rgba[(y * Width + x) * 4 + 3] = 255;
                    }
                }
                using var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
                System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
                using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
                var dir = Path.Combine(root, $"class_{label % Classes}");
                Directory.CreateDirectory(dir);
                File.WriteAllBytes(Path.Combine(dir, $"{i:D5}.jpg"), data.ToArray());
            }
            File.WriteAllText(Path.Combine(root, ".complete"), "");
            return root;
        }
    }
}

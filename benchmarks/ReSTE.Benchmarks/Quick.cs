using System;
using System.Diagnostics;

namespace ReSTE.Benchmarks
{
    /// <summary>A Stopwatch pass over the same benchmarks (for a first look; BenchmarkDotNet gives the reported figures).</summary>
    static class Quick
    {
        static double Seconds(Func<float> run, int repeat)
        {
            run();
            var best = double.MaxValue;
            for (int r = 0; r < 3; r++)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < repeat; i++) run();
                best = Math.Min(best, sw.Elapsed.TotalSeconds / repeat);
            }
            return best;
        }

        public static void Run()
        {
            foreach (var model in new[] { "resnet20", "vgg-small", "resnet18" })
                foreach (var images in new[] { 1, 64 })
                    foreach (var threads in new[] { 1, 2 })
                    {
                        var b = new ModelInference { Model = model, Images = images, Threads = threads };
                        b.Setup();
                        int repeat = model != "resnet20" ? 1 : images == 1 ? 50 : 3;
                        double xnor = Seconds(b.XnorEngine, repeat), torch = Seconds(b.TorchSharpFp32, repeat);
                        Console.WriteLine($"{model} batch {images,2}, {threads} thread(s): XNOR {images / xnor,8:F0} img/s, TorchSharp fp32 {images / torch,8:F0} img/s, ratio {torch / xnor:F1}×");
                    }
            foreach (var c in new[] { 16, 32, 64 })
                foreach (var images in new[] { 1, 64 })
                {
                    var b = new BinaryConvLayer { Channels = c, Images = images };
                    b.Setup();
                    int repeat = images == 1 ? 200 : 5;
                    double xnor = Seconds(b.Xnor, repeat), inPlace = Seconds(b.XnorInPlace, repeat), torch = Seconds(b.TorchConv, repeat), layer = Seconds(b.TorchLayer, repeat);
                    Console.WriteLine($"Binary conv {c}ch, batch {images,2}: XNOR {xnor / images * 1e6,6:F1} µs/img (in place {inPlace / images * 1e6,5:F1}), libtorch fp32 conv2d {torch / images * 1e6,6:F1} µs/img ({torch / xnor:F1}×, in place {torch / inPlace:F1}×), TorchSharp layer {layer / images * 1e6,6:F1} µs/img ({layer / xnor:F1}×, {layer / inPlace:F1}×)");
                }
        }
    }
}

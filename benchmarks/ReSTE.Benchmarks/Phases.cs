using System;
using System.Diagnostics;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Engine.BConv2d;
using ReSTE.Inference.Format;

namespace ReSTE.Benchmarks
{
    /// <summary>
    /// The bit-plane kernel alone (sign planes, counting, integer dots; no float epilogue), per image, one thread, for one
    /// image and for a group of 8 (Stopwatch).
    /// </summary>
    static class Phases
    {
        sealed unsafe class NullSink : BitPlaneConv.Sink
        {
            public long Sum;
            public override void Write(int image, int o, in BitPlaneConv.Counts counts) => Sum += counts.Dot(0);
        }

        public static unsafe void Run()
        {
            foreach (var (c, size) in new[] { (16, 32), (32, 16), (64, 8) })
                foreach (int n in new[] { 1, 8 })
                {
                    // PHASES_ONLY=channels:images (e.g. 32:1) times one case alone (for a profiler).
                    if (Environment.GetEnvironmentVariable("PHASES_ONLY") is { Length: > 0 } only && only != $"{c}:{n}") continue;
                    var rng = new Random(1);
                    var w = new float[c * c * 9];
                    for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1);
                    var k = new BitPlaneConv(new BinaryConv2dOp("conv", c, c, 3, 3, 1, 1, true, BitPacking.Pack(w), new[] { 1f }), size, size);
                    var x = new float[n * c * size * size];
                    for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
                    var ws = new InferenceEngine.Workspace(new[] { 1 }, k.TapVectors, k.BitScratchWords, k.CountSlots);
                    var sink = new NullSink();
                    double best = double.MaxValue;
                    fixed (float* px = x)
                    {
                        for (int i = 0; i < 2000 / n; i++) k.Run(px, n, c * size * size, sink, ws.Scratch);
                        for (int r = 0; r < 15; r++)
                        {
                            var sw = Stopwatch.StartNew();
                            for (int i = 0; i < 200; i++) k.Run(px, n, c * size * size, sink, ws.Scratch);
                            best = Math.Min(best, sw.Elapsed.TotalMilliseconds * 1000 / 200 / n);
                        }
                    }
                    Console.WriteLine($"{c}ch {size}×{size}, {n} image{(n > 1 ? "s" : "")} per call: {best:F2} µs per image (counts only)");
                }
        }

        /// <summary>
        /// <c>--layer C N</c>: the binary layer step of C channels run in place on N images for about 3 seconds (for a
        /// profiler), then its best time per image.
        /// </summary>
        public static void Layer(int channels, int images)
        {
            var b = new BinaryConvLayer { Channels = channels, Images = images };
            b.Setup();
            double best = double.MaxValue;
            var total = Stopwatch.StartNew();
            while (total.Elapsed.TotalSeconds < 3)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < 20; i++) b.XnorInPlace();
                best = Math.Min(best, sw.Elapsed.TotalMilliseconds * 1000 / 20 / images);
            }
            Console.WriteLine($"{channels}ch layer step in place, batch {images}: {best:F2} µs per image");
        }
    }
}

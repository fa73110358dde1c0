using System;
using System.Diagnostics;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;

namespace ReSTE.Benchmarks
{
    /// <summary>Where a binary convolution's time goes: packing, patch gathering, XNOR + popcount (Stopwatch, one thread).</summary>
    static class Phases
    {
        public static void Run()
        {
            foreach (var (c, size) in new[] { (16, 32), (32, 16), (64, 8) })
            {
                var rng = new Random(1);
                var w = new float[c * c * 9];
                for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1);
                var k = new BinaryConvKernel(new BinaryConv2dOp("conv", c, c, 3, 3, 1, 1, true, BitPacking.Pack(w), new[] { 1f }), size, size);
                var x = new float[c * size * size];
                for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
                int words = Math.Max(size * size * k.PixelWords, k.PatchCount * k.PatchWords);
                ulong[] ps = new ulong[words], pm = new ulong[words], qs = new ulong[words], qm = new ulong[words];
                var dots = new int[k.PatchCount * c];
                double T(Action a)
                {
                    a();
                    var best = double.MaxValue;
                    for (int r = 0; r < 5; r++)
                    {
                        var sw = Stopwatch.StartNew();
                        for (int i = 0; i < 200; i++) a();
                        best = Math.Min(best, sw.Elapsed.TotalMilliseconds * 1000 / 200);
                    }
                    return best;
                }
                double pack = T(() => BinaryConvKernel.PackPixels(x, size * size, c, ps, pm));
                double im2col = T(() => k.Im2Col(ps, pm, qs, qm));
                double simd = T(() => k.Dots(qs, qm, dots, true));
                double scalar = T(() => k.Dots(qs, qm, dots, false));
                var gs = new ushort[k.FastPathWords * 4];
                var gm = new ushort[k.FastPathWords * 4];
                qs = new ulong[k.FastPathWords]; qm = new ulong[k.FastPathWords];
                double packGrid = T(() => k.PackGrid(x, gs, gm));
                double im2colGrid = T(() => k.Im2ColGrid(gs, gm, qs, qm));
                Console.WriteLine($"{c}ch {size}×{size}: pack {pack:F1} µs, im2col {im2col:F1} µs (chunked: pack {packGrid:F1} µs, im2col {im2colGrid:F1} µs), " +
                    $"dots AVX-512 {simd:F1} µs, dots scalar {scalar:F1} µs");
            }
        }
    }
}

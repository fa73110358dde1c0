using System;
using System.Diagnostics;
using ReSTE.Inference.Engine.Steps;
using ReSTE.Inference.Format;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Benchmarks
{
    /// <summary>
    /// <c>--new-ops</c>: a Stopwatch pass over the ops of format v2, one thread, medians of alternating runs: binary Linear
    /// 1W/1A (XNOR-popcount) against libtorch's <c>linear</c> on ±1 in fp32, and the two ways of a 1W/32A binary Linear
    /// (fp32 with the signs as ±β weights, and add/subtract without multiplications).
    /// </summary>
    static unsafe class NewOps
    {
        static double Median(double[] v) { Array.Sort(v); return v[v.Length / 2]; }

        static float[] Random(Random rng, int n)
        {
            var a = new float[n];
            for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
            return a;
        }

        /// <summary>Seconds per call of <paramref name="run"/> (best of a short inner loop).</summary>
        static double Time(Action run, int repeat)
        {
            run();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < repeat; i++) run();
            return sw.Elapsed.TotalSeconds / repeat;
        }

        public static void Run()
        {
            torch.set_num_threads(1);
            var rng = new Random(5);
            foreach (var (inF, outF) in new[] { (1024, 1024), (3072, 128), (8192, 10) })
            {
                var w = Random(rng, inF * outF);
                var x = Random(rng, inF);
                var y = new float[outF];
                var scratch = new ulong[2 * ((inF + 63) / 64)];
                var xnor = new BinaryLinearKernel(new BinaryLinearOp("fc", inF, outF, true, BitPacking.Pack(w), new[] { 0.5f }, null));
                var a32 = new BinaryLinearKernel(new BinaryLinearOp("fc", inF, outF, false, BitPacking.Pack(w), new[] { 0.5f }, null));
                var tw = tensor(w, new long[] { outF, inF }).sign();
                var tx = tensor(x, new long[] { 1, inF }).sign();
                int repeat = Math.Max(20, 20_000_000 / (inF * outF));
                var tXnor = new double[5]; var tTorch = new double[5]; var tFp32 = new double[5]; var tAddSub = new double[5];
                for (int r = 0; r < 5; r++)
                {
                    fixed (float* px = x, py = y)
                    fixed (ulong* ps = scratch)
                    {
                        float* cx = px, cy = py; ulong* cs = ps;
                        tXnor[r] = Time(() => xnor.Run(cx, cy, cs), repeat);
                        tFp32[r] = Time(() => a32.RunFp32(cx, cy), repeat);
                        tAddSub[r] = Time(() => a32.RunAddSubtract(cx, cy), repeat);
                    }
                    using (no_grad()) tTorch[r] = Time(() => { using var o = nn.functional.linear(tx, tw); }, repeat);
                }
                Console.WriteLine($"binary Linear {inF}→{outF}, 1 image: XNOR-popcount {Median(tXnor) * 1e6,8:F2} µs, libtorch linear on ±1 (fp32) {Median(tTorch) * 1e6,8:F2} µs ({Median(tTorch) / Median(tXnor):F1}×); " +
                    $"1W/32A fp32 with signs {Median(tFp32) * 1e6,8:F2} µs, add/subtract {Median(tAddSub) * 1e6,8:F2} µs");
            }
        }
    }
}

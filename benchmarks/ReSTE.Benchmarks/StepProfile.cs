using System;
using System.Diagnostics;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;

namespace ReSTE.Benchmarks
{
    /// <summary>
    /// <c>--steps model.rbnn [images]</c>: where a packed model's time goes, step by step, on one thread (Stopwatch per
    /// step over groups of 8 images, best of 5 passes), with the kernel paths this CPU runs (<see cref="KernelSelection.Describe"/>).
    /// </summary>
    static class StepProfile
    {
        public static void Run(string path, int images)
        {
            var engine = new InferenceEngine(PackedModelFile.Load(path));
            var steps = engine.Steps;
            var rng = new Random(1);
            var input = new float[engine.InputLength * 8];
            for (int i = 0; i < input.Length; i++) input[i] = (float)rng.NextDouble();
            var ws = engine.RentWorkspace();
            var best = new double[steps.Count];
            Array.Fill(best, double.MaxValue);
            int groups = Math.Max(1, images / 8);
            for (int pass = 0; pass < 6; pass++)
            {
                var ticks = new long[steps.Count];
                for (int g = 0; g < groups; g++)
                {
                    engine.LoadGroup(ws, input, 8);
                    for (int s = 0; s < steps.Count; s++)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        engine.RunStep(ws, s, 8);
                        ticks[s] += Stopwatch.GetTimestamp() - t0;
                    }
                }
                // The first pass warms the JIT up and is not counted.
                if (pass > 0)
                    for (int s = 0; s < steps.Count; s++) best[s] = Math.Min(best[s], ticks[s] * 1e6 / Stopwatch.Frequency / (groups * 8));
            }
            double total = 0;
            foreach (var b in best) total += b;
            Console.WriteLine(KernelSelection.Describe());
            for (int s = 0; s < steps.Count; s++) Console.WriteLine($"{best[s],9:F2} µs/img {100 * best[s] / total,5:F1}%  {steps[s]}");
            Console.WriteLine($"{total,9:F2} µs/img total, {1e6 / total:F0} img/s on one thread");
        }
    }
}

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using ReSTE.Runtime.Training;
using static TorchSharp.torch;

namespace ReSTE.Benchmarks
{
    /// <summary>
    /// What one checkpoint write costs on the training thread (a Stopwatch console):
    /// <c>dotnet run -c Release --project benchmarks/ReSTE.Benchmarks -- --checkpoint [model] [writes]</c>. The model's
    /// state, its momentum buffers and a copy of its weights as the best ones, written as the trainer writes them, with
    /// and without keeping the previous file, and the parts of a write timed alone.
    /// </summary>
    public static class CheckpointCost
    {
        public static void Run(string[] args)
        {
            string name = args.Length > 0 ? args[0] : "resnet20";
            int writes = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 30;
            var model = ReSTE.Samples.Models.ModelZoo.Create(name, ReSTE.Runtime.Estimator.ReSTE, binaryActivations: true);
            using var sgd = new MomentumSgd(model.named_parameters().Select(p => (p.name, p.parameter)), 0.1);
            var best = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
            var meta = new Dictionary<string, string> { ["epoch"] = "0", ["step"] = "1" };
            string dir = Path.Combine(Path.GetTempPath(), "reste-ckpt-bench-" + Environment.ProcessId);
            Directory.CreateDirectory(dir);
            string path = Path.Combine(dir, "checkpoint.safetensors"), previous = Path.Combine(dir, ".checkpoint.previous.safetensors");
            Time($"{name}: Checkpoint.Save", writes, () => Checkpoint.Save(path, model, sgd, meta, best));
            Time($"{name}: Checkpoint.Save keeping the previous file", writes, () => Checkpoint.Save(path, model, sgd, meta, best, previous));
            Time($"{name}: state_dict() alone", writes, () => { foreach (var kv in model.state_dict()) { } });
            Time($"{name}: serialisation to memory alone", writes, () =>
            {
                var tensors = best.Concat(model.state_dict()).Select((kv, i) => new KeyValuePair<string, Tensor>(i + kv.Key, kv.Value));
                ReSTE.Runtime.Interop.Safetensors.Write(new MemoryStream(), tensors, meta);
            });
            Console.WriteLine($"file: {new FileInfo(path).Length:N0} bytes");
            Directory.Delete(dir, recursive: true);
        }

        static void Time(string what, int n, Action run)
        {
            run();
            var process = Process.GetCurrentProcess();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
                using (NewDisposeScope()) run();
            sw.Stop();
            process.Refresh();
            Console.WriteLine($"  {what,-60} {sw.Elapsed.TotalMilliseconds / n,7:F2} ms wall, {(process.TotalProcessorTime - cpu0).TotalMilliseconds / n,7:F2} ms CPU per write");
        }
    }
}

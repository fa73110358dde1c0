using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using ReSTE.Inference.Data;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using ReSTE.Onnx;
using ReSTE.Runtime;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Deploy;
using ReSTE.Runtime.Native;
using ReSTE.Samples.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;

// dotnet run -c Release --project benchmarks/ReSTE.Onnx.Benchmarks -- agreement [resnet20|resnet20-bireal|vgg-small] [images]
//   ORT (default session options) against TorchSharp eval and the engine on the CIFAR-10 test set.
// dotnet run -c Release --project benchmarks/ReSTE.Onnx.Benchmarks -- speed [model] [rounds]
//   img/s of ORT, the engine and TorchSharp eval, 1 and 2 threads, batch 1 and 64 (median of the rounds, alternating).
// --exact-batchnorm: export with OnnxExportOptions.ExactBatchNorm.
// The models are randomly initialised (seed 42) with trained-like BatchNorm statistics, as in the tests.
namespace ReSTE.Onnx.Benchmarks
{
    static class Program
    {
        static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

        static int Main(string[] args)
        {
            LibTorch.Initialize("cpu");
            bool exact = args.Contains("--exact-batchnorm");
            args = args.Where(a => a != "--exact-batchnorm").ToArray();
            string mode = args.Length > 0 ? args[0] : "agreement";
            string name = args.Length > 1 ? args[1] : "resnet20";
            var model = RandomModel(name, 42);
            var packed = ModelExporter.Export(model, new[] { 3, 32, 32 }, Normalization.ImageNet);
            var onnx = OnnxExport.ToBytes(packed, new OnnxExportOptions { ExactBatchNorm = exact });
            Console.WriteLine($"{name}: ONNX {onnx.Length:N0} bytes, .rbnn {PackedModelFile.ToBytes(packed).Length:N0} bytes; " +
                $"{Environment.ProcessorCount} logical CPUs, ORT {OrtEnv.Instance().GetVersionString()}");
            var folder = Cifar10.FindDefaultFolder() ?? Cifar10.FindDefaultFolder(AppContext.BaseDirectory)
                ?? throw new DirectoryNotFoundException("CIFAR-10 not found (shared/data/cifar10).");
            if (mode == "agreement") return Agreement(model, packed, onnx, folder, args.Length > 2 ? int.Parse(args[2], Inv) : 10_000);
            if (mode == "speed") return Speed(model, packed, onnx, folder, args.Length > 2 ? int.Parse(args[2], Inv) : 5);
            Console.Error.WriteLine($"unknown mode '{mode}': agreement or speed");
            return 2;
        }

        static nn.Module<Tensor, Tensor> RandomModel(string name, int seed)
        {
            manual_seed(seed);
            var model = ModelZoo.Create(name, Estimator.ReSTE, binaryActivations: true);
            using (no_grad())
            {
                var g = new Generator((ulong)seed);
                foreach (var (_, m) in model.named_modules())
                    if (m is NormBase bn)
                    {
                        long c = bn.running_mean!.shape[0];
                        bn.weight!.copy_(rand(c, generator: g).mul_(1.5).add_(0.25).mul_(rand(c, generator: g).gt(0.1).mul(2).sub(1)));
                        bn.bias!.copy_(randn(c, generator: g).mul_(0.3));
                        bn.running_mean!.copy_(randn(c, generator: g).mul_(0.5));
                        bn.running_var!.copy_(rand(c, generator: g).mul_(2).add_(0.2));
                    }
            }
            model.eval();
            return model;
        }

        static InferenceSession Session(byte[] onnx, int threads)
        {
            using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
            return new InferenceSession(onnx, options);
        }

        static float[] RunOrt(InferenceSession s, float[] images, int start, int n)
        {
            var t = new DenseTensor(images.AsMemory(start * 3072, n * 3072), new[] { n, 3, 32, 32 });
            using var r = s.Run(new[] { NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, t) });
            return r.First().AsTensor<float>().ToArray();
        }

        static float[] RunTorch(nn.Module<Tensor, Tensor> model, float[] images, int start, int n)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var x = tensor(images.AsSpan(start * 3072, n * 3072).ToArray(), new long[] { n, 3, 32, 32 });
            var mean = tensor(Normalization.ImageNet.Mean).reshape(1, 3, 1, 1);
            var std = tensor(Normalization.ImageNet.Std).reshape(1, 3, 1, 1);
            return PackedModelBuilder.Floats(model.forward(x.sub(mean).div(std)));
        }

        static int Agreement(nn.Module<Tensor, Tensor> model, PackedModel packed, byte[] onnx, string folder, int count)
        {
            var set = Cifar10.Load(folder, Cifar10Split.Test, count);
            var images = new float[set.Images.Length];
            for (int i = 0; i < images.Length; i++) images[i] = set.Images[i] / 255f;
            using var session = Session(onnx, 2);
            var engine = new InferenceEngine(packed);
            var ort = new float[count * 10];
            var torchOut = new float[count * 10];
            for (int start = 0; start < count; start += 250)
            {
                int n = Math.Min(250, count - start);
                RunOrt(session, images, start, n).CopyTo(ort, start * 10);
                RunTorch(model, images, start, n).CopyTo(torchOut, start * 10);
            }
            var eng = engine.RunBatch(images, count, 2);
            int ortTop1 = 0;
            for (int i = 0; i < count; i++) if (InferenceEngine.ArgMax(ort.AsSpan(i * 10, 10)) == set.Labels[i]) ortTop1++;
            Console.WriteLine($"{count:N0} CIFAR-10 test images, ORT top-1 {100.0 * ortTop1 / count:F2}% (a random model)");
            Report("ORT vs TorchSharp eval", torchOut, ort, count);
            Report("ORT vs engine", eng, ort, count);
            Report("engine vs TorchSharp eval", torchOut, eng, count);
            return 0;
        }

        static void Report(string what, float[] expected, float[] actual, int count)
        {
            int same = 0, beyond = 0;
            double max = 0;
            for (int i = 0; i < count; i++)
            {
                double d = 0;
                for (int j = 0; j < 10; j++) d = Math.Max(d, Math.Abs(expected[i * 10 + j] - actual[i * 10 + j]));
                max = Math.Max(max, d);
                if (d >= 1e-4) beyond++;
                if (InferenceEngine.ArgMax(expected.AsSpan(i * 10, 10)) == InferenceEngine.ArgMax(actual.AsSpan(i * 10, 10))) same++;
            }
            Console.WriteLine(string.Create(Inv, $"{what}: same prediction on {same:N0}/{count:N0}, max |Δlogit| {max:G3}, {beyond} images with |Δlogit| ≥ 1e-4"));
        }

        static int Speed(nn.Module<Tensor, Tensor> model, PackedModel packed, byte[] onnx, string folder, int rounds)
        {
            var set = Cifar10.Load(folder, Cifar10Split.Test, 640);
            var images = new float[set.Images.Length];
            for (int i = 0; i < images.Length; i++) images[i] = set.Images[i] / 255f;
            var engine = new InferenceEngine(packed);
            const int total = 192;
            foreach (int threads in new[] { 1, 2 })
            {
                using var session = Session(onnx, threads);
                torch.set_num_threads(threads);
                foreach (int batch in new[] { 1, 64 })
                {
                    var results = new Dictionary<string, List<double>> { ["ORT"] = new(), ["engine"] = new(), ["TorchSharp"] = new() };
                    int n = batch == 1 ? 64 : total;
                    void Time(string key, Action<int> runBatch)
                    {
                        runBatch(0); // warm-up
                        var sw = Stopwatch.StartNew();
                        for (int s = 0; s < n; s += batch) runBatch(s);
                        results[key].Add(n / sw.Elapsed.TotalSeconds);
                    }
                    for (int r = 0; r < rounds; r++)
                    {
                        Time("ORT", s => RunOrt(session, images, s, batch));
                        // The engine runs a batch as images in parallel over the threads (its RunBatch).
                        Time("engine", s => engine.RunBatch(images.AsSpan(s * 3072, batch * 3072), batch, threads));
                        Time("TorchSharp", s => RunTorch(model, images, s, batch));
                    }
                    var line = string.Join(", ", results.Select(kv => string.Create(Inv, $"{kv.Key} {Median(kv.Value):F0} img/s")));
                    Console.WriteLine($"threads {threads}, batch {batch,2}: {line}");
                }
            }
            return 0;
        }

        static double Median(List<double> v)
        {
            var s = v.OrderBy(x => x).ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }
    }
}

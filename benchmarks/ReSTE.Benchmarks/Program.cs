using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace ReSTE.Benchmarks
{
    /// <summary>
    /// dotnet run -c Release --project benchmarks/ReSTE.Benchmarks -- --filter '*'            (BenchmarkDotNet's defaults)
    /// dotnet run -c Release --project benchmarks/ReSTE.Benchmarks -- --short --filter '*'    (3 warm-ups, 5 iterations)
    /// dotnet run -c Release --project benchmarks/ReSTE.Benchmarks -- --quick                  (a Stopwatch pass, no BenchmarkDotNet)
    /// dotnet run -c Release --project benchmarks/ReSTE.Benchmarks -- --new-ops                (binary Linear, 1W/32A: Stopwatch)
    /// dotnet run -c Release --project benchmarks/ReSTE.Benchmarks -- --data-pipeline [N] [R]  (image-folder decode + transform: Stopwatch)
    /// dotnet run -c Release --project benchmarks/ReSTE.Benchmarks -- --steps model.rbnn [N]   (µs per image per engine step, one thread)
    /// </summary>
    public static class Program
    {
        public static void Main(string[] args)
        {
            ReSTE.Runtime.Native.LibTorch.LimitOneDnnIsa();
            if (args.Length > 0 && args[0] == "--quick") { Quick.Run(); return; }
            if (args.Length > 0 && args[0] == "--phases") { Phases.Run(); return; }
            if (args.Length > 0 && args[0] == "--new-ops") { NewOps.Run(); return; }
            if (args.Length > 0 && args[0] == "--data-pipeline") { DataPipeline.Run(args[1..]); return; }
            if (args.Length > 0 && args[0] == "--checkpoint") { CheckpointCost.Run(args[1..]); return; }
            if (args.Length is 2 or 3 && args[0] == "--steps") { StepProfile.Run(args[1], args.Length == 3 ? int.Parse(args[2]) : 1000); return; }
            if (args.Length == 3 && args[0] == "--layer") { Phases.Layer(int.Parse(args[1]), int.Parse(args[2])); return; }
            // In process: BenchmarkDotNet's generated project would not carry libtorch's native libraries (nor the
            // libstdc++ compatibility patch of libLibTorchSharp.so) that this app's output folder holds.
            var config = DefaultConfig.Instance.AddColumn(StatisticColumn.OperationsPerSecond);
            var rest = args;
            var job = Job.Default.WithToolchain(InProcessEmitToolchain.Instance);
            if (args.Length > 0 && args[0] == "--short")
            {
                job = job.WithWarmupCount(3).WithIterationCount(5).WithLaunchCount(1).WithId("short");
                rest = args[1..];
            }
            config = config.AddJob(job);
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, config);
        }
    }
}

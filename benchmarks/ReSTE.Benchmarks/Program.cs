using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace ReSTE.Benchmarks
{
    /// <summary>
    /// dotnet run -c Release --project benchmarks/ReSTE.Benchmarks -- --filter '*'            (BenchmarkDotNet's defaults)
    /// dotnet run -c Release --project benchmarks/ReSTE.Benchmarks -- --short --filter '*'    (3 warm-ups, 5 iterations)
    /// dotnet run -c Release --project benchmarks/ReSTE.Benchmarks -- --quick                  (a Stopwatch pass, no BenchmarkDotNet)
    /// </summary>
    public static class Program
    {
        public static void Main(string[] args)
        {
            ReSTE.Runtime.Native.LibTorch.LimitOneDnnIsa();
            if (args.Length > 0 && args[0] == "--quick") { Quick.Run(); return; }
            if (args.Length > 0 && args[0] == "--phases") { Phases.Run(); return; }
            var config = DefaultConfig.Instance.AddColumn(StatisticColumn.OperationsPerSecond);
            var rest = args;
            if (args.Length > 0 && args[0] == "--short")
            {
                config = config.AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(5).WithLaunchCount(1).WithId("short"));
                rest = args[1..];
            }
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, config);
        }
    }
}

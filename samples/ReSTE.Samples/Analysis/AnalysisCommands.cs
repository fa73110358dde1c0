using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using ReSTE.Reports;
using ReSTE.Runtime;
using ReSTE.Runtime.Analysis;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Indicators;
using ReSTE.Runtime.Layers;
using ReSTE.Runtime.Native;
using ReSTE.Runtime.Training;
using ReSTE.Samples.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Samples.Analysis
{
    /// <summary>
    /// The <c>sweep</c> and <c>compare</c> commands: the paper's equilibrium analysis (Fig. 4, Fig. 5, loss curves)
    /// and its Table 3 (estimators side by side), on one model, schedule, seed and data order.
    /// </summary>
    public static class AnalysisCli
    {
        public static readonly Option<string> OEnds = new("--o-end")
        {
            Description = "sweep: the o_end values, comma-separated",
            HelpName = "list",
            DefaultValueFactory = _ => "1,2,3,5,10",
        };
        public static readonly Option<string> Estimators = new("--estimators")
        {
            Description = "compare: the estimators, comma-separated (" + string.Join(" | ", Enum.GetNames<Estimator>()) + ")",
            HelpName = "list",
            DefaultValueFactory = _ => string.Join(",", ExperimentRunner.DefaultEstimators),
        };
        public static readonly Option<string> Definition = new("--definition")
        {
            Description = "Indicator definition: current (e with the current o, s averaged) | reference (the reference code's: e with o_end, s summed over epochs)",
            HelpName = "name",
            DefaultValueFactory = _ => "current",
        };
        public static readonly Option<int> Bins = new("--bins") { Description = "Histogram bins of Fig. 5", HelpName = "N", DefaultValueFactory = _ => 60 };

        /// <summary>Adds <c>sweep</c> and <c>compare</c> to <paramref name="root"/>; <paramref name="guard"/> turns errors into exit codes.</summary>
        public static void Register(RootCommand root, TextWriter output, CancellationToken cancel, Func<Func<int>, int> guard)
        {
            var commands = new AnalysisCommands(output, cancel);
            var shared = new Option[] { Cli.Model, Cli.Epochs, Cli.Batch, Cli.A32, Cli.Warmup, Cli.Device, Cli.Data, Cli.Out, Cli.Seed, Cli.Limit, Cli.TestLimit, Cli.Lr, Definition, Bins, Cli.EvalWith };

            var sweep = new Command("sweep", "Train ReSTE at each o_end with the indicators on; write e, s and top-1 per run, epoch and layer (CSV, Markdown) and the paper's Fig. 4, Fig. 5 and loss curves (PNG)");
            sweep.Options.Add(OEnds);
            foreach (var o in shared) sweep.Options.Add(o);
            sweep.SetAction(r => guard(() => commands.Sweep(r)));

            var compare = new Command("compare", "Train each estimator with the same schedule, seed and data order (the paper's Table 3: best top-1, mean e, mean s), and check each estimator's properties (rational, flexible)");
            compare.Options.Add(Estimators);
            compare.Options.Add(Cli.OEnd);
            foreach (var o in shared) compare.Options.Add(o);
            compare.SetAction(r => guard(() => commands.Compare(r)));

            root.Subcommands.Add(sweep);
            root.Subcommands.Add(compare);
        }

        /// <summary>Parses "1,2,3": finite numbers ≥ 1, distinct; the error names the bad value.</summary>
        public static IReadOnlyList<double> ParseOEnds(string text)
        {
            var values = new List<double>();
            foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v) || v < 1)
                    throw new ArgumentException($"--o-end: '{part}' is not a number ≥ 1.");
                if (values.Contains(v)) throw new ArgumentException($"--o-end: {part} is given twice.");
                values.Add(v);
            }
            if (values.Count == 0) throw new ArgumentException("--o-end: no values given.");
            return values;
        }

        /// <summary>Parses "STE,ReSTE": known, distinct estimator names, returned in their canonical spelling.</summary>
        public static IReadOnlyList<string> ParseEstimators(string text)
        {
            var values = new List<string>();
            foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var name = EstimatorFactory.Parse(part, "--estimators").ToString();
                if (values.Contains(name)) throw new ArgumentException($"--estimators: {name} is given twice.");
                values.Add(name);
            }
            if (values.Count == 0) throw new ArgumentException("--estimators: no estimators given.");
            return values;
        }
    }

    /// <summary>What <c>sweep</c> and <c>compare</c> do once their arguments are valid.</summary>
    public sealed class AnalysisCommands
    {
        readonly TextWriter _out;
        readonly CancellationToken _cancel;

        public AnalysisCommands(TextWriter output, CancellationToken cancel)
        {
            _out = output; _cancel = cancel;
        }

        sealed record Settings(string Model, bool A32, int Epochs, int Batch, int Warmup, double Lr, long Seed, int? Limit,
            int? TestLimit, IndicatorDefinition Definition, int Bins, string OutDir, ReSTE.Runtime.Deploy.EvaluationChoice Eval = ReSTE.Runtime.Deploy.EvaluationChoice.Auto);

        static Settings Read(ParseResult r, string verb)
        {
            int bins = r.GetValue(AnalysisCli.Bins);
            if (bins < 1) throw new ArgumentException($"--bins must be ≥ 1, not {bins}.");
            int? testLimit = r.GetValue(Cli.TestLimit); // checked by Cli.Validate
            long seed = r.GetValue(Cli.Seed);
            if (seed < int.MinValue || seed > int.MaxValue) throw new ArgumentException($"--seed {seed} is out of range for an experiment.");
            var model = r.GetValue(Cli.Model)!;
            return new Settings(model, r.GetValue(Cli.A32), r.GetValue(Cli.Epochs), r.GetValue(Cli.Batch), r.GetValue(Cli.Warmup),
                r.GetValue(Cli.Lr), seed, r.GetValue(Cli.Limit), testLimit, IndicatorDefinitions.Parse(r.GetValue(AnalysisCli.Definition)!, "--definition"),
                bins, r.GetValue(Cli.Out) ?? Path.Combine("runs", $"{verb}-{model}"), EngineEval.Parse(r.GetValue(Cli.EvalWith)!));
        }

        public int Sweep(ParseResult r)
        {
            var oEnds = AnalysisCli.ParseOEnds(r.GetValue(AnalysisCli.OEnds)!);
            var s = Read(r, "sweep");
            return Run(r, s, (train, seed) => ExperimentRunner.Sweep(oEnds, train, seed, onRun: Report), "sweep");
        }

        public int Compare(ParseResult r)
        {
            var estimators = AnalysisCli.ParseEstimators(r.GetValue(AnalysisCli.Estimators)!);
            double oEnd = r.GetValue(Cli.OEnd) ?? ReSTEEstimator.DefaultOEnd;
            if (!(oEnd >= 1) || double.IsInfinity(oEnd))
                throw new ArgumentException($"--o-end must be a finite number ≥ 1, not {oEnd.ToString(CultureInfo.InvariantCulture)}.");
            var s = Read(r, "compare");
            Directory.CreateDirectory(s.OutDir);
            var reports = EstimatorProperties.CheckAll();
            var properties = EstimatorProperties.Markdown(reports);
            File.WriteAllText(Path.Combine(s.OutDir, "properties.md"), properties);
            _out.WriteLine(properties);
            return Run(r, s, (train, seed) => ExperimentRunner.Compare(estimators, train, seed, oEnd, onRun: Report), "compare");
        }

        void Report(RunRecord run) => _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{run.Name}: best top-1 {run.BestTop1:F2}% (epoch {run.BestEpoch}), e {run.SummaryEstimatingError:G4}, s {run.SummaryGradientInstability:G4} ({run.Definition})"));

        int Run(ParseResult r, Settings s, Func<TrainOneRun, int, ExperimentResult> experiment, string verb)
        {
            var device = LibTorch.Initialize(r.GetValue(Cli.Device)!);
            var folder = r.GetValue(Cli.Data) ?? Cifar10.FindDefaultFolder()
                ?? throw new DirectoryNotFoundException("CIFAR-10 not found: no shared/data/cifar10 or ../shared/data/cifar10 above the current folder or the app; pass --data <folder>.");
            using var train = new DeviceCifar(Cifar10.Load(folder, Cifar10Split.Train, s.Limit), device);
            using var test = new DeviceCifar(Cifar10.Load(folder, Cifar10Split.Test, s.TestLimit), device);
            _out.WriteLine($"{verb}: {s.Model}, {s.Epochs} epochs per run, seed {s.Seed}, indicators '{IndicatorDefinitions.Name(s.Definition)}'; " +
                           $"{train.Count} training, {test.Count} test images on {device}; output {s.OutDir}");
            Directory.CreateDirectory(s.OutDir);

            RunRecord TrainOne(RunSpec spec) => TrainRun(spec, s, train, test, device);
            ExperimentResult result;
            try { result = experiment(TrainOne, (int)s.Seed); }
            catch (OperationCanceledException e)
            {
                _out.WriteLine($"{e.Message} The {verb} stopped; no report was written.");
                return Commands.Interrupted;
            }
            var files = ReportTables.WriteAll(s.OutDir, result).Concat(ReportFigures.WriteAll(s.OutDir, result)).ToArray();
            _out.WriteLine();
            _out.Write(File.ReadAllText(Path.Combine(s.OutDir, ReportTables.ReportMarkdown)).Split("\n## ")[0]);
            _out.WriteLine($"wrote {files.Length} files to {s.OutDir}: {string.Join(", ", files.Select(Path.GetFileName))}");
            return 0;
        }

        RunRecord TrainRun(RunSpec spec, Settings s, DeviceCifar train, DeviceCifar test, Device device)
        {
            var kind = EstimatorFactory.Parse(spec.Estimator);
            manual_seed(spec.Seed);
            using var model = ModelZoo.Create(s.Model, kind, !s.A32, kind == Estimator.ReSTE ? spec.OEnd : null);
            model.to(device);
            var runDir = Path.Combine(s.OutDir, "runs", spec.Name);
            Directory.CreateDirectory(runDir);
            var hook = new EquilibriumHook(s.Definition, spec.OEnd, s.Bins);
            var options = new TrainerOptions
            {
                Epochs = s.Epochs, BatchSize = s.Batch, WarmupEpochs = s.Warmup, LearningRate = s.Lr, Seed = spec.Seed,
                Evaluator = EngineEval.ForTrainer(s.Model, s.Eval, _out),
                OutputDirectory = runDir,
                Tags = new Dictionary<string, string>
                {
                    ["model"] = s.Model, ["estimator"] = kind.ToString(), ["a32"] = s.A32 ? "true" : "false",
                    ["o_end"] = kind == Estimator.ReSTE ? spec.OEnd.ToString("R", CultureInfo.InvariantCulture) : "",
                },
            };
            var hooks = new List<ITrainerHook>
            {
                new ConsoleProgressHook(_out == Console.Out ? null : _out, _out == Console.Out ? null : false),
                new MetricsFileHook(runDir),
                hook,
            };
            _out.WriteLine($"run {spec.Name}: {kind}{(kind == Estimator.ReSTE ? $", o_end {spec.OEnd.ToString(CultureInfo.InvariantCulture)}" : "")}");
            var result = new Trainer(model, train, test, options, hooks).Run(_cancel);
            if (result.Outcome == TrainOutcome.Interrupted) throw new OperationCanceledException($"Run {spec.Name}: {result.Message}");
            if (result.Outcome == TrainOutcome.Diverged) _out.WriteLine($"run {spec.Name}: {result.Message} (reported up to the last finished epoch)");
            if (hook.Epochs.Count == 0) throw new InvalidOperationException($"Run {spec.Name} finished no epoch: {result.Message}");
            return ToRecord(spec, hook);
        }

        /// <summary>A run as the reports see it, from what <see cref="EquilibriumHook"/> recorded.</summary>
        public static RunRecord ToRecord(RunSpec spec, EquilibriumHook hook)
        {
            // Epochs numbered from 1, as the trainer prints them and writes them to metrics.csv.
            var epochs = hook.Epochs.Select(e => new EpochRecord(e.Epoch + 1, e.Parameter, e.TrainLoss, e.Top1, e.Indicators.EstimatingError,
                e.Indicators.GradientInstability, e.Indicators.Layers.Select(l => new LayerValue(l.Layer, l.EstimatingError, l.GradientInstability)).ToArray())).ToArray();
            var (e, s) = hook.Summary;
            Histogram? error = null, gradient = null;
            if (hook.Distributions is { } d)
            {
                error = new Histogram(d.Error.Min, d.Error.Max, d.Error.Counts);
                gradient = d.Gradient is null ? null : new Histogram(d.Gradient.Min, d.Gradient.Max, d.Gradient.Counts);
            }
            return new RunRecord(spec.Name, spec.Estimator, spec.OEnd, IndicatorDefinitions.Name(hook.Recorder.Definition), epochs,
                hook.StepLosses.ToArray(), e, s, error, gradient);
        }
    }
}

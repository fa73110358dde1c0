using System;
using System.Collections.Generic;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.IO;
using System.Linq;
using ReSTE.Runtime;
using ReSTE.Runtime.Estimators;

namespace ReSTE.Samples
{
    /// <summary>The command line: <c>train</c>, <c>eval</c> and <c>bench</c>, their options, and error reporting.</summary>
    public static class Cli
    {
        public const string AppName = "ReSTE.Samples";

        /// <summary>An error in the arguments: reported as one line plus the usage, exit code 2.</summary>
        public sealed class UsageException : Exception
        {
            public UsageException(string message) : base(message) { }
        }

        public static readonly Option<string> Model = new("--model")
        {
            Description = "Model: resnet20 | resnet20-bireal | resnet18 | vgg-small (CIFAR) | resnet18-imagenet | resnet34-imagenet (--dataset folder)",
            HelpName = "name",
            DefaultValueFactory = _ => "resnet20",
        };
        public static readonly Option<int> Epochs = new("--epochs") { Description = "Training epochs (default 30; ImageNet models 250)", HelpName = "N", DefaultValueFactory = _ => 30 };
        public static readonly Option<int> Batch = new("--batch") { Description = "Batch size (default 256; ImageNet models: 750 in train, 256 in eval)", HelpName = "N", DefaultValueFactory = _ => 256 };
        public static readonly Option<int?> TestBatch = new("--test-batch") { Description = "Evaluation batch size during training (default 250; ImageNet models 256)", HelpName = "N" };
        public static readonly Option<string> Dataset = new("--dataset")
        {
            Description = "cifar10 | cifar100 | folder (an image folder: <data>/train/<class>/<image> and <data>/val/<class>/<image>, JPEG or PNG)",
            HelpName = "name",
            DefaultValueFactory = _ => "cifar10",
        };
        public static readonly Option<int?> ImageSize = new("--image-size") { Description = "--dataset folder: the side of the training and evaluation crops (default 224; evaluation resizes the shorter side to 256/224 of it first)", HelpName = "N" };
        public static readonly Option<int?> Workers = new("--workers") { Description = "--dataset folder: image decoding threads (default: the machine's cores)", HelpName = "N" };
        public static readonly Option<bool> SkipUnreadable = new("--skip-unreadable") { Description = "--dataset folder: leave out and count images that cannot be decoded (default: stop, naming the file)" };
        public static readonly Option<string?> Predictions = new("--predictions") { Description = "Write each test image's label, prediction and logits to this CSV file; print per-class accuracy and the confusion matrix", HelpName = "file" };

        /// <summary>The datasets train and eval read.</summary>
        public static readonly IReadOnlyList<string> Datasets = new[] { "cifar10", "cifar100", "folder" };
        public static readonly Option<string> EstimatorName = new("--estimator")
        {
            Description = "Backward estimator: " + string.Join(" | ", Enum.GetNames<Estimator>()),
            HelpName = "name",
            DefaultValueFactory = _ => "ReSTE",
        };
        public static readonly Option<double?> OEnd = new("--o-end") { Description = "ReSTE: the final o of the schedule (default 3)", HelpName = "o" };
        public static readonly Option<bool> A32 = new("--a32") { Description = "Full-precision activations (1W/32A) instead of 1W/1A" };
        public static readonly Option<int> Warmup = new("--warmup")
        {
            Description = "Linear warm-up epochs before the cosine decay (--warmup alone: 5; default none)",
            HelpName = "N",
            Arity = ArgumentArity.ZeroOrOne,
            // Called when the option is absent (0) and when it is given without a value (the paper's 5).
            DefaultValueFactory = a => a.Parent is OptionResult { Implicit: false } ? DefaultWarmup : 0,
            CustomParser = r =>
            {
                if (r.Tokens.Count == 0) return DefaultWarmup;
                if (int.TryParse(r.Tokens[0].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0) return n;
                r.AddError($"--warmup: '{r.Tokens[0].Value}' is not a number of epochs.");
                return 0;
            },
        };

        /// <summary>The paper's warm-up, used by a bare <c>--warmup</c>.</summary>
        public const int DefaultWarmup = 5;

        /// <summary>Warm-up epochs: 0 when --warmup is absent, 5 when it is given alone, else its value.</summary>
        public static int WarmupEpochs(ParseResult r)
        {
            var result = r.GetResult(Warmup);
            if (result is null || result.Implicit) return 0;
            if (result.Tokens.Count == 0) return DefaultWarmup;
            return r.GetValue(Warmup);
        }
        public static readonly Option<string> Device = new("--device") { Description = "cpu | cuda | cuda:N", HelpName = "device", DefaultValueFactory = _ => "cpu" };
        public static readonly Option<string?> Data = new("--data") { Description = "cifar10: a folder or cifar-10-binary.tar.gz (default: ../shared/data/cifar10 found from the repository or the current folder); cifar100: a folder with train.bin and test.bin, or cifar-100-binary.tar.gz; folder: a folder holding train/ and val/", HelpName = "path" };
        public static readonly Option<string?> Out = new("--out") { Description = "Output folder: checkpoint, best weights, metrics, TensorBoard events (default runs/<model>)", HelpName = "dir" };
        public static readonly Option<long> Seed = new("--seed") { Description = "Random seed (initialisation, order, augmentation)", HelpName = "N", DefaultValueFactory = _ => 0 };
        public static readonly Option<int?> Limit = new("--limit") { Description = "Train on the first N training images", HelpName = "N" };
        public static readonly Option<int?> TestLimit = new("--test-limit") { Description = "Evaluate on the first N test images (default: all 10,000)", HelpName = "N" };
        public static readonly Option<string?> Resume = new("--resume") { Description = "Continue a run: its folder or its checkpoint (the same settings)", HelpName = "run" };
        public static readonly Option<string?> CheckpointEvery = new("--checkpoint-every") { Description = "Also save the checkpoint during epochs: step (after every step: a kill costs only the step in flight), SECONDS (at the first step after that many seconds), or epoch (only at epoch ends). Default: step on the CPU, 60 on a GPU", HelpName = "step|seconds|epoch" };
        public static readonly Option<bool> Overwrite = new("--overwrite") { Description = "Replace the run already in the --out folder (default: refuse)" };
        public static readonly Option<bool> IndicatorsOption = new("--indicators") { Description = "Measure the indicators e and s per binary layer each epoch" };
        public static readonly Option<double> Lr = new("--lr") { Description = "Base learning rate", HelpName = "lr", DefaultValueFactory = _ => 0.1 };
        public static readonly Option<string?> Checkpoint = new("--checkpoint") { Description = "A checkpoint written by train", HelpName = "path" };
        public static readonly Option<string?> Weights = new("--weights") { Description = "A PyTorch state dict saved as safetensors (reference names)", HelpName = "path" };
        public static readonly Option<int> Steps = new("--steps") { Description = "Timed training steps", HelpName = "N", DefaultValueFactory = _ => 20 };
        public static readonly Option<int> WarmupSteps = new("--warmup-steps") { Description = "Untimed steps first", HelpName = "N", DefaultValueFactory = _ => 3 };
        public static readonly Option<string> EvalWith = new("--eval") { Description = "Evaluation forward: auto (on a CPU with AVX-512 or AVX2, 1W/1A models packed in memory and run on the XNOR engine; else TorchSharp), engine (wherever the model packs), torch", HelpName = "auto|engine|torch", DefaultValueFactory = _ => "auto" };
        public static readonly Option<bool> PrintLosses = new("--losses") { Description = "Print every step's loss (round-trip digits; kept on the device, read once at the end)" };

        public static RootCommand Build(Func<ParseResult, int> train, Func<ParseResult, int> eval, Func<ParseResult, int> bench)
        {
            var root = new RootCommand("ReSTE samples: train, evaluate and benchmark the paper's binary networks on CIFAR-10, CIFAR-100 and image folders (ImageNet).");
            var trainCmd = new Command("train", "Train a model on CIFAR-10, CIFAR-100 or an image folder");
            foreach (var o in new Option[] { Model, Dataset, Epochs, Batch, TestBatch, EstimatorName, OEnd, A32, Warmup, Device, Data, ImageSize, Workers, SkipUnreadable, Out, Seed, Limit, TestLimit, Resume, Overwrite, CheckpointEvery, IndicatorsOption, Lr, EvalWith })
                trainCmd.Options.Add(o);
            trainCmd.SetAction(train);
            var evalCmd = new Command("eval", "Evaluate a checkpoint (--checkpoint) or reference weights (--weights) on a test set (CIFAR-10, CIFAR-100, or an image folder's val/)");
            foreach (var o in new Option[] { Model, Dataset, EstimatorName, OEnd, A32, Device, Data, ImageSize, Workers, SkipUnreadable, Batch, TestLimit, Checkpoint, Weights, Predictions, EvalWith })
                evalCmd.Options.Add(o);
            evalCmd.SetAction(eval);
            var benchCmd = new Command("bench", "Training-step throughput (img/s) with synthetic data already on the device");
            foreach (var o in new Option[] { Model, Batch, EstimatorName, OEnd, A32, Device, Seed, Steps, WarmupSteps, PrintLosses })
                benchCmd.Options.Add(o);
            benchCmd.SetAction(bench);
            root.Subcommands.Add(trainCmd);
            root.Subcommands.Add(evalCmd);
            root.Subcommands.Add(benchCmd);
            return root;
        }

        /// <summary>One line: the command and its options with their value names.</summary>
        public static string Usage(Command command, RootCommand root)
        {
            if (command == root)
                return $"Usage: {AppName} <{string.Join("|", root.Subcommands.Select(c => c.Name))}> [options]   (--help for details)";
            var parts = command.Options.Where(o => o.Name != "--help" && o.Name != "-h" && !o.Name.StartsWith("-?", StringComparison.Ordinal))
                .Select(o => o.Arity.MaximumNumberOfValues == 0 || o.ValueType == typeof(bool) ? $"[{o.Name}]" : $"[{o.Name} <{o.HelpName ?? "value"}>]");
            return $"Usage: {AppName} {command.Name} {string.Join(" ", parts)}";
        }

        /// <summary>--epochs as given, else the model's recipe (train) or the option's default.</summary>
        static int EffectiveEpochs(ParseResult r) =>
            r.GetResult(Epochs) is { Implicit: false } || r.CommandResult.Command.Name != "train" || !r.CommandResult.Command.Options.Contains(Model)
                ? r.GetValue(Epochs)
                : Models.ModelZoo.DefaultRecipe(r.GetValue(Model)!).Epochs;

        /// <summary>
        /// <c>--checkpoint-every</c>: null when not given (the trainer's default for the device), <see cref="TimeSpan.Zero"/>
        /// for <c>step</c>, <see cref="TimeSpan.MaxValue"/> for <c>epoch</c>, else the seconds given.
        /// </summary>
        public static TimeSpan? ParseCheckpointEvery(string? value)
        {
            if (value is null) return null;
            var v = value.Trim().ToLowerInvariant();
            if (v == "step") return TimeSpan.Zero;
            if (v == "epoch") return TimeSpan.MaxValue;
            if (v.EndsWith('s')) v = v[..^1];
            if (double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
                && double.IsFinite(seconds) && seconds >= 0 && seconds <= 1e9)
                return TimeSpan.FromSeconds(seconds);
            throw new UsageException($"--checkpoint-every: '{value}' is not step, epoch or a number of seconds ≥ 0.");
        }

        /// <summary>Checks the values that the parser cannot (ranges, names); throws <see cref="UsageException"/>.</summary>
        public static void Validate(ParseResult r)
        {
            var cmd = r.CommandResult.Command;
            bool Has(Option o) => cmd.Options.Contains(o);
            if (Has(Model))
            {
                var m = r.GetValue(Model)!;
                if (!Models.ModelZoo.AllModels.Contains(m))
                    throw new UsageException($"--model: unknown model '{m}'; expected one of {string.Join(", ", Models.ModelZoo.CifarModels)}.");
                bool folder = Has(Dataset) && r.GetValue(Dataset) == "folder";
                if (!Models.ModelZoo.CifarModels.Contains(m) && cmd.Name != "bench" && cmd.Name != "export" && !folder)
                    throw new UsageException(Has(Dataset)
                        ? $"--model: '{m}' is an ImageNet definition; with --dataset {r.GetValue(Dataset)} {cmd.Name} takes {string.Join(", ", Models.ModelZoo.CifarModels)} (ImageNet models take --dataset folder)."
                        : $"--model: '{m}' is an ImageNet definition; {cmd.Name} takes {string.Join(", ", Models.ModelZoo.CifarModels)}.");
            }
            if (Has(CheckpointEvery)) ParseCheckpointEvery(r.GetValue(CheckpointEvery));
            if (Has(Dataset))
            {
                var ds = r.GetValue(Dataset)!;
                if (!Datasets.Contains(ds)) throw new UsageException($"--dataset: '{ds}' is not one of {string.Join(", ", Datasets)}.");
                bool folder = ds == "folder";
                if (folder && r.GetResult(Limit) is { Implicit: false }) throw new UsageException("--limit applies to cifar10 and cifar100, not to --dataset folder.");
                if (folder && r.GetResult(TestLimit) is { Implicit: false }) throw new UsageException("--test-limit applies to cifar10 and cifar100, not to --dataset folder.");
                if (!folder && r.GetResult(Resume) is not { Implicit: false } && r.GetResult(Checkpoint) is not { Implicit: false })
                    foreach (var o in new Option[] { ImageSize, Workers, SkipUnreadable })
                        if (r.GetResult(o) is { Implicit: false }) throw new UsageException($"{o.Name} applies to --dataset folder only.");
                if (folder && r.GetValue(Data) is null && r.GetResult(Resume) is not { Implicit: false } && r.GetResult(Checkpoint) is not { Implicit: false })
                    throw new UsageException("--dataset folder needs --data <folder> (holding train/ and val/).");
            }
            if (Has(ImageSize) && r.GetValue(ImageSize) is int size && size < 8) throw new UsageException($"--image-size must be ≥ 8, not {size}.");
            if (Has(Workers) && r.GetValue(Workers) is int workers && workers < 1) throw new UsageException($"--workers must be ≥ 1, not {workers}.");
            if (Has(TestBatch) && r.GetValue(TestBatch) is int tb && tb < 1) throw new UsageException($"--test-batch must be ≥ 1, not {tb}.");
            if (Has(Epochs) && r.GetValue(Epochs) < 1) throw new UsageException($"--epochs must be ≥ 1, not {r.GetValue(Epochs)}.");
            if (Has(Batch) && r.GetValue(Batch) < 1) throw new UsageException($"--batch must be ≥ 1, not {r.GetValue(Batch)}.");
            if (Has(EstimatorName))
            {
                try { EstimatorFactory.Parse(r.GetValue(EstimatorName)!); }
                catch (ArgumentException e) { throw new UsageException(e.Message); }
                if (r.GetValue(OEnd) is double o)
                {
                    if (!(o >= 1) || double.IsInfinity(o)) throw new UsageException($"--o-end must be a finite number ≥ 1, not {o.ToString(CultureInfo.InvariantCulture)}.");
                    if (EstimatorFactory.Parse(r.GetValue(EstimatorName)!) != Estimator.ReSTE)
                        throw new UsageException($"--o-end applies to the ReSTE estimator only, not {r.GetValue(EstimatorName)}.");
                }
            }
            if (Has(Warmup) && Has(Epochs) && WarmupEpochs(r) is var warm && warm > 0 && warm >= EffectiveEpochs(r))
                throw new UsageException($"--warmup {warm} must be less than --epochs {EffectiveEpochs(r)}.");
            if (Has(Device))
            {
                var d = r.GetValue(Device)!.Trim().ToLowerInvariant();
                if (d != "cpu" && d != "cuda" && !(d.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(d[5..], out var k) && k >= 0))
                    throw new UsageException($"--device: '{r.GetValue(Device)}' is not cpu, cuda or cuda:N.");
            }
            if (Has(Limit) && r.GetValue(Limit) is int limit && limit < 1) throw new UsageException($"--limit must be ≥ 1, not {limit}.");
            if (Has(TestLimit) && r.GetValue(TestLimit) is int testLimit && testLimit < 1) throw new UsageException($"--test-limit must be ≥ 1, not {testLimit}.");
            if (Has(Lr) && !(r.GetValue(Lr) > 0)) throw new UsageException($"--lr must be > 0, not {r.GetValue(Lr).ToString(CultureInfo.InvariantCulture)}.");
            if (Has(Lr) && r.GetValue(Lr) > float.MaxValue)
                throw new UsageException($"--lr {r.GetValue(Lr).ToString(CultureInfo.InvariantCulture)} does not fit the float32 the optimizer computes in (at most {float.MaxValue.ToString(CultureInfo.InvariantCulture)}).");
            if (Has(Steps) && r.GetValue(Steps) < 1) throw new UsageException($"--steps must be ≥ 1, not {r.GetValue(Steps)}.");
            if (Has(WarmupSteps) && r.GetValue(WarmupSteps) < 0) throw new UsageException($"--warmup-steps must be ≥ 0, not {r.GetValue(WarmupSteps)}.");
            if (Has(EvalWith))
            {
                try { EngineEval.Parse(r.GetValue(EvalWith)!); }
                catch (ArgumentException e) { throw new UsageException(e.Message); }
            }
            if (cmd.Name == "eval")
            {
                bool c = r.GetValue(Checkpoint) is not null, w = r.GetValue(Weights) is not null;
                if (c == w) throw new UsageException("eval needs exactly one of --checkpoint <path> and --weights <path>.");
            }
        }

        /// <summary>
        /// Parses and runs <paramref name="args"/>. Parse and validation errors print one line and the usage to
        /// <paramref name="error"/> and return 2.
        /// </summary>
        public static int Run(string[] args, RootCommand root, TextWriter output, TextWriter error)
        {
            var result = root.Parse(args);
            var command = result.CommandResult.Command;
            bool helpAsked = args.Any(a => a is "--help" or "-h" or "-?" or "--version");
            if (!helpAsked && command == root && result.Errors.Count == 0)
            {
                error.WriteLine($"{AppName}: a command is required.");
                error.WriteLine(Usage(root, root));
                return 2;
            }
            if (result.Errors.Count > 0)
            {
                // An unknown word explains more than the missing command it causes.
                var first = result.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? result.Errors[0];
                error.WriteLine($"{AppName}: {first.Message}");
                error.WriteLine(Usage(command, root));
                return 2;
            }
            if (!helpAsked)
            {
                try { Validate(result); }
                catch (UsageException e)
                {
                    error.WriteLine($"{AppName}: {e.Message}");
                    error.WriteLine(Usage(command, root));
                    return 2;
                }
            }
            var config = new InvocationConfiguration { Output = output, Error = error };
            return result.Invoke(config);
        }
    }
}

using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using ReSTE.Runtime;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Interop;
using ReSTE.Runtime.Layers;
using ReSTE.Runtime.Native;
using ReSTE.Runtime.Training;
using ReSTE.Samples.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Samples
{
    /// <summary>What <c>train</c>, <c>eval</c> and <c>bench</c> do once their arguments are valid.</summary>
    public sealed class Commands
    {
        readonly TextWriter _out;
        readonly CancellationToken _cancel;

        public Commands(TextWriter output, CancellationToken cancel)
        {
            _out = output; _cancel = cancel;
        }

        /// <summary>Exit codes besides 0 (success) and 2 (arguments).</summary>
        public const int Failed = 1, Diverged = 3, Interrupted = 130;

        static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

        sealed record ModelChoice(string Model, Estimator Estimator, bool A32, double? OEnd)
        {
            public string Policy => $"{Estimator} {(A32 ? "1W/32A" : "1W/1A")}" + (Estimator == Estimator.ReSTE ? $", o_end {(OEnd ?? ReSTEEstimator.DefaultOEnd).ToString(CultureInfo.InvariantCulture)}" : "");
        }

        nn.Module<Tensor, Tensor> BuildModel(ModelChoice c, long seed, Device device, long? numClasses = null)
        {
            manual_seed(seed);
            var model = ModelZoo.Create(c.Model, c.Estimator, !c.A32, c.OEnd, numClasses);
            var (total, binary) = BinaryModel.CountParameters(model);
            _out.WriteLine($"{c.Model} ({c.Policy}): {N(total)} parameters, {N(binary)} binary, {N(total - binary)} full precision");
            model.to(device);
            return model;
        }

        static string DataFolder(string? given, string dataset = "cifar10")
        {
            if (given is not null) return given;
            if (dataset != "cifar10") throw new DirectoryNotFoundException($"--dataset {dataset} needs --data <folder>.");
            return Cifar10.FindDefaultFolder()
                ?? throw new DirectoryNotFoundException("CIFAR-10 not found: no shared/data/cifar10 or ../shared/data/cifar10 above the current folder or the app; pass --data <folder>.");
        }

        static ModelChoice Choice(ParseResult r) => new(r.GetValue(Cli.Model)!, EstimatorFactory.Parse(r.GetValue(Cli.EstimatorName)!),
            r.GetValue(Cli.A32), r.GetValue(Cli.OEnd));

        static bool Given(ParseResult r, Option o) => r.GetResult(o) is { Implicit: false };

        static DataSets.FolderSettings Folder(ParseResult r, int? imageSize = null) =>
            new(r.GetValue(Cli.ImageSize) ?? imageSize ?? 224, r.GetValue(Cli.Workers), r.GetValue(Cli.SkipUnreadable));

        public int Train(ParseResult r)
        {
            var choice = Choice(r);
            string dataset = r.GetValue(Cli.Dataset)!;
            int? imageSize = r.GetValue(Cli.ImageSize), testBatch = r.GetValue(Cli.TestBatch);
            int epochs = r.GetValue(Cli.Epochs), batch = r.GetValue(Cli.Batch), warmup = Cli.WarmupEpochs(r);
            long seed = r.GetValue(Cli.Seed);
            int? limit = r.GetValue(Cli.Limit);
            double lr = r.GetValue(Cli.Lr);
            var resume = r.GetValue(Cli.Resume) is { } resumeArg ? RunSetup.CheckpointOf(resumeArg) : null;
            string? dataArg = r.GetValue(Cli.Data);
            int? testLimit = r.GetValue(Cli.TestLimit);
            bool overwrite = r.GetValue(Cli.Overwrite);
            var checkpointEvery = Cli.ParseCheckpointEvery(r.GetValue(Cli.CheckpointEvery));
            if (resume is not null && overwrite) throw new ArgumentException("--resume continues a run and --overwrite replaces one: give one of them.");
            Checkpoint? resumed = null;
            try
            {
                if (resume is not null)
                {
                    // Settings not given again come from the checkpoint, so that `train --resume <run>` continues as it was;
                    // a setting given with another value is refused below, before anything is loaded or written.
                    resumed = Checkpoint.Load(resume);
                    var ckpt = resumed;
                    string? Tag(string k) => ckpt.Metadata.TryGetValue("tag." + k, out var v) ? v : null;
                    int? OptionalInt(string k) => Tag(k) is { Length: > 0 } v
                        ? int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
                            : throw new InvalidDataException($"checkpoint '{resume}': metadata 'tag.{k}' is '{v}', not an integer.")
                        : null;
                    if (!Given(r, Cli.Epochs)) epochs = ckpt.Int("epochs");
                    if (!Given(r, Cli.Batch)) batch = ckpt.Int("batch");
                    if (!Given(r, Cli.Warmup)) warmup = ckpt.Int("warmup");
                    if (!Given(r, Cli.Seed)) seed = ckpt.Long("seed");
                    if (!Given(r, Cli.Lr)) lr = ckpt.Double("lr");
                    if (!Given(r, Cli.Model) && Tag("model") is { } m) choice = choice with { Model = m };
                    if (!Given(r, Cli.EstimatorName) && Tag("estimator") is { } e)
                    {
                        try { choice = choice with { Estimator = EstimatorFactory.Parse(e) }; }
                        catch (ArgumentException) { throw new InvalidDataException($"checkpoint '{resume}': metadata 'tag.estimator' is '{e}', not an estimator."); }
                    }
                    if (!Given(r, Cli.A32) && Tag("a32") is { } a) choice = choice with { A32 = a == "true" };
                    if (!Given(r, Cli.OEnd) && Tag("o_end") is { Length: > 0 } o) choice = choice with { OEnd = ckpt.Double("tag.o_end") };
                    if (!Given(r, Cli.Limit) && Tag("limit") is not null) limit = OptionalInt("limit");
                    if (!Given(r, Cli.TestLimit) && Tag("test_limit") is not null) testLimit = OptionalInt("test_limit");
                    if (dataArg is null && Tag("data") is { } d && d.Length > 0 && Directory.Exists(d)) dataArg = d;
                    if (!Given(r, Cli.Dataset) && Tag("dataset") is { Length: > 0 } ds) dataset = ds;
                    if (!Given(r, Cli.ImageSize) && Tag("image_size") is { Length: > 0 }) imageSize = OptionalInt("image_size");
                    if (!Given(r, Cli.TestBatch) && Tag("test_batch") is { Length: > 0 }) testBatch = OptionalInt("test_batch");
                    string OEndOf(double? v) => choice.Estimator == Estimator.ReSTE ? RunSetup.F(v ?? ReSTEEstimator.DefaultOEnd) : "";
                    var settings = new List<RunSetup.Setting>
                    {
                        new("--model", choice.Model, Tag("model")),
                        new("--estimator", choice.Estimator.ToString(), Tag("estimator")),
                        new("--a32", choice.A32 ? "true" : "false", Tag("a32")),
                        new("--o-end", OEndOf(choice.OEnd), Tag("o_end") is { } te && Tag("estimator") == choice.Estimator.ToString()
                            ? OEndOf(te.Length > 0 ? ckpt.Double("tag.o_end") : null) : null),
                        new("--epochs", RunSetup.I(epochs), ckpt.Get("epochs")),
                        new("--batch", RunSetup.I(batch), ckpt.Get("batch")),
                        new("--lr", RunSetup.F(lr), ckpt.Get("lr")),
                        new("--warmup", RunSetup.I(warmup), ckpt.Get("warmup")),
                        new("--seed", RunSetup.I(seed), ckpt.Get("seed")),
                        new("augmentation", "true", ckpt.Metadata.GetValueOrDefault("augment")),
                        new("--limit", limit is int lim ? RunSetup.I(lim) : "", Tag("limit")),
                        new("--test-limit", testLimit is int tl ? RunSetup.I(tl) : "", Tag("test_limit")),
                        new("--dataset", dataset, Tag("dataset")),
                        new("--image-size", dataset == "folder" ? RunSetup.I(Folder(r, imageSize).ImageSize) : "", Tag("image_size")),
                    };
                    var dataNow = DataFolder(dataArg, dataset);
                    if (Tag("data_id") is { } id && id != RunSetup.DataIdentity(dataNow))
                        settings.Add(new("--data", Path.GetFullPath(dataNow), Tag("data") ?? id));
                    RunSetup.CheckSame(resume, settings);
                }
            }
            finally { resumed?.Dispose(); }
            var recipe = ModelZoo.DefaultRecipe(choice.Model);
            if (resume is null)
            {
                // The model's recipe for what is not given (ImageNet models: 250 epochs, batch 750, test batch 256).
                if (!Given(r, Cli.Epochs)) epochs = recipe.Epochs;
                if (!Given(r, Cli.Batch)) batch = recipe.BatchSize;
                if (!Given(r, Cli.Lr)) lr = recipe.LearningRate;
                if (!Given(r, Cli.Warmup)) warmup = recipe.WarmupEpochs;
            }
            if (ModelZoo.IsImageNet(choice.Model) && dataset != "folder")
                throw new ArgumentException($"'{choice.Model}' is an ImageNet model; train it with --dataset folder --data <folder>.");
            var outDir = r.GetValue(Cli.Out) ?? (resume is not null ? Path.GetDirectoryName(Path.GetFullPath(resume))! : Path.Combine("runs", choice.Model));
            bool sameFolder = resume is not null && Path.GetFullPath(outDir) == Path.GetDirectoryName(Path.GetFullPath(resume));
            var dataFolder = DataFolder(dataArg, dataset);
            RunFolder.ThrowIfBusy(outDir);
            if (!sameFolder) RunSetup.CheckFresh(outDir, overwrite);
            // The folder is taken for this run before anything is loaded; the check is repeated under the lock.
            using var runFolder = RunFolder.Acquire(outDir);
            if (!sameFolder) RunSetup.CheckFresh(outDir, overwrite);
            if (runFolder.StaleHolder is not null) _out.WriteLine($"run folder: replaced the stale lock of {runFolder.StaleHolder} (no longer running)");
            if (runFolder.RemovedTemporaries.Count > 0) _out.WriteLine($"run folder: removed {runFolder.RemovedTemporaries.Count} temporary file(s) of ended processes");
            if (resume is null && RunSetup.HoldsRunFiles(outDir))
            {
                // Under the lock: --overwrite, or what a run that saved no epoch left (TensorBoard events).
                bool previous = RunSetup.HoldsRun(outDir);
                RunSetup.Clear(outDir);
                _out.WriteLine(previous ? $"run folder: --overwrite removed the previous run in {outDir}"
                                        : $"run folder: removed the files of a run that saved no epoch in {outDir}");
            }
            var device = LibTorch.Initialize(r.GetValue(Cli.Device)!);
            var folder = dataFolder;
            var model = BuildModel(choice, seed, device, DataSets.ClassCount(dataset, folder));

            var load = Stopwatch.StartNew();
            using var data = DataSets.Load(dataset, folder, device, withTrain: true, limit, testLimit, Folder(r, imageSize));
            var train = data.Train!;
            var test = data.Test;
            _out.WriteLine($"data: {data.Description} ({load.Elapsed.TotalSeconds:F1}s)");

            var options = new TrainerOptions
            {
                Epochs = epochs, BatchSize = batch, EvalBatchSize = testBatch ?? recipe.TestBatchSize, WarmupEpochs = warmup, Seed = seed, LearningRate = lr,
                OutputDirectory = outDir, ResumeFrom = resume, Indicators = r.GetValue(Cli.IndicatorsOption),
                CheckpointInterval = checkpointEvery,
                Evaluator = EngineEval.ForTrainer(choice.Model, EngineEval.Parse(r.GetValue(Cli.EvalWith)!), _out),
                Tags = new Dictionary<string, string>
                {
                    ["model"] = choice.Model, ["estimator"] = choice.Estimator.ToString(), ["a32"] = choice.A32 ? "true" : "false",
                    ["o_end"] = choice.OEnd?.ToString("R", CultureInfo.InvariantCulture) ?? "",
                    ["limit"] = limit?.ToString(CultureInfo.InvariantCulture) ?? "", ["data"] = Path.GetFullPath(folder),
                    ["test_limit"] = testLimit?.ToString(CultureInfo.InvariantCulture) ?? "", ["data_id"] = RunSetup.DataIdentity(folder),
                    ["policy"] = choice.Policy, ["dataset"] = dataset,
                    ["classes_count"] = data.Classes.ToString(CultureInfo.InvariantCulture),
                    ["image_size"] = dataset == "folder" ? RunSetup.I(Folder(r, imageSize).ImageSize) : "",
                    ["test_batch"] = RunSetup.I(testBatch ?? recipe.TestBatchSize),
                },
            };
            var hooks = new List<ITrainerHook>
            {
                new ConsoleProgressHook(_out == Console.Out ? null : _out, _out == Console.Out ? null : false),
                new MetricsFileHook(outDir),
                new TensorBoardHook(Path.Combine(outDir, "tensorboard")),
            };
            var trainer = new Trainer(model, train, test, options, hooks);
            _out.WriteLine($"train: {epochs} epoch{(epochs == 1 ? "" : "s")} × {trainer.StepsPerEpoch} steps of {batch}, lr {lr.ToString(CultureInfo.InvariantCulture)}" +
                           $"{(warmup > 0 ? $" ({warmup} warm-up epochs)" : "")}, cosine; seed {seed}; output {outDir}" +
                           (resume is not null ? $"; resuming {resume}" : ""));
            var result = trainer.Run(_cancel);
            var skipped = new[] { train, test }.OfType<ImageFolderSource>().ToList();
            if (skipped.Sum(f => f.Skipped) > 0)
                _out.WriteLine($"skipped unreadable images: {skipped.Sum(f => f.Skipped)} ({string.Join(", ", skipped.SelectMany(f => f.SkippedFiles).Distinct().Take(5))})");
            return result.Outcome switch
            {
                TrainOutcome.Completed => 0,
                TrainOutcome.Interrupted => Interrupted,
                _ => Diverged,
            };
        }

        public int Eval(ParseResult r)
        {
            var choice = Choice(r);
            string dataset = r.GetValue(Cli.Dataset)!;
            int? imageSize = r.GetValue(Cli.ImageSize);
            string? dataArg = r.GetValue(Cli.Data);
            IReadOnlyList<string>? classNames = null;
            int? classesCount = null;
            var ckptPath = r.GetValue(Cli.Checkpoint);
            Checkpoint? ckpt = null;
            try
            {
                if (ckptPath is not null)
                {
                    ckpt = Checkpoint.Load(ckptPath);
                    string? Tag(string k) => ckpt.Metadata.TryGetValue("tag." + k, out var v) ? v : null;
                    choice = choice with
                    {
                        Model = !Given(r, Cli.Model) && Tag("model") is { } m ? m : choice.Model,
                        Estimator = !Given(r, Cli.EstimatorName) && Tag("estimator") is { } e ? EstimatorFactory.Parse(e) : choice.Estimator,
                        A32 = !Given(r, Cli.A32) && Tag("a32") is { } a ? a == "true" : choice.A32,
                    };
                    if (!Given(r, Cli.Dataset) && Tag("dataset") is { Length: > 0 } ds) dataset = ds;
                    if (!Given(r, Cli.ImageSize) && Tag("image_size") is { Length: > 0 } isz) imageSize = int.Parse(isz, CultureInfo.InvariantCulture);
                    if (dataArg is null && dataset != "cifar10" && Tag("data") is { Length: > 0 } d && Directory.Exists(d)) dataArg = d;
                    if (Tag("classes_count") is { Length: > 0 } cc) classesCount = int.Parse(cc, CultureInfo.InvariantCulture);
                    classNames = Trainer.ClassNamesOf(ckpt.Metadata);
                }
                if (ModelZoo.IsImageNet(choice.Model) && dataset != "folder")
                    throw new ArgumentException($"'{choice.Model}' is an ImageNet model; evaluate it with --dataset folder --data <folder>.");
                var device = LibTorch.Initialize(r.GetValue(Cli.Device)!);
                var folder = DataFolder(dataArg, dataset);
                using var data = DataSets.Load(dataset, folder, device, withTrain: false, null, r.GetValue(Cli.TestLimit), Folder(r, imageSize), classNames);
                if (classesCount is int k && k != data.Classes)
                    throw new InvalidDataException($"checkpoint '{ckptPath}' was trained on {k} classes; --data '{folder}' ({dataset}) has {data.Classes}.");
                var model = BuildModel(choice, 0, device, data.Classes);
                if (ckpt is not null)
                {
                    foreach (var w in StateDict.Load(model, ckpt.Model, null, $"checkpoint '{ckptPath}'")) _out.WriteLine("warning: " + w);
                    _out.WriteLine($"weights: checkpoint {ckptPath} (epoch {ckpt.Epoch}, best top-1 {ckpt.BestTop1.ToString("F2", CultureInfo.InvariantCulture)}%)");
                }
                else
                {
                    var weights = r.GetValue(Cli.Weights)!;
                    using var file = Safetensors.Load(weights);
                    foreach (var w in ReferenceNames.Load(model, file.Tensors, $"'{weights}'")) _out.WriteLine("warning: " + w);
                    _out.WriteLine($"weights: {weights} ({file.Tensors.Count} tensors, reference names)");
                }
                var test = data.Test;
                int evalBatch = Given(r, Cli.Batch) || !ModelZoo.IsImageNet(choice.Model) ? r.GetValue(Cli.Batch) : ModelZoo.DefaultRecipe(choice.Model).TestBatchSize;
                if (r.GetValue(Cli.Predictions) is { } predictionsFile)
                {
                    var pclock = Stopwatch.StartNew();
                    var p = Predictions.Run(model, test, evalBatch, data.ClassNames, predictionsFile);
                    _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"test: {N(p.Count)} images, loss {p.Loss:F4}, top-1 {p.Top1:F2}%, top-5 {p.Top5:F2}% ({pclock.Elapsed.TotalSeconds:F1}s)"));
                    _out.WriteLine($"predictions: {predictionsFile}");
                    p.WriteReport(_out);
                    return 0;
                }
                var evaluator = EngineEval.Create(choice.Model, EngineEval.Parse(r.GetValue(Cli.EvalWith)!), _out);
                var clock = Stopwatch.StartNew();
                var ev = evaluator.Evaluate(model, Runtime.Deploy.EvaluationBatches.Of(test, evalBatch), test.Count, device);
                double secs = clock.Elapsed.TotalSeconds;
                _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"test: {N(test.Count)} images, loss {ev.Loss:F4}, top-1 {ev.Top1:F2}%, top-5 {ev.Top5:F2}% ({secs:F1}s, {test.Count / Math.Max(secs, 1e-9):F0} img/s, {EngineEval.Describe(ev, evaluator)})"));
                return 0;
            }
            finally { ckpt?.Dispose(); }
        }

        public int Bench(ParseResult r)
        {
            var choice = Choice(r);
            int batch = r.GetValue(Cli.Batch), steps = r.GetValue(Cli.Steps), warm = r.GetValue(Cli.WarmupSteps);
            var device = LibTorch.Initialize(r.GetValue(Cli.Device)!);
            var model = BuildModel(choice, r.GetValue(Cli.Seed), device);
            bool imagenet = choice.Model.EndsWith("-imagenet", StringComparison.Ordinal);
            long side = imagenet ? 224 : 32, classes = imagenet ? 1000 : 10;
            using var x = randn(new long[] { batch, 3, side, side }, device: device);
            using var y = randint(classes, new long[] { batch }, dtype: ScalarType.Int64, device: device);
            using var sgd = new MomentumSgd(model.named_parameters().Select(p => (p.name, p.parameter)), 0.1);
            BinaryModel.SetProgress(model, 0, 1);
            model.train();
            bool printLosses = r.GetValue(Cli.PrintLosses);
            using var losses = zeros(warm + steps, dtype: ScalarType.Float32, device: device);
            int done = 0;
            void Step()
            {
                using var scope = NewDisposeScope();
                var loss = nn.functional.cross_entropy(model.forward(x), y);
                sgd.ZeroGrad();
                loss.backward();
                sgd.Step();
                if (printLosses) using (no_grad()) losses.narrow(0, done, 1).copy_(loss.detach().reshape(1));
                done++;
            }
            void Sync() { using var s = NewDisposeScope(); _ = model.parameters().First().sum().cpu().item<float>(); }
            for (int i = 0; i < warm; i++) Step();
            Sync();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++)
            {
                if (_cancel.IsCancellationRequested) { _out.WriteLine("Interrupted."); return Interrupted; }
                Step();
            }
            Sync();
            double secs = clock.Elapsed.TotalSeconds;
            var malloc = device.type == DeviceType.CPU ? "; " + MallocTuning.Describe() : "";
            _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench: {steps} training steps of {batch} ({side}×{side}) on {device}: {steps * batch / secs:F1} img/s, {1000 * secs / steps:F1} ms/step{malloc}"));
            if (printLosses)
            {
                using var read = losses.cpu();
                _out.WriteLine("losses: " + string.Join(" ", read.data<float>().ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
            }
            return 0;
        }
    }
}

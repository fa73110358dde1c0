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

        nn.Module<Tensor, Tensor> BuildModel(ModelChoice c, long seed, Device device)
        {
            manual_seed(seed);
            var model = ModelZoo.Create(c.Model, c.Estimator, !c.A32, c.OEnd);
            var (total, binary) = BinaryModel.CountParameters(model);
            _out.WriteLine($"{c.Model} ({c.Policy}): {N(total)} parameters, {N(binary)} binary, {N(total - binary)} full precision");
            model.to(device);
            return model;
        }

        static string DataFolder(string? given)
        {
            if (given is not null) return given;
            return Cifar10.FindDefaultFolder()
                ?? throw new DirectoryNotFoundException("CIFAR-10 not found: no shared/data/cifar10 or ../shared/data/cifar10 above the current folder or the app; pass --data <folder>.");
        }

        static ModelChoice Choice(ParseResult r) => new(r.GetValue(Cli.Model)!, EstimatorFactory.Parse(r.GetValue(Cli.EstimatorName)!),
            r.GetValue(Cli.A32), r.GetValue(Cli.OEnd));

        static bool Given(ParseResult r, Option o) => r.GetResult(o) is { Implicit: false };

        public int Train(ParseResult r)
        {
            var choice = Choice(r);
            int epochs = r.GetValue(Cli.Epochs), batch = r.GetValue(Cli.Batch), warmup = Cli.WarmupEpochs(r);
            long seed = r.GetValue(Cli.Seed);
            int? limit = r.GetValue(Cli.Limit);
            double lr = r.GetValue(Cli.Lr);
            var resume = r.GetValue(Cli.Resume);
            string? dataArg = r.GetValue(Cli.Data);
            if (resume is not null)
            {
                // Settings not given again come from the checkpoint, so that `train --resume <file>` continues as it was.
                using var ckpt = Checkpoint.Load(resume);
                string? Tag(string k) => ckpt.Metadata.TryGetValue("tag." + k, out var v) ? v : null;
                int I(string k) => int.Parse(ckpt.Get(k), CultureInfo.InvariantCulture);
                if (!Given(r, Cli.Epochs)) epochs = I("epochs");
                if (!Given(r, Cli.Batch)) batch = I("batch");
                if (!Given(r, Cli.Warmup)) warmup = I("warmup");
                if (!Given(r, Cli.Seed)) seed = long.Parse(ckpt.Get("seed"), CultureInfo.InvariantCulture);
                if (!Given(r, Cli.Lr)) lr = double.Parse(ckpt.Get("lr"), CultureInfo.InvariantCulture);
                choice = choice with
                {
                    Model = !Given(r, Cli.Model) && Tag("model") is { } m ? m : choice.Model,
                    Estimator = !Given(r, Cli.EstimatorName) && Tag("estimator") is { } e ? EstimatorFactory.Parse(e) : choice.Estimator,
                    A32 = !Given(r, Cli.A32) && Tag("a32") is { } a ? a == "true" : choice.A32,
                    OEnd = !Given(r, Cli.OEnd) && Tag("o_end") is { } o && o.Length > 0 ? double.Parse(o, CultureInfo.InvariantCulture) : choice.OEnd,
                };
                if (!Given(r, Cli.Limit) && Tag("limit") is { } l && l.Length > 0) limit = int.Parse(l, CultureInfo.InvariantCulture);
                if (dataArg is null && Tag("data") is { } d && d.Length > 0 && Directory.Exists(d)) dataArg = d;
            }
            var outDir = r.GetValue(Cli.Out) ?? (resume is not null ? Path.GetDirectoryName(Path.GetFullPath(resume))! : Path.Combine("runs", choice.Model));
            var device = LibTorch.Initialize(r.GetValue(Cli.Device)!);
            var folder = DataFolder(dataArg);
            var model = BuildModel(choice, seed, device);

            var load = Stopwatch.StartNew();
            var trainSet = Cifar10.Load(folder, Cifar10Split.Train, limit);
            var testSet = Cifar10.Load(folder, Cifar10Split.Test, r.GetValue(Cli.TestLimit));
            using var train = new DeviceCifar(trainSet, device);
            using var test = new DeviceCifar(testSet, device);
            _out.WriteLine($"data: {folder}: {N(train.Count)} training, {N(test.Count)} test images on {device} ({load.Elapsed.TotalSeconds:F1}s)");

            var options = new TrainerOptions
            {
                Epochs = epochs, BatchSize = batch, WarmupEpochs = warmup, Seed = seed, LearningRate = lr,
                OutputDirectory = outDir, ResumeFrom = resume, Indicators = r.GetValue(Cli.IndicatorsOption),
                Tags = new Dictionary<string, string>
                {
                    ["model"] = choice.Model, ["estimator"] = choice.Estimator.ToString(), ["a32"] = choice.A32 ? "true" : "false",
                    ["o_end"] = choice.OEnd?.ToString("R", CultureInfo.InvariantCulture) ?? "",
                    ["limit"] = limit?.ToString(CultureInfo.InvariantCulture) ?? "", ["data"] = Path.GetFullPath(folder),
                },
            };
            Directory.CreateDirectory(outDir);
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
                }
                var device = LibTorch.Initialize(r.GetValue(Cli.Device)!);
                var folder = DataFolder(r.GetValue(Cli.Data));
                var model = BuildModel(choice, 0, device);
                if (ckpt is not null)
                {
                    StateDict.Load(model, ckpt.Model, null, $"checkpoint '{ckptPath}'");
                    _out.WriteLine($"weights: checkpoint {ckptPath} (epoch {ckpt.Epoch}, best top-1 {ckpt.BestTop1.ToString("F2", CultureInfo.InvariantCulture)}%)");
                }
                else
                {
                    var weights = r.GetValue(Cli.Weights)!;
                    using var file = Safetensors.Load(weights);
                    ReferenceNames.Load(model, file.Tensors, $"'{weights}'");
                    _out.WriteLine($"weights: {weights} ({file.Tensors.Count} tensors, reference names)");
                }
                using var test = new DeviceCifar(Cifar10.Load(folder, Cifar10Split.Test, r.GetValue(Cli.TestLimit)), device);
                var clock = Stopwatch.StartNew();
                var (loss, top1, top5) = Trainer.Evaluate(model, test, r.GetValue(Cli.Batch));
                _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"test: {N(test.Count)} images, loss {loss:F4}, top-1 {top1:F2}%, top-5 {top5:F2}% ({clock.Elapsed.TotalSeconds:F1}s)"));
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
            void Step()
            {
                using var scope = NewDisposeScope();
                var loss = nn.functional.cross_entropy(model.forward(x), y);
                sgd.ZeroGrad();
                loss.backward();
                sgd.Step();
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
            _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench: {steps} training steps of {batch} ({side}×{side}) on {device}: {steps * batch / secs:F1} img/s, {1000 * secs / steps:F1} ms/step"));
            return 0;
        }
    }
}

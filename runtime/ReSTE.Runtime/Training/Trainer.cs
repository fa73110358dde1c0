using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Indicators;
using ReSTE.Runtime.Interop;
using ReSTE.Runtime.Layers;
using ReSTE.Runtime.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Training
{
    /// <summary>One epoch's results, read from the device once at the epoch's end.</summary>
    public sealed record EpochMetrics
    {
        /// <summary>The epoch, counted from 1.</summary>
        public int Epoch { get; init; }
        public int Epochs { get; init; }
        public double LearningRate { get; init; }
        /// <summary>The estimator's parameter in this epoch (o for ReSTE), from the first binary layer; NaN if none.</summary>
        public double EstimatorParameter { get; init; }
        public double TrainLoss { get; init; }
        public double TrainTop1 { get; init; }
        public double TestLoss { get; init; } = double.NaN;
        public double TestTop1 { get; init; } = double.NaN;
        public double TestTop5 { get; init; } = double.NaN;
        public double BestTop1 { get; init; } = double.NaN;
        public int BestEpoch { get; init; }
        public double TrainSeconds { get; init; }
        public double EvalSeconds { get; init; }
        /// <summary>Training images per second over the epoch.</summary>
        public double ImagesPerSecond { get; init; }
        /// <summary>Mean estimating error e over binary layers (NaN when indicators are off).</summary>
        public double EstimatingError { get; init; } = double.NaN;
        /// <summary>Mean gradient instability s over binary layers (NaN when indicators are off).</summary>
        public double GradientInstability { get; init; } = double.NaN;
        /// <summary>Per-layer indicators (empty when off).</summary>
        public IReadOnlyList<LayerIndicators> Layers { get; init; } = Array.Empty<LayerIndicators>();
        /// <summary>
        /// The training loss of each step of the epoch, kept on the device during the epoch and read with the epoch's
        /// other numbers: loss curves can show spikes (the paper's Fig. 6). A run resumed mid-epoch has those of the
        /// steps before from its checkpoint.
        /// </summary>
        public IReadOnlyList<double> StepLosses { get; init; } = Array.Empty<double>();
    }

    /// <summary>How a run ended.</summary>
    public enum TrainOutcome
    {
        Completed,
        /// <summary>Cancelled (Ctrl-C): the state was saved at the step reached.</summary>
        Interrupted,
        /// <summary>The loss became NaN or infinite: stopped, the last good checkpoint kept.</summary>
        Diverged,
    }

    public sealed record TrainResult(TrainOutcome Outcome, int EpochsDone, double BestTop1, int BestEpoch, string Message, IReadOnlyList<EpochMetrics> History);

    /// <summary>Observes a run without changing it. Every member is optional.</summary>
    public interface ITrainerHook
    {
        void OnStart(Trainer trainer, int startEpoch, int startStep) { }
        /// <summary>
        /// When a run resumes, before its first step: the epochs its checkpoint records as complete, so that what is
        /// written per epoch (metrics files) can be made to hold exactly those: a kill may have struck between the
        /// checkpoint's rename and the hooks.
        /// </summary>
        void OnResume(IReadOnlyList<EpochMetrics> completed) { }
        /// <summary>Before the first step of an epoch (or the step a resumed run starts at).</summary>
        void OnEpochStart(int epoch, int firstStep, int steps) { }
        /// <summary>After a step is queued (no host synchronisation happened).</summary>
        void OnStep(int epoch, int step, int steps, int batchSize) { }
        void OnEvalStart(int epoch) { }
        void OnEpoch(EpochMetrics metrics) { }
        void OnEnd(TrainResult result) { }
    }

    /// <summary>
    /// One training loop for any <c>nn.Module&lt;Tensor, Tensor&gt;</c> and any <see cref="IBatchSource"/>. By default
    /// the reference's: SGD (lr 0.1, momentum 0.9, weight decay 1e-4 on every parameter), optional linear warm-up then
    /// cosine decay of the learning rate per epoch in closed form, cross-entropy; loss, optimiser, schedule and
    /// evaluation are pluggable (<see cref="TrainerOptions"/>). Binary layers' estimator schedules advance once per
    /// epoch; evaluation runs every epoch when there is a test source (top-1, top-5, best top-1). Each step runs in a
    /// DisposeScope and never reads the device: loss and accuracy are summed on the device and read once per epoch. A
    /// checkpoint is written atomically after each epoch; a cancelled run saves the step it reached; a NaN or infinite
    /// loss stops the run and keeps the last good checkpoint.
    /// </summary>
    public sealed class Trainer
    {
        public const string CheckpointFile = "checkpoint.safetensors";
        public const string BestWeightsFile = "best.safetensors";
        /// <summary>
        /// The checkpoint before the current one (kept at each write): put back when the weights the current one holds
        /// turn out to give a NaN or infinite loss, and removed when the run completes.
        /// </summary>
        public const string PreviousCheckpointFile = ".checkpoint.previous.safetensors";
        /// <summary>Checkpoint metadata: the training source's class names by index, as a JSON array (when it has them).</summary>
        public const string ClassesKey = "classes";
        /// <summary>Checkpoint metadata: the number of training examples (a resumed run must have as many).</summary>
        public const string TrainCountKey = "train_count";

        readonly nn.Module<Tensor, Tensor> _model;
        readonly IBatchSource _train;
        readonly IBatchSource? _test;
        readonly List<ITrainerHook> _hooks;
        /// <summary>The best epoch's model state (CPU copies), written into every checkpoint and regenerating best.safetensors.</summary>
        Dictionary<string, Tensor>? _best;
        /// <summary>Every completed epoch of the run (those of the checkpoint resumed from, then this process's).</summary>
        readonly List<EpochMetrics> _completed = new();
        /// <summary>Where the checkpoint on disk continues (its epoch and step); null when there is none.</summary>
        (int Epoch, int Step)? _saved;

        /// <summary>
        /// A run of <paramref name="model"/> on <paramref name="train"/>, evaluated on <paramref name="test"/> after
        /// every epoch (null: no evaluation). The sources' batches must be on the model's device.
        /// </summary>
        public Trainer(nn.Module<Tensor, Tensor> model, IBatchSource train, IBatchSource? test, TrainerOptions options, IEnumerable<ITrainerHook>? hooks = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(train);
            ArgumentNullException.ThrowIfNull(options);
            options.Validate();
            if (train.Count < 1) throw new ArgumentException("The training source holds no examples.", nameof(train));
            if (test is not null && test.Device.type != train.Device.type)
                throw new ArgumentException($"The test source is on {test.Device}, the training source on {train.Device}; give both on one device.", nameof(test));
            _model = model; _train = train; _test = test; Options = options;
            _hooks = hooks?.ToList() ?? new List<ITrainerHook>();
            Device = train.Device;
        }

        public TrainerOptions Options { get; }
        public Device Device { get; }
        public nn.Module<Tensor, Tensor> Model => _model;
        public IBatchSource TrainSource => _train;
        public IBatchSource? TestSource => _test;
        public int StepsPerEpoch => BatchSources.BatchCount(_train.Count, Options.BatchSize);
        public string? CheckpointPath => Options.OutputDirectory is null ? null : Path.Combine(Options.OutputDirectory, CheckpointFile);
        string? PreviousCheckpointPath => Options.OutputDirectory is null ? null : Path.Combine(Options.OutputDirectory, PreviousCheckpointFile);

        IOptimizer CreateOptimizer()
        {
            var parameters = _model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
            return Options.Optimizer is { } f
                ? f(parameters, Options) ?? throw new InvalidOperationException("TrainerOptions.Optimizer returned null.")
                : new MomentumSgd(parameters, Options.LearningRate, Options.Momentum, Options.WeightDecay);
        }

        string? ClassesJson() => _train.ClassNames is { } names ? JsonSerializer.Serialize(names) : null;

        public TrainResult Run(CancellationToken cancel = default)
        {
            var o = Options;
            using var optimizer = CreateOptimizer();
            LossFunction lossOf = o.Loss ?? ((output, target) => nn.functional.cross_entropy(output, target));
            var evaluator = o.Evaluator ?? TorchEvaluator.Instance;
            int startEpoch = 0, startStep = 0, bestEpoch = 0;
            double bestTop1 = double.NaN;
            double partialLoss = 0, partialCorrect = 0, partialSeen = 0;
            float[] partialStepLosses = Array.Empty<float>();
            var checkpointEvery = o.CheckpointIntervalOn(Device);
            var sinceCheckpoint = Stopwatch.StartNew();
            var history = new List<EpochMetrics>();
            int steps = StepsPerEpoch;
            IReadOnlyList<EpochMetrics>? restored = null;
            ReplaceBest(null);
            _completed.Clear();
            _saved = null;

            if (o.ResumeFrom is not null)
            {
                using var ckpt = Checkpoint.Load(o.ResumeFrom);
                var expected = o.ScheduleSettings();
                var differ = expected.Where(kv => !ckpt.Metadata.TryGetValue(kv.Key, out var v) || v != kv.Value)
                    .Select(kv => $"{kv.Key} {(ckpt.Metadata.TryGetValue(kv.Key, out var v) ? v : "unset")} in the checkpoint, {kv.Value} now").ToList();
                if (differ.Count > 0)
                    throw new InvalidOperationException($"Cannot resume '{o.ResumeFrom}' with another schedule: {string.Join("; ", differ)}.");
                if (ckpt.Metadata.TryGetValue(TrainCountKey, out var count) && count != _train.Count.ToString(CultureInfo.InvariantCulture))
                    throw new InvalidOperationException($"Cannot resume '{o.ResumeFrom}': its run trained on {count} examples, the training source holds {_train.Count}.");
                if (ClassesJson() is { } classes && ckpt.Metadata.TryGetValue(ClassesKey, out var saved) && saved != classes)
                    throw new InvalidOperationException($"Cannot resume '{o.ResumeFrom}': its classes {saved} differ from the training source's {classes}.");
                StateDict.Load(_model, ckpt.Model, null, $"checkpoint '{o.ResumeFrom}'");
                optimizer.LoadState(ckpt.Momentum);
                startEpoch = ckpt.Epoch; startStep = ckpt.Step;
                if (CheckpointPath is not null && Path.GetFullPath(o.ResumeFrom) == Path.GetFullPath(CheckpointPath)) _saved = (startEpoch, startStep);
                if (startStep < 0 || startStep > steps)
                    throw new InvalidOperationException($"Cannot resume '{o.ResumeFrom}': it stopped at step {startStep}, and an epoch of {_train.Count} examples in batches of {o.BatchSize} has {steps} steps.");
                bestTop1 = ckpt.BestTop1; bestEpoch = ckpt.BestEpoch;
                restored = RunHistory.Of(ckpt);
                if (ckpt.Best.Count > 0) ReplaceBest(Snapshot(ckpt.Best));
                partialLoss = ckpt.Double("partial_loss"); partialCorrect = ckpt.Double("partial_correct"); partialSeen = ckpt.Double("partial_seen");
                partialStepLosses = PartialStepLosses(ckpt, startStep, o.ResumeFrom);
            }

            foreach (var h in _hooks) h.OnStart(this, startEpoch, startStep);
            TrainResult Finish(TrainResult r)
            {
                ReplaceBest(null);
                if (r.Outcome == TrainOutcome.Completed && PreviousCheckpointPath is { } previous && File.Exists(previous)) File.Delete(previous);
                foreach (var h in _hooks) h.OnEnd(r);
                return r;
            }
            if (restored is not null)
            {
                // The checkpoint is the run's record: what a kill may have left behind it (best weights, metrics rows)
                // is written again from it.
                _completed.AddRange(restored);
                if (CheckpointPath is not null && _best is not null) WriteBestWeights(bestEpoch, bestTop1);
                foreach (var h in _hooks) h.OnResume(restored);
            }

            for (int epoch = startEpoch; epoch < o.Epochs; epoch++)
            {
                double lr = o.LearningRateAt(epoch);
                if (!double.IsFinite(lr) || lr < 0)
                    throw new InvalidOperationException($"TrainerOptions.LearningRateSchedule gave {lr.ToString(CultureInfo.InvariantCulture)} for epoch {epoch + 1}; a learning rate must be finite and ≥ 0.");
                optimizer.LearningRate = lr;
                BinaryModel.SetProgress(_model, epoch, o.Epochs);
                double parameter = BinaryModel.Layers(_model).Select(l => l.Layer.Estimator.Parameter).DefaultIfEmpty(double.NaN).First();
                _model.train();
                var clock = Stopwatch.StartNew();
                int firstStep = epoch == startEpoch ? startStep : 0;
                using var reader = _train.Open(BatchPass.Training(o.BatchSize, o.Seed, epoch, firstStep, o.Augment));
                using var lossSum = zeros(1, dtype: ScalarType.Float64, device: Device);
                using var correctSum = zeros(1, dtype: ScalarType.Float64, device: Device);
                using var stepLosses = zeros(steps, dtype: ScalarType.Float32, device: Device);
                double seen = 0;
                // The epoch's step losses from this step on (from 0 when a mid-epoch checkpoint recorded those before).
                int lossesFrom = firstStep;
                if (firstStep > 0)
                {
                    lossSum.fill_(partialLoss); correctSum.fill_(partialCorrect); seen = partialSeen;
                    if (partialStepLosses.Length == firstStep)
                    {
                        using var before = tensor(partialStepLosses, dtype: ScalarType.Float32);
                        stepLosses.narrow(0, 0, firstStep).copy_(before);
                        lossesFrom = 0;
                    }
                }
                foreach (var h in _hooks) h.OnEpochStart(epoch, firstStep, steps);
                for (int step = firstStep; step < steps; step++)
                {
                    if (cancel.IsCancellationRequested)
                    {
                        var (l, c) = (lossSum.cpu().item<double>(), correctSum.cpu().item<double>());
                        string msg;
                        if (!double.IsFinite(l))
                        {
                            using (var ran = stepLosses.narrow(0, firstStep, step - firstStep).to(ScalarType.Float64).cpu())
                                KeepLastGoodCheckpoint(epoch, firstStep, ran.data<double>().ToArray());
                            msg = $"Interrupted at epoch {epoch + 1}, step {step}; the loss was not finite, so the last good checkpoint was kept.";
                        }
                        else if (CheckpointPath is not null)
                        {
                            SaveCheckpoint(optimizer, epoch, step, bestTop1, bestEpoch, l, c, seen, stepLosses);
                            msg = $"Interrupted at epoch {epoch + 1}, step {step} of {steps}; saved {CheckpointPath} (resuming from it continues there).";
                        }
                        else msg = $"Interrupted at epoch {epoch + 1}, step {step} of {steps}; no output folder, nothing saved.";
                        return Finish(new TrainResult(TrainOutcome.Interrupted, epoch, bestTop1, bestEpoch, msg, history));
                    }
                    using (var scope = NewDisposeScope())
                    {
                        if (!reader.Next(out var x, out var y))
                            throw new InvalidOperationException($"The training source ended after {step} of {steps} batches in epoch {epoch + 1}.");
                        var output = _model.forward(x);
                        var loss = lossOf(output, y);
                        optimizer.ZeroGrad();
                        loss.backward();
                        optimizer.Step();
                        using (no_grad())
                        {
                            long b = y.shape[0];
                            lossSum.add_(loss.detach().to(ScalarType.Float64).mul(b));
                            stepLosses.narrow(0, step, 1).copy_(loss.detach().reshape(1));
                            correctSum.add_(output.argmax(1).eq(y).sum().to(ScalarType.Float64));
                            seen += b;
                        }
                    }
                    if (CheckpointPath is not null && sinceCheckpoint.Elapsed >= checkpointEvery)
                    {
                        // The step's state, so that a kill from here on costs at most the step in flight. After the
                        // last step this records "training done, evaluation pending" (step = steps).
                        using (NewDisposeScope())
                        {
                            double l = lossSum.cpu().item<double>();
                            if (double.IsFinite(l))
                                SaveCheckpoint(optimizer, epoch, step + 1, bestTop1, bestEpoch, l, correctSum.cpu().item<double>(), seen, stepLosses);
                        }
                        sinceCheckpoint.Restart();
                    }
                    foreach (var h in _hooks) h.OnStep(epoch, step, steps, o.BatchSize);
                }

                IReadOnlyList<LayerIndicators> layers = Array.Empty<LayerIndicators>();
                (double E, double S) avg = (double.NaN, double.NaN);
                if (o.Indicators)
                {
                    layers = EquilibriumIndicators.Measure(_model);
                    avg = EquilibriumIndicators.Average(layers);
                }
                double trainLoss = lossSum.cpu().item<double>() / seen;
                double trainTop1 = 100.0 * correctSum.cpu().item<double>() / seen;
                double[] stepLossValues;
                using (var ran = stepLosses.narrow(0, lossesFrom, steps - lossesFrom).to(ScalarType.Float64).cpu())
                    stepLossValues = ran.data<double>().ToArray();
                double trainSeconds = clock.Elapsed.TotalSeconds;
                if (!double.IsFinite(trainLoss))
                {
                    KeepLastGoodCheckpoint(epoch, lossesFrom, stepLossValues);
                    var msg = $"Stopped: the training loss became {trainLoss} in epoch {epoch + 1}. " +
                              (CheckpointPath is not null && File.Exists(CheckpointPath)
                                  ? $"The last good checkpoint, {CheckpointPath}, was kept."
                                  : "No good checkpoint had been written yet.") +
                              " Try a lower learning rate or a few epochs of warm-up.";
                    return Finish(new TrainResult(TrainOutcome.Diverged, epoch, bestTop1, bestEpoch, msg, history));
                }

                foreach (var h in _hooks) h.OnEvalStart(epoch);
                var evalClock = Stopwatch.StartNew();
                var eval = _test is null ? null : evaluator.Evaluate(_model, _test, o.EvalBatchSize);
                double testLoss = eval?.Loss ?? double.NaN, top1 = eval?.Top1 ?? double.NaN, top5 = eval?.Top5 ?? double.NaN;
                double evalSeconds = evalClock.Elapsed.TotalSeconds;
                bool improved = !double.IsNaN(top1) && (double.IsNaN(bestTop1) || top1 > bestTop1);
                if (improved) { bestTop1 = top1; bestEpoch = epoch + 1; }

                var metrics = new EpochMetrics
                {
                    Epoch = epoch + 1, Epochs = o.Epochs, LearningRate = lr, EstimatorParameter = parameter,
                    TrainLoss = trainLoss, TrainTop1 = trainTop1, TestLoss = testLoss, TestTop1 = top1, TestTop5 = top5,
                    BestTop1 = bestTop1, BestEpoch = bestEpoch, TrainSeconds = trainSeconds, EvalSeconds = evalSeconds,
                    ImagesPerSecond = (seen - (firstStep > 0 ? partialSeen : 0)) / Math.Max(trainSeconds, 1e-9),
                    EstimatingError = avg.E, GradientInstability = avg.S, Layers = layers, StepLosses = stepLossValues,
                };
                history.Add(metrics);
                CommitEpoch(optimizer, metrics, improved);
                sinceCheckpoint.Restart();
            }
            string done = $"Done: {o.Epochs} epoch{(o.Epochs == 1 ? "" : "s")}, " + (_test is null
                ? "no test source, so no test accuracy."
                : $"best top-1 {bestTop1.ToString("F2", CultureInfo.InvariantCulture)}% (epoch {bestEpoch}).");
            return Finish(new TrainResult(TrainOutcome.Completed, o.Epochs, bestTop1, bestEpoch, done, history));
        }

        /// <summary>
        /// The end of an epoch, one atomic step: the checkpoint (next epoch, step 0) is the commit record and holds
        /// everything the epoch produced: the model and optimizer state, the best epoch's weights and every completed
        /// epoch's metrics. It is written to a temporary file and renamed; only then come the files derived from it
        /// (<c>best.safetensors</c>, and the hooks' metrics files, TensorBoard, console), which a resumed run writes
        /// again from the checkpoint. A kill at any instant leaves either the previous commit or this one.
        /// </summary>
        void CommitEpoch(IOptimizer optimizer, EpochMetrics metrics, bool improved)
        {
            _completed.Add(metrics);
            if (improved) ReplaceBest(Snapshot(_model.state_dict()));
            if (CheckpointPath is not null)
            {
                SaveCheckpoint(optimizer, metrics.Epoch, 0, metrics.BestTop1, metrics.BestEpoch, 0, 0, 0, null);
                if (improved) WriteBestWeights(metrics.BestEpoch, metrics.BestTop1);
            }
            foreach (var h in _hooks) h.OnEpoch(metrics);
        }

        /// <summary>
        /// After a NaN or infinite loss: when the first such loss (<paramref name="losses"/>, the epoch's step losses from
        /// step <paramref name="from"/>) came from the very weights the checkpoint on disk holds, that checkpoint is not
        /// good (an update diverged just before it was written): the one before it is put back, or, when there is none,
        /// it is removed. Checkpoints are written only while the loss is finite, so the one before is good.
        /// </summary>
        void KeepLastGoodCheckpoint(int epoch, int from, IReadOnlyList<double> losses)
        {
            if (CheckpointPath is null || _saved is null) return;
            int bad = Enumerable.Range(0, losses.Count).FirstOrDefault(i => !double.IsFinite(losses[i]), -1);
            if (bad < 0 || _saved != (epoch, from + bad)) return;
            if (File.Exists(PreviousCheckpointPath)) File.Move(PreviousCheckpointPath!, CheckpointPath, overwrite: true);
            else File.Delete(CheckpointPath);
            _saved = null;
        }

        /// <summary>best.safetensors from the best epoch's weights, atomically.</summary>
        void WriteBestWeights(int bestEpoch, double bestTop1)
        {
            var meta = new Dictionary<string, string>
            {
                ["epoch"] = bestEpoch.ToString(CultureInfo.InvariantCulture),
                ["top1"] = bestTop1.ToString("R", CultureInfo.InvariantCulture),
            };
            if (ClassesJson() is { } classes) meta[ClassesKey] = classes;
            Checkpoint.WriteAtomically(Path.Combine(Options.OutputDirectory!, BestWeightsFile), s => Safetensors.Write(s, _best!, meta));
        }

        /// <summary>CPU copies of a model state (no tensor left in any dispose scope).</summary>
        static Dictionary<string, Tensor> Snapshot(IReadOnlyDictionary<string, Tensor> state)
        {
            var copy = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            using var scope = NewDisposeScope();
            foreach (var (k, v) in state) copy[k] = v.detach().cpu().clone().MoveToOuterDisposeScope();
            return copy;
        }

        void ReplaceBest(Dictionary<string, Tensor>? best)
        {
            if (_best is not null) foreach (var t in _best.Values) t.Dispose();
            _best = best;
        }

        void SaveCheckpoint(IOptimizer optimizer, int nextEpoch, int nextStep, double bestTop1, int bestEpoch, double loss, double correct, double seen, Tensor? stepLosses)
        {
            var meta = new Dictionary<string, string>(Options.ScheduleSettings());
            foreach (var (k, v) in Options.Tags) meta["tag." + k] = v;
            string F(double d) => d.ToString("R", CultureInfo.InvariantCulture);
            meta["epoch"] = nextEpoch.ToString(CultureInfo.InvariantCulture);
            meta["step"] = nextStep.ToString(CultureInfo.InvariantCulture);
            meta["best_top1"] = F(bestTop1);
            meta["best_epoch"] = bestEpoch.ToString(CultureInfo.InvariantCulture);
            meta["partial_loss"] = F(loss);
            meta["partial_correct"] = F(correct);
            meta["partial_seen"] = F(seen);
            if (stepLosses is not null && nextStep > 0)
            {
                using var done = stepLosses.narrow(0, 0, nextStep).cpu();
                meta[StepLossesKey] = string.Join(",", done.data<float>().ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
            }
            if (ClassesJson() is { } classes) meta[ClassesKey] = classes;
            meta[TrainCountKey] = _train.Count.ToString(CultureInfo.InvariantCulture);
            meta[RunHistory.Key] = RunHistory.Serialize(_completed);
            // The one it replaces is kept only when it is this run's (another run's, or one left from before, is not).
            var previous = _saved is null ? null : PreviousCheckpointPath;
            if (previous is null && PreviousCheckpointPath is { } stale && File.Exists(stale)) File.Delete(stale);
            Checkpoint.Save(CheckpointPath!, _model, optimizer, meta, _best, previous);
            _saved = (nextEpoch, nextStep);
        }

        /// <summary>Checkpoint metadata of a mid-epoch checkpoint: the losses of the epoch's steps before it, comma-separated.</summary>
        public const string StepLossesKey = "partial_step_losses";

        static float[] PartialStepLosses(Checkpoint ckpt, int step, string source)
        {
            if (step == 0) return Array.Empty<float>();
            if (!ckpt.Metadata.TryGetValue(StepLossesKey, out var text))
                return Array.Empty<float>(); // an older checkpoint: those steps' losses were not recorded
            var parts = text.Split(',');
            var values = new float[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                    throw new InvalidDataException($"Checkpoint '{source}': metadata '{StepLossesKey}' value {i} is '{parts[i]}', not a number.");
            if (values.Length != step)
                throw new InvalidDataException($"Checkpoint '{source}': metadata '{StepLossesKey}' holds {values.Length} losses for {step} steps.");
            return values;
        }

        /// <summary>The class names a checkpoint's metadata records (<see cref="ClassesKey"/>), or null.</summary>
        public static IReadOnlyList<string>? ClassNamesOf(IReadOnlyDictionary<string, string> metadata) =>
            metadata.TryGetValue(ClassesKey, out var json) ? JsonSerializer.Deserialize<string[]>(json) : null;

        /// <summary>Loss, top-1 and top-5 (percent) of <paramref name="model"/> on <paramref name="data"/> in eval mode; one read at the end.</summary>
        public static (double Loss, double Top1, double Top5) Evaluate(nn.Module<Tensor, Tensor> model, IBatchSource data, int batchSize = 250)
        {
            var r = TorchEvaluator.Instance.Evaluate(model, data, batchSize);
            return (r.Loss, r.Top1, r.Top5);
        }
    }
}

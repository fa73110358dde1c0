using System;
using System.Collections.Generic;
using System.Globalization;
using ReSTE.Runtime.Schedules;

namespace ReSTE.Runtime.Training
{
    /// <summary>
    /// What a training run does. The defaults are the reference's CIFAR-10 recipe except the length: SGD (lr 0.1,
    /// momentum 0.9, weight decay 1e-4), cosine decay without warm-up, cross-entropy, batch 256, 10 epochs (the
    /// paper trains 400 on CIFAR-10 and 250 on ImageNet).
    /// </summary>
    public sealed record TrainerOptions
    {
        public int Epochs { get; init; } = 10;
        public int BatchSize { get; init; } = 256;
        public int EvalBatchSize { get; init; } = 250;
        public double LearningRate { get; init; } = 0.1;
        public double Momentum { get; init; } = 0.9;
        public double WeightDecay { get; init; } = 1e-4;
        /// <summary>Epochs of linear warm-up before the cosine decay (0: none; the paper's option is 5).</summary>
        public int WarmupEpochs { get; init; }
        public long Seed { get; init; }
        /// <summary>Training batches get the source's augmentation (off: its evaluation transform, still shuffled).</summary>
        public bool Augment { get; init; } = true;
        /// <summary>Measure the indicators e and s of every binary layer once per epoch (off: no cost).</summary>
        public bool Indicators { get; init; }
        /// <summary>Where checkpoints go; null: none are written.</summary>
        public string? OutputDirectory { get; init; }
        /// <summary>
        /// How often the checkpoint is also written during an epoch, at the next step boundary, so that a kill (SIGKILL,
        /// power loss) costs at most the work since then. <see cref="TimeSpan.Zero"/>: after every step (a kill costs
        /// only the step in flight); null (the default): after every step when training on the CPU, where a step takes
        /// far longer than the write, and every 60 seconds on other devices, where writing the state each step would
        /// synchronise the host and the device every step. The checkpoint is always written at each epoch's end and when
        /// a run is cancelled.
        /// </summary>
        public TimeSpan? CheckpointInterval { get; init; }
        /// <summary>A checkpoint to continue from (the same schedule, from the saved epoch and step).</summary>
        public string? ResumeFrom { get; init; }
        /// <summary>Free-form settings recorded in checkpoints (model name, estimator, …) for tools that resume.</summary>
        public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

        /// <summary>The training loss (null: cross-entropy).</summary>
        public LossFunction? Loss { get; init; }
        /// <summary>The optimiser (null: <see cref="MomentumSgd"/> with <see cref="LearningRate"/>, <see cref="Momentum"/>, <see cref="WeightDecay"/>).</summary>
        public OptimizerFactory? Optimizer { get; init; }
        /// <summary>The learning rate per epoch (null: <see cref="WarmupEpochs"/> of linear warm-up, then cosine decay to 0).</summary>
        public LearningRateFunction? LearningRateSchedule { get; init; }
        /// <summary>The evaluation after each epoch (null: <see cref="TorchEvaluator"/>, the model's eval-mode forward).</summary>
        public IEvaluator? Evaluator { get; init; }

        /// <summary>Checks the values; messages name the option (<c>TrainerOptions.Epochs</c>, …) and the value.</summary>
        public void Validate()
        {
            if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, $"TrainerOptions.Epochs must be ≥ 1, not {Epochs}.");
            if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"TrainerOptions.BatchSize must be ≥ 1, not {BatchSize}.");
            if (EvalBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(EvalBatchSize), EvalBatchSize, $"TrainerOptions.EvalBatchSize must be ≥ 1, not {EvalBatchSize}.");
            if (WarmupEpochs < 0 || WarmupEpochs > 0 && WarmupEpochs >= Epochs)
                throw new ArgumentOutOfRangeException(nameof(WarmupEpochs), WarmupEpochs, $"TrainerOptions.WarmupEpochs must lie in [0, {Epochs}) for {Epochs} epochs, not {WarmupEpochs}.");
            if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
                throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, $"TrainerOptions.LearningRate must be a finite number > 0, not {LearningRate.ToString(CultureInfo.InvariantCulture)}.");
            if (!(Momentum >= 0) || Momentum >= 1)
                throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, $"TrainerOptions.Momentum must lie in [0, 1), not {Momentum.ToString(CultureInfo.InvariantCulture)}.");
            if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
                throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, $"TrainerOptions.WeightDecay must be a finite number ≥ 0, not {WeightDecay.ToString(CultureInfo.InvariantCulture)}.");
            if (CheckpointInterval is { } every && every < TimeSpan.Zero)
                throw new ArgumentOutOfRangeException(nameof(CheckpointInterval), every, $"TrainerOptions.CheckpointInterval must be ≥ 0 (TimeSpan.Zero: every step) or null, not {every}.");
            if (ResumeFrom is not null && ResumeFrom.Length == 0) throw new ArgumentException("TrainerOptions.ResumeFrom is empty; give a checkpoint path or null.", nameof(ResumeFrom));
            if (OutputDirectory is not null && OutputDirectory.Length == 0) throw new ArgumentException("TrainerOptions.OutputDirectory is empty; give a folder or null.", nameof(OutputDirectory));
        }

        /// <summary>The interval <see cref="CheckpointInterval"/> stands for on <paramref name="device"/>.</summary>
        public TimeSpan CheckpointIntervalOn(TorchSharp.torch.Device device) =>
            CheckpointInterval ?? (device.type == TorchSharp.DeviceType.CPU ? TimeSpan.Zero : TimeSpan.FromSeconds(60));

        /// <summary>The learning rate of <paramref name="epoch"/> under these options.</summary>
        public double LearningRateAt(int epoch) => LearningRateSchedule is { } f
            ? f(epoch, Epochs, LearningRate)
            : Schedules.LearningRateSchedule.At(epoch, Epochs, LearningRate, WarmupEpochs);

        /// <summary>The settings that fix the schedule: a resumed run must have the same.</summary>
        internal IReadOnlyDictionary<string, string> ScheduleSettings()
        {
            var s = new Dictionary<string, string>
            {
                ["epochs"] = Epochs.ToString(CultureInfo.InvariantCulture),
                ["batch"] = BatchSize.ToString(CultureInfo.InvariantCulture),
                ["lr"] = LearningRate.ToString("R", CultureInfo.InvariantCulture),
                ["momentum"] = Momentum.ToString("R", CultureInfo.InvariantCulture),
                ["weight_decay"] = WeightDecay.ToString("R", CultureInfo.InvariantCulture),
                ["warmup"] = WarmupEpochs.ToString(CultureInfo.InvariantCulture),
                ["seed"] = Seed.ToString(CultureInfo.InvariantCulture),
                ["augment"] = Augment ? "true" : "false",
            };
            // Custom pieces cannot be compared; recorded so that a default run does not resume a custom one unnoticed.
            if (Loss is not null) s["loss"] = "custom";
            if (Optimizer is not null) s["optimizer"] = "custom";
            if (LearningRateSchedule is not null) s["lr_schedule"] = "custom";
            return s;
        }
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;

namespace ReSTE.Runtime.Training
{
    /// <summary>What a training run does. The defaults are the reference's CIFAR-10 settings.</summary>
    public sealed record TrainerOptions
    {
        public int Epochs { get; init; } = 400;
        public int BatchSize { get; init; } = 256;
        public int EvalBatchSize { get; init; } = 250;
        public double LearningRate { get; init; } = 0.1;
        public double Momentum { get; init; } = 0.9;
        public double WeightDecay { get; init; } = 1e-4;
        /// <summary>Epochs of linear warm-up before the cosine decay (0: none; the paper's option is 5).</summary>
        public int WarmupEpochs { get; init; }
        public long Seed { get; init; }
        /// <summary>Random crop and flip on the training batches.</summary>
        public bool Augment { get; init; } = true;
        /// <summary>Measure the indicators e and s of every binary layer once per epoch (off: no cost).</summary>
        public bool Indicators { get; init; }
        /// <summary>Where checkpoints go; null: none are written.</summary>
        public string? OutputDirectory { get; init; }
        /// <summary>A checkpoint to continue from (the same schedule, from the saved epoch and step).</summary>
        public string? ResumeFrom { get; init; }
        /// <summary>Free-form settings recorded in checkpoints (model name, estimator, …) for tools that resume.</summary>
        public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

        public void Validate()
        {
            if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "--epochs must be ≥ 1.");
            if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "--batch must be ≥ 1.");
            if (EvalBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(EvalBatchSize), EvalBatchSize, "The evaluation batch must be ≥ 1.");
            if (WarmupEpochs < 0 || WarmupEpochs > 0 && WarmupEpochs >= Epochs)
                throw new ArgumentOutOfRangeException(nameof(WarmupEpochs), WarmupEpochs, $"--warmup must lie in [0, {Epochs}) for {Epochs} epochs.");
            if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be > 0.");
        }

        /// <summary>The settings that fix the schedule: a resumed run must have the same.</summary>
        internal IReadOnlyDictionary<string, string> ScheduleSettings() => new Dictionary<string, string>
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
    }
}

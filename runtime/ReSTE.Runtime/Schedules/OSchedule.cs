using System;

namespace ReSTE.Runtime.Schedules
{
    /// <summary>The schedule of the estimator parameter o, set once per epoch (epoch counted from 0).</summary>
    public static class OSchedule
    {
        /// <summary>Training progress epoch / epochs in [0, 1]; the checks name the offending value.</summary>
        public static double Progress(int epoch, int epochs)
        {
            if (epochs <= 0) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "The number of epochs must be ≥ 1.");
            if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "The epoch must be ≥ 0.");
            return Math.Min(1.0, (double)epoch / epochs);
        }

        /// <summary>
        /// o at <paramref name="epoch"/>: Cosine, the reference's, o = 1 + (o_end − 1)(1 − cos(π/2 · epoch / E));
        /// Linear, o = 1 + (o_end − 1) · epoch / E; Constant, o = o_end.
        /// </summary>
        public static double At(ScheduleKind kind, int epoch, int epochs, double oEnd)
        {
            double p = Progress(epoch, epochs);
            return kind switch
            {
                ScheduleKind.Cosine => 1 + (oEnd - 1) * (1 - Math.Cos(Math.PI / 2 * p)),
                ScheduleKind.Linear => 1 + (oEnd - 1) * p,
                ScheduleKind.Constant => oEnd,
                _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown schedule."),
            };
        }
    }

    /// <summary>The learning rate: an optional linear warm-up, then cosine decay to 0, in closed form per epoch.</summary>
    public static class LearningRateSchedule
    {
        /// <summary>
        /// lr at <paramref name="epoch"/> (from 0) of <paramref name="epochs"/>: during the first
        /// <paramref name="warmupEpochs"/> epochs, baseLr·(epoch + 1)/warmup; afterwards
        /// baseLr·½(1 + cos(π·(epoch − warmup)/(epochs − warmup))).
        /// </summary>
        public static double At(int epoch, int epochs, double baseLr, int warmupEpochs = 0)
        {
            if (epochs <= 0) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "The number of epochs must be ≥ 1.");
            if (warmupEpochs < 0 || warmupEpochs >= epochs && warmupEpochs > 0)
                throw new ArgumentOutOfRangeException(nameof(warmupEpochs), warmupEpochs, $"Warm-up epochs must lie in [0, {epochs}).");
            if (epoch < warmupEpochs) return baseLr * (epoch + 1) / warmupEpochs;
            double p = (double)(epoch - warmupEpochs) / (epochs - warmupEpochs);
            return baseLr * 0.5 * (1 + Math.Cos(Math.PI * p));
        }
    }
}

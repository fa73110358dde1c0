using System;
using System.Collections.Generic;
using System.Linq;

namespace ReSTE.Reports
{
    /// <summary>One binary layer's indicators at the end of one epoch: e (estimating error) and s (gradient instability).</summary>
    public sealed record LayerValue(string Layer, double EstimatingError, double GradientInstability);

    /// <summary>
    /// One epoch of one run, numbered as its producer numbers it (the CLI: from 1, as the trainer prints it;
    /// increasing within a run): the estimator's parameter during it (o for ReSTE), the mean training loss, the validation
    /// top-1 (percent), the epoch's e and s (aggregated over layers as the run's <see cref="RunRecord.Definition"/>
    /// says) and the per-layer values they came from.
    /// </summary>
    public sealed record EpochRecord(int Epoch, double Parameter, double TrainLoss, double Top1, double EstimatingError,
        double GradientInstability, IReadOnlyList<LayerValue> Layers);

    /// <summary>
    /// A histogram over [<see cref="Min"/>, <see cref="Max"/>] in equal bins; <see cref="Counts"/>[i] counts the values
    /// in bin i (the last bin includes <see cref="Max"/>).
    /// </summary>
    public sealed record Histogram(double Min, double Max, IReadOnlyList<long> Counts)
    {
        public double BinWidth => Counts.Count == 0 ? 0 : (Max - Min) / Counts.Count;
        public long Total => Counts.Sum();
        public double Center(int bin) => Min + (bin + 0.5) * BinWidth;
        public double[] Centers() => Enumerable.Range(0, Counts.Count).Select(Center).ToArray();

        /// <summary>The fraction of all values in each bin (sums to 1; all zeros when the histogram is empty).</summary>
        public double[] Fractions()
        {
            long total = Total;
            return Counts.Select(c => total == 0 ? 0.0 : (double)c / total).ToArray();
        }

        /// <summary>Counts the values into <paramref name="bins"/> equal bins over [min, max] (values outside are dropped).</summary>
        public static Histogram Of(IEnumerable<double> values, int bins, double min, double max)
        {
            if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), bins, "A histogram needs at least one bin.");
            if (!(max > min)) throw new ArgumentException($"Histogram range [{min}, {max}] is empty.", nameof(max));
            var counts = new long[bins];
            double width = (max - min) / bins;
            foreach (var v in values)
            {
                if (double.IsNaN(v) || v < min || v > max) continue;
                int i = Math.Min(bins - 1, (int)((v - min) / width));
                counts[i]++;
            }
            return new Histogram(min, max, counts);
        }
    }

    /// <summary>
    /// Everything one training run reports: its name, estimator and o_end, the indicator definition its e and s follow
    /// ("current" or "reference", see <c>ReSTE.Runtime.Indicators.IndicatorDefinition</c>), per-epoch records, the
    /// training loss of every step, the run's summary e and s, and, at the end of training, the distribution of the
    /// per-weight estimating error |sign(w) − f(w)| and of the weight gradients over all binary layers (the runtime's
    /// IndicatorRecorder histograms log10|g| of the non-zero gradients).
    /// </summary>
    public sealed record RunRecord(
        string Name,
        string Estimator,
        double OEnd,
        string Definition,
        IReadOnlyList<EpochRecord> Epochs,
        IReadOnlyList<double> StepLosses,
        double SummaryEstimatingError,
        double SummaryGradientInstability,
        Histogram? ErrorDistribution = null,
        Histogram? GradientDistribution = null)
    {
        /// <summary>The best validation top-1 over the epochs (NaN for a run without epochs).</summary>
        public double BestTop1 => Epochs.Count == 0 ? double.NaN : Epochs.Max(e => e.Top1);

        /// <summary>The first epoch that reached <see cref="BestTop1"/> (−1 for a run without epochs).</summary>
        public int BestEpoch
        {
            get
            {
                if (Epochs.Count == 0) return -1;
                double best = BestTop1;
                return Epochs.First(e => e.Top1 == best).Epoch;
            }
        }

        /// <summary>The layers' names, in the order of the first epoch.</summary>
        public IReadOnlyList<string> LayerNames => Epochs.Count == 0 ? Array.Empty<string>() : Epochs[0].Layers.Select(l => l.Layer).ToArray();
    }

    /// <summary>What one run is asked to be: its name, estimator, o_end and the seed that fixes its initialisation and data order.</summary>
    public sealed record RunSpec(string Name, string Estimator, double OEnd, int Seed);

    /// <summary>
    /// Trains one run as <paramref name="spec"/> says and reports it. Implementations must seed everything random
    /// (initialisation, data order, augmentation) from <see cref="RunSpec.Seed"/>, so that runs of one experiment differ
    /// only in what the experiment varies.
    /// </summary>
    public delegate RunRecord TrainOneRun(RunSpec spec);

    /// <summary>A sweep over o_end or a comparison of estimators: the runs, in the order they were asked for.</summary>
    public sealed record ExperimentResult(ExperimentKind Kind, IReadOnlyList<RunRecord> Runs);

    public enum ExperimentKind
    {
        /// <summary>One estimator (ReSTE) trained at several o_end.</summary>
        Sweep,
        /// <summary>Several estimators trained with one schedule, seed and data order.</summary>
        Compare,
    }
}

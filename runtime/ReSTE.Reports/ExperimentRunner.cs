using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace ReSTE.Reports
{
    /// <summary>
    /// Runs the experiments of the paper's Sec. 4 through a <see cref="TrainOneRun"/> delegate: a sweep trains one
    /// estimator at each o_end; a comparison trains each estimator once. Every run gets the same seed, so initialisation
    /// and data order are the same across runs. The runner checks what comes back (the run it asked for, epochs in
    /// order) so that a table never mixes up runs.
    /// </summary>
    public static class ExperimentRunner
    {
        /// <summary>The paper's o_end values for Fig. 4.</summary>
        public static readonly IReadOnlyList<double> DefaultOEnds = new[] { 1.0, 2, 3, 5, 10 };

        /// <summary>The estimators of the paper's Table 3, in its order.</summary>
        public static readonly IReadOnlyList<string> DefaultEstimators = new[] { "STE", "DSQ", "EDE", "FDA", "RBNN", "ReSTE" };

        /// <summary>Trains <paramref name="estimator"/> once per o_end in <paramref name="oEnds"/>, all with <paramref name="seed"/>.</summary>
        public static ExperimentResult Sweep(IReadOnlyList<double> oEnds, TrainOneRun train, int seed, string estimator = "ReSTE",
            Action<RunRecord>? onRun = null)
        {
            ArgumentNullException.ThrowIfNull(train);
            if (oEnds.Count == 0) throw new ArgumentException("A sweep needs at least one o_end.", nameof(oEnds));
            foreach (var o in oEnds)
                if (double.IsNaN(o) || double.IsInfinity(o) || o < 1)
                    throw new ArgumentException($"o_end = {Format(o)} must be a finite number ≥ 1.", nameof(oEnds));
            if (oEnds.Distinct().Count() != oEnds.Count) throw new ArgumentException("The o_end values must be distinct.", nameof(oEnds));

            var runs = new List<RunRecord>();
            foreach (var o in oEnds)
            {
                var spec = new RunSpec($"{estimator}-o{Format(o)}", estimator, o, seed);
                var run = Check(spec, train(spec));
                runs.Add(run);
                onRun?.Invoke(run);
            }
            return new ExperimentResult(ExperimentKind.Sweep, runs);
        }

        /// <summary>Trains each of <paramref name="estimators"/> once with o_end <paramref name="oEnd"/> (used by ReSTE) and <paramref name="seed"/>.</summary>
        public static ExperimentResult Compare(IReadOnlyList<string> estimators, TrainOneRun train, int seed, double oEnd = 3,
            Action<RunRecord>? onRun = null)
        {
            ArgumentNullException.ThrowIfNull(train);
            if (estimators.Count == 0) throw new ArgumentException("A comparison needs at least one estimator.", nameof(estimators));
            if (estimators.Distinct(StringComparer.OrdinalIgnoreCase).Count() != estimators.Count)
                throw new ArgumentException("The estimators must be distinct.", nameof(estimators));

            var runs = new List<RunRecord>();
            foreach (var name in estimators)
            {
                var spec = new RunSpec(name, name, oEnd, seed);
                var run = Check(spec, train(spec));
                runs.Add(run);
                onRun?.Invoke(run);
            }
            return new ExperimentResult(ExperimentKind.Compare, runs);
        }

        static RunRecord Check(RunSpec spec, RunRecord? run)
        {
            if (run is null) throw new InvalidOperationException($"Run '{spec.Name}': the trainer returned no record.");
            if (run.Name != spec.Name || !string.Equals(run.Estimator, spec.Estimator, StringComparison.OrdinalIgnoreCase) || run.OEnd != spec.OEnd)
                throw new InvalidOperationException(
                    $"Run '{spec.Name}': the trainer returned run '{run.Name}' ({run.Estimator}, o_end {Format(run.OEnd)}) instead.");
            if (run.Epochs.Count == 0) throw new InvalidOperationException($"Run '{spec.Name}': the trainer returned no epochs.");
            for (int i = 1; i < run.Epochs.Count; i++)
                if (run.Epochs[i].Epoch <= run.Epochs[i - 1].Epoch)
                    throw new InvalidOperationException($"Run '{spec.Name}': epochs are not in increasing order at position {i}.");
            return run;
        }

        internal static string Format(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
    }
}

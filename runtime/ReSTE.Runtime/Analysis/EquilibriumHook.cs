using System;
using System.Collections.Generic;
using ReSTE.Runtime.Indicators;
using ReSTE.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Analysis
{
    /// <summary>One epoch as the equilibrium analysis sees it: the trainer's numbers and the indicators recorded.</summary>
    /// <param name="Epoch">Counted from 0.</param>
    /// <param name="Parameter">The estimator's parameter during the epoch (o for ReSTE).</param>
    /// <param name="TrainLoss">Mean training loss over the epoch.</param>
    /// <param name="Top1">Test top-1 (percent), NaN without a test set.</param>
    /// <param name="Indicators">e and s of the epoch, per layer and aggregated.</param>
    public sealed record AnalysedEpoch(int Epoch, double Parameter, double TrainLoss, double Top1, EpochIndicators Indicators);

    /// <summary>
    /// A <see cref="ITrainerHook"/> that records the equilibrium indicators of a <see cref="Trainer"/> run under either
    /// <see cref="IndicatorDefinition"/>, independently of <see cref="TrainerOptions.Indicators"/>: it measures e and s of
    /// every binary layer after the last training step of each epoch (before evaluation, with that step's gradients),
    /// and at the end of the run the histograms of Fig. 5 (per-weight estimating error and weight gradients).
    /// </summary>
    public sealed class EquilibriumHook : ITrainerHook
    {
        readonly List<AnalysedEpoch> _epochs = new();
        readonly List<double> _stepLosses = new();
        nn.Module? _model;

        public EquilibriumHook(IndicatorDefinition definition, double oEnd, int histogramBins = 60)
        {
            if (histogramBins < 1) throw new ArgumentOutOfRangeException(nameof(histogramBins), histogramBins, "A histogram needs at least one bin.");
            Recorder = new IndicatorRecorder(definition, oEnd);
            HistogramBins = histogramBins;
        }

        public IndicatorRecorder Recorder { get; }
        public int HistogramBins { get; }
        public IReadOnlyList<AnalysedEpoch> Epochs => _epochs;
        /// <summary>The training loss of every step, in order, as the trainer reported them per epoch.</summary>
        public IReadOnlyList<double> StepLosses => _stepLosses;
        /// <summary>The histograms taken when the run ended (null before, or when it ended before any step).</summary>
        public (ValueHistogram Error, ValueHistogram? Gradient)? Distributions { get; private set; }
        /// <summary>The run's summary e and s (<see cref="IndicatorRecorder.Summary"/>).</summary>
        public (double EstimatingError, double GradientInstability) Summary => Recorder.Summary();

        public void OnStart(Trainer trainer, int startEpoch, int startStep) => _model = trainer.Model;

        public void OnEvalStart(int epoch)
        {
            if (_model is null) throw new InvalidOperationException("EquilibriumHook: OnEvalStart before OnStart.");
            Recorder.Observe(_model);
        }

        public void OnEpoch(EpochMetrics metrics)
        {
            int epoch = metrics.Epoch - 1; // the trainer counts epochs from 1 in its metrics
            var indicators = Recorder.EndEpoch(epoch, metrics.EstimatorParameter);
            _epochs.Add(new AnalysedEpoch(epoch, metrics.EstimatorParameter, metrics.TrainLoss, metrics.TestTop1, indicators));
            _stepLosses.AddRange(metrics.StepLosses);
        }

        public void OnEnd(TrainResult result)
        {
            if (_model is not null && _epochs.Count > 0) Distributions = Recorder.Distributions(_model, HistogramBins);
        }
    }
}

using System;
using System.Collections.Generic;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Indicators;
using ReSTE.Runtime.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Analysis
{
    /// <summary>One epoch's indicators: the parameter during it, the per-layer values, and the epoch's e and s.</summary>
    public sealed record EpochIndicators(int Epoch, double Parameter, IReadOnlyList<LayerIndicators> Layers,
        double EstimatingError, double GradientInstability);

    /// <summary>A histogram of values over [Min, Max] in equal bins (the last includes Max).</summary>
    public sealed record ValueHistogram(double Min, double Max, long[] Counts);

    /// <summary>
    /// Records the equilibrium indicators of a training run under one <see cref="IndicatorDefinition"/>: call
    /// <see cref="Observe"/> after the training steps (the last call of an epoch is the one kept, as in the reference,
    /// which measures after every step and keeps the epoch's last), then <see cref="EndEpoch"/> once per epoch. At the
    /// end, <see cref="Summary"/> sums the run up and <see cref="Distributions"/> takes the histograms of Fig. 5.
    /// </summary>
    public sealed class IndicatorRecorder
    {
        readonly List<EpochIndicators> _epochs = new();
        IReadOnlyList<LayerIndicators>? _last;

        /// <param name="definition">How e and s are measured and summed up.</param>
        /// <param name="oEnd">The run's final o (used by <see cref="IndicatorDefinition.Reference"/>, which measures e with it).</param>
        public IndicatorRecorder(IndicatorDefinition definition, double oEnd)
        {
            if (!Enum.IsDefined(definition)) throw new ArgumentOutOfRangeException(nameof(definition), definition, "Unknown indicator definition.");
            EstimatorGuard.Finite(oEnd, "oEnd", "IndicatorRecorder");
            if (oEnd < 1) throw new ArgumentException($"IndicatorRecorder: o_end = {oEnd} must be ≥ 1.", nameof(oEnd));
            Definition = definition;
            OEnd = oEnd;
        }

        public IndicatorDefinition Definition { get; }
        public double OEnd { get; }
        public IReadOnlyList<EpochIndicators> Epochs => _epochs;

        /// <summary>Measures every binary layer of <paramref name="model"/> now (after backward, so that gradients are there).</summary>
        public IReadOnlyList<LayerIndicators> Observe(nn.Module model)
        {
            _last = IndicatorDefinitions.Measure(model, Definition, OEnd);
            return _last;
        }

        /// <summary>Closes epoch <paramref name="epoch"/> with the last observation; <paramref name="parameter"/> is the estimator's parameter during it.</summary>
        public EpochIndicators EndEpoch(int epoch, double parameter)
        {
            if (_last is null) throw new InvalidOperationException($"IndicatorRecorder: epoch {epoch} ended without an observation; call Observe after a training step.");
            if (_epochs.Count > 0 && epoch <= _epochs[^1].Epoch)
                throw new InvalidOperationException($"IndicatorRecorder: epoch {epoch} ended after epoch {_epochs[^1].Epoch}.");
            var (e, s) = IndicatorDefinitions.Epoch(_last, Definition);
            var record = new EpochIndicators(epoch, parameter, _last, e, s);
            _epochs.Add(record);
            _last = null;
            return record;
        }

        /// <summary>The run's e and s (see <see cref="IndicatorDefinition"/>).</summary>
        public (double EstimatingError, double GradientInstability) Summary()
        {
            var values = new List<(double, double)>(_epochs.Count);
            foreach (var e in _epochs) values.Add((e.EstimatingError, e.GradientInstability));
            return IndicatorDefinitions.Run(values, Definition);
        }

        /// <summary>
        /// Histograms over all binary layers of <paramref name="model"/>: the per-weight estimating error
        /// |sign(w) − f(w)| (f as the definition says: the layer's estimator now, or ReSTE at o_end) over [0, max], and
        /// the magnitude of the non-zero weight gradients on a log scale, log10|g|, over [min, max] of log10|g| (null when
        /// no layer has a non-zero gradient). Gradients span orders of magnitude and their spread is what s measures: on
        /// a linear scale a few large ones squeeze every other run into one bin. Zero gradients (ReSTE's |w| &gt; t) have
        /// no logarithm and are left out.
        /// </summary>
        public (ValueHistogram Error, ValueHistogram? Gradient) Distributions(nn.Module model, int bins = 60)
        {
            if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), bins, "A histogram needs at least one bin.");
            using var scope = NewDisposeScope();
            using var noGrad = torch.no_grad();
            var errors = new List<Tensor>();
            var grads = new List<Tensor>();
            foreach (var (_, layer) in BinaryModel.Layers(model))
            {
                var w = layer.LatentWeight.detach().flatten().to_type(ScalarType.Float64);
                var f = Definition == IndicatorDefinition.Current ? layer.Estimator.Approximate(w) : ReSTEEstimator.Approximate(w, OEnd);
                errors.Add(w.sign().sub(f).abs_().cpu());
                var g = layer.LatentWeight.grad;
                if (g is not null) grads.Add(g.detach().flatten().to_type(ScalarType.Float64).cpu());
            }
            if (errors.Count == 0) throw new InvalidOperationException("IndicatorRecorder: the model has no binary layers.");
            var error = Histogram(torch.cat(errors), bins, symmetric: false);
            ValueHistogram? gradient = null;
            if (grads.Count > 0)
            {
                var magnitude = torch.cat(grads).abs_();
                var nonZero = magnitude.masked_select(magnitude.gt(0));
                if (nonZero.numel() > 0) gradient = LogHistogram(nonZero.log10_(), bins);
            }
            return (error, gradient);
        }

        static ValueHistogram LogHistogram(Tensor logValues, int bins)
        {
            double min = logValues.min().item<double>(), max = logValues.max().item<double>();
            if (!(max > min)) { min -= 0.5; max += 0.5; } // one value: a unit range around it
            return Bin(logValues, bins, min, max);
        }

        static ValueHistogram Histogram(Tensor values, int bins, bool symmetric)
        {
            double max = values.abs().max().item<double>();
            if (!(max > 0)) max = 1e-12; // all zeros: one tiny range, every value in the first (or middle) bin
            double min = symmetric ? -max : 0;
            return Bin(values, bins, min, max);
        }

        static ValueHistogram Bin(Tensor values, int bins, double min, double max)
        {
            var counts = new long[bins];
            double width = (max - min) / bins;
            var index = values.sub(min).div_(width).floor_().clamp_(0, bins - 1).to_type(ScalarType.Int64);
            var bincount = index.bincount(null, bins);
            var data = bincount.data<long>();
            for (int i = 0; i < bins; i++) counts[i] = data[i];
            return new ValueHistogram(min, max, counts);
        }
    }
}

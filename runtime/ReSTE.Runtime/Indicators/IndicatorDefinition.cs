using System;
using System.Collections.Generic;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Indicators
{
    /// <summary>
    /// How the equilibrium indicators are measured and summed up. Both read the latent weights w of every binary layer
    /// and their gradient g after a training step (the last step of each epoch).
    /// </summary>
    public enum IndicatorDefinition
    {
        /// <summary>
        /// This library's definition (the default). Per layer, e = ‖sign(w) − f(w)‖₂ with f the layer's own estimator at
        /// its <em>current</em> parameter (o of this epoch for ReSTE, t of this epoch for EDE, …) and s = var(|g|)
        /// (unbiased). An epoch's e and s are the <em>means</em> over layers; a run's are the means over epochs.
        /// e then measures what the estimator really approximates during training, and e and s are comparable across
        /// models with different numbers of layers and across runs of different lengths.
        /// </summary>
        Current,

        /// <summary>
        /// The reference code's definition (DravenALG/ReSTE, <c>utils/tools.py</c> <c>get_fitting_error</c> and
        /// <c>get_stability_var</c>, summed up in <c>main.py</c>). Per layer, e = ‖sign(w) − w_o‖₂ with w_o =
        /// sign(w)|w|^(1/o_end), ReSTE's power function at the run's <em>final</em> o_end whatever the current o and
        /// whatever the estimator; s = var(|g|) (unbiased). An epoch's e and s are the <em>sums</em> over layers; a
        /// run's e is the mean over epochs and its s the <em>sum</em> over epochs (the reference divides the total
        /// estimating error by the number of epochs but not the total stability).
        /// </summary>
        Reference,
    }

    /// <summary>The indicators under either <see cref="IndicatorDefinition"/>: measuring, and summing up per epoch and per run.</summary>
    public static class IndicatorDefinitions
    {
        /// <summary>The name written to reports: "current" or "reference".</summary>
        public static string Name(IndicatorDefinition definition) => definition switch
        {
            IndicatorDefinition.Current => "current",
            IndicatorDefinition.Reference => "reference",
            _ => throw new ArgumentOutOfRangeException(nameof(definition), definition, "Unknown indicator definition."),
        };

        /// <summary>Parses "current" or "reference" (case-insensitive); the error names the valid values.</summary>
        public static IndicatorDefinition Parse(string text, string source = "--indicators")
        {
            if (string.Equals(text, "current", StringComparison.OrdinalIgnoreCase)) return IndicatorDefinition.Current;
            if (string.Equals(text, "reference", StringComparison.OrdinalIgnoreCase)) return IndicatorDefinition.Reference;
            throw new ArgumentException($"{source}: unknown indicator definition '{text}'; expected 'current' or 'reference'.");
        }

        /// <summary>The reference's e of one weight tensor: ‖sign(z) − sign(z)|z|^(1/o_end)‖₂, as a 0-dim tensor.</summary>
        public static Tensor EstimatingErrorAtOEnd(Tensor z, double oEnd)
        {
            EstimatorGuard.Finite(oEnd, "oEnd", "Reference estimating error");
            if (oEnd < 1) throw new ArgumentException($"Reference estimating error: o_end = {oEnd} must be ≥ 1.", nameof(oEnd));
            using var scope = NewDisposeScope();
            return EquilibriumIndicators.EstimatingError(z, ReSTEEstimator.Approximate(z, oEnd)).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// e and s of every binary layer of <paramref name="model"/> under <paramref name="definition"/>
        /// (<paramref name="oEnd"/> is used by <see cref="IndicatorDefinition.Reference"/> only). Call after backward.
        /// </summary>
        public static IReadOnlyList<LayerIndicators> Measure(nn.Module model, IndicatorDefinition definition, double oEnd)
        {
            if (definition == IndicatorDefinition.Current) return EquilibriumIndicators.Measure(model);
            var result = new List<LayerIndicators>();
            using var scope = NewDisposeScope();
            using var noGrad = torch.no_grad();
            foreach (var (name, layer) in BinaryModel.Layers(model))
            {
                var w = layer.LatentWeight;
                double e = EstimatingErrorAtOEnd(w, oEnd).cpu().to_type(ScalarType.Float64).item<double>();
                var g = w.grad;
                double s = g is null ? double.NaN : EquilibriumIndicators.GradientInstability(g).cpu().to_type(ScalarType.Float64).item<double>();
                result.Add(new LayerIndicators(name, e, s));
            }
            return result;
        }

        /// <summary>An epoch's e and s from its layers: means (Current, NaN s skipped) or sums (Reference, NaN s skipped).</summary>
        public static (double EstimatingError, double GradientInstability) Epoch(IReadOnlyList<LayerIndicators> layers, IndicatorDefinition definition)
        {
            if (definition == IndicatorDefinition.Current) return EquilibriumIndicators.Average(layers);
            if (layers.Count == 0) return (double.NaN, double.NaN);
            double e = 0, s = 0; int sCount = 0;
            foreach (var l in layers)
            {
                e += l.EstimatingError;
                if (!double.IsNaN(l.GradientInstability)) { s += l.GradientInstability; sCount++; }
            }
            return (e, sCount == 0 ? double.NaN : s);
        }

        /// <summary>A run's e and s from its epochs': e the mean over epochs; s the mean (Current) or the sum (Reference).</summary>
        public static (double EstimatingError, double GradientInstability) Run(
            IReadOnlyList<(double EstimatingError, double GradientInstability)> epochs, IndicatorDefinition definition)
        {
            if (epochs.Count == 0) return (double.NaN, double.NaN);
            double e = 0, s = 0; int sCount = 0;
            foreach (var (ee, ss) in epochs)
            {
                e += ee;
                if (!double.IsNaN(ss)) { s += ss; sCount++; }
            }
            e /= epochs.Count;
            if (sCount == 0) return (e, double.NaN);
            return (e, definition == IndicatorDefinition.Current ? s / sCount : s);
        }
    }
}

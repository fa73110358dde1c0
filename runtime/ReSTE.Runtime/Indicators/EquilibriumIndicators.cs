using System;
using System.Collections.Generic;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Indicators
{
    /// <summary>The paper's two indicators for one binary layer, at one moment.</summary>
    public readonly record struct LayerIndicators(string Layer, double EstimatingError, double GradientInstability);

    /// <summary>
    /// The "equilibrium" indicators of the ReSTE paper (Sec. 3.2): the estimating error e = ‖sign(z) − f(z)‖₂ and the
    /// gradient instability s = var(|g|) (unbiased), measured on each binary layer's latent weights z and their
    /// gradient g. They cost nothing unless asked for: they read what training already computed.
    /// </summary>
    public static class EquilibriumIndicators
    {
        /// <summary>e = ‖sign(z) − f(z)‖₂, as a 0-dim tensor on z's device (no host synchronisation).</summary>
        public static Tensor EstimatingError(Tensor z, Tensor approximation)
        {
            using var scope = NewDisposeScope();
            return z.sign().sub_(approximation).norm().MoveToOuterDisposeScope();
        }

        /// <summary>e for an estimator at its current parameter.</summary>
        public static Tensor EstimatingError(Tensor z, IEstimator estimator)
        {
            using var scope = NewDisposeScope();
            return EstimatingError(z, estimator.Approximate(z)).MoveToOuterDisposeScope();
        }

        /// <summary>s = var(|g|), unbiased, as a 0-dim tensor on g's device.</summary>
        public static Tensor GradientInstability(Tensor gradient)
        {
            using var scope = NewDisposeScope();
            return gradient.abs().var(unbiased: true).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// e and s of every binary layer of <paramref name="model"/>, read from its latent weights and their gradients
        /// (call after backward). Layers without a gradient yet report s = NaN. This synchronises with the device once.
        /// </summary>
        public static IReadOnlyList<LayerIndicators> Measure(nn.Module model)
        {
            var result = new List<LayerIndicators>();
            using var scope = NewDisposeScope();
            using var noGrad = torch.no_grad();
            foreach (var (name, layer) in BinaryModel.Layers(model))
            {
                var w = layer.LatentWeight;
                double e = EstimatingError(w, layer.Estimator).cpu().item<float>();
                var g = w.grad;
                double s = g is null ? double.NaN : GradientInstability(g).cpu().item<float>();
                result.Add(new LayerIndicators(name, e, s));
            }
            return result;
        }

        /// <summary>The mean over layers of e and of s (NaN s values are skipped).</summary>
        public static (double EstimatingError, double GradientInstability) Average(IReadOnlyList<LayerIndicators> layers)
        {
            if (layers.Count == 0) return (double.NaN, double.NaN);
            double e = 0, s = 0; int sCount = 0;
            foreach (var l in layers)
            {
                e += l.EstimatingError;
                if (!double.IsNaN(l.GradientInstability)) { s += l.GradientInstability; sCount++; }
            }
            return (e / layers.Count, sCount == 0 ? double.NaN : s / sCount);
        }
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ReSTE.Runtime.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Estimators
{
    /// <summary>
    /// The progressive sign of bitorch (hpi-xnor/bitorch, <c>bitorch/quantizations/progressive_sign.py</c>,
    /// <c>ProgressiveSign</c> with its default transform): f(z) = hardtanh(z / max(1 − τ, ε)) with the temperature
    /// τ = 1 − α^(−β·scale) and ε = 1e-7, where the scale moves from 0 at the start of training to 1 at the end, so
    /// that f moves from hardtanh(z) (the clipped identity) to sign. Here, as for every estimator of this library, the
    /// forward is sign and the backward is f′: the slope s = 1/max(1 − τ, ε) = min(α^(β·scale), 1/ε) on |z| ≤ 1/s and
    /// 0 outside (bitorch instead trains with f itself forward and passes the gradient straight through). The scale is
    /// the training progress epoch/epochs. Defaults α = 4, β = 10, bitorch's.
    /// </summary>
    public sealed class ProgressiveSignEstimator : ISweepableEstimator
    {
        public const double DefaultAlpha = 4;
        public const double DefaultBeta = 10;
        /// <summary>bitorch's EPSILON: 1 − τ never goes below it, so s ≤ 1e7.</summary>
        public const double Epsilon = 1e-7;

        public ProgressiveSignEstimator(double alpha = DefaultAlpha, double beta = DefaultBeta)
        {
            Validate(alpha, beta);
            Alpha = alpha; Beta = beta; S = Slope(0, alpha, beta);
        }

        public double Alpha { get; }
        public double Beta { get; }
        /// <summary>The scale: training progress, 0 at the start, 1 at the end.</summary>
        public double Scale { get; private set; }
        /// <summary>The current slope s = 1/max(1 − τ, ε): 1 at scale 0, α^β at scale 1.</summary>
        public double S { get; private set; }
        public Estimator Kind => Estimator.ProgressiveSign;
        public double Parameter => S;

        public void SetProgress(int epoch, int epochs)
        {
            Scale = OSchedule.Progress(epoch, epochs);
            S = Slope(Scale, Alpha, Beta);
        }

        Tensor IEstimator.Approximate(Tensor z) => Approximate(z, S);
        Tensor IEstimator.Derivative(Tensor z) => Derivative(z, S);

        public string SweepParameter => "s";
        public string SweepDescription(double oEnd) => $"scale from 0 to 1 (its schedule), s from 1 to {Slope(1, Alpha, Beta).ToString("G4", CultureInfo.InvariantCulture)}";
        public IReadOnlyList<(double Parameter, IEstimator Estimator)> Sweep(int points, double oEnd) =>
            Enumerable.Range(0, points).Select(i =>
            {
                var e = new ProgressiveSignEstimator(Alpha, Beta);
                e.SetProgress(i, points - 1);
                return (e.S, (IEstimator)e);
            }).ToArray();

        public static void Validate(double alpha, double beta, string source = "ProgressiveSign")
        {
            EstimatorGuard.Finite(alpha, "alpha", source);
            if (alpha <= 1) throw new ArgumentException($"{source}: alpha = {alpha.ToString(CultureInfo.InvariantCulture)} must be > 1.", nameof(alpha));
            EstimatorGuard.Positive(beta, "beta", source);
        }

        /// <summary>s = 1/max(1 − τ, ε) with τ = 1 − α^(−β·scale), the scale clamped to [0, 1].</summary>
        public static double Slope(double scale, double alpha = DefaultAlpha, double beta = DefaultBeta)
        {
            double temperature = 1 - Math.Pow(alpha, -beta * Math.Clamp(scale, 0, 1));
            return 1 / Math.Max(1 - temperature, Epsilon);
        }

        /// <summary>f(z) = hardtanh(s·z).</summary>
        public static Tensor Approximate(Tensor z, double s) => z.mul(s).clamp_(-1, 1);

        /// <summary>f′(z) = s where |z| ≤ 1/s, else 0.</summary>
        public static Tensor Derivative(Tensor z, double s) => z.abs().le(1 / s).to_type(z.dtype).mul_(s);

        /// <summary>The gradient with respect to z: <paramref name="grad"/> · f′(z).</summary>
        public static Tensor Backward(Tensor z, Tensor grad, double s) => grad.mul(s).masked_fill_(z.abs().gt(1 / s), 0);
    }
}

using System;
using System.Linq;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Schedules;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Tests
{
    public class EstimatorTests
    {
        static Tensor Grid(double from, double to, int n) => linspace(from, to, n, dtype: float64);

        [Theory]
        [InlineData(Estimator.ReSTE)]
        [InlineData(Estimator.STE)]
        [InlineData(Estimator.ApproxSign)]
        [InlineData(Estimator.SignSwish)]
        [InlineData(Estimator.EDE)]
        [InlineData(Estimator.DSQ)]
        [InlineData(Estimator.FDA)]
        [InlineData(Estimator.RBNN)]
        [InlineData(Estimator.ProgressiveSign)]
        public void Derivative_is_the_derivative_of_the_approximation(Estimator kind)
        {
            // A central finite difference of f must match f' away from the kinks (|z| = m, t, 1, …), where it is smooth.
            using var scope = NewDisposeScope();
            var estimator = EstimatorFactory.Create(kind);
            estimator.SetProgress(3, 10);
            var z = Grid(-1.9, 1.9, 3801);
            const double h = 1e-6;
            var numeric = estimator.Approximate(z.add(h)).sub(estimator.Approximate(z.sub(h))).div(2 * h);
            var analytic = estimator.Derivative(z);
            var kinks = new[] { 0.0, 0.1, 1.0, 1.5, 2.0, Math.Sqrt(2) / ((estimator as RbnnEstimator)?.T ?? 1e9), 1 / ((estimator as ProgressiveSignEstimator)?.S ?? 1e9) };
            var far = ones_like(z, dtype: ScalarType.Bool);
            foreach (var k in kinks) far = far.logical_and(z.abs().sub(k).abs().gt(1e-3));
            // ReSTE's backward is f′ only between m and t: rectified to the secant below m, cut to 0 above t.
            if (kind == Estimator.ReSTE) far = far.logical_and(z.abs().gt(0.1)).logical_and(z.abs().lt(1.5));
            var diff = numeric.sub(analytic).abs().masked_select(far);
            double worst = diff.max().item<double>();
            Assert.True(worst < 1e-4, $"{kind}: max |finite difference − derivative| = {worst}");
        }

        [Fact]
        public void ReSTE_with_o_1_is_STE_clipped_at_t()
        {
            using var scope = NewDisposeScope();
            var z = Grid(-2, 2, 4001).to_type(float32);
            var reste = ReSTEEstimator.Derivative(z, 1, 1.5, 0.1);
            var ste = SteEstimator.Derivative(z, 1.5);
            Assert.Equal(ste.data<float>().ToArray(), reste.data<float>().ToArray());
        }

        [Fact]
        public void ReSTE_near_zero_slope_is_the_secant_of_f_and_t_is_inside()
        {
            using var scope = NewDisposeScope();
            foreach (var o in new[] { 1.0, 2.0, 3.0, 10.0 })
            {
                var z = tensor(new float[] { 0f, 0.05f, -0.1f, 1.5f, -1.5f, 1.5001f }, new long[] { 6 });
                var d = ReSTEEstimator.Derivative(z, o, 1.5, 0.1).data<float>().ToArray();
                float secant = (float)(Math.Pow(0.1, 1 / o) / 0.1);
                Assert.Equal(secant, d[0]); Assert.Equal(secant, d[1]); Assert.Equal(secant, d[2]);
                Assert.Equal((float)(1 / o * Math.Pow(1.5, (1 - o) / o)), d[3], 5);
                Assert.Equal(d[3], d[4]);
                Assert.Equal(0f, d[5]);
            }
        }

        [Fact]
        public void ProgressiveSign_moves_from_hardtanh_to_sign_over_its_schedule()
        {
            using var scope = NewDisposeScope();
            var estimator = new ProgressiveSignEstimator();
            // Start: scale 0, slope 1: f is hardtanh, f' is STE clipped at 1.
            Assert.Equal((0.0, 1.0), (estimator.Scale, estimator.S));
            var z = tensor(new double[] { -2, -1, -0.5, 0, 0.5, 1, 2 }, new long[] { 7 });
            IEstimator e = estimator;
            Assert.Equal(new double[] { -1, -1, -0.5, 0, 0.5, 1, 1 }, e.Approximate(z).data<double>().ToArray());
            Assert.Equal(SteEstimator.Derivative(z, 1).data<double>().ToArray(), e.Derivative(z).data<double>().ToArray());
            // bitorch's transform at scale 0.5: τ = 1 − 4^(−5), s = 1/(1 − τ) = 4^5.
            estimator.SetProgress(5, 10);
            Assert.Equal(Math.Pow(4, 5), estimator.S, 6);
            // End: scale 1, s = α^β = 4^10 (≈ 1.05e6 < 1/ε): f is sign outside |z| ≤ 1/s.
            estimator.SetProgress(10, 10);
            Assert.Equal((1.0, Math.Pow(4, 10)), (estimator.Scale, estimator.S));
            Assert.Equal(new double[] { -1, -1, -1, 0, 1, 1, 1 }, e.Approximate(z).data<double>().ToArray());
            // ε caps the slope at 1e7 when α^β would exceed it.
            Assert.Equal(1e7, ProgressiveSignEstimator.Slope(1, alpha: 10, beta: 10), 1);
            // The generated code's backward is f' times the incoming gradient.
            var g = full_like(z, 3.0);
            Assert.Equal(e.Derivative(z).mul(3).data<double>().ToArray(), ProgressiveSignEstimator.Backward(z, g, estimator.S).data<double>().ToArray());
            Assert.Contains("alpha = 1", Assert.Throws<ArgumentException>(() => new ProgressiveSignEstimator(alpha: 1)).Message);
            Assert.Contains("beta = 0", Assert.Throws<ArgumentException>(() => new ProgressiveSignEstimator(beta: 0)).Message);
        }

        [Fact]
        public void Sign_of_zero_is_zero()
        {
            using var scope = NewDisposeScope();
            var z = tensor(new float[] { -0.5f, 0f, 0.5f }, new long[] { 3 });
            Assert.Equal(new float[] { -1, 0, 1 }, Sign.Forward(z).data<float>().ToArray());
        }

        [Fact]
        public void Lemma_3_1_estimating_error_falls_as_o_grows()
        {
            // The paper's Lemma 3.1: for o1 ≥ o2 ≥ 1, e(f_o1) ≤ e(f_o2) — on random z, for random pairs of o.
            using var scope = NewDisposeScope();
            var rng = new Random(20231001);
            var generator = new torch.Generator(7);
            for (int trial = 0; trial < 200; trial++)
            {
                var z = randn(new long[] { 1 + rng.Next(2000) }, dtype: float64, generator: generator).mul(rng.NextDouble() * 3);
                double o2 = 1 + rng.NextDouble() * 9, o1 = o2 + rng.NextDouble() * 9;
                double e1 = Indicators.EquilibriumIndicators.EstimatingError(z, ReSTEEstimator.Approximate(z, o1)).item<double>();
                double e2 = Indicators.EquilibriumIndicators.EstimatingError(z, ReSTEEstimator.Approximate(z, o2)).item<double>();
                Assert.True(e1 <= e2 + 1e-12, $"trial {trial}: e(o1 = {o1}) = {e1} > e(o2 = {o2}) = {e2}");
            }
        }

        [Theory]
        [InlineData(0.5, 1.5, 0.1, "o = 0.5")]
        [InlineData(double.NaN, 1.5, 0.1, "o = NaN")]
        [InlineData(3, 0.1, 0.1, "t = 0.1")]
        [InlineData(3, 1.5, 0, "m = 0")]
        [InlineData(3, 1.5, -0.2, "m = -0.2")]
        [InlineData(3, double.PositiveInfinity, 0.1, "t = Infinity")]
        [InlineData(3, 1.5, double.NaN, "m = NaN")]
        public void Bad_constants_are_an_ArgumentException_naming_the_value(double o, double t, double m, string expected)
        {
            var e = Assert.Throws<ArgumentException>(() => ReSTEEstimator.Validate(o, t, m));
            Assert.Contains(expected, e.Message);
            // The estimator object checks the same constants (its o_end is the o here).
            Assert.Throws<ArgumentException>(() => new ReSTEEstimator(o, t, m));
        }

        [Fact]
        public void Other_estimators_reject_bad_constants()
        {
            Assert.Contains("beta = NaN", Assert.Throws<ArgumentException>(() => new SignSwishEstimator(double.NaN)).Message);
            Assert.Contains("alpha = 1", Assert.Throws<ArgumentException>(() => new DsqEstimator(1)).Message);
            Assert.Contains("terms = 0", Assert.Throws<ArgumentException>(() => new FdaEstimator(terms: 0)).Message);
            Assert.Contains("tMin = -1", Assert.Throws<ArgumentException>(() => new EdeEstimator(-1)).Message);
            Assert.Contains("clip = 0", Assert.Throws<ArgumentException>(() => new SteEstimator(0)).Message);
            Assert.Contains("'resteX'", Assert.Throws<ArgumentException>(() => EstimatorFactory.Parse("resteX")).Message);
            Assert.Equal(Estimator.ApproxSign, EstimatorFactory.Parse("approxsign"));
        }

        [Fact]
        public void Schedule_of_o_is_the_reference_cosine_set_per_epoch()
        {
            Assert.Equal(1.0, OSchedule.At(ScheduleKind.Cosine, 0, 100, 3));
            Assert.Equal(1 + 2 * (1 - Math.Cos(Math.PI / 4)), OSchedule.At(ScheduleKind.Cosine, 50, 100, 3), 12);
            Assert.Equal(3.0, OSchedule.At(ScheduleKind.Cosine, 100, 100, 3), 12);
            Assert.Equal(2.0, OSchedule.At(ScheduleKind.Linear, 50, 100, 3), 12);
            Assert.Equal(3.0, OSchedule.At(ScheduleKind.Constant, 0, 100, 3));
            var reste = new ReSTEEstimator(oEnd: 3);
            Assert.Equal(1.0, reste.O);
            reste.SetProgress(99, 100);
            Assert.Equal(1 + 2 * (1 - Math.Cos(Math.PI / 2 * 0.99)), reste.O, 12);
            Assert.Throws<ArgumentOutOfRangeException>(() => OSchedule.At(ScheduleKind.Cosine, -1, 10, 3));
        }

        [Fact]
        public void Learning_rate_warms_up_linearly_then_decays_by_cosine()
        {
            Assert.Equal(0.02, LearningRateSchedule.At(0, 100, 0.1, 5), 12);
            Assert.Equal(0.1, LearningRateSchedule.At(4, 100, 0.1, 5), 12);
            Assert.Equal(0.1, LearningRateSchedule.At(5, 100, 0.1, 5), 12);
            Assert.Equal(0.05, LearningRateSchedule.At(50, 100, 0.1), 12);
            Assert.Equal(0.1 * 0.5 * (1 + Math.Cos(Math.PI * 0.99)), LearningRateSchedule.At(99, 100, 0.1), 12);
        }

        [Fact]
        public void EDE_and_RBNN_t_rises_on_a_log_scale()
        {
            var (t0, k0) = EdeEstimator.At(0);
            var (t1, k1) = EdeEstimator.At(1);
            var (th, _) = EdeEstimator.At(0.5);
            Assert.Equal(0.1, t0, 12); Assert.Equal(10, t1, 10); Assert.Equal(1, th, 10);
            Assert.Equal(10, k0, 10); Assert.Equal(1, k1, 12);
            var (r0, _) = RbnnEstimator.At(0);
            Assert.Equal(0.01, r0, 12);
        }
    }
}

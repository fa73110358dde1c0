using System;
using System.Linq;
using ReSTE.Runtime;
using ReSTE.Runtime.Analysis;
using Xunit;

namespace ReSTE.Runtime.Tests.Analysis
{
    public class EstimatorPropertiesTests
    {
        // e = ‖sign(z) − f(z)‖₂ over linspace(−t, t, n), computed here without TorchSharp.
        static double Error(double t, int n, Func<double, double> f)
        {
            double sum = 0;
            for (int i = 0; i < n; i++)
            {
                double z = -t + 2 * t * i / (n - 1);
                double d = Math.Sign(z) - f(z);
                sum += d * d;
            }
            return Math.Sqrt(sum);
        }

        static double Power(double z, double o) => Math.Sign(z) * Math.Pow(Math.Abs(z), 1 / o);

        [Fact]
        public void ReSTE_is_rational_and_flexible()
        {
            var r = EstimatorProperties.Check(Estimator.ReSTE);
            Assert.True(r.Rational, r.Explain());
            Assert.True(r.StartsAtSte, r.Explain());
            Assert.True(r.Monotone, r.Explain());
            Assert.True(r.EndsNearerSign, r.Explain());
            Assert.True(r.Flexible, r.Explain());
            // The schedule runs o from 1 to o_end = 10 and the sweep covers the same range.
            Assert.Equal(1, r.Schedule[0].Parameter, 12);
            Assert.Equal(10, r.Schedule[^1].Parameter, 12);
            Assert.Equal(201, r.Schedule.Count);
        }

        [Fact]
        public void EDE_is_not_rational()
        {
            var r = EstimatorProperties.Check(Estimator.EDE);
            Assert.False(r.Rational, r.Explain());
            Assert.True(r.WorstScheduleRatio > 1, r.Explain());
            // Where it is above STE: e at the settings of its schedule, recomputed here for the worst one.
            var worst = r.Schedule.OrderByDescending(s => s.EstimatingError).First();
            double t = worst.Parameter, k = Math.Max(1 / t, 1);
            double expected = Error(1.5, 30001, z => k * Math.Tanh(t * z));
            Assert.Equal(expected, worst.EstimatingError, 1e-9 * expected);
        }

        [Fact]
        public void The_numbers_are_the_estimating_error_over_the_grid()
        {
            var options = new PropertyCheckOptions(Points: 2001, Epochs: 20, SweepPoints: 10, OEnd: 5);
            var r = EstimatorProperties.Check(Estimator.ReSTE, options);
            double ste = Error(1.5, 2001, z => z);
            Assert.Equal(ste, r.SteError, 1e-9 * ste);
            foreach (var s in r.Schedule.Concat(r.Sweep))
            {
                double expected = Error(1.5, 2001, z => Power(z, s.Parameter));
                Assert.Equal(expected, s.EstimatingError, 1e-9 * expected);
            }
            // o = 1 is the identity: ReSTE starts exactly at STE.
            Assert.Equal(r.SteError, r.Sweep[0].EstimatingError, 1e-12 * ste);
            // The cosine schedule: o at epoch 10 of 20 is 1 + 4(1 − cos(π/4)).
            Assert.Equal(1 + 4 * (1 - Math.Cos(Math.PI / 4)), r.Schedule[10].Parameter, 12);
        }

        [Fact]
        public void Against_the_clipped_STE_ReSTE_is_rational_on_the_unit_interval_only()
        {
            var unit = EstimatorProperties.Check(Estimator.ReSTE, new PropertyCheckOptions(T: 1, Points: 4001, Reference: SteReference.Clipped));
            Assert.True(unit.Rational, unit.Explain());
            // Beyond |z| = 1 hardtanh is exact while o = 1 (the identity) is not: ReSTE's first setting is above it.
            var wide = EstimatorProperties.Check(Estimator.ReSTE, new PropertyCheckOptions(Points: 4001, Reference: SteReference.Clipped));
            Assert.False(wide.Rational, wide.Explain());
            Assert.Equal(Error(1.5, 4001, z => z), wide.Schedule[0].EstimatingError, 1e-9);
            Assert.Equal(Error(1.5, 4001, z => Math.Clamp(z, -1, 1)), wide.SteError, 1e-9);
        }

        [Fact]
        public void Estimators_without_a_parameter_are_not_flexible()
        {
            foreach (var kind in new[] { Estimator.STE, Estimator.ApproxSign })
            {
                var r = EstimatorProperties.Check(kind, new PropertyCheckOptions(Points: 2001));
                Assert.Empty(r.Sweep);
                Assert.False(r.Flexible, r.Explain());
                Assert.Single(r.Schedule);
            }
            // hardtanh is nowhere farther from sign than the identity.
            Assert.True(EstimatorProperties.Check(Estimator.STE, new PropertyCheckOptions(Points: 2001)).Rational);
        }

        [Fact]
        public void Every_estimator_gets_a_row_in_the_table()
        {
            var options = new PropertyCheckOptions(Points: 2001, Epochs: 20, SweepPoints: 20);
            var reports = EstimatorProperties.CheckAll(options);
            Assert.Equal(Enum.GetValues<Estimator>().Length, reports.Count);
            var table = EstimatorProperties.Markdown(reports, options);
            foreach (var r in reports)
                Assert.Contains($"| {r.Kind} | {(r.Rational ? "yes" : "no")} | {(r.Flexible ? "yes" : "no")} |", table);
            Assert.Contains("| ReSTE | yes | yes |", table);
            Assert.Contains("| EDE | no |", table);
        }

        [Fact]
        public void ProgressiveSign_row_is_the_error_of_hardtanh_of_s_z_along_its_schedule()
        {
            var options = new PropertyCheckOptions(Points: 2001, Epochs: 20, SweepPoints: 11);
            var r = EstimatorProperties.Check(Estimator.ProgressiveSign, options);
            Assert.Equal(21, r.Schedule.Count);
            Assert.Equal(1, r.Schedule[0].Parameter, 12);
            Assert.Equal(Math.Pow(4, 10), r.Schedule[^1].Parameter, 3);
            foreach (var s in r.Schedule.Concat(r.Sweep))
            {
                double expected = Error(1.5, 2001, z => Math.Clamp(s.Parameter * z, -1, 1));
                Assert.Equal(expected, s.EstimatingError, 1e-9 * expected + 1e-12);
            }
            // hardtanh(s·z) is never farther from sign than the identity, and moves monotonically to sign.
            Assert.True(r.Rational, r.Explain());
            Assert.True(r.Monotone, r.Explain());
            Assert.True(r.EndsNearerSign, r.Explain());
            var table = EstimatorProperties.Markdown(new[] { r }, options);
            Assert.Contains($"| ProgressiveSign | yes | {(r.Flexible ? "yes" : "no")} |", table);
        }

        [Fact]
        public void Bad_options_are_errors_naming_the_value()
        {
            var ex = Assert.Throws<ArgumentException>(() => EstimatorProperties.Check(Estimator.ReSTE, new PropertyCheckOptions(Points: 100)));
            Assert.Contains("Points = 100", ex.Message);
            ex = Assert.Throws<ArgumentException>(() => EstimatorProperties.Check(Estimator.ReSTE, new PropertyCheckOptions(OEnd: 1)));
            Assert.Contains("OEnd = 1", ex.Message);
        }
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Indicators;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Analysis
{
    /// <summary>What "STE" means when an estimator's estimating error is compared with STE's.</summary>
    public enum SteReference
    {
        /// <summary>
        /// The paper's STE: f(z) = z, the function whose derivative (1) STE passes straight through; ReSTE with o = 1.
        /// The default.
        /// </summary>
        Identity,
        /// <summary>
        /// This library's <see cref="SteEstimator"/>: f(z) = clamp(z, −1, 1) (hardtanh, the clipped STE of the reference's
        /// <c>Binary</c>). It equals the identity on |z| ≤ 1 and is closer to sign beyond, so over a range wider than
        /// [−1, 1] it is the harder reference: ReSTE at o = 1 (the identity) is above it there.
        /// </summary>
        Clipped,
    }

    /// <summary>How the property checks sample z and the estimators' parameters.</summary>
    /// <param name="T">z runs over [−T, T]. Default 1.5, ReSTE's default t (where its gradient is cut).</param>
    /// <param name="Points">Grid points (odd, so that z = 0 is one of them).</param>
    /// <param name="Epochs">A schedule is sampled at epochs 0 … Epochs (the last one is its end value).</param>
    /// <param name="SweepPoints">Settings of the parameter in the flexibility sweep.</param>
    /// <param name="OEnd">The largest o for ReSTE (schedule end and sweep end). Default 10, the paper's largest.</param>
    /// <param name="Reference">What STE is (see <see cref="SteReference"/>).</param>
    /// <param name="RelativeTolerance">Relative slack in every comparison of two errors (rounding).</param>
    /// <param name="StartTolerance">How close (relative) to STE's error the sweep must start to count as "from STE".</param>
    public sealed record PropertyCheckOptions(
        double T = ReSTEEstimator.DefaultT,
        int Points = 30001,
        int Epochs = 200,
        int SweepPoints = 200,
        double OEnd = 10,
        SteReference Reference = SteReference.Identity,
        double RelativeTolerance = 1e-9,
        double StartTolerance = 0.05);

    /// <summary>One parameter setting and the estimating error e = ‖sign(z) − f(z)‖₂ over the grid there.</summary>
    public readonly record struct ParameterSetting(double Parameter, double EstimatingError);

    /// <summary>
    /// The result of <see cref="EstimatorProperties.Check(Estimator, PropertyCheckOptions?)"/> for one estimator.
    /// <see cref="Schedule"/>: e at each setting the estimator takes during training (for estimators without a schedule,
    /// the one setting they train with). <see cref="Sweep"/>: e as the parameter moves towards sign (empty for
    /// estimators without a parameter). Rational: no schedule setting has e above STE's. Flexible: the sweep starts at
    /// STE's e (within <see cref="PropertyCheckOptions.StartTolerance"/>), never rises, and ends below where it started.
    /// </summary>
    public sealed record EstimatorPropertyReport(
        Estimator Kind,
        string Parameter,
        string SweepDescription,
        double SteError,
        IReadOnlyList<ParameterSetting> Schedule,
        IReadOnlyList<ParameterSetting> Sweep,
        bool Rational,
        bool StartsAtSte,
        bool Monotone,
        bool EndsNearerSign)
    {
        public bool Flexible => StartsAtSte && Monotone && EndsNearerSign;

        /// <summary>The largest e over the schedule divided by STE's e (≤ 1 when rational).</summary>
        public double WorstScheduleRatio => Schedule.Max(s => s.EstimatingError) / SteError;

        /// <summary>The largest rise of e from one sweep setting to the next (≤ 0 when monotone; NaN without a sweep).</summary>
        public double LargestSweepRise => Sweep.Count < 2 ? double.NaN
            : Enumerable.Range(1, Sweep.Count - 1).Max(i => Sweep[i].EstimatingError - Sweep[i - 1].EstimatingError);

        /// <summary>Why the estimator is or is not rational and flexible, in one line.</summary>
        public string Explain()
        {
            var sb = new StringBuilder();
            sb.Append(Rational ? "rational" : "not rational").Append(" (max e over its schedule / STE's e = ")
              .Append(F(WorstScheduleRatio)).Append("); ");
            if (Sweep.Count == 0) return sb.Append("not flexible (no parameter)").ToString();
            sb.Append(Flexible ? "flexible" : "not flexible").Append(" (");
            sb.Append("sweep starts at ").Append(F(Sweep[0].EstimatingError / SteError)).Append("× STE's e")
              .Append(StartsAtSte ? "" : " [not at STE]");
            sb.Append(", largest rise ").Append(F(LargestSweepRise)).Append(Monotone ? "" : " [not monotone]");
            sb.Append(", ends at ").Append(F(Sweep[^1].EstimatingError / SteError)).Append("× STE's e")
              .Append(EndsNearerSign ? "" : " [not nearer sign]").Append(')');
            return sb.ToString();
        }

        static string F(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Checks numerically the two properties the paper asks of an estimator (Sec. 3.3), over z on a fine grid of
    /// [−t, t] in double precision, with e = ‖sign(z) − f(z)‖₂ computed by <see cref="EquilibriumIndicators.EstimatingError(Tensor, Tensor)"/>:
    /// <list type="bullet">
    /// <item><b>rational</b>: at every parameter setting along its training schedule, e is not above STE's e;</item>
    /// <item><b>flexible</b>: as its parameter grows (moves towards sign), e starts at STE's e and falls monotonically
    /// towards 0 (sign).</item>
    /// </list>
    /// The estimators are the library's own <see cref="IEstimator"/> objects, driven by their own schedules
    /// (<see cref="IEstimator.SetProgress"/>). The sweeps, parameter growing towards sign: ReSTE o from 1 to
    /// <see cref="PropertyCheckOptions.OEnd"/>; EDE t from 0.1 to 10 and RBNN t from 0.01 to 10 (their schedules);
    /// DSQ α from 0.999 down to 0.001; FDA 1 to 32 Fourier terms; SignSwish β from 0.1 to 20 (geometric); STE and
    /// ApproxSign have no parameter and so are not flexible.
    /// </summary>
    public static class EstimatorProperties
    {
        /// <summary>Every estimator of <see cref="Estimator"/>, checked.</summary>
        public static IReadOnlyList<EstimatorPropertyReport> CheckAll(PropertyCheckOptions? options = null) =>
            Enum.GetValues<Estimator>().Select(k => Check(k, options)).ToArray();

        public static EstimatorPropertyReport Check(Estimator kind, PropertyCheckOptions? options = null)
        {
            options ??= new PropertyCheckOptions();
            Validate(options);
            using var scope = NewDisposeScope();
            using var noGrad = torch.no_grad();
            var grid = Grid(options.T, options.Points);
            var z = torch.tensor(grid, new long[] { grid.Length });
            double steError = SteError(z, options.Reference);

            var schedule = ScheduleSettings(kind, options).Select(p => Measure(z, p.Parameter, p.Estimator)).ToArray();
            var (parameterName, description, sweepEstimators) = SweepSettings(kind, options);
            var sweep = sweepEstimators.Select(p => Measure(z, p.Parameter, p.Estimator)).ToArray();

            double tol = options.RelativeTolerance;
            bool rational = schedule.All(s => s.EstimatingError <= steError * (1 + tol));
            bool starts = sweep.Length > 0 && Math.Abs(sweep[0].EstimatingError - steError) <= options.StartTolerance * steError;
            bool monotone = sweep.Length > 1;
            for (int i = 1; i < sweep.Length; i++)
                if (sweep[i].EstimatingError > sweep[i - 1].EstimatingError * (1 + tol) + tol) { monotone = false; break; }
            bool nearer = sweep.Length > 1 && sweep[^1].EstimatingError < sweep[0].EstimatingError * (1 - tol);
            GC.KeepAlive(grid); // the tensor may share the array's memory
            return new EstimatorPropertyReport(kind, parameterName, description, steError, schedule, sweep, rational, starts, monotone, nearer);
        }

        /// <summary>STE's e over the grid [−t, t] with <paramref name="points"/> points.</summary>
        public static double SteError(double t, int points, SteReference reference)
        {
            using var scope = NewDisposeScope();
            var grid = Grid(t, points);
            double error = SteError(torch.tensor(grid, new long[] { grid.Length }), reference);
            GC.KeepAlive(grid); // the tensor may share the array's memory
            return error;
        }

        /// <summary>
        /// z_i = t(2i − (n − 1))/(n − 1), i = 0 … n − 1: n evenly spaced points of [−t, t], exactly symmetric, with
        /// z = 0 exactly in the middle (where sign is 0; a rounding residue there would count as an error of 1).
        /// </summary>
        public static double[] Grid(double t, int points)
        {
            var z = new double[points];
            for (int i = 0; i < points; i++) z[i] = t * (2 * i - (points - 1)) / (points - 1);
            return z;
        }

        static double SteError(Tensor z, SteReference reference)
        {
            using var scope = NewDisposeScope();
            var f = reference switch
            {
                SteReference.Identity => z.clone(),
                SteReference.Clipped => SteEstimator.Approximate(z, SteEstimator.DefaultClip),
                _ => throw new ArgumentOutOfRangeException(nameof(reference), reference, "Unknown STE reference."),
            };
            return EquilibriumIndicators.EstimatingError(z, f).item<double>();
        }

        static ParameterSetting Measure(Tensor z, double parameter, IEstimator estimator)
        {
            using var scope = NewDisposeScope();
            return new ParameterSetting(parameter, EquilibriumIndicators.EstimatingError(z, estimator).item<double>());
        }

        /// <summary>The estimator at each epoch 0 … Epochs of its own schedule (Epochs = the schedule's end).</summary>
        static IEnumerable<(double Parameter, IEstimator Estimator)> ScheduleSettings(Estimator kind, PropertyCheckOptions options)
        {
            var estimator = EstimatorFactory.Create(kind, options.OEnd);
            for (int epoch = 0; epoch <= options.Epochs; epoch++)
            {
                estimator.SetProgress(epoch, options.Epochs);
                yield return (estimator.Parameter, estimator);
                if (double.IsNaN(estimator.Parameter) || !Scheduled(kind)) yield break; // one setting: nothing moves
            }
        }

        static bool Scheduled(Estimator kind) => EstimatorCatalog.Get(kind).Scheduled;

        /// <summary>The estimator's own sweep towards sign (<see cref="ISweepableEstimator"/>); none for estimators without a parameter.</summary>
        static (string Parameter, string Description, IReadOnlyList<(double Parameter, IEstimator Estimator)> Settings) SweepSettings(
            Estimator kind, PropertyCheckOptions options) =>
            EstimatorFactory.Create(kind, options.OEnd) is ISweepableEstimator s
                ? (s.SweepParameter, s.SweepDescription(options.OEnd), s.Sweep(options.SweepPoints, options.OEnd))
                : ("none", "no parameter", Array.Empty<(double, IEstimator)>());

        static void Validate(PropertyCheckOptions o)
        {
            if (!(o.T > 0) || double.IsInfinity(o.T)) throw new ArgumentException($"Property check: t = {o.T} must be a finite number > 0.");
            if (o.Points < 3 || o.Points % 2 == 0) throw new ArgumentException($"Property check: Points = {o.Points} must be odd and ≥ 3 (so that z = 0 is on the grid).");
            if (o.Epochs < 1) throw new ArgumentException($"Property check: Epochs = {o.Epochs} must be ≥ 1.");
            if (o.SweepPoints < 2) throw new ArgumentException($"Property check: SweepPoints = {o.SweepPoints} must be ≥ 2.");
            if (!(o.OEnd > 1) || double.IsInfinity(o.OEnd)) throw new ArgumentException($"Property check: OEnd = {o.OEnd} must be a finite number > 1.");
            if (!(o.RelativeTolerance >= 0) || !(o.StartTolerance >= 0)) throw new ArgumentException("Property check: tolerances must be ≥ 0.");
        }

        /// <summary>A Markdown table of the reports: estimator, rational, flexible, the numbers behind them.</summary>
        public static string Markdown(IReadOnlyList<EstimatorPropertyReport> reports, PropertyCheckOptions? options = null)
        {
            options ??= new PropertyCheckOptions();
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.Append($"Estimator properties over z in [−{options.T.ToString(c)}, {options.T.ToString(c)}] ({options.Points} points), ")
              .Append($"STE = {(options.Reference == SteReference.Identity ? "identity f(z) = z" : "clipped STE, hardtanh")}; ")
              .Append("e = ‖sign(z) − f(z)‖₂.\n\n");
            sb.Append("| estimator | rational | flexible | max e on schedule / STE's e | sweep | e at sweep start / STE's | e at sweep end / STE's |\n");
            sb.Append("|---|---|---|---:|---|---:|---:|\n");
            foreach (var r in reports)
            {
                string start = r.Sweep.Count == 0 ? "–" : (r.Sweep[0].EstimatingError / r.SteError).ToString("G4", c);
                string end = r.Sweep.Count == 0 ? "–" : (r.Sweep[^1].EstimatingError / r.SteError).ToString("G4", c);
                sb.Append($"| {r.Kind} | {(r.Rational ? "yes" : "no")} | {(r.Flexible ? "yes" : "no")} | {r.WorstScheduleRatio.ToString("G4", c)} | {r.SweepDescription} | {start} | {end} |\n");
            }
            return sb.ToString();
        }
    }
}

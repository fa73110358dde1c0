using System;
using TorchSharp;
using ReSTE.Runtime.Schedules;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Estimators
{
    /// <summary>
    /// An estimator as a named, pluggable part (as Larq's quantizers): its current parameter, how it moves with
    /// training progress, its approximation f of sign and f's derivative. Generated layers use the estimator's static
    /// entry on the hot path with their constants inlined; this object describes the same estimator to the runtime
    /// (schedules, indicators, summaries, comparisons).
    /// </summary>
    public interface IEstimator
    {
        /// <summary>The estimator's name, as in <see cref="Runtime.Estimator"/>.</summary>
        Estimator Kind { get; }
        /// <summary>The parameter that training moves (o for ReSTE, t for EDE and RBNN); NaN where there is none.</summary>
        double Parameter { get; }
        /// <summary>Sets the parameter for epoch <paramref name="epoch"/> (counted from 0) of <paramref name="epochs"/>.</summary>
        void SetProgress(int epoch, int epochs);
        /// <summary>f(z), the function whose derivative the backward pass uses.</summary>
        Tensor Approximate(Tensor z);
        /// <summary>f′(z) at the current parameter.</summary>
        Tensor Derivative(Tensor z);
    }

    /// <summary>ReSTE with o moved by a schedule from 1 to <see cref="OEnd"/>.</summary>
    public sealed class ReSTE : IEstimator
    {
        double _oEnd;

        public ReSTE(double oEnd = ReSTEEstimator.DefaultOEnd, double t = ReSTEEstimator.DefaultT, double m = ReSTEEstimator.DefaultM,
            ScheduleKind schedule = ScheduleKind.Cosine)
        {
            ReSTEEstimator.Validate(oEnd, t, m, "ReSTE estimator");
            _oEnd = oEnd; T = t; M = m; Schedule = schedule;
            O = schedule == ScheduleKind.Constant ? oEnd : 1;
        }

        public Estimator Kind => Estimator.ReSTE;
        public double T { get; }
        public double M { get; }
        public ScheduleKind Schedule { get; }
        /// <summary>The current o.</summary>
        public double O { get; private set; }
        public double Parameter => O;

        /// <summary>The o the schedule ends at (≥ 1). Settable so that one model can be trained at several o_end.</summary>
        public double OEnd
        {
            get => _oEnd;
            set { ReSTEEstimator.Validate(value, T, M, "ReSTE estimator OEnd"); _oEnd = value; if (Schedule == ScheduleKind.Constant) O = value; }
        }

        public void SetProgress(int epoch, int epochs) => O = OSchedule.At(Schedule, epoch, epochs, _oEnd);
        public Tensor Approximate(Tensor z) => ReSTEEstimator.Approximate(z, O);
        public Tensor Derivative(Tensor z) => ReSTEEstimator.Derivative(z, O, T, M);
    }

    public sealed class Ste : IEstimator
    {
        public Ste(double clip = SteEstimator.DefaultClip) { SteEstimator.Validate(clip); Clip = clip; }
        public double Clip { get; }
        public Estimator Kind => Estimator.STE;
        public double Parameter => double.NaN;
        public void SetProgress(int epoch, int epochs) { }
        public Tensor Approximate(Tensor z) => SteEstimator.Approximate(z, Clip);
        public Tensor Derivative(Tensor z) => SteEstimator.Derivative(z, Clip);
    }

    public sealed class ApproxSign : IEstimator
    {
        public Estimator Kind => Estimator.ApproxSign;
        public double Parameter => double.NaN;
        public void SetProgress(int epoch, int epochs) { }
        public Tensor Approximate(Tensor z) => ApproxSignEstimator.Approximate(z);
        public Tensor Derivative(Tensor z) => ApproxSignEstimator.Derivative(z);
    }

    public sealed class SignSwish : IEstimator
    {
        public SignSwish(double beta = SignSwishEstimator.DefaultBeta) { SignSwishEstimator.Validate(beta); Beta = beta; }
        public double Beta { get; }
        public Estimator Kind => Estimator.SignSwish;
        public double Parameter => Beta;
        public void SetProgress(int epoch, int epochs) { }
        public Tensor Approximate(Tensor z) => SignSwishEstimator.Approximate(z, Beta);
        public Tensor Derivative(Tensor z) => SignSwishEstimator.Derivative(z, Beta);
    }

    public sealed class Ede : IEstimator
    {
        public Ede(double tMin = EdeEstimator.DefaultTMin, double tMax = EdeEstimator.DefaultTMax)
        {
            EdeEstimator.Validate(tMin, tMax); TMin = tMin; TMax = tMax; (T, K) = EdeEstimator.At(0, tMin, tMax);
        }
        public double TMin { get; }
        public double TMax { get; }
        public double T { get; private set; }
        public double K { get; private set; }
        public Estimator Kind => Estimator.EDE;
        public double Parameter => T;
        public void SetProgress(int epoch, int epochs) => (T, K) = EdeEstimator.At(OSchedule.Progress(epoch, epochs), TMin, TMax);
        public Tensor Approximate(Tensor z) => EdeEstimator.Approximate(z, T, K);
        public Tensor Derivative(Tensor z) => EdeEstimator.Derivative(z, T, K);
    }

    public sealed class Dsq : IEstimator
    {
        public Dsq(double alpha = DsqEstimator.DefaultAlpha) { DsqEstimator.Validate(alpha); Alpha = alpha; }
        public double Alpha { get; }
        public Estimator Kind => Estimator.DSQ;
        public double Parameter => Alpha;
        public void SetProgress(int epoch, int epochs) { }
        public Tensor Approximate(Tensor z) => DsqEstimator.Approximate(z, Alpha);
        public Tensor Derivative(Tensor z) => DsqEstimator.Derivative(z, Alpha);
    }

    public sealed class Fda : IEstimator
    {
        public Fda(double omega = FdaEstimator.DefaultOmega, int terms = FdaEstimator.DefaultTerms)
        { FdaEstimator.Validate(omega, terms); Omega = omega; Terms = terms; }
        public double Omega { get; }
        public int Terms { get; }
        public Estimator Kind => Estimator.FDA;
        public double Parameter => Terms;
        public void SetProgress(int epoch, int epochs) { }
        public Tensor Approximate(Tensor z) => FdaEstimator.Approximate(z, Omega, Terms);
        public Tensor Derivative(Tensor z) => FdaEstimator.Derivative(z, Omega, Terms);
    }

    public sealed class Rbnn : IEstimator
    {
        public Rbnn(double tMin = RbnnEstimator.DefaultTMin, double tMax = RbnnEstimator.DefaultTMax)
        {
            RbnnEstimator.Validate(tMin, tMax); TMin = tMin; TMax = tMax; (T, K) = RbnnEstimator.At(0, tMin, tMax);
        }
        public double TMin { get; }
        public double TMax { get; }
        public double T { get; private set; }
        public double K { get; private set; }
        public Estimator Kind => Estimator.RBNN;
        public double Parameter => T;
        public void SetProgress(int epoch, int epochs) => (T, K) = RbnnEstimator.At(OSchedule.Progress(epoch, epochs), TMin, TMax);
        public Tensor Approximate(Tensor z) => RbnnEstimator.Approximate(z, T, K);
        public Tensor Derivative(Tensor z) => RbnnEstimator.Derivative(z, T, K);
    }

    /// <summary>Creates an estimator object by kind, with default constants (for CLIs and comparisons).</summary>
    public static class EstimatorFactory
    {
        public static IEstimator Create(Estimator kind, double oEnd = ReSTEEstimator.DefaultOEnd) => kind switch
        {
            Estimator.ReSTE => new ReSTE(oEnd),
            Estimator.STE => new Ste(),
            Estimator.ApproxSign => new ApproxSign(),
            Estimator.SignSwish => new SignSwish(),
            Estimator.EDE => new Ede(),
            Estimator.DSQ => new Dsq(),
            Estimator.FDA => new Fda(),
            Estimator.RBNN => new Rbnn(),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown estimator."),
        };

        /// <summary>Parses a name such as "reste" or "ApproxSign" (case-insensitive); the error lists the valid names.</summary>
        public static Estimator Parse(string name, string source = "--estimator")
        {
            if (Enum.TryParse<Estimator>(name, ignoreCase: true, out var kind) && Enum.IsDefined(kind)) return kind;
            throw new ArgumentException($"{source}: unknown estimator '{name}'; expected one of {string.Join(", ", Enum.GetNames<Estimator>())}.");
        }
    }
}

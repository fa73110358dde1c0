using System;
using System.Collections.Generic;
using System.Linq;
using ReSTE.Runtime.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Estimators
{
    /// <summary>Checks estimator constants: a clear <see cref="ArgumentException"/> naming the value and its source.</summary>
    public static class EstimatorGuard
    {
        public static void Finite(double value, string name, string source)
        {
            if (double.IsNaN(value) || double.IsInfinity(value))
                throw new ArgumentException($"{source}: {name} = {value.ToString(System.Globalization.CultureInfo.InvariantCulture)} is not a finite number.", name);
        }

        public static void Positive(double value, string name, string source)
        {
            Finite(value, name, source);
            if (value <= 0)
                throw new ArgumentException($"{source}: {name} = {value.ToString(System.Globalization.CultureInfo.InvariantCulture)} must be > 0.", name);
        }
    }

    /// <summary>The forward of every estimator: sign, with sign(0) = 0 as in the reference code.</summary>
    public static class Sign
    {
        public static Tensor Forward(Tensor z) => z.sign();
    }

    /// <summary>
    /// ReSTE, the rectified straight-through estimator (Wu et al., "Estimator Meets Equilibrium Perspective", ICCV 2023;
    /// reference code DravenALG/ReSTE, <c>Binary_ReSTE</c>). Forward sign(z); backward the derivative of the power
    /// function f_o(z) = sign(z)|z|^(1/o):
    /// g(z) = 0 where |z| &gt; t; m^((1−o)/o) where |z| ≤ m (the slope (f(m) − f(0))/m); (1/o)|z|^((1−o)/o) otherwise.
    /// |z| = t is inside. With o = 1 this is STE clipped at t.
    /// </summary>
    public sealed class ReSTEEstimator : ISweepableEstimator
    {
        public const double DefaultT = 1.5;
        public const double DefaultM = 0.1;
        public const double DefaultOEnd = 3;

        double _oEnd;

        /// <summary>ReSTE with o moved by <paramref name="schedule"/> from 1 to <paramref name="oEnd"/>.</summary>
        public ReSTEEstimator(double oEnd = DefaultOEnd, double t = DefaultT, double m = DefaultM, ScheduleKind schedule = ScheduleKind.Cosine)
        {
            Validate(oEnd, t, m, "ReSTE estimator");
            if (!Enum.IsDefined(schedule)) throw new ArgumentOutOfRangeException(nameof(schedule), schedule, $"ReSTE estimator: schedule = {schedule} is not a ScheduleKind.");
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
            set { Validate(value, T, M, "ReSTE estimator OEnd"); _oEnd = value; if (Schedule == ScheduleKind.Constant) O = value; }
        }

        public void SetProgress(int epoch, int epochs) => O = OSchedule.At(Schedule, epoch, epochs, _oEnd);
        Tensor IEstimator.Approximate(Tensor z) => Approximate(z, O);
        Tensor IEstimator.Derivative(Tensor z) => Derivative(z, O, T, M);

        public string SweepParameter => "o";
        public string SweepDescription(double oEnd) => $"o from 1 to {oEnd}";
        public IReadOnlyList<(double Parameter, IEstimator Estimator)> Sweep(int points, double oEnd) =>
            Enumerable.Range(0, points).Select(i => { double o = 1 + (oEnd - 1) * i / (points - 1); return (o, (IEstimator)new ReSTEEstimator(o, T, M, ScheduleKind.Constant)); }).ToArray();

        public static void Validate(double o, double t, double m, string source = "ReSTE")
        {
            EstimatorGuard.Finite(o, "o", source);
            EstimatorGuard.Finite(t, "t", source);
            EstimatorGuard.Finite(m, "m", source);
            if (o < 1) throw new ArgumentException($"{source}: o = {Fmt(o)} must be ≥ 1.", nameof(o));
            if (m <= 0) throw new ArgumentException($"{source}: m = {Fmt(m)} must be > 0.", nameof(m));
            if (t <= m) throw new ArgumentException($"{source}: t = {Fmt(t)} must be greater than m = {Fmt(m)}.", nameof(t));
        }

        /// <summary>The slope used for |z| ≤ m: (f(m) − f(0))/m = m^(1/o)/m, in double as the reference computes it.</summary>
        public static double NearZeroSlope(double o, double m) => Math.Pow(m, 1 / o) / m;

        /// <summary>f_o(z) = sign(z)|z|^(1/o), the function whose derivative ReSTE uses.</summary>
        public static Tensor Approximate(Tensor z, double o) => z.abs().pow_(1 / o).mul_(z.sign());

        /// <summary>dF/dz as the reference's backward computes it (without the upstream gradient).</summary>
        public static Tensor Derivative(Tensor z, double o, double t, double m)
        {
            using var scope = NewDisposeScope();
            var a = z.abs();
            // (1/o)|z|^((1−o)/o); infinite at 0, but those elements take the near-zero slope below.
            var power = a.pow((1 - o) / o).mul_(1 / o);
            var result = power.masked_fill_(a.le(m), NearZeroSlope(o, m)).masked_fill_(a.gt(t), 0);
            return result.MoveToOuterDisposeScope();
        }

        /// <summary>The gradient with respect to z: <paramref name="grad"/> · dF/dz.</summary>
        public static Tensor Backward(Tensor z, Tensor grad, double o, double t, double m) => Derivative(z, o, t, m).mul_(grad);

        static string Fmt(double v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The straight-through estimator clipped at <c>clip</c> (Hubara et al., "Binarized Neural Networks", NeurIPS 2016;
    /// the reference code's <c>Binary</c>): gradient 1 where |z| ≤ clip, else 0. Its f is hardtanh.
    /// </summary>
    public sealed class SteEstimator : IEstimator
    {
        public const double DefaultClip = 1;
        public SteEstimator(double clip = DefaultClip) { Validate(clip); Clip = clip; }
        public double Clip { get; }
        public Estimator Kind => Estimator.STE;
        public double Parameter => double.NaN;
        public void SetProgress(int epoch, int epochs) { }
        Tensor IEstimator.Approximate(Tensor z) => Approximate(z, Clip);
        Tensor IEstimator.Derivative(Tensor z) => Derivative(z, Clip);
        public static void Validate(double clip, string source = "STE") => EstimatorGuard.Positive(clip, "clip", source);
        public static Tensor Approximate(Tensor z, double clip = DefaultClip) => z.clamp(-clip, clip);
        public static Tensor Derivative(Tensor z, double clip = DefaultClip) => z.abs().le(clip).to_type(z.dtype);
        public static Tensor Backward(Tensor z, Tensor grad, double clip = DefaultClip) => grad.masked_fill(z.abs().gt(clip), 0);
    }

    /// <summary>
    /// ApproxSign of Bi-Real Net (Liu et al., ECCV 2018): f(z) = 2z − z|z| inside [−1, 1], sign outside; gradient
    /// 2 − 2|z| inside, 0 outside.
    /// </summary>
    public sealed class ApproxSignEstimator : IEstimator
    {
        public Estimator Kind => Estimator.ApproxSign;
        public double Parameter => double.NaN;
        public void SetProgress(int epoch, int epochs) { }
        Tensor IEstimator.Approximate(Tensor z) => Approximate(z);
        Tensor IEstimator.Derivative(Tensor z) => Derivative(z);

        public static Tensor Approximate(Tensor z)
        {
            using var scope = NewDisposeScope();
            var inner = z.mul(2).sub_(z.mul(z.abs()));
            return torch.where(z.abs().le(1), inner, z.sign()).MoveToOuterDisposeScope();
        }

        public static Tensor Derivative(Tensor z)
        {
            using var scope = NewDisposeScope();
            return z.abs().mul_(-2).add_(2).clamp_min_(0).MoveToOuterDisposeScope();
        }

        public static Tensor Backward(Tensor z, Tensor grad) => Derivative(z).mul_(grad);
    }

    /// <summary>
    /// SignSwish of BNN+ (Darabi et al., "BNN+: Improved Binary Network Training", 2018):
    /// f(z) = 2σ(βz)(1 + βz(1 − σ(βz))) − 1, gradient β(2 − βz·tanh(βz/2)) / (1 + cosh(βz)). Default β = 5.
    /// </summary>
    public sealed class SignSwishEstimator : ISweepableEstimator
    {
        public const double DefaultBeta = 5;
        public SignSwishEstimator(double beta = DefaultBeta) { Validate(beta); Beta = beta; }
        public double Beta { get; }
        public Estimator Kind => Estimator.SignSwish;
        public double Parameter => Beta;
        public void SetProgress(int epoch, int epochs) { }
        Tensor IEstimator.Approximate(Tensor z) => Approximate(z, Beta);
        Tensor IEstimator.Derivative(Tensor z) => Derivative(z, Beta);
        public string SweepParameter => "beta";
        public string SweepDescription(double oEnd) => "beta from 0.1 to 20 (geometric)";
        public IReadOnlyList<(double Parameter, IEstimator Estimator)> Sweep(int points, double oEnd) =>
            Enumerable.Range(0, points).Select(i => { double b = 0.1 * Math.Pow(20 / 0.1, (double)i / (points - 1)); return (b, (IEstimator)new SignSwishEstimator(b)); }).ToArray();
        public static void Validate(double beta, string source = "SignSwish") => EstimatorGuard.Positive(beta, "beta", source);

        public static Tensor Approximate(Tensor z, double beta = DefaultBeta)
        {
            using var scope = NewDisposeScope();
            var bz = z.mul(beta);
            var s = bz.sigmoid();
            var result = s.neg().add_(1).mul_(bz).add_(1).mul_(s).mul_(2).sub_(1);
            return result.MoveToOuterDisposeScope();
        }

        public static Tensor Derivative(Tensor z, double beta = DefaultBeta)
        {
            using var scope = NewDisposeScope();
            var bz = z.mul(beta);
            var numerator = bz.mul(bz.mul(0.5).tanh_()).neg_().add_(2).mul_(beta);
            return numerator.div_(bz.cosh().add_(1)).MoveToOuterDisposeScope();
        }

        public static Tensor Backward(Tensor z, Tensor grad, double beta = DefaultBeta) => Derivative(z, beta).mul_(grad);
    }

    /// <summary>
    /// The estimators whose parameter t rises from Tmin to Tmax on a log scale over training,
    /// t = Tmin·10^(p·log10(Tmax/Tmin)) at progress p, with k = max(1/t, 1) (IR-Net's EDE, RBNN): the schedule, the
    /// sweep and the checks live here once; a subclass gives its f and f' at (t, k).
    /// </summary>
    public abstract class LogScheduleEstimator : ISweepableEstimator
    {
        private protected LogScheduleEstimator(double tMin, double tMax, string source)
        {
            EdeEstimator.Validate(tMin, tMax, source); TMin = tMin; TMax = tMax; (T, K) = EdeEstimator.At(0, tMin, tMax);
        }
        public double TMin { get; }
        public double TMax { get; }
        public double T { get; private set; }
        public double K { get; private set; }
        public abstract Estimator Kind { get; }
        public double Parameter => T;
        public void SetProgress(int epoch, int epochs) => (T, K) = EdeEstimator.At(OSchedule.Progress(epoch, epochs), TMin, TMax);
        Tensor IEstimator.Approximate(Tensor z) => ApproximateAt(z, T, K);
        Tensor IEstimator.Derivative(Tensor z) => DerivativeAt(z, T, K);
        /// <summary>f(z) at (t, k).</summary>
        protected abstract Tensor ApproximateAt(Tensor z, double t, double k);
        /// <summary>f'(z) at (t, k).</summary>
        protected abstract Tensor DerivativeAt(Tensor z, double t, double k);
        /// <summary>A new estimator of the same kind and range, at progress 0.</summary>
        protected abstract LogScheduleEstimator WithSameRange();
        public string SweepParameter => "t";
        public string SweepDescription(double oEnd) => $"t from {TMin} to {TMax} (its schedule)";
        public IReadOnlyList<(double Parameter, IEstimator Estimator)> Sweep(int points, double oEnd) =>
            Enumerable.Range(0, points).Select(i => { var e = WithSameRange(); e.SetProgress(i, points - 1); return (e.T, (IEstimator)e); }).ToArray();
    }

    /// <summary>
    /// The error decay estimator of IR-Net (Qin et al., "Forward and Backward Information Retention", CVPR 2020):
    /// f(z) = k·tanh(t·z), gradient k·t·(1 − tanh²(t·z)), with t = Tmin·10^(p·log10(Tmax/Tmin)) rising from Tmin to Tmax
    /// on a log scale as training progress p goes from 0 to 1, and k = max(1/t, 1). Defaults Tmin = 0.1, Tmax = 10.
    /// </summary>
    public sealed class EdeEstimator : LogScheduleEstimator
    {
        public const double DefaultTMin = 0.1;
        public const double DefaultTMax = 10;

        public EdeEstimator(double tMin = DefaultTMin, double tMax = DefaultTMax) : base(tMin, tMax, "EDE") { }
        public override Estimator Kind => Estimator.EDE;
        protected override Tensor ApproximateAt(Tensor z, double t, double k) => Approximate(z, t, k);
        protected override Tensor DerivativeAt(Tensor z, double t, double k) => Derivative(z, t, k);
        protected override LogScheduleEstimator WithSameRange() => new EdeEstimator(TMin, TMax);

        public static void Validate(double tMin, double tMax, string source = "EDE")
        {
            EstimatorGuard.Positive(tMin, "tMin", source);
            EstimatorGuard.Positive(tMax, "tMax", source);
            if (tMax < tMin) throw new ArgumentException($"{source}: tMax = {tMax} must be ≥ tMin = {tMin}.", nameof(tMax));
        }

        /// <summary>(t, k) at training progress <paramref name="progress"/> in [0, 1].</summary>
        public static (double T, double K) At(double progress, double tMin = DefaultTMin, double tMax = DefaultTMax)
        {
            double t = tMin * Math.Pow(10, Math.Clamp(progress, 0, 1) * Math.Log10(tMax / tMin));
            return (t, Math.Max(1 / t, 1));
        }

        public static Tensor Approximate(Tensor z, double t, double k) => z.mul(t).tanh_().mul_(k);

        public static Tensor Derivative(Tensor z, double t, double k)
        {
            using var scope = NewDisposeScope();
            var th = z.mul(t).tanh_();
            return th.mul(th).neg_().add_(1).mul_(k * t).MoveToOuterDisposeScope();
        }

        public static Tensor Backward(Tensor z, Tensor grad, double t, double k) => Derivative(z, t, k).mul_(grad);
    }

    /// <summary>
    /// Differentiable soft quantization (Gong et al., "Differentiable Soft Quantization", ICCV 2019) for one bit over
    /// [−1, 1] (Δ = 2): φ(z) = s·tanh(k·z), k = ln(2/α − 1)/Δ, s = 1/(1 − α) = 1/tanh(kΔ/2); sign outside [−1, 1].
    /// α → 0 moves it towards sign. Default α = 0.2.
    /// </summary>
    public sealed class DsqEstimator : ISweepableEstimator
    {
        public const double DefaultAlpha = 0.2;
        public DsqEstimator(double alpha = DefaultAlpha) { Validate(alpha); Alpha = alpha; }
        public double Alpha { get; }
        public Estimator Kind => Estimator.DSQ;
        public double Parameter => Alpha;
        public void SetProgress(int epoch, int epochs) { }
        Tensor IEstimator.Approximate(Tensor z) => Approximate(z, Alpha);
        Tensor IEstimator.Derivative(Tensor z) => Derivative(z, Alpha);
        public string SweepParameter => "alpha";
        public string SweepDescription(double oEnd) => "alpha from 0.999 down to 0.001";
        public IReadOnlyList<(double Parameter, IEstimator Estimator)> Sweep(int points, double oEnd) =>
            Enumerable.Range(0, points).Select(i => { double a = 0.999 + (0.001 - 0.999) * i / (points - 1); return (a, (IEstimator)new DsqEstimator(a)); }).ToArray();

        public static void Validate(double alpha, string source = "DSQ")
        {
            EstimatorGuard.Finite(alpha, "alpha", source);
            if (alpha <= 0 || alpha >= 1) throw new ArgumentException($"{source}: alpha = {alpha} must lie in (0, 1).", nameof(alpha));
        }

        public static double K(double alpha) => Math.Log(2 / alpha - 1) / 2;

        public static Tensor Approximate(Tensor z, double alpha = DefaultAlpha)
        {
            using var scope = NewDisposeScope();
            var inner = z.mul(K(alpha)).tanh_().div_(1 - alpha);
            return torch.where(z.abs().le(1), inner, z.sign()).MoveToOuterDisposeScope();
        }

        public static Tensor Derivative(Tensor z, double alpha = DefaultAlpha)
        {
            using var scope = NewDisposeScope();
            double k = K(alpha);
            var th = z.mul(k).tanh_();
            var d = th.mul(th).neg_().add_(1).mul_(k / (1 - alpha));
            return d.masked_fill_(z.abs().gt(1), 0).MoveToOuterDisposeScope();
        }

        public static Tensor Backward(Tensor z, Tensor grad, double alpha = DefaultAlpha) => Derivative(z, alpha).mul_(grad);
    }

    /// <summary>
    /// Frequency-domain approximation (Xu et al., "Learning Frequency Domain Approximation for Binary Neural Networks",
    /// NeurIPS 2021): the truncated Fourier series of the square wave,
    /// f(z) = (4/π) Σ_{i&lt;n} sin((2i+1)ωz)/(2i+1), gradient (4ω/π) Σ_{i&lt;n} cos((2i+1)ωz), kept inside one half period
    /// |z| ≤ π/ω (sign and 0 outside, where the periodic series would flip). Defaults ω = π/2, n = 4.
    /// More terms move it towards sign.
    /// </summary>
    public sealed class FdaEstimator : ISweepableEstimator
    {
        public const double DefaultOmega = Math.PI / 2;
        public const int DefaultTerms = 4;
        public FdaEstimator(double omega = DefaultOmega, int terms = DefaultTerms) { Validate(omega, terms); Omega = omega; Terms = terms; }
        public double Omega { get; }
        public int Terms { get; }
        public Estimator Kind => Estimator.FDA;
        public double Parameter => Terms;
        public void SetProgress(int epoch, int epochs) { }
        Tensor IEstimator.Approximate(Tensor z) => Approximate(z, Omega, Terms);
        Tensor IEstimator.Derivative(Tensor z) => Derivative(z, Omega, Terms);
        public string SweepParameter => "terms";
        public string SweepDescription(double oEnd) => "1 to 32 Fourier terms";
        public IReadOnlyList<(double Parameter, IEstimator Estimator)> Sweep(int points, double oEnd) =>
            Enumerable.Range(1, 32).Select(k => ((double)k, (IEstimator)new FdaEstimator(Omega, k))).ToArray();

        public static void Validate(double omega, int terms, string source = "FDA")
        {
            EstimatorGuard.Positive(omega, "omega", source);
            if (terms < 1) throw new ArgumentException($"{source}: terms = {terms} must be ≥ 1.", nameof(terms));
        }

        public static Tensor Approximate(Tensor z, double omega = DefaultOmega, int terms = DefaultTerms)
        {
            using var scope = NewDisposeScope();
            var sum = torch.zeros_like(z);
            for (int i = 0; i < terms; i++)
            {
                int h = 2 * i + 1;
                sum.add_(z.mul(h * omega).sin_().div_(h));
            }
            sum.mul_(4 / Math.PI);
            return torch.where(z.abs().le(Math.PI / omega), sum, z.sign()).MoveToOuterDisposeScope();
        }

        public static Tensor Derivative(Tensor z, double omega = DefaultOmega, int terms = DefaultTerms)
        {
            using var scope = NewDisposeScope();
            var sum = torch.zeros_like(z);
            for (int i = 0; i < terms; i++)
                sum.add_(z.mul((2 * i + 1) * omega).cos_());
            sum.mul_(4 * omega / Math.PI);
            return sum.masked_fill_(z.abs().gt(Math.PI / omega), 0).MoveToOuterDisposeScope();
        }

        public static Tensor Backward(Tensor z, Tensor grad, double omega = DefaultOmega, int terms = DefaultTerms) => Derivative(z, omega, terms).mul_(grad);
    }

    /// <summary>
    /// The training-aware sign approximation of RBNN (Lin et al., "Rotated Binary Neural Network", NeurIPS 2020):
    /// gradient max(0, k·(√2·t − t²|z|)), f(z) = k·sign(z)·(√2·t|z| − t²z²/2) up to |z| = √2/t, k·sign(z) beyond;
    /// t = Tmin·10^(p·log10(Tmax/Tmin)) with training progress p, k = max(1/t, 1). Defaults Tmin = 0.01, Tmax = 10.
    /// </summary>
    public sealed class RbnnEstimator : LogScheduleEstimator
    {
        public const double DefaultTMin = 1e-2;
        public const double DefaultTMax = 1e1;

        public RbnnEstimator(double tMin = DefaultTMin, double tMax = DefaultTMax) : base(tMin, tMax, "RBNN") { }
        public override Estimator Kind => Estimator.RBNN;
        protected override Tensor ApproximateAt(Tensor z, double t, double k) => Approximate(z, t, k);
        protected override Tensor DerivativeAt(Tensor z, double t, double k) => Derivative(z, t, k);
        protected override LogScheduleEstimator WithSameRange() => new RbnnEstimator(TMin, TMax);

        public static void Validate(double tMin, double tMax, string source = "RBNN") => EdeEstimator.Validate(tMin, tMax, source);

        public static (double T, double K) At(double progress, double tMin = DefaultTMin, double tMax = DefaultTMax) =>
            EdeEstimator.At(progress, tMin, tMax);

        public static Tensor Approximate(Tensor z, double t, double k)
        {
            using var scope = NewDisposeScope();
            var a = z.abs().clamp_max_(Math.Sqrt(2) / t);
            var inner = a.mul(Math.Sqrt(2) * t).sub_(a.mul(a).mul_(t * t / 2));
            return inner.mul_(z.sign()).mul_(k).MoveToOuterDisposeScope();
        }

        public static Tensor Derivative(Tensor z, double t, double k)
        {
            using var scope = NewDisposeScope();
            return z.abs().mul_(-t * t).add_(Math.Sqrt(2) * t).clamp_min_(0).mul_(k).MoveToOuterDisposeScope();
        }

        public static Tensor Backward(Tensor z, Tensor grad, double t, double k) => Derivative(z, t, k).mul_(grad);
    }
}

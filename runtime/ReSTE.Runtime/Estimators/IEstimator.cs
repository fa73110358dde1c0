using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Estimators
{
    /// <summary>
    /// An estimator as a named, pluggable part (as Larq's quantizers): its current parameter, how it moves with
    /// training progress, its approximation f of sign and f's derivative. Each estimator is one class
    /// (<see cref="ReSTEEstimator"/>, <see cref="SteEstimator"/>, …) holding its static math, which generated layers call on
    /// the hot path with their constants inlined, and this object, which describes the same estimator to the runtime
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

    /// <summary>
    /// How an estimator's parameter is swept towards sign in the property check (<c>EstimatorProperties</c>): its name,
    /// the sweep in words, and the estimator at each of <c>n</c> settings. Estimators without a parameter do not
    /// implement it (they are not flexible).
    /// </summary>
    public interface ISweepableEstimator : IEstimator
    {
        /// <summary>The parameter's name ("o", "t", "alpha").</summary>
        string SweepParameter { get; }
        /// <summary>The sweep in words ("o from 1 to 10").</summary>
        string SweepDescription(double oEnd);
        /// <summary>The estimator at <paramref name="points"/> settings from STE-like to sign-like, each its own object.</summary>
        IReadOnlyList<(double Parameter, IEstimator Estimator)> Sweep(int points, double oEnd);
    }

    /// <summary>
    /// Creates estimator objects from the catalogue (<see cref="EstimatorCatalog"/>): the description names the class
    /// and which attribute constants become which constructor arguments, so that a new estimator needs no case here.
    /// </summary>
    public static class EstimatorFactory
    {
        /// <summary>The estimator of <paramref name="kind"/> with default constants (o_end = <paramref name="oEnd"/> for ReSTE).</summary>
        public static IEstimator Create(Estimator kind, double oEnd = ReSTEEstimator.DefaultOEnd) =>
            Create(new BinarizeAttribute { Estimator = kind, OEnd = oEnd });

        /// <summary>The estimator <paramref name="policy"/> names, with its constants.</summary>
        public static IEstimator Create(BinarizeAttribute policy)
        {
            if (policy is null) throw new ArgumentNullException(nameof(policy));
            if (!Enum.IsDefined(policy.Estimator))
                throw new ArgumentOutOfRangeException(nameof(policy), policy.Estimator, $"Unknown estimator {(int)policy.Estimator}; expected one of {string.Join(", ", Enum.GetNames<Estimator>())}.");
            var description = EstimatorCatalog.Get(policy.Estimator);
            var type = typeof(EstimatorFactory).Assembly.GetType(description.FullTypeName)
                ?? throw new InvalidOperationException($"The catalogue names {description.FullTypeName} for {policy.Estimator}, which the runtime lacks.");
            var arguments = description.Settings
                .Select(s => typeof(BinarizeAttribute).GetProperty(s.Property)!.GetValue(policy))
                .ToArray();
            var constructor = type.GetConstructors().SingleOrDefault(c => c.GetParameters().Select(p => p.Name)
                                  .SequenceEqual(description.Settings.Select(s => s.Argument)))
                ?? throw new InvalidOperationException($"{type.Name} has no constructor ({string.Join(", ", description.Settings.Select(s => s.Argument))}) as the catalogue describes.");
            try
            {
                return (IEstimator)constructor.Invoke(arguments);
            }
            catch (TargetInvocationException e) when (e.InnerException is ArgumentException inner)
            {
                throw inner;
            }
        }

        /// <summary>Parses a name such as "reste" or "ApproxSign" (case-insensitive); the error lists the valid names.</summary>
        public static Estimator Parse(string name, string source = "--estimator")
        {
            if (Enum.TryParse<Estimator>(name, ignoreCase: true, out var kind) && Enum.IsDefined(kind)) return kind;
            throw new ArgumentException($"{source}: unknown estimator '{name}'; expected one of {string.Join(", ", Enum.GetNames<Estimator>())}.");
        }
    }
}

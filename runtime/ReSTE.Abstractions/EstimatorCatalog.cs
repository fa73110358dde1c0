using System;
using System.Collections.Generic;

namespace ReSTE.Runtime
{
    /// <summary>The range a constant of <see cref="BinarizeAttribute"/> must be in.</summary>
    public enum ValueRule
    {
        /// <summary>Any finite value.</summary>
        Any,
        /// <summary>&gt; 0.</summary>
        Positive,
        /// <summary>≥ 1.</summary>
        AtLeastOne,
        /// <summary>In (0, 1).</summary>
        OpenUnitInterval,
        /// <summary>&gt; 1.</summary>
        AboveOne,
    }

    /// <summary>How a constant must compare with another constant of the same estimator.</summary>
    public enum CrossRule
    {
        /// <summary>No comparison.</summary>
        None,
        /// <summary>Greater than the other (ReSTE: T &gt; M).</summary>
        GreaterThan,
        /// <summary>At least the other (EDE: TMax ≥ TMin).</summary>
        AtLeast,
    }

    /// <summary>
    /// One constant an estimator reads from <see cref="BinarizeAttribute"/>: the attribute property, the argument of
    /// the runtime estimator's constructor it becomes, and its valid range (checked at compile time by the generator,
    /// RESTE003–005 and RESTE010, and again by the runtime estimator's constructor).
    /// </summary>
    public sealed class EstimatorSetting
    {
        public EstimatorSetting(string property, string argument, ValueRule rule = ValueRule.Any, string diagnosticId = "RESTE010",
            CrossRule cross = CrossRule.None, string? other = null, string crossDiagnosticId = "RESTE010")
        {
            Property = property; Argument = argument; Rule = rule; DiagnosticId = diagnosticId;
            Cross = cross; Other = other; CrossDiagnosticId = crossDiagnosticId;
            if ((cross == CrossRule.None) != (other is null)) throw new ArgumentException($"{property}: a cross rule needs the other property, and only then.");
        }

        /// <summary>The property of <see cref="BinarizeAttribute"/> ("OEnd").</summary>
        public string Property { get; }
        /// <summary>The runtime estimator's constructor argument ("oEnd").</summary>
        public string Argument { get; }
        public ValueRule Rule { get; }
        /// <summary>The diagnostic reported when <see cref="Rule"/> fails.</summary>
        public string DiagnosticId { get; }
        public CrossRule Cross { get; }
        /// <summary>The property <see cref="Cross"/> compares with.</summary>
        public string? Other { get; }
        /// <summary>The diagnostic reported when <see cref="Cross"/> fails.</summary>
        public string CrossDiagnosticId { get; }

        /// <summary>The rule in words, for messages: "&gt; 0", "≥ 1", "in (0, 1)".</summary>
        public string RuleText => Rule switch
        {
            ValueRule.Positive => "> 0",
            ValueRule.AtLeastOne => "≥ 1",
            ValueRule.OpenUnitInterval => "in (0, 1)",
            ValueRule.AboveOne => "> 1",
            _ => "finite",
        };

        /// <summary>Whether <paramref name="value"/> satisfies <see cref="Rule"/>.</summary>
        public bool Satisfies(double value) => Rule switch
        {
            ValueRule.Positive => value > 0,
            ValueRule.AtLeastOne => value >= 1,
            ValueRule.OpenUnitInterval => value > 0 && value < 1,
            ValueRule.AboveOne => value > 1,
            _ => true,
        };

        /// <summary>Whether <paramref name="value"/> compares with <paramref name="other"/> as <see cref="Cross"/> asks.</summary>
        public bool SatisfiesCross(double value, double other) => Cross switch
        {
            CrossRule.GreaterThan => value > other,
            CrossRule.AtLeast => value >= other,
            _ => true,
        };

        /// <summary>The cross rule in words: "≥ EdeTMin", "&gt; M".</summary>
        public string CrossText => Cross == CrossRule.GreaterThan ? "> " + Other : "≥ " + Other;
    }

    /// <summary>
    /// One estimator, described once: which <see cref="BinarizeAttribute"/> constants it reads and their ranges, its
    /// runtime type (static math and <c>IEstimator</c> object in one class of <c>ReSTE.Runtime.Estimators</c>), and its
    /// backward entry. The generator's validation and emission and the runtime's <c>EstimatorFactory</c> all read it.
    /// </summary>
    public sealed class EstimatorDescription
    {
        public EstimatorDescription(Estimator kind, string typeName, EstimatorSetting[] settings, string[] backwardArguments,
            bool scheduled, string summary)
        {
            Kind = kind; TypeName = typeName; Settings = settings; BackwardArguments = backwardArguments;
            Scheduled = scheduled; Summary = summary;
            var perCall = new List<string>();
            foreach (var a in backwardArguments) if (a.StartsWith("@", StringComparison.Ordinal)) perCall.Add(a.Substring(1));
            PerCall = perCall;
        }

        public Estimator Kind { get; }
        /// <summary>The runtime class in <c>ReSTE.Runtime.Estimators</c> ("ReSTEEstimator").</summary>
        public string TypeName { get; }
        /// <summary>The full name of the runtime class.</summary>
        public string FullTypeName => "ReSTE.Runtime.Estimators." + TypeName;
        /// <summary>The constants it reads, in its constructor's order.</summary>
        public IReadOnlyList<EstimatorSetting> Settings { get; }
        /// <summary>
        /// The arguments of <c>TypeName.Backward(z, grad, …)</c> after z and grad: an attribute property (its value is
        /// compiled in as a literal) or "@" and a property of the estimator object, read on every call (the scheduled
        /// parameter: "@O" for ReSTE).
        /// </summary>
        public IReadOnlyList<string> BackwardArguments { get; }
        /// <summary>The estimator object's properties passed on every call (those of <see cref="BackwardArguments"/> with "@").</summary>
        public IReadOnlyList<string> PerCall { get; }
        /// <summary>Whether its parameter moves with training progress (<c>SetProgress</c>).</summary>
        public bool Scheduled { get; }
        /// <summary>The backward in words for the generated doc comment; "{Property}" stands for a constant's value.</summary>
        public string Summary { get; }
    }

    /// <summary>The estimators, one <see cref="EstimatorDescription"/> each, in the order of <see cref="Estimator"/>.</summary>
    public static class EstimatorCatalog
    {
        /// <summary>The properties every estimator reads.</summary>
        public static IReadOnlyList<string> Universal { get; } = new[] { "Estimator", "Activations", "Scale" };

        public static IReadOnlyList<EstimatorDescription> All { get; } = new[]
        {
            new EstimatorDescription(Estimator.ReSTE, "ReSTEEstimator",
                new[]
                {
                    new EstimatorSetting("OEnd", "oEnd", ValueRule.AtLeastOne, "RESTE003"),
                    new EstimatorSetting("T", "t", cross: CrossRule.GreaterThan, other: "M", crossDiagnosticId: "RESTE004"),
                    new EstimatorSetting("M", "m", ValueRule.Positive, "RESTE005"),
                    new EstimatorSetting("Schedule", "schedule"),
                },
                new[] { "@O", "T", "M" }, scheduled: true,
                "ReSTE backward with t = {T} and m = {M} inlined, o given per call ({Schedule} schedule from 1 to {OEnd})"),
            new EstimatorDescription(Estimator.STE, "SteEstimator",
                new[] { new EstimatorSetting("SteClip", "clip", ValueRule.Positive) },
                new[] { "SteClip" }, scheduled: false, "STE backward clipped at {SteClip}"),
            new EstimatorDescription(Estimator.ApproxSign, "ApproxSignEstimator",
                new EstimatorSetting[0], new string[0], scheduled: false, "ApproxSign backward (2 − 2|z| inside [−1, 1])"),
            new EstimatorDescription(Estimator.SignSwish, "SignSwishEstimator",
                new[] { new EstimatorSetting("Beta", "beta", ValueRule.Positive) },
                new[] { "Beta" }, scheduled: false, "SignSwish backward with β = {Beta}"),
            new EstimatorDescription(Estimator.EDE, "EdeEstimator",
                new[]
                {
                    new EstimatorSetting("EdeTMin", "tMin", ValueRule.Positive),
                    new EstimatorSetting("EdeTMax", "tMax", ValueRule.Positive, cross: CrossRule.AtLeast, other: "EdeTMin"),
                },
                new[] { "@T", "@K" }, scheduled: true, "EDE backward, t and k given per call (t from {EdeTMin} to {EdeTMax})"),
            new EstimatorDescription(Estimator.DSQ, "DsqEstimator",
                new[] { new EstimatorSetting("Alpha", "alpha", ValueRule.OpenUnitInterval) },
                new[] { "Alpha" }, scheduled: false, "DSQ backward with α = {Alpha}"),
            new EstimatorDescription(Estimator.FDA, "FdaEstimator",
                new[] { new EstimatorSetting("Omega", "omega", ValueRule.Positive), new EstimatorSetting("Terms", "terms", ValueRule.AtLeastOne) },
                new[] { "Omega", "Terms" }, scheduled: false, "FDA backward with ω = {Omega} and {Terms} terms"),
            new EstimatorDescription(Estimator.RBNN, "RbnnEstimator",
                new[]
                {
                    new EstimatorSetting("RbnnTMin", "tMin", ValueRule.Positive),
                    new EstimatorSetting("RbnnTMax", "tMax", ValueRule.Positive, cross: CrossRule.AtLeast, other: "RbnnTMin"),
                },
                new[] { "@T", "@K" }, scheduled: true, "RBNN backward, t and k given per call (t from {RbnnTMin} to {RbnnTMax})"),
            new EstimatorDescription(Estimator.ProgressiveSign, "ProgressiveSignEstimator",
                new[]
                {
                    new EstimatorSetting("ProgressiveAlpha", "alpha", ValueRule.AboveOne),
                    new EstimatorSetting("ProgressiveBeta", "beta", ValueRule.Positive),
                },
                new[] { "@S" }, scheduled: true,
                "ProgressiveSign backward (slope s on |z| ≤ 1/s), s given per call (s = α^(β·scale) with α = {ProgressiveAlpha}, β = {ProgressiveBeta}, scale from 0 to 1)"),
        };

        /// <summary>The description of <paramref name="kind"/>; an unknown value is an error naming it.</summary>
        public static EstimatorDescription Get(Estimator kind)
        {
            foreach (var d in All) if (d.Kind == kind) return d;
            throw new ArgumentOutOfRangeException(nameof(kind), kind, $"Estimator {(int)kind} is not in the catalogue; expected one of {string.Join(", ", Enum.GetNames(typeof(Estimator)))}.");
        }

        /// <summary>The estimators that read <paramref name="property"/> of <see cref="BinarizeAttribute"/>.</summary>
        public static IEnumerable<Estimator> Reading(string property)
        {
            foreach (var d in All)
                foreach (var s in d.Settings)
                    if (s.Property == property) { yield return d.Kind; break; }
        }
    }
}

using System;
using ReSTE.Generators.Diagnostics;
using ReSTE.Runtime;

namespace ReSTE.Generators.Parsing
{
    /// <summary>
    /// One constant of the policy, ready to emit: the <c>[Binarize]</c> property, its C# literal (invariant culture;
    /// enums as <c>global::ReSTE.Runtime.ScheduleKind.Cosine</c>) and its display text (the enum member's name).
    /// </summary>
    internal sealed record PolicyValue(string Property, string Literal, string Display);

    /// <summary>
    /// The binarization policy read from <c>[Binarize]</c>: the real enums of ReSTE.Abstractions, defaults taken from
    /// the real attribute, and the constants the chosen estimator reads (its <see cref="EstimatorDescription.Settings"/>).
    /// </summary>
    internal sealed record Policy(Estimator Estimator, bool Activations, ScaleMode Scale, EquatableArray<PolicyValue> Values)
    {
        public PolicyValue this[string property]
        {
            get
            {
                foreach (var v in Values) if (v.Property == property) return v;
                throw new ArgumentException($"The policy holds no value of {property}.", nameof(property));
            }
        }
    }

    /// <summary>A type that contains the annotated class: its keyword ("class", "struct", "record", "record struct", "interface") and name.</summary>
    internal sealed record ContainingType(string Keyword, string Name);

    /// <summary>
    /// Everything the emitter needs for one annotated class, and the diagnostics found while reading it. Holds no
    /// symbol, syntax node or compilation, so that it compares by value between runs.
    /// </summary>
    internal sealed record BinarizeSpec(
        string? Namespace,
        EquatableArray<ContainingType> ContainingTypes,
        string Keyword,
        string ClassName,
        string HintName,
        Policy? Policy,
        EquatableArray<DiagnosticInfo> Diagnostics)
    {
        /// <summary>The class as written in C# with its containing types, for messages and comments: "Outer.BasicBlock".</summary>
        public string DisplayName
        {
            get
            {
                var name = ClassName;
                for (int i = ContainingTypes.Count - 1; i >= 0; i--) name = ContainingTypes[i].Name + "." + name;
                return name;
            }
        }
    }
}

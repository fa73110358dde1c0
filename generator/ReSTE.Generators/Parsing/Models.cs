using System;
using ReSTE.Generators.Diagnostics;

namespace ReSTE.Generators.Parsing
{
    /// <summary>The estimators, in the order of <c>ReSTE.Runtime.Estimator</c> (the attribute gives the enum's value).</summary>
    internal enum EstimatorKind { ReSTE = 0, STE = 1, ApproxSign = 2, SignSwish = 3, EDE = 4, DSQ = 5, FDA = 6, RBNN = 7 }

    /// <summary>As <c>ReSTE.Runtime.ScaleMode</c>.</summary>
    internal enum ScaleKind { LayerMeanAbs = 0, ChannelMeanAbs = 1, None = 2 }

    /// <summary>As <c>ReSTE.Runtime.ScheduleKind</c>.</summary>
    internal enum ScheduleKindModel { Cosine = 0, Linear = 1, Constant = 2 }

    /// <summary>The binarization policy read from <c>[Binarize]</c>, defaults filled in (as the attribute's).</summary>
    internal sealed record Policy(
        EstimatorKind Estimator,
        double OEnd,
        double T,
        double M,
        bool Activations,
        ScaleKind Scale,
        ScheduleKindModel Schedule,
        double SteClip,
        double Beta,
        double EdeTMin,
        double EdeTMax,
        double Alpha,
        double Omega,
        int Terms,
        double RbnnTMin,
        double RbnnTMax)
    {
        public static Policy Default { get; } = new(EstimatorKind.ReSTE, 3, 1.5, 0.1, true, ScaleKind.LayerMeanAbs, ScheduleKindModel.Cosine,
            1, 5, 0.1, 10, 0.2, Math.PI / 2, 4, 0.01, 10);
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

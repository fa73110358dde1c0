using System;
using ReSTE.Runtime;
using ReSTE.Runtime.Layers;

namespace ReSTE.Samples.Models
{
    // Each policy: [Binarize] on a static partial class that only names it; the generator gives each its BinaryConv2d,
    // BinaryLinear and a static Layers factory, through which every model of this sample is built with that policy.
    [Binarize(Estimator = Estimator.ReSTE, OEnd = 3)] public static partial class ReSTEPolicy;
    [Binarize(Estimator = Estimator.ReSTE, OEnd = 3, Activations = false)] public static partial class ReSTEPolicyA32;
    [Binarize(Estimator = Estimator.STE)] public static partial class StePolicy;
    [Binarize(Estimator = Estimator.STE, Activations = false)] public static partial class StePolicyA32;
    [Binarize(Estimator = Estimator.ApproxSign)] public static partial class ApproxSignPolicy;
    [Binarize(Estimator = Estimator.ApproxSign, Activations = false)] public static partial class ApproxSignPolicyA32;
    [Binarize(Estimator = Estimator.SignSwish)] public static partial class SignSwishPolicy;
    [Binarize(Estimator = Estimator.SignSwish, Activations = false)] public static partial class SignSwishPolicyA32;
    [Binarize(Estimator = Estimator.EDE)] public static partial class EdePolicy;
    [Binarize(Estimator = Estimator.EDE, Activations = false)] public static partial class EdePolicyA32;
    [Binarize(Estimator = Estimator.DSQ)] public static partial class DsqPolicy;
    [Binarize(Estimator = Estimator.DSQ, Activations = false)] public static partial class DsqPolicyA32;
    [Binarize(Estimator = Estimator.FDA)] public static partial class FdaPolicy;
    [Binarize(Estimator = Estimator.FDA, Activations = false)] public static partial class FdaPolicyA32;
    [Binarize(Estimator = Estimator.RBNN)] public static partial class RbnnPolicy;
    [Binarize(Estimator = Estimator.RBNN, Activations = false)] public static partial class RbnnPolicyA32;

    /// <summary>The binary-layer factory of each policy: one per estimator, with binary or full-precision activations.</summary>
    public static class Policies
    {
        /// <summary>The default: ReSTE, 1W/1A, o from 1 to 3 on the cosine schedule (the paper's).</summary>
        public static IBinaryLayerFactory Default => ReSTEPolicy.Layers;

        public static IBinaryLayerFactory For(Estimator estimator, bool binaryActivations) => (estimator, binaryActivations) switch
        {
            (Estimator.ReSTE, true) => ReSTEPolicy.Layers,
            (Estimator.ReSTE, false) => ReSTEPolicyA32.Layers,
            (Estimator.STE, true) => StePolicy.Layers,
            (Estimator.STE, false) => StePolicyA32.Layers,
            (Estimator.ApproxSign, true) => ApproxSignPolicy.Layers,
            (Estimator.ApproxSign, false) => ApproxSignPolicyA32.Layers,
            (Estimator.SignSwish, true) => SignSwishPolicy.Layers,
            (Estimator.SignSwish, false) => SignSwishPolicyA32.Layers,
            (Estimator.EDE, true) => EdePolicy.Layers,
            (Estimator.EDE, false) => EdePolicyA32.Layers,
            (Estimator.DSQ, true) => DsqPolicy.Layers,
            (Estimator.DSQ, false) => DsqPolicyA32.Layers,
            (Estimator.FDA, true) => FdaPolicy.Layers,
            (Estimator.FDA, false) => FdaPolicyA32.Layers,
            (Estimator.RBNN, true) => RbnnPolicy.Layers,
            (Estimator.RBNN, false) => RbnnPolicyA32.Layers,
            _ => throw new ArgumentOutOfRangeException(nameof(estimator), estimator,
                $"No policy of the samples uses the {estimator} estimator; add one line above for it."),
        };
    }
}

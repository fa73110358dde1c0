using System;
using ReSTE.Runtime;
using ReSTE.Runtime.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Samples.Models
{
    /// <summary>
    /// The paper's binary unit: binary 3×3 convolution → ReLU → BatchNorm. Each policy below is this unit declared with
    /// its own [Binarize]; the generator gives each its <c>BinaryConv2d</c>, <c>BinaryLinear</c> and a static
    /// <c>Layers</c> factory, through which every model of this sample is built with that policy.
    /// </summary>
    public abstract class BinaryUnit : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> conv;
        private readonly BatchNorm2d bn;

        protected BinaryUnit(string name, nn.Module<Tensor, Tensor> conv, long channels) : base(name)
        {
            this.conv = conv;
            bn = nn.BatchNorm2d(channels);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return bn.forward(nn.functional.relu(conv.forward(x))).MoveToOuterDisposeScope();
        }
    }

    /// <summary>ReSTE, 1W/1A, o from 1 to 3 on the cosine schedule: the paper's default.</summary>
    [Binarize(Estimator = Estimator.ReSTE, OEnd = 3, Activations = true)]
    public sealed partial class ReSTEUnit : BinaryUnit
    {
        public ReSTEUnit(long inChannels, long outChannels, long stride = 1)
            : base(nameof(ReSTEUnit), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    /// <summary>ReSTE, 1W/32A.</summary>
    [Binarize(Estimator = Estimator.ReSTE, OEnd = 3, Activations = false)]
    public sealed partial class ReSTEUnitA32 : BinaryUnit
    {
        public ReSTEUnitA32(long inChannels, long outChannels, long stride = 1)
            : base(nameof(ReSTEUnitA32), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.STE)]
    public sealed partial class SteUnit : BinaryUnit
    {
        public SteUnit(long inChannels, long outChannels, long stride = 1)
            : base(nameof(SteUnit), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.STE, Activations = false)]
    public sealed partial class SteUnitA32 : BinaryUnit
    {
        public SteUnitA32(long inChannels, long outChannels, long stride = 1)
            : base(nameof(SteUnitA32), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.ApproxSign)]
    public sealed partial class ApproxSignUnit : BinaryUnit
    {
        public ApproxSignUnit(long inChannels, long outChannels, long stride = 1)
            : base(nameof(ApproxSignUnit), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.ApproxSign, Activations = false)]
    public sealed partial class ApproxSignUnitA32 : BinaryUnit
    {
        public ApproxSignUnitA32(long inChannels, long outChannels, long stride = 1)
            : base(nameof(ApproxSignUnitA32), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.SignSwish)]
    public sealed partial class SignSwishUnit : BinaryUnit
    {
        public SignSwishUnit(long inChannels, long outChannels, long stride = 1)
            : base(nameof(SignSwishUnit), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.SignSwish, Activations = false)]
    public sealed partial class SignSwishUnitA32 : BinaryUnit
    {
        public SignSwishUnitA32(long inChannels, long outChannels, long stride = 1)
            : base(nameof(SignSwishUnitA32), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.EDE)]
    public sealed partial class EdeUnit : BinaryUnit
    {
        public EdeUnit(long inChannels, long outChannels, long stride = 1)
            : base(nameof(EdeUnit), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.EDE, Activations = false)]
    public sealed partial class EdeUnitA32 : BinaryUnit
    {
        public EdeUnitA32(long inChannels, long outChannels, long stride = 1)
            : base(nameof(EdeUnitA32), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.DSQ)]
    public sealed partial class DsqUnit : BinaryUnit
    {
        public DsqUnit(long inChannels, long outChannels, long stride = 1)
            : base(nameof(DsqUnit), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.DSQ, Activations = false)]
    public sealed partial class DsqUnitA32 : BinaryUnit
    {
        public DsqUnitA32(long inChannels, long outChannels, long stride = 1)
            : base(nameof(DsqUnitA32), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.FDA)]
    public sealed partial class FdaUnit : BinaryUnit
    {
        public FdaUnit(long inChannels, long outChannels, long stride = 1)
            : base(nameof(FdaUnit), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.FDA, Activations = false)]
    public sealed partial class FdaUnitA32 : BinaryUnit
    {
        public FdaUnitA32(long inChannels, long outChannels, long stride = 1)
            : base(nameof(FdaUnitA32), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.RBNN)]
    public sealed partial class RbnnUnit : BinaryUnit
    {
        public RbnnUnit(long inChannels, long outChannels, long stride = 1)
            : base(nameof(RbnnUnit), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    [Binarize(Estimator = Estimator.RBNN, Activations = false)]
    public sealed partial class RbnnUnitA32 : BinaryUnit
    {
        public RbnnUnitA32(long inChannels, long outChannels, long stride = 1)
            : base(nameof(RbnnUnitA32), new BinaryConv2d(inChannels, outChannels, 3, stride, 1), outChannels) { }
    }

    /// <summary>The binary-layer factory of each policy: one per estimator, with binary or full-precision activations.</summary>
    public static class Policies
    {
        /// <summary>The default: ReSTE, 1W/1A.</summary>
        public static IBinaryLayerFactory Default => ReSTEUnit.Layers;

        public static IBinaryLayerFactory For(Estimator estimator, bool binaryActivations) => (estimator, binaryActivations) switch
        {
            (Estimator.ReSTE, true) => ReSTEUnit.Layers,
            (Estimator.ReSTE, false) => ReSTEUnitA32.Layers,
            (Estimator.STE, true) => SteUnit.Layers,
            (Estimator.STE, false) => SteUnitA32.Layers,
            (Estimator.ApproxSign, true) => ApproxSignUnit.Layers,
            (Estimator.ApproxSign, false) => ApproxSignUnitA32.Layers,
            (Estimator.SignSwish, true) => SignSwishUnit.Layers,
            (Estimator.SignSwish, false) => SignSwishUnitA32.Layers,
            (Estimator.EDE, true) => EdeUnit.Layers,
            (Estimator.EDE, false) => EdeUnitA32.Layers,
            (Estimator.DSQ, true) => DsqUnit.Layers,
            (Estimator.DSQ, false) => DsqUnitA32.Layers,
            (Estimator.FDA, true) => FdaUnit.Layers,
            (Estimator.FDA, false) => FdaUnitA32.Layers,
            (Estimator.RBNN, true) => RbnnUnit.Layers,
            (Estimator.RBNN, false) => RbnnUnitA32.Layers,
            _ => throw new ArgumentOutOfRangeException(nameof(estimator), estimator, "Unknown estimator."),
        };
    }
}

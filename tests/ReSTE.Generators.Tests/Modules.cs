using ReSTE.Runtime;
using TorchSharp;
using static TorchSharp.torch;

// Modules compiled by the real compiler with the generator as an analyzer: the equivalence and behaviour tests use
// their generated layers. One per estimator, so that every estimator's emitted code compiles in a consumer.
namespace ReSTE.Generators.Tests.Modules
{
    /// <summary>The reference's policy: ReSTE, 1W/1A, layer mean-abs scale; o set per test through OEnd and a Constant schedule.</summary>
    [Binarize(Estimator = Estimator.ReSTE, OEnd = 3, Schedule = ScheduleKind.Constant)]
    public sealed partial class ReSTEBlock : nn.Module<Tensor, Tensor>
    {
        private readonly BinaryConv2d conv1;
        private readonly BinaryLinear fc;

        public ReSTEBlock() : base(nameof(ReSTEBlock))
        {
            conv1 = new BinaryConv2d(2, 4, kernelSize: 3, padding: 1);
            fc = new BinaryLinear(4 * 4 * 4, 3);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => fc.forward(conv1.forward(x).flatten(1));
    }

    [Binarize(Estimator = Estimator.ReSTE, OEnd = 2.5, T = 1.2, M = 0.05, Schedule = ScheduleKind.Cosine)]
    public sealed partial class ReSTECosine : nn.Module<Tensor, Tensor>
    {
        public ReSTECosine() : base(nameof(ReSTECosine)) { }
        public override Tensor forward(Tensor x) => x;
    }

    [Binarize(Estimator = Estimator.STE, SteClip = 1.25, Activations = false)]
    public sealed partial class SteWeightsOnly : nn.Module<Tensor, Tensor>
    {
        public SteWeightsOnly() : base(nameof(SteWeightsOnly)) { }
        public override Tensor forward(Tensor x) => x;
    }

    [Binarize(Estimator = Estimator.ApproxSign, Scale = ScaleMode.ChannelMeanAbs)]
    public sealed partial class ApproxSignChannel : nn.Module<Tensor, Tensor>
    {
        public ApproxSignChannel() : base(nameof(ApproxSignChannel)) { }
        public override Tensor forward(Tensor x) => x;
    }

    [Binarize(Estimator = Estimator.SignSwish, Beta = 4, Scale = ScaleMode.None)]
    public sealed partial class SignSwishUnscaled : nn.Module<Tensor, Tensor>
    {
        public SignSwishUnscaled() : base(nameof(SignSwishUnscaled)) { }
        public override Tensor forward(Tensor x) => x;
    }

    [Binarize(Estimator = Estimator.EDE, EdeTMin = 0.2, EdeTMax = 8)]
    public sealed partial class EdeBlock : nn.Module<Tensor, Tensor>
    {
        public EdeBlock() : base(nameof(EdeBlock)) { }
        public override Tensor forward(Tensor x) => x;
    }

    [Binarize(Estimator = Estimator.DSQ, Alpha = 0.3)]
    public sealed partial class DsqBlock : nn.Module<Tensor, Tensor>
    {
        public DsqBlock() : base(nameof(DsqBlock)) { }
        public override Tensor forward(Tensor x) => x;
    }

    [Binarize(Estimator = Estimator.FDA, Omega = 1.5, Terms = 3)]
    public sealed partial class FdaBlock : nn.Module<Tensor, Tensor>
    {
        public FdaBlock() : base(nameof(FdaBlock)) { }
        public override Tensor forward(Tensor x) => x;
    }

    [Binarize(Estimator = Estimator.RBNN, RbnnTMin = 0.02, RbnnTMax = 5)]
    public sealed partial class RbnnBlock : nn.Module<Tensor, Tensor>
    {
        public RbnnBlock() : base(nameof(RbnnBlock)) { }
        public override Tensor forward(Tensor x) => x;
    }
}

namespace ReSTE.Generators.Tests.Modules
{
    /// <summary>A policy without a module of its own: the static class only names it.</summary>
    [Binarize(Estimator = Estimator.EDE, EdeTMin = 0.2, EdeTMax = 8)]
    public static partial class EdePolicy;
}

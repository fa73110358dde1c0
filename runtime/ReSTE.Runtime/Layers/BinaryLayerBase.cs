using System;
using System.Collections.Generic;
using System.Globalization;
using ReSTE.Runtime.Deploy;
using ReSTE.Runtime.Estimators;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Layers
{
    /// <summary>
    /// What every binary layer has whatever its policy: the latent full-precision <c>weight</c> (state dict name
    /// "weight"), an optional <c>bias</c>, PyTorch's default initialisation (kaiming_uniform with a = √5, bias uniform in
    /// ±1/√fan_in), parameter registration and the <see cref="IBinaryLayer"/> plumbing. The generator derives the
    /// policy's layers from <see cref="BinaryConv2dBase{TEstimator}"/> and <see cref="BinaryLinearBase{TEstimator}"/> and
    /// adds only the fused forward, with the policy compiled in (as TorchSharp's <c>Convolution</c> owns the parameters
    /// and <c>Conv2d</c> adds <c>forward</c>).
    /// </summary>
    /// <typeparam name="TEstimator">The estimator's concrete type, so that <c>layer.Estimator.O</c> needs no cast.</typeparam>
    public abstract class BinaryLayerBase<TEstimator> : nn.Module<Tensor, Tensor>, IBinaryLayer
        where TEstimator : class, IEstimator
    {
        /// <summary>The latent full-precision weight that sign binarizes.</summary>
        protected readonly Parameter weight;
        /// <summary>The full-precision bias, or null.</summary>
        protected readonly Parameter? bias;
        /// <summary>The estimator object: its current parameter is passed to the specialised sign on every call.</summary>
        protected readonly TEstimator estimator;

        private protected BinaryLayerBase(string name, long[] weightShape, long fanIn, bool bias, Device? device, ScalarType? dtype,
            TEstimator estimator, bool binarizesActivations, ScaleMode scale) : base(name)
        {
            this.estimator = estimator ?? throw new ArgumentNullException(nameof(estimator), $"{name}: the estimator is null.");
            if (!Enum.IsDefined(scale)) throw new ArgumentOutOfRangeException(nameof(scale), scale, $"{name}: scale = {scale} is not a ScaleMode.");
            BinarizesActivations = binarizesActivations;
            Scale = scale;
            weight = new Parameter(empty(weightShape, dtype, device));
            this.bias = bias ? new Parameter(empty(new[] { weightShape[0] }, dtype, device)) : null;
            using (no_grad())
            {
                nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));
                if (this.bias is not null)
                {
                    var bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
                    nn.init.uniform_(this.bias, -bound, bound);
                }
            }
            register_parameter("weight", weight);
            if (this.bias is not null) register_parameter("bias", this.bias);
        }

        /// <summary>The latent full-precision weight that sign binarizes (state dict name "weight").</summary>
        public Parameter Weight => weight;
        /// <summary>The full-precision bias, or null.</summary>
        public Parameter? Bias => bias;
        /// <summary>The estimator, as its concrete type (<c>layer.Estimator.O</c> for ReSTE).</summary>
        public TEstimator Estimator => estimator;
        IEstimator IBinaryLayer.Estimator => estimator;
        public Parameter LatentWeight => weight;
        public bool BinarizesActivations { get; }
        public ScaleMode Scale { get; }
        public long BinaryWeightCount => weight.numel();
        public void SetProgress(int epoch, int epochs) => estimator.SetProgress(epoch, epochs);

        /// <summary>The layer's product of an input and (binary) weights, with an optional bias: conv2d or linear.</summary>
        protected abstract Tensor Apply(Tensor input, Tensor weights, Tensor? bias);

        /// <summary>Adds the bias to an output computed without it (the eval forward adds it after the scale).</summary>
        protected abstract Tensor WithBias(Tensor output);

        private protected static void Check(bool ok, string layer, string name, object value, string rule)
        {
            if (!ok)
                throw new ArgumentOutOfRangeException(name, value,
                    layer + ": " + name + " = " + Convert.ToString(value, CultureInfo.InvariantCulture) + " must be " + rule + ".");
        }
    }

    /// <summary>
    /// A binary 2-D convolution's policy-free part: TorchSharp's <c>nn.Conv2d</c> arguments (kernel, stride, padding and
    /// dilation as one value, a pair or an array; <see cref="Padding.Same"/> / <see cref="Padding.Valid"/>; groups;
    /// bias; device and dtype), their checks, the weight of shape [out, in/groups, kH, kW], and the convolution itself
    /// (<see cref="Apply"/>). Zero padding comes after binarization: padded positions are 0, as in the reference.
    /// </summary>
    public abstract class BinaryConv2dBase<TEstimator> : BinaryLayerBase<TEstimator>, IExportable where TEstimator : class, IEstimator
    {
        const string Name = "BinaryConv2d";
        readonly long[] stride, padding, dilation;
        // Padding.Same with an even extent: zeros added before the convolution, one more on the bottom/right, as PyTorch does.
        readonly long[]? asymmetricPadding;

        protected BinaryConv2dBase(long inChannels, long outChannels, ConvSize kernelSize, ConvSize stride, ConvPadding padding,
            ConvSize dilation, long groups, bool bias, Device? device, ScalarType? dtype,
            TEstimator estimator, bool binarizesActivations, ScaleMode scale)
            : base(Name, WeightShape(inChannels, outChannels, kernelSize, groups), inChannels / Math.Max(groups, 1) * kernelSize.Height * kernelSize.Width,
                bias, device, dtype, estimator, binarizesActivations, scale)
        {
            var s = stride.Or(1);
            var d = dilation.Or(1);
            Check(s.Height > 0 && s.Width > 0, Name, nameof(stride), s, "> 0");
            Check(d.Height > 0 && d.Width > 0, Name, nameof(dilation), d, "> 0");
            this.stride = s.ToArray();
            this.dilation = d.ToArray();
            Groups = groups;
            KernelSize = kernelSize;
            PaddingArgument = padding;
            if (padding.Mode == TorchSharp.Padding.Same)
            {
                Check(s.Height == 1 && s.Width == 1, Name, nameof(padding), "Padding.Same", "used with stride 1 (stride = " + s + "), as in PyTorch");
                long th = d.Height * (kernelSize.Height - 1), tw = d.Width * (kernelSize.Width - 1);
                long top = th / 2, left = tw / 2;
                this.padding = new[] { top, left };
                if (th % 2 != 0 || tw % 2 != 0)
                {
                    asymmetricPadding = new[] { left, tw - left, top, th - top }; // F.pad order: W left/right, then H top/bottom
                    this.padding = new long[] { 0, 0 };
                }
            }
            else if (padding.Mode == TorchSharp.Padding.Valid || !padding.Size.IsSet)
            {
                this.padding = new long[] { 0, 0 };
            }
            else
            {
                var p = padding.Size;
                Check(p.Height >= 0 && p.Width >= 0, Name, nameof(padding), p, ">= 0");
                this.padding = p.ToArray();
            }
        }

        /// <summary>The kernel's height and width.</summary>
        public ConvSize KernelSize { get; }
        /// <summary>The stride, height and width.</summary>
        public IReadOnlyList<long> Stride => stride;
        /// <summary>The dilation, height and width.</summary>
        public IReadOnlyList<long> Dilation => dilation;
        /// <summary>The padding as given (a size, Padding.Same or Padding.Valid).</summary>
        public ConvPadding PaddingArgument { get; }
        public long Groups { get; }

        static long[] WeightShape(long inChannels, long outChannels, ConvSize kernelSize, long groups)
        {
            Check(inChannels > 0, Name, nameof(inChannels), inChannels, "> 0");
            Check(outChannels > 0, Name, nameof(outChannels), outChannels, "> 0");
            Check(kernelSize.IsSet && kernelSize.Height > 0 && kernelSize.Width > 0, Name, nameof(kernelSize), kernelSize, "> 0");
            Check(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0, Name, nameof(groups), groups,
                $"> 0 and divide inChannels = {inChannels} and outChannels = {outChannels}");
            return new[] { outChannels, inChannels / groups, kernelSize.Height, kernelSize.Width };
        }

        /// <summary>
        /// Exports as a binary convolution op (groups, dilation and 1W/32A included; a bias as an op adding it after the
        /// scale), after checking the layer's eval forward against sign(x) ⊛ β·sign(W) on a random input. Stride,
        /// padding and dilation must be the same on both axes, and Padding.Same with an even kernel (asymmetric) cannot
        /// be exported.
        /// </summary>
        public virtual void Export(ExportContext ctx)
        {
            ArgumentNullException.ThrowIfNull(ctx);
            if (asymmetricPadding is not null)
                throw ctx.Error($"Padding.Same with an even kernel extent pads unequally ({string.Join(", ", asymmetricPadding)}); the packed format pads both sides alike.");
            if (stride[0] != stride[1]) throw ctx.Error($"stride ({stride[0]}, {stride[1]}) differs per axis; the packed format has one stride.");
            if (padding[0] != padding[1]) throw ctx.Error($"padding ({padding[0]}, {padding[1]}) differs per axis; the packed format has one padding.");
            if (dilation[0] != dilation[1]) throw ctx.Error($"dilation ({dilation[0]}, {dilation[1]}) differs per axis; the packed format has one dilation.");
            var (conv, addBias) = LayerExport.BinaryConv(ctx.Path, this, this, (int)stride[0], (int)padding[0], (int)Groups, (int)dilation[0], bias);
            ctx.Emit(conv);
            if (addBias is not null) ctx.Emit(addBias);
        }

        protected sealed override Tensor Apply(Tensor input, Tensor weights, Tensor? bias)
        {
            if (asymmetricPadding is not null) input = nn.functional.pad(input, asymmetricPadding);
            return nn.functional.conv2d(input, weights, bias, strides: stride, padding: padding, dilation: dilation, groups: Groups);
        }

        protected sealed override Tensor WithBias(Tensor output) => bias is null ? output : output.add(bias.view(-1, 1, 1));
    }

    /// <summary>A binary fully connected layer's policy-free part: nn.Linear's arguments, checks and weight [out, in].</summary>
    public abstract class BinaryLinearBase<TEstimator> : BinaryLayerBase<TEstimator>, IExportable where TEstimator : class, IEstimator
    {
        const string Name = "BinaryLinear";

        protected BinaryLinearBase(long inFeatures, long outFeatures, bool bias, Device? device, ScalarType? dtype,
            TEstimator estimator, bool binarizesActivations, ScaleMode scale)
            : base(Name, WeightShape(inFeatures, outFeatures), inFeatures, bias, device, dtype, estimator, binarizesActivations, scale) { }

        static long[] WeightShape(long inFeatures, long outFeatures)
        {
            Check(inFeatures > 0, Name, nameof(inFeatures), inFeatures, "> 0");
            Check(outFeatures > 0, Name, nameof(outFeatures), outFeatures, "> 0");
            return new[] { outFeatures, inFeatures };
        }

        protected sealed override Tensor Apply(Tensor input, Tensor weights, Tensor? bias) => nn.functional.linear(input, weights, bias);

        /// <summary>
        /// Exports as a binary Linear op (XNOR/popcount over the input features, or 1W/32A), after checking the layer's
        /// eval forward against β·sign(W)·sign(x) + bias on a random input.
        /// </summary>
        public virtual void Export(ExportContext ctx)
        {
            ArgumentNullException.ThrowIfNull(ctx);
            ctx.Emit(LayerExport.BinaryLinear(ctx.Path, this, this, bias));
        }

        protected sealed override Tensor WithBias(Tensor output) => bias is null ? output : output.add(bias);
    }
}

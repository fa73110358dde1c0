using System;
using System.Collections.Generic;

namespace ReSTE.Inference.Format
{
    /// <summary>
    /// A deployable model: the input shape and a flat list of operations run in order on one activation. Residual
    /// blocks are bracketed by <see cref="ResidualBeginOp"/> (which saves the current activation) and
    /// <see cref="ResidualEndOp"/> (which adds the saved activation, through its shortcut, to the current one); they nest.
    /// </summary>
    public sealed class PackedModel
    {
        public PackedModel(int inputChannels, int inputHeight, int inputWidth, IReadOnlyList<DeployOp> ops,
            IReadOnlyDictionary<string, string>? metadata = null)
        {
            ArgumentNullException.ThrowIfNull(ops);
            if (inputChannels <= 0 || inputHeight <= 0 || inputWidth <= 0)
                throw new ArgumentException($"The input shape {inputChannels}×{inputHeight}×{inputWidth} must be positive.");
            InputChannels = inputChannels; InputHeight = inputHeight; InputWidth = inputWidth;
            Ops = ops;
            Metadata = metadata ?? new Dictionary<string, string>();
        }

        public int InputChannels { get; }
        public int InputHeight { get; }
        public int InputWidth { get; }
        public IReadOnlyList<DeployOp> Ops { get; }
        /// <summary>Free-form key/value pairs (source checkpoint, estimator, accuracy…), stored in the file.</summary>
        public IReadOnlyDictionary<string, string> Metadata { get; }
    }

    /// <summary>The kinds of operation, as stored in the file (one byte).</summary>
    public enum OpKind : byte
    {
        Normalize = 1,
        Conv2d = 2,
        BinaryConv2d = 3,
        ReLU = 4,
        BatchNorm = 5,
        ResidualBegin = 6,
        ResidualEnd = 7,
        GlobalAvgPool = 8,
        Linear = 9,
        Hardtanh = 10,
        MaxPool2d = 11,
        ShortcutBranch = 12,
        /// <summary>Format version 2.</summary>
        BinaryLinear = 13,
        /// <summary>Format version 2.</summary>
        AvgPool2d = 14,
    }

    /// <summary>How a residual block's saved input reaches its output.</summary>
    public enum ShortcutKind : byte
    {
        /// <summary>The saved activation as it is.</summary>
        Identity = 0,
        /// <summary>
        /// He et al.'s option A: x[:, :, ::s, ::s], then <see cref="ResidualEndOp.PadBefore"/> zero channels before and
        /// <see cref="ResidualEndOp.PadAfter"/> after (PyTorch's F.pad(x[:, :, ::2, ::2], (0,0,0,0,p,p))).
        /// </summary>
        OptionA = 1,
    }

    /// <summary>One operation; <see cref="Name"/> is the source module's name (for summaries and errors).</summary>
    public abstract class DeployOp
    {
        protected DeployOp(string name) { Name = name ?? throw new ArgumentNullException(nameof(name)); }
        public string Name { get; }
        public abstract OpKind Kind { get; }

        protected static void Check(bool condition, string name, string message)
        {
            if (!condition) throw new ArgumentException($"{name}: {message}");
        }
    }

    /// <summary>(x − mean[c]) / std[c], per channel.</summary>
    public sealed class NormalizeOp : DeployOp
    {
        public NormalizeOp(string name, float[] mean, float[] std) : base(name)
        {
            Check(mean.Length > 0 && mean.Length == std.Length, name, "mean and std must have one value per channel.");
            Mean = mean; Std = std;
        }
        public override OpKind Kind => OpKind.Normalize;
        public float[] Mean { get; }
        public float[] Std { get; }
    }

    /// <summary>A full-precision 2-D convolution (groups 1, dilation 1), weight OIHW, optional bias.</summary>
    public sealed class Conv2dOp : DeployOp
    {
        public Conv2dOp(string name, int inChannels, int outChannels, int kernelH, int kernelW, int stride, int padding, float[] weight, float[]? bias)
            : base(name)
        {
            Check(inChannels > 0 && outChannels > 0 && kernelH > 0 && kernelW > 0 && stride > 0 && padding >= 0, name, "bad convolution shape.");
            Check(weight.Length == (long)outChannels * inChannels * kernelH * kernelW, name, "weight length does not match its shape.");
            Check(bias is null || bias.Length == outChannels, name, "bias length must equal the output channels.");
            InChannels = inChannels; OutChannels = outChannels; KernelH = kernelH; KernelW = kernelW; Stride = stride; Padding = padding;
            Weight = weight; Bias = bias;
        }
        public override OpKind Kind => OpKind.Conv2d;
        public int InChannels { get; }
        public int OutChannels { get; }
        public int KernelH { get; }
        public int KernelW { get; }
        public int Stride { get; }
        public int Padding { get; }
        public float[] Weight { get; }
        public float[]? Bias { get; }
    }

    /// <summary>
    /// A binary 2-D convolution: weight sign(W) (OIHW, packed; I = in/groups) times <see cref="Scale"/> (one value for
    /// the layer, or one per output channel); when <see cref="BinarizesActivations"/>, the input is sign(x) with
    /// sign(0) = 0 (1W/1A), else the float input itself (1W/32A); the border is padded with 0 after binarization
    /// (padded positions contribute nothing). <see cref="Groups"/> splits the channels as PyTorch's <c>groups</c> does
    /// (groups = in = out: depthwise); <see cref="Dilation"/> spaces the taps. Groups or dilation other than 1 need
    /// format version 2.
    /// </summary>
    public sealed class BinaryConv2dOp : DeployOp
    {
        public BinaryConv2dOp(string name, int inChannels, int outChannels, int kernelH, int kernelW, int stride, int padding,
            bool binarizesActivations, SignBits weight, float[] scale, int groups = 1, int dilation = 1) : base(name)
        {
            Check(inChannels > 0 && outChannels > 0 && kernelH > 0 && kernelW > 0 && stride > 0 && padding >= 0, name, "bad convolution shape.");
            Check(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0, name,
                $"groups {groups} must be positive and divide the input channels {inChannels} and output channels {outChannels}.");
            Check(dilation > 0, name, $"dilation {dilation} must be positive.");
            Check(weight.Count == (long)outChannels * (inChannels / groups) * kernelH * kernelW, name, "weight bit count does not match its shape.");
            Check(scale.Length == 1 || scale.Length == outChannels, name, "scale must have 1 value or one per output channel.");
            InChannels = inChannels; OutChannels = outChannels; KernelH = kernelH; KernelW = kernelW; Stride = stride; Padding = padding;
            BinarizesActivations = binarizesActivations; Weight = weight; Scale = scale; Groups = groups; Dilation = dilation;
        }
        public override OpKind Kind => OpKind.BinaryConv2d;
        public int InChannels { get; }
        public int OutChannels { get; }
        public int KernelH { get; }
        public int KernelW { get; }
        public int Stride { get; }
        public int Padding { get; }
        /// <summary>Channel groups (1: every output sees every input channel; in = out = groups: depthwise).</summary>
        public int Groups { get; }
        /// <summary>The spacing of the kernel's taps (1: adjacent pixels).</summary>
        public int Dilation { get; }
        /// <summary>Input channels each output channel sees (in / groups).</summary>
        public int GroupInChannels => InChannels / Groups;
        public bool BinarizesActivations { get; }
        public SignBits Weight { get; }
        public float[] Scale { get; }
        /// <summary>The scale of output channel <paramref name="o"/>.</summary>
        public float ScaleOf(int o) => Scale.Length == 1 ? Scale[0] : Scale[o];
        /// <summary>The output size along an axis of <paramref name="size"/> pixels (PyTorch's formula, rounded down).</summary>
        public int OutputSize(int size, int kernel) => (size + 2 * Padding - Dilation * (kernel - 1) - 1) / Stride + 1;
    }

    /// <summary>
    /// A binary fully connected layer on the flattened input (C·H·W features): y = β · (sign(W) · a) + bias, weight
    /// [out, in] packed, <see cref="Scale"/> one value or one per output; a = sign(x) (sign(0) = 0) when
    /// <see cref="BinarizesActivations"/> (XNOR/popcount over bit-planes), else the float input (1W/32A). Format
    /// version 2.
    /// </summary>
    public sealed class BinaryLinearOp : DeployOp
    {
        public BinaryLinearOp(string name, int inFeatures, int outFeatures, bool binarizesActivations, SignBits weight, float[] scale, float[]? bias)
            : base(name)
        {
            Check(inFeatures > 0 && outFeatures > 0, name, "bad linear shape.");
            Check(weight.Count == (long)inFeatures * outFeatures, name, "weight bit count does not match its shape.");
            Check(scale.Length == 1 || scale.Length == outFeatures, name, "scale must have 1 value or one per output.");
            Check(bias is null || bias.Length == outFeatures, name, "bias length must equal the output features.");
            InFeatures = inFeatures; OutFeatures = outFeatures; BinarizesActivations = binarizesActivations;
            Weight = weight; Scale = scale; Bias = bias;
        }
        public override OpKind Kind => OpKind.BinaryLinear;
        public int InFeatures { get; }
        public int OutFeatures { get; }
        public bool BinarizesActivations { get; }
        public SignBits Weight { get; }
        public float[] Scale { get; }
        public float[]? Bias { get; }
        /// <summary>The scale of output <paramref name="o"/>.</summary>
        public float ScaleOf(int o) => Scale.Length == 1 ? Scale[0] : Scale[o];
    }

    /// <summary>max(x, 0).</summary>
    public sealed class ReLUOp : DeployOp
    {
        public ReLUOp(string name) : base(name) { }
        public override OpKind Kind => OpKind.ReLU;
    }

    /// <summary>clamp(x, min, max).</summary>
    public sealed class HardtanhOp : DeployOp
    {
        public HardtanhOp(string name, float min = -1, float max = 1) : base(name)
        {
            Check(min <= max, name, "min must not exceed max.");
            Min = min; Max = max;
        }
        public override OpKind Kind => OpKind.Hardtanh;
        public float Min { get; }
        public float Max { get; }
    }

    /// <summary>
    /// BatchNorm in eval mode over channels (2-D) or features (1-D): (x − mean) / sqrt(var + eps) · weight + bias,
    /// stored as the module holds it; the engine folds it into a per-channel affine map.
    /// </summary>
    public sealed class BatchNormOp : DeployOp
    {
        public BatchNormOp(string name, float[] weight, float[] bias, float[] runningMean, float[] runningVar, float eps) : base(name)
        {
            int c = runningMean.Length;
            Check(c > 0 && weight.Length == c && bias.Length == c && runningVar.Length == c, name, "all BatchNorm vectors must have one value per channel.");
            Check(eps >= 0, name, "eps must be non-negative.");
            Weight = weight; Bias = bias; RunningMean = runningMean; RunningVar = runningVar; Eps = eps;
        }
        public override OpKind Kind => OpKind.BatchNorm;
        public int Channels => RunningMean.Length;
        public float[] Weight { get; }
        public float[] Bias { get; }
        public float[] RunningMean { get; }
        public float[] RunningVar { get; }
        public float Eps { get; }

        /// <summary>
        /// The affine map a·x + b equal to this BatchNorm, computed in float exactly as libtorch's CPU kernel does in eval
        /// mode on an FMA machine (invstd = 1 / sqrt(var + eps); a = invstd · weight; b = fma(−mean, a, bias)), so that
        /// fma(x, a, b) rounds as libtorch's output does: an activation that lands within rounding of 0 then gets the same sign on both sides.
        /// </summary>
        public (float[] A, float[] B) Fold()
        {
            var a = new float[Channels];
            var b = new float[Channels];
            for (int c = 0; c < Channels; c++)
            {
                float invstd = 1f / MathF.Sqrt(RunningVar[c] + Eps);
                float alpha = invstd * Weight[c];
                a[c] = alpha;
                b[c] = MathF.FusedMultiplyAdd(-RunningMean[c], alpha, Bias[c]);
            }
            return (a, b);
        }
    }

    /// <summary>
    /// Max pooling over <see cref="Kernel"/>×<see cref="Kernel"/> windows every <see cref="Stride"/> pixels, the input
    /// padded by <see cref="Padding"/> pixels of −∞ on each side, rounding the output size down (PyTorch's
    /// <c>max_pool2d(x, k, s, p)</c>; the ImageNet ResNets' stem pools 3×3, stride 2, padding 1). Padding needs format
    /// version 2.
    /// </summary>
    public sealed class MaxPool2dOp : DeployOp
    {
        public MaxPool2dOp(string name, int kernel, int stride, int padding = 0) : base(name)
        {
            Check(kernel > 0 && stride > 0, name, $"kernel {kernel} and stride {stride} must be positive.");
            Check(padding >= 0 && padding <= kernel / 2, name, $"padding {padding} must be between 0 and half the kernel ({kernel / 2}), as PyTorch requires.");
            Kernel = kernel; Stride = stride; Padding = padding;
        }
        public override OpKind Kind => OpKind.MaxPool2d;
        public int Kernel { get; }
        public int Stride { get; }
        public int Padding { get; }
        /// <summary>The output's height or width for an input of <paramref name="size"/>: ⌊(size + 2·padding − kernel) / stride⌋ + 1 (below 1: the window does not fit).</summary>
        public int OutputSize(int size) => size + 2 * Padding < Kernel ? 0 : (size + 2 * Padding - Kernel) / Stride + 1;
    }

    /// <summary>
    /// Average pooling over <see cref="Kernel"/>×<see cref="Kernel"/> windows every <see cref="Stride"/> pixels, no
    /// padding, rounding the output size down (PyTorch's <c>avg_pool2d(x, k, s)</c>: the sum of the window's k² values
    /// divided by k²). Format version 2.
    /// </summary>
    public sealed class AvgPool2dOp : DeployOp
    {
        public AvgPool2dOp(string name, int kernel, int stride) : base(name)
        {
            Check(kernel > 0 && stride > 0, name, $"kernel {kernel} and stride {stride} must be positive.");
            Kernel = kernel; Stride = stride;
        }
        public override OpKind Kind => OpKind.AvgPool2d;
        public int Kernel { get; }
        public int Stride { get; }
    }

    /// <summary>Saves the current activation as the input of a residual block's shortcut.</summary>
    public sealed class ResidualBeginOp : DeployOp
    {
        public ResidualBeginOp(string name) : base(name) { }
        public override OpKind Kind => OpKind.ResidualBegin;
    }

    /// <summary>
    /// Ends a residual block's main path and starts its shortcut branch: the main path's result is set aside, and the
    /// ops from here to the matching <see cref="ResidualEndOp"/> (which must then be an identity) run on the activation
    /// the block's <see cref="ResidualBeginOp"/> saved, e.g. a projection shortcut's 1×1 convolution and BatchNorm; the
    /// end adds the two.
    /// </summary>
    public sealed class ShortcutBranchOp : DeployOp
    {
        public ShortcutBranchOp(string name) : base(name) { }
        public override OpKind Kind => OpKind.ShortcutBranch;
    }

    /// <summary>
    /// Adds the shortcut of the activation saved by the matching <see cref="ResidualBeginOp"/>; after a
    /// <see cref="ShortcutBranchOp"/>, adds the branch's result and the main path's.
    /// </summary>
    public sealed class ResidualEndOp : DeployOp
    {
        public ResidualEndOp(string name, ShortcutKind shortcut, int stride = 1, int padBefore = 0, int padAfter = 0) : base(name)
        {
            Check(Enum.IsDefined(shortcut), name, $"unknown shortcut kind {(int)shortcut}.");
            Check(stride > 0 && padBefore >= 0 && padAfter >= 0, name, "bad shortcut parameters.");
            Check(shortcut != ShortcutKind.Identity || (stride == 1 && padBefore == 0 && padAfter == 0), name, "an identity shortcut has stride 1 and no padding.");
            Shortcut = shortcut; Stride = stride; PadBefore = padBefore; PadAfter = padAfter;
        }
        public override OpKind Kind => OpKind.ResidualEnd;
        public ShortcutKind Shortcut { get; }
        public int Stride { get; }
        public int PadBefore { get; }
        public int PadAfter { get; }
    }

    /// <summary>The mean over all spatial positions: C×H×W to C.</summary>
    public sealed class GlobalAvgPoolOp : DeployOp
    {
        public GlobalAvgPoolOp(string name) : base(name) { }
        public override OpKind Kind => OpKind.GlobalAvgPool;
    }

    /// <summary>A full-precision fully connected layer, weight [out, in], optional bias (input flattened C·H·W).</summary>
    public sealed class LinearOp : DeployOp
    {
        public LinearOp(string name, int inFeatures, int outFeatures, float[] weight, float[]? bias) : base(name)
        {
            Check(inFeatures > 0 && outFeatures > 0, name, "bad linear shape.");
            Check(weight.Length == (long)inFeatures * outFeatures, name, "weight length does not match its shape.");
            Check(bias is null || bias.Length == outFeatures, name, "bias length must equal the output features.");
            InFeatures = inFeatures; OutFeatures = outFeatures; Weight = weight; Bias = bias;
        }
        public override OpKind Kind => OpKind.Linear;
        public int InFeatures { get; }
        public int OutFeatures { get; }
        public float[] Weight { get; }
        public float[]? Bias { get; }
    }
}

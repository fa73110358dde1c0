using System;
using System.Collections.Generic;
using System.Linq;
using ReSTE.Inference.Format;
using ReSTE.Runtime.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Deploy
{
    /// <summary>
    /// Reads one layer into its op, and checks that the layer computes what the op describes: every convolution and
    /// binary layer is run on a random input (binary ones with exact zeros) against the op's semantics, so a layer that
    /// computes something else is refused rather than exported wrong. Errors name the layer's path.
    /// </summary>
    public static class LayerExport
    {
        /// <summary>A full-precision <c>nn.Conv2d</c> (groups 1, dilation 1, zero padding; stride and padding probed).</summary>
        public static Conv2dOp FloatConv(string name, Conv2d conv)
        {
            var w = conv.weight ?? throw Fail(name, "has no weight.");
            if (conv.groups != 1) throw Fail(name, $"a full-precision Conv2d with groups {conv.groups} is not exportable (only groups 1).");
            if (conv.dilation is { } d && d.Any(v => v != 1)) throw Fail(name, $"a full-precision Conv2d with dilation ({string.Join(", ", d)}) is not exportable (only 1).");
            if (conv.padding_mode != PaddingModes.Zeros) throw Fail(name, $"padding mode {conv.padding_mode} is not exportable (only zeros).");
            int o = (int)w.shape[0], i = (int)w.shape[1], kh = (int)w.shape[2], kw = (int)w.shape[3];
            var (stride, padding) = ProbeGeometry(name, conv, i, kh, kw);
            var weight = Floats(w);
            float[]? bias = conv.bias is null ? null : Floats(conv.bias);
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var x = randn(1, i, 9, 9);
                var expected = nn.functional.conv2d(x, w, conv.bias, strides: new[] { stride, stride }, padding: new[] { padding, padding });
                Verify(name, conv.forward(x), expected, "groups 1, dilation 1 and zero padding");
            }
            return new Conv2dOp(name, i, o, kh, kw, (int)stride, (int)padding, weight, bias);
        }

        /// <summary>A BatchNorm1d/2d in eval mode (its running statistics).</summary>
        public static BatchNormOp BatchNorm(string name, NormBase bn)
        {
            var mean = bn.running_mean ?? throw Fail(name, "the BatchNorm tracks no running statistics; eval mode needs them.");
            var var = bn.running_var!;
            int c = (int)mean.shape[0];
            var weight = bn.weight is null ? Enumerable.Repeat(1f, c).ToArray() : Floats(bn.weight);
            var bias = bn.bias is null ? new float[c] : Floats(bn.bias);
            return new BatchNormOp(name, weight, bias, Floats(mean), Floats(var), (float)bn.eps);
        }

        /// <summary>A full-precision <c>nn.Linear</c>.</summary>
        public static LinearOp Linear(string name, Linear linear)
        {
            var w = linear.weight!;
            return new LinearOp(name, (int)w.shape[1], (int)w.shape[0], Floats(w), linear.bias is null ? null : Floats(linear.bias));
        }

        /// <summary>
        /// A binary convolution with known geometry: sign(W)·β, sign(x) when it binarizes activations, zero padding
        /// after binarization, <paramref name="groups"/> and <paramref name="dilation"/> as PyTorch's; checked on a
        /// random input against exactly that. A bias is returned as a BatchNorm op that adds it (γ = 1, mean 0, var 1,
        /// ε = 0: x·1 + b, one rounding, as libtorch adds a bias after the scale).
        /// </summary>
        public static (BinaryConv2dOp Conv, BatchNormOp? Bias) BinaryConv(string name, nn.Module<Tensor, Tensor> conv, IBinaryLayer layer,
            int stride, int padding, int groups, int dilation, Tensor? bias)
        {
            var latent = layer.LatentWeight;
            if (latent.dim() != 4) throw Fail(name, $"has a {latent.dim()}-D weight; a binary convolution's is 4-D.");
            int o = (int)latent.shape[0], ig = (int)latent.shape[1], kh = (int)latent.shape[2], kw = (int)latent.shape[3];
            int i = ig * groups;
            var (bits, scale) = PackWeights(latent, layer.Scale);
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var x = RandomWithZeros(2, i, 7 + dilation * (kh - 1), 7 + dilation * (kw - 1));
                var expected = nn.functional.conv2d(layer.BinarizesActivations ? x.sign() : x, ScaledSigns(latent, layer.Scale), bias,
                    strides: new long[] { stride, stride }, padding: new long[] { padding, padding }, dilation: new long[] { dilation, dilation }, groups: groups);
                Verify(name, conv.forward(x), expected, "sign(x) ⊛ β·sign(W) with zero padding after binarization");
            }
            var op = new BinaryConv2dOp(name, i, o, kh, kw, stride, padding, layer.BinarizesActivations, bits, scale, groups, dilation);
            return (op, bias is null ? null : BiasOp(name, bias));
        }

        /// <summary>A binary Linear: y = β·(sign(W)·a) + bias, a = sign(x) when it binarizes activations; checked on a random input.</summary>
        public static BinaryLinearOp BinaryLinear(string name, nn.Module<Tensor, Tensor> linear, IBinaryLayer layer, Tensor? bias)
        {
            var latent = layer.LatentWeight;
            if (latent.dim() != 2) throw Fail(name, $"has a {latent.dim()}-D weight; a binary Linear's is 2-D.");
            int o = (int)latent.shape[0], i = (int)latent.shape[1];
            var (bits, scale) = PackWeights(latent, layer.Scale);
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var x = RandomWithZeros(3, i);
                var expected = nn.functional.linear(layer.BinarizesActivations ? x.sign() : x, ScaledSigns(latent, layer.Scale), bias);
                Verify(name, linear.forward(x), expected, "β·sign(W)·sign(x) + bias");
            }
            return new BinaryLinearOp(name, i, o, layer.BinarizesActivations, bits, scale, bias is null ? null : Floats(bias));
        }

        /// <summary>A binary layer not built on the runtime's bases: 2-D weight a binary Linear, 4-D a convolution (stride and padding probed).</summary>
        internal static void ProbedBinaryLayer(ExportContext ctx, IBinaryLayer layer)
        {
            if (layer is not nn.Module<Tensor, Tensor> module) throw ctx.Error($"{layer.GetType().Name} is not a Module<Tensor, Tensor>.");
            var latent = layer.LatentWeight;
            if (latent.dim() == 2) { ctx.Emit(BinaryLinear(ctx.Path, module, layer, null)); return; }
            if (latent.dim() != 4) throw ctx.Error($"has a {latent.dim()}-D weight; a binary layer's is 2-D (Linear) or 4-D (convolution).");
            int i = (int)latent.shape[1];
            if (ctx.TracksShapes && ctx.Channels != i)
                throw ctx.Error($"a binary convolution of {i} input channels per group (groups are not probed; build it on BinaryConv2dBase) gets {ctx.Channels}.");
            var (stride, padding) = ProbeGeometry(ctx.Path, module, i, (int)latent.shape[2], (int)latent.shape[3]);
            ctx.Emit(BinaryConv(ctx.Path, module, layer, (int)stride, (int)padding, 1, 1, null).Conv);
        }

        /// <summary>x + bias per channel as a BatchNorm op (exact: fold gives a = 1, b = bias).</summary>
        internal static BatchNormOp BiasOp(string name, Tensor bias)
        {
            var b = Floats(bias);
            return new BatchNormOp(name + ".bias", Enumerable.Repeat(1f, b.Length).ToArray(), b, new float[b.Length], Enumerable.Repeat(1f, b.Length).ToArray(), 0f);
        }

        static (SignBits Bits, float[] Scale) PackWeights(Tensor latent, ScaleMode mode)
        {
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var beta = BinaryWeights.Scale(latent.detach(), mode);
                var scale = beta is null ? new[] { 1f } : Floats(beta.reshape(-1));
                return (BitPacking.Pack(Floats(latent)), scale);
            }
        }

        static Tensor ScaledSigns(Tensor latent, ScaleMode mode)
        {
            var wb = latent.detach().sign();
            var beta = BinaryWeights.Scale(latent.detach(), mode);
            return beta is null ? wb : wb.mul(beta);
        }

        static Tensor RandomWithZeros(params long[] shape)
        {
            var x = randn(shape);
            x.index_put_(tensor(0f), x.abs().lt(0.3));
            return x;
        }

        static NotSupportedException Fail(string name, string message) => new($"{ExportSession.Display(name)}: {message}");

        /// <summary>A tensor's values as float32, copied.</summary>
        public static float[] Floats(Tensor t)
        {
            using var scope = NewDisposeScope();
            return t.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        }

        static void Verify(string name, Tensor actual, Tensor expected, string what)
        {
            if (!actual.shape.SequenceEqual(expected.shape))
                throw Fail(name, $"gives shape [{string.Join(",", actual.shape)}], the op it exports as [{string.Join(",", expected.shape)}].");
            double err = actual.sub(expected).abs().max().item<float>();
            double scale = Math.Max(1, expected.abs().max().item<float>());
            if (err > 1e-4 * scale)
                throw Fail(name, System.FormattableString.Invariant(
                    $"does not compute the layer the packed format describes (max difference {err:G3}): only {what} can be exported."));
        }

        /// <summary>Stride and padding of a convolution module, from the output sizes of inputs of a few sizes.</summary>
        internal static (long Stride, long Padding) ProbeGeometry(string name, nn.Module<Tensor, Tensor> conv, int inChannels, int kh, int kw)
        {
            int[] sizes = { kh + 9, kh + 10, kh + 14 };
            var outs = new long[sizes.Length];
            using (no_grad())
            using (var scope = NewDisposeScope())
                for (int j = 0; j < sizes.Length; j++)
                {
                    var y = conv.forward(zeros(1, inChannels, sizes[j], sizes[j] + kw - kh));
                    if (y.dim() != 4) throw Fail(name, $"returns a {y.dim()}-D tensor, not 4-D.");
                    if (y.shape[2] != y.shape[3] - (kw - kh) && kh == kw) throw Fail(name, "has different strides or paddings per axis.");
                    outs[j] = y.shape[2];
                }
            var found = new List<(long, long)>();
            for (long s = 1; s <= 8; s++)
                for (long p = 0; p <= Math.Max(kh, kw); p++)
                {
                    bool ok = true;
                    for (int j = 0; j < sizes.Length && ok; j++) ok = (sizes[j] + 2 * p - kh) / s + 1 == outs[j];
                    if (ok) found.Add((s, p));
                }
            if (found.Count != 1)
                throw Fail(name, $"cannot tell the stride and padding from its output sizes ({found.Count} candidates).");
            return found[0];
        }
    }
}

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
    /// Builds a <see cref="PackedModel"/> from a TorchSharp model, op by op, reading each layer from the model's named
    /// modules (the name is the PyTorch-style path, "layer1.0.conv1"). A model's forward is code, so its graph is
    /// stated here in the same order; <see cref="CifarResNetExport"/> and <see cref="VggSmallExport"/> do it for the
    /// sample's models, and <see cref="ExportCheck"/> then runs the packed model against the TorchSharp one.
    /// Convolution geometry (stride, padding) is read by probing the module with inputs of a few sizes, and every
    /// binary convolution is checked against sign(x) ⊛ β·sign(W) with zero padding after binarization on a random
    /// input (with exact zeros), so a layer that computes something else is refused rather than exported wrong.
    /// </summary>
    public sealed class PackedModelBuilder
    {
        readonly Dictionary<string, nn.Module> _modules = new();
        readonly List<DeployOp> _ops = new();
        readonly int _c, _h, _w;

        /// <summary>Starts a model taking <paramref name="channels"/>×<paramref name="height"/>×<paramref name="width"/> images.</summary>
        public PackedModelBuilder(nn.Module model, int channels, int height, int width)
        {
            ArgumentNullException.ThrowIfNull(model);
            foreach (var (name, module) in model.named_modules()) _modules[name] = module;
            _c = channels; _h = height; _w = width;
        }

        /// <summary>The ops added so far.</summary>
        public IReadOnlyList<DeployOp> Ops => _ops;

        /// <summary>Whether the model has a module called <paramref name="name"/>.</summary>
        public bool Has(string name) => _modules.ContainsKey(name);

        /// <summary>The module called <paramref name="name"/>.</summary>
        public nn.Module Module(string name) =>
            _modules.TryGetValue(name, out var m) ? m : throw new ArgumentException($"The model has no module '{name}'.", nameof(name));

        public PackedModelBuilder Normalize(float[] mean, float[] std, string name = "normalize")
        {
            _ops.Add(new NormalizeOp(name, mean, std));
            return this;
        }

        /// <summary>A full-precision <c>nn.Conv2d</c> (groups 1, dilation 1).</summary>
        public PackedModelBuilder Conv(string name)
        {
            if (Module(name) is not Conv2d conv) throw new ArgumentException($"'{name}' is a {Module(name).GetType().Name}, not a Conv2d.");
            var w = conv.weight ?? throw new ArgumentException($"'{name}' has no weight.");
            int o = (int)w.shape[0], i = (int)w.shape[1], kh = (int)w.shape[2], kw = (int)w.shape[3];
            var (stride, padding) = ProbeGeometry(name, conv, i, kh, kw);
            var weight = Floats(w);
            float[]? bias = conv.bias is null ? null : Floats(conv.bias);
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var x = randn(1, i, 9, 9);
                var expected = nn.functional.conv2d(x, w, conv.bias, strides: new[] { stride, stride }, padding: new[] { padding, padding });
                Verify(name, conv.forward(x), expected);
            }
            _ops.Add(new Conv2dOp(name, i, o, kh, kw, (int)stride, (int)padding, weight, bias));
            return this;
        }

        /// <summary>A binary convolution: any module implementing <see cref="IBinaryLayer"/> with a 4-D latent weight.</summary>
        public PackedModelBuilder BinaryConv(string name)
        {
            var module = Module(name);
            if (module is not IBinaryLayer layer || module is not nn.Module<Tensor, Tensor> conv)
                throw new ArgumentException($"'{name}' is a {module.GetType().Name}, not a binary layer (IBinaryLayer).");
            var latent = layer.LatentWeight;
            if (latent.dim() != 4) throw new ArgumentException($"'{name}' has a {latent.dim()}-D weight; a binary convolution's is 4-D.");
            int o = (int)latent.shape[0], i = (int)latent.shape[1], kh = (int)latent.shape[2], kw = (int)latent.shape[3];
            var (stride, padding) = ProbeGeometry(name, conv, i, kh, kw);
            float[] scale;
            SignBits bits;
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var beta = BinaryWeights.Scale(latent.detach(), layer.Scale);
                scale = beta is null ? new[] { 1f } : Floats(beta.reshape(-1));
                bits = BitPacking.Pack(Floats(latent));

                // Check the layer against the semantics the engine implements.
                var x = randn(2, i, 7, 7);
                x.index_put_(tensor(0f), x.abs().lt(0.3));
                var wb = latent.detach().sign();
                if (beta is not null) wb = wb.mul(beta);
                var input = layer.BinarizesActivations ? x.sign() : x;
                var expected = nn.functional.conv2d(input, wb, strides: new[] { stride, stride }, padding: new[] { padding, padding });
                Verify(name, conv.forward(x), expected);
            }
            _ops.Add(new BinaryConv2dOp(name, i, o, kh, kw, (int)stride, (int)padding, layer.BinarizesActivations, bits, scale));
            return this;
        }

        public PackedModelBuilder ReLU(string name = "relu")
        {
            _ops.Add(new ReLUOp(name));
            return this;
        }

        public PackedModelBuilder Hardtanh(string name = "hardtanh", float min = -1, float max = 1)
        {
            _ops.Add(new HardtanhOp(name, min, max));
            return this;
        }

        /// <summary>A BatchNorm1d/2d in eval mode (its running statistics).</summary>
        public PackedModelBuilder BatchNorm(string name)
        {
            if (Module(name) is not NormBase bn) throw new ArgumentException($"'{name}' is a {Module(name).GetType().Name}, not a BatchNorm.");
            var mean = bn.running_mean ?? throw new ArgumentException($"BatchNorm '{name}' tracks no running statistics; eval mode needs them.");
            var var = bn.running_var!;
            int c = (int)mean.shape[0];
            var weight = bn.weight is null ? Enumerable.Repeat(1f, c).ToArray() : Floats(bn.weight);
            var bias = bn.bias is null ? new float[c] : Floats(bn.bias);
            _ops.Add(new BatchNormOp(name, weight, bias, Floats(mean), Floats(var), (float)bn.eps));
            return this;
        }

        public PackedModelBuilder BeginResidual(string name)
        {
            _ops.Add(new ResidualBeginOp(name));
            return this;
        }

        public PackedModelBuilder EndResidual(string name, ShortcutKind shortcut = ShortcutKind.Identity, int stride = 1, int padBefore = 0, int padAfter = 0)
        {
            _ops.Add(new ResidualEndOp(name, shortcut, stride, padBefore, padAfter));
            return this;
        }

        /// <summary>Starts the shortcut branch of the open residual block (e.g. a projection: 1×1 conv + BN on the block's input).</summary>
        public PackedModelBuilder ShortcutBranch(string name)
        {
            _ops.Add(new ShortcutBranchOp(name));
            return this;
        }

        /// <summary>PyTorch's <c>max_pool2d(x, kernel, stride)</c> (no padding).</summary>
        public PackedModelBuilder MaxPool(string name, int kernel, int stride)
        {
            _ops.Add(new MaxPool2dOp(name, kernel, stride));
            return this;
        }

        public PackedModelBuilder GlobalAvgPool(string name = "avgpool")
        {
            _ops.Add(new GlobalAvgPoolOp(name));
            return this;
        }

        /// <summary>A full-precision <c>nn.Linear</c>.</summary>
        public PackedModelBuilder Linear(string name)
        {
            if (Module(name) is not Linear linear) throw new ArgumentException($"'{name}' is a {Module(name).GetType().Name}, not a Linear.");
            var w = linear.weight!;
            _ops.Add(new LinearOp(name, (int)w.shape[1], (int)w.shape[0], Floats(w), linear.bias is null ? null : Floats(linear.bias)));
            return this;
        }

        /// <summary>The packed model, with <paramref name="metadata"/>.</summary>
        public PackedModel Build(IReadOnlyDictionary<string, string>? metadata = null) => new(_c, _h, _w, _ops.ToArray(), metadata);

        // ------------------------------------------------------------------ helpers

        /// <summary>A tensor's values as float32, copied.</summary>
        public static float[] Floats(Tensor t)
        {
            using var scope = NewDisposeScope();
            return t.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        }

        static void Verify(string name, Tensor actual, Tensor expected)
        {
            if (!actual.shape.SequenceEqual(expected.shape))
                throw new NotSupportedException($"'{name}' gives shape [{string.Join(",", actual.shape)}], a plain convolution [{string.Join(",", expected.shape)}].");
            double err = actual.sub(expected).abs().max().item<float>();
            double scale = Math.Max(1, expected.abs().max().item<float>());
            if (err > 1e-4 * scale)
                throw new NotSupportedException(
                    $"'{name}' does not compute the convolution the packed format describes (max difference {err:G3}): " +
                    "only groups 1, dilation 1, zero padding and (for binary layers) sign(x) ⊛ β·sign(W) can be exported.");
        }

        /// <summary>Stride and padding of a convolution module, from the output sizes of inputs of a few sizes.</summary>
        static (long Stride, long Padding) ProbeGeometry(string name, nn.Module<Tensor, Tensor> conv, int inChannels, int kh, int kw)
        {
            int[] sizes = { kh + 9, kh + 10, kh + 14 };
            var outs = new long[sizes.Length];
            using (no_grad())
            using (var scope = NewDisposeScope())
                for (int j = 0; j < sizes.Length; j++)
                {
                    var y = conv.forward(zeros(1, inChannels, sizes[j], sizes[j] + kw - kh));
                    if (y.dim() != 4) throw new NotSupportedException($"'{name}' returns a {y.dim()}-D tensor, not 4-D.");
                    if (y.shape[2] != y.shape[3] - (kw - kh) && kh == kw) throw new NotSupportedException($"'{name}' has different strides or paddings per axis.");
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
                throw new NotSupportedException($"Cannot tell the stride and padding of '{name}' from its output sizes ({found.Count} candidates).");
            return found[0];
        }
    }
}

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
    /// Builds a <see cref="PackedModel"/> op by op, reading layers from the model's named modules (the name is the
    /// PyTorch-style path, "layer1.0.conv1"): the manual way, for a graph stated by hand. <see cref="ModelExporter"/> walks
    /// a model instead, each module exporting itself; both read and check layers with <see cref="LayerExport"/> (every
    /// convolution is run against the op it exports as on a random input, so a layer that computes something else is
    /// refused), and <see cref="ExportCheck"/> then runs the packed model against the TorchSharp one.
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

        /// <summary>Appends any op.</summary>
        public PackedModelBuilder Add(DeployOp op)
        {
            _ops.Add(op ?? throw new ArgumentNullException(nameof(op)));
            return this;
        }

        public PackedModelBuilder Normalize(float[] mean, float[] std, string name = "normalize") => Add(new NormalizeOp(name, mean, std));

        /// <summary>A full-precision <c>nn.Conv2d</c> (groups 1, dilation 1).</summary>
        public PackedModelBuilder Conv(string name)
        {
            if (Module(name) is not Conv2d conv) throw new ArgumentException($"'{name}' is a {Module(name).GetType().Name}, not a Conv2d.");
            return Add(LayerExport.FloatConv(name, conv));
        }

        /// <summary>
        /// A binary layer (<see cref="IBinaryLayer"/>): a convolution (4-D weight) or a Linear (2-D). Layers built on
        /// the runtime's bases export with their own geometry (groups, dilation), others with stride and padding probed.
        /// </summary>
        public PackedModelBuilder BinaryConv(string name)
        {
            var module = Module(name);
            if (module is not IBinaryLayer layer || module is not nn.Module<Tensor, Tensor>)
                throw new ArgumentException($"'{name}' is a {module.GetType().Name}, not a binary layer (IBinaryLayer).");
            var session = new ExportSession(module, new ExportRegistry(), 1, 1, 1) { TracksShapes = false };
            var ctx = new ExportContext(session, module, name);
            if (module is IExportable e) e.Export(ctx);
            else LayerExport.ProbedBinaryLayer(ctx, layer);
            foreach (var op in session.Ops) _ops.Add(op);
            return this;
        }

        public PackedModelBuilder ReLU(string name = "relu") => Add(new ReLUOp(name));

        public PackedModelBuilder Hardtanh(string name = "hardtanh", float min = -1, float max = 1) => Add(new HardtanhOp(name, min, max));

        /// <summary>A BatchNorm1d/2d in eval mode (its running statistics).</summary>
        public PackedModelBuilder BatchNorm(string name)
        {
            if (Module(name) is not NormBase bn) throw new ArgumentException($"'{name}' is a {Module(name).GetType().Name}, not a BatchNorm.");
            return Add(LayerExport.BatchNorm(name, bn));
        }

        public PackedModelBuilder BeginResidual(string name) => Add(new ResidualBeginOp(name));

        public PackedModelBuilder EndResidual(string name, ShortcutKind shortcut = ShortcutKind.Identity, int stride = 1, int padBefore = 0, int padAfter = 0) =>
            Add(new ResidualEndOp(name, shortcut, stride, padBefore, padAfter));

        /// <summary>Starts the shortcut branch of the open residual block (e.g. a projection: 1×1 conv + BN on the block's input).</summary>
        public PackedModelBuilder ShortcutBranch(string name) => Add(new ShortcutBranchOp(name));

        /// <summary>PyTorch's <c>max_pool2d(x, kernel, stride)</c> (no padding).</summary>
        public PackedModelBuilder MaxPool(string name, int kernel, int stride, int padding = 0) => Add(new MaxPool2dOp(name, kernel, stride, padding));

        /// <summary>PyTorch's <c>avg_pool2d(x, kernel, stride)</c> (no padding).</summary>
        public PackedModelBuilder AvgPool(string name, int kernel, int stride) => Add(new AvgPool2dOp(name, kernel, stride));

        public PackedModelBuilder GlobalAvgPool(string name = "avgpool") => Add(new GlobalAvgPoolOp(name));

        /// <summary>A full-precision <c>nn.Linear</c>.</summary>
        public PackedModelBuilder Linear(string name)
        {
            if (Module(name) is not Linear linear) throw new ArgumentException($"'{name}' is a {Module(name).GetType().Name}, not a Linear.");
            return Add(LayerExport.Linear(name, linear));
        }

        /// <summary>The packed model, with <paramref name="metadata"/>.</summary>
        public PackedModel Build(IReadOnlyDictionary<string, string>? metadata = null) => new(_c, _h, _w, _ops.ToArray(), metadata);

        /// <summary>A tensor's values as float32, copied.</summary>
        public static float[] Floats(Tensor t) => LayerExport.Floats(t);
    }
}

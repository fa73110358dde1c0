using System;
using System.Collections.Generic;
using System.Globalization;
using ReSTE.Inference.Format;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Deploy
{
    /// <summary>
    /// What a module's export writes into: the packed model's op list, built in the order of the forward, with the
    /// module's path in the model (<see cref="Path"/>, PyTorch-style: "layer2.0.conv1"; "" for the model itself) and the
    /// shape of the activation at this point (<see cref="Channels"/>, <see cref="Height"/>, <see cref="Width"/>).
    /// A graph API: <see cref="Export(nn.Module)"/> a child module (dispatched as <see cref="ModelExporter"/> does),
    /// <see cref="Emit"/> an op, the functional ops a forward calls (<see cref="ReLU"/>, <see cref="Hardtanh"/>,
    /// pooling, <see cref="Flatten"/>), and residual blocks: <see cref="BeginResidual"/> saves the activation,
    /// <see cref="ShortcutBranch"/> (optional) runs ops on the saved activation instead while the main path's result is
    /// set aside, <see cref="Add"/> adds the two (the saved activation as it is or through an option-A shortcut). Blocks
    /// nest. Concatenation is not in the packed format: a forward that concatenates cannot be exported.
    /// </summary>
    public sealed class ExportContext
    {
        readonly ExportSession _session;

        internal ExportContext(ExportSession session, nn.Module module, string path)
        {
            _session = session; Module = module; Path = path;
        }

        /// <summary>The module being exported.</summary>
        public nn.Module Module { get; }

        /// <summary>The module's path in the model ("layer2.0"; "" for the model itself).</summary>
        public string Path { get; }

        /// <summary>The name of an op or child called <paramref name="local"/> inside this module ("layer2.0.relu1").</summary>
        public string Name(string local) => Path.Length == 0 ? local : Path + "." + local;

        /// <summary>The ops emitted so far (the whole model's, from its first op).</summary>
        public IReadOnlyList<DeployOp> Ops => _session.Ops;

        /// <summary>Channels of the current activation (its features after a Linear).</summary>
        public int Channels => _session.Shape.C;
        /// <summary>Height of the current activation (1 after global pooling or a Linear).</summary>
        public int Height => _session.Shape.H;
        /// <summary>Width of the current activation.</summary>
        public int Width => _session.Shape.W;

        /// <summary>Whether <see cref="Channels"/>, <see cref="Height"/> and <see cref="Width"/> are followed (not under <see cref="PackedModelBuilder"/>).</summary>
        internal bool TracksShapes => _session.TracksShapes;

        /// <summary>A one-line error naming this module's path, to throw.</summary>
        public NotSupportedException Error(string message) => new($"{ExportSession.Display(Path)}: {message}");

        /// <summary>Appends <paramref name="op"/> (its name should be a path in the model) and follows its output shape.</summary>
        public void Emit(DeployOp op)
        {
            ArgumentNullException.ThrowIfNull(op);
            _session.Emit(op);
        }

        /// <summary>Exports <paramref name="child"/>, a module of the model, at its own path.</summary>
        public void Export(nn.Module child)
        {
            ArgumentNullException.ThrowIfNull(child);
            _session.Dispatch(child, _session.PathOf(child, Path));
        }

        /// <summary>Exports this module's child called <paramref name="childName"/> (as registered: its field name).</summary>
        public void Export(string childName)
        {
            foreach (var (name, child) in Module.named_children())
                if (name == childName) { _session.Dispatch(child, Name(name)); return; }
            throw Error($"has no child module '{childName}'.");
        }

        /// <summary>Exports every child module in registration order (what a Sequential's forward runs).</summary>
        public void ExportChildren()
        {
            foreach (var (name, child) in Module.named_children()) _session.Dispatch(child, Name(name));
        }

        /// <summary>max(x, 0), as <c>nn.functional.relu</c>.</summary>
        public void ReLU(string local = "relu") => Emit(new ReLUOp(Name(local)));

        /// <summary>clamp(x, min, max), as <c>nn.functional.hardtanh</c>.</summary>
        public void Hardtanh(string local = "hardtanh", float min = -1, float max = 1) => Emit(new HardtanhOp(Name(local), min, max));

        /// <summary><c>max_pool2d(x, kernel, stride, padding)</c> (padding of −∞, at most half the kernel).</summary>
        public void MaxPool2d(string local, int kernel, int stride, int padding = 0) => Emit(new MaxPool2dOp(Name(local), kernel, stride, padding));

        /// <summary><c>avg_pool2d(x, kernel, stride)</c> without padding; a window covering the whole map is the global average pool.</summary>
        public void AvgPool2d(string local, int kernel, int stride)
        {
            if (kernel == Height && kernel == Width && stride >= kernel) GlobalAvgPool(local);
            else Emit(new AvgPool2dOp(Name(local), kernel, stride));
        }

        /// <summary>The mean over all positions (<c>adaptive_avg_pool2d(x, 1)</c>): C×H×W to C.</summary>
        public void GlobalAvgPool(string local = "avgpool") => Emit(new GlobalAvgPoolOp(Name(local)));

        /// <summary>
        /// <c>x.flatten(1)</c>: no op (activations are stored C·H·W in order), but after it only a Linear (binary or
        /// not) may follow while the map is larger than 1×1.
        /// </summary>
        public void Flatten() => _session.Flatten(Path);

        /// <summary>Starts a residual block: saves the current activation. Named <see cref="Path"/>, or <see cref="Name"/>(<paramref name="local"/>).</summary>
        public void BeginResidual(string? local = null) => Emit(new ResidualBeginOp(local is null ? Path : Name(local)));

        /// <summary>Ends the open block's main path; the ops up to <see cref="Add"/> run on the block's saved input (a projection shortcut).</summary>
        public void ShortcutBranch(string local = "shortcut") => Emit(new ShortcutBranchOp(Name(local)));

        /// <summary>
        /// Ends the open block: adds its saved input to the current activation, as it is (<paramref name="shortcut"/>
        /// Identity) or through option A (every <paramref name="stride"/>-th pixel, zero channels padded before and
        /// after); after a <see cref="ShortcutBranch"/>, adds the branch's result and the main path's (Identity only).
        /// </summary>
        public void Add(string local = "add", ShortcutKind shortcut = ShortcutKind.Identity, int stride = 1, int padBefore = 0, int padAfter = 0) =>
            Emit(new ResidualEndOp(Name(local), shortcut, stride, padBefore, padAfter));

        /// <summary>
        /// out = main(x) + shortcut(x) in one call: <paramref name="main"/> emits the main path; <paramref name="shortcut"/>,
        /// when given, the shortcut branch (else the shortcut is the identity). Ops named <see cref="Path"/> (begin),
        /// "shortcut" (branch) and "add" (end) under this module, or under <paramref name="local"/>.
        /// </summary>
        public void Residual(Action<ExportContext> main, Action<ExportContext>? shortcut = null, string? local = null)
        {
            ArgumentNullException.ThrowIfNull(main);
            string prefix = local is null ? "" : local + ".";
            BeginResidual(local);
            main(this);
            if (shortcut is not null)
            {
                ShortcutBranch(prefix + "shortcut");
                shortcut(this);
            }
            Add(prefix + "add");
        }

        /// <summary>A key/value pair stored in the file's metadata (the caller's metadata, given to the exporter, wins).</summary>
        public void SetMetadata(string key, string value) => _session.Metadata[key] = value;

        /// <summary>An integer as metadata text (invariant culture).</summary>
        public void SetMetadata(string key, long value) => SetMetadata(key, value.ToString(CultureInfo.InvariantCulture));
    }
}

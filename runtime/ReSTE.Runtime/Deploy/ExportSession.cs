using System;
using System.Collections.Generic;
using System.Linq;
using ReSTE.Inference.Format;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Deploy
{
    /// <summary>
    /// One export's state: the ops, the metadata, the module paths of the model, the registry, and the shape of the
    /// activation after each op (followed here so that a handler can read it and a wrong shape is named at its op).
    /// </summary>
    internal sealed class ExportSession
    {
        readonly ExportRegistry _registry;
        readonly Dictionary<nn.Module, string> _paths = new(ReferenceEqualityComparer.Instance);
        readonly Stack<Block> _blocks = new();
        bool _flattened;
        string _flattenedAt = "";

        public ExportSession(nn.Module model, ExportRegistry registry, int c, int h, int w)
        {
            _registry = registry;
            _paths[model] = "";
            foreach (var (name, module) in model.named_modules())
                if (name.Length > 0) _paths.TryAdd(module, name);
            Shape = (c, h, w);
        }

        public readonly List<DeployOp> Ops = new();
        public readonly Dictionary<string, string> Metadata = new();
        public (int C, int H, int W) Shape;
        /// <summary>false: ops are appended unchecked (<see cref="PackedModelBuilder"/>, which states no shapes).</summary>
        public bool TracksShapes = true;

        /// <summary>A path for messages: the module path, or "model" for the model itself.</summary>
        public static string Display(string path) => path.Length == 0 ? "model" : path;

        public string PathOf(nn.Module module, string from) =>
            _paths.TryGetValue(module, out var p) ? p
            : throw new NotSupportedException($"{Display(from)}: a {TypeName(module.GetType())} that is not a registered module of the model cannot be exported (register it with RegisterComponents or register_module).");

        /// <summary>Exports <paramref name="module"/> at <paramref name="path"/>: a user's handler, then <see cref="IExportable"/>, then a built-in handler.</summary>
        public void Dispatch(nn.Module module, string path)
        {
            var ctx = new ExportContext(this, module, path);
            if (_registry.TryFindUser(module.GetType(), out var user)) { user(module, ctx); return; }
            if (module is IExportable exportable) { exportable.Export(ctx); return; }
            if (_registry.TryFindBuiltIn(module.GetType(), out var builtIn)) { builtIn(module, ctx); return; }
            throw new NotSupportedException(
                $"{Display(path)}: {TypeName(module.GetType())} is not exportable; implement IExportable or register a handler (ExportRegistry.Register<{TypeName(module.GetType())}>).");
        }

        public void Flatten(string path)
        {
            if (Shape.H * Shape.W > 1) { _flattened = true; _flattenedAt = path; }
        }

        public void Emit(DeployOp op)
        {
            if (!TracksShapes) { Ops.Add(op); return; }
            var (c, h, w) = Shape;
            if (_flattened && op is not (LinearOp or BinaryLinearOp))
                throw new NotSupportedException(
                    $"{op.Name}: follows the flatten at {Display(_flattenedAt)} of a {c}×{h}×{w} map; only a Linear may follow a flatten there (flatten after pooling to 1×1 otherwise).");
            string Fail(string message) => throw new NotSupportedException($"{op.Name}: {message}");
            switch (op)
            {
                case NormalizeOp n when n.Mean.Length != c: Fail($"{n.Mean.Length} channels for a {c}×{h}×{w} input."); break;
                case Conv2dOp conv:
                    if (conv.InChannels != c) Fail($"expects {conv.InChannels} input channels, gets {c}×{h}×{w}.");
                    Shape = (conv.OutChannels, (h + 2 * conv.Padding - conv.KernelH) / conv.Stride + 1, (w + 2 * conv.Padding - conv.KernelW) / conv.Stride + 1);
                    break;
                case BinaryConv2dOp b:
                    if (b.InChannels != c) Fail($"expects {b.InChannels} input channels, gets {c}×{h}×{w}.");
                    Shape = (b.OutChannels, b.OutputSize(h, b.KernelH), b.OutputSize(w, b.KernelW));
                    break;
                case BatchNormOp bn when bn.Channels != c: Fail($"{bn.Channels} channels for a {c}×{h}×{w} input."); break;
                case MaxPool2dOp m: Shape = (c, m.OutputSize(h), m.OutputSize(w)); break;
                case AvgPool2dOp a: Shape = (c, (h - a.Kernel) / a.Stride + 1, (w - a.Kernel) / a.Stride + 1); break;
                case GlobalAvgPoolOp: Shape = (c, 1, 1); break;
                case LinearOp l:
                    if (l.InFeatures != c * h * w) Fail($"expects {l.InFeatures} features, gets {c}×{h}×{w} = {c * h * w}.");
                    Shape = (l.OutFeatures, 1, 1);
                    break;
                case BinaryLinearOp bl:
                    if (bl.InFeatures != c * h * w) Fail($"expects {bl.InFeatures} features, gets {c}×{h}×{w} = {c * h * w}.");
                    Shape = (bl.OutFeatures, 1, 1);
                    break;
                case ResidualBeginOp: _blocks.Push(new Block(op.Name, Shape)); break;
                case ShortcutBranchOp:
                {
                    if (_blocks.Count == 0) Fail("no residual block is open.");
                    var block = _blocks.Pop();
                    if (block.Main is not null) Fail($"block '{block.Name}' already has a shortcut branch.");
                    _blocks.Push(block with { Main = Shape });
                    Shape = block.Saved;
                    break;
                }
                case ResidualEndOp r:
                {
                    if (_blocks.Count == 0) Fail("no residual block is open.");
                    var block = _blocks.Pop();
                    if (block.Main is { } main)
                    {
                        if (main != Shape) Fail($"the shortcut branch gives {Shape.C}×{Shape.H}×{Shape.W}, the main path {main.C}×{main.H}×{main.W}.");
                    }
                    else
                    {
                        var s = block.Saved;
                        int sc = s.C + r.PadBefore + r.PadAfter;
                        int sh = r.Shortcut == ShortcutKind.Identity ? s.H : (s.H + r.Stride - 1) / r.Stride;
                        int sw = r.Shortcut == ShortcutKind.Identity ? s.W : (s.W + r.Stride - 1) / r.Stride;
                        if ((sc, sh, sw) != Shape) Fail($"the shortcut gives {sc}×{sh}×{sw}, the block's main path {c}×{h}×{w}.");
                    }
                    break;
                }
            }
            if (Shape.H <= 0 || Shape.W <= 0) Fail($"the window does not fit a {c}×{h}×{w} input.");
            _flattened = false;
            Ops.Add(op);
        }

        public void CheckClosed()
        {
            if (_blocks.Count > 0) throw new NotSupportedException($"{_blocks.Peek().Name}: the residual block is never ended (Add).");
        }

        /// <summary>A type's name as C# writes it ("BinaryConv2dBase&lt;ReSTEEstimator&gt;").</summary>
        public static string TypeName(Type t)
        {
            if (!t.IsGenericType) return t.Name;
            var name = t.Name[..t.Name.IndexOf('`')];
            return $"{name}<{string.Join(", ", t.GetGenericArguments().Select(TypeName))}>";
        }

        readonly record struct Block(string Name, (int C, int H, int W) Saved, (int C, int H, int W)? Main = null);
    }
}

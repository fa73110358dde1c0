using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using Google.Protobuf;
using ReSTE.Inference.Format;
using ReSTE.Onnx.Proto;

namespace ReSTE.Onnx
{
    /// <summary>How <see cref="OnnxExport"/> writes a model.</summary>
    public sealed record OnnxExportOptions
    {
        /// <summary>
        /// BatchNorm as <c>Cast</c> to double, <c>Mul</c>, <c>Add</c>, <c>Cast</c> to float with the engine's folded
        /// constants, which rounds as libtorch's fused multiply-add does, instead of a float <c>BatchNormalization</c>
        /// (whose rounding differs by an ulp at times, which flips the sign of an activation that lands next to 0).
        /// Off by default: double arithmetic is slower and not every ONNX consumer (accelerators) has it.
        /// </summary>
        public bool ExactBatchNorm { get; init; }
    }

    /// <summary>
    /// Writes a <see cref="PackedModel"/> as a standard ONNX model (opset <see cref="Opset"/>, default domain only) in
    /// eval mode. Input <c>input</c> is float [batch, C, H, W] (batch is free); output <c>output</c> is the last
    /// activation ([batch, classes] for a classifier).
    /// <list type="bullet">
    /// <item>A binary convolution is <c>Sign</c> on its input (when it binarizes activations; ONNX's Sign(0) = 0, as the
    /// format's), a <c>Conv</c> whose weight constant is sign(W) (±1 in fp32; the convolution's own zero padding comes
    /// after the Sign, as the format's does), then <c>Mul</c> by the scale (one value or one per output channel). The scale
    /// is kept out of the weight so that the ±1 sums are integers, exact in fp32 whatever the summation order, as the
    /// engine's popcount is.</item>
    /// <item>A binary Linear is <c>Flatten</c> (from a feature map), <c>Sign</c> (when it binarizes activations), a
    /// <c>Gemm</c> with the ±1 weight, <c>Mul</c> by the scale and <c>Add</c> of the bias; a grouped, depthwise or
    /// dilated binary convolution sets the Conv's <c>group</c> and <c>dilations</c>; AvgPool2d → <c>AveragePool</c>.</item>
    /// <item>Conv2d → <c>Conv</c>; BatchNorm → <c>BatchNormalization</c>; ReLU → <c>Relu</c>; Hardtanh → <c>Clip</c>;
    /// MaxPool2d → <c>MaxPool</c>; GlobalAvgPool → <c>GlobalAveragePool</c> (N×C×1×1, flattened by a following Linear or at the output); Linear → <c>Flatten</c>
    /// (from a 4-D activation) + <c>Gemm</c>; Normalize → <c>Sub</c> and <c>Div</c> by per-channel constants.</item>
    /// <item>A residual block's end is an <c>Add</c> of the main path and the shortcut: the saved input itself, He et
    /// al.'s option A (<c>Slice</c> with steps on H and W, then <c>Pad</c> with zero channels), or a projection branch (its
    /// ops run on the saved input).</item>
    /// </list>
    /// An op kind this writer does not know is an error naming the op.
    /// </summary>
    public static class OnnxExport
    {
        /// <summary>The ONNX operator set the models use.</summary>
        public const int Opset = 13;

        /// <summary>The ONNX IR version written (IR 7 is the one of opset 13).</summary>
        public const int IrVersion = 7;

        /// <summary>The graph's input name.</summary>
        public const string InputName = "input";

        /// <summary>The graph's output name.</summary>
        public const string OutputName = "output";

        /// <summary>The model's bytes (a serialized ONNX ModelProto).</summary>
        public static byte[] ToBytes(PackedModel model, OnnxExportOptions? options = null) => Convert(model, options).ToByteArray();

        /// <summary>
        /// Writes the ONNX model to <paramref name="path"/> through a temporary file in the same folder and a rename, so
        /// that a failed write leaves any previous file as it was.
        /// </summary>
        public static void Save(PackedModel model, string path, OnnxExportOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(path);
            var bytes = ToBytes(model, options);
            var full = Path.GetFullPath(path);
            var dir = Path.GetDirectoryName(full)!;
            Directory.CreateDirectory(dir);
            var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
            try
            {
                using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
                {
                    fs.Write(bytes);
                    fs.Flush(flushToDisk: true);
                }
                File.Move(tmp, full, overwrite: true);
            }
            catch (Exception e)
            {
                try { if (File.Exists(tmp)) File.Delete(tmp); } catch (IOException) { }
                if (e is IOException && e.Message.IndexOf(full, StringComparison.Ordinal) < 0)
                    throw new IOException($"writing '{full}' failed ({e.Message.TrimEnd('.')}); the previous version, if any, is kept.", e);
                throw;
            }
        }

        /// <summary>The ONNX model of <paramref name="model"/>.</summary>
        internal static ModelProto Convert(PackedModel model, OnnxExportOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            var writer = new GraphWriter(model, options ?? new OnnxExportOptions());
            var graph = writer.Build();
            var result = new ModelProto
            {
                IrVersion = IrVersion,
                ProducerName = "ReSTE.Onnx",
                ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "",
                DocString = "A binary neural network exported from a ReSTE packed model (.rbnn): sign weights as ±1 fp32 constants, Sign on binarized activations.",
                Graph = graph,
            };
            result.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
            foreach (var (key, value) in model.Metadata)
                result.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
            return result;
        }

        /// <summary>An activation's shape without the batch: C×H×W, or F features (H = W = 0).</summary>
        readonly record struct Shape(int C, int H, int W)
        {
            public bool IsImage => H > 0;
            public override string ToString() => IsImage ? $"{C}×{H}×{W}" : $"{C}";
        }

        sealed class GraphWriter
        {
            readonly PackedModel _model;
            readonly OnnxExportOptions _options;
            readonly GraphProto _graph = new() { Name = "reste" };
            readonly HashSet<string> _names = new(StringComparer.Ordinal);
            readonly HashSet<string> _nodeNames = new(StringComparer.Ordinal);
            string _current = InputName;
            Shape _shape;

            /// <summary>An open residual block: its saved input and, after a ShortcutBranch, the main path's result.</summary>
            sealed class Block
            {
                public required DeployOp Begin;
                public required string Saved;
                public required Shape SavedShape;
                public string? Main;
                public Shape MainShape;
            }

            readonly Stack<Block> _blocks = new();

            public GraphWriter(PackedModel model, OnnxExportOptions options)
            {
                _model = model;
                _options = options;
                _shape = new Shape(model.InputChannels, model.InputHeight, model.InputWidth);
                _names.Add(InputName);
            }

            public GraphProto Build()
            {
                _graph.Input.Add(ValueInfo(InputName, _shape));
                foreach (var op in _model.Ops) Add(op);
                if (_blocks.Count > 0)
                    throw new InvalidDataException($"{_blocks.Peek().Begin.Name}: a residual block is never ended (no ResidualEnd after its ResidualBegin).");
                // A classifier's pooled N×C×1×1 output is given as N×C, as the engine gives it.
                if (_shape is { IsImage: true, H: 1, W: 1 })
                {
                    _current = Node("Flatten", "output.flatten", new[] { _current }, "output.flat", Attr("axis", 1));
                    _shape = new Shape(_shape.C, 0, 0);
                }
                // The output gets its own name through an Identity, whatever the last op was (even none).
                Node("Identity", "output", new[] { _current }, OutputName);
                _graph.Output.Add(ValueInfo(OutputName, _shape));
                return _graph;
            }

            void Add(DeployOp op)
            {
                switch (op)
                {
                    case NormalizeOp n:
                        RequireImage(op);
                        Check(n.Mean.Length == _shape.C, op, $"normalizes {n.Mean.Length} channels; its input has {_shape.C}.");
                        _current = Node("Sub", op.Name + ".sub", new[] { _current, Constant(op.Name + ".mean", n.Mean, 1, n.Mean.Length, 1, 1) }, op.Name + ".centered");
                        _current = Node("Div", op.Name + ".div", new[] { _current, Constant(op.Name + ".std", n.Std, 1, n.Std.Length, 1, 1) }, op.Name);
                        break;

                    case Conv2dOp c:
                        RequireImage(op);
                        Check(c.InChannels == _shape.C, op, $"takes {c.InChannels} channels; its input has {_shape.C}.");
                        {
                            var w = Constant(op.Name + ".weight", c.Weight, c.OutChannels, c.InChannels, c.KernelH, c.KernelW);
                            var inputs = c.Bias is null ? new[] { _current, w } : new[] { _current, w, Constant(op.Name + ".bias", c.Bias, c.OutChannels) };
                            _current = ConvNode(op.Name, inputs, op.Name, c.KernelH, c.KernelW, c.Stride, c.Padding);
                            _shape = ConvShape(op, c.OutChannels, c.KernelH, c.KernelW, c.Stride, c.Padding);
                        }
                        break;

                    case BinaryConv2dOp b:
                        RequireImage(op);
                        Check(b.InChannels == _shape.C, op, $"takes {b.InChannels} channels; its input has {_shape.C}.");
                        {
                            var input = b.BinarizesActivations ? Node("Sign", op.Name + ".sign", new[] { _current }, op.Name + ".sign") : _current;
                            var w = Constant(op.Name + ".weight_sign", b.Weight.ToFloats(), b.OutChannels, b.GroupInChannels, b.KernelH, b.KernelW);
                            var conv = ConvNode(op.Name + ".conv", new[] { input, w }, op.Name + ".conv", b.KernelH, b.KernelW, b.Stride, b.Padding, b.Dilation, b.Groups);
                            // [1, O, 1, 1] (or [1, 1, 1, 1]): ONNX Runtime folds a Mul by a scalar or an [O, 1, 1]
                            // constant into the Conv's weight (ConvMulFusion), which would make the ±1 sums inexact.
                            var scale = Constant(op.Name + ".scale", b.Scale, 1, b.Scale.Length, 1, 1);
                            _current = Node("Mul", op.Name + ".scale", new[] { conv, scale }, op.Name);
                            _shape = ConvShape(op, b.OutChannels, b.KernelH, b.KernelW, b.Stride, b.Padding, b.Dilation);
                        }
                        break;

                    case BinaryLinearOp bl:
                    {
                        int features = _shape.IsImage ? _shape.C * _shape.H * _shape.W : _shape.C;
                        Check(bl.InFeatures == features, op, $"takes {bl.InFeatures} features; its input has {features}{(_shape.IsImage ? $" ({_shape})" : "")}.");
                        if (_shape.IsImage) _current = Node("Flatten", op.Name + ".flatten", new[] { _current }, op.Name + ".flat", Attr("axis", 1));
                        var input = bl.BinarizesActivations ? Node("Sign", op.Name + ".sign", new[] { _current }, op.Name + ".sign") : _current;
                        // ±1 weights in a Gemm (the sums are integers when the input is binarized), then ·β, then
                        // + bias, each rounded once, as the engine and libtorch's eval forward compute it. The scale
                        // is [1, out], not a scalar, which ONNX Runtime would fold into the product (MatMulScaleFusion).
                        var w = Constant(op.Name + ".weight_sign", bl.Weight.ToFloats(), bl.OutFeatures, bl.InFeatures);
                        var product = Node("Gemm", op.Name + ".gemm", new[] { input, w }, op.Name + ".gemm", Attr("transB", 1));
                        var scaled = Node("Mul", op.Name + ".scale", new[] { product, Constant(op.Name + ".scale", bl.Scale, 1, bl.Scale.Length) },
                            bl.Bias is null ? op.Name : op.Name + ".scaled");
                        _current = bl.Bias is null ? scaled
                            : Node("Add", op.Name + ".bias", new[] { scaled, Constant(op.Name + ".bias", bl.Bias, 1, bl.OutFeatures) }, op.Name);
                        _shape = new Shape(bl.OutFeatures, 0, 0);
                    }
                    break;

                    case AvgPool2dOp ap:
                        RequireImage(op);
                        Check(_shape.H >= ap.Kernel && _shape.W >= ap.Kernel, op, $"pools {ap.Kernel}×{ap.Kernel} windows over a {_shape} input.");
                        _current = Node("AveragePool", op.Name, new[] { _current }, op.Name,
                            Attr("kernel_shape", ap.Kernel, ap.Kernel), Attr("strides", ap.Stride, ap.Stride), Attr("pads", 0, 0, 0, 0));
                        _shape = new Shape(_shape.C, (_shape.H - ap.Kernel) / ap.Stride + 1, (_shape.W - ap.Kernel) / ap.Stride + 1);
                        break;

                    case ReLUOp:
                        _current = Node("Relu", op.Name, new[] { _current }, op.Name);
                        break;

                    case HardtanhOp h:
                        _current = Node("Clip", op.Name, new[] { _current, Constant(op.Name + ".min", new[] { h.Min }), Constant(op.Name + ".max", new[] { h.Max }) }, op.Name);
                        break;

                    case BatchNormOp bn when _options.ExactBatchNorm:
                        Check(bn.Channels == _shape.C, op, $"normalizes {bn.Channels} channels; its input has {_shape.C}{(_shape.IsImage ? "" : " features")}.");
                        {
                            // fma(x, a, b) in float as libtorch and the engine compute it: x·a is exact in double, the
                            // sum is rounded once to double and then to float.
                            var (a, b) = bn.Fold();
                            long[] dims = _shape.IsImage ? new long[] { 1, bn.Channels, 1, 1 } : new long[] { 1, bn.Channels };
                            var x = Node("Cast", op.Name + ".to_double", new[] { _current }, op.Name + ".double", Attr("to", (long)TensorProto.Types.DataType.Double));
                            x = Node("Mul", op.Name + ".mul", new[] { x, DoubleConstant(op.Name + ".a", a, dims) }, op.Name + ".scaled");
                            x = Node("Add", op.Name + ".add", new[] { x, DoubleConstant(op.Name + ".b", b, dims) }, op.Name + ".shifted");
                            _current = Node("Cast", op.Name + ".to_float", new[] { x }, op.Name, Attr("to", (long)TensorProto.Types.DataType.Float));
                        }
                        break;

                    case BatchNormOp bn:
                        Check(bn.Channels == _shape.C, op, $"normalizes {bn.Channels} channels; its input has {_shape.C}{(_shape.IsImage ? "" : " features")}.");
                        _current = Node("BatchNormalization", op.Name, new[]
                        {
                            _current,
                            Constant(op.Name + ".weight", bn.Weight, bn.Channels),
                            Constant(op.Name + ".bias", bn.Bias, bn.Channels),
                            Constant(op.Name + ".running_mean", bn.RunningMean, bn.Channels),
                            Constant(op.Name + ".running_var", bn.RunningVar, bn.Channels),
                        }, op.Name, Attr("epsilon", bn.Eps));
                        break;

                    case MaxPool2dOp p:
                        RequireImage(op);
                        Check(p.OutputSize(_shape.H) >= 1 && p.OutputSize(_shape.W) >= 1, op, $"pools {p.Kernel}×{p.Kernel} windows over a {_shape} input.");
                        _current = Node("MaxPool", op.Name, new[] { _current }, op.Name,
                            Attr("kernel_shape", p.Kernel, p.Kernel), Attr("strides", p.Stride, p.Stride), Attr("pads", p.Padding, p.Padding, p.Padding, p.Padding));
                        _shape = new Shape(_shape.C, p.OutputSize(_shape.H), p.OutputSize(_shape.W));
                        break;

                    case GlobalAvgPoolOp:
                        // N×C×1×1: a map still (a Bi-Real downsample's 2×2 average pool over a 2×2 map is one, and a
                        // convolution follows); a Linear flattens it, and so does the end of the graph.
                        RequireImage(op);
                        _current = Node("GlobalAveragePool", op.Name, new[] { _current }, op.Name);
                        _shape = new Shape(_shape.C, 1, 1);
                        break;

                    case LinearOp l:
                    {
                        int features = _shape.IsImage ? _shape.C * _shape.H * _shape.W : _shape.C;
                        Check(l.InFeatures == features, op, $"takes {l.InFeatures} features; its input has {features}{(_shape.IsImage ? $" ({_shape})" : "")}.");
                        if (_shape.IsImage) _current = Node("Flatten", op.Name + ".flatten", new[] { _current }, op.Name + ".flat", Attr("axis", 1));
                        var w = Constant(op.Name + ".weight", l.Weight, l.OutFeatures, l.InFeatures);
                        var inputs = l.Bias is null ? new[] { _current, w } : new[] { _current, w, Constant(op.Name + ".bias", l.Bias, l.OutFeatures) };
                        _current = Node("Gemm", op.Name, inputs, op.Name, Attr("transB", 1));
                        _shape = new Shape(l.OutFeatures, 0, 0);
                    }
                    break;

                    case ResidualBeginOp:
                        _blocks.Push(new Block { Begin = op, Saved = _current, SavedShape = _shape });
                        break;

                    case ShortcutBranchOp:
                    {
                        Check(_blocks.Count > 0, op, "a shortcut branch outside a residual block.");
                        var block = _blocks.Peek();
                        Check(block.Main is null, op, $"a second shortcut branch in the block begun at '{block.Begin.Name}'.");
                        block.Main = _current;
                        block.MainShape = _shape;
                        _current = block.Saved;
                        _shape = block.SavedShape;
                    }
                    break;

                    case ResidualEndOp e:
                    {
                        Check(_blocks.Count > 0, op, "a residual end without a ResidualBegin.");
                        var block = _blocks.Pop();
                        string main, shortcut;
                        Shape mainShape, shortcutShape;
                        if (block.Main is not null)
                        {
                            Check(e.Shortcut == ShortcutKind.Identity, op, $"ends a shortcut branch, so its shortcut must be Identity, not {e.Shortcut}.");
                            main = block.Main; mainShape = block.MainShape;
                            shortcut = _current; shortcutShape = _shape;
                        }
                        else
                        {
                            main = _current; mainShape = _shape;
                            (shortcut, shortcutShape) = e.Shortcut switch
                            {
                                ShortcutKind.Identity => (block.Saved, block.SavedShape),
                                ShortcutKind.OptionA => OptionA(e, block.Saved, block.SavedShape),
                                _ => throw new NotSupportedException($"{op.Name}: ONNX export does not know shortcut kind {e.Shortcut}."),
                            };
                        }
                        Check(mainShape == shortcutShape, op, $"adds a {shortcutShape} shortcut to a {mainShape} main path.");
                        _current = Node("Add", op.Name, new[] { main, shortcut }, op.Name);
                        _shape = mainShape;
                    }
                    break;

                    default:
                        throw new NotSupportedException($"{op.Name}: ONNX export does not support op kind {op.Kind} ({op.GetType().Name}).");
                }
            }

            (string, Shape) OptionA(ResidualEndOp e, string saved, Shape shape)
            {
                Check(shape.IsImage, e, $"an option-A shortcut needs a C×H×W input, not {shape} features.");
                var name = e.Name + ".shortcut";
                string x = saved;
                int h = shape.H, w = shape.W;
                if (e.Stride != 1)
                {
                    x = Node("Slice", name + ".subsample", new[]
                    {
                        x,
                        Int64Constant(name + ".starts", 0, 0),
                        Int64Constant(name + ".ends", long.MaxValue, long.MaxValue),
                        Int64Constant(name + ".axes", 2, 3),
                        Int64Constant(name + ".steps", e.Stride, e.Stride),
                    }, name + ".subsampled");
                    h = (h + e.Stride - 1) / e.Stride;
                    w = (w + e.Stride - 1) / e.Stride;
                }
                if (e.PadBefore != 0 || e.PadAfter != 0)
                    x = Node("Pad", name + ".pad", new[] { x, Int64Constant(name + ".pads", 0, e.PadBefore, 0, 0, 0, e.PadAfter, 0, 0) }, name,
                        Attr("mode", "constant"));
                return (x, new Shape(shape.C + e.PadBefore + e.PadAfter, h, w));
            }

            Shape ConvShape(DeployOp op, int outChannels, int kh, int kw, int stride, int padding, int dilation = 1)
            {
                int h = _shape.H + 2 * padding - dilation * (kh - 1) - 1, w = _shape.W + 2 * padding - dilation * (kw - 1) - 1;
                Check(h >= 0 && w >= 0, op, $"a {kh}×{kw} kernel (dilation {dilation}) with padding {padding} does not fit its {_shape} input.");
                return new Shape(outChannels, h / stride + 1, w / stride + 1);
            }

            string ConvNode(string nodeName, string[] inputs, string output, int kh, int kw, int stride, int padding, int dilation = 1, int groups = 1) =>
                Node("Conv", nodeName, inputs, output,
                    Attr("kernel_shape", kh, kw), Attr("strides", stride, stride), Attr("pads", padding, padding, padding, padding),
                    Attr("dilations", dilation, dilation), Attr("group", groups));

            void RequireImage(DeployOp op) =>
                Check(_shape.IsImage, op, $"needs a C×H×W input; it gets {_shape} features (after pooling or a linear layer).");

            static void Check(bool condition, DeployOp op, string message)
            {
                if (!condition) throw new InvalidDataException($"{op.Name}: {message}");
            }

            /// <summary>A name not used yet: <paramref name="wanted"/>, or it with a numeric suffix.</summary>
            string Unique(string wanted) => Unique(_names, wanted);

            static string Unique(HashSet<string> names, string wanted)
            {
                if (string.IsNullOrEmpty(wanted)) wanted = "t";
                var name = wanted;
                for (int i = 1; !names.Add(name); i++) name = string.Create(CultureInfo.InvariantCulture, $"{wanted}_{i}");
                return name;
            }

            string Node(string opType, string nodeName, string[] inputs, string output, params AttributeProto[] attributes)
            {
                var node = new NodeProto { OpType = opType, Name = Unique(_nodeNames, nodeName) };
                node.Input.AddRange(inputs);
                var outName = Unique(output);
                node.Output.Add(outName);
                node.Attribute.AddRange(attributes);
                _graph.Node.Add(node);
                return outName;
            }

            string Constant(string name, float[] values, params long[] dims)
            {
                long count = dims.Aggregate(1L, (a, d) => a * d);
                if (count != values.Length) throw new InvalidDataException($"{name}: {values.Length} values for a tensor of shape [{string.Join(", ", dims)}].");
                var t = new TensorProto { Name = Unique(name), DataType = (int)TensorProto.Types.DataType.Float };
                t.Dims.AddRange(dims);
                t.RawData = ByteString.CopyFrom(LittleEndianBytes(values));
                _graph.Initializer.Add(t);
                return t.Name;
            }

            string DoubleConstant(string name, float[] values, long[] dims)
            {
                var t = new TensorProto { Name = Unique(name), DataType = (int)TensorProto.Types.DataType.Double };
                t.Dims.AddRange(dims);
                var bytes = new byte[values.Length * 8];
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
                t.RawData = ByteString.CopyFrom(bytes);
                _graph.Initializer.Add(t);
                return t.Name;
            }

            string Int64Constant(string name, params long[] values)
            {
                var t = new TensorProto { Name = Unique(name), DataType = (int)TensorProto.Types.DataType.Int64 };
                t.Dims.Add(values.Length);
                t.Int64Data.AddRange(values);
                _graph.Initializer.Add(t);
                return t.Name;
            }

            static byte[] LittleEndianBytes(float[] values)
            {
                var bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
                if (!BitConverter.IsLittleEndian)
                    for (int i = 0; i < bytes.Length; i += 4) Array.Reverse(bytes, i, 4);
                return bytes;
            }

            static ValueInfoProto ValueInfo(string name, Shape shape)
            {
                var tensorShape = new TensorShapeProto();
                tensorShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
                tensorShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = shape.C });
                if (shape.IsImage)
                {
                    tensorShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = shape.H });
                    tensorShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = shape.W });
                }
                return new ValueInfoProto
                {
                    Name = name,
                    Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = tensorShape } },
                };
            }

            static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

            static AttributeProto Attr(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

            static AttributeProto Attr(string name, string value) =>
                new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

            static AttributeProto Attr(string name, params long[] values)
            {
                var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
                a.Ints.AddRange(values);
                return a;
            }
        }
    }
}

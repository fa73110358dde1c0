using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using ReSTE.Inference.Format;

namespace ReSTE.Inference.Summary
{
    /// <summary>
    /// One layer's line of a <see cref="ModelSummary"/>. InputPrecision: "1-bit" where the layer binarizes its input,
    /// "fp32" otherwise, "-" for ops without weights. MemoryBytes: what the layer takes deployed, 1 bit per binary weight
    /// and 4 bytes per float (BatchNorm's running statistics included).
    /// </summary>
    public sealed record LayerSummary(
        string Name,
        string Kind,
        string InputPrecision,
        string OutputShape,
        long BinaryParameters,
        long FloatParameters,
        long MemoryBytes,
        long BinaryMacs,
        long FloatMacs);

    /// <summary>
    /// A Larq-style summary of a packed model: per layer the input precision, binary and full-precision parameter
    /// counts (PyTorch's parameters: BatchNorm's γ and β, not its running statistics), deployed memory and
    /// multiply-accumulates; totals, and the size against the same model in fp32.
    /// </summary>
    public sealed class ModelSummary
    {
        public IReadOnlyList<LayerSummary> Layers { get; }
        public long BinaryParameters => Layers.Sum(l => l.BinaryParameters);
        public long FloatParameters => Layers.Sum(l => l.FloatParameters);
        public long TotalParameters => BinaryParameters + FloatParameters;
        /// <summary>Deployed bytes of all layers (the file adds its header, names and checksums).</summary>
        public long MemoryBytes => Layers.Sum(l => l.MemoryBytes);
        /// <summary>Bytes of the same layers with every value in fp32 (BatchNorm statistics included).</summary>
        public long Float32Bytes { get; }
        public long BinaryMacs => Layers.Sum(l => l.BinaryMacs);
        public long FloatMacs => Layers.Sum(l => l.FloatMacs);
        /// <summary>fp32 bytes / deployed bytes.</summary>
        public double CompressionRatio => (double)Float32Bytes / MemoryBytes;

        ModelSummary(IReadOnlyList<LayerSummary> layers, long fp32Bytes) { Layers = layers; Float32Bytes = fp32Bytes; }

        public static ModelSummary Of(PackedModel model)
        {
            ArgumentNullException.ThrowIfNull(model);
            var rows = new List<LayerSummary>();
            long fp32 = 0;
            int c = model.InputChannels, h = model.InputHeight, w = model.InputWidth;
            var saved = new Stack<(int, int, int)>();
            var branch = new Stack<int>(); // the depth of each block whose shortcut branch is running
            string S() => h == 1 && w == 1 ? $"{c}" : $"{c}×{h}×{w}";
            foreach (var op in model.Ops)
            {
                switch (op)
                {
                    case Conv2dOp conv:
                    {
                        h = (h + 2 * conv.Padding - conv.KernelH) / conv.Stride + 1;
                        w = (w + 2 * conv.Padding - conv.KernelW) / conv.Stride + 1;
                        c = conv.OutChannels;
                        long p = conv.Weight.Length + (conv.Bias?.Length ?? 0);
                        long macs = (long)c * h * w * conv.InChannels * conv.KernelH * conv.KernelW;
                        rows.Add(new LayerSummary(op.Name, "Conv2d", "fp32", S(), 0, p, 4 * p, 0, macs));
                        fp32 += 4 * p;
                        break;
                    }
                    case BinaryConv2dOp b:
                    {
                        h = b.OutputSize(h, b.KernelH);
                        w = b.OutputSize(w, b.KernelW);
                        c = b.OutChannels;
                        long n = b.Weight.Count;
                        long macs = (long)c * h * w * b.GroupInChannels * b.KernelH * b.KernelW;
                        long bytes = b.Weight.Signs.Length + (b.Weight.NonZero?.Length ?? 0) + 4L * b.Scale.Length;
                        rows.Add(new LayerSummary(op.Name, "BinaryConv2d", b.BinarizesActivations ? "1-bit" : "fp32", S(), n, 0, bytes,
                            b.BinarizesActivations ? macs : 0, b.BinarizesActivations ? 0 : macs));
                        fp32 += 4 * n;
                        break;
                    }
                    case BatchNormOp bn:
                        rows.Add(new LayerSummary(op.Name, "BatchNorm", "fp32", S(), 0, 2L * bn.Channels, 16L * bn.Channels, 0, 0));
                        fp32 += 16L * bn.Channels;
                        break;
                    case LinearOp l:
                        c = l.OutFeatures; h = 1; w = 1;
                        long lp = l.Weight.Length + (l.Bias?.Length ?? 0);
                        rows.Add(new LayerSummary(op.Name, "Linear", "fp32", S(), 0, lp, 4 * lp, 0, (long)l.InFeatures * l.OutFeatures));
                        fp32 += 4 * lp;
                        break;
                    case BinaryLinearOp bl:
                    {
                        c = bl.OutFeatures; h = 1; w = 1;
                        long n = bl.Weight.Count, macs = (long)bl.InFeatures * bl.OutFeatures;
                        long fp = bl.Bias?.Length ?? 0;
                        long bytes = bl.Weight.Signs.Length + (bl.Weight.NonZero?.Length ?? 0) + 4L * bl.Scale.Length + 4 * fp;
                        rows.Add(new LayerSummary(op.Name, "BinaryLinear", bl.BinarizesActivations ? "1-bit" : "fp32", S(), n, fp, bytes,
                            bl.BinarizesActivations ? macs : 0, bl.BinarizesActivations ? 0 : macs));
                        fp32 += 4 * (n + fp);
                        break;
                    }
                    case AvgPool2dOp ap:
                        h = (h - ap.Kernel) / ap.Stride + 1;
                        w = (w - ap.Kernel) / ap.Stride + 1;
                        rows.Add(new LayerSummary(op.Name, "AvgPool2d", "-", S(), 0, 0, 0, 0, 0));
                        break;
                    case NormalizeOp n:
                        rows.Add(new LayerSummary(op.Name, "Normalize", "fp32", S(), 0, 0, 8L * n.Mean.Length, 0, 0));
                        fp32 += 8L * n.Mean.Length;
                        break;
                    case GlobalAvgPoolOp:
                        h = 1; w = 1;
                        rows.Add(new LayerSummary(op.Name, "GlobalAvgPool", "-", S(), 0, 0, 0, 0, 0));
                        break;
                    case ResidualBeginOp:
                        saved.Push((c, h, w));
                        break;
                    case ShortcutBranchOp:
                        // The branch runs on the block's saved input; it ends with the main path's shape.
                        if (saved.Count > 0) (c, h, w) = saved.Peek();
                        branch.Push(saved.Count);
                        break;
                    case ResidualEndOp r:
                        bool isBranch = branch.Count > 0 && branch.Peek() == saved.Count;
                        if (isBranch) branch.Pop();
                        if (saved.Count > 0) saved.Pop();
                        rows.Add(new LayerSummary(op.Name, isBranch ? "Add (shortcut branch)" : r.Shortcut == ShortcutKind.Identity ? "Add (identity)" : "Add (option A)",
                            "-", S(), 0, 0, 0, 0, 0));
                        break;
                    case MaxPool2dOp m:
                        h = m.OutputSize(h);
                        w = m.OutputSize(w);
                        rows.Add(new LayerSummary(op.Name, "MaxPool2d", "-", S(), 0, 0, 0, 0, 0));
                        break;
                    case ReLUOp:
                        rows.Add(new LayerSummary(op.Name, "ReLU", "-", S(), 0, 0, 0, 0, 0));
                        break;
                    case HardtanhOp:
                        rows.Add(new LayerSummary(op.Name, "Hardtanh", "-", S(), 0, 0, 0, 0, 0));
                        break;
                }
            }
            return new ModelSummary(rows, fp32);
        }

        static string Bytes(long b) => b >= 1_000_000 ? $"{b / 1e6:0.00} MB" : b >= 1000 ? $"{b / 1e3:0.0} KB" : $"{b} B";

        /// <summary>The summary as a text table (invariant culture).</summary>
        public string ToText(bool includeParameterFreeOps = false)
        {
            var inv = CultureInfo.InvariantCulture;
            var rows = Layers.Where(l => includeParameterFreeOps || l.BinaryParameters + l.FloatParameters > 0 || l.Kind == "Normalize").ToList();
            var header = new[] { "Layer", "Kind", "Input prec.", "Outputs", "1-bit params", "fp32 params", "Memory", "1-bit MACs", "fp32 MACs" };
            var table = new List<string[]> { header };
            foreach (var l in rows)
                table.Add(new[] { l.Name, l.Kind, l.InputPrecision, l.OutputShape, l.BinaryParameters.ToString("N0", inv), l.FloatParameters.ToString("N0", inv),
                    Bytes(l.MemoryBytes), l.BinaryMacs.ToString("N0", inv), l.FloatMacs.ToString("N0", inv) });
            table.Add(new[] { "Total", "", "", "", BinaryParameters.ToString("N0", inv), FloatParameters.ToString("N0", inv), Bytes(MemoryBytes),
                BinaryMacs.ToString("N0", inv), FloatMacs.ToString("N0", inv) });
            var widths = Enumerable.Range(0, header.Length).Select(i => table.Max(r => r[i].Length)).ToArray();
            var sb = new StringBuilder();
            void Line(string[] r)
            {
                for (int i = 0; i < r.Length; i++)
                {
                    if (i > 0) sb.Append("  ");
                    sb.Append(i < 4 ? r[i].PadRight(widths[i]) : r[i].PadLeft(widths[i]));
                }
                sb.Append('\n');
            }
            string Rule() => new string('-', widths.Sum() + 2 * (widths.Length - 1));
            Line(table[0]);
            sb.Append(Rule()).Append('\n');
            for (int i = 1; i < table.Count - 1; i++) Line(table[i]);
            sb.Append(Rule()).Append('\n');
            Line(table[^1]);
            sb.Append(string.Format(inv, "Parameters: {0:N0} ({1:N0} binary, {2:N0} full precision)\n", TotalParameters, BinaryParameters, FloatParameters));
            sb.Append(string.Format(inv, "Binary weights packed: {0} ({1:N0} bytes)\n", Bytes(Layers.Where(l => l.BinaryParameters > 0).Sum(l => (l.BinaryParameters + 7) / 8)),
                Layers.Where(l => l.BinaryParameters > 0).Sum(l => (l.BinaryParameters + 7) / 8)));
            sb.Append(string.Format(inv, "Deployed size: {0} ({1:N0} bytes); the same model in fp32: {2} ({3:N0} bytes); compression {4:0.0}×\n",
                Bytes(MemoryBytes), MemoryBytes, Bytes(Float32Bytes), Float32Bytes, CompressionRatio));
            sb.Append(string.Format(inv, "MACs: {0:N0} binary (XNOR + popcount), {1:N0} full precision\n", BinaryMacs, FloatMacs));
            sb.Append("Memory counts BatchNorm's running statistics (4 floats per channel); parameter counts do not.\n");
            return sb.ToString();
        }
    }
}

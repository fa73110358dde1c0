using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Layers
{
    /// <summary>
    /// Operations over every binary layer of a model tree, as extension methods on any TorchSharp module:
    /// <c>model.BinaryLayers()</c>, <c>model.SetBinaryProgress(epoch, epochs)</c>, <c>model.CountBinaryParameters()</c>,
    /// <c>model.Summary(1, 3, 32, 32)</c>.
    /// </summary>
    public static class BinaryModel
    {
        /// <summary>Every binary layer with its PyTorch-style name ("layer1.0.conv1").</summary>
        public static IReadOnlyList<(string Name, IBinaryLayer Layer)> BinaryLayers(this nn.Module model)
        {
            if (model is null) throw new ArgumentNullException(nameof(model));
            var layers = new List<(string, IBinaryLayer)>();
            foreach (var (name, module) in model.named_modules())
                if (module is IBinaryLayer layer) layers.Add((name, layer));
            return layers;
        }

        /// <summary>Advances every binary layer's schedule; call once per epoch (epoch from 0 of <paramref name="epochs"/>).</summary>
        public static void SetBinaryProgress(this nn.Module model, int epoch, int epochs)
        {
            foreach (var (_, layer) in model.BinaryLayers()) layer.SetProgress(epoch, epochs);
        }

        /// <summary>Total parameters and, of them, the binary weights.</summary>
        public static (long Total, long Binary) CountBinaryParameters(this nn.Module model)
        {
            long total = 0, binary = 0;
            foreach (var p in model.parameters()) total += p.numel();
            foreach (var (_, layer) in model.BinaryLayers()) binary += layer.BinaryWeightCount;
            return (total, binary);
        }

        /// <summary>The same as <see cref="BinaryLayers"/> (the name before the extension methods).</summary>
        public static IReadOnlyList<(string Name, IBinaryLayer Layer)> Layers(nn.Module model) => model.BinaryLayers();

        /// <summary>The same as <see cref="SetBinaryProgress"/>.</summary>
        public static void SetProgress(nn.Module model, int epoch, int epochs) => model.SetBinaryProgress(epoch, epochs);

        /// <summary>The same as <see cref="CountBinaryParameters"/>.</summary>
        public static (long Total, long Binary) CountParameters(nn.Module model) => model.CountBinaryParameters();

        /// <summary>
        /// A summary of the model before any export, as Larq's <c>models.summary</c>: one forward pass (no gradient, in
        /// eval mode, the mode restored after) of zeros of <paramref name="inputShape"/> (batch first) records every
        /// layer with parameters: its input precision, binary and full-precision parameters, memory as deployed and MACs.
        /// </summary>
        public static BinarySummary Summary(this nn.Module<Tensor, Tensor> model, params long[] inputShape)
        {
            if (model is null) throw new ArgumentNullException(nameof(model));
            if (inputShape is null || inputShape.Length < 2 || inputShape.Any(d => d <= 0))
                throw new ArgumentException($"Summary: input shape [{string.Join(", ", inputShape ?? Array.Empty<long>())}] must have a batch and at least one more dimension, all > 0.", nameof(inputShape));
            var leaves = model.named_modules().Where(m => m.module is IBinaryLayer || (!m.module.children().Any() && m.module.parameters(recurse: false).Any()))
                .ToList();
            var shapes = new Dictionary<nn.Module, long[]>();
            var hooks = new List<Action>();
            foreach (var (_, module) in leaves)
                if (module is nn.Module<Tensor, Tensor> m)
                {
                    var remover = m.register_forward_hook((self, input, output) => { shapes[self] = output.shape; return output; });
                    hooks.Add(() => remover.remove());
                }
            bool wasTraining = model.training;
            try
            {
                model.eval();
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var device = model.parameters().FirstOrDefault()?.device;
                var dtype = model.parameters().FirstOrDefault()?.dtype ?? ScalarType.Float32;
                model.call(zeros(inputShape, dtype, device));
            }
            finally
            {
                foreach (var remove in hooks) remove();
                if (wasTraining) model.train();
            }

            var rows = new List<BinarySummaryRow>();
            foreach (var (name, module) in leaves)
            {
                shapes.TryGetValue(module, out var output);
                var binaryLayer = module as IBinaryLayer;
                long all = module.parameters(recurse: false).Sum(p => p.numel());
                long binary = binaryLayer?.BinaryWeightCount ?? 0;
                long fp = all - binary;
                // β: one float per layer or per output channel, kept beside the bits when deployed.
                long scales = binaryLayer is null ? 0 : binaryLayer.Scale switch
                {
                    ScaleMode.LayerMeanAbs => 1,
                    ScaleMode.ChannelMeanAbs => binaryLayer.LatentWeight.shape[0],
                    _ => 0,
                };
                long bytes = (binary + 7) / 8 + 4 * (fp + scales);
                var weight = binaryLayer?.LatentWeight ?? module.parameters(recurse: false).FirstOrDefault(p => p.dim() >= 2);
                long macs = 0;
                if (weight is not null && output is { Length: >= 2 })
                    macs = weight.numel() * output.Skip(2).Aggregate(1L, (a, b) => a * b);
                bool binaryInput = binaryLayer?.BinarizesActivations ?? false;
                rows.Add(new BinarySummaryRow(name, module.GetType().Name, binaryInput ? 1 : 32, output ?? Array.Empty<long>(),
                    binary, fp, bytes, binaryInput ? macs : 0, binaryInput ? 0 : macs));
            }
            long total = model.parameters().Sum(p => p.numel());
            return new BinarySummary(model.GetName(), inputShape, rows, total);
        }
    }

    /// <summary>One layer of <see cref="BinarySummary"/>. MACs are per sample.</summary>
    public sealed record BinarySummaryRow(string Name, string Type, int InputBits, long[] OutputShape, long BinaryParameters,
        long FullPrecisionParameters, long DeployedBytes, long BinaryMacs, long FullPrecisionMacs);

    /// <summary>
    /// A model's binary summary (Larq's <c>models.summary</c>): per layer the input precision, binary and full-precision
    /// parameters, memory as deployed (binary weights 1 bit, packed; other parameters and each binary layer's β 32 bits),
    /// binary and full-precision MACs per sample; the totals; the compression ratio against the same model in fp32.
    /// Parameters of modules that are not leaves (registered directly on a container) count in the totals only.
    /// </summary>
    public sealed record BinarySummary(string Model, long[] InputShape, IReadOnlyList<BinarySummaryRow> Rows, long TotalParameters)
    {
        public long BinaryParameters => Rows.Sum(r => r.BinaryParameters);
        public long FullPrecisionParameters => TotalParameters - BinaryParameters;
        /// <summary>Bytes as deployed: the rows' plus 4 per parameter outside them.</summary>
        public long DeployedBytes => Rows.Sum(r => r.DeployedBytes) + 4 * (TotalParameters - Rows.Sum(r => r.BinaryParameters + r.FullPrecisionParameters));
        /// <summary>Bytes of the same parameters all in fp32.</summary>
        public long Float32Bytes => 4 * TotalParameters;
        public double CompressionRatio => DeployedBytes == 0 ? double.NaN : (double)Float32Bytes / DeployedBytes;
        public long BinaryMacs => Rows.Sum(r => r.BinaryMacs);
        public long FullPrecisionMacs => Rows.Sum(r => r.FullPrecisionMacs);

        /// <summary>The summary as a text table with totals.</summary>
        public override string ToString()
        {
            static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
            var header = new[] { "layer", "type", "input", "output", "binary params", "fp params", "memory (B)", "binary MACs", "fp MACs" };
            var lines = Rows.Select(r => new[]
            {
                r.Name, r.Type, r.InputBits + "-bit", "[" + string.Join(", ", r.OutputShape) + "]", N(r.BinaryParameters),
                N(r.FullPrecisionParameters), N(r.DeployedBytes), N(r.BinaryMacs), N(r.FullPrecisionMacs),
            }).ToList();
            lines.Add(new[] { "total", "", "", "", N(BinaryParameters), N(FullPrecisionParameters), N(DeployedBytes), N(BinaryMacs), N(FullPrecisionMacs) });
            var widths = header.Select((h, i) => Math.Max(h.Length, lines.Max(l => l[i].Length))).ToArray();
            var sb = new StringBuilder();
            sb.Append(Model).Append(" on input [").Append(string.Join(", ", InputShape)).Append("]\n");
            void Row(string[] cells)
            {
                for (int i = 0; i < cells.Length; i++)
                {
                    if (i > 0) sb.Append("  ");
                    sb.Append(i < 4 ? cells[i].PadRight(widths[i]) : cells[i].PadLeft(widths[i]));
                }
                sb.Append('\n');
            }
            Row(header);
            foreach (var l in lines) Row(l);
            sb.Append("parameters: ").Append(N(TotalParameters)).Append(" (").Append(N(BinaryParameters)).Append(" binary, ")
              .Append(N(FullPrecisionParameters)).Append(" full precision)\n");
            sb.Append("memory: ").Append(N(DeployedBytes)).Append(" bytes deployed, ").Append(N(Float32Bytes)).Append(" bytes in fp32; compression ratio ")
              .Append(CompressionRatio.ToString("F2", CultureInfo.InvariantCulture)).Append("x\n");
            return sb.ToString();
        }
    }
}

using System.Collections.Generic;
using ReSTE.Inference.Format;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Deploy
{
    /// <summary>
    /// Exports VGG-small as the reference builds it (the sample's <c>VggSmall</c>): conv0 (full precision) → ReLU → bn0;
    /// then for i = 1…5 binary conv<i>i</i> → (2×2 max-pool after conv1, conv3 and conv5) → ReLU → bn<i>i</i>; the
    /// flattened C·H·W features → fc.
    /// </summary>
    public static class VggSmallExport
    {
        /// <summary>The binary convolutions followed by a 2×2 max-pool.</summary>
        static readonly HashSet<int> Pooled = new() { 1, 3, 5 };

        public static PackedModel Export(nn.Module model, bool normalize = true, int imageSize = 32, IReadOnlyDictionary<string, string>? metadata = null)
        {
            var b = new PackedModelBuilder(model, 3, imageSize, imageSize);
            if (normalize) b.Normalize(CifarResNetExport.Mean, CifarResNetExport.Std);
            b.Conv("conv0").ReLU("relu0").BatchNorm("bn0");
            for (int i = 1; i <= 5; i++)
            {
                b.BinaryConv($"conv{i}");
                if (Pooled.Contains(i)) b.MaxPool($"pool{i}", 2, 2);
                b.ReLU($"relu{i}").BatchNorm($"bn{i}");
            }
            b.Linear("fc");
            var meta = new Dictionary<string, string> { ["architecture"] = "vgg-small" };
            if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
            var packed = b.Build(meta);
            ExportCheck.Verify(model, packed, normalize ? CifarResNetExport.Mean : null, normalize ? CifarResNetExport.Std : null);
            return packed;
        }
    }
}

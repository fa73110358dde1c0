using System;
using System.Collections.Generic;
using ReSTE.Inference.Format;
using ReSTE.Runtime.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Deploy
{
    /// <summary>
    /// Exports the CIFAR ResNets of the reference code (the sample's <c>ResNet20</c> and <c>ResNet18Cifar</c>): stem
    /// conv1 → ReLU → bn1; stages layer1, layer2, … of blocks <c>layerS.B</c> with conv1, bn1, conv2, bn2
    /// (out = BN1(ReLU(conv1(x))); out = BN2(ReLU(conv2(out))) + shortcut(x)); head average pool → bn2 (BatchNorm1d) →
    /// linear. The shortcut where the shape changes: a block's <c>shortcut</c> module when it has one (ResNet-18's
    /// full-precision 1×1 convolution <c>shortcut.0</c> + BatchNorm <c>shortcut.1</c>), else option A (ResNet-20).
    /// The Bi-Real form (a shortcut around each binary convolution) with <c>biReal</c>. The head pools globally: the
    /// average over the whole last feature map (ResNet-18's avg_pool2d(4) on 32×32 inputs); the exported model is run
    /// against the TorchSharp model once (<see cref="ExportCheck"/>), so a head that pools otherwise is refused.
    /// </summary>
    public static class CifarResNetExport
    {
        /// <summary>CIFAR-10 normalisation the sample's data pipeline uses (ImageNet statistics).</summary>
        public static readonly float[] Mean = { 0.485f, 0.456f, 0.406f };
        public static readonly float[] Std = { 0.229f, 0.224f, 0.225f };

        /// <summary>
        /// The packed model of <paramref name="model"/> (any number of stages and blocks named as above). With
        /// <paramref name="normalize"/>, the file's first op normalises raw [0, 1] RGB input as the data pipeline does.
        /// </summary>
        public static PackedModel Export(nn.Module model, bool biReal = false, bool normalize = true, int imageSize = 32,
            IReadOnlyDictionary<string, string>? metadata = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            var b = new PackedModelBuilder(model, 3, imageSize, imageSize);
            if (normalize) b.Normalize(Mean, Std);
            b.Conv("conv1").ReLU("relu").BatchNorm("bn1");
            long channels = ((TorchSharp.Modules.Conv2d)b.Module("conv1")).weight!.shape[0];
            int blocks = 0;
            for (int stage = 1; b.Has($"layer{stage}"); stage++)
                for (int block = 0; b.Has($"layer{stage}.{block}"); block++)
                {
                    string p = $"layer{stage}.{block}";
                    var conv1 = (IBinaryLayer)b.Module($"{p}.conv1");
                    long planes = conv1.LatentWeight.shape[0];
                    b.BeginResidual(p).BinaryConv($"{p}.conv1");
                    var first = (BinaryConv2dOp)b.Ops[^1];
                    bool down = first.Stride != 1 || channels != planes;
                    bool projection = b.Has($"{p}.shortcut"), optionA = down && !projection;
                    if (projection && biReal) throw new NotSupportedException($"'{p}': a Bi-Real block with a projection shortcut is not exported.");
                    if (projection && !down) throw new NotSupportedException($"'{p}' has a shortcut module but keeps its shape; only identity shortcuts are exported there.");
                    if (optionA && planes < channels)
                        throw new NotSupportedException($"'{p}': option-A shortcuts only widen ({channels}→{planes}).");
                    long pad = (planes - channels) / 2;
                    ShortcutKind kind = optionA ? ShortcutKind.OptionA : ShortcutKind.Identity;
                    int stride = optionA ? first.Stride : 1;
                    int padBefore = optionA ? (int)pad : 0, padAfter = optionA ? (int)(planes - channels - pad) : 0;
                    b.ReLU($"{p}.relu1").BatchNorm($"{p}.bn1");
                    if (biReal) b.EndResidual($"{p}.shortcut1", kind, stride, padBefore, padAfter).BeginResidual($"{p}.inner");
                    b.BinaryConv($"{p}.conv2").ReLU($"{p}.relu2").BatchNorm($"{p}.bn2");
                    if (biReal) b.EndResidual($"{p}.shortcut2");
                    else if (projection) b.ShortcutBranch($"{p}.shortcut").Conv($"{p}.shortcut.0").BatchNorm($"{p}.shortcut.1").EndResidual($"{p}.add");
                    else b.EndResidual($"{p}.shortcut", kind, stride, padBefore, padAfter);
                    channels = planes;
                    blocks++;
                }
            if (blocks == 0) throw new ArgumentException("The model has no 'layer1.0' block: not a CIFAR ResNet.");
            b.GlobalAvgPool("avgpool").BatchNorm("bn2").Linear("linear");
            var meta = new Dictionary<string, string> { ["architecture"] = biReal ? "cifar-resnet-bireal" : "cifar-resnet", ["blocks"] = blocks.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
            var packed = b.Build(meta);
            ExportCheck.Verify(model, packed, normalize ? Mean : null, normalize ? Std : null);
            return packed;
        }
    }
}

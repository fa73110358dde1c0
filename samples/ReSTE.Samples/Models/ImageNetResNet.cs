using System.Collections.Generic;
using ReSTE.Runtime.Deploy;
using ReSTE.Runtime.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Samples.Models
{
    /// <summary>
    /// Bi-Real's block for ImageNet: a shortcut around each binary 3×3 convolution; out = BN1(ReLU(conv1(x))) +
    /// downsample(x); out = BN2(ReLU(conv2(out))) + out. The downsample, where the shape changes, is a 2×2 average
    /// pool (stride 2 only), a full-precision 1×1 convolution and BN.
    /// </summary>
    public sealed class BiRealBlock : nn.Module<Tensor, Tensor>, IExportable
    {
        private readonly nn.Module<Tensor, Tensor> conv1, conv2;
        private readonly BatchNorm2d bn1, bn2;
        private readonly Sequential? downsample;

        public BiRealBlock(IBinaryLayerFactory layers, long inPlanes, long planes, long stride) : base(nameof(BiRealBlock))
        {
            conv1 = layers.Conv2d(inPlanes, planes, 3, stride, 1);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = layers.Conv2d(planes, planes, 3, 1, 1);
            bn2 = nn.BatchNorm2d(planes);
            if (stride != 1 || inPlanes != planes)
                downsample = stride != 1
                    ? nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(inPlanes, planes, 1, bias: false), nn.BatchNorm2d(planes))
                    : nn.Sequential(nn.Identity(), nn.Conv2d(inPlanes, planes, 1, bias: false), nn.BatchNorm2d(planes));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var identity = downsample is null ? x : downsample.forward(x);
            var out1 = bn1.forward(nn.functional.relu(conv1.forward(x))).add(identity);
            var out2 = bn2.forward(nn.functional.relu(conv2.forward(out1))).add(out1);
            return out2.MoveToOuterDisposeScope();
        }

        /// <summary>Two residual blocks; the first's shortcut is the downsample branch (average pool, 1×1 conv, BN) where there is one.</summary>
        public void Export(ExportContext ctx)
        {
            ctx.BeginResidual();
            ctx.Export(conv1); ctx.ReLU("relu1"); ctx.Export(bn1);
            if (downsample is null) ctx.Add("shortcut1");
            else
            {
                ctx.ShortcutBranch("downsample");
                ctx.Export(downsample);
                ctx.Add("add1");
            }
            ctx.BeginResidual("inner");
            ctx.Export(conv2); ctx.ReLU("relu2"); ctx.Export(bn2);
            ctx.Add("shortcut2");
        }
    }

    /// <summary>
    /// ResNet-18 / ResNet-34 for ImageNet with Bi-Real blocks: 7×7 stride-2 stem 3→64 (full precision) → ReLU → BN,
    /// 3×3 max-pool; stages of 64/128/256/512 channels ([2,2,2,2] or [3,4,6,3] blocks); head average pool →
    /// BatchNorm1d(512) → Linear(512, 1000). 11,690,536 and 21,798,696 parameters. Trained on an image folder
    /// (`train --dataset folder`); exported at any input size whose maps stay at least 1×1 (224×224 for ImageNet).
    /// </summary>
    public sealed class ImageNetResNet : nn.Module<Tensor, Tensor>, IExportable
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Sequential layer1, layer2, layer3, layer4;
        private readonly BatchNorm1d bn2;
        private readonly Linear fc;

        public static ImageNetResNet ResNet18(IBinaryLayerFactory layers) => new(layers, new[] { 2, 2, 2, 2 }, "ResNet18ImageNet");
        public static ImageNetResNet ResNet34(IBinaryLayerFactory layers) => new(layers, new[] { 3, 4, 6, 3 }, "ResNet34ImageNet");

        public ImageNetResNet(IBinaryLayerFactory layers, int[] blocks, string name, long numClasses = 1000) : base(name)
        {
            conv1 = nn.Conv2d(3, 64, 7, stride: 2, padding: 3, bias: false);
            bn1 = nn.BatchNorm2d(64);
            long inPlanes = 64;
            Sequential Stage(long planes, int count, long stride)
            {
                var list = new List<nn.Module<Tensor, Tensor>>();
                for (int i = 0; i < count; i++)
                {
                    list.Add(new BiRealBlock(layers, inPlanes, planes, i == 0 ? stride : 1));
                    inPlanes = planes;
                }
                return nn.Sequential(list);
            }
            layer1 = Stage(64, blocks[0], 1);
            layer2 = Stage(128, blocks[1], 2);
            layer3 = Stage(256, blocks[2], 2);
            layer4 = Stage(512, blocks[3], 2);
            bn2 = nn.BatchNorm1d(512);
            fc = nn.Linear(512, numClasses);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = bn1.forward(nn.functional.relu(conv1.forward(x)));
            h = nn.functional.max_pool2d(h, 3, 2, 1);
            h = layer4.forward(layer3.forward(layer2.forward(layer1.forward(h))));
            h = nn.functional.adaptive_avg_pool2d(h, 1).flatten(1);
            return fc.forward(bn2.forward(h)).MoveToOuterDisposeScope();
        }

        /// <summary>The stem (7×7 convolution, ReLU, BN, 3×3 max pool of stride 2 padded by 1), the stages, the head.</summary>
        public void Export(ExportContext ctx)
        {
            ctx.SetMetadata("architecture", "imagenet-resnet-bireal");
            ctx.SetMetadata("blocks", layer1.Count + layer2.Count + layer3.Count + layer4.Count);
            ctx.Export(conv1); ctx.ReLU("relu"); ctx.Export(bn1);
            ctx.MaxPool2d("maxpool", 3, 2, padding: 1);
            ctx.Export(layer1); ctx.Export(layer2); ctx.Export(layer3); ctx.Export(layer4);
            ctx.GlobalAvgPool("avgpool"); ctx.Flatten();
            ctx.Export(bn2); ctx.Export(fc);
        }
    }
}

using System;
using System.Collections.Generic;
using ReSTE.Inference.Format;
using ReSTE.Runtime.Deploy;
using ReSTE.Runtime.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Samples.Models
{
    /// <summary>Initialisation shared by the sample models.</summary>
    static class Init
    {
        /// <summary>Kaiming normal (fan-in, ReLU gain) on every convolution, binary ones included (their latent weight).</summary>
        public static void KaimingNormalConvs(nn.Module model)
        {
            using var noGrad = no_grad();
            foreach (var (_, m) in model.named_modules())
            {
                if (m is Conv2d conv) nn.init.kaiming_normal_(conv.weight!);
                else if (m is IBinaryLayer b && b.LatentWeight.dim() == 4) nn.init.kaiming_normal_(b.LatentWeight);
            }
        }

        /// <summary>Option-A shortcut: every second pixel, channels zero-padded on both sides to <paramref name="planes"/>.</summary>
        public static Tensor OptionA(Tensor x, long planes)
        {
            using var scope = NewDisposeScope();
            var sub = x.slice(2, 0, x.shape[2], 2).slice(3, 0, x.shape[3], 2);
            long pad = (planes - x.shape[1]) / 2;
            return nn.functional.pad(sub, new long[] { 0, 0, 0, 0, pad, planes - x.shape[1] - pad }).MoveToOuterDisposeScope();
        }
    }

    /// <summary>
    /// ResNet-20's basic block as the reference builds it: out = BN1(ReLU(conv1(x))); out = BN2(ReLU(conv2(out))) +
    /// shortcut(x), with the option-A shortcut. <paramref name="biReal"/>: Bi-Real's form, a shortcut around each
    /// binary convolution (out = BN1(ReLU(conv1(x))) + shortcut(x); out = BN2(ReLU(conv2(out))) + out).
    /// </summary>
    public sealed class ResNet20Block : nn.Module<Tensor, Tensor>, IExportable
    {
        private readonly nn.Module<Tensor, Tensor> conv1, conv2;
        private readonly BatchNorm2d bn1, bn2;
        private readonly long inPlanes, planes;
        private readonly bool downsample, biReal;

        public ResNet20Block(IBinaryLayerFactory layers, long inPlanes, long planes, long stride, bool biReal) : base(nameof(ResNet20Block))
        {
            conv1 = layers.Conv2d(inPlanes, planes, 3, stride, 1);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = layers.Conv2d(planes, planes, 3, 1, 1);
            bn2 = nn.BatchNorm2d(planes);
            this.inPlanes = inPlanes;
            this.planes = planes;
            downsample = stride != 1 || inPlanes != planes;
            this.biReal = biReal;
            RegisterComponents();
        }

        /// <summary>The block as its forward computes it; the option-A shortcut takes every second pixel, as <see cref="Init.OptionA"/>.</summary>
        public void Export(ExportContext ctx)
        {
            if (downsample && planes < inPlanes) throw ctx.Error($"option-A shortcuts only widen ({inPlanes}→{planes}).");
            var kind = downsample ? ShortcutKind.OptionA : ShortcutKind.Identity;
            int stride = downsample ? 2 : 1, padBefore = downsample ? (int)((planes - inPlanes) / 2) : 0;
            int padAfter = downsample ? (int)(planes - inPlanes) - padBefore : 0;
            ctx.BeginResidual();
            ctx.Export(conv1); ctx.ReLU("relu1"); ctx.Export(bn1);
            if (biReal)
            {
                ctx.Add("shortcut1", kind, stride, padBefore, padAfter);
                ctx.BeginResidual("inner");
            }
            ctx.Export(conv2); ctx.ReLU("relu2"); ctx.Export(bn2);
            if (biReal) ctx.Add("shortcut2");
            else ctx.Add("shortcut", kind, stride, padBefore, padAfter);
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var shortcut = downsample ? Init.OptionA(x, planes) : x;
            var out1 = bn1.forward(nn.functional.relu(conv1.forward(x)));
            if (biReal) out1 = out1.add(shortcut);
            var out2 = bn2.forward(nn.functional.relu(conv2.forward(out1)));
            return (biReal ? out2.add(out1) : out2.add(shortcut)).MoveToOuterDisposeScope();
        }
    }

    /// <summary>
    /// ResNet-20 for CIFAR-10 (1W/1A or 1W/32A by the factory's policy; Bi-Real form by <c>biReal</c>): stem 3×3 conv
    /// 3→16 (full precision) → ReLU → BN; 3 stages × 3 blocks of 16/32/64 channels, first strides 1/2/2; head
    /// average pool → BatchNorm1d(64) → Linear(64, 10). Kaiming normal on every convolution. Names follow the
    /// reference: conv1, bn1, layer1.0.conv1, …, bn2, linear. 269,850 parameters, 267,264 in binary convolutions.
    /// </summary>
    public sealed class ResNet20 : nn.Module<Tensor, Tensor>, IExportable
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Sequential layer1, layer2, layer3;
        private readonly BatchNorm1d bn2;
        private readonly Linear linear;
        private readonly bool biReal;

        public ResNet20(IBinaryLayerFactory layers, bool biReal = false, long numClasses = 10) : base(biReal ? "BiRealResNet20" : nameof(ResNet20))
        {
            conv1 = nn.Conv2d(3, 16, 3, stride: 1, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(16);
            long inPlanes = 16;
            Sequential Stage(long planes, long stride)
            {
                var blocks = new List<nn.Module<Tensor, Tensor>>();
                for (int i = 0; i < 3; i++)
                {
                    blocks.Add(new ResNet20Block(layers, inPlanes, planes, i == 0 ? stride : 1, biReal));
                    inPlanes = planes;
                }
                return nn.Sequential(blocks);
            }
            layer1 = Stage(16, 1);
            layer2 = Stage(32, 2);
            layer3 = Stage(64, 2);
            bn2 = nn.BatchNorm1d(64);
            linear = nn.Linear(64, numClasses);
            this.biReal = biReal;
            RegisterComponents();
            Init.KaimingNormalConvs(this);
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = bn1.forward(nn.functional.relu(conv1.forward(x)));
            h = layer3.forward(layer2.forward(layer1.forward(h)));
            h = nn.functional.adaptive_avg_pool2d(h, 1).flatten(1);
            return linear.forward(bn2.forward(h)).MoveToOuterDisposeScope();
        }

        public void Export(ExportContext ctx)
        {
            ctx.SetMetadata("architecture", biReal ? "cifar-resnet-bireal" : "cifar-resnet");
            ctx.SetMetadata("blocks", layer1.Count + layer2.Count + layer3.Count);
            ctx.Export(conv1); ctx.ReLU("relu"); ctx.Export(bn1);
            ctx.Export(layer1); ctx.Export(layer2); ctx.Export(layer3);
            ctx.GlobalAvgPool("avgpool"); ctx.Flatten();
            ctx.Export(bn2); ctx.Export(linear);
        }
    }

    /// <summary>
    /// ResNet-18's block for CIFAR: out = BN1(ReLU(conv1(x))); out = BN2(ReLU(conv2(out))) + shortcut(x), the
    /// shortcut a full-precision 1×1 convolution + BN where the shape changes.
    /// </summary>
    public sealed class ResNet18Block : nn.Module<Tensor, Tensor>, IExportable
    {
        private readonly nn.Module<Tensor, Tensor> conv1, conv2;
        private readonly BatchNorm2d bn1, bn2;
        private readonly Sequential? shortcut;

        public ResNet18Block(IBinaryLayerFactory layers, long inPlanes, long planes, long stride) : base(nameof(ResNet18Block))
        {
            conv1 = layers.Conv2d(inPlanes, planes, 3, stride, 1);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = layers.Conv2d(planes, planes, 3, 1, 1);
            bn2 = nn.BatchNorm2d(planes);
            if (stride != 1 || inPlanes != planes)
                shortcut = nn.Sequential(nn.Conv2d(inPlanes, planes, 1, stride: stride, bias: false), nn.BatchNorm2d(planes));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = bn1.forward(nn.functional.relu(conv1.forward(x)));
            h = bn2.forward(nn.functional.relu(conv2.forward(h)));
            return h.add(shortcut is null ? x : shortcut.forward(x)).MoveToOuterDisposeScope();
        }

        public void Export(ExportContext ctx)
        {
            ctx.BeginResidual();
            ctx.Export(conv1); ctx.ReLU("relu1"); ctx.Export(bn1);
            ctx.Export(conv2); ctx.ReLU("relu2"); ctx.Export(bn2);
            if (shortcut is null) ctx.Add("shortcut");
            else
            {
                ctx.ShortcutBranch("shortcut");
                ctx.Export(shortcut);
                ctx.Add("add");
            }
        }
    }

    /// <summary>
    /// ResNet-18 for CIFAR-10: stem 3×3 conv 3→64 (full precision, no max-pool) → ReLU → BN; [2, 2, 2, 2] blocks of
    /// 64/128/256/512 channels; full-precision 1×1 conv + BN downsample; head average pool (4) → BatchNorm1d(512) →
    /// Linear. 11,174,986 parameters, 10,985,472 binary.
    /// </summary>
    public sealed class ResNet18Cifar : nn.Module<Tensor, Tensor>, IExportable
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Sequential layer1, layer2, layer3, layer4;
        private readonly BatchNorm1d bn2;
        private readonly Linear linear;

        public ResNet18Cifar(IBinaryLayerFactory layers, long numClasses = 10) : base(nameof(ResNet18Cifar))
        {
            conv1 = nn.Conv2d(3, 64, 3, stride: 1, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(64);
            long inPlanes = 64;
            Sequential Stage(long planes, long stride)
            {
                var blocks = new List<nn.Module<Tensor, Tensor>>();
                for (int i = 0; i < 2; i++)
                {
                    blocks.Add(new ResNet18Block(layers, inPlanes, planes, i == 0 ? stride : 1));
                    inPlanes = planes;
                }
                return nn.Sequential(blocks);
            }
            layer1 = Stage(64, 1);
            layer2 = Stage(128, 2);
            layer3 = Stage(256, 2);
            layer4 = Stage(512, 2);
            bn2 = nn.BatchNorm1d(512);
            linear = nn.Linear(512, numClasses);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = bn1.forward(nn.functional.relu(conv1.forward(x)));
            h = layer4.forward(layer3.forward(layer2.forward(layer1.forward(h))));
            h = nn.functional.avg_pool2d(h, 4).flatten(1);
            return linear.forward(bn2.forward(h)).MoveToOuterDisposeScope();
        }

        /// <summary>avg_pool2d(4) is the global average pool on 32×32 inputs (a 4×4 map), a 4×4 average pool otherwise.</summary>
        public void Export(ExportContext ctx)
        {
            ctx.SetMetadata("architecture", "cifar-resnet");
            ctx.SetMetadata("blocks", layer1.Count + layer2.Count + layer3.Count + layer4.Count);
            ctx.Export(conv1); ctx.ReLU("relu"); ctx.Export(bn1);
            ctx.Export(layer1); ctx.Export(layer2); ctx.Export(layer3); ctx.Export(layer4);
            ctx.AvgPool2d("avgpool", 4, 4); ctx.Flatten();
            ctx.Export(bn2); ctx.Export(linear);
        }
    }

    /// <summary>
    /// VGG-small for CIFAR-10: conv0 (full precision) 3→128; binary conv1 128→128, max-pool; conv2 128→256; conv3
    /// 256→256, max-pool; conv4 256→512; conv5 512→512, max-pool; each conv → (pool) → ReLU → BN; Linear(8192, 10).
    /// Convolutions initialised normal(0, √(2/(k²·out))), BN to (1, 0), the Linear normal(0, 0.01) with zero bias.
    /// 4,660,106 parameters, 4,571,136 binary.
    /// </summary>
    public sealed class VggSmall : nn.Module<Tensor, Tensor>, IExportable
    {
        private readonly Conv2d conv0;
        private readonly BatchNorm2d bn0, bn1, bn2, bn3, bn4, bn5;
        private readonly nn.Module<Tensor, Tensor> conv1, conv2, conv3, conv4, conv5;
        private readonly Linear fc;

        public VggSmall(IBinaryLayerFactory layers, long numClasses = 10) : base(nameof(VggSmall))
        {
            conv0 = nn.Conv2d(3, 128, 3, padding: 1, bias: false);
            bn0 = nn.BatchNorm2d(128);
            conv1 = layers.Conv2d(128, 128, 3, 1, 1);
            bn1 = nn.BatchNorm2d(128);
            conv2 = layers.Conv2d(128, 256, 3, 1, 1);
            bn2 = nn.BatchNorm2d(256);
            conv3 = layers.Conv2d(256, 256, 3, 1, 1);
            bn3 = nn.BatchNorm2d(256);
            conv4 = layers.Conv2d(256, 512, 3, 1, 1);
            bn4 = nn.BatchNorm2d(512);
            conv5 = layers.Conv2d(512, 512, 3, 1, 1);
            bn5 = nn.BatchNorm2d(512);
            fc = nn.Linear(512 * 4 * 4, numClasses);
            RegisterComponents();
            using var noGrad = no_grad();
            foreach (var (_, m) in named_modules())
            {
                Tensor? w = m is Conv2d c ? c.weight : m is IBinaryLayer b && b.LatentWeight.dim() == 4 ? b.LatentWeight : null;
                if (w is not null) nn.init.normal_(w, 0, Math.Sqrt(2.0 / (w.shape[2] * w.shape[3] * w.shape[0])));
            }
            nn.init.normal_(fc.weight!, 0, 0.01);
            nn.init.zeros_(fc.bias!);
        }

        static Tensor Unit(Tensor x, nn.Module<Tensor, Tensor> conv, BatchNorm2d bn, bool pool)
        {
            var h = conv.forward(x);
            if (pool) h = nn.functional.max_pool2d(h, 2, 2);
            return bn.forward(nn.functional.relu(h));
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = Unit(x, conv0, bn0, pool: false);
            h = Unit(h, conv1, bn1, pool: true);
            h = Unit(h, conv2, bn2, pool: false);
            h = Unit(h, conv3, bn3, pool: true);
            h = Unit(h, conv4, bn4, pool: false);
            h = Unit(h, conv5, bn5, pool: true);
            return fc.forward(h.flatten(1)).MoveToOuterDisposeScope();
        }

        public void Export(ExportContext ctx)
        {
            ctx.SetMetadata("architecture", "vgg-small");
            var units = new (nn.Module Conv, BatchNorm2d Bn, bool Pool)[]
            {
                (conv0, bn0, false), (conv1, bn1, true), (conv2, bn2, false), (conv3, bn3, true), (conv4, bn4, false), (conv5, bn5, true),
            };
            for (int i = 0; i < units.Length; i++)
            {
                ctx.Export(units[i].Conv);
                if (units[i].Pool) ctx.MaxPool2d($"pool{i}", 2, 2);
                ctx.ReLU($"relu{i}"); ctx.Export(units[i].Bn);
            }
            ctx.Flatten();
            ctx.Export(fc);
        }
    }
}

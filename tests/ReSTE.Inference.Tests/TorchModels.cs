using System;
using System.Collections.Generic;
using ReSTE.Inference.Format;
using ReSTE.Runtime;
using ReSTE.Runtime.Deploy;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Inference.Tests
{
    /// <summary>ResNet-20's block: out = BN1(ReLU(conv1(x))); out = BN2(ReLU(conv2(out))) + shortcut(x), option A.</summary>
    sealed class TestBlock : nn.Module<Tensor, Tensor>, IExportable
    {
        private readonly TestBinaryConv2d conv1, conv2;
        private readonly BatchNorm2d bn1, bn2;
        private readonly long inPlanes, planes;
        private readonly bool down, biReal;

        public TestBlock(long inPlanes, long planes, long stride, bool biReal, ScaleMode scale) : base(nameof(TestBlock))
        {
            conv1 = new TestBinaryConv2d(inPlanes, planes, 3, stride, 1, scale: scale);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = new TestBinaryConv2d(planes, planes, 3, 1, 1, scale: scale);
            bn2 = nn.BatchNorm2d(planes);
            this.inPlanes = inPlanes;
            this.planes = planes;
            down = stride != 1 || inPlanes != planes;
            this.biReal = biReal;
            RegisterComponents();
        }

        static Tensor OptionA(Tensor x, long planes)
        {
            var sub = x.slice(2, 0, x.shape[2], 2).slice(3, 0, x.shape[3], 2);
            long pad = (planes - x.shape[1]) / 2;
            return nn.functional.pad(sub, new long[] { 0, 0, 0, 0, pad, planes - x.shape[1] - pad });
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var shortcut = down ? OptionA(x, planes) : x;
            var out1 = bn1.forward(nn.functional.relu(conv1.forward(x)));
            if (biReal) out1 = out1.add(shortcut);
            var out2 = bn2.forward(nn.functional.relu(conv2.forward(out1)));
            return (biReal ? out2.add(out1) : out2.add(shortcut)).MoveToOuterDisposeScope();
        }

        /// <summary>The block's ops; <paramref name="asPlain"/> states the plain form whatever the block computes (for the check's test).</summary>
        public void Export(ExportContext ctx, bool asPlain)
        {
            var kind = down ? ShortcutKind.OptionA : ShortcutKind.Identity;
            int stride = down ? 2 : 1, before = down ? (int)((planes - inPlanes) / 2) : 0, after = down ? (int)(planes - inPlanes) - before : 0;
            bool biReal = this.biReal && !asPlain;
            ctx.BeginResidual();
            ctx.Export(conv1); ctx.ReLU("relu1"); ctx.Export(bn1);
            if (biReal) { ctx.Add("shortcut1", kind, stride, before, after); ctx.BeginResidual("inner"); }
            ctx.Export(conv2); ctx.ReLU("relu2"); ctx.Export(bn2);
            if (biReal) ctx.Add("shortcut2");
            else ctx.Add("shortcut", kind, stride, before, after);
        }

        public void Export(ExportContext ctx) => Export(ctx, asPlain: false);
    }

    /// <summary>A small CIFAR ResNet with ResNet-20's structure and names (conv1, bn1, layerS.B, bn2, linear).</summary>
    sealed class TestResNet : nn.Module<Tensor, Tensor>, IExportable
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Sequential layer1, layer2, layer3;
        private readonly BatchNorm1d bn2;
        private readonly Linear linear;

        public TestResNet(long[] widths, int blocksPerStage, bool biReal = false, ScaleMode scale = ScaleMode.LayerMeanAbs) : base(nameof(TestResNet))
        {
            conv1 = nn.Conv2d(3, widths[0], 3, stride: 1, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(widths[0]);
            long inPlanes = widths[0];
            Sequential Stage(long planes, long stride)
            {
                var blocks = new List<nn.Module<Tensor, Tensor>>();
                for (int i = 0; i < blocksPerStage; i++)
                {
                    blocks.Add(new TestBlock(inPlanes, planes, i == 0 ? stride : 1, biReal, scale));
                    inPlanes = planes;
                }
                return nn.Sequential(blocks);
            }
            layer1 = Stage(widths[0], 1);
            layer2 = Stage(widths[1], 2);
            layer3 = Stage(widths[2], 2);
            bn2 = nn.BatchNorm1d(widths[2]);
            linear = nn.Linear(widths[2], 10);
            RegisterComponents();
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
            ctx.Export(conv1); ctx.ReLU("relu"); ctx.Export(bn1);
            ctx.Export(layer1); ctx.Export(layer2); ctx.Export(layer3);
            ctx.GlobalAvgPool("avgpool"); ctx.Flatten();
            ctx.Export(bn2); ctx.Export(linear);
        }
    }

    static class TorchTestUtil
    {
        /// <summary>Gives every BatchNorm non-trivial affine parameters and running statistics (as training would).</summary>
        public static void RandomizeBatchNorms(nn.Module model, int seed)
        {
            using var noGrad = no_grad();
            var g = new Generator((ulong)seed);
            foreach (var (_, m) in model.named_modules())
                if (m is NormBase bn)
                {
                    long c = bn.running_mean!.shape[0];
                    bn.weight!.copy_(rand(c, generator: g).mul_(1.5).add_(0.25).mul_(rand(c, generator: g).gt(0.1).mul(2).sub(1)));
                    bn.bias!.copy_(randn(c, generator: g).mul_(0.3));
                    bn.running_mean!.copy_(randn(c, generator: g).mul_(0.5));
                    bn.running_var!.copy_(rand(c, generator: g).mul_(2).add_(0.2));
                }
        }
    }
}

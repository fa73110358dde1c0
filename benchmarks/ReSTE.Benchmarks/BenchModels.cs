using System;
using System.Collections.Generic;
using ReSTE.Runtime;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Benchmarks
{
    /// <summary>
    /// A binary convolution from the runtime's pieces (sign(x) with sign(0) = 0 via ReSTESign, weights sign(W)·mean|W|,
    /// zero padding after binarization): what the generated layers compute in eval mode.
    /// </summary>
    sealed class BenchBinaryConv2d : nn.Module<Tensor, Tensor>, IBinaryLayer
    {
        private readonly Parameter weight;
        private readonly long stride;
        private readonly IEstimator estimator = new ReSTE.Runtime.Estimators.ReSTE();

        public BenchBinaryConv2d(long inC, long outC, long stride) : base(nameof(BenchBinaryConv2d))
        {
            weight = new Parameter(randn(outC, inC, 3, 3).mul_(Math.Sqrt(2.0 / (inC * 9))));
            this.stride = stride;
            RegisterComponents();
        }

        public IEstimator Estimator => estimator;
        public bool BinarizesActivations => true;
        public ScaleMode Scale => ScaleMode.LayerMeanAbs;
        public Parameter LatentWeight => weight;
        public long BinaryWeightCount => weight.numel();
        public void SetProgress(int epoch, int epochs) => estimator.SetProgress(epoch, epochs);

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var w = BinaryWeights.Scaled(ReSTESign.Apply(weight, 1.0), weight, ScaleMode.LayerMeanAbs);
            return nn.functional.conv2d(ReSTESign.Apply(x, 1.0), w, strides: new[] { stride, stride }, padding: new[] { 1L, 1L })
                .MoveToOuterDisposeScope();
        }
    }

    sealed class BenchBlock : nn.Module<Tensor, Tensor>
    {
        private readonly BenchBinaryConv2d conv1, conv2;
        private readonly BatchNorm2d bn1, bn2;
        private readonly long planes;
        private readonly bool down;

        public BenchBlock(long inPlanes, long planes, long stride) : base(nameof(BenchBlock))
        {
            conv1 = new BenchBinaryConv2d(inPlanes, planes, stride);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = new BenchBinaryConv2d(planes, planes, 1);
            bn2 = nn.BatchNorm2d(planes);
            this.planes = planes;
            down = stride != 1 || inPlanes != planes;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            Tensor shortcut = x;
            if (down)
            {
                var sub = x.slice(2, 0, x.shape[2], 2).slice(3, 0, x.shape[3], 2);
                long pad = (planes - x.shape[1]) / 2;
                shortcut = nn.functional.pad(sub, new long[] { 0, 0, 0, 0, pad, planes - x.shape[1] - pad });
            }
            var out1 = bn1.forward(nn.functional.relu(conv1.forward(x)));
            return bn2.forward(nn.functional.relu(conv2.forward(out1))).add(shortcut).MoveToOuterDisposeScope();
        }
    }

    /// <summary>ResNet-20 (the reference's CIFAR layout and names), built from the runtime's pieces.</summary>
    sealed class BenchResNet20 : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Sequential layer1, layer2, layer3;
        private readonly BatchNorm1d bn2;
        private readonly Linear linear;

        public BenchResNet20() : base("ResNet20")
        {
            conv1 = nn.Conv2d(3, 16, 3, stride: 1, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(16);
            long inPlanes = 16;
            Sequential Stage(long planes, long stride)
            {
                var blocks = new List<nn.Module<Tensor, Tensor>>();
                for (int i = 0; i < 3; i++) { blocks.Add(new BenchBlock(inPlanes, planes, i == 0 ? stride : 1)); inPlanes = planes; }
                return nn.Sequential(blocks);
            }
            layer1 = Stage(16, 1);
            layer2 = Stage(32, 2);
            layer3 = Stage(64, 2);
            bn2 = nn.BatchNorm1d(64);
            linear = nn.Linear(64, 10);
            RegisterComponents();
            using var noGrad = no_grad();
            foreach (var (_, m) in named_modules())
                if (m is NormBase bn)
                {
                    long c = bn.running_mean!.shape[0];
                    bn.weight!.copy_(rand(c).add_(0.5));
                    bn.bias!.copy_(randn(c).mul_(0.3));
                    bn.running_mean!.copy_(randn(c).mul_(0.5));
                    bn.running_var!.copy_(rand(c).add_(0.5));
                }
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = bn1.forward(nn.functional.relu(conv1.forward(x)));
            h = layer3.forward(layer2.forward(layer1.forward(h)));
            h = nn.functional.adaptive_avg_pool2d(h, 1).flatten(1);
            return linear.forward(bn2.forward(h)).MoveToOuterDisposeScope();
        }
    }
}

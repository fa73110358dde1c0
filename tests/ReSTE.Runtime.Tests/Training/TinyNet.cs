using System;
using System.Linq;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Estimators;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Tests.Training
{
    /// <summary>stem conv → ReLU → BN; binary conv → ReLU → BN; pool; linear. Optionally poisons its output after N forwards.</summary>
    sealed class TinyNet : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly TestBinaryConv2d conv2;
        private readonly BatchNorm2d bn2;
        private readonly Linear linear;

        public TinyNet(long seed) : base(nameof(TinyNet))
        {
            manual_seed(seed);
            conv1 = nn.Conv2d(3, 8, 3, stride: 2, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(8);
            conv2 = new TestBinaryConv2d(8, 8, 3, padding: 1, estimator: new ReSTEEstimator(oEnd: 3));
            bn2 = nn.BatchNorm2d(8);
            linear = nn.Linear(8, 10);
            RegisterComponents();
        }

        /// <summary>From this many training forwards on, the output is NaN (0: never).</summary>
        public int PoisonAfter { get; set; }
        int _forwards;

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = bn1.forward(nn.functional.relu(conv1.forward(x)));
            h = bn2.forward(nn.functional.relu(conv2.forward(h)));
            var y = linear.forward(h.mean(new long[] { 2, 3 }));
            if (training && PoisonAfter > 0 && ++_forwards >= PoisonAfter) y = y.mul(float.NaN);
            return y.MoveToOuterDisposeScope();
        }
    }

    static class Synthetic
    {
        /// <summary>
        /// A learnable set: each class has its own colour; images are that colour plus noise. Labels 0..9 in turn.
        /// </summary>
        public static Cifar10Set Set(int n, int seed)
        {
            var rng = new Random(seed);
            var palette = Enumerable.Range(0, 10).Select(_ => new[] { rng.Next(256), rng.Next(256), rng.Next(256) }).ToArray();
            var images = new byte[n * Cifar10.ImageBytes];
            var labels = new byte[n];
            for (int i = 0; i < n; i++)
            {
                int label = i % 10;
                labels[i] = (byte)label;
                for (int c = 0; c < 3; c++)
                    for (int p = 0; p < 1024; p++)
                        images[i * Cifar10.ImageBytes + c * 1024 + p] = (byte)Math.Clamp(palette[label][c] + rng.Next(-60, 61), 0, 255);
            }
            return new Cifar10Set(images, labels);
        }
    }
}

using System;
using ReSTE.Runtime.Estimators;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.TestSupport
{
    /// <summary>
    /// Full-precision stem, two binary fully connected layers ("layer1", "layer2", weights only: 1W/32A) of the
    /// estimator given, full-precision head: a tiny binary net on the runtime's layers for indicator and report tests.
    /// </summary>
    public sealed class TinyMlp : nn.Module<Tensor, Tensor>
    {
        readonly Linear stem, head;
        readonly TestBinaryLinear layer1, layer2;

        public TinyMlp(Func<IEstimator> estimator, int features, int hidden, int classes) : base(nameof(TinyMlp))
        {
            stem = nn.Linear(features, hidden);
            layer1 = new TestBinaryLinear(hidden, hidden, estimator(), binarizeActivations: false);
            layer2 = new TestBinaryLinear(hidden, hidden, estimator(), binarizeActivations: false);
            head = nn.Linear(hidden, classes);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = stem.forward(x.flatten(1)).relu();
            h = layer1.forward(h).relu();
            h = layer2.forward(h).relu();
            return head.forward(h).MoveToOuterDisposeScope();
        }
    }
}

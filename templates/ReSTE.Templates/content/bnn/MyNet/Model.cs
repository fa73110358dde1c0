using ReSTE.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MyNet;

/// <summary>
/// A small binary CNN for 32×32 RGB images: a full-precision stem, two binary 3×3 convolutions (weights and
/// activations binarized, trained with ReSTE, o from 1 to OEnd), global average pooling and a linear head.
/// The generator writes BinaryConv2d for this class; its code is snapshot-tested in MyNet.Tests.
/// </summary>
[Binarize(Estimator = Estimator.ReSTE, OEnd = 3)]
public sealed partial class BinaryNet : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d stem;
    private readonly BatchNorm2d bn0, bn1, bn2;
    private readonly BinaryConv2d conv1, conv2;
    private readonly Linear head;

    public BinaryNet(int classes) : base(nameof(BinaryNet))
    {
        stem = nn.Conv2d(3, 32, 3, padding: 1, bias: false);
        bn0 = nn.BatchNorm2d(32);
        conv1 = new BinaryConv2d(32, 64, kernelSize: 3, stride: 2, padding: 1);
        bn1 = nn.BatchNorm2d(64);
        conv2 = new BinaryConv2d(64, 64, kernelSize: 3, stride: 2, padding: 1);
        bn2 = nn.BatchNorm2d(64);
        head = nn.Linear(64, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = nn.functional.relu(bn0.call(stem.call(x)));
        y = bn1.call(conv1.call(y));
        y = bn2.call(conv2.call(y));
        return head.call(y.mean(new long[] { 2, 3 })).MoveToOuterDisposeScope();
    }
}

// The README example: a binary BasicBlock declared with [Binarize], trained for a few steps on random data; then a
// model built from a static policy class with (3, 1) kernels and Padding.Same, and its summary.
using ReSTE.Runtime;
using ReSTE.Runtime.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

torch.manual_seed(0);
var block = new BasicBlock(inPlanes: 16, planes: 16, stride: 1);
var head = nn.Linear(16, 10);
var parameters = block.parameters().Concat(head.parameters());
var optimizer = optim.SGD(parameters, learningRate: 0.05, momentum: 0.9);

var x = randn(32, 16, 8, 8);
var labels = randint(0, 10, new long[] { 32 });
const int epochs = 5;
for (int epoch = 0; epoch < epochs; epoch++)
{
    block.SetBinaryProgress(epoch, epochs);                    // moves o from 1 towards OEnd
    using var scope = NewDisposeScope();
    var logits = head.call(block.call(x).mean(new long[] { 2, 3 }));
    var loss = nn.functional.cross_entropy(logits, labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    var o = block.Conv1.Estimator.O;                           // the layer's own ReSTEEstimator: no cast
    Console.WriteLine($"epoch {epoch}: o = {o:F3}, loss = {loss.item<float>():F4}");
}
var (total, binary) = block.CountBinaryParameters();
Console.WriteLine($"parameters: {total}, binary weights: {binary}");

// Any TorchSharp model, its binary layers from a policy that is only a static class.
var model = nn.Sequential(
    ("stem", nn.Conv2d(3, 16, 3, padding: 1, bias: false)),
    ("bn", nn.BatchNorm2d(16)),
    ("conv1", EdePolicy.Layers.Conv2d(16, 16, (3, 1), padding: Padding.Same)),
    ("conv2", new EdePolicy.BinaryConv2d(16, 16, (1, 3), padding: Padding.Same)),
    ("pool", nn.AdaptiveAvgPool2d(1)),
    ("flatten", nn.Flatten()),
    ("fc", nn.Linear(16, 10)));
model.SetBinaryProgress(0, epochs);
using (var scope = NewDisposeScope())
    Console.WriteLine($"policy model output: [{string.Join(", ", model.call(randn(2, 3, 8, 8)).shape)}]");
Console.WriteLine($"binary layers: {string.Join(", ", model.BinaryLayers().Select(l => l.Name))}");
Console.Write(model.Summary(1, 3, 8, 8));

/// <summary>A ReSTE-binarized residual block (one shortcut per convolution, as in the paper's ResNet).</summary>
[Binarize(Estimator = Estimator.ReSTE, OEnd = 3)]
public sealed partial class BasicBlock : nn.Module<Tensor, Tensor>
{
    private readonly BinaryConv2d conv1, conv2;     // generated, nested in BasicBlock, specialised to the policy
    private readonly BatchNorm2d bn1, bn2;

    public BasicBlock(long inPlanes, long planes, long stride) : base(nameof(BasicBlock))
    {
        conv1 = new BinaryConv2d(inPlanes, planes, kernelSize: 3, stride: stride, padding: 1);
        bn1 = nn.BatchNorm2d(planes);
        conv2 = new BinaryConv2d(planes, planes, kernelSize: 3, stride: 1, padding: 1);
        bn2 = nn.BatchNorm2d(planes);
        RegisterComponents();
    }

    public BinaryConv2d Conv1 => conv1;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = bn1.call(conv1.call(x)).add_(x);
        return bn2.call(conv2.call(y)).add_(y).MoveToOuterDisposeScope();
    }
}

/// <summary>A policy without a module: EDE, 1W/1A. <c>EdePolicy.Layers</c> and <c>new EdePolicy.BinaryConv2d(…)</c>.</summary>
[Binarize(Estimator = Estimator.EDE)]
public static partial class EdePolicy;

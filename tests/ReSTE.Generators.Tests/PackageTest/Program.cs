// The README example: a binary BasicBlock declared with [Binarize], trained for a few steps on random data.
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
    BinaryModel.SetProgress(block, epoch, epochs);             // moves o from 1 towards OEnd
    using var scope = NewDisposeScope();
    var logits = head.call(block.call(x).mean(new long[] { 2, 3 }));
    var loss = nn.functional.cross_entropy(logits, labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    var o = ((ReSTE.Runtime.Estimators.ReSTE)block.Conv1.Estimator).O;
    Console.WriteLine($"epoch {epoch}: o = {o:F3}, loss = {loss.item<float>():F4}");
}
var (total, binary) = BinaryModel.CountParameters(block);
Console.WriteLine($"parameters: {total}, binary weights: {binary}");

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

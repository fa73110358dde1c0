using System;
using System.Linq;
using ReSTE.Runtime.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Training
{
    /// <summary>Loss and accuracy of a model on a source.</summary>
    /// <param name="Loss">Mean cross-entropy.</param>
    /// <param name="Top1">Top-1 accuracy, percent.</param>
    /// <param name="Top5">Top-5 accuracy, percent (top-k for fewer than 5 classes).</param>
    /// <param name="Count">Examples evaluated.</param>
    public sealed record EvalResult(double Loss, double Top1, double Top5, long Count);

    /// <summary>
    /// The evaluation the <see cref="Trainer"/> runs after each epoch (<see cref="TrainerOptions.Evaluator"/>).
    /// The default, <see cref="TorchEvaluator"/>, runs the model's own eval-mode forward; another implementation may
    /// evaluate the same weights elsewhere (an inference engine).
    /// </summary>
    public interface IEvaluator
    {
        EvalResult Evaluate(nn.Module<Tensor, Tensor> model, IBatchSource data, int batchSize);
    }

    /// <summary>Evaluation with the TorchSharp model in eval mode: sums on the device, one read at the end.</summary>
    public sealed class TorchEvaluator : IEvaluator
    {
        public static TorchEvaluator Instance { get; } = new();

        public EvalResult Evaluate(nn.Module<Tensor, Tensor> model, IBatchSource data, int batchSize)
        {
            if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"The evaluation batch size must be ≥ 1, not {batchSize}.");
            model.eval();
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var dev = data.Device;
            var lossSum = zeros(1, dtype: ScalarType.Float64, device: dev);
            var top1 = zeros(1, dtype: ScalarType.Float64, device: dev);
            var top5 = zeros(1, dtype: ScalarType.Float64, device: dev);
            long n = 0;
            using var reader = data.Open(BatchPass.Evaluation(batchSize));
            while (true)
            {
                using var inner = NewDisposeScope();
                if (!reader.Next(out var x, out var y)) break;
                var output = model.forward(x);
                lossSum.add_(nn.functional.cross_entropy(output, y, reduction: nn.Reduction.Sum).to(ScalarType.Float64));
                int k = (int)Math.Min(5, output.shape[1]);
                var (_, pred) = output.topk(k, dim: 1);
                var hit = pred.eq(y.unsqueeze(1));
                top1.add_(hit.narrow(1, 0, 1).sum().to(ScalarType.Float64));
                top5.add_(hit.any(1).sum().to(ScalarType.Float64));
                n += y.shape[0];
            }
            if (n == 0) return new EvalResult(double.NaN, double.NaN, double.NaN, 0);
            var result = cat(new[] { lossSum, top1, top5 }).cpu();
            var v = result.data<double>().ToArray();
            return new EvalResult(v[0] / n, 100 * v[1] / n, 100 * v[2] / n, n);
        }
    }
}

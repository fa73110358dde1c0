using System;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Deploy
{
    /// <summary>
    /// The trainer's per-epoch evaluation (<see cref="TrainerOptions.Evaluator"/>) through <see cref="EngineEvaluator"/>:
    /// on the CPU the model packed in memory each epoch and run on the XNOR engine, TorchSharp otherwise (the reason
    /// goes to <see cref="EngineEvaluator.PathChanged"/>).
    /// </summary>
    public sealed class EngineTrainerEvaluator : IEvaluator
    {
        public EngineTrainerEvaluator(EngineEvaluator evaluator) { Evaluator = evaluator ?? throw new ArgumentNullException(nameof(evaluator)); }

        public EngineEvaluator Evaluator { get; }

        /// <summary>The last evaluation's report (path and reason), or null before the first.</summary>
        public EvaluationReport? Last { get; private set; }

        public EvalResult Evaluate(nn.Module<Tensor, Tensor> model, IBatchSource data, int batchSize)
        {
            var r = Evaluator.Evaluate(model, EvaluationBatches.Of(data, batchSize), data.Count, data.Device);
            Last = r;
            return new EvalResult(r.Loss, r.Top1, r.Top5, r.Count);
        }
    }
}

using System;
using System.Globalization;
using System.IO;
using ReSTE.Runtime.Deploy;
using ReSTE.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Samples
{
    /// <summary>
    /// Evaluation of the sample's models through the XNOR engine (<see cref="EngineEvaluator"/>): how each CIFAR-10
    /// model is packed for it, and the console progress and path lines that <c>eval</c>, <c>train</c>, <c>sweep</c> and
    /// <c>compare</c> print.
    /// </summary>
    public static class EngineEval
    {
        /// <summary>
        /// The exporter of <paramref name="model"/> (one of the sample's CIFAR-10 models, which export themselves through
        /// <see cref="ModelExporter"/>) without a Normalize op (the evaluation batches are already normalised), or null
        /// for another model. The global random state is kept: packing checks layers on random inputs, which must not
        /// move a training run's random stream.
        /// </summary>
        public static ModelPacker? PackerFor(string model)
        {
            if (model is not ("vgg-small" or "resnet20" or "resnet18" or "resnet20-bireal")) return null;
            Func<nn.Module<Tensor, Tensor>, ReSTE.Inference.Format.PackedModel> export = m => ModelExporter.Export(m, new[] { 3, 32, 32 });
            return m =>
            {
                using var state = torch.random.get_rng_state();
                try { return export(m); }
                finally { torch.random.set_rng_state(state); }
            };
        }

        /// <summary>An evaluator for <paramref name="model"/> printing progress to <paramref name="output"/> (a bar on a terminal).</summary>
        public static EngineEvaluator Create(string model, EvaluationChoice choice, TextWriter output, string label = "eval")
        {
            bool console = output == Console.Out;
            var progress = new EvalProgress(console ? null : output, console ? null : false, label);
            return new EngineEvaluator(PackerFor(model), choice, progress.Report);
        }

        /// <summary>
        /// The trainer's per-epoch test through <see cref="Create"/>, printing a line <c>evaluation: …</c> to
        /// <paramref name="output"/> whenever the path changes (the first epoch, or a fall-back).
        /// </summary>
        public static IEvaluator ForTrainer(string model, EvaluationChoice choice, TextWriter output)
        {
            var evaluator = Create(model, choice, output, "test");
            evaluator.PathChanged = r => output.WriteLine($"evaluation: {Describe(r, evaluator)}");
            return new EngineTrainerEvaluator(evaluator);
        }

        /// <summary>The value of <c>--eval</c>.</summary>
        public static EvaluationChoice Parse(string value) => value.Trim().ToLowerInvariant() switch
        {
            "auto" => EvaluationChoice.Auto,
            "engine" => EvaluationChoice.Engine,
            "torch" or "torchsharp" => EvaluationChoice.TorchSharp,
            _ => throw new ArgumentException($"--eval: '{value}' is not auto, engine or torch."),
        };

        /// <summary>"XNOR engine, 2 threads" or "TorchSharp: why".</summary>
        public static string Describe(EvaluationReport r, EngineEvaluator e) =>
            r.Path == EvaluationPath.Engine ? $"XNOR engine, {e.EffectiveThreads.ToString(CultureInfo.InvariantCulture)} thread{(e.EffectiveThreads == 1 ? "" : "s")}" : r.Describe();
    }
}

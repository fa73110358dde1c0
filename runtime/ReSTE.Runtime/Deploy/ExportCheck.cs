using System;
using System.Linq;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Deploy
{
    /// <summary>
    /// Runs an exported model on the inference engine against the TorchSharp model it came from. The exporter checks
    /// each layer, but a model's forward is code and its export restates the graph: this catches a graph that is
    /// wired differently (a missing shortcut, a pool in another place, a head that does not pool globally). It expects
    /// binary layers whose eval forward is exact, as the generated ones are (the signs summed as integers, then β): a
    /// layer that sums ±β in floating point can round an activation that should be 0 to a tiny ±value, whose sign the
    /// next binary layer then takes, and fail the check although its graph is right.
    /// </summary>
    public static class ExportCheck
    {
        /// <summary>
        /// Runs two random images (uniform in [0, 1], normalised by <paramref name="mean"/>/<paramref name="std"/> for
        /// TorchSharp when given, as the packed model's Normalize op does) through both and throws
        /// <see cref="NotSupportedException"/> when the outputs differ by more than 1e-3 of their scale. The model runs
        /// in eval mode (its training flag is restored afterwards). <paramref name="inputShape"/> is what the model's
        /// forward takes per image ({C, H, W}, or {features} for a model of flat vectors); the packed model's input shape by default.
        /// </summary>
        public static void Verify(nn.Module model, PackedModel packed, float[]? mean = null, float[]? std = null, int seed = 20231,
            long[]? inputShape = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(packed);
            if (model is not nn.Module<Tensor, Tensor> forward)
                throw new ArgumentException($"A {model.GetType().Name} is not a Module<Tensor, Tensor>; the export check runs its forward on an image batch.");
            const int count = 2;
            var engine = new InferenceEngine(packed);
            bool wasTraining = model.training;
            model.eval();
            try
            {
                float[] input, expected;
                using (no_grad())
                using (var scope = NewDisposeScope())
                {
                    var shape = inputShape ?? new long[] { packed.InputChannels, packed.InputHeight, packed.InputWidth };
                    if ((long)packed.InputChannels * packed.InputHeight * packed.InputWidth != shape.Aggregate(1L, (a, b) => a * b))
                        throw new ArgumentException($"The input shape [{string.Join(", ", shape)}] does not hold the packed model's {packed.InputChannels}×{packed.InputHeight}×{packed.InputWidth}.", nameof(inputShape));
                    var x = rand(new long[] { count }.Concat(shape).ToArray(), generator: new Generator((ulong)seed));
                    input = LayerExport.Floats(x);
                    var fed = x;
                    var statShape = shape.Length == 3 ? new long[] { 1, -1, 1, 1 } : new long[] { 1, -1 };
                    if (mean is not null && std is not null)
                        fed = x.sub(tensor(mean).reshape(statShape)).div(tensor(std).reshape(statShape));
                    var y = forward.forward(fed);
                    if (y.numel() != (long)count * engine.OutputLength)
                        throw new NotSupportedException(
                            $"The exported model gives {engine.OutputLength} outputs per image, the model [{string.Join(",", y.shape.Skip(1))}]: the export does not follow its forward.");
                    expected = LayerExport.Floats(y);
                }
                var actual = engine.RunBatch(input, count);
                double diff = 0, scale = 1;
                for (int i = 0; i < expected.Length; i++)
                {
                    diff = Math.Max(diff, Math.Abs(expected[i] - actual[i]));
                    scale = Math.Max(scale, Math.Abs(expected[i]));
                }
                if (!(diff <= 1e-3 * scale))
                    throw new NotSupportedException(FormattableString.Invariant(
                        $"The exported model does not compute what the model's forward does (max output difference {diff:G3} on random images, outputs up to {scale:G3}): the export's graph does not match this model."));
            }
            finally { model.train(wasTraining); }
        }
    }
}

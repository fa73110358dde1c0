using System;
using System.Linq;
using ReSTE.Runtime;
using ReSTE.Runtime.Analysis;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Indicators;
using ReSTE.Runtime.Layers;
using ReSTE.Runtime.Schedules;
using ReSTE.Runtime.Training;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Tests.Analysis
{
    public class EquilibriumHookTests
    {
        /// <summary>CIFAR-shaped random images whose label is set by the mean brightness of the red channel.</summary>
        static Cifar10Set Synthetic(int n, int seed)
        {
            var random = new Random(seed);
            var images = new byte[n * Cifar10.ImageBytes];
            random.NextBytes(images);
            var labels = new byte[n];
            for (int i = 0; i < n; i++)
            {
                long red = 0;
                for (int j = 0; j < 1024; j++) red += images[i * Cifar10.ImageBytes + j];
                labels[i] = (byte)(red * 10 / (1024 * 256));
            }
            return new Cifar10Set(images, labels);
        }

        [Theory]
        [InlineData(IndicatorDefinition.Current)]
        [InlineData(IndicatorDefinition.Reference)]
        public void The_hook_records_a_real_trainer_run(IndicatorDefinition definition)
        {
            using var scope = NewDisposeScope();
            using var train = new DeviceCifar(Synthetic(48, 1), CPU);
            using var test = new DeviceCifar(Synthetic(32, 2), CPU);
            manual_seed(9);
            using var model = new TinyMlp(() => new ReSTEEstimator(oEnd: 3), Cifar10.ImageBytes, 12, Cifar10.Classes);
            var hook = new EquilibriumHook(definition, oEnd: 3, histogramBins: 16);
            var options = new TrainerOptions { Epochs = 3, BatchSize = 16, EvalBatchSize = 32, LearningRate = 0.05, Seed = 4, Indicators = true };
            var result = new Trainer(model, train, test, options, new ITrainerHook[] { hook }).Run();

            Assert.Equal(TrainOutcome.Completed, result.Outcome);
            Assert.Equal(3, hook.Epochs.Count);
            for (int i = 0; i < 3; i++)
            {
                var epoch = hook.Epochs[i];
                var metrics = result.History[i];
                Assert.Equal(i, epoch.Epoch);
                Assert.Equal(OSchedule.At(ScheduleKind.Cosine, i, 3, 3), epoch.Parameter, 12);
                Assert.Equal(metrics.TrainLoss, epoch.TrainLoss);
                Assert.Equal(metrics.TestTop1, epoch.Top1);
                Assert.Equal(new[] { "layer1", "layer2" }, epoch.Indicators.Layers.Select(l => l.Layer));
                // The trainer's own indicators are this library's definition, measured at the same moment.
                for (int l = 0; l < 2; l++)
                {
                    Assert.Equal(metrics.Layers[l].GradientInstability, epoch.Indicators.Layers[l].GradientInstability, 1e-6);
                    if (definition == IndicatorDefinition.Current)
                        Assert.Equal(metrics.Layers[l].EstimatingError, epoch.Indicators.Layers[l].EstimatingError, 1e-9);
                }
            }
            if (definition == IndicatorDefinition.Reference)
            {
                // At o < o_end the power function is farther from sign: the reference's e (at o_end = 3) is smaller
                // than ours in the first epoch (o = 1).
                Assert.True(hook.Epochs[0].Indicators.Layers[0].EstimatingError < result.History[0].Layers[0].EstimatingError);
            }
            var (error, gradient) = hook.Distributions!.Value;
            long weights = BinaryModel.Layers(model).Sum(l => l.Layer.BinaryWeightCount);
            Assert.Equal(weights, error.Counts.Sum());
            long nonZero = BinaryModel.Layers(model).Sum(l => l.Layer.LatentWeight.grad!.data<float>().ToArray().Count(v => v != 0));
            Assert.Equal(nonZero, gradient!.Counts.Sum());
            Assert.Equal(16, error.Counts.Length);
        }
    }
}

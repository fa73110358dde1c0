using System;
using System.Collections.Generic;
using System.Linq;
using ReSTE.Reports;
using ReSTE.Runtime;
using ReSTE.Runtime.Analysis;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Indicators;
using ReSTE.Runtime.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Reports.Tests
{
    /// <summary>
    /// A real, tiny training run as a <see cref="TrainOneRun"/>: Gaussian blobs (fixed data), a <see cref="TinyMlp"/>
    /// initialised from the run's seed, SGD, data order from the run's seed, indicators recorded by
    /// <see cref="IndicatorRecorder"/> after every step.
    /// </summary>
    public sealed class TinyTrainer
    {
        public const int Features = 8, Hidden = 16, Classes = 3, TrainSize = 96, TestSize = 48, BatchSize = 32;

        public TinyTrainer(int epochs, IndicatorDefinition definition = IndicatorDefinition.Current)
        {
            Epochs = epochs;
            Definition = definition;
        }

        public int Epochs { get; }
        public IndicatorDefinition Definition { get; }
        public List<string> Calls { get; } = new();

        public RunRecord Train(RunSpec spec)
        {
            Calls.Add(spec.Name);
            using var scope = NewDisposeScope();
            var kind = EstimatorFactory.Parse(spec.Estimator);
            var (trainX, trainY) = Blobs(TrainSize, dataSeed: 7);
            var (testX, testY) = Blobs(TestSize, dataSeed: 8);

            torch.manual_seed(spec.Seed);
            using var model = new TinyMlp(() => EstimatorFactory.Create(kind, spec.OEnd), Features, Hidden, Classes);
            var optimizer = torch.optim.SGD(model.parameters(), 0.1);
            var recorder = new IndicatorRecorder(Definition, spec.OEnd);
            var order = new torch.Generator((ulong)spec.Seed);
            var layers = BinaryModel.Layers(model);
            var steps = new List<double>();
            var epochs = new List<EpochRecord>();

            for (int epoch = 0; epoch < Epochs; epoch++)
            {
                BinaryModel.SetProgress(model, epoch, Epochs);
                model.train();
                var perm = torch.randperm(TrainSize, generator: order);
                double lossSum = 0; int batches = 0;
                for (int start = 0; start < TrainSize; start += BatchSize)
                {
                    using var step = NewDisposeScope();
                    var idx = perm.narrow(0, start, Math.Min(BatchSize, TrainSize - start));
                    optimizer.zero_grad();
                    var loss = nn.functional.cross_entropy(model.forward(trainX.index_select(0, idx)), trainY.index_select(0, idx));
                    loss.backward();
                    optimizer.step();
                    recorder.Observe(model);
                    double l = loss.item<float>();
                    steps.Add(l); lossSum += l; batches++;
                }
                model.eval();
                double top1;
                using (torch.no_grad())
                    top1 = model.forward(testX).argmax(1).eq(testY).to_type(ScalarType.Float64).mean().item<double>() * 100;
                var ind = recorder.EndEpoch(epoch, layers[0].Layer.Estimator.Parameter);
                epochs.Add(new EpochRecord(epoch, ind.Parameter, lossSum / batches, top1, ind.EstimatingError, ind.GradientInstability,
                    ind.Layers.Select(l => new LayerValue(l.Layer, l.EstimatingError, l.GradientInstability)).ToArray()));
            }

            var (e, s) = recorder.Summary();
            var (error, gradient) = recorder.Distributions(model, bins: 20);
            return new RunRecord(spec.Name, spec.Estimator, spec.OEnd, IndicatorDefinitions.Name(Definition), epochs, steps, e, s,
                new Histogram(error.Min, error.Max, error.Counts),
                gradient is null ? null : new Histogram(gradient.Min, gradient.Max, gradient.Counts));
        }

        /// <summary>Three Gaussian blobs in 8 dimensions, the same for every run (its own generator).</summary>
        static (Tensor X, Tensor Y) Blobs(int n, int dataSeed)
        {
            var g = new torch.Generator((ulong)dataSeed);
            var centers = torch.randn(new long[] { Classes, Features }, generator: g).mul_(2);
            var y = torch.arange(n, dtype: ScalarType.Int64).remainder(Classes);
            var x = centers.index_select(0, y).add_(torch.randn(new long[] { n, Features }, generator: g));
            return (x, y);
        }
    }
}

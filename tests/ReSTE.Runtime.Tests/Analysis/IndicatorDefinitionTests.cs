using System;
using System.Linq;
using ReSTE.Runtime;
using ReSTE.Runtime.Analysis;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Indicators;
using ReSTE.Runtime.Layers;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Tests.Analysis
{
    public class IndicatorDefinitionTests
    {
        static double Norm(float[] w, Func<double, double> f) =>
            Math.Sqrt(w.Sum(v => { double d = Math.Sign(v) - f(v); return d * d; }));

        static double Var(float[] g)
        {
            var a = g.Select(v => Math.Abs((double)v)).ToArray();
            double mean = a.Average();
            return a.Sum(v => (v - mean) * (v - mean)) / (a.Length - 1);
        }

        static double Power(double z, double o) => Math.Sign(z) * Math.Pow(Math.Abs(z), 1 / o);

        [Fact]
        public void Current_measures_e_at_the_current_o_and_reference_at_o_end()
        {
            using var scope = NewDisposeScope();
            manual_seed(3);
            using var model = new TinyMlp(() => new ReSTEEstimator(oEnd: 3), 4, 6, 2);
            BinaryModel.SetProgress(model, 5, 10); // o = 1 + 2(1 − cos(π/4))
            var x = randn(5, 4);
            var loss = nn.functional.cross_entropy(model.forward(x), tensor(new long[] { 0, 1, 0, 1, 1 }));
            loss.backward();

            double o = 1 + 2 * (1 - Math.Cos(Math.PI / 4));
            var current = IndicatorDefinitions.Measure(model, IndicatorDefinition.Current, 3);
            var reference = IndicatorDefinitions.Measure(model, IndicatorDefinition.Reference, 3);
            Assert.Equal(new[] { "layer1", "layer2" }, current.Select(l => l.Layer));
            Assert.Equal(new[] { "layer1", "layer2" }, reference.Select(l => l.Layer));
            var layers = BinaryModel.Layers(model);
            for (int i = 0; i < layers.Count; i++)
            {
                var w = layers[i].Layer.LatentWeight.data<float>().ToArray();
                var g = layers[i].Layer.LatentWeight.grad!.data<float>().ToArray();
                Assert.Equal(Norm(w, z => Power(z, o)), current[i].EstimatingError, 1e-4);
                Assert.Equal(Norm(w, z => Power(z, 3)), reference[i].EstimatingError, 1e-4);
                Assert.Equal(Var(g), current[i].GradientInstability, 1e-6 * Math.Max(1, Var(g)));
                Assert.Equal(current[i].GradientInstability, reference[i].GradientInstability, 1e-6 * Math.Max(1, Var(g)));
                Assert.NotEqual(current[i].EstimatingError, reference[i].EstimatingError, 3);
            }
        }

        [Fact]
        public void Reference_uses_o_end_even_for_other_estimators()
        {
            using var scope = NewDisposeScope();
            manual_seed(4);
            using var model = new TinyMlp(() => new SteEstimator(), 4, 6, 2);
            var reference = IndicatorDefinitions.Measure(model, IndicatorDefinition.Reference, 2);
            var current = IndicatorDefinitions.Measure(model, IndicatorDefinition.Current, 2);
            var w = BinaryModel.Layers(model)[0].Layer.LatentWeight.data<float>().ToArray();
            Assert.Equal(Norm(w, z => Power(z, 2)), reference[0].EstimatingError, 1e-4);
            Assert.Equal(Norm(w, z => Math.Clamp(z, -1, 1)), current[0].EstimatingError, 1e-4);
            Assert.True(double.IsNaN(reference[0].GradientInstability)); // no backward yet
        }

        [Fact]
        public void Current_averages_and_reference_sums()
        {
            var layers = new[] { new LayerIndicators("a", 2, 0.5), new LayerIndicators("b", 4, 1.5) };
            Assert.Equal((3.0, 1.0), IndicatorDefinitions.Epoch(layers, IndicatorDefinition.Current));
            Assert.Equal((6.0, 2.0), IndicatorDefinitions.Epoch(layers, IndicatorDefinition.Reference));

            var epochs = new[] { (6.0, 2.0), (4.0, 3.0), (2.0, 1.0) };
            Assert.Equal((4.0, 2.0), IndicatorDefinitions.Run(epochs, IndicatorDefinition.Current));
            // The reference divides the summed e by the number of epochs but not the summed s.
            Assert.Equal((4.0, 6.0), IndicatorDefinitions.Run(epochs, IndicatorDefinition.Reference));
            Assert.True(double.IsNaN(IndicatorDefinitions.Run(Array.Empty<(double, double)>(), IndicatorDefinition.Current).EstimatingError));
        }

        [Fact]
        public void Names_parse_both_ways_and_unknown_ones_are_errors()
        {
            foreach (var d in Enum.GetValues<IndicatorDefinition>())
                Assert.Equal(d, IndicatorDefinitions.Parse(IndicatorDefinitions.Name(d).ToUpperInvariant()));
            var ex = Assert.Throws<ArgumentException>(() => IndicatorDefinitions.Parse("paper"));
            Assert.Contains("'paper'", ex.Message);
        }

        [Fact]
        public void The_recorder_keeps_the_last_observation_of_each_epoch()
        {
            using var scope = NewDisposeScope();
            manual_seed(5);
            using var model = new TinyMlp(() => new ReSTEEstimator(oEnd: 2), 4, 6, 2);
            var recorder = new IndicatorRecorder(IndicatorDefinition.Current, 2);
            Assert.Throws<InvalidOperationException>(() => recorder.EndEpoch(0, 1));
            var y = tensor(new long[] { 0, 1, 1 });
            var first = recorder.Observe(model);
            nn.functional.cross_entropy(model.forward(randn(3, 4)), y).backward();
            var last = recorder.Observe(model);
            var epoch = recorder.EndEpoch(0, 1);
            Assert.Same(last, epoch.Layers);
            Assert.True(double.IsNaN(first[0].GradientInstability));
            Assert.Equal(EquilibriumIndicators.Average(last), (epoch.EstimatingError, epoch.GradientInstability));
            Assert.Equal((epoch.EstimatingError, epoch.GradientInstability), recorder.Summary());

            var (error, gradient) = recorder.Distributions(model, bins: 10);
            long weights = BinaryModel.Layers(model).Sum(l => l.Layer.BinaryWeightCount);
            Assert.Equal(weights, error.Counts.Sum());
            Assert.Equal(0, error.Min);
            // Gradients: log10|g| of the non-zero ones, over their range.
            var g = BinaryModel.Layers(model).SelectMany(l => l.Layer.LatentWeight.grad!.data<float>().ToArray()).Select(v => Math.Abs((double)v)).Where(v => v > 0).ToArray();
            Assert.Equal(g.Length, gradient!.Counts.Sum());
            Assert.Equal(Math.Log10(g.Min()), gradient.Min, 1e-5);
            Assert.Equal(Math.Log10(g.Max()), gradient.Max, 1e-5);
        }
    }
}

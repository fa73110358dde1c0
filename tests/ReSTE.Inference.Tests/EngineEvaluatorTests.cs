using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ReSTE.Runtime;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Deploy;
using ReSTE.Runtime.Training;
using ReSTE.Samples;
using ReSTE.Samples.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ReSTE.Inference.Tests
{
    /// <summary>
    /// Evaluation through the XNOR engine (the model packed in memory) against the TorchSharp eval forward on CIFAR-10
    /// test images: the same loss, top-1, top-5 and every prediction; ResNet-20 and Bi-Real ResNet-20 on the whole test
    /// set, ResNet-18 and VGG-small on 500 images (TorchSharp takes ~20 ms per image for them here), a user's model on
    /// 1,000. And the fall-backs
    /// to TorchSharp, each with its reason.
    /// </summary>
    public sealed class EngineEvaluatorTests
    {
        readonly ITestOutputHelper _out;
        public EngineEvaluatorTests(ITestOutputHelper output) { _out = output; }

        static readonly string DataFolder = Cifar10.FindDefaultFolder(AppContext.BaseDirectory)
            ?? throw new DirectoryNotFoundException("CIFAR-10 not found: shared/data/cifar10 above the test folder.");

        static nn.Module<Tensor, Tensor> Model(string name, bool binaryActivations = true)
        {
            manual_seed(7);
            var model = ModelZoo.Create(name, Estimator.ReSTE, binaryActivations);
            TorchTestUtil.RandomizeBatchNorms(model, 7);
            return model;
        }

        [Theory]
        [InlineData("resnet20", 10_000)]
        [InlineData("resnet20-bireal", 10_000)]
        [InlineData("resnet18", 500)]
        [InlineData("vgg-small", 500)]
        public void The_engine_evaluation_gives_the_loss_accuracy_and_predictions_of_the_TorchSharp_forward(string name, int count)
        {
            var model = Model(name);
            model.train(); // as the trainer leaves it after an epoch; both paths must evaluate the eval-mode forward
            using var test = new DeviceCifar(Cifar10.Load(DataFolder, Cifar10Split.Test, count), CPU);
            var progress = new List<(int Done, int Total)>();
            var engine = new EngineEvaluator(EngineEval.PackerFor(name), EvaluationChoice.Engine, (d, t) => progress.Add((d, t)));
            var torchSide = new EngineEvaluator(EngineEval.PackerFor(name), EvaluationChoice.TorchSharp);
            var e = engine.Evaluate(model, EvaluationBatches.Of(test, 250), test.Count, CPU, keepPredictions: true);
            var t = torchSide.Evaluate(model, EvaluationBatches.Of(test, 250), test.Count, CPU, keepPredictions: true);
            _out.WriteLine($"{name}, {count} images: engine loss {e.Loss:R} top-1 {e.Top1} top-5 {e.Top5}; TorchSharp loss {t.Loss:R} top-1 {t.Top1} top-5 {t.Top5}");
            AssertSameEvaluation(e, t, count);
            // Progress: from 0 to the whole set, never backwards.
            Assert.Equal((0, count), progress[0]);
            Assert.Equal((count, count), progress[^1]);
            Assert.True(progress.Zip(progress.Skip(1)).All(p => p.First.Done <= p.Second.Done));
            Assert.Equal(1 + (count + 249) / 250, progress.Count);
            Assert.True(model.training, "the evaluation left the model in eval mode");
        }

        /// <summary>The engine's evaluation <paramref name="e"/> equals TorchSharp's <paramref name="t"/>: every prediction, top-1, top-5, the loss within 1e-6 relative.</summary>
        static void AssertSameEvaluation(EvaluationReport e, EvaluationReport t, int count)
        {
            Assert.Equal(EvaluationPath.Engine, e.Path);
            Assert.Null(e.Reason);
            Assert.Equal(EvaluationPath.TorchSharp, t.Path);
            Assert.Equal(count, e.Count);
            Assert.Equal(count, t.Count);
            Assert.Equal(count, e.Predictions!.Length);
            int same = e.Predictions.Zip(t.Predictions!).Count(p => p.First == p.Second);
            Assert.Equal(count, same);
            Assert.Equal(t.Top1, e.Top1);
            Assert.Equal(t.Top5, e.Top5);
            // The loss is a smooth function of every logit: agreeing to 1e-6 (engine in double, TorchSharp in float32
            // sums) shows the logits agree, also where a random model gives most images one class (VGG-small).
            Assert.True(Math.Abs(e.Loss - t.Loss) <= 1e-6 * Math.Max(1, Math.Abs(t.Loss)), $"loss {e.Loss} vs {t.Loss}");
            Assert.True(e.Loss > 0 && double.IsFinite(e.Loss));
        }

        /// <summary>
        /// A user's model, not a sample's: a Sequential of TorchSharp modules, the runtime's binary convolution and
        /// Linear, and a residual block with its own forward (<see cref="AddBlock"/>), packed by the model-driven
        /// exporter (no export code naming it) and evaluated on 1,000 CIFAR-10 test images.
        /// </summary>
        [Fact]
        public void A_user_model_evaluates_through_the_engine_as_through_TorchSharp()
        {
            manual_seed(11);
            var model = nn.Sequential(
                ("stem", nn.Conv2d(3, 16, 3, padding: 1, bias: false)),
                ("bn0", nn.BatchNorm2d(16)),
                ("pool0", nn.MaxPool2d(2, 2)),
                ("conv1", new ReSTE.TestSupport.TestBinaryConv2d(16, 32, 3, 1, 1)),
                ("bn1", nn.BatchNorm2d(32)),
                ("block", new AddBlock(32)),
                ("pool1", nn.MaxPool2d(2, 2)),
                ("flatten", nn.Flatten()),
                ("fc1", new ReSTE.TestSupport.TestBinaryLinear(32 * 8 * 8, 64, new ReSTE.Runtime.Estimators.ReSTEEstimator())),
                ("bn2", nn.BatchNorm1d(64)),
                ("fc", nn.Linear(64, 10)));
            TorchTestUtil.RandomizeBatchNorms(model, 11);
            const int count = 1000;
            using var test = new DeviceCifar(Cifar10.Load(DataFolder, Cifar10Split.Test, count), CPU);
            ModelPacker packer = m => ModelExporter.Export(m, new[] { 3, 32, 32 });
            var e = new EngineEvaluator(packer, EvaluationChoice.Engine).Evaluate(model, EvaluationBatches.Of(test, 250), count, CPU, keepPredictions: true);
            var t = new EngineEvaluator(packer, EvaluationChoice.TorchSharp).Evaluate(model, EvaluationBatches.Of(test, 250), count, CPU, keepPredictions: true);
            _out.WriteLine($"user model, {count} images: engine loss {e.Loss:R} top-1 {e.Top1} top-5 {e.Top5}; TorchSharp loss {t.Loss:R} top-1 {t.Top1} top-5 {t.Top5}");
            AssertSameEvaluation(e, t, count);
            // Not one class for every image (a check that the comparison has something to compare).
            Assert.True(e.Predictions!.Distinct().Count() > 1, "every image got the same class");
        }

        [Fact]
        public void Models_the_engine_cannot_run_fall_back_to_TorchSharp_and_say_why()
        {
            using var test = new DeviceCifar(Cifar10.Load(DataFolder, Cifar10Split.Test, 64), CPU);
            var batches = EvaluationBatches.Of(test, 32);

            var a32 = Model("resnet20", binaryActivations: false);
            var r = new EngineEvaluator(EngineEval.PackerFor("resnet20"), EvaluationChoice.Engine).Evaluate(a32, batches, 64, CPU);
            Assert.Equal(EvaluationPath.TorchSharp, r.Path);
            Assert.Contains("1W/32A layers (layer1.0.conv1 and 17 more)", r.Describe());
            var expected = TorchSharpOnly(a32, batches);
            Assert.Equal(expected.Top1, r.Top1);
            Assert.Equal(expected.Loss, r.Loss);

            var model = Model("resnet20");
            var unknown = new EngineEvaluator(null, EvaluationChoice.Engine).Evaluate(model, batches, 64, CPU);
            Assert.Equal(EvaluationPath.TorchSharp, unknown.Path);
            Assert.Contains("no packed form", unknown.Reason);

            // A packer that refuses the model (as the exporter refuses a graph it cannot state): its message is named.
            var refused = new EngineEvaluator(_ => throw new NotSupportedException("'head' is a Sequential, not a Linear."), EvaluationChoice.Engine)
                .Evaluate(model, batches, 64, CPU);
            Assert.Equal(EvaluationPath.TorchSharp, refused.Path);
            Assert.Contains("cannot be packed ('head' is a Sequential, not a Linear.)", refused.Reason);

            // Packed for another input size: the first batch shows it, and the pass runs again on TorchSharp.
            var wrongSize = new EngineEvaluator(m => ModelExporter.Export(m, new[] { 3, 16, 16 }), EvaluationChoice.Engine)
                .Evaluate(model, batches, 64, CPU);
            Assert.Equal(EvaluationPath.TorchSharp, wrongSize.Path);
            Assert.Contains("takes 768 inputs per example, the batches give [3,32,32]", wrongSize.Reason);
            Assert.Equal(64, wrongSize.Count);

            var forced = new EngineEvaluator(EngineEval.PackerFor("resnet20"), EvaluationChoice.TorchSharp).Evaluate(model, batches, 64, CPU);
            Assert.Equal("TorchSharp: asked for", forced.Describe());

            // Auto takes the engine only where its fast kernels run (AVX-512, or AVX2 with FMA and BMI2).
            var auto = new EngineEvaluator(EngineEval.PackerFor("resnet20"), EvaluationChoice.Auto).Evaluate(model, batches, 64, CPU);
            if (ReSTE.Inference.Engine.InferenceEngine.HasFastKernels) Assert.Equal(EvaluationPath.Engine, auto.Path);
            else
            {
                Assert.Equal(EvaluationPath.TorchSharp, auto.Path);
                Assert.Contains("neither AVX-512 nor AVX2", auto.Reason);
            }
        }

        static EvaluationReport TorchSharpOnly(nn.Module<Tensor, Tensor> model, Func<IEvaluationBatches> batches) =>
            new EngineEvaluator(null, EvaluationChoice.TorchSharp).Evaluate(model, batches, 64, CPU);

        [Fact]
        public void The_path_is_announced_when_it_changes()
        {
            using var test = new DeviceCifar(Cifar10.Load(DataFolder, Cifar10Split.Test, 16), CPU);
            var seen = new List<string>();
            var evaluator = new EngineEvaluator(EngineEval.PackerFor("resnet20"), EvaluationChoice.Engine) { PathChanged = r => seen.Add(r.Describe()) };
            var model = Model("resnet20");
            evaluator.Evaluate(model, EvaluationBatches.Of(test, 8), 16, CPU);
            evaluator.Evaluate(model, EvaluationBatches.Of(test, 8), 16, CPU);
            Assert.Equal(new[] { "XNOR engine" }, seen);
        }

        [Fact]
        public void Evaluation_progress_is_a_line_per_quarter_when_redirected_and_a_bar_on_a_terminal()
        {
            var lines = new StringWriter();
            var redirected = new EvalProgress(lines, interactive: false);
            redirected.Report(0, 1000);
            for (int done = 100; done <= 1000; done += 100) redirected.Report(done, 1000);
            var text = lines.ToString().TrimEnd().Split('\n').Select(l => l.TrimEnd()).ToArray();
            Assert.Equal(3, text.Length);
            Assert.StartsWith("eval 300/1,000 images", text[0]);
            Assert.StartsWith("eval 500/1,000 images", text[1]);
            Assert.StartsWith("eval 800/1,000 images", text[2]);
            Assert.All(text, l => Assert.Contains(" img/s ETA ", l));

            var bar = new StringWriter();
            var terminal = new EvalProgress(bar, interactive: true);
            terminal.Report(0, 1000);
            System.Threading.Thread.Sleep(250);
            terminal.Report(500, 1000);
            terminal.Report(1000, 1000);
            var drawn = bar.ToString();
            Assert.Contains("\reval [###############---------------] 500/1,000 ", drawn);
            Assert.EndsWith("\r" + new string(' ', 90) + "\r", drawn); // erased at the end, for the result line
        }
    }
}

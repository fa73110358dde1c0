using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Interop;
using ReSTE.Runtime.Tests.Data;
using ReSTE.Runtime.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Tests.Training
{
    public sealed class TrainerTests
    {
        static TrainerOptions Options(string? outDir, int epochs = 3) => new()
        {
            Epochs = epochs, BatchSize = 32, EvalBatchSize = 64, LearningRate = 0.05, Seed = 11, OutputDirectory = outDir,
        };

        static (DeviceCifar Train, DeviceCifar Test) Data() =>
            (new DeviceCifar(Synthetic.Set(160, 1), CPU), new DeviceCifar(Synthetic.Set(80, 1), CPU));

        static void AssertSameState(nn.Module a, nn.Module b)
        {
            var sb = b.state_dict();
            foreach (var (k, v) in a.state_dict())
                Assert.True(v.to(ScalarType.Float64).allclose(sb[k].to(ScalarType.Float64), rtol: 1e-5, atol: 1e-6), $"{k} differs");
        }

        [Fact]
        public void Loss_falls_accuracy_rises_and_the_schedules_advance_per_epoch()
        {
            var (train, test) = Data();
            using var _ = train; using var __ = test;
            var model = new TinyNet(1);
            var result = new Trainer(model, train, test, Options(null, epochs: 4) with { Indicators = true, WarmupEpochs = 1 }).Run();
            Assert.Equal(TrainOutcome.Completed, result.Outcome);
            var h = result.History;
            Assert.Equal(4, h.Count);
            Assert.True(h[^1].TrainLoss < h[0].TrainLoss * 0.8, $"loss {h[0].TrainLoss} → {h[^1].TrainLoss}");
            Assert.True(h[^1].TestTop1 > 30, $"test top-1 {h[^1].TestTop1}");
            Assert.True(h.All(m => m.TestTop5 >= m.TestTop1));
            Assert.Equal(h.Max(m => m.TestTop1), result.BestTop1);
            // Warm-up epoch 0: lr·1/1; then cosine from 0.05 over the remaining 3 epochs.
            Assert.Equal(0.05, h[0].LearningRate, 12);
            Assert.Equal(0.05 * 0.5 * (1 + Math.Cos(Math.PI / 3)), h[2].LearningRate, 12);
            // o follows the cosine schedule from 1 toward 3.
            Assert.Equal(1.0, h[0].EstimatorParameter, 12);
            Assert.Equal(1 + 2 * (1 - Math.Cos(Math.PI / 2 * 3 / 4)), h[3].EstimatorParameter, 12);
            Assert.All(h, m => Assert.True(m.EstimatingError > 0 && m.GradientInstability >= 0));
            Assert.Single(h[0].Layers);
            Assert.Equal("conv2", h[0].Layers[0].Layer);
            // Every step's loss comes back with its epoch; weighted by batch sizes they average to the epoch's loss.
            int batch = Options(null).BatchSize, steps = train.BatchCount(batch);
            var sizes = Enumerable.Range(0, steps).Select(i => (double)Math.Min(batch, train.Count - i * batch)).ToArray();
            Assert.All(h, m => Assert.Equal(steps, m.StepLosses.Count));
            Assert.All(h, m => Assert.Equal(m.TrainLoss, m.StepLosses.Zip(sizes, (l, n) => l * n).Sum() / train.Count, 5));
        }

        [Fact]
        public void Indicators_are_not_measured_when_off()
        {
            var (train, test) = Data();
            using var _ = train; using var __ = test;
            var result = new Trainer(new TinyNet(1), train, test, Options(null, epochs: 1)).Run();
            Assert.True(double.IsNaN(result.History[0].EstimatingError));
            Assert.Empty(result.History[0].Layers);
        }

        [Fact]
        public void Training_is_deterministic_for_a_seed()
        {
            var (train, test) = Data();
            using var _ = train; using var __ = test;
            var a = new TinyNet(3);
            var b = new TinyNet(3);
            new Trainer(a, train, test, Options(null, epochs: 2)).Run();
            new Trainer(b, train, test, Options(null, epochs: 2)).Run();
            AssertSameState(a, b);
        }

        [Fact]
        public void Checkpoints_round_trip_and_resume_continues_the_same_schedule()
        {
            using var dir = new TempDir();
            var (train, test) = Data();
            using var _ = train; using var __ = test;
            var straight = new TinyNet(5);
            var full = new Trainer(straight, train, test, Options(null, epochs: 3)).Run();

            var first = new TinyNet(5);
            var token = CancelAfterEpochs(1, out var hook1);
            var part = new Trainer(first, train, test, Options(dir.Path, epochs: 3), new[] { hook1 }).Run(token);
            Assert.Equal(TrainOutcome.Interrupted, part.Outcome);
            var ckptPath = Path.Combine(dir.Path, Trainer.CheckpointFile);
            using (var ckpt = Checkpoint.Load(ckptPath))
            {
                Assert.Equal(1, ckpt.Epoch);
                Assert.Equal(0, ckpt.Step);
                Assert.Equal("3", ckpt.Metadata["epochs"]);
                Assert.NotEmpty(ckpt.Momentum);
                AssertModelEquals(first, ckpt.Model);
            }
            Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
            Assert.True(File.Exists(Path.Combine(dir.Path, Trainer.BestWeightsFile)));

            var resumed = new TinyNet(99); // other initial weights: the checkpoint must replace them all
            var rest = new Trainer(resumed, train, test, Options(dir.Path, epochs: 3) with { ResumeFrom = ckptPath }).Run();
            Assert.Equal(TrainOutcome.Completed, rest.Outcome);
            Assert.Equal(new[] { 2, 3 }, rest.History.Select(m => m.Epoch));
            Assert.Equal(full.History[2].TrainLoss, rest.History[1].TrainLoss, 5);
            Assert.Equal(full.History[2].LearningRate, rest.History[1].LearningRate, 12);
            Assert.Equal(full.BestTop1, rest.BestTop1, 6);
            AssertSameState(straight, resumed);
        }

        [Fact]
        public void An_interruption_inside_an_epoch_saves_the_step_and_resumes_exactly()
        {
            using var dir = new TempDir();
            var (train, test) = Data();
            using var _ = train; using var __ = test;
            var straight = new TinyNet(6);
            var full = new Trainer(straight, train, test, Options(null, epochs: 2)).Run();

            using var cts = new CancellationTokenSource();
            var stopper = new StepHook((epoch, step) => { if (epoch == 1 && step == 1) cts.Cancel(); });
            var first = new TinyNet(6);
            var part = new Trainer(first, train, test, Options(dir.Path, epochs: 2), new[] { stopper }).Run(cts.Token);
            Assert.Equal(TrainOutcome.Interrupted, part.Outcome);
            Assert.Contains("step 2", part.Message);
            var ckptPath = Path.Combine(dir.Path, Trainer.CheckpointFile);
            using (var ckpt = Checkpoint.Load(ckptPath)) { Assert.Equal(1, ckpt.Epoch); Assert.Equal(2, ckpt.Step); }

            var resumed = new TinyNet(7);
            var rest = new Trainer(resumed, train, test, Options(dir.Path, epochs: 2) with { ResumeFrom = ckptPath }).Run();
            Assert.Equal(full.History[1].TrainLoss, rest.History[0].TrainLoss, 5);
            Assert.Equal(full.History[1].TrainTop1, rest.History[0].TrainTop1, 6);
            AssertSameState(straight, resumed);
        }

        [Fact]
        public void Resuming_with_another_schedule_is_refused_naming_the_setting()
        {
            using var dir = new TempDir();
            var (train, test) = Data();
            using var _ = train; using var __ = test;
            new Trainer(new TinyNet(1), train, test, Options(dir.Path, epochs: 1)).Run();
            var e = Assert.Throws<InvalidOperationException>(() =>
                new Trainer(new TinyNet(1), train, test, Options(dir.Path, epochs: 5) with { ResumeFrom = Path.Combine(dir.Path, Trainer.CheckpointFile) }).Run());
            Assert.Contains("epochs 1 in the checkpoint, 5 now", e.Message);
        }

        [Fact]
        public void A_NaN_loss_stops_the_run_and_keeps_the_last_good_checkpoint()
        {
            using var dir = new TempDir();
            var (train, test) = Data();
            using var _ = train; using var __ = test;
            int steps = train.BatchCount(32);
            var model = new TinyNet(2) { PoisonAfter = steps + 2 }; // the second epoch's second step
            var result = new Trainer(model, train, test, Options(dir.Path, epochs: 4)).Run();
            Assert.Equal(TrainOutcome.Diverged, result.Outcome);
            Assert.Equal(1, result.EpochsDone);
            Assert.Single(result.History);
            Assert.Contains("NaN", result.Message);
            Assert.Contains("epoch 2", result.Message);
            Assert.Contains("last good checkpoint", result.Message);
            using var ckpt = Checkpoint.Load(Path.Combine(dir.Path, Trainer.CheckpointFile));
            Assert.Equal(1, ckpt.Epoch);
            // The checkpoint written after the second epoch's first step holds the weights whose loss was NaN: the one
            // before it, the first epoch's commit, was put back.
            Assert.Equal(0, ckpt.Step);
            Assert.All(ckpt.Model.Values, t => Assert.False(t.isnan().any().item<bool>()));
        }

        [Fact]
        public void Metrics_files_get_a_header_and_one_line_per_epoch()
        {
            using var dir = new TempDir();
            var (train, test) = Data();
            using var _ = train; using var __ = test;
            var sw = new StringWriter();
            var hooks = new ITrainerHook[] { new MetricsFileHook(dir.Path), new ConsoleProgressHook(sw, interactive: false), new TensorBoardHook(Path.Combine(dir.Path, "tb")) };
            var result = new Trainer(new TinyNet(1), train, test, Options(null, epochs: 2), hooks).Run();
            var csv = File.ReadAllLines(Path.Combine(dir.Path, MetricsFileHook.CsvFile));
            Assert.Equal(3, csv.Length);
            Assert.Equal(string.Join(',', MetricsFileHook.Columns), csv[0]);
            Assert.StartsWith("2,", csv[2]);
            var jsonl = File.ReadAllLines(Path.Combine(dir.Path, MetricsFileHook.JsonlFile));
            Assert.Equal(2, jsonl.Length);
            using var doc = JsonDocument.Parse(jsonl[1]);
            Assert.Equal(2, doc.RootElement.GetProperty("epoch").GetInt32());
            Assert.Equal(result.History[1].TestTop1, doc.RootElement.GetProperty("test_top1").GetDouble());
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("e").ValueKind);
            var log = sw.ToString();
            Assert.Contains("epoch 1/2 lr", log);
            Assert.Contains("epoch 2/2 lr", log);
            Assert.Contains("Done: 2 epochs", log);
            var events = Directory.GetFiles(Path.Combine(dir.Path, "tb"), "events.out.tfevents*", SearchOption.AllDirectories);
            Assert.NotEmpty(events);
            Assert.True(new FileInfo(events[0]).Length > 100);
        }

        [Fact]
        public void MomentumSgd_matches_torch_optim_SGD()
        {
            manual_seed(4);
            using var scope = NewDisposeScope();
            var p1 = new TorchSharp.Modules.Parameter(randn(5, 3));
            var p2 = new TorchSharp.Modules.Parameter(p1.detach().clone());
            var ours = new MomentumSgd(new[] { ("w", p1) }, lr: 0.1, momentum: 0.9, weightDecay: 1e-2);
            var theirs = optim.SGD(new[] { p2 }, 0.1, momentum: 0.9, weight_decay: 1e-2);
            for (int i = 0; i < 5; i++)
            {
                var target = randn(5, 3);
                ours.ZeroGrad(); p1.sub(target).pow(2).sum().backward(); ours.Step();
                theirs.zero_grad(); p2.sub(target).pow(2).sum().backward(); theirs.step();
            }
            Assert.True(p1.allclose(p2, rtol: 1e-5, atol: 1e-6));
            ours.Dispose();
        }

        sealed class StepHook : ITrainerHook
        {
            readonly Action<int, int> _onStep;
            public StepHook(Action<int, int> onStep) => _onStep = onStep;
            public void OnStep(int epoch, int step, int steps, int batchSize) => _onStep(epoch, step);
        }

        sealed class EpochHook : ITrainerHook
        {
            readonly Action<EpochMetrics> _onEpoch;
            public EpochHook(Action<EpochMetrics> onEpoch) => _onEpoch = onEpoch;
            public void OnEpoch(EpochMetrics m) => _onEpoch(m);
        }

        static CancellationToken CancelAfterEpochs(int epochs, out ITrainerHook hook)
        {
            var cts = new CancellationTokenSource();
            hook = new EpochHook(m => { if (m.Epoch >= epochs) cts.Cancel(); });
            return cts.Token;
        }

        static void AssertModelEquals(nn.Module model, IReadOnlyDictionary<string, Tensor> state)
        {
            foreach (var (k, v) in model.state_dict())
                Assert.True(v.equal(state[k]).all().item<bool>(), k);
        }
    }
}

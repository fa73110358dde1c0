using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Layers;
using ReSTE.Runtime.Tests.Data;
using ReSTE.Runtime.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Tests.Training
{
    /// <summary>A user's binary MLP for 28×28 single-channel images: flatten → Linear → BN → binary Linear → BN → Linear.</summary>
    sealed class BinaryMlp : nn.Module<Tensor, Tensor>
    {
        private readonly Linear fc1, fc3;
        private readonly BatchNorm1d bn1, bn2;
        private readonly TestBinaryLinear fc2;

        public BinaryMlp(long seed) : base(nameof(BinaryMlp))
        {
            manual_seed(seed);
            fc1 = nn.Linear(28 * 28, 64);
            bn1 = nn.BatchNorm1d(64);
            fc2 = new TestBinaryLinear(64, 64, new ReSTEEstimator(oEnd: 3));
            bn2 = nn.BatchNorm1d(64);
            fc3 = nn.Linear(64, 10);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = bn1.forward(fc1.forward(x.flatten(1)));
            h = bn2.forward(fc2.forward(h));
            return fc3.forward(h).MoveToOuterDisposeScope();
        }
    }

    public sealed class LibraryTrainerTests
    {
        /// <summary>28×28 grey images: class k is a bright horizontal bar in rows 2k..2k+3, plus noise.</summary>
        static (Tensor Images, Tensor Labels) Bars(int n, int seed)
        {
            var rng = new Random(seed);
            var pixels = new byte[n * 28 * 28];
            var labels = new long[n];
            for (int i = 0; i < n; i++)
            {
                int k = rng.Next(10);
                labels[i] = k;
                for (int y = 0; y < 28; y++)
                    for (int x = 0; x < 28; x++)
                    {
                        int v = (y >= 2 * k + 4 && y < 2 * k + 8 ? 200 : 30) + rng.Next(-30, 31);
                        pixels[i * 784 + y * 28 + x] = (byte)Math.Clamp(v, 0, 255);
                    }
            }
            return (tensor(pixels, new long[] { n, 1, 28, 28 }, dtype: ScalarType.Byte), tensor(labels));
        }

        static readonly TensorTransforms Gray = new() { Mean = new[] { 0.3f }, Std = new[] { 0.3f } };

        [Fact]
        public void A_user_binary_MLP_on_28x28_in_memory_data_trains_checkpoints_and_resumes_exactly()
        {
            using var dir = new TempDir();
            var (xi, yi) = Bars(400, 1);
            var (xt, yt) = Bars(200, 2);
            var classes = Enumerable.Range(0, 10).Select(i => $"bar{i}").ToArray();
            using var train = new TensorSource(xi, yi, Gray, CPU, classes);
            using var test = new TensorSource(xt, yt, Gray, CPU, classes);
            xi.Dispose(); yi.Dispose(); xt.Dispose(); yt.Dispose(); // the sources hold their own copies
            var options = new TrainerOptions { Epochs = 3, BatchSize = 50, LearningRate = 0.05, Seed = 3 };

            var straight = new BinaryMlp(1);
            var full = new Trainer(straight, train, test, options).Run();
            Assert.Equal(TrainOutcome.Completed, full.Outcome);
            Assert.True(full.BestTop1 > 60, $"best top-1 {full.BestTop1}% (chance is 10%)");
            Assert.True(full.History[^1].TrainLoss < full.History[0].TrainLoss, "the loss falls");

            using var cts = new CancellationTokenSource();
            var stopper = new StepStopper(epoch: 1, step: 3, cts);
            var first = new BinaryMlp(1);
            var part = new Trainer(first, train, test, options with { OutputDirectory = dir.Path }, new[] { stopper }).Run(cts.Token);
            Assert.Equal(TrainOutcome.Interrupted, part.Outcome);
            var ckptPath = Path.Combine(dir.Path, Trainer.CheckpointFile);
            using (var ckpt = Checkpoint.Load(ckptPath))
            {
                Assert.Equal(1, ckpt.Epoch);
                Assert.Equal(4, ckpt.Step);
                Assert.Equal(classes, Trainer.ClassNamesOf(ckpt.Metadata));
            }
            var resumed = new BinaryMlp(42);
            var rest = new Trainer(resumed, train, test, options with { OutputDirectory = dir.Path, ResumeFrom = ckptPath }).Run();
            Assert.Equal(TrainOutcome.Completed, rest.Outcome);
            Assert.Equal(full.History[^1].TrainLoss, rest.History[^1].TrainLoss, 5);
            Assert.Equal(full.BestTop1, rest.BestTop1, 6);
            var sb = resumed.state_dict();
            foreach (var (k, v) in straight.state_dict())
                Assert.True(v.to(ScalarType.Float64).allclose(sb[k].to(ScalarType.Float64), rtol: 1e-5, atol: 1e-6), $"{k} differs");
        }

        [Fact]
        public void Loss_optimiser_schedule_and_evaluator_are_pluggable()
        {
            var (xi, yi) = Bars(120, 4);
            using var train = new TensorSource(xi, yi, Gray);
            using var _ = xi; using var __ = yi;
            int losses = 0, evals = 0;
            var optimizers = new List<CountingSgd>();
            var options = new TrainerOptions
            {
                Epochs = 2, BatchSize = 40, Seed = 1,
                Loss = (output, target) => { losses++; return nn.functional.cross_entropy(output, target, label_smoothing: 0.1); },
                Optimizer = (parameters, o) => { var s = new CountingSgd(parameters, o.LearningRate); optimizers.Add(s); return s; },
                LearningRateSchedule = (epoch, epochs, lr) => lr / (epoch + 1),
                Evaluator = new FixedEvaluator(() => evals++),
            };
            var result = new Trainer(new BinaryMlp(2), train, train, options).Run();
            Assert.Equal(6, losses);
            Assert.Single(optimizers);
            Assert.Equal(6, optimizers[0].Steps);
            Assert.Equal(new[] { 0.1, 0.05 }, result.History.Select(m => m.LearningRate));
            Assert.Equal(2, evals);
            Assert.All(result.History, m => Assert.Equal(42.0, m.TestTop1));
        }

        [Fact]
        public void Without_a_test_source_the_run_says_so_instead_of_printing_NaN()
        {
            var (xi, yi) = Bars(60, 5);
            using var train = new TensorSource(xi, yi, Gray);
            using var _ = xi; using var __ = yi;
            var log = new StringWriter();
            var result = new Trainer(new BinaryMlp(3), train, null, new TrainerOptions { Epochs = 1, BatchSize = 30 },
                new[] { new ConsoleProgressHook(log, interactive: false) }).Run();
            Assert.Equal(TrainOutcome.Completed, result.Outcome);
            Assert.DoesNotContain("NaN", log.ToString());
            Assert.Contains("(no test source)", log.ToString());
            Assert.Contains("no test source", result.Message);
        }

        [Theory]
        [InlineData("Epochs", "TrainerOptions.Epochs must be ≥ 1, not 0.")]
        [InlineData("BatchSize", "TrainerOptions.BatchSize must be ≥ 1, not 0.")]
        [InlineData("WarmupEpochs", "TrainerOptions.WarmupEpochs must lie in [0, 10) for 10 epochs, not 10.")]
        [InlineData("LearningRate", "TrainerOptions.LearningRate must be a finite number > 0, not 0.")]
        public void Bad_options_are_refused_in_library_terms(string which, string message)
        {
            var o = which switch
            {
                "Epochs" => new TrainerOptions { Epochs = 0 },
                "BatchSize" => new TrainerOptions { BatchSize = 0 },
                "WarmupEpochs" => new TrainerOptions { WarmupEpochs = 10 },
                _ => new TrainerOptions { LearningRate = 0 },
            };
            var e = Assert.ThrowsAny<ArgumentException>(() => o.Validate());
            Assert.StartsWith(message, e.Message);
            Assert.DoesNotContain("--", e.Message);
        }

        [Fact]
        public void The_defaults_are_sensible_for_a_library()
        {
            var o = new TrainerOptions();
            Assert.InRange(o.Epochs, 1, 50);
            Assert.Equal(0.1, o.LearningRate);
            Assert.Equal(0, o.WarmupEpochs);
        }

        [Fact]
        public void A_tensor_source_crops_flips_and_normalises_non_CIFAR_shapes()
        {
            // 2 images 1×5×7 with distinct non-zero pixel values; pad 2: each output is a 5×7 window of the padded image.
            var raw = arange(1, 71, dtype: ScalarType.Float32).reshape(2, 1, 5, 7);
            using var labels = tensor(new long[] { 0, 1 });
            using var src = new TensorSource(raw, labels, new TensorTransforms { CropPadding = 2, HorizontalFlip = true });
            using var _ = raw;
            var seen = new HashSet<string>();
            for (int step = 0; step < 40; step++)
            {
                using var scope = NewDisposeScope();
                // Each epoch draws fresh randomness.
                using var r2 = src.Open(new BatchPass(2, Augment: true, Seed: 9, Epoch: step));
                Assert.True(r2.Next(out var x, out var y));
                Assert.Equal(new long[] { 2, 1, 5, 7 }, x.shape);
                var v = x.data<float>().ToArray();
                var img = raw[0, 0].data<float>().ToArray();
                // Find the offset (dy, dx) and flip that reproduce the first output image from the padded input.
                bool found = false;
                for (int dy = 0; dy <= 4 && !found; dy++)
                    for (int dx = 0; dx <= 4 && !found; dx++)
                        for (int f = 0; f < 2 && !found; f++)
                        {
                            bool ok = true;
                            for (int yy = 0; yy < 5 && ok; yy++)
                                for (int xx = 0; xx < 7 && ok; xx++)
                                {
                                    int sx = (f == 1 ? 6 - xx : xx) + dx - 2, sy = yy + dy - 2;
                                    float expected = sy >= 0 && sy < 5 && sx >= 0 && sx < 7 ? img[sy * 7 + sx] : 0;
                                    ok = v[yy * 7 + xx] == expected;
                                }
                            if (ok) { found = true; seen.Add($"{dy},{dx},{f}"); }
                        }
                Assert.True(found, $"epoch {step}: the output is no flipped or unflipped crop of the padded image");
            }
            Assert.True(seen.Count > 10, $"only {seen.Count} distinct crops in 40 draws");
        }

        [Fact]
        public void A_tensor_source_refuses_mismatched_labels_and_statistics()
        {
            using var x = zeros(4, 2, 3, 3);
            using var y3 = zeros(3, dtype: ScalarType.Int64);
            Assert.Contains("one per input", Assert.Throws<ArgumentException>(() => new TensorSource(x, y3)).Message);
            using var yf = zeros(4);
            Assert.Contains("integer class indices", Assert.Throws<ArgumentException>(() => new TensorSource(x, yf)).Message);
            using var y = zeros(4, dtype: ScalarType.Int64);
            var e = Assert.Throws<ArgumentException>(() => new TensorSource(x, y, new TensorTransforms { Mean = new[] { 0f, 0f, 0f }, Std = new[] { 1f, 1f, 1f } }));
            Assert.Contains("one value per channel (2", e.Message);
            using var flat = zeros(4, 10);
            Assert.Contains("need images (N, C, H, W)", Assert.Throws<ArgumentException>(() => new TensorSource(flat, y, new TensorTransforms { HorizontalFlip = true })).Message);
        }

        /// <summary>Copies the checkpoint as it is when step <c>step</c> of <c>epoch</c> is reported: what a kill then leaves.</summary>
        sealed class CheckpointSnapshot : ITrainerHook
        {
            readonly int _epoch, _step;
            readonly string _from, _to;
            public CheckpointSnapshot(int epoch, int step, string from, string to) { _epoch = epoch; _step = step; _from = from; _to = to; }
            public void OnStep(int epoch, int step, int steps, int batchSize) { if (epoch == _epoch && step == _step) File.Copy(_from, _to); }
        }

        [Theory]
        [InlineData(5)] // mid-epoch
        [InlineData(7)] // the epoch's last step: its evaluation had not run
        public void A_kill_at_any_step_costs_only_the_step_in_flight(int step)
        {
            using var dir = new TempDir();
            var (xi, yi) = Bars(400, 1);
            var (xt, yt) = Bars(100, 2);
            using var train = new TensorSource(xi, yi, Gray, CPU);
            using var test = new TensorSource(xt, yt, Gray, CPU);
            xi.Dispose(); yi.Dispose(); xt.Dispose(); yt.Dispose();
            var options = new TrainerOptions { Epochs = 2, BatchSize = 50, LearningRate = 0.05, Seed = 3, CheckpointInterval = TimeSpan.Zero };
            Assert.Equal(TimeSpan.Zero, new TrainerOptions().CheckpointIntervalOn(CPU)); // the default on the CPU: every step

            var straight = new BinaryMlp(1);
            string left = Path.Combine(dir.Path, "killed.safetensors");
            var full = new Trainer(straight, train, test, options with { OutputDirectory = Path.Combine(dir.Path, "a") },
                new[] { new CheckpointSnapshot(1, step, Path.Combine(dir.Path, "a", Trainer.CheckpointFile), left) }).Run();
            Assert.Equal(TrainOutcome.Completed, full.Outcome);
            Assert.False(File.Exists(Path.Combine(dir.Path, "a", Trainer.PreviousCheckpointFile)), "a completed run keeps no previous checkpoint");
            using (var ckpt = Checkpoint.Load(left))
            {
                Assert.Equal(1, ckpt.Epoch);
                Assert.Equal(step + 1, ckpt.Step); // the steps done when it was reported, none lost
            }
            var resumed = new BinaryMlp(42);
            var rest = new Trainer(resumed, train, test, options with { OutputDirectory = Path.Combine(dir.Path, "b"), ResumeFrom = left }).Run();
            Assert.Equal(TrainOutcome.Completed, rest.Outcome);
            var last = Assert.Single(rest.History);
            Assert.Equal(full.History[^1].TrainLoss, last.TrainLoss, 6);
            Assert.Equal(full.History[^1].TestTop1, last.TestTop1, 6);
            Assert.Equal(full.History[^1].StepLosses, last.StepLosses); // the steps before the kill come from the checkpoint
            var sb = resumed.state_dict();
            foreach (var (k, v) in straight.state_dict())
                Assert.True(v.to(ScalarType.Float64).allclose(sb[k].to(ScalarType.Float64), rtol: 1e-5, atol: 1e-6), $"{k} differs");
        }

        sealed class StepStopper : ITrainerHook
        {
            readonly int _epoch, _step;
            readonly CancellationTokenSource _cts;
            public StepStopper(int epoch, int step, CancellationTokenSource cts) { _epoch = epoch; _step = step; _cts = cts; }
            public void OnStep(int epoch, int step, int steps, int batchSize) { if (epoch == _epoch && step == _step) _cts.Cancel(); }
        }

        sealed class CountingSgd : IOptimizer
        {
            readonly MomentumSgd _inner;
            public CountingSgd(IReadOnlyList<(string Name, Parameter Parameter)> p, double lr) => _inner = new MomentumSgd(p, lr, 0, 0);
            public int Steps { get; private set; }
            public double LearningRate { get => _inner.LearningRate; set => _inner.LearningRate = value; }
            public void ZeroGrad() => _inner.ZeroGrad();
            public void Step() { Steps++; _inner.Step(); }
            public IReadOnlyDictionary<string, Tensor> State => _inner.MomentumBuffers;
            public void LoadState(IReadOnlyDictionary<string, Tensor> state) => _inner.LoadMomentum(state);
            public void Dispose() => _inner.Dispose();
        }

        sealed class FixedEvaluator : IEvaluator
        {
            readonly Action _called;
            public FixedEvaluator(Action called) => _called = called;
            public EvalResult Evaluate(nn.Module<Tensor, Tensor> model, IBatchSource data, int batchSize) { _called(); return new EvalResult(1.0, 42.0, 50.0, data.Count); }
        }
    }
}

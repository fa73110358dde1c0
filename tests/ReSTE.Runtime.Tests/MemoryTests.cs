using System.Collections.Generic;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Layers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Tests
{
    /// <summary>Tests that count live tensors process-wide must not run beside other tests.</summary>
    [CollectionDefinition("Live tensor counts", DisableParallelization = true)]
    public sealed class LiveTensorCountCollection { }

    [Collection("Live tensor counts")]
    public class MemoryTests
    {
        /// <summary>STE written the naive way: its backward allocates outside any scope.</summary>
        sealed class NaiveSte : autograd.SingleTensorFunction<NaiveSte>
        {
            public override string Name => nameof(NaiveSte);
            public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
            {
                var z = (Tensor)vars[0];
                ctx.save_for_backward(new List<Tensor> { z });
                return z.sign();
            }
            public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
            {
                var z = ctx.get_saved_variables()[0];
                return new List<Tensor> { grad_output.mul(z.abs().le(1)) };
            }
        }

        /// <summary>
        /// On a GPU the autograd engine runs backward on its own long-lived device thread, outside the step's
        /// DisposeScope; on the CPU it runs on the calling thread. Calling backward from one dedicated thread
        /// reproduces the GPU situation here: the step's scope does not see what backward allocates.
        /// </summary>
        static void BackwardOnAnotherThread(Tensor loss) => AutogradThread.Run(() => loss.backward());

        static class AutogradThread
        {
            static readonly System.Collections.Concurrent.BlockingCollection<(System.Action Work, System.Threading.ManualResetEventSlim Done)> Queue = new();

            static AutogradThread()
            {
                var thread = new System.Threading.Thread(() =>
                {
                    foreach (var (work, done) in Queue.GetConsumingEnumerable()) { work(); done.Set(); }
                })
                { IsBackground = true, Name = "test autograd thread" };
                thread.Start();
            }

            public static void Run(System.Action work)
            {
                using var done = new System.Threading.ManualResetEventSlim();
                Queue.Add((work, done));
                done.Wait();
            }
        }

        /// <summary>
        /// Live tensors gained over steps 10…<paramref name="steps"/>. A leaked tensor is garbage that a finalizer may
        /// dispose at any garbage collection (a CI run once saw 34 of ~300 leaked tensors still alive), so the steps run
        /// in a no-GC region where the runtime grants one: the count then shows every leak.
        /// </summary>
        static long GrowthOver(int steps, System.Func<Tensor, Tensor> binarize)
        {
            var w = nn.Parameter(randn(8, 3, 3, 3).mul(0.1));
            var x = randn(4, 3, 8, 8);
            long before = 0;
            System.GC.Collect();
            System.GC.WaitForPendingFinalizers();
            bool noGc = System.GC.TryStartNoGCRegion(64L << 20);
            try
            {
                for (int step = 0; step < steps; step++)
                {
                    if (step == 10) before = Tensor.TotalCount;
                    using var scope = NewDisposeScope();
                    var loss = nn.functional.conv2d(x, binarize(w)).square().mean();
                    w.grad?.zero_();
                    BackwardOnAnotherThread(loss);
                }
                return Tensor.TotalCount - before;
            }
            finally
            {
                if (noGc && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) System.GC.EndNoGCRegion();
            }
        }

        [Fact]
        public void The_memory_check_sees_the_leak_of_a_naive_autograd_function()
        {
            long naive = GrowthOver(110, w => NaiveSte.apply(w));
            Assert.True(naive >= 100, $"a naive backward leaked only {naive} tensors over 100 steps; the check would not see a leak");
            long scoped = GrowthOver(110, w => ReSTESign.Apply(w, 1));
            Assert.True(scoped <= 2, $"ReSTESign leaked {scoped} tensors over 100 steps");
        }

        [Fact]
        public void Live_tensors_stay_flat_over_300_binary_training_steps()
        {
            // A naive custom autograd function leaks every tensor its backward makes (they are made on the autograd
            // thread, outside the step's DisposeScope). The estimator functions must not.
            var w1 = nn.Parameter(randn(8, 3, 3, 3).mul(0.1));
            var w2 = nn.Parameter(randn(8, 8, 3, 3).mul(0.1));
            var head = nn.Parameter(randn(10, 8).mul(0.1));
            var estimator = new ReSTEEstimator(oEnd: 3);
            var optimizer = optim.SGD(new[] { w1, w2, head }, 0.01, momentum: 0.9);
            var x = randn(16, 3, 8, 8);
            var y = randint(0, 10, new long[] { 16 });
            long before = 0;
            for (int step = 0; step < 300; step++)
            {
                if (step == 20) before = Tensor.TotalCount;
                using var scope = NewDisposeScope();
                estimator.SetProgress(step / 30, 10);
                var h = nn.functional.conv2d(x, BinaryWeights.Scaled(ReSTESign.Apply(w1, estimator.O), w1, ScaleMode.LayerMeanAbs), padding: new long[] { 1, 1 });
                h = nn.functional.relu(h);
                var a = EstimatorSign.Apply(h, estimator); // the general path too
                h = nn.functional.conv2d(a, BinaryWeights.Scaled(ReSTESign.Apply(w2, estimator.O), w2, ScaleMode.LayerMeanAbs), padding: new long[] { 1, 1 });
                var logits = h.mean(new long[] { 2, 3 }).matmul(head.t());
                var loss = nn.functional.cross_entropy(logits, y);
                optimizer.zero_grad();
                BackwardOnAnotherThread(loss);
                optimizer.step();
            }
            long after = Tensor.TotalCount;
            Assert.True(after - before <= 2, $"live tensors grew from {before} to {after} over 280 steps");
        }
    }
}

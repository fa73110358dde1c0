using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Threading;
using ReSTE.Generators.Tests.Modules;
using ReSTE.Runtime.Layers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Generators.Tests
{
    /// <summary>Tests that count live tensors process-wide run alone.</summary>
    [CollectionDefinition("Live tensor counts", DisableParallelization = true)]
    public sealed class LiveTensorCountCollection { }

    /// <summary>The generated layers' forward and the generated autograd functions' backward leave no tensor behind.</summary>
    [Collection("Live tensor counts")]
    public class MemoryTests
    {
        /// <summary>
        /// On a GPU the autograd engine runs backward on its own thread, outside the step's DisposeScope; calling
        /// backward from a dedicated thread reproduces that here (as the runtime's memory tests do).
        /// </summary>
        static class AutogradThread
        {
            static readonly BlockingCollection<(Action Work, ManualResetEventSlim Done)> Queue = new();

            static AutogradThread()
            {
                var thread = new Thread(() =>
                {
                    foreach (var (work, done) in Queue.GetConsumingEnumerable()) { work(); done.Set(); }
                })
                { IsBackground = true, Name = "test autograd thread" };
                thread.Start();
            }

            public static void Run(Action work)
            {
                using var done = new ManualResetEventSlim();
                Queue.Add((work, done));
                done.Wait();
            }
        }

        [Fact]
        public void Live_tensors_stay_flat_over_training_steps_for_every_estimator()
        {
            IBinaryLayerFactory[] factories =
            {
                ReSTEBlock.Layers, SteWeightsOnly.Layers, ApproxSignChannel.Layers, SignSwishUnscaled.Layers,
                EdeBlock.Layers, DsqBlock.Layers, FdaBlock.Layers, RbnnBlock.Layers,
            };
            var x = randn(4, 3, 6, 6);
            foreach (var factory in factories)
            {
                using var conv = factory.Conv2d(3, 4, 3, padding: 1);
                using var fc = factory.Linear(4 * 36, 2);
                var optimizer = optim.SGD(conv.parameters().Concat(fc.parameters()), 0.01);
                long before = 0;
                for (int step = 0; step < 60; step++)
                {
                    if (step == 10) before = Tensor.TotalCount;
                    using var scope = NewDisposeScope();
                    var loss = fc.call(conv.call(x).flatten(1)).square().mean();
                    optimizer.zero_grad();
                    AutogradThread.Run(() => loss.backward());
                    optimizer.step();
                }
                long growth = Tensor.TotalCount - before;
                Assert.True(growth <= 2, $"{((IBinaryLayer)conv).Estimator.Kind}: live tensors grew by {growth} over 50 steps");
                optimizer.Dispose();
            }
        }
    }
}

using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Training
{
    /// <summary>
    /// What the <see cref="Trainer"/> needs of an optimiser: the learning rate it sets once per epoch, a step from the
    /// current gradients, and the named state tensors that checkpoints save and a resumed run loads (for SGD with
    /// momentum, the momentum buffers). <see cref="MomentumSgd"/> is the default.
    /// </summary>
    public interface IOptimizer : IDisposable
    {
        double LearningRate { get; set; }
        /// <summary>Clears every parameter's gradient.</summary>
        void ZeroGrad();
        /// <summary>One update from the current gradients; no host synchronisation.</summary>
        void Step();
        /// <summary>The state to checkpoint, by name (tensors the optimiser owns; empty for a stateless one).</summary>
        IReadOnlyDictionary<string, Tensor> State { get; }
        /// <summary>Replaces the state with one read from a checkpoint (names and shapes as <see cref="State"/> had them).</summary>
        void LoadState(IReadOnlyDictionary<string, Tensor> state);
    }

    /// <summary>The learning rate of an epoch (from 0) of a run of <c>epochs</c>, with the run's base rate.</summary>
    public delegate double LearningRateFunction(int epoch, int epochs, double baseLearningRate);

    /// <summary>The training loss of a batch: model output and int64 targets in, a scalar (mean over the batch) out.</summary>
    public delegate Tensor LossFunction(Tensor output, Tensor target);

    /// <summary>Builds the optimiser for a model's trainable parameters with the run's options.</summary>
    public delegate IOptimizer OptimizerFactory(IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> parameters, TrainerOptions options);
}

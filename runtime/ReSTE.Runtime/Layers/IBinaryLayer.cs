using System;
using System.Collections.Generic;
using ReSTE.Runtime.Estimators;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Layers
{
    /// <summary>
    /// What the runtime needs of a binary layer, whatever its estimator: the trainer drives the schedule through it,
    /// the indicators read its latent weights, summaries count its bits.
    /// </summary>
    public interface IBinaryLayer
    {
        /// <summary>The estimator, as an object describing it (the hot path uses a specialised function).</summary>
        IEstimator Estimator { get; }
        /// <summary>true for 1W/1A, false for 1W/32A.</summary>
        bool BinarizesActivations { get; }
        /// <summary>How the binary weights are scaled.</summary>
        ScaleMode Scale { get; }
        /// <summary>The latent full-precision weight that sign binarizes.</summary>
        Parameter LatentWeight { get; }
        /// <summary>The number of binary weights (one bit each once deployed).</summary>
        long BinaryWeightCount { get; }
        /// <summary>Sets the estimator's parameter for epoch <paramref name="epoch"/> (from 0) of <paramref name="epochs"/>.</summary>
        void SetProgress(int epoch, int epochs);
    }

    /// <summary>Shared pieces of binary layers' forward passes.</summary>
    public static class BinaryWeights
    {
        /// <summary>
        /// β for <paramref name="mode"/>, not detached (the gradient flows through it, as in the reference):
        /// LayerMeanAbs, mean|W| over the whole tensor; ChannelMeanAbs, mean|W| per output channel, shaped to broadcast.
        /// Null for <see cref="ScaleMode.None"/>.
        /// </summary>
        public static Tensor? Scale(Tensor weight, ScaleMode mode)
        {
            switch (mode)
            {
                case ScaleMode.LayerMeanAbs: return weight.abs().mean();
                case ScaleMode.ChannelMeanAbs:
                    var dims = new long[weight.dim() - 1];
                    for (int i = 0; i < dims.Length; i++) dims[i] = i + 1;
                    return weight.abs().mean(dims, keepdim: true);
                case ScaleMode.None: return null;
                default: throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown scale mode.");
            }
        }

        /// <summary>sign-binarized weights times β (the binarized weight when <paramref name="mode"/> is None).</summary>
        public static Tensor Scaled(Tensor binaryWeight, Tensor latentWeight, ScaleMode mode)
        {
            var scale = Scale(latentWeight, mode);
            return scale is null ? binaryWeight : binaryWeight.mul(scale);
        }
    }
}

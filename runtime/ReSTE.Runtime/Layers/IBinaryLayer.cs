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

    /// <summary>Operations over every binary layer of a model tree.</summary>
    public static class BinaryModel
    {
        /// <summary>Every binary layer with its PyTorch-style name ("layer1.0.conv1").</summary>
        public static IReadOnlyList<(string Name, IBinaryLayer Layer)> Layers(nn.Module model)
        {
            var layers = new List<(string, IBinaryLayer)>();
            foreach (var (name, module) in model.named_modules())
                if (module is IBinaryLayer layer) layers.Add((name, layer));
            return layers;
        }

        /// <summary>Advances every binary layer's schedule; call once per epoch.</summary>
        public static void SetProgress(nn.Module model, int epoch, int epochs)
        {
            foreach (var (_, layer) in Layers(model)) layer.SetProgress(epoch, epochs);
        }

        /// <summary>Total parameters and, of them, the binary weights.</summary>
        public static (long Total, long Binary) CountParameters(nn.Module model)
        {
            long total = 0, binary = 0;
            foreach (var p in model.parameters()) total += p.numel();
            foreach (var (_, layer) in Layers(model)) binary += layer.BinaryWeightCount;
            return (total, binary);
        }
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

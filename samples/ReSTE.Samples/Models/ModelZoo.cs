using System;
using System.Collections.Generic;
using System.Linq;
using ReSTE.Runtime;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Samples.Models
{
    /// <summary>The sample's models by CLI name, each buildable with any policy's binary layers.</summary>
    public static class ModelZoo
    {
        /// <summary>The CIFAR-10 models the CLI trains.</summary>
        public static readonly IReadOnlyList<string> CifarModels = new[] { "resnet20", "resnet20-bireal", "resnet18", "vgg-small" };
        /// <summary>Every model, the ImageNet definitions included.</summary>
        /// <summary>The ImageNet models (Bi-Real ResNet-18/34), trained on image folders.</summary>
        public static readonly IReadOnlyList<string> ImageNetModels = new[] { "resnet18-imagenet", "resnet34-imagenet" };
        public static readonly IReadOnlyList<string> AllModels = CifarModels.Concat(ImageNetModels).ToArray();

        public static bool IsImageNet(string name) => ImageNetModels.Contains(name);

        /// <summary>A model's default training recipe (the reference's): what train uses for the settings not given.</summary>
        public sealed record Recipe(int Epochs, int BatchSize, int TestBatchSize, double LearningRate, int WarmupEpochs, double OEnd);

        /// <summary>CIFAR: 30 epochs (the paper's 400 take days on a CPU), batch 256; ImageNet: 250 epochs, batch 750, test batch 256; both lr 0.1 cosine, no warm-up, o_end 3.</summary>
        public static Recipe DefaultRecipe(string name) => IsImageNet(name)
            ? new Recipe(250, 750, 256, 0.1, 0, 3)
            : new Recipe(30, 256, 250, 0.1, 0, 3);

        /// <summary>Builds <paramref name="name"/> with <paramref name="numClasses"/> outputs (default: 10 for CIFAR models, 1000 for ImageNet ones).</summary>
        public static nn.Module<Tensor, Tensor> Create(string name, IBinaryLayerFactory layers, long? numClasses = null) => name switch
        {
            "resnet20" => new ResNet20(layers, numClasses: numClasses ?? 10),
            "resnet20-bireal" => new ResNet20(layers, biReal: true, numClasses: numClasses ?? 10),
            "resnet18" => new ResNet18Cifar(layers, numClasses ?? 10),
            "vgg-small" => new VggSmall(layers, numClasses ?? 10),
            "resnet18-imagenet" => new ImageNetResNet(layers, new[] { 2, 2, 2, 2 }, "ResNet18ImageNet", numClasses ?? 1000),
            "resnet34-imagenet" => new ImageNetResNet(layers, new[] { 3, 4, 6, 3 }, "ResNet34ImageNet", numClasses ?? 1000),
            _ => throw new ArgumentException($"Unknown model '{name}'; expected one of {string.Join(", ", AllModels)}."),
        };

        /// <summary>Builds <paramref name="name"/> with the policy (estimator, activations) and sets ReSTE's o_end when given.</summary>
        public static nn.Module<Tensor, Tensor> Create(string name, Estimator estimator, bool binaryActivations, double? oEnd = null, long? numClasses = null)
        {
            var model = Create(name, Policies.For(estimator, binaryActivations), numClasses);
            if (oEnd.HasValue)
            {
                if (estimator != Estimator.ReSTE)
                    throw new ArgumentException($"--o-end applies to the ReSTE estimator only, not {estimator}.");
                foreach (var (_, layer) in BinaryModel.Layers(model))
                    if (layer.Estimator is ReSTEEstimator r) r.OEnd = oEnd.Value;
            }
            return model;
        }
    }
}

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
        public static readonly IReadOnlyList<string> AllModels = CifarModels.Concat(new[] { "resnet18-imagenet", "resnet34-imagenet" }).ToArray();

        public static nn.Module<Tensor, Tensor> Create(string name, IBinaryLayerFactory layers) => name switch
        {
            "resnet20" => new ResNet20(layers),
            "resnet20-bireal" => new ResNet20(layers, biReal: true),
            "resnet18" => new ResNet18Cifar(layers),
            "vgg-small" => new VggSmall(layers),
            "resnet18-imagenet" => ImageNetResNet.ResNet18(layers),
            "resnet34-imagenet" => ImageNetResNet.ResNet34(layers),
            _ => throw new ArgumentException($"Unknown model '{name}'; expected one of {string.Join(", ", AllModels)}."),
        };

        /// <summary>Builds <paramref name="name"/> with the policy (estimator, activations) and sets ReSTE's o_end when given.</summary>
        public static nn.Module<Tensor, Tensor> Create(string name, Estimator estimator, bool binaryActivations, double? oEnd = null)
        {
            var model = Create(name, Policies.For(estimator, binaryActivations));
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

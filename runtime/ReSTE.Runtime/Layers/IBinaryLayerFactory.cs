using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Layers
{
    /// <summary>
    /// Creates binary layers of one policy. The generator emits one per <c>[Binarize]</c> class (its nested
    /// <c>BinaryLayers</c>, reachable as the static <c>Layers</c> property), so that a model written once can be built
    /// with any estimator: <c>new ResNet20(SteBlock.Layers)</c>.
    /// </summary>
    public interface IBinaryLayerFactory
    {
        /// <summary>A binary 2-D convolution (PyTorch's argument order and defaults; no bias unless asked).</summary>
        nn.Module<Tensor, Tensor> Conv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0,
            long dilation = 1, long groups = 1, bool bias = false);

        /// <summary>A binary fully connected layer.</summary>
        nn.Module<Tensor, Tensor> Linear(long inFeatures, long outFeatures, bool bias = true);
    }
}

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
        /// <summary>
        /// A binary 2-D convolution with TorchSharp's <c>nn.Conv2d</c> arguments: kernel, stride, padding and dilation as
        /// one value, a pair <c>(3, 1)</c> or an array; padding also <c>Padding.Same</c> / <c>Padding.Valid</c>. Defaults
        /// stride 1, padding 0, dilation 1; no bias unless asked.
        /// </summary>
        nn.Module<Tensor, Tensor> Conv2d(long inChannels, long outChannels, ConvSize kernelSize, ConvSize stride = default,
            ConvPadding padding = default, ConvSize dilation = default, long groups = 1, bool bias = false, Device? device = null,
            ScalarType? dtype = null);

        /// <summary>A binary fully connected layer (nn.Linear's arguments).</summary>
        nn.Module<Tensor, Tensor> Linear(long inFeatures, long outFeatures, bool bias = true, Device? device = null, ScalarType? dtype = null);
    }
}

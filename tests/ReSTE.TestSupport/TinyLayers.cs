using ReSTE.Runtime;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.TestSupport
{
    /// <summary>
    /// A binary 2-D convolution on the runtime's own <see cref="BinaryConv2dBase{TEstimator}"/> (weight, initialisation,
    /// checks, registration, <see cref="IBinaryLayer"/>) with the policy chosen at run time, for tests that need a binary
    /// layer without a <c>[Binarize]</c> class: sign(x) through <see cref="EstimatorSign"/> (sign(0) = 0) when it
    /// binarizes activations, weights sign(W)·β, zero padding after binarization. In eval mode with binary activations
    /// the signs are summed as integers and scaled by β after the convolution, as the generated layers' eval forward is.
    /// </summary>
    public sealed class TestBinaryConv2d : BinaryConv2dBase<IEstimator>
    {
        public TestBinaryConv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0,
            IEstimator? estimator = null, bool binarizeActivations = true, ScaleMode scale = ScaleMode.LayerMeanAbs, long dilation = 1)
            : base(inChannels, outChannels, kernelSize, stride, padding, dilation, 1, false, null, null,
                estimator ?? new ReSTEEstimator(), binarizeActivations, scale)
        { }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var input = BinarizesActivations ? EstimatorSign.Apply(x, estimator) : x;
            if (!training && BinarizesActivations && BinaryWeights.Scale(weight, Scale) is { } beta)
            {
                var counts = Apply(input, weight.sign(), null);
                return counts.mul(beta.dim() == 0 ? beta : beta.reshape(1, -1, 1, 1)).MoveToOuterDisposeScope();
            }
            var w = BinaryWeights.Scaled(EstimatorSign.Apply(weight, estimator), weight, Scale);
            return Apply(input, w, null).MoveToOuterDisposeScope();
        }
    }

    /// <summary>
    /// A binary fully connected layer on the runtime's own <see cref="BinaryLinearBase{TEstimator}"/>, the policy chosen at
    /// run time: weights sign(W)·β through <see cref="EstimatorSign"/>; activations binarized too unless
    /// <c>binarizeActivations</c> is false (1W/32A).
    /// </summary>
    public sealed class TestBinaryLinear : BinaryLinearBase<IEstimator>
    {
        public TestBinaryLinear(long inFeatures, long outFeatures, IEstimator estimator, bool binarizeActivations = true,
            ScaleMode scale = ScaleMode.LayerMeanAbs, bool bias = false)
            : base(inFeatures, outFeatures, bias, null, null, estimator, binarizeActivations, scale) { }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var input = BinarizesActivations ? EstimatorSign.Apply(x, estimator) : x;
            var w = BinaryWeights.Scaled(EstimatorSign.Apply(weight, estimator), weight, Scale);
            return Apply(input, w, bias).MoveToOuterDisposeScope();
        }
    }
}

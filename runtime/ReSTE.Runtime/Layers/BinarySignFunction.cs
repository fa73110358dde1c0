using System.Collections.Generic;
using ReSTE.Runtime.Estimators;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace ReSTE.Runtime.Layers
{
    /// <summary>
    /// The forward of every generated sign function: sign(z) (sign(0) = 0), z saved for the backward and, when the
    /// estimator takes a per-call value (o for ReSTE, (t, k) for EDE), that value under "p". The generator derives
    /// each policy's <c>BinarySign</c> from it and writes only the estimator's backward, its constants as literals.
    /// </summary>
    public abstract class BinarySignFunction<T> : SingleTensorFunction<T> where T : BinarySignFunction<T>, new()
    {
        public sealed override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var z = (Tensor)vars[0];
            ctx.save_for_backward(new List<Tensor> { z });
            if (vars.Length > 1) ctx.save_data("p", vars[1]);
            return Sign.Forward(z);
        }
    }
}

using System;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace ReSTE.Runtime.Estimators
{
    /// <summary>
    /// Runs the backward of a single-input custom autograd function without leaking tensors.
    /// TorchSharp calls <c>backward</c> on the autograd engine's thread, outside any DisposeScope of the training loop:
    /// every tensor made there (the saved input as unpacked, temporaries, the incoming gradient's wrapper) would live
    /// until the garbage collector finalises it, and on a GPU that exhausts memory within tens of steps. This helper
    /// opens a scope for the whole backward, lets only the result out, and disposes the wrappers it was handed.
    /// </summary>
    public static class EstimatorAutograd
    {
        // The gradient returned to libtorch must outlive backward until libtorch has copied it, which it does as soon
        // as backward returns, on the same thread, before it calls anything else. Each thread therefore disposes the
        // wrappers it returned earlier when it next enters a backward: at most one per thread stays alive.
        [ThreadStatic] static List<Tensor>? _returnedOnThisThread;

        /// <summary>
        /// Computes the gradient of the saved input from the incoming gradient. <paramref name="nonTensorArguments"/>
        /// is how many non-tensor arguments followed the tensor in <c>apply</c>: each gets a null gradient.
        /// </summary>
        public static List<Tensor> Backward(AutogradContext ctx, Tensor gradOutput, int nonTensorArguments, Func<Tensor, Tensor, Tensor> gradient)
        {
            var returned = _returnedOnThisThread ??= new List<Tensor>(1);
            foreach (var t in returned) t.Dispose();
            returned.Clear();

            Tensor result;
            using (var scope = NewDisposeScope())
            {
                var saved = ctx.get_saved_variables();
                foreach (var t in saved) scope.Attach(t);
                scope.Attach(gradOutput);
                result = gradient(saved[0], gradOutput).MoveToOuterDisposeScope();
            }
            // Owned here from now on, whatever scope the caller's thread has open.
            result.DetachFromDisposeScope();
            returned.Add(result);
            var grads = new List<Tensor>(1 + nonTensorArguments) { result };
            for (int i = 0; i < nonTensorArguments; i++) grads.Add(null!);
            return grads;
        }
    }

    /// <summary>
    /// Sign with the backward of any <see cref="IEstimator"/> object: the general (dynamically dispatched) path, for
    /// tools that pick the estimator at run time. Generated layers use their own specialised function instead.
    /// <c>apply(z, estimator)</c>.
    /// </summary>
    public sealed class EstimatorSign : SingleTensorFunction<EstimatorSign>
    {
        public override string Name => nameof(EstimatorSign);

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var z = (Tensor)vars[0];
            ctx.save_for_backward(new List<Tensor> { z });
            ctx.save_data("estimator", vars[1]);
            return Sign.Forward(z);
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
        {
            var estimator = (IEstimator)ctx.get_data("estimator");
            return EstimatorAutograd.Backward(ctx, grad_output, 1, (z, g) => estimator.Derivative(z).mul_(g));
        }

        /// <summary>sign(z) forward, the estimator's derivative backward.</summary>
        public static Tensor Apply(Tensor z, IEstimator estimator) => apply(z, estimator);
    }
}

namespace ReSTE.Runtime.Estimators
{
    /// <summary>
    /// The reference's <c>Binary_ReSTE</c> as a TorchSharp autograd function: sign forward, ReSTE backward with o, t and
    /// m given per call. <c>ReSTESign.Apply(z, o)</c>.
    /// </summary>
    public sealed class ReSTESign : SingleTensorFunction<ReSTESign>
    {
        public override string Name => nameof(ReSTESign);

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var z = (Tensor)vars[0];
            ctx.save_for_backward(new List<Tensor> { z });
            ctx.save_data("otm", vars[1]);
            return Sign.Forward(z);
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
        {
            var (o, t, m) = ((double, double, double))ctx.get_data("otm");
            return EstimatorAutograd.Backward(ctx, grad_output, 1, (z, g) => ReSTEEstimator.Backward(z, g, o, t, m));
        }

        public static Tensor Apply(Tensor z, double o, double t = ReSTEEstimator.DefaultT, double m = ReSTEEstimator.DefaultM)
        {
            ReSTEEstimator.Validate(o, t, m, "ReSTESign.Apply");
            return apply(z, (o, t, m));
        }
    }
}

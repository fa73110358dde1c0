using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Training
{
    /// <summary>
    /// SGD with momentum and weight decay, exactly PyTorch's <c>torch.optim.SGD</c> (dampening 0, no Nesterov):
    /// d = g + wd·p; b = d on the first step, else b = μ·b + d; p = p − lr·b. Written here rather than taken from
    /// TorchSharp so that the momentum buffers are plain named tensors that checkpoints save and restore.
    /// </summary>
    public sealed class MomentumSgd : IOptimizer
    {
        readonly List<(string Name, Parameter Param)> _params;
        readonly Dictionary<string, Tensor> _momentum = new(StringComparer.Ordinal);

        public MomentumSgd(IEnumerable<(string Name, Parameter Param)> parameters, double lr, double momentum = 0.9, double weightDecay = 1e-4)
        {
            _params = parameters.Where(p => p.Param.requires_grad).ToList();
            if (lr < 0) throw new ArgumentOutOfRangeException(nameof(lr), lr, "The learning rate must be ≥ 0.");
            LearningRate = lr; Momentum = momentum; WeightDecay = weightDecay;
        }

        public double LearningRate { get; set; }
        public double Momentum { get; }
        public double WeightDecay { get; }

        /// <summary>The momentum buffers by parameter name (absent until a parameter's first step).</summary>
        public IReadOnlyDictionary<string, Tensor> MomentumBuffers => _momentum;

        IReadOnlyDictionary<string, Tensor> IOptimizer.State => _momentum;
        void IOptimizer.LoadState(IReadOnlyDictionary<string, Tensor> state) => LoadMomentum(state);

        /// <summary>Sets every parameter's gradient to none.</summary>
        public void ZeroGrad()
        {
            foreach (var (_, p) in _params)
            {
                using var g = p.grad;
                if (g is not null) p.grad = null;
            }
        }

        /// <summary>One update from the current gradients (parameters without a gradient are skipped).</summary>
        public void Step()
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            foreach (var (name, p) in _params)
            {
                var g = p.grad;
                if (g is null) continue;
                var d = WeightDecay != 0 ? g.add(p, alpha: WeightDecay) : g;
                if (Momentum != 0)
                {
                    if (_momentum.TryGetValue(name, out var buf)) buf.mul_(Momentum).add_(d);
                    else { buf = d.detach().clone().DetachFromDisposeScope(); _momentum[name] = buf; }
                    d = buf;
                }
                p.add_(d, alpha: -LearningRate);
            }
        }

        /// <summary>Replaces the momentum buffers (from a checkpoint); each must name a parameter and match its shape.</summary>
        public void LoadMomentum(IReadOnlyDictionary<string, Tensor> buffers)
        {
            var byName = _params.ToDictionary(p => p.Name, p => p.Param, StringComparer.Ordinal);
            foreach (var (name, value) in buffers)
            {
                if (!byName.TryGetValue(name, out var p))
                    throw new System.IO.InvalidDataException($"Checkpoint momentum buffer '{name}' names no parameter of the model.");
                if (!p.shape.SequenceEqual(value.shape))
                    throw new System.IO.InvalidDataException($"Checkpoint momentum buffer '{name}' is [{string.Join(", ", value.shape)}], the parameter [{string.Join(", ", p.shape)}].");
            }
            foreach (var t in _momentum.Values) t.Dispose();
            _momentum.Clear();
            foreach (var (name, value) in buffers)
                _momentum[name] = value.to(byName[name].dtype).to(byName[name].device).clone().DetachFromDisposeScope();
        }

        public void Dispose()
        {
            foreach (var t in _momentum.Values) t.Dispose();
            _momentum.Clear();
        }
    }
}

using System;
using System.Collections.Generic;
using ReSTE.Inference.Engine.BConv2d;
using ReSTE.Inference.Engine.Steps;
using ReSTE.Inference.Format;

namespace ReSTE.Inference.Engine
{
    /// <summary>
    /// Turns a <see cref="PackedModel"/>'s ops into the engine's <see cref="Step"/>s: element-wise ops fused into the
    /// step before them, a BatchNorm before the head folded into the Linear, residual blocks as saved slots and adds,
    /// activation slots reused once free, and the scratch sizes the kernels need.
    /// </summary>
    internal sealed class Planner
    {
        readonly PackedModel _model;
        public readonly List<int> SlotSizes = new();
        readonly List<bool> _free = new();
        /// <summary>An open residual block: its saved input, and once its shortcut branch began, the main path's result.</summary>
        sealed record OpenBlock(int Slot, Shape Shape, string Name, int MainSlot = -1, Shape MainShape = default);
        readonly Stack<OpenBlock> _saved = new();
        public Shape Shape;
        public int CurrentSlot;
        public int TapVectors = 1, BitWords = 8, CountSlots = 528, PaddedFloats;
        Pointwise? _pendingAffine; // a BatchNorm waiting to be folded into a following Linear
        bool _pooled;

        public Planner(PackedModel model)
        {
            _model = model;
            Shape = new Shape(model.InputChannels, model.InputHeight, model.InputWidth);
            CurrentSlot = NewSlot(Shape.Length);
        }

        int NewSlot(int size)
        {
            for (int i = 0; i < SlotSizes.Count; i++)
                if (_free[i]) { _free[i] = false; SlotSizes[i] = Math.Max(SlotSizes[i], size); return i; }
            SlotSizes.Add(size); _free.Add(false);
            return SlotSizes.Count - 1;
        }

        void Release(int slot)
        {
            foreach (var s in _saved) if (s.Slot == slot || s.MainSlot == slot) return;
            _free[slot] = true;
        }

        static InvalidOperationException Error(DeployOp op, string message) => new($"Op '{op.Name}' ({op.Kind}): {message}");

        void FlushAffine(List<Step> steps)
        {
            if (_pendingAffine is not { } affine) return;
            var step = new PointwiseStep { In = CurrentSlot, Out = InPlaceTarget(), Shape = Shape };
            step.Ops.Add(affine);
            steps.Add(step);
            CurrentSlot = step.Out;
            _pendingAffine = null;
        }

        /// <summary>The slot an element-wise op writes: the current one, or a fresh one while the current one is saved for a shortcut.</summary>
        int InPlaceTarget() => CurrentIsSaved() ? NewSlot(Shape.Length) : CurrentSlot;

        public void Build(List<Step> steps)
        {
            var ops = _model.Ops;
            for (int i = 0; i < ops.Count; i++)
            {
                var op = ops[i];
                if (op is not LinearOp && op is not GlobalAvgPoolOp) FlushAffine(steps);
                switch (op)
                {
                    case NormalizeOp n:
                    {
                        if (n.Mean.Length != Shape.C) throw Error(op, $"{n.Mean.Length} channels for a {Shape} input.");
                        var step = new NormalizeStep { In = CurrentSlot, Out = InPlaceTarget(), Mean = n.Mean, Std = n.Std, Shape = Shape };
                        steps.Add(step);
                        CurrentSlot = step.Out;
                        break;
                    }
                    case Conv2dOp c:
                        i = PlanFloatConv(c, c.Weight, c.Bias, ops, i, steps);
                        break;
                    case BinaryConv2dOp b when b.Groups != 1 || b.Dilation != 1:
                        i = PlanGroupedBinaryConv(b, ops, i, steps);
                        break;
                    case BinaryLinearOp bl:
                        PlanBinaryLinear(bl, steps);
                        break;
                    case AvgPool2dOp a:
                        i = PlanAvgPool(a, ops, i, steps);
                        break;
                    case BinaryConv2dOp b when !b.BinarizesActivations:
                    {
                        // 1W/32A: a float convolution with weights ±β (0 where the latent weight is 0).
                        var w = new float[b.Weight.Count];
                        int per = b.InChannels * b.KernelH * b.KernelW;
                        for (int j = 0; j < w.Length; j++) w[j] = b.Weight[j] * b.ScaleOf(j / per);
                        i = PlanFloatConv(new Conv2dOp(b.Name, b.InChannels, b.OutChannels, b.KernelH, b.KernelW, b.Stride, b.Padding, w, null), w, null, ops, i, steps);
                        break;
                    }
                    case BinaryConv2dOp b:
                        i = PlanBinaryConv(b, ops, i, steps);
                        break;
                    case ReLUOp or HardtanhOp or BatchNormOp:
                    {
                        if (op is BatchNormOp bn0 && ((Shape.H == 1 && Shape.W == 1) || _pooled) && NextIsLinear(ops, i))
                        {
                            if (bn0.Channels != Shape.C) throw Error(op, $"{bn0.Channels} channels for a {Shape} input.");
                            var (a0, b0) = bn0.Fold();
                            _pendingAffine = new Pointwise(PointwiseKind.Affine, A: a0, B: b0);
                            break;
                        }
                        var step = new PointwiseStep { In = CurrentSlot, Out = InPlaceTarget(), Shape = Shape };
                        while (i < ops.Count && ToPointwise(ops[i]) is { } pw) { step.Ops.Add(pw); i++; }
                        i--;
                        steps.Add(step);
                        CurrentSlot = step.Out;
                        break;
                    }
                    case ResidualBeginOp:
                        // Element-wise ops inside the block write elsewhere while this slot is saved (InPlaceTarget).
                        _saved.Push(new OpenBlock(CurrentSlot, Shape, op.Name));
                        break;
                    case ShortcutBranchOp:
                    {
                        if (_saved.Count == 0) throw Error(op, "no residual block is open.");
                        var block = _saved.Pop();
                        if (block.MainSlot >= 0) throw Error(op, $"block '{block.Name}' already has a shortcut branch.");
                        if (block.Slot == CurrentSlot) throw Error(op, $"block '{block.Name}' has an empty main path.");
                        _saved.Push(block with { MainSlot = CurrentSlot, MainShape = Shape });
                        CurrentSlot = block.Slot;
                        Shape = block.Shape;
                        break;
                    }
                    case MaxPool2dOp m:
                        i = PlanMaxPool(m, ops, i, steps);
                        break;
                    case ResidualEndOp r:
                        PlanResidualEnd(r, steps);
                        break;
                    case GlobalAvgPoolOp:
                    {
                        if (_pendingAffine is not null) throw Error(op, "internal: pending BatchNorm before pooling.");
                        int outSlot = NewSlot(Shape.C);
                        steps.Add(new GlobalAvgPoolStep { In = CurrentSlot, Out = outSlot, InShape = Shape });
                        Release(CurrentSlot);
                        CurrentSlot = outSlot;
                        Shape = new Shape(Shape.C, 1, 1);
                        _pooled = true;
                        break;
                    }
                    case LinearOp l:
                        PlanLinear(l, steps);
                        break;
                    default:
                        throw Error(op, "the engine does not run this op.");
                }
            }
            FlushAffine(steps);
            if (_saved.Count > 0) throw new InvalidOperationException($"Residual block '{_saved.Peek().Name}' is never closed.");
        }

        static bool NextIsLinear(IReadOnlyList<DeployOp> ops, int i) => i + 1 < ops.Count && ops[i + 1] is LinearOp;

        Pointwise? ToPointwise(DeployOp op)
        {
            switch (op)
            {
                case ReLUOp: return new Pointwise(PointwiseKind.Relu);
                case HardtanhOp h: return new Pointwise(PointwiseKind.Clamp, h.Min, h.Max);
                case BatchNormOp bn:
                    if (bn.Channels != Shape.C) throw Error(op, $"{bn.Channels} channels for a {Shape} input.");
                    var (a, b) = bn.Fold();
                    return new Pointwise(PointwiseKind.Affine, A: a, B: b);
                default: return null;
            }
        }

        /// <summary>Whether the current slot is saved for a shortcut (then in-place work must go elsewhere).</summary>
        bool CurrentIsSaved()
        {
            foreach (var s in _saved) if (s.Slot == CurrentSlot) return true;
            return false;
        }

        int PlanFloatConv(Conv2dOp c, float[] weight, float[]? bias, IReadOnlyList<DeployOp> ops, int i, List<Step> steps)
        {
            if (c.InChannels != Shape.C) throw Error(c, $"expects {c.InChannels} channels, gets {Shape}.");
            int oh = (Shape.H + 2 * c.Padding - c.KernelH) / c.Stride + 1, ow = (Shape.W + 2 * c.Padding - c.KernelW) / c.Stride + 1;
            if (oh <= 0 || ow <= 0) throw Error(c, $"the kernel does not fit a {Shape} input.");
            var outShape = new Shape(c.OutChannels, oh, ow);
            int co = c.OutChannels;
            var w = (float[])weight.Clone();
            var b = bias is null ? new float[co] : (float[])bias.Clone();
            int outSlot = NewSlot(outShape.Length);
            var step = new FloatConvStep
            {
                In = CurrentSlot, Out = outSlot, InShape = Shape, OutShape = outShape, KH = c.KernelH, KW = c.KernelW,
                Stride = c.Stride, Pad = c.Padding, Weight = w, Bias = b, Name = c.Name
            };
            // The padded copy, and a vector's slack past its end for the last row's loads.
            PaddedFloats = Math.Max(PaddedFloats, Shape.C * (Shape.H + 2 * c.Padding) * (Shape.W + 2 * c.Padding) + 16);
            Shape = outShape;
            // A BatchNorm right after the convolution is not folded into its weights: exact algebra, but not the
            // floats libtorch computes (it rounds the sum, then x·α + β), and an activation within rounding of 0
            // would then binarize differently downstream. It runs in the epilogue instead.
            return AddWithEpilogue(step, step.Epilogue, ops, i, steps);
        }

        int PlanBinaryConv(BinaryConv2dOp b, IReadOnlyList<DeployOp> ops, int i, List<Step> steps)
        {
            if (b.InChannels != Shape.C) throw Error(b, $"expects {b.InChannels} channels, gets {Shape}.");
            BitPlaneConv kernel;
            try { kernel = new BitPlaneConv(b, Shape.H, Shape.W); }
            catch (ArgumentException e) { throw new InvalidOperationException(e.Message, e); }
            var scale = new float[b.OutChannels];
            for (int o = 0; o < scale.Length; o++) scale[o] = b.ScaleOf(o);
            var outShape = new Shape(kernel.OutC, kernel.OutH, kernel.OutW);
            int outSlot = NewSlot(outShape.Length);
            var step = new BinaryConvStep { In = CurrentSlot, Out = outSlot, Kernel = kernel, Scale = scale, Name = b.Name };
            Shape = outShape;
            TapVectors = Math.Max(TapVectors, kernel.TapVectors);
            BitWords = Math.Max(BitWords, kernel.BitScratchWords);
            CountSlots = Math.Max(CountSlots, kernel.CountSlots);
            i = AddWithEpilogue(step, step.Epilogue, ops, i, steps);
            if (step.Epilogue.Count == 2 && step.Epilogue[0].Kind == PointwiseKind.Relu && step.Epilogue[1].Kind == PointwiseKind.Affine)
                step.ReluThenAffine = step.Epilogue[1];
            return i;
        }

        /// <summary>
        /// Takes the element-wise ops after op <paramref name="i"/> into <paramref name="epilogue"/> (applied as each
        /// output plane is written), adds <paramref name="step"/> and makes its output the current activation.
        /// Returns the index of the last op consumed.
        /// </summary>
        int AddWithEpilogue(Step step, List<Pointwise> epilogue, IReadOnlyList<DeployOp> ops, int i, List<Step> steps)
        {
            while (i + 1 < ops.Count && ToPointwise(ops[i + 1]) is { } pw) { epilogue.Add(pw); i++; }
            steps.Add(step);
            Release(CurrentSlot);
            CurrentSlot = step.Out;
            return i;
        }

        void PlanResidualEnd(ResidualEndOp r, List<Step> steps)
        {
            if (_saved.Count == 0) throw Error(r, "no residual block is open.");
            var block = _saved.Pop();
            if (block.MainSlot >= 0)
            {
                // Shortcut branch: the current slot holds the branch's result, the main path's is set aside.
                if (r.Shortcut != ShortcutKind.Identity) throw Error(r, "after a shortcut branch the end must be an identity.");
                if (block.MainShape != Shape) throw Error(r, $"the shortcut branch gives {Shape}, the block's main path {block.MainShape}.");
                if (CurrentSlot == block.Slot) throw Error(r, $"block '{block.Name}' has an empty shortcut branch; drop the branch for an identity shortcut.");
                steps.Add(new ResidualAddStep
                {
                    In = CurrentSlot, Out = CurrentSlot, Saved = block.MainSlot, SavedShape = Shape, Shape = Shape,
                    Stride = 1, PadBefore = 0, Branch = true
                });
                Release(block.MainSlot);
                Release(block.Slot);
                return;
            }
            var savedShape = block.Shape;
            int sh = r.Shortcut == ShortcutKind.Identity ? savedShape.H : (savedShape.H + r.Stride - 1) / r.Stride;
            int sw = r.Shortcut == ShortcutKind.Identity ? savedShape.W : (savedShape.W + r.Stride - 1) / r.Stride;
            int sc = savedShape.C + r.PadBefore + r.PadAfter;
            if (sh != Shape.H || sw != Shape.W || sc != Shape.C)
                throw Error(r, $"the shortcut gives {sc}×{sh}×{sw}, the block's body {Shape}.");
            if (block.Slot == CurrentSlot || CurrentIsSaved())
                throw Error(r, "a residual block whose body is empty (x + x) is not supported.");
            if (r.Shortcut == ShortcutKind.Identity && steps[^1] is BinaryConvStep last && last.Out == CurrentSlot && last.Shortcut < 0)
            {
                // The add joins the binary convolution's epilogue: one pass less over the block's output.
                last.Shortcut = block.Slot;
                Release(block.Slot);
                return;
            }
            steps.Add(new ResidualAddStep
            {
                In = CurrentSlot, Out = CurrentSlot, Saved = block.Slot, SavedShape = savedShape, Shape = Shape,
                Stride = r.Shortcut == ShortcutKind.Identity ? 1 : r.Stride, PadBefore = r.PadBefore
            });
            Release(block.Slot);
        }

        int PlanMaxPool(MaxPool2dOp m, IReadOnlyList<DeployOp> ops, int i, List<Step> steps)
        {
            int oh = m.OutputSize(Shape.H), ow = m.OutputSize(Shape.W);
            if (oh < 1 || ow < 1) throw Error(m, $"a {m.Kernel}×{m.Kernel} window does not fit a {Shape} input" + (m.Padding > 0 ? $" padded by {m.Padding}." : "."));
            var outShape = new Shape(Shape.C, oh, ow);
            int outSlot = NewSlot(outShape.Length);
            var step = new MaxPoolStep { In = CurrentSlot, Out = outSlot, InShape = Shape, OutShape = outShape, Kernel = m.Kernel, Stride = m.Stride, Padding = m.Padding };
            Shape = outShape;
            return AddWithEpilogue(step, step.Epilogue, ops, i, steps);
        }

        int PlanGroupedBinaryConv(BinaryConv2dOp b, IReadOnlyList<DeployOp> ops, int i, List<Step> steps)
        {
            if (b.InChannels != Shape.C) throw Error(b, $"expects {b.InChannels} channels, gets {Shape}.");
            GroupedBinaryConvKernel kernel;
            try { kernel = new GroupedBinaryConvKernel(b, Shape.H, Shape.W); }
            catch (ArgumentException e) { throw new InvalidOperationException(e.Message, e); }
            var outShape = new Shape(kernel.OutC, kernel.OutH, kernel.OutW);
            var step = new GroupedBinaryConvStep { In = CurrentSlot, Out = NewSlot(outShape.Length), Kernel = kernel, Name = b.Name };
            Shape = outShape;
            return AddWithEpilogue(step, step.Epilogue, ops, i, steps);
        }

        void PlanBinaryLinear(BinaryLinearOp l, List<Step> steps)
        {
            if (l.InFeatures != Shape.Length) throw Error(l, $"expects {l.InFeatures} features, gets {Shape} = {Shape.Length}.");
            int outSlot = NewSlot(l.OutFeatures);
            steps.Add(new BinaryLinearStep { In = CurrentSlot, Out = outSlot, Kernel = new BinaryLinearKernel(l), Name = l.Name });
            Release(CurrentSlot);
            CurrentSlot = outSlot;
            Shape = new Shape(l.OutFeatures, 1, 1);
        }

        int PlanAvgPool(AvgPool2dOp a, IReadOnlyList<DeployOp> ops, int i, List<Step> steps)
        {
            if (Shape.H < a.Kernel || Shape.W < a.Kernel) throw Error(a, $"a {a.Kernel}×{a.Kernel} window does not fit a {Shape} input.");
            var outShape = new Shape(Shape.C, (Shape.H - a.Kernel) / a.Stride + 1, (Shape.W - a.Kernel) / a.Stride + 1);
            var step = new AvgPoolStep { In = CurrentSlot, Out = NewSlot(outShape.Length), InShape = Shape, OutShape = outShape, Kernel = a.Kernel, Stride = a.Stride };
            Shape = outShape;
            return AddWithEpilogue(step, step.Epilogue, ops, i, steps);
        }

        void PlanLinear(LinearOp l, List<Step> steps)
        {
            if (l.InFeatures != Shape.Length) throw Error(l, $"expects {l.InFeatures} features, gets {Shape} = {Shape.Length}.");
            int inF = l.InFeatures, outF = l.OutFeatures, hw = Shape.Plane;
            var w = (float[])l.Weight.Clone();
            var bias = new double[outF];
            for (int o = 0; o < outF; o++) bias[o] = l.Bias?[o] ?? 0;
            if (_pendingAffine is { } aff)
            {
                // Linear(a·x + b) = (W·diag(a))·x + (W·b + bias): a BatchNorm before the head folds into it.
                for (int o = 0; o < outF; o++)
                    for (int j = 0; j < inF; j++)
                    {
                        int ch = j / hw;
                        bias[o] += (double)w[o * inF + j] * aff.B![ch];
                        w[o * inF + j] *= aff.A![ch];
                    }
                _pendingAffine = null;
            }
            int outSlot = NewSlot(outF);
            steps.Add(new LinearStep { In = CurrentSlot, Out = outSlot, InF = inF, OutF = outF, Weight = w, Bias = bias, Name = l.Name });
            Release(CurrentSlot);
            CurrentSlot = outSlot;
            Shape = new Shape(outF, 1, 1);
        }
    }
}

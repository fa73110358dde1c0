using System;
using System.Collections.Generic;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using ReSTE.Inference.Format;

namespace ReSTE.Inference.Engine
{
    /// <summary>
    /// Runs a <see cref="PackedModel"/> on the CPU, no TorchSharp needed. Activations are kept per image in NHWC;
    /// binary convolutions run as XNOR + popcount (<see cref="BinaryConvKernel"/>) with the element-wise ops that follow
    /// them (ReLU, Hardtanh, BatchNorm as a per-channel affine map) fused into their output loop; BatchNorm is folded
    /// into a following Linear (through a global average pool) or a preceding full-precision convolution, where that is
    /// exact algebra. One engine may be used from several threads: each call takes its own work buffers.
    /// </summary>
    public sealed class InferenceEngine
    {
        readonly List<Step> _steps = new();
        readonly int[] _slotSizes;
        readonly int _finalSlot;
        readonly Shape _finalShape;
        readonly int _scratchWords, _scratchInts;
        readonly System.Collections.Concurrent.ConcurrentBag<Workspace> _pool = new();

        public InferenceEngine(PackedModel model)
        {
            Model = model ?? throw new ArgumentNullException(nameof(model));
            InputLength = model.InputChannels * model.InputHeight * model.InputWidth;
            var planner = new Planner(model);
            planner.Build(_steps);
            _slotSizes = planner.SlotSizes.ToArray();
            _finalSlot = planner.CurrentSlot;
            OutputLength = planner.Shape.Length;
            _finalShape = planner.Shape;
            _scratchWords = planner.ScratchWords;
            _scratchInts = planner.ScratchInts;
        }

        public PackedModel Model { get; }
        /// <summary>Floats per input image (C·H·W).</summary>
        public int InputLength { get; }
        /// <summary>Floats per output (the logits; C·H·W in PyTorch's order for a model that ends with a feature map).</summary>
        public int OutputLength { get; }
        /// <summary>The executable steps, after fusion (for summaries and tests).</summary>
        public IReadOnlyList<string> Steps => _steps.ConvertAll(s => s.Describe());

        /// <summary>The model's output for one image given CHW, as PyTorch lays it out.</summary>
        public float[] Run(ReadOnlySpan<float> image)
        {
            var output = new float[OutputLength];
            Run(image, output);
            return output;
        }

        /// <summary>Writes the model's output for one CHW image into <paramref name="output"/>.</summary>
        public void Run(ReadOnlySpan<float> image, Span<float> output)
        {
            if (image.Length != InputLength) throw new ArgumentException($"An input image has {InputLength} floats (C·H·W), not {image.Length}.", nameof(image));
            if (output.Length < OutputLength) throw new ArgumentException($"The output needs {OutputLength} floats.", nameof(output));
            var ws = Rent();
            try
            {
                // CHW → HWC
                var x = ws.Slots[0];
                int c = Model.InputChannels, hw = Model.InputHeight * Model.InputWidth;
                for (int ch = 0; ch < c; ch++)
                    for (int p = 0; p < hw; p++) x[p * c + ch] = image[ch * hw + p];
                foreach (var step in _steps) step.Run(ws);
                // HWC → CHW, PyTorch's layout, when the output still has spatial extent.
                var y = ws.Slots[_finalSlot];
                int oc = _finalShape.C, ohw = _finalShape.H * _finalShape.W;
                if (ohw == 1) y.AsSpan(0, OutputLength).CopyTo(output);
                else
                    for (int ch = 0; ch < oc; ch++)
                        for (int p = 0; p < ohw; p++) output[ch * ohw + p] = y[p * oc + ch];
            }
            finally { _pool.Add(ws); }
        }

        /// <summary>
        /// Runs the steps on an activation already in this engine's HWC layout and leaves the result in HWC (no layout
        /// conversions): for timing a single layer as it runs inside a model.
        /// </summary>
        internal void RunHwc(ReadOnlySpan<float> hwcInput, Span<float> hwcOutput)
        {
            var ws = Rent();
            try
            {
                hwcInput.CopyTo(ws.Slots[0]);
                foreach (var step in _steps) step.Run(ws);
                ws.Slots[_finalSlot].AsSpan(0, OutputLength).CopyTo(hwcOutput);
            }
            finally { _pool.Add(ws); }
        }

        /// <summary>
        /// Outputs for <paramref name="count"/> images stored one after another (N·C·H·W), images spread over up to
        /// <paramref name="maxDegreeOfParallelism"/> threads (1: the calling thread only).
        /// </summary>
        public float[] RunBatch(ReadOnlySpan<float> images, int count, int maxDegreeOfParallelism = 1)
        {
            if (images.Length != (long)count * InputLength)
                throw new ArgumentException($"{count} images take {(long)count * InputLength} floats, not {images.Length}.", nameof(images));
            var output = new float[count * OutputLength];
            if (maxDegreeOfParallelism <= 1 || count == 1)
            {
                for (int i = 0; i < count; i++)
                    Run(images.Slice(i * InputLength, InputLength), output.AsSpan(i * OutputLength, OutputLength));
                return output;
            }
            var copy = images.ToArray();
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism },
                i => Run(copy.AsSpan(i * InputLength, InputLength), output.AsSpan(i * OutputLength, OutputLength)));
            return output;
        }

        /// <summary>The index of the largest value (the first one on ties).</summary>
        public static int ArgMax(ReadOnlySpan<float> values)
        {
            int best = 0;
            for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
            return best;
        }

        Workspace Rent()
        {
            if (_pool.TryTake(out var ws)) return ws;
            return new Workspace(_slotSizes, _scratchWords, _scratchInts);
        }

        internal sealed class Workspace
        {
            public readonly float[][] Slots;
            public readonly ulong[] PixSigns, PixMask, PatchSigns, PatchMask;
            public readonly int[] Dots;

            public Workspace(int[] slotSizes, int words, int ints)
            {
                Slots = new float[slotSizes.Length][];
                for (int i = 0; i < slotSizes.Length; i++) Slots[i] = new float[slotSizes[i]];
                PixSigns = new ulong[words]; PixMask = new ulong[words]; PatchSigns = new ulong[words]; PatchMask = new ulong[words];
                Dots = new int[ints];
            }
        }

        internal readonly record struct Shape(int C, int H, int W)
        {
            public int Length => C * H * W;
            public override string ToString() => $"{C}×{H}×{W}";
        }

        // ------------------------------------------------------------------ element-wise epilogues

        /// <summary>A per-channel element-wise op applied in place or fused into a producer's output loop.</summary>
        internal abstract class Pointwise
        {
            public abstract float Apply(float v, int c);
            public abstract string Describe();
        }

        sealed class ReluPw : Pointwise
        {
            public override float Apply(float v, int c) => v > 0 ? v : 0;
            public override string Describe() => "ReLU";
        }

        sealed class ClampPw : Pointwise
        {
            readonly float _min, _max;
            public ClampPw(float min, float max) { _min = min; _max = max; }
            public override float Apply(float v, int c) => v < _min ? _min : v > _max ? _max : v;
            public override string Describe() => $"Hardtanh({_min},{_max})";
        }

        sealed class AffinePw : Pointwise
        {
            public readonly float[] A, B;
            public AffinePw(float[] a, float[] b) { A = a; B = b; }
            public override float Apply(float v, int c) => MathF.FusedMultiplyAdd(v, A[c], B[c]);
            public override string Describe() => "BatchNorm(affine)";
        }

        // ------------------------------------------------------------------ steps

        internal abstract class Step
        {
            public int In, Out;
            public abstract void Run(Workspace ws);
            public abstract string Describe();
        }

        sealed class PointwiseStep : Step
        {
            public readonly List<Pointwise> Ops = new();
            public Shape Shape;
            public override void Run(Workspace ws)
            {
                var x = ws.Slots[In];
                var y = ws.Slots[Out];
                int c = Shape.C, n = Shape.Length;
                for (int i = 0; i < n; i++)
                {
                    float v = x[i];
                    foreach (var op in Ops) v = op.Apply(v, i % c);
                    y[i] = v;
                }
            }
            public override string Describe() => string.Join(" → ", Ops.ConvertAll(o => o.Describe()));
        }

        sealed class NormalizeStep : Step
        {
            public float[] Mean = Array.Empty<float>(), Std = Array.Empty<float>();
            public Shape Shape;
            public override void Run(Workspace ws)
            {
                var x = ws.Slots[In];
                var y = ws.Slots[Out];
                int c = Shape.C;
                for (int i = 0; i < Shape.Length; i++) y[i] = (x[i] - Mean[i % c]) / Std[i % c];
            }
            public override string Describe() => "Normalize";
        }

        sealed class FloatConvStep : Step
        {
            public Shape InShape, OutShape;
            public int KH, KW, Stride, Pad;
            /// <summary>[ky][kx][ci][co].</summary>
            public float[] Weight = Array.Empty<float>();
            public float[] Bias = Array.Empty<float>();
            public readonly List<Pointwise> Epilogue = new();
            public string Name = "";

            public override void Run(Workspace ws)
            {
                var x = ws.Slots[In];
                var y = ws.Slots[Out];
                int ci = InShape.C, co = OutShape.C, vw = Vector<float>.Count;
                Span<float> acc = stackalloc float[co];
                for (int oy = 0; oy < OutShape.H; oy++)
                    for (int ox = 0; ox < OutShape.W; ox++)
                    {
                        Bias.AsSpan().CopyTo(acc);
                        for (int ky = 0; ky < KH; ky++)
                        {
                            int iy = oy * Stride - Pad + ky;
                            if ((uint)iy >= (uint)InShape.H) continue;
                            for (int kx = 0; kx < KW; kx++)
                            {
                                int ix = ox * Stride - Pad + kx;
                                if ((uint)ix >= (uint)InShape.W) continue;
                                int src = (iy * InShape.W + ix) * ci;
                                int wbase = (ky * KW + kx) * ci * co;
                                for (int c = 0; c < ci; c++)
                                {
                                    float v = x[src + c];
                                    if (v == 0) continue;
                                    var w = Weight.AsSpan(wbase + c * co, co);
                                    int o = 0;
                                    if (Vector.IsHardwareAccelerated)
                                    {
                                        var vv = new Vector<float>(v);
                                        for (; o + vw <= co; o += vw)
                                        {
                                            var a = new Vector<float>(acc.Slice(o, vw));
                                            Vector.FusedMultiplyAdd(vv, new Vector<float>(w.Slice(o, vw)), a).CopyTo(acc.Slice(o, vw));
                                        }
                                    }
                                    for (; o < co; o++) acc[o] = MathF.FusedMultiplyAdd(v, w[o], acc[o]);
                                }
                            }
                        }
                        int dst = (oy * OutShape.W + ox) * co;
                        for (int o = 0; o < co; o++)
                        {
                            float v = acc[o];
                            foreach (var op in Epilogue) v = op.Apply(v, o);
                            y[dst + o] = v;
                        }
                    }
            }
            public override string Describe() => $"Conv2d {Name} {InShape}→{OutShape}" + (Epilogue.Count > 0 ? " + " + string.Join(" → ", Epilogue.ConvertAll(o => o.Describe())) : "");
        }

        sealed class BinaryConvStep : Step
        {
            public BinaryConvKernel Kernel = null!;
            public float[] Scale = Array.Empty<float>();
            public readonly List<Pointwise> Epilogue = new();
            public string Name = "";

            public override void Run(Workspace ws)
            {
                var k = Kernel;
                var x = ws.Slots[In];
                var y = ws.Slots[Out];
                if (k.ChunkedChannels && Vector256.IsHardwareAccelerated)
                {
                    var gs = MemoryMarshal.Cast<ulong, ushort>(ws.PixSigns.AsSpan());
                    var gm = MemoryMarshal.Cast<ulong, ushort>(ws.PixMask.AsSpan());
                    k.PackGrid(x, gs, gm);
                    k.Im2ColGrid(gs, gm, ws.PatchSigns, ws.PatchMask);
                }
                else
                {
                    BinaryConvKernel.PackPixels(x, k.InH * k.InW, k.InC, ws.PixSigns, ws.PixMask);
                    k.Im2Col(ws.PixSigns, ws.PixMask, ws.PatchSigns, ws.PatchMask);
                }
                k.Dots(ws.PatchSigns, ws.PatchMask, ws.Dots);
                int n = k.PatchCount, co = k.OutC;
                var dots = ws.Dots;
                if (Epilogue.Count == 2 && Epilogue[0] is ReluPw && Epilogue[1] is AffinePw aff)
                {
                    // The common ReSTE pattern, BN(ReLU(conv)), without virtual calls.
                    var a = aff.A; var b = aff.B; var s = Scale;
                    int vec = co % 8 == 0 && Vector256.IsHardwareAccelerated ? co : 0;
                    for (int p = 0; p < n; p++)
                    {
                        int row = p * co;
                        for (int o = 0; o < vec; o += 8)
                        {
                            var v = Vector256.ConvertToSingle(Vector256.Create(dots.AsSpan(row + o, 8))) * Vector256.Create(s.AsSpan(o, 8));
                            v = Vector256.FusedMultiplyAdd(Vector256.Max(v, Vector256<float>.Zero), Vector256.Create(a.AsSpan(o, 8)), Vector256.Create(b.AsSpan(o, 8)));
                            v.CopyTo(y.AsSpan(row + o, 8));
                        }
                        for (int o = vec; o < co; o++)
                        {
                            float v = dots[row + o] * s[o];
                            y[row + o] = MathF.FusedMultiplyAdd(v > 0 ? v : 0, a[o], b[o]);
                        }
                    }
                    return;
                }
                for (int p = 0; p < n; p++)
                    for (int o = 0; o < co; o++)
                    {
                        float v = dots[p * co + o] * Scale[o];
                        foreach (var op in Epilogue) v = op.Apply(v, o);
                        y[p * co + o] = v;
                    }
            }
            public override string Describe() => $"BinaryConv2d(XNOR) {Name} {Kernel.InC}×{Kernel.InH}×{Kernel.InW}→{Kernel.OutC}×{Kernel.OutH}×{Kernel.OutW}"
                + (Epilogue.Count > 0 ? " + " + string.Join(" → ", Epilogue.ConvertAll(o => o.Describe())) : "");
        }

        sealed class ResidualAddStep : Step
        {
            public int Saved;
            public Shape SavedShape, Shape;
            public int Stride, PadBefore;
            public override void Run(Workspace ws)
            {
                var x = ws.Slots[In];
                var s = ws.Slots[Saved];
                int c = Shape.C, sc = SavedShape.C;
                for (int oy = 0; oy < Shape.H; oy++)
                    for (int ox = 0; ox < Shape.W; ox++)
                    {
                        int dst = (oy * Shape.W + ox) * c + PadBefore;
                        int src = (oy * Stride * SavedShape.W + ox * Stride) * sc;
                        for (int ch = 0; ch < sc; ch++) x[dst + ch] += s[src + ch];
                    }
            }
            public override string Describe() => Stride == 1 && PadBefore == 0 && SavedShape.C == Shape.C ? "+ identity shortcut" : $"+ option-A shortcut {SavedShape}→{Shape}";
        }

        sealed class GlobalAvgPoolStep : Step
        {
            public Shape InShape;
            public override void Run(Workspace ws)
            {
                var x = ws.Slots[In];
                var y = ws.Slots[Out];
                int c = InShape.C, hw = InShape.H * InShape.W;
                for (int ch = 0; ch < c; ch++)
                {
                    double sum = 0;
                    for (int p = 0; p < hw; p++) sum += x[p * c + ch];
                    y[ch] = (float)(sum / hw);
                }
            }
            public override string Describe() => $"GlobalAvgPool {InShape}→{InShape.C}";
        }

        sealed class LinearStep : Step
        {
            public int InF, OutF;
            /// <summary>[out][in], inputs in this engine's HWC order.</summary>
            public float[] Weight = Array.Empty<float>();
            public double[] Bias = Array.Empty<double>();
            public string Name = "";
            public override void Run(Workspace ws)
            {
                var x = ws.Slots[In];
                var y = ws.Slots[Out];
                for (int o = 0; o < OutF; o++)
                {
                    double sum = Bias[o];
                    var w = Weight.AsSpan(o * InF, InF);
                    for (int i = 0; i < InF; i++) sum += (double)w[i] * x[i];
                    y[o] = (float)sum;
                }
            }
            public override string Describe() => $"Linear {Name} {InF}→{OutF}";
        }

        // ------------------------------------------------------------------ planning

        sealed class Planner
        {
            readonly PackedModel _model;
            public readonly List<int> SlotSizes = new();
            readonly List<bool> _free = new();
            readonly Stack<(int Slot, Shape Shape, string Name)> _saved = new();
            public Shape Shape;
            public int CurrentSlot;
            public int ScratchWords, ScratchInts;
            AffinePw? _pendingAffine; // a BatchNorm waiting to be folded into a following Linear
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
                foreach (var s in _saved) if (s.Slot == slot) return;
                _free[slot] = true;
            }

            static InvalidOperationException Error(DeployOp op, string message) => new($"Op '{op.Name}' ({op.Kind}): {message}");

            void FlushAffine(List<Step> steps)
            {
                if (_pendingAffine is null) return;
                var step = new PointwiseStep { In = CurrentSlot, Out = InPlaceTarget(), Shape = Shape };
                step.Ops.Add(_pendingAffine);
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
                            if (n.Mean.Length != Shape.C) throw Error(op, $"{n.Mean.Length} channels for a {Shape} input.");
                        {
                            var step = new NormalizeStep { In = CurrentSlot, Out = InPlaceTarget(), Mean = n.Mean, Std = n.Std, Shape = Shape };
                            steps.Add(step);
                            CurrentSlot = step.Out;
                            break;
                        }
                        case Conv2dOp c:
                            i = PlanFloatConv(c, c.Weight, c.Bias, ops, i, steps);
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
                                _pendingAffine = new AffinePw(a0, b0);
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
                            _saved.Push((CurrentSlot, Shape, op.Name));
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
                    case ReLUOp: return new ReluPw();
                    case HardtanhOp h: return new ClampPw(h.Min, h.Max);
                    case BatchNormOp bn:
                        if (bn.Channels != Shape.C) throw Error(op, $"{bn.Channels} channels for a {Shape} input.");
                        var (a, b) = bn.Fold();
                        return new AffinePw(a, b);
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
                int co = c.OutChannels, ci = c.InChannels;
                var w = new float[weight.Length];
                for (int o = 0; o < co; o++)
                    for (int ch = 0; ch < ci; ch++)
                        for (int ky = 0; ky < c.KernelH; ky++)
                            for (int kx = 0; kx < c.KernelW; kx++)
                                w[((ky * c.KernelW + kx) * ci + ch) * co + o] = weight[((o * ci + ch) * c.KernelH + ky) * c.KernelW + kx];
                var b = bias is null ? new float[co] : (float[])bias.Clone();
                int outSlot = NewSlot(outShape.Length);
                var step = new FloatConvStep { In = CurrentSlot, Out = outSlot, InShape = Shape, OutShape = outShape, KH = c.KernelH, KW = c.KernelW,
                    Stride = c.Stride, Pad = c.Padding, Weight = w, Bias = b, Name = c.Name };
                Shape = outShape;
                // A BatchNorm right after the convolution folds into its weights and bias (exact algebra).
                if (i + 1 < ops.Count && ops[i + 1] is BatchNormOp bn)
                {
                    if (bn.Channels != co) throw Error(bn, $"{bn.Channels} channels after a {co}-channel convolution.");
                    var (a, sh) = bn.Fold();
                    for (int j = 0; j < w.Length; j++) w[j] *= a[j % co];
                    for (int o = 0; o < co; o++) b[o] = b[o] * a[o] + sh[o];
                    i++;
                }
                while (i + 1 < ops.Count && ToPointwise(ops[i + 1]) is { } pw) { step.Epilogue.Add(pw); i++; }
                steps.Add(step);
                Release(CurrentSlot);
                CurrentSlot = outSlot;
                return i;
            }

            int PlanBinaryConv(BinaryConv2dOp b, IReadOnlyList<DeployOp> ops, int i, List<Step> steps)
            {
                if (b.InChannels != Shape.C) throw Error(b, $"expects {b.InChannels} channels, gets {Shape}.");
                BinaryConvKernel kernel;
                try { kernel = new BinaryConvKernel(b, Shape.H, Shape.W); }
                catch (ArgumentException e) { throw new InvalidOperationException(e.Message, e); }
                var scale = new float[b.OutChannels];
                for (int o = 0; o < scale.Length; o++) scale[o] = b.ScaleOf(o);
                int outSlot = NewSlot(kernel.OutC * kernel.PatchCount);
                var step = new BinaryConvStep { In = CurrentSlot, Out = outSlot, Kernel = kernel, Scale = scale, Name = b.Name };
                var inShape = Shape;
                Shape = new Shape(kernel.OutC, kernel.OutH, kernel.OutW);
                while (i + 1 < ops.Count && ToPointwise(ops[i + 1]) is { } pw) { step.Epilogue.Add(pw); i++; }
                steps.Add(step);
                ScratchWords = Math.Max(ScratchWords, Math.Max(Math.Max(inShape.H * inShape.W * kernel.PixelWords, kernel.FastPathWords),
                    kernel.PatchCount * kernel.PatchWords));
                ScratchInts = Math.Max(ScratchInts, kernel.PatchCount * kernel.OutC);
                Release(CurrentSlot);
                CurrentSlot = outSlot;
                return i;
            }

            void PlanResidualEnd(ResidualEndOp r, List<Step> steps)
            {
                if (_saved.Count == 0) throw Error(r, "no residual block is open.");
                var (slot, savedShape, _) = _saved.Pop();
                int sh = r.Shortcut == ShortcutKind.Identity ? savedShape.H : (savedShape.H + r.Stride - 1) / r.Stride;
                int sw = r.Shortcut == ShortcutKind.Identity ? savedShape.W : (savedShape.W + r.Stride - 1) / r.Stride;
                int sc = savedShape.C + r.PadBefore + r.PadAfter;
                if (sh != Shape.H || sw != Shape.W || sc != Shape.C)
                    throw Error(r, $"the shortcut gives {sc}×{sh}×{sw}, the block's body {Shape}.");
                if (slot == CurrentSlot || CurrentIsSaved())
                    throw Error(r, "a residual block whose body is empty (x + x) is not supported.");
                steps.Add(new ResidualAddStep { In = CurrentSlot, Out = CurrentSlot, Saved = slot, SavedShape = savedShape, Shape = Shape,
                    Stride = r.Shortcut == ShortcutKind.Identity ? 1 : r.Stride, PadBefore = r.PadBefore });
                Release(slot);
            }

            void PlanLinear(LinearOp l, List<Step> steps)
            {
                if (l.InFeatures != Shape.Length) throw Error(l, $"expects {l.InFeatures} features, gets {Shape} = {Shape.Length}.");
                int inF = l.InFeatures, outF = l.OutFeatures, c = Shape.C, hw = Shape.H * Shape.W;
                var w = new float[l.Weight.Length];
                var bias = new double[outF];
                for (int o = 0; o < outF; o++) bias[o] = l.Bias?[o] ?? 0;
                // PyTorch flattens CHW; this engine stores HWC.
                for (int o = 0; o < outF; o++)
                    for (int ch = 0; ch < c; ch++)
                        for (int p = 0; p < hw; p++)
                            w[o * inF + p * c + ch] = l.Weight[o * inF + ch * hw + p];
                if (_pendingAffine is { } aff)
                {
                    // Linear(a·x + b) = (W·diag(a))·x + (W·b + bias): a BatchNorm before the head folds into it.
                    for (int o = 0; o < outF; o++)
                        for (int j = 0; j < inF; j++)
                        {
                            int ch = j % c;
                            bias[o] += (double)w[o * inF + j] * aff.B[ch];
                            w[o * inF + j] *= aff.A[ch];
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
}

using System;
using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ReSTE.Inference.Format;
using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    /// <summary>
    /// A binary Linear (<see cref="BinaryLinearOp"/>) on the flattened input. 1W/1A: the input's signs become two
    /// bit-planes over the features (x &gt; 0, x ≠ 0), the weights are stored as the same two planes per output, and an
    /// output's dot product of values in {−1, 0, +1} is 2·popcount(agree) − popcount(valid) with valid = both nonzero
    /// and agree = valid ∧ ¬(sign ⊕ sign): an exact integer, then ·β and + bias, each rounded once as libtorch's eval
    /// forward does (counts · β, then the bias). 1W/32A: the float input times the signed weights (see
    /// <see cref="BinaryLinearKernel.AddSubtract"/> for the two ways this is computed).
    /// </summary>
    internal sealed unsafe class BinaryLinearKernel
    {
        public readonly int In, Out, Words;
        public readonly bool BinarizesActivations;
        readonly ulong[] _sign, _nonZero;     // [Out][Words]: 1 = +1 / 1 = nonzero; bits past In are 0 in _nonZero
        readonly uint[] _signMask;            // 1W/32A add/subtract: [Out][In] 0x80000000 where the weight is −1
        readonly uint[] _keepMask;            // 1W/32A add/subtract: [Out][In] 0xFFFFFFFF where the weight is nonzero
        readonly float[] _signed;             // 1W/32A fp32: [Out][In] the weight ±β (0 where it is 0)
        readonly float[] _scale;              // [Out]
        readonly float[]? _bias;
        readonly bool _weightZeros;

        /// <summary>
        /// 1W/32A: true sums ±x (the input's sign bit flipped where the weight is −1: no multiplication) and scales the
        /// sum by β once; false multiplies the input by the weights ±β in fp32 with FMAs. Chosen by measurement
        /// (README, "1W/32A"): the faster one on this project's machine.
        /// </summary>
        public static bool AddSubtract = false;

        public BinaryLinearKernel(BinaryLinearOp op)
        {
            In = op.InFeatures; Out = op.OutFeatures; BinarizesActivations = op.BinarizesActivations;
            Words = (In + 63) / 64;
            _scale = new float[Out];
            for (int o = 0; o < Out; o++) _scale[o] = op.ScaleOf(o);
            _bias = op.Bias;
            _weightZeros = op.Weight.NonZero is not null;
            var w = op.Weight.ToFloats();
            if (BinarizesActivations)
            {
                _sign = new ulong[Out * Words]; _nonZero = new ulong[Out * Words];
                for (int o = 0; o < Out; o++)
                    for (int j = 0; j < In; j++)
                    {
                        float v = w[o * In + j];
                        if (v > 0) _sign[o * Words + j / 64] |= 1UL << (j % 64);
                        if (v != 0) _nonZero[o * Words + j / 64] |= 1UL << (j % 64);
                    }
                _signMask = _keepMask = Array.Empty<uint>();
                _signed = Array.Empty<float>();
            }
            else
            {
                _sign = _nonZero = Array.Empty<ulong>();
                _signMask = new uint[Out * In]; _keepMask = new uint[Out * In]; _signed = new float[Out * In];
                for (int o = 0; o < Out; o++)
                    for (int j = 0; j < In; j++)
                    {
                        float v = w[o * In + j];
                        _signMask[o * In + j] = v < 0 ? 0x8000_0000u : 0;
                        _keepMask[o * In + j] = v != 0 ? 0xFFFF_FFFFu : 0;
                        _signed[o * In + j] = v * _scale[o];
                    }
            }
        }

        /// <summary>Words of bit scratch one image needs (two planes).</summary>
        public int ScratchWords => 2 * Words;

        /// <summary>Packs one input's sign planes: bit j of <paramref name="pos"/> = x[j] &gt; 0, of <paramref name="nz"/> = x[j] ≠ 0.</summary>
        public static void PackSigns(float* x, int n, ulong* pos, ulong* nz)
        {
            int words = (n + 63) / 64;
            for (int w = 0; w < words; w++) { pos[w] = 0; nz[w] = 0; }
            int j = 0;
            for (; j + 8 <= n; j += 8)
            {
                var v = Vector256.Load(x + j);
                ulong p = Vector256.ExtractMostSignificantBits(Vector256.GreaterThan(v, Vector256<float>.Zero));
                ulong z = Vector256.ExtractMostSignificantBits(Vector256.Equals(v, Vector256<float>.Zero)) ^ 0xFFu;
                pos[j >> 6] |= p << (j & 63);
                nz[j >> 6] |= z << (j & 63);
            }
            for (; j < n; j++)
            {
                float v = x[j];
                if (v > 0) pos[j >> 6] |= 1UL << (j & 63);
                if (v != 0) nz[j >> 6] |= 1UL << (j & 63);
            }
        }

        /// <summary>The integer dot product of output <paramref name="o"/> with the packed input.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Dot(int o, ulong* pos, ulong* nz)
        {
            int agree = 0, valid = 0;
            fixed (ulong* ws = &_sign[o * Words], wn = &_nonZero[o * Words])
                for (int w = 0; w < Words; w++)
                {
                    ulong m = nz[w] & wn[w];
                    agree += BitOperations.PopCount(~(pos[w] ^ ws[w]) & m);
                    valid += BitOperations.PopCount(m);
                }
            return 2 * agree - valid;
        }

        /// <summary>y = the layer's output for one input <paramref name="x"/> (In floats) into <paramref name="y"/> (Out floats).</summary>
        public void Run(float* x, float* y, ulong* scratch)
        {
            if (BinarizesActivations)
            {
                ulong* pos = scratch, nz = scratch + Words;
                PackSigns(x, In, pos, nz);
                for (int o = 0; o < Out; o++)
                {
                    float v = Dot(o, pos, nz) * _scale[o];
                    y[o] = _bias is null ? v : v + _bias[o];
                }
                return;
            }
            if (AddSubtract) RunAddSubtract(x, y);
            else RunFp32(x, y);
        }

        /// <summary>1W/32A in fp32: Σ x·(±β) with FMAs in 8 lanes, then the lanes summed, then + bias.</summary>
        public void RunFp32(float* x, float* y)
        {
            fixed (float* wt = _signed)
                for (int o = 0; o < Out; o++)
                {
                    float* w = wt + (long)o * In;
                    var acc0 = Vector256<float>.Zero; var acc1 = Vector256<float>.Zero;
                    int j = 0;
                    for (; j + 16 <= In; j += 16)
                    {
                        acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + j), Vector256.Load(w + j), acc0);
                        acc1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + j + 8), Vector256.Load(w + j + 8), acc1);
                    }
                    float sum = Vector256.Sum(acc0 + acc1);
                    for (; j < In; j++) sum = MathF.FusedMultiplyAdd(x[j], w[j], sum);
                    y[o] = _bias is null ? sum : sum + _bias[o];
                }
        }

        /// <summary>1W/32A without multiplications: Σ ±x (sign bit flipped where the weight is −1, 0 where it is 0), then ·β + bias.</summary>
        public void RunAddSubtract(float* x, float* y)
        {
            fixed (uint* sm = _signMask, km = _keepMask)
                for (int o = 0; o < Out; o++)
                {
                    uint* s = sm + (long)o * In, k = km + (long)o * In;
                    var acc0 = Vector256<float>.Zero; var acc1 = Vector256<float>.Zero;
                    int j = 0;
                    if (_weightZeros)
                        for (; j + 16 <= In; j += 16)
                        {
                            acc0 += ((Vector256.Load((uint*)x + j) ^ Vector256.Load(s + j)) & Vector256.Load(k + j)).AsSingle();
                            acc1 += ((Vector256.Load((uint*)x + j + 8) ^ Vector256.Load(s + j + 8)) & Vector256.Load(k + j + 8)).AsSingle();
                        }
                    else
                        for (; j + 16 <= In; j += 16)
                        {
                            acc0 += (Vector256.Load((uint*)x + j) ^ Vector256.Load(s + j)).AsSingle();
                            acc1 += (Vector256.Load((uint*)x + j + 8) ^ Vector256.Load(s + j + 8)).AsSingle();
                        }
                    float sum = Vector256.Sum(acc0 + acc1);
                    for (; j < In; j++) sum += BitConverter.UInt32BitsToSingle((BitConverter.SingleToUInt32Bits(x[j]) ^ s[j]) & k[j]);
                    float v = sum * _scale[o];
                    y[o] = _bias is null ? v : v + _bias[o];
                }
        }
    }

    /// <summary>Runs a <see cref="BinaryLinearKernel"/> on each image of the group (input: the flattened C·H·W activation).</summary>
    internal sealed unsafe class BinaryLinearStep : Step
    {
        public BinaryLinearKernel Kernel = null!;
        public string Name = "";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out], words = Kernel.ScratchWords;
            ulong[]? rented = words > 1024 ? ArrayPool<ulong>.Shared.Rent(words) : null;
            Span<ulong> scratch = rented is not null ? rented : stackalloc ulong[Math.Max(words, 1)];
            try
            {
                fixed (float* xs = ws.Slots[In], ys = ws.Slots[Out])
                fixed (ulong* bits = scratch)
                    for (int i = 0; i < n; i++) Kernel.Run(xs + (long)i * inSize, ys + (long)i * outSize, bits);
            }
            finally { if (rented is not null) ArrayPool<ulong>.Shared.Return(rented); }
        }

        public override string Describe() => $"BinaryLinear{(Kernel.BinarizesActivations ? "(XNOR-popcount)" : BinaryLinearKernel.AddSubtract ? "(1W/32A, add/subtract)" : "(1W/32A, fp32)")} {Name} {Kernel.In}→{Kernel.Out}";
    }
}

using System;
using System.Buffers;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using ReSTE.Inference.Format;
using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    /// <summary>
    /// A binary convolution with groups and dilation (<see cref="BinaryConv2dOp.Groups"/>, <see cref="BinaryConv2dOp.Dilation"/>:
    /// grouped, depthwise, dilated), computed directly: 1W/1A sums sign(x)·sign(w) as integers over each output's group
    /// of input channels and its taps (a tap in the zero padding adds 0), then ·β, rounded once, as libtorch's eval
    /// forward computes it (the exact count, then the scale); 1W/32A sums x·(±β) in fp32 in (channel, ky, kx) order.
    /// A scalar kernel: correct for every shape, not fast (the bit-plane kernels serve groups 1, dilation 1).
    /// </summary>
    internal sealed unsafe class GroupedBinaryConvKernel
    {
        public readonly int InC, InH, InW, OutC, OutH, OutW, KH, KW, Stride, Pad, Dilation, Groups;
        public readonly bool BinarizesActivations;
        readonly int _groupIn, _groupOut;
        readonly sbyte[] _w;       // [OutC][InC/Groups][KH][KW] in {−1, 0, +1}
        readonly float[] _signed;  // 1W/32A: the weights ±β
        readonly float[] _scale;   // [OutC]

        public GroupedBinaryConvKernel(BinaryConv2dOp op, int inH, int inW)
        {
            InC = op.InChannels; InH = inH; InW = inW; OutC = op.OutChannels; KH = op.KernelH; KW = op.KernelW;
            Stride = op.Stride; Pad = op.Padding; Dilation = op.Dilation; Groups = op.Groups;
            BinarizesActivations = op.BinarizesActivations;
            OutH = op.OutputSize(inH, KH); OutW = op.OutputSize(inW, KW);
            if (OutH <= 0 || OutW <= 0)
                throw new ArgumentException($"{op.Name}: a {KH}×{KW} kernel with dilation {Dilation} does not fit a {InC}×{inH}×{inW} input.");
            _groupIn = InC / Groups; _groupOut = OutC / Groups;
            var w = op.Weight.ToFloats();
            _w = new sbyte[w.Length];
            _signed = new float[w.Length];
            _scale = new float[OutC];
            int per = _groupIn * KH * KW;
            for (int o = 0; o < OutC; o++) _scale[o] = op.ScaleOf(o);
            for (int i = 0; i < w.Length; i++)
            {
                _w[i] = (sbyte)w[i];
                _signed[i] = w[i] * _scale[i / per];
            }
        }

        /// <summary>One image: <paramref name="x"/> C×H×W in, <paramref name="y"/> OutC×OutH×OutW out.</summary>
        public void Run(float* x, float* y)
        {
            if (BinarizesActivations) RunBinary(x, y);
            else RunFloat(x, y);
        }

        void RunBinary(float* x, float* y)
        {
            int n = InC * InH * InW;
            var signs = ArrayPool<sbyte>.Shared.Rent(n);
            try
            {
                for (int i = 0; i < n; i++) signs[i] = x[i] > 0 ? (sbyte)1 : x[i] < 0 ? (sbyte)-1 : (sbyte)0;
                fixed (sbyte* s = signs, wt = _w)
                    for (int o = 0; o < OutC; o++)
                    {
                        int c0 = o / _groupOut * _groupIn;
                        sbyte* w = wt + (long)o * _groupIn * KH * KW;
                        float beta = _scale[o];
                        float* dst = y + (long)o * OutH * OutW;
                        for (int oy = 0; oy < OutH; oy++)
                            for (int ox = 0; ox < OutW; ox++)
                            {
                                int acc = 0;
                                for (int c = 0; c < _groupIn; c++)
                                {
                                    sbyte* plane = s + (long)(c0 + c) * InH * InW;
                                    sbyte* wc = w + c * KH * KW;
                                    for (int ky = 0; ky < KH; ky++)
                                    {
                                        int iy = oy * Stride - Pad + ky * Dilation;
                                        if ((uint)iy >= (uint)InH) continue;
                                        for (int kx = 0; kx < KW; kx++)
                                        {
                                            int ix = ox * Stride - Pad + kx * Dilation;
                                            if ((uint)ix < (uint)InW) acc += plane[iy * InW + ix] * wc[ky * KW + kx];
                                        }
                                    }
                                }
                                dst[oy * OutW + ox] = acc * beta;
                            }
                    }
            }
            finally { ArrayPool<sbyte>.Shared.Return(signs); }
        }

        void RunFloat(float* x, float* y)
        {
            fixed (float* wt = _signed)
                for (int o = 0; o < OutC; o++)
                {
                    int c0 = o / _groupOut * _groupIn;
                    float* w = wt + (long)o * _groupIn * KH * KW;
                    float* dst = y + (long)o * OutH * OutW;
                    for (int oy = 0; oy < OutH; oy++)
                        for (int ox = 0; ox < OutW; ox++)
                        {
                            float acc = 0;
                            for (int c = 0; c < _groupIn; c++)
                            {
                                float* plane = x + (long)(c0 + c) * InH * InW;
                                float* wc = w + c * KH * KW;
                                for (int ky = 0; ky < KH; ky++)
                                {
                                    int iy = oy * Stride - Pad + ky * Dilation;
                                    if ((uint)iy >= (uint)InH) continue;
                                    for (int kx = 0; kx < KW; kx++)
                                    {
                                        int ix = ox * Stride - Pad + kx * Dilation;
                                        if ((uint)ix < (uint)InW) acc = MathF.FusedMultiplyAdd(plane[iy * InW + ix], wc[ky * KW + kx], acc);
                                    }
                                }
                            }
                            dst[oy * OutW + ox] = acc;
                        }
                }
        }
    }

    /// <summary>A grouped, depthwise or dilated binary convolution (<see cref="GroupedBinaryConvKernel"/>), then its element-wise epilogue per output plane.</summary>
    internal sealed unsafe class GroupedBinaryConvStep : Step
    {
        public GroupedBinaryConvKernel Kernel = null!;
        public readonly List<Pointwise> Epilogue = new();
        public string Name = "";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(Workspace ws, int n)
        {
            int inSize = ws.SlotSizes[In], outSize = ws.SlotSizes[Out], plane = Kernel.OutH * Kernel.OutW;
            fixed (float* xs = ws.Slots[In], ys = ws.Slots[Out])
                for (int i = 0; i < n; i++)
                {
                    float* y = ys + (long)i * outSize;
                    Kernel.Run(xs + (long)i * inSize, y);
                    for (int c = 0; c < Kernel.OutC; c++) Pointwise.Apply(Epilogue, y + (long)c * plane, plane, c);
                }
        }

        public override string Describe() =>
            $"BinaryConv2d(direct{(Kernel.BinarizesActivations ? "" : ", 1W/32A")}, groups {Kernel.Groups}, dilation {Kernel.Dilation}) {Name} " +
            $"{Kernel.InC}×{Kernel.InH}×{Kernel.InW}→{Kernel.OutC}×{Kernel.OutH}×{Kernel.OutW}" + Pointwise.Suffix(Epilogue);
    }
}

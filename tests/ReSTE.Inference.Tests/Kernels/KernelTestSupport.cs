using System;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Engine.BConv2d;
using ReSTE.Inference.Format;
using Xunit;

namespace ReSTE.Inference.Tests.Kernels
{
    /// <summary>Instruction-set paths a kernel test may need.</summary>
    public enum Isa
    {
        /// <summary>vpermb + gf2p8affineqb counter transpose (AVX-512F, AVX-512 VBMI, GFNI; .NET 10).</summary>
        FastTranspose,
        /// <summary>AVX-512F (512-bit integer conversions of the counts).</summary>
        Avx512F,
        /// <summary>BMI2's pext (the stride-2 phase builder).</summary>
        Bmi2,
        /// <summary>AVX2 (the 256-bit count and transpose, called directly also where AVX-512 is selected).</summary>
        Avx2,
        /// <summary>A process without AVX-512F (an AVX2-only CPU, or <c>DOTNET_EnableAVX512F=0</c> / <c>DOTNET_EnableHWIntrinsic=0</c>).</summary>
        WithoutAvx512,
    }

    static class IsaCheck
    {
        public static bool Has(Isa isa) => isa switch
        {
            Isa.FastTranspose => KernelSelection.FastTranspose,
            Isa.Avx512F => Avx512F.IsSupported,
            Isa.Avx2 => Avx2.IsSupported,
            Isa.WithoutAvx512 => !Avx512F.IsSupported,
            _ => Bmi2.X64.IsSupported,
        };

        public static string? SkipReason(Isa isa) => Has(isa) ? null
            : $"needs {isa}, which this machine or process does not offer ({KernelSelection.Describe()}); CI runs it where the CPU has it";
    }

    /// <summary>A fact about a kernel path that needs <see cref="Isa"/>: skipped, with the reason, where that is missing.</summary>
    public sealed class IsaFactAttribute : FactAttribute
    {
        public IsaFactAttribute(Isa isa)
        {
            if (IsaCheck.SkipReason(isa) is { } reason) Skip = reason;
        }
    }

    /// <summary>A theory about a kernel path that needs <see cref="Isa"/>: skipped, with the reason, where that is missing.</summary>
    public sealed class IsaTheoryAttribute : TheoryAttribute
    {
        public IsaTheoryAttribute(Isa isa)
        {
            if (IsaCheck.SkipReason(isa) is { } reason) Skip = reason;
        }
    }

    /// <summary>64-byte aligned native memory, zeroed or filled, freed on dispose.</summary>
    sealed unsafe class Aligned<T> : IDisposable where T : unmanaged
    {
        public readonly T* Pointer;
        public readonly int Length;

        public Aligned(int length, T fill = default)
        {
            Length = length;
            Pointer = (T*)NativeMemory.AlignedAlloc((nuint)(Math.Max(1, length) * sizeof(T)), 64);
            new Span<T>(Pointer, length).Fill(fill);
        }

        public Span<T> Span => new(Pointer, Length);

        public void Dispose() => NativeMemory.AlignedFree(Pointer);
    }

    static class KernelData
    {
        /// <summary>Values with exact zeros at <paramref name="zeroFraction"/>, else uniform in (−1, 1) (never exactly 0).</summary>
        public static float[] Ternary(Random rng, int n, double zeroFraction)
        {
            var v = new float[n];
            for (int i = 0; i < n; i++)
            {
                if (rng.NextDouble() < zeroFraction) { v[i] = rng.Next(2) == 0 ? 0f : -0f; continue; }
                float x = (float)(rng.NextDouble() * 2 - 1);
                v[i] = x == 0 ? 0.5f : x;
            }
            return v;
        }

        public static BinaryConv2dOp Op(Random rng, int c, int o, int k, int stride, int pad, double weightZeros, float[]? scale = null) =>
            new("conv", c, o, k, k, stride, pad, true, BitPacking.Pack(Ternary(rng, o * c * k * k, weightZeros)), scale ?? new[] { 1f });
    }

    /// <summary>Collects a kernel's dot products as [image][o][pixel], from <see cref="BitPlaneConv.Counts.Dot"/>.</summary>
    sealed unsafe class DotSink : BitPlaneConv.Sink
    {
        readonly int _o, _plane;
        public readonly int[] Dots;
        public int Offset;
        public DotSink(int o, int plane, int images) { _o = o; _plane = plane; Dots = new int[images * o * plane]; }
        public override void Write(int image, int o, in BitPlaneConv.Counts counts)
        {
            Assert.Equal(_plane, counts.Length);
            for (int p = 0; p < _plane; p++) Dots[((Offset + image) * _o + o) * _plane + p] = counts.Dot(p);
        }
    }

    static unsafe class KernelRunner
    {
        /// <summary>
        /// Runs <paramref name="n"/> CHW images through <paramref name="kernel"/>, <see cref="BitPlaneConv.MaxBatch"/> at
        /// a time, with scratch full of stale bits; with <paramref name="layout"/> that layout, else the kernel's own choice.
        /// </summary>
        public static int[] Dots(BitPlaneConv kernel, float[] images, int n, bool simd, BConvLayout? layout = null)
        {
            var ws = new InferenceEngine.Workspace(new[] { 1 }, kernel.TapVectors, kernel.BitScratchWords, kernel.CountSlots);
            var dots = new DotSink(kernel.OutC, kernel.PlaneBits, n);
            new Span<System.Runtime.Intrinsics.Vector512<ulong>>(ws.Scratch.Taps, kernel.TapVectors).Fill(System.Runtime.Intrinsics.Vector512<ulong>.AllBitsSet);
            new Span<ulong>(ws.Scratch.Bits, kernel.BitScratchWords).Fill(ulong.MaxValue);
            int inLen = kernel.InC * kernel.InH * kernel.InW;
            fixed (float* x = images)
                for (int first = 0; first < n; first += BitPlaneConv.MaxBatch)
                {
                    dots.Offset = first;
                    int m = Math.Min(BitPlaneConv.MaxBatch, n - first);
                    if (layout is { } l) kernel.RunLayout(l, x + (long)first * inLen, m, inLen, dots, ws.Scratch, simd);
                    else kernel.Run(x + (long)first * inLen, m, inLen, dots, ws.Scratch, simd);
                }
            return dots.Dots;
        }
    }
}

using System;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using ReSTE.TestSupport;
using Xunit;

namespace ReSTE.Inference.Tests.Kernels
{
    /// <summary>
    /// The kernel choice (Engine/KernelSelection.cs) follows the hardware flags: without AVX-512 the AVX2 paths replace
    /// the software Vector512 ones, and CI's leg without intrinsics (<c>DOTNET_EnableHWIntrinsic=0</c>) really runs the
    /// portable paths.
    /// </summary>
    public class KernelSelectionTests
    {
        static InferenceEngine AlignedEngine()
        {
            // 16×16, stride 1, "same" padding: the row-aligned builder's geometry.
            var op = KernelData.Op(new Random(3), 16, 8, 3, 1, 1, 0);
            return new InferenceEngine(new PackedModel(16, 16, 16, new DeployOp[] { op }));
        }

        [Fact]
        public void The_choices_follow_the_hardware_flags()
        {
            bool avx2Only = !Vector512.IsHardwareAccelerated && Avx2.IsSupported;
            Assert.Equal(avx2Only, KernelSelection.Avx2Paths);
            Assert.Equal(Vector512.IsHardwareAccelerated || avx2Only, KernelSelection.AlignedPlanes);
            Assert.Equal((Vector512.IsHardwareAccelerated || avx2Only) && Bmi2.X64.IsSupported, KernelSelection.HalvedPlanes);
            Assert.Equal(Avx512F.IsSupported, KernelSelection.TernaryLogic);
            Assert.Equal(Avx512F.IsSupported, KernelSelection.VectorOutputTransform);
            if (!Avx512F.IsSupported) Assert.False(KernelSelection.FastTranspose);
            // The AVX2 paths run only where Vector512 would run in software.
            foreach (bool avx2 in new[] { KernelSelection.Avx2SignBits, KernelSelection.Avx2RowShifts, KernelSelection.Avx2Counting, KernelSelection.Avx2Transpose, KernelSelection.Avx2MaxPool })
                Assert.Equal(avx2Only, avx2);
            Assert.Equal(avx2Only && Fma.IsSupported, KernelSelection.Avx2OutputTransform);
            Assert.Equal(avx2Only && Fma.IsSupported, KernelSelection.Avx2Float);
            // The fast kernels (what `eval --eval auto` takes the engine for): AVX-512, or the AVX2 paths with FMA and BMI2.
            Assert.Equal((Avx512F.IsSupported && Avx512BW.IsSupported) || (avx2Only && Fma.IsSupported && Bmi2.X64.IsSupported), KernelSelection.FastPaths);
            Assert.Equal(KernelSelection.FastPaths, InferenceEngine.HasFastKernels);
            if (Vector512.IsHardwareAccelerated) Assert.DoesNotContain("AVX2 carry-save", KernelSelection.Describe());
            Assert.Contains($"AVX2 {(Avx2.IsSupported ? "yes" : "no")}", KernelSelection.Describe());
            Assert.Contains($"AVX-512F {(Avx512F.IsSupported ? "yes" : "no")}", KernelSelection.Describe());
        }

        [Fact]
        public void The_engine_reports_the_kernels_each_binary_convolution_runs()
        {
            var step = Assert.Single(AlignedEngine().Steps);
            Assert.StartsWith("BinaryConv2d(bit-planes) conv 16×16×16→8×16×16", step, StringComparison.Ordinal);
            // 256-pixel planes: 4-word lanes, 2 per vector.
            Assert.Contains("[image groups of 2 (output lanes of 2 below 2 images), ", step, StringComparison.Ordinal);
            Assert.EndsWith(KernelSelection.AlignedPlanes ? "aligned planes]" : "generic planes]", step, StringComparison.Ordinal);
        }

        /// <summary>Without AVX-512: this project's AVX2-only machines, and CI's <c>DOTNET_EnableAVX512F=0</c> and <c>DOTNET_EnableHWIntrinsic=0</c> legs.</summary>
        [IsaFact(Isa.WithoutAvx512)]
        public void Without_AVX512_no_AVX512_path_runs_and_AVX2_replaces_the_software_vectors()
        {
            Assert.False(Avx512F.IsSupported);
            Assert.False(Vector512.IsHardwareAccelerated);
            // AVX2 (with BMI2 for the stride-2 builder) takes the row-aligned and phase builders, counting, transpose and
            // output transform; without it (DOTNET_EnableHWIntrinsic=0) the portable paths run.
            Assert.Equal(Avx2.IsSupported, KernelSelection.AlignedPlanes);
            Assert.Equal(Avx2.IsSupported && Bmi2.X64.IsSupported, KernelSelection.HalvedPlanes);
            Assert.Equal(Avx2.IsSupported, KernelSelection.Avx2Counting);
            Assert.Equal(Avx2.IsSupported, KernelSelection.Avx2Transpose);
            Assert.Equal(Avx2.IsSupported && Fma.IsSupported, KernelSelection.Avx2OutputTransform);
            if (Avx2.IsSupported)
            {
                var paths = KernelSelection.Describe();
                Assert.Contains("counting: AVX2 carry-save adders", paths, StringComparison.Ordinal);
                Assert.Contains("transpose: vpshufb + vpcmpeqb", paths, StringComparison.Ordinal);
                Assert.Contains("output transform: 8 pixels per vector", paths, StringComparison.Ordinal);
            }
            Assert.False(KernelSelection.VectorSignStream);
            Assert.False(KernelSelection.VectorPlaneRows);
            Assert.False(KernelSelection.TernaryLogic);
            Assert.False(KernelSelection.Broadcast128);
            Assert.False(KernelSelection.Insert256);
            Assert.False(KernelSelection.FastTranspose);
            Assert.False(KernelSelection.VectorOutputTransform);
            Assert.False(KernelSelection.StridedShortcutPermute);
            Assert.EndsWith(Avx2.IsSupported ? "aligned planes]" : "generic planes]", Assert.Single(AlignedEngine().Steps), StringComparison.Ordinal);
        }

        [FactIfEnvironment("DOTNET_EnableHWIntrinsic", "0")]
        public void Without_hardware_intrinsics_only_portable_paths_run()
        {
            Assert.False(Vector512.IsHardwareAccelerated);
            Assert.False(Vector256.IsHardwareAccelerated);
            Assert.False(Vector128.IsHardwareAccelerated);
            Assert.False(Avx2.IsSupported);
            Assert.False(Sse2.IsSupported);
            Assert.False(Bmi2.X64.IsSupported);
            Assert.False(KernelSelection.BitExtract);
            Assert.False(KernelSelection.AlignedPlanes);
            Assert.False(KernelSelection.TernaryLogic);
            Assert.False(KernelSelection.FastTranspose);
            Assert.False(KernelSelection.Avx2Paths);
            Assert.False(KernelSelection.Avx2Counting);
            Assert.False(KernelSelection.Avx2Transpose);
            Assert.False(KernelSelection.Avx2OutputTransform);
            Assert.False(KernelSelection.Avx2Float);
            Assert.False(InferenceEngine.HasFastKernels);
            Assert.Contains("AVX2 no", KernelSelection.Describe());
            Assert.Contains("counting: portable carry-save adders", KernelSelection.Describe(), StringComparison.Ordinal);
            Assert.EndsWith("generic planes]", Assert.Single(AlignedEngine().Steps), StringComparison.Ordinal);
        }
    }
}

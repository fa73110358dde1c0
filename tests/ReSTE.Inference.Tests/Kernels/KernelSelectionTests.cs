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
    /// The kernel choice (Engine/KernelSelection.cs) follows the hardware flags, and CI's fallback legs
    /// (<c>DOTNET_EnableAVX512F=0</c>, <c>DOTNET_EnableHWIntrinsic=0</c>) really run the portable paths.
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
            Assert.Equal(Vector512.IsHardwareAccelerated, KernelSelection.AlignedPlanes);
            Assert.Equal(Vector512.IsHardwareAccelerated && Bmi2.X64.IsSupported, KernelSelection.HalvedPlanes);
            Assert.Equal(Avx512F.IsSupported, KernelSelection.TernaryLogic);
            Assert.Equal(Avx512F.IsSupported, KernelSelection.VectorOutputTransform);
            if (!Avx512F.IsSupported) Assert.False(KernelSelection.FastTranspose);
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

        [FactIfEnvironment("DOTNET_EnableAVX512F", "0")]
        public void Without_AVX512_no_AVX512_path_runs()
        {
            Assert.False(Avx512F.IsSupported);
            Assert.False(Vector512.IsHardwareAccelerated);
            Assert.False(KernelSelection.AlignedPlanes);
            Assert.False(KernelSelection.HalvedPlanes);
            Assert.False(KernelSelection.VectorSignStream);
            Assert.False(KernelSelection.VectorPlaneRows);
            Assert.False(KernelSelection.TernaryLogic);
            Assert.False(KernelSelection.Broadcast128);
            Assert.False(KernelSelection.Insert256);
            Assert.False(KernelSelection.FastTranspose);
            Assert.False(KernelSelection.VectorOutputTransform);
            Assert.False(KernelSelection.StridedShortcutPermute);
            Assert.EndsWith("generic planes]", Assert.Single(AlignedEngine().Steps), StringComparison.Ordinal);
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
            Assert.Contains("AVX2 no", KernelSelection.Describe());
            Assert.EndsWith("generic planes]", Assert.Single(AlignedEngine().Steps), StringComparison.Ordinal);
        }
    }
}

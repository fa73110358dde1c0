using System.Collections.Generic;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ReSTE.Inference.Engine
{
    /// <summary>The tap-plane builders of a binary convolution (Engine/BConv2d/*PlaneBuilder.cs).</summary>
    internal enum PlaneBuilder
    {
        /// <summary>Any geometry: sign streams, padded rows, one plane per tap written bit row by bit row.</summary>
        Generic,
        /// <summary>Stride 1, "same" padding, rows of 8, 16, 32 or 64 pixels: one shifted copy of the row-aligned sign bits per tap.</summary>
        Aligned,
        /// <summary>Stride 2 halving the input, output rows of 8, 16 or 32 pixels: the input's four phases, shifted per tap.</summary>
        Halved,
    }

    /// <summary>The layouts (optimised kernels) of a binary convolution (Engine/BConv2d/*Kernel.cs).</summary>
    internal enum BConvLayout
    {
        /// <summary>A plane fills whole vectors: one image, one output channel at a time.</summary>
        SingleImage,
        /// <summary>Planes smaller than a vector: several images' planes side by side in each vector.</summary>
        ImageGroup,
        /// <summary>Planes smaller than a vector, one image: the lanes are output channels.</summary>
        OutputLanes,
    }

    /// <summary>
    /// Which kernel and instruction-set path the engine runs, decided here and nowhere else. Every choice is a
    /// property of the hardware intrinsics' <c>IsSupported</c> / <c>IsHardwareAccelerated</c> flags, so the JIT folds
    /// it to a constant (also with <c>DOTNET_EnableAVX512F=0</c> or <c>DOTNET_EnableHWIntrinsic=0</c>, under which
    /// these flags are false and the portable paths run). The kernels' <c>simd</c> argument (false in tests that check
    /// the scalar paths) turns the vector paths off further, per call.
    /// </summary>
    internal static class KernelSelection
    {
        /// <summary>
        /// AVX2 without hardware 512-bit vectors (e.g. AMD Zen 1–3, Intel client CPUs): the 256-bit paths below run where
        /// the Vector512 code would otherwise run on .NET's software vectors. False wherever Vector512 is accelerated,
        /// so the AVX-512 paths are unchanged.
        /// </summary>
        public static bool Avx2Paths => !Vector512.IsHardwareAccelerated && Avx2.IsSupported;

        /// <summary>
        /// Whether the engine's fast kernels run on this CPU: AVX-512F + AVX-512BW, or the AVX2 paths with FMA and BMI2
        /// (the 256-bit counting, transpose and output transform, the halved plane builder). Without them the portable
        /// paths run, several times slower than TorchSharp's oneDNN on the sample models.
        /// </summary>
        public static bool FastPaths => (Avx512F.IsSupported && Avx512BW.IsSupported) || (Avx2Paths && Fma.IsSupported && Bmi2.X64.IsSupported);

        /// <summary>Sign bits of 16 floats per compare in the generic builder's sign streams (else one float at a time).</summary>
        public static bool VectorSignStream => Vector512.IsHardwareAccelerated;

        /// <summary>Sign bits of 8 floats per vcmpps + vmovmskps (AVX2) in sign streams and sign bytes.</summary>
        public static bool Avx2SignBits => Avx2Paths;

        /// <summary>The row-aligned plane builder (its shifts are 512-bit vector shifts, or 256-bit ones with AVX2).</summary>
        public static bool AlignedPlanes => Vector512.IsHardwareAccelerated || Avx2Paths;

        /// <summary>The stride-2 phase builder (512-bit or, with AVX2, 256-bit shifts and BMI2's pext to split even and odd pixels).</summary>
        public static bool HalvedPlanes => (Vector512.IsHardwareAccelerated || Avx2Paths) && Bmi2.X64.IsSupported;

        /// <summary>Row shifts of the aligned and halved builders 32 bytes per vector (AVX2), not 64 (Vector512).</summary>
        public static bool Avx2RowShifts => Avx2Paths;

        /// <summary>pext for every Stride-th bit of a row in the generic builder (else a loop over the mask's bits).</summary>
        public static bool BitExtract => Bmi2.X64.IsSupported;

        /// <summary>The generic builder writes 8 rows of 8, 16 or 32 bits with one vpmovq (else row by row).</summary>
        public static bool VectorPlaneRows => Avx512F.IsSupported;

        /// <summary>Carry-save adders and lane selection as one vpternlogq each (else 5 and 3 logic ops).</summary>
        public static bool TernaryLogic => Avx512F.IsSupported;

        /// <summary>Harley–Seal counting on 256-bit halves of each 512-pixel vector, in registers (else Vector512 in software).</summary>
        public static bool Avx2Counting => Avx2Paths;

        /// <summary>A 2-word lane broadcast with vbroadcasti64x2 (else through a Vector128).</summary>
        public static bool Broadcast128 => Avx512DQ.IsSupported;

        /// <summary>A 4-word lane broadcast with vinserti64x4 (else Vector512.Create of a Vector256).</summary>
        public static bool Insert256 => Avx512F.IsSupported;

        /// <summary>Counter planes → counts with vpermb and gf2p8affineqb (else bit by bit per pixel).</summary>
#if NET10_0_OR_GREATER
        public static bool FastTranspose => Avx512F.IsSupported && Avx512Vbmi.IsSupported && Gfni.V512.IsSupported;
#else
        // GFNI's intrinsics came with .NET 10: on net8.0 the counts are transposed by the portable path.
        public static bool FastTranspose => false;
#endif

        /// <summary>Counter planes → counts 32 pixels per vector with vpshufb + vpcmpeqb (AVX2; else bit by bit per pixel).</summary>
        public static bool Avx2Transpose => Avx2Paths;

        /// <summary>The output transform (dot·β and the epilogue) 16 pixels per vector (else pixel by pixel).</summary>
        public static bool VectorOutputTransform => Avx512F.IsSupported;

        /// <summary>The output transform 8 pixels per vector (AVX2 and FMA: one rounding, as the scalar path).</summary>
        public static bool Avx2OutputTransform => Avx2Paths && Fma.IsSupported;

        /// <summary>Element-wise ops, shortcut adds and the fp32 convolutions on Vector256 (else Vector512, in software without AVX-512).</summary>
        public static bool Avx2Float => Avx2Paths && Fma.IsSupported;

        /// <summary>2×2 max pooling with stride 2, 8 outputs per vector with AVX2 (else one at a time).</summary>
        public static bool Avx2MaxPool => Avx2Paths;

        /// <summary>A stride-2 option-A shortcut picks every second float with vpermt2ps (else one float at a time).</summary>
        public static bool StridedShortcutPermute => Avx512F.IsSupported;

        /// <summary>The plane builder a convolution of this geometry runs.</summary>
        public static PlaneBuilder PlaneBuilderFor(bool aligned, bool halved, bool simd) =>
            aligned && simd && AlignedPlanes ? PlaneBuilder.Aligned
            : halved && simd && HalvedPlanes ? PlaneBuilder.Halved
            : PlaneBuilder.Generic;

        /// <summary>
        /// The layout that runs images <paramref name="done"/>… of a call of <paramref name="images"/> images, and in
        /// <paramref name="count"/> how many it takes: with planes of whole vectors (<paramref name="group"/> 1) each image
        /// alone; else whole image groups, then the rest one image at a time with output channels side by side, or
        /// (without <paramref name="outputLanes"/>: zero weights, which that layout cannot select) as a partial image group.
        /// </summary>
        public static BConvLayout NextLayout(int group, bool outputLanes, int images, int done, out int count)
        {
            if (group == 1) { count = 1; return BConvLayout.SingleImage; }
            if (images - done >= group || !outputLanes) { count = System.Math.Min(group, images - done); return BConvLayout.ImageGroup; }
            count = 1;
            return BConvLayout.OutputLanes;
        }

        /// <summary>The layouts a call of <paramref name="images"/> images runs, in order, with the images each takes.</summary>
        public static List<(BConvLayout Layout, int Images)> LayoutsFor(int group, bool outputLanes, int images)
        {
            var result = new List<(BConvLayout, int)>();
            for (int done = 0; done < images;)
            {
                var layout = NextLayout(group, outputLanes, images, done, out int m);
                result.Add((layout, m));
                done += m;
            }
            return result;
        }

        /// <summary>The instruction-set paths in use, for example "Vector512 no, AVX-512F no, AVX2 yes, …; portable transpose".</summary>
        public static string Describe() =>
            $"Vector512 {YesNo(Vector512.IsHardwareAccelerated)}, Vector256 {YesNo(Vector256.IsHardwareAccelerated)}, AVX-512F {YesNo(Avx512F.IsSupported)}, "
            + $"AVX2 {YesNo(Avx2.IsSupported)}, BMI2 {YesNo(Bmi2.X64.IsSupported)}; plane builders: generic"
            + (AlignedPlanes ? ", aligned" : "") + (HalvedPlanes ? ", halved" : "")
            + $"; counting: {(TernaryLogic ? "vpternlogq" : Avx2Counting ? "AVX2" : "portable")} carry-save adders; transpose: {(FastTranspose ? "vpermb + gf2p8affineqb" : Avx2Transpose ? "vpshufb + vpcmpeqb" : "portable")}"
            + $"; output transform: {(VectorOutputTransform ? "16 pixels per vector" : Avx2OutputTransform ? "8 pixels per vector" : "scalar")}"
            + (Avx2Float ? "; element-wise ops, fp32 convolutions and 2×2 max pooling on Vector256" : "");

        static string YesNo(bool b) => b ? "yes" : "no";
    }
}

using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ReSTE.Inference.Format;

namespace ReSTE.Inference.Engine
{
    /// <summary>
    /// A binary convolution as XNOR and popcount. Activations are packed per pixel (channel bits, with a nonzero mask
    /// bit per value: sign(0) = 0); each output pixel's receptive field is gathered into a patch of
    /// ⌈kH·kW·C / 64⌉ words (bit (ky·kW + kx)·C + c), padded positions having sign and mask bits 0. With a ±1 weight w
    /// and an activation a ∈ {−1, 0, +1} the dot product over the patch is
    /// <c>popcount(m) − 2 · popcount((a ⊕ w) ∧ m)</c>, m the activation mask (and the weight mask where weights are 0):
    /// positions where the activation is 0, the zero padding among them, contribute exactly nothing.
    /// </summary>
    internal sealed class BinaryConvKernel
    {
        public readonly int InC, OutC, KH, KW, Stride, Pad, InH, InW, OutH, OutW;
        /// <summary>Words per pixel (channel bits) and per patch.</summary>
        public readonly int PixelWords, PatchWords;
        /// <summary>Weight sign bits, [o][patch word], and transposed [patch word][o padded to 8].</summary>
        readonly ulong[] _w, _wT;
        /// <summary>Weight nonzero mask, same layouts; null when no weight is 0.</summary>
        readonly ulong[]? _wm, _wmT;
        readonly int _outCPadded;

        public BinaryConvKernel(BinaryConv2dOp op, int inH, int inW)
        {
            InC = op.InChannels; OutC = op.OutChannels; KH = op.KernelH; KW = op.KernelW; Stride = op.Stride; Pad = op.Padding;
            InH = inH; InW = inW;
            OutH = (inH + 2 * Pad - KH) / Stride + 1;
            OutW = (inW + 2 * Pad - KW) / Stride + 1;
            if (OutH <= 0 || OutW <= 0) throw new ArgumentException($"{op.Name}: a {KH}×{KW} kernel does not fit a {inH}×{inW} input with padding {Pad}.");
            PixelWords = (InC + 63) / 64;
            PatchWords = (KH * KW * InC + 63) / 64;
            _outCPadded = (OutC + 7) / 8 * 8;
            _w = new ulong[OutC * PatchWords];
            bool zeros = op.Weight.NonZero is not null;
            _wm = zeros ? new ulong[OutC * PatchWords] : null;
            for (int o = 0; o < OutC; o++)
                for (int c = 0; c < InC; c++)
                    for (int ky = 0; ky < KH; ky++)
                        for (int kx = 0; kx < KW; kx++)
                        {
                            long src = ((long)(o * InC + c) * KH + ky) * KW + kx;
                            int bit = (ky * KW + kx) * InC + c;
                            int v = op.Weight[src];
                            if (v > 0) _w[o * PatchWords + (bit >> 6)] |= 1UL << (bit & 63);
                            if (zeros && v != 0) _wm![o * PatchWords + (bit >> 6)] |= 1UL << (bit & 63);
                        }
            _wT = Transpose(_w);
            _wmT = _wm is null ? null : Transpose(_wm);
        }

        ulong[] Transpose(ulong[] w)
        {
            var t = new ulong[PatchWords * _outCPadded];
            for (int o = 0; o < OutC; o++)
                for (int k = 0; k < PatchWords; k++) t[k * _outCPadded + o] = w[o * PatchWords + k];
            return t;
        }

        public int PatchCount => OutH * OutW;

        /// <summary>
        /// Whether the fast path applies: channels a multiple of 16, so that a pixel's bits are whole 16-bit chunks that
        /// patches are assembled from without shifting.
        /// </summary>
        public bool ChunkedChannels => InC % 16 == 0;
        int Chunks => InC / 16;
        int GridW => InW + 2 * Pad;
        int GridH => InH + 2 * Pad;
        /// <summary>16-bit chunks in the zero-bordered pixel grid of the fast path (one plane).</summary>
        public int GridChunks => GridH * GridW * Chunks;

        /// <summary>Words the fast path's grid and patch buffers need, slack for <see cref="Im2ColGrid"/>'s 8-byte copies included.</summary>
        public int FastPathWords => Math.Max((GridChunks + 3) / 4, PatchCount * PatchWords) + 1;

        /// <summary>
        /// Fast path, step 1: sign and nonzero bits of an NHWC float activation, 16 channels per chunk, into a grid with
        /// a zero border of <see cref="Pad"/> pixels (sign 0, mask 0: the zero padding after binarization).
        /// </summary>
        public unsafe void PackGrid(ReadOnlySpan<float> x, Span<ushort> signs, Span<ushort> mask)
        {
            int chunks = Chunks, gw = GridW;
            signs[..GridChunks].Clear();
            mask[..GridChunks].Clear();
            fixed (float* px = x)
            fixed (ushort* ps = signs, pm = mask)
            {
                for (int y = 0; y < InH; y++)
                {
                    float* src = px + (long)y * InW * InC;
                    int dst = ((y + Pad) * gw + Pad) * chunks;
                    int n = InW * chunks;
                    for (int j = 0; j < n; j++, src += 16)
                    {
                        var a = Vector256.Load(src);
                        var b = Vector256.Load(src + 8);
                        uint s = Vector256.GreaterThan(a, Vector256<float>.Zero).ExtractMostSignificantBits()
                            | (Vector256.GreaterThan(b, Vector256<float>.Zero).ExtractMostSignificantBits() << 8);
                        uint z = Vector256.Equals(a, Vector256<float>.Zero).ExtractMostSignificantBits()
                            | (Vector256.Equals(b, Vector256<float>.Zero).ExtractMostSignificantBits() << 8);
                        ps[dst + j] = (ushort)s;
                        pm[dst + j] = (ushort)~z;
                    }
                }
            }
        }

        /// <summary>
        /// Fast path, step 2: each output pixel's patch (<see cref="PatchWords"/> words, bit (ky·kW + kx)·C + c), copied
        /// from the bordered grid row by row (kW adjacent pixels are kW·C/16 adjacent chunks); unused tail bits 0.
        /// </summary>
        public unsafe void Im2ColGrid(ReadOnlySpan<ushort> gridSigns, ReadOnlySpan<ushort> gridMask, Span<ulong> patchSigns, Span<ulong> patchMask)
        {
            if (gridSigns.Length < GridChunks + 4 || gridMask.Length < GridChunks + 4 || patchSigns.Length < PatchCount * PatchWords + 1 || patchMask.Length < PatchCount * PatchWords + 1)
                throw new ArgumentException("The fast path's buffers need a word of slack (FastPathWords).");
            int chunks = Chunks, gw = GridW, row = KW * chunks, used = KH * row, total = PatchWords * 4;
            fixed (ushort* gs = gridSigns, gm = gridMask)
            fixed (ulong* qs = patchSigns, qm = patchMask)
            {
                var ds = (ushort*)qs;
                var dm = (ushort*)qm;
                for (int oy = 0; oy < OutH; oy++)
                    for (int ox = 0; ox < OutW; ox++)
                    {
                        int at = 0;
                        for (int ky = 0; ky < KH; ky++)
                        {
                            int src = ((oy * Stride + ky) * gw + ox * Stride) * chunks;
                            // 4 chunks at a time; a row's last copy may spill up to 3 chunks past it, which the next row
                            // (or the tail clearing below, or the next patch) overwrites. Buffers carry a word of slack.
                            for (int j = 0; j < row; j += 4)
                            {
                                *(ulong*)(ds + at + j) = *(ulong*)(gs + src + j);
                                *(ulong*)(dm + at + j) = *(ulong*)(gm + src + j);
                            }
                            at += row;
                        }
                        for (int j = used; j < total; j++) { ds[j] = 0; dm[j] = 0; }
                        ds += total; dm += total;
                    }
            }
        }

        /// <summary>
        /// Packs an NHWC float activation into per-pixel sign and nonzero bits (<see cref="PixelWords"/> words each).
        /// </summary>
        public static void PackPixels(ReadOnlySpan<float> x, int pixels, int channels, Span<ulong> signs, Span<ulong> mask)
        {
            int words = (channels + 63) / 64;
            for (int p = 0; p < pixels; p++)
            {
                var row = x.Slice(p * channels, channels);
                for (int j = 0; j < words; j++)
                {
                    int start = j * 64, count = Math.Min(64, channels - start);
                    ulong s = 0, m = 0;
                    for (int c = 0; c < count; c++)
                    {
                        float v = row[start + c];
                        s |= (v > 0 ? 1UL : 0UL) << c;
                        m |= (v != 0 ? 1UL : 0UL) << c;
                    }
                    signs[p * words + j] = s;
                    mask[p * words + j] = m;
                }
            }
        }

        /// <summary>Gathers every output pixel's receptive field into patches of <see cref="PatchWords"/> words.</summary>
        public void Im2Col(ReadOnlySpan<ulong> pixSigns, ReadOnlySpan<ulong> pixMask, Span<ulong> patchSigns, Span<ulong> patchMask)
        {
            patchSigns[..(PatchCount * PatchWords)].Clear();
            patchMask[..(PatchCount * PatchWords)].Clear();
            for (int oy = 0; oy < OutH; oy++)
                for (int ox = 0; ox < OutW; ox++)
                {
                    int pbase = (oy * OutW + ox) * PatchWords;
                    for (int ky = 0; ky < KH; ky++)
                    {
                        int iy = oy * Stride - Pad + ky;
                        if ((uint)iy >= (uint)InH) continue;
                        for (int kx = 0; kx < KW; kx++)
                        {
                            int ix = ox * Stride - Pad + kx;
                            if ((uint)ix >= (uint)InW) continue;
                            int src = (iy * InW + ix) * PixelWords;
                            int bit = (ky * KW + kx) * InC;
                            for (int j = 0; j < PixelWords; j++)
                            {
                                int count = Math.Min(64, InC - 64 * j);
                                int at = bit + 64 * j;
                                Or(patchSigns, pbase, at, count, pixSigns[src + j]);
                                Or(patchMask, pbase, at, count, pixMask[src + j]);
                            }
                        }
                    }
                }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Or(Span<ulong> dst, int baseWord, int bit, int count, ulong value)
        {
            int word = baseWord + (bit >> 6), shift = bit & 63;
            dst[word] |= value << shift;
            if (shift != 0 && shift + count > 64) dst[word + 1] |= value >> (64 - shift);
        }

        /// <summary>
        /// The integer dot products: <paramref name="dots"/>[pixel·OutC + o] = Σ a·w over the receptive field.
        /// </summary>
        public void Dots(ReadOnlySpan<ulong> patchSigns, ReadOnlySpan<ulong> patchMask, Span<int> dots, bool allowSimd = true)
        {
            if (allowSimd && Avx512BW.IsSupported && OutC >= 8) DotsAvx512(patchSigns, patchMask, dots);
            else DotsScalar(patchSigns, patchMask, dots);
        }

        internal void DotsScalar(ReadOnlySpan<ulong> patchSigns, ReadOnlySpan<ulong> patchMask, Span<int> dots)
        {
            int pw = PatchWords;
            for (int p = 0; p < PatchCount; p++)
            {
                var a = patchSigns.Slice(p * pw, pw);
                var m = patchMask.Slice(p * pw, pw);
                var row = dots.Slice(p * OutC, OutC);
                if (_wm is null)
                {
                    int valid = 0;
                    for (int k = 0; k < pw; k++) valid += BitOperations.PopCount(m[k]);
                    for (int o = 0; o < OutC; o++)
                    {
                        var w = _w.AsSpan(o * pw, pw);
                        int diff = 0;
                        for (int k = 0; k < pw; k++) diff += BitOperations.PopCount((a[k] ^ w[k]) & m[k]);
                        row[o] = valid - 2 * diff;
                    }
                }
                else
                {
                    for (int o = 0; o < OutC; o++)
                    {
                        var w = _w.AsSpan(o * pw, pw);
                        var wm = _wm.AsSpan(o * pw, pw);
                        int valid = 0, diff = 0;
                        for (int k = 0; k < pw; k++)
                        {
                            ulong mm = m[k] & wm[k];
                            valid += BitOperations.PopCount(mm);
                            diff += BitOperations.PopCount((a[k] ^ w[k]) & mm);
                        }
                        row[o] = valid - 2 * diff;
                    }
                }
            }
        }

        /// <summary>
        /// The same with AVX-512BW: 8 output channels per 512-bit vector; popcount per 64-bit lane by the nibble lookup
        /// (vpshufb) and a sum of absolute differences against 0 (vpsadbw). Byte counts stay below 256 for up to 31 words,
        /// so they are summed over words first and reduced once (longer patches are reduced every 31 words).
        /// </summary>
        unsafe void DotsAvx512(ReadOnlySpan<ulong> patchSigns, ReadOnlySpan<ulong> patchMask, Span<int> dots)
        {
            int pw = PatchWords, oc = OutC, ocp = _outCPadded;
            var lut = Vector512.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
            var low = Vector512.Create((byte)0x0F);
            Span<long> lanes = stackalloc long[8];
            fixed (ulong* wT = _wT, wmT = _wmT)
            fixed (ulong* aAll = patchSigns, mAll = patchMask)
            fixed (int* dAll = dots)
            {
                for (int p = 0; p < PatchCount; p++)
                {
                    ulong* a = aAll + p * pw, m = mAll + p * pw;
                    int* row = dAll + p * oc;
                    int validAll = 0;
                    for (int k = 0; k < pw; k++) validAll += BitOperations.PopCount(m[k]);
                    for (int g = 0; g < ocp; g += 8)
                    {
                        var diffTotal = Vector512<ulong>.Zero;
                        var validTotal = Vector512<ulong>.Zero;
                        for (int k0 = 0; k0 < pw; k0 += 31)
                        {
                            int k1 = Math.Min(pw, k0 + 31);
                            var acc = Vector512<byte>.Zero;
                            var accValid = Vector512<byte>.Zero;
                            for (int k = k0; k < k1; k++)
                            {
                                var w = Vector512.Load(wT + k * ocp + g);
                                var mv = Vector512.Create(m[k]);
                                if (wmT != null) mv &= Vector512.Load(wmT + k * ocp + g);
                                var x = ((Vector512.Create(a[k]) ^ w) & mv).AsByte();
                                acc += Avx512BW.Shuffle(lut, x & low) + Avx512BW.Shuffle(lut, Avx512BW.ShiftRightLogical(x.AsUInt16(), 4).AsByte() & low);
                                if (wmT != null)
                                {
                                    var mb = mv.AsByte();
                                    accValid += Avx512BW.Shuffle(lut, mb & low) + Avx512BW.Shuffle(lut, Avx512BW.ShiftRightLogical(mb.AsUInt16(), 4).AsByte() & low);
                                }
                            }
                            diffTotal += Avx512BW.SumAbsoluteDifferences(acc, Vector512<byte>.Zero).AsUInt64();
                            if (wmT != null) validTotal += Avx512BW.SumAbsoluteDifferences(accValid, Vector512<byte>.Zero).AsUInt64();
                        }
                        Vector512<long> result = wmT == null
                            ? Vector512.Create((long)validAll) - (diffTotal.AsInt64() << 1)
                            : validTotal.AsInt64() - (diffTotal.AsInt64() << 1);
                        int n = Math.Min(8, oc - g);
                        if (n == 8)
                            Avx512F.ConvertToVector256Int32(result).Store(row + g);
                        else
                        {
                            result.CopyTo(lanes);
                            for (int i = 0; i < n; i++) row[g + i] = (int)lanes[i];
                        }
                    }
                }
            }
        }
    }
}

using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static ReSTE.Inference.Engine.BConv2d.CounterTranspose;
using static ReSTE.Inference.Engine.BConv2d.HarleySeal;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>The output-lane layout: one image with planes smaller than a vector, the lanes are output channels.</summary>
    internal sealed unsafe partial class BitPlaneConv
    {
        /// <summary>
        /// One image with planes smaller than a vector: the lanes are <see cref="Group"/> output channels. Each input is
        /// one tap plane broadcast to every lane, P or N chosen lane by lane by that output channel's weight.
        /// </summary>
        void RunOutputLanes(float* x, int image, Sink sink, in Scratch s, bool simd)
        {
            switch (_laneWords)
            {
                case 1: RunOutputLanes<Lane1>(x, image, sink, s, simd); break;
                case 2: RunOutputLanes<Lane2>(x, image, sink, s, simd); break;
                default: RunOutputLanes<Lane4>(x, image, sink, s, simd); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void RunOutputLanes<TLane>(float* x, int image, Sink sink, in Scratch s, bool simd) where TLane : struct, ILane
        {
            int lw = TLane.Words, inputs = Taps * InC;
            long block = (long)inputs * lw;
            var taps = (ulong*)s.Taps;
            if (PlaneWords < lw) new Span<ulong>(taps, (int)(2 * block)).Clear();
            bool zeros = BuildPlanes(x, s.Bits, taps, 1, lw, 0, (long)InC * lw, true, simd);
            if (zeros)
            {
                // M = P | N, then the valid count: the same in every lane.
                for (long i = 0; i < block; i++) taps[2 * block + i] = taps[i] | taps[block + i];
                var planesM = stackalloc Vector512<ulong>[16];
                var m = new BroadcastPlanes<TLane>(taps + 2 * block);
                Count(m, inputs, planesM, _agreeBits);
                ToCounts(planesM, _agreeBits, s.Valid, simd);
            }
            int threads = ThreadsFor(s.Threads, _outGroups, inputs);
            if (threads > 1) LaneOutputsInParallel<TLane>(threads, image, sink, s, zeros, simd);
            else LaneOutputs<TLane>(0, _outGroups, 0, image, sink, s, zeros, simd);
        }

        void LaneOutputsInParallel<TLane>(int threads, int image, Sink sink, Scratch s, bool zeros, bool simd) where TLane : struct, ILane =>
            InParallel(_outGroups, threads, (from, to, t) => LaneOutputs<TLane>(from, to, t, image, sink, s, zeros, simd));

        /// <summary>Output channel groups [from, to) of <see cref="RunOutputLanes{TLane}"/>, with thread <paramref name="t"/>'s counts.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void LaneOutputs<TLane>(int from, int to, int t, int image, Sink sink, in Scratch s, bool zeros, bool simd) where TLane : struct, ILane
        {
            int lw = TLane.Words, inputs = Taps * InC, laneBits = lw * 64;
            long block = (long)inputs * lw;
            var taps = (ulong*)s.Taps;
            var planes = stackalloc Vector512<ulong>[16];
            ushort* counts = s.CountsOf(t);
            fixed (byte* bits = _laneBits)
            fixed (Vector512<ulong>* lut = _selectLut)
                for (int og = from; og < to; og++)
                {
                    var xs = new BroadcastInputs<TLane>(taps, taps + block, bits + (long)og * inputs, lut);
                    Count(xs, inputs, planes, _agreeBits);
                    ToCounts(planes, _agreeBits, counts, simd);
                    for (int g = 0; g < Group && og * Group + g < OutC; g++)
                        Emit(sink, image, og * Group + g, counts + g * laneBits, zeros ? s.Valid : null);
                }
        }

        /// <summary>A plane of 1, 2 or 4 words, broadcast to all 8 words of a vector.</summary>
        interface ILane
        {
            static abstract int Words { get; }
            static abstract Vector512<ulong> Broadcast(ulong* plane);
            /// <summary>The plane broadcast to the 4 words of a 256-bit half (the halves of <see cref="Broadcast"/> are equal).</summary>
            static abstract Vector256<ulong> Broadcast256(ulong* plane);
        }

        readonly struct Lane1 : ILane
        {
            public static int Words => 1;
            public static Vector512<ulong> Broadcast(ulong* plane) => Vector512.Create(*plane);
            public static Vector256<ulong> Broadcast256(ulong* plane) => Vector256.Create(*plane);
        }

        readonly struct Lane2 : ILane
        {
            public static int Words => 2;
            // One vbroadcasti64x2 from memory (Vector512.Create of a Vector256 went through the stack).
            public static Vector512<ulong> Broadcast(ulong* plane) =>
                KernelSelection.Broadcast128 ? Avx512DQ.BroadcastVector128ToVector512(plane) : Broadcast2(Vector128.Load(plane));

            public static Vector256<ulong> Broadcast256(ulong* plane) => Avx2.BroadcastVector128ToVector256(plane);

#if NET9_0_OR_GREATER
            static Vector512<ulong> Broadcast2(Vector128<ulong> q) => Vector512.Create(Vector256.Create(q));
#else
            static Vector512<ulong> Broadcast2(Vector128<ulong> q) { var h = Vector256.Create(q, q); return Vector512.Create(h, h); }
#endif
        }

        readonly struct Lane4 : ILane
        {
            public static int Words => 4;
            public static Vector256<ulong> Broadcast256(ulong* plane) => Vector256.Load(plane);
            // A load and one vinserti64x4. (Vector512.Create of the Vector256 took two inserts and a spill; the
            // vbroadcasti64x4 intrinsic, BroadcastVector256ToVector512, computed wrong counts here once inlined.)
            public static Vector512<ulong> Broadcast(ulong* plane)
            {
#if NET9_0_OR_GREATER
                if (!KernelSelection.Insert256) return Vector512.Create(Vector256.Load(plane));
#else
                if (!KernelSelection.Insert256) { var h = Vector256.Load(plane); return Vector512.Create(h, h); }
#endif
                var half = Vector256.Load(plane);
                return Avx512F.InsertVector256(half.ToVector512Unsafe(), half, 1);
            }
        }

        /// <summary>
        /// Input i of the output-lane layout: plane i of P broadcast where that lane's weight is +1, of N where it is −1
        /// (the table: per weight byte, all-ones lanes where the weight is +1).
        /// </summary>
        struct BroadcastInputs<TLane> : IInputs where TLane : struct, ILane
        {
            ulong* _p, _n;
            byte* _bits;
            readonly Vector512<ulong>* _lut;
            public BroadcastInputs(ulong* p, ulong* n, byte* bits, Vector512<ulong>* lut) { _p = p; _n = n; _bits = bits; _lut = lut; }
            public readonly Vector512<ulong> this[int i]
            {
                [MethodImpl(MethodImplOptions.AggressiveInlining)]
                get => Select(_lut[_bits[i]], TLane.Broadcast(_p + i * TLane.Words), TLane.Broadcast(_n + i * TLane.Words));
            }
            /// <summary>Half h: the lanes' selection of the same two broadcast planes (vblendvpd on the table's all-ones lanes).</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public readonly Vector256<ulong> Half(int i, int h) =>
                Avx.BlendVariable(TLane.Broadcast256(_n + i * TLane.Words).AsDouble(), TLane.Broadcast256(_p + i * TLane.Words).AsDouble(),
                    ((Vector256<ulong>*)(_lut + _bits[i]))[h].AsDouble()).AsUInt64();
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public void Advance(int n)
            {
                _p += n * TLane.Words;
                _n += n * TLane.Words;
                _bits += n;
            }
        }

        /// <summary>Input i of the output-lane layout without selection: plane i broadcast to every lane (the valid count).</summary>
        struct BroadcastPlanes<TLane> : IInputs where TLane : struct, ILane
        {
            ulong* _p;
            public BroadcastPlanes(ulong* p) { _p = p; }
            public readonly Vector512<ulong> this[int i] { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => TLane.Broadcast(_p + i * TLane.Words); }
            [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<ulong> Half(int i, int h) => TLane.Broadcast256(_p + i * TLane.Words);
            [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Advance(int n) => _p += n * TLane.Words;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<ulong> Select(Vector512<ulong> mask, Vector512<ulong> a, Vector512<ulong> b) =>
            KernelSelection.TernaryLogic ? Avx512F.TernaryLogic(mask, a, b, 0xCA) : (mask & a) | Vector512.AndNot(b, mask);
    }
}

using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static ReSTE.Inference.Engine.BConv2d.CounterTranspose;
using static ReSTE.Inference.Engine.BConv2d.HarleySeal;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>The one-image layout: a plane fills whole vectors, one image and one output channel at a time.</summary>
    internal sealed unsafe partial class BitPlaneConv
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void RunSingle(float* x, int image, Sink sink, in Scratch s, bool simd)
        {
            var taps = (ulong*)s.Taps;
            int vecWords = _vp * 8;
            bool zeros;
            // A plane that does not fill its last vector leaves words there the builders do not write.
            if (PlaneWords < vecWords)
                for (int c = 0; c < InC; c++)
                {
                    ulong* p = taps + (long)c * vecWords, nn = p + (long)Taps * InC * vecWords;
                    for (int t = 0; t < Taps; t++)
                    {
                        ulong* pt = p + (long)t * InC * vecWords, nt = nn + (long)t * InC * vecWords;
                        new Span<ulong>(pt + PlaneWords, vecWords - PlaneWords).Clear();
                        new Span<ulong>(nt + PlaneWords, vecWords - PlaneWords).Clear();
                    }
                }
            // N planes only where they are read: zero weights, no set counting, or (found only now) zeros in the input.
            bool withN = _setOffsets is null;
            zeros = BuildPlanes(x, s.Bits, taps, 1, vecWords, 0, (long)InC * vecWords, withN, simd);
            if (zeros && !withN) BuildPlanes(x, s.Bits, taps, 1, vecWords, 0, (long)InC * vecWords, true, simd);
            int vectors = Taps * InC * _vp;
            bool counted = zeros || _weightZeros;
            if (counted) OrPlanes(s.Taps, vectors);
            new Span<Vector512<ulong>>(s.Taps + ZeroIndex, _vp).Clear();
            if (zeros && !_weightZeros) CountRange(s.Taps + 2 * vectors, Taps * InC, _vp, s.Valid, simd);
            // Without zeros, count each output channel's smaller weight set only, against S = all P planes (in Valid).
            bool sets = !zeros && _setOffsets is not null;
            if (sets) CountRange(s.Taps, Taps * InC, _vp, s.Valid, simd);

            int threads = ThreadsFor(s.Threads, OutC, (long)vectors * (_weightZeros ? 2 : 1) / (sets ? 2 : 1));
            if (threads > 1) SingleOutputsInParallel(threads, image, sink, s, counted, sets, simd);
            else SingleOutputs(0, OutC, 0, image, sink, s, counted, sets, simd);
        }

        void SingleOutputsInParallel(int threads, int image, Sink sink, Scratch s, bool counted, bool sets, bool simd) =>
            InParallel(OutC, threads, (from, to, t) => SingleOutputs(from, to, t, image, sink, s, counted, sets, simd));

        /// <summary>Output channels [from, to) of <see cref="RunSingle"/>, with thread <paramref name="t"/>'s counts.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void SingleOutputs(int from, int to, int t, int image, Sink sink, in Scratch s, bool counted, bool sets, bool simd)
        {
            var planes = stackalloc Vector512<ulong>[16];
            // Valid counts: per output channel with zero weights (this thread's), else shared, counted once.
            ushort* counts = s.CountsOf(t), valid = _weightZeros ? s.ValidOf(t) : s.Valid;
            if (sets)
            {
                fixed (int* offsets = _setOffsets)
                    for (int o = from; o < to; o++)
                    {
                        int first = _setStart![o], n = _setStart[o + 1] - first;
                        for (int v = 0; v < _vp; v++)
                        {
                            Count(new IndexedInputs(s.Taps + v, offsets + first), n, planes, _setBits);
                            ToCounts(planes, _setBits, counts + v * 512, simd);
                        }
                        EmitSet(sink, image, o, counts, s.Valid);
                    }
                return;
            }
            for (int o = from; o < to; o++)
            {
                fixed (int* idx = &_agreeIdx[o * Taps * InC])
                {
                    for (int v = 0; v < _vp; v++)
                    {
                        var inputs = new IndexedInputs(s.Taps + v, idx);
                        Count(inputs, Taps * InC, planes, _agreeBits);
                        ToCounts(planes, _agreeBits, counts + v * 512, simd);
                    }
                    if (_weightZeros)
                        fixed (int* vidx = &_validIdx![o * Taps * InC])
                            for (int v = 0; v < _vp; v++)
                            {
                                var inputs = new IndexedInputs(s.Taps + v, vidx);
                                Count(inputs, Taps * InC, planes, _agreeBits);
                                ToCounts(planes, _agreeBits, valid + v * 512, simd);
                            }
                }
                Emit(sink, image, o, counts, counted ? valid : null);
            }
        }
    }
}

using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static ReSTE.Inference.Engine.BConv2d.CounterTranspose;
using static ReSTE.Inference.Engine.BConv2d.HarleySeal;

namespace ReSTE.Inference.Engine.BConv2d
{
    /// <summary>The image-group layout: planes smaller than a vector, several images' planes side by side in each vector.</summary>
    internal sealed unsafe partial class BitPlaneConv
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void RunImageGroup(float* x, int inStride, int m, int firstImage, Sink sink, in Scratch s, bool simd)
        {
            int vectors = Taps * InC;
            // A full group with whole-word planes writes every word of P and N; M is written before it is read.
            if (m < Group || PlaneWords < _laneWords) new Span<Vector512<ulong>>(s.Taps, 2 * vectors).Clear();
            s.Taps[ZeroIndex] = Vector512<ulong>.Zero;
            bool zeros = false;
            bool withN = _setOffsets is null;
            for (int g = 0; g < m; g++)
                zeros |= BuildPlanes(x + (long)g * inStride, s.Bits, (ulong*)s.Taps + g * _laneWords, 1, 8, 0, (long)InC * 8, withN, simd);
            if (zeros && !withN)
                for (int g = 0; g < m; g++)
                    BuildPlanes(x + (long)g * inStride, s.Bits, (ulong*)s.Taps + g * _laneWords, 1, 8, 0, (long)InC * 8, true, simd);
            bool counted = zeros || _weightZeros;
            if (counted) OrPlanes(s.Taps, vectors);
            if (zeros && !_weightZeros) CountRange(s.Taps + 2 * vectors, vectors, 1, s.Valid, simd);
            bool sets = !zeros && _setOffsets is not null;
            if (sets) CountRange(s.Taps, vectors, 1, s.Valid, simd);

            int threads = ThreadsFor(s.Threads, OutC, (long)vectors * (_weightZeros ? 2 : 1) / (sets ? 2 : 1));
            if (threads > 1) GroupOutputsInParallel(threads, m, firstImage, sink, s, counted, sets, simd);
            else GroupOutputs(0, OutC, 0, m, firstImage, sink, s, counted, sets, simd);
        }

        void GroupOutputsInParallel(int threads, int m, int firstImage, Sink sink, Scratch s, bool counted, bool sets, bool simd) =>
            InParallel(OutC, threads, (from, to, t) => GroupOutputs(from, to, t, m, firstImage, sink, s, counted, sets, simd));

        /// <summary>Output channels [from, to) of <see cref="RunImageGroup"/>, with thread <paramref name="t"/>'s counts.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void GroupOutputs(int from, int to, int t, int m, int firstImage, Sink sink, in Scratch s, bool counted, bool sets, bool simd)
        {
            var planes = stackalloc Vector512<ulong>[16];
            int vectors = Taps * InC, laneBits = _laneWords * 64;
            ushort* counts = s.CountsOf(t), valid = _weightZeros ? s.ValidOf(t) : s.Valid;
            if (sets)
            {
                fixed (int* offsets = _setOffsets)
                    for (int o = from; o < to; o++)
                    {
                        int first = _setStart![o];
                        Count(new IndexedInputs(s.Taps, offsets + first), _setStart[o + 1] - first, planes, _setBits);
                        ToCounts(planes, _setBits, counts, simd);
                        for (int g = 0; g < m; g++) EmitSet(sink, firstImage + g, o, counts + g * laneBits, s.Valid + g * laneBits);
                    }
                return;
            }
            for (int o = from; o < to; o++)
            {
                fixed (int* idx = &_agreeIdx[o * Taps * InC])
                {
                    var inputs = new IndexedInputs(s.Taps, idx);
                    Count(inputs, vectors, planes, _agreeBits);
                    ToCounts(planes, _agreeBits, counts, simd);
                    if (_weightZeros)
                        fixed (int* vidx = &_validIdx![o * Taps * InC])
                        {
                            var validInputs = new IndexedInputs(s.Taps, vidx);
                            Count(validInputs, vectors, planes, _agreeBits);
                            ToCounts(planes, _agreeBits, valid, simd);
                        }
                }
                for (int g = 0; g < m; g++)
                    Emit(sink, firstImage + g, o, counts + g * laneBits, counted ? valid + g * laneBits : null);
            }
        }
    }
}

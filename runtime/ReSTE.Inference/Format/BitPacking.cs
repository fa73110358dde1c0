using System;

namespace ReSTE.Inference.Format
{
    /// <summary>
    /// Signs packed one bit per value. Bit <c>i</c> of the stream is bit <c>i % 8</c> (least significant first) of byte
    /// <c>i / 8</c>; 1 stands for +1, 0 for −1. sign(0) = 0 is a third value: a tensor holding exact zeros carries a
    /// second bit plane, the nonzero mask (1 = nonzero), and a value is 0 where its mask bit is 0. Unused bits of the last
    /// byte are 0.
    /// </summary>
    public static class BitPacking
    {
        /// <summary>The number of bytes holding <paramref name="count"/> bits.</summary>
        public static int ByteCount(long count)
        {
            if (count < 0) throw new ArgumentOutOfRangeException(nameof(count));
            long bytes = (count + 7) / 8;
            if (bytes > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(count), "Too many bits for one array.");
            return (int)bytes;
        }

        /// <summary>Packs sign(<paramref name="values"/>): the sign bits and, when some value is exactly 0, the nonzero mask.</summary>
        public static SignBits Pack(ReadOnlySpan<float> values)
        {
            var signs = new byte[ByteCount(values.Length)];
            byte[]? mask = null;
            for (int i = 0; i < values.Length; i++)
            {
                float v = values[i];
                if (float.IsNaN(v)) throw new ArgumentException($"Value {i} is NaN: a NaN has no sign to pack.", nameof(values));
                if (v > 0) signs[i >> 3] |= (byte)(1 << (i & 7));
                else if (v == 0)
                {
                    if (mask is null)
                    {
                        mask = new byte[signs.Length];
                        mask.AsSpan().Fill(0xFF);
                        int tail = values.Length & 7;
                        if (tail != 0) mask[^1] = (byte)((1 << tail) - 1);
                    }
                    mask[i >> 3] &= (byte)~(1 << (i & 7));
                }
            }
            return new SignBits(values.Length, signs, mask);
        }
    }

    /// <summary>
    /// sign(x) of a tensor, packed (see <see cref="BitPacking"/>): <see cref="Signs"/> holds one bit per value,
    /// <see cref="NonZero"/> is null when no value is 0.
    /// </summary>
    public sealed class SignBits
    {
        public SignBits(long count, byte[] signs, byte[]? nonZero)
        {
            ArgumentNullException.ThrowIfNull(signs);
            if (signs.Length != BitPacking.ByteCount(count))
                throw new ArgumentException($"{count} bits take {BitPacking.ByteCount(count)} bytes, not {signs.Length}.", nameof(signs));
            if (nonZero is not null && nonZero.Length != signs.Length)
                throw new ArgumentException("The nonzero mask must be as long as the sign bits.", nameof(nonZero));
            Count = count; Signs = signs; NonZero = nonZero;
        }

        /// <summary>The number of values.</summary>
        public long Count { get; }
        /// <summary>One bit per value, 1 for +1.</summary>
        public byte[] Signs { get; }
        /// <summary>One bit per value, 0 where the value is 0; null when none is.</summary>
        public byte[]? NonZero { get; }

        /// <summary>The value at <paramref name="index"/>: +1, −1 or 0.</summary>
        public int this[long index]
        {
            get
            {
                if ((ulong)index >= (ulong)Count) throw new ArgumentOutOfRangeException(nameof(index));
                if (NonZero is not null && (NonZero[index >> 3] & (1 << (int)(index & 7))) == 0) return 0;
                return (Signs[index >> 3] & (1 << (int)(index & 7))) != 0 ? 1 : -1;
            }
        }

        /// <summary>Unpacks to floats (+1, −1, 0).</summary>
        public float[] ToFloats()
        {
            var result = new float[Count];
            for (long i = 0; i < Count; i++) result[i] = this[i];
            return result;
        }
    }
}

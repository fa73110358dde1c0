using System;
using System.Globalization;

namespace ReSTE.Runtime.Layers
{
    /// <summary>
    /// A 2-D size argument of a binary convolution (kernel, stride, dilation), written as TorchSharp's <c>nn.Conv2d</c>
    /// takes it: one value for both dimensions (<c>3</c>), a pair (<c>(3, 1)</c>: height, width) or an array
    /// (<c>new long[] { 3, 1 }</c>). <c>default</c> means "not given" (the layer's default applies).
    /// </summary>
    public readonly struct ConvSize : IEquatable<ConvSize>
    {
        ConvSize(long height, long width) { Height = height; Width = width; IsSet = true; }

        public long Height { get; }
        public long Width { get; }
        /// <summary>false for <c>default</c>: the argument was not given.</summary>
        public bool IsSet { get; }

        public static implicit operator ConvSize(long value) => new(value, value);
        public static implicit operator ConvSize(int value) => new(value, value);
        public static implicit operator ConvSize((long Height, long Width) pair) => new(pair.Height, pair.Width);
        public static implicit operator ConvSize((int Height, int Width) pair) => new(pair.Height, pair.Width);

        public static implicit operator ConvSize(long[] values)
        {
            if (values is null) throw new ArgumentNullException(nameof(values), "A convolution size array is null; give one value or two (height, width).");
            return values.Length switch
            {
                1 => new ConvSize(values[0], values[0]),
                2 => new ConvSize(values[0], values[1]),
                _ => throw new ArgumentException($"A convolution size array has {values.Length} values ({string.Join(", ", values)}); give one value or two (height, width).", nameof(values)),
            };
        }

        /// <summary>This size, or <paramref name="fallback"/> in both dimensions when not given.</summary>
        public ConvSize Or(long fallback) => IsSet ? this : new ConvSize(fallback, fallback);

        public long[] ToArray() => new[] { Height, Width };

        public bool Equals(ConvSize other) => (Height, Width, IsSet) == (other.Height, other.Width, other.IsSet);
        public override bool Equals(object? obj) => obj is ConvSize other && Equals(other);
        public override int GetHashCode() => HashCode.Combine(Height, Width, IsSet);
        public static bool operator ==(ConvSize a, ConvSize b) => a.Equals(b);
        public static bool operator !=(ConvSize a, ConvSize b) => !a.Equals(b);

        public override string ToString() => !IsSet ? "default"
            : Height == Width ? Height.ToString(CultureInfo.InvariantCulture)
            : "(" + Height.ToString(CultureInfo.InvariantCulture) + ", " + Width.ToString(CultureInfo.InvariantCulture) + ")";
    }

    /// <summary>
    /// The padding argument of a binary convolution, as TorchSharp's <c>nn.Conv2d</c> takes it: a size (one value, a
    /// pair or an array, zeros on both sides) or <see cref="TorchSharp.Padding.Same"/> / <see cref="TorchSharp.Padding.Valid"/>.
    /// <c>default</c> is 0. The padded positions are zeros after binarization, as in the reference.
    /// </summary>
    public readonly struct ConvPadding : IEquatable<ConvPadding>
    {
        ConvPadding(ConvSize size, TorchSharp.Padding? mode) { Size = size; Mode = mode; }

        /// <summary>The explicit padding (not set for Same/Valid or the default).</summary>
        public ConvSize Size { get; }
        /// <summary><see cref="TorchSharp.Padding.Same"/> or <see cref="TorchSharp.Padding.Valid"/>, or null for an explicit size.</summary>
        public TorchSharp.Padding? Mode { get; }

        public static implicit operator ConvPadding(long value) => new(value, null);
        public static implicit operator ConvPadding(int value) => new(value, null);
        public static implicit operator ConvPadding((long Height, long Width) pair) => new(pair, null);
        public static implicit operator ConvPadding((int Height, int Width) pair) => new(pair, null);
        public static implicit operator ConvPadding(long[] values) => new(values, null);
        public static implicit operator ConvPadding(TorchSharp.Padding mode) => new(default, mode);

        public bool Equals(ConvPadding other) => Size == other.Size && Mode == other.Mode;
        public override bool Equals(object? obj) => obj is ConvPadding other && Equals(other);
        public override int GetHashCode() => HashCode.Combine(Size, Mode);
        public static bool operator ==(ConvPadding a, ConvPadding b) => a.Equals(b);
        public static bool operator !=(ConvPadding a, ConvPadding b) => !a.Equals(b);

        public override string ToString() => Mode is { } m ? "Padding." + m : Size.IsSet ? Size.ToString() : "0";
    }
}

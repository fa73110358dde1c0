using System;
using System.IO;
using SkiaSharp;

namespace ReSTE.Runtime.Data
{
    /// <summary>A decoded image: RGBA8888 rows (alpha ignored by the transforms).</summary>
    public sealed class DecodedImage
    {
        public DecodedImage(byte[] rgba, int width, int height)
        {
            if ((long)width * height * 4 > rgba.Length) throw new ArgumentException("The pixel buffer is smaller than width × height × 4.", nameof(rgba));
            Rgba = rgba; Width = width; Height = height;
        }

        public byte[] Rgba { get; }
        public int Width { get; }
        public int Height { get; }
    }

    /// <summary>A crop box in pixels: top-left (X, Y), width and height.</summary>
    public readonly record struct CropBox(int X, int Y, int Width, int Height);

    /// <summary>
    /// JPEG and PNG decoding with SkiaSharp (libjpeg-turbo and libpng inside), and the geometric transforms of the
    /// ImageNet pipeline on the host: torchvision's RandomResizedCrop box, Resize + CenterCrop, and a bilinear resize
    /// of a box to the output size written as uint8 CHW.
    /// </summary>
    public static class ImageDecoding
    {
        /// <summary>
        /// Decodes <paramref name="path"/> (any format Skia reads: JPEG, PNG, …). A file that is not an image, or is
        /// truncated or corrupt, gets an <see cref="InvalidDataException"/> naming it; nothing is half-decoded.
        /// </summary>
        public static DecodedImage Decode(string path)
        {
            byte[] bytes;
            try { bytes = File.ReadAllBytes(path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidDataException($"Image '{path}' cannot be read: {e.Message}", e);
            }
            return Decode(bytes, path);
        }

        /// <summary>Decodes encoded image bytes; <paramref name="name"/> names the source in errors.</summary>
        public static DecodedImage Decode(byte[] bytes, string name)
        {
            if (bytes.Length == 0) throw new InvalidDataException($"Image '{name}' is empty (0 bytes).");
            using var data = SKData.CreateCopy(bytes);
            using var codec = SKCodec.Create(data);
            if (codec is null) throw new InvalidDataException($"Image '{name}' is not a JPEG or PNG image that can be decoded.");
            var size = codec.Info;
            if (size.Width <= 0 || size.Height <= 0) throw new InvalidDataException($"Image '{name}' has no pixels ({size.Width}×{size.Height}).");
            if ((long)size.Width * size.Height > 1L << 28) throw new InvalidDataException($"Image '{name}' is too large to decode ({size.Width}×{size.Height}).");
            var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            var pixels = new byte[info.BytesSize];
            SKCodecResult result;
            unsafe
            {
                fixed (byte* p = pixels) result = codec.GetPixels(info, (IntPtr)p);
            }
            if (result != SKCodecResult.Success)
                throw new InvalidDataException(result == SKCodecResult.IncompleteInput
                    ? $"Image '{name}' is truncated ({bytes.Length} bytes; the {codec.EncodedFormat} data ends before the last row)."
                    : $"Image '{name}' is corrupt: the {codec.EncodedFormat} decoder says {result}.");
            return new DecodedImage(pixels, size.Width, size.Height);
        }

        /// <summary>
        /// torchvision's <c>RandomResizedCrop.get_params</c>: up to 10 tries of an area fraction uniform in
        /// [<paramref name="scaleMin"/>, <paramref name="scaleMax"/>] and a log-uniform aspect ratio in
        /// [<paramref name="ratioMin"/>, <paramref name="ratioMax"/>] that fits the image, else the central crop
        /// with the ratio clamped.
        /// </summary>
        public static CropBox RandomResizedCropBox(int width, int height, ref SplitMix64 rng, double scaleMin = 0.08, double scaleMax = 1.0,
            double ratioMin = 3.0 / 4, double ratioMax = 4.0 / 3)
        {
            double area = (double)width * height;
            double logLo = Math.Log(ratioMin), logHi = Math.Log(ratioMax);
            for (int attempt = 0; attempt < 10; attempt++)
            {
                double target = area * rng.Uniform(scaleMin, scaleMax);
                double ratio = Math.Exp(rng.Uniform(logLo, logHi));
                int w = (int)Math.Round(Math.Sqrt(target * ratio), MidpointRounding.ToEven);
                int h = (int)Math.Round(Math.Sqrt(target / ratio), MidpointRounding.ToEven);
                if (w > 0 && w <= width && h > 0 && h <= height)
                {
                    int y = (int)rng.NextBelow((ulong)(height - h + 1));
                    int x = (int)rng.NextBelow((ulong)(width - w + 1));
                    return new CropBox(x, y, w, h);
                }
            }
            double inRatio = (double)width / height;
            int cw, ch;
            if (inRatio < ratioMin) { cw = width; ch = (int)Math.Round(cw / ratioMin, MidpointRounding.ToEven); }
            else if (inRatio > ratioMax) { ch = height; cw = (int)Math.Round(ch * ratioMax, MidpointRounding.ToEven); }
            else { cw = width; ch = height; }
            return new CropBox((width - cw) / 2, (height - ch) / 2, cw, ch);
        }

        /// <summary>
        /// Bilinear resize of <paramref name="box"/> of <paramref name="image"/> to <paramref name="outWidth"/> ×
        /// <paramref name="outHeight"/>, written as uint8 planes R, G, B (CHW) to <paramref name="output"/>; mirrored
        /// left-right when <paramref name="flip"/>. The sampling is PyTorch's <c>interpolate(mode="bilinear",
        /// align_corners=False)</c> of the cropped image (half-pixel centres, edges clamped to the box, no antialias),
        /// rounded to the nearest integer.
        /// </summary>
        public static void ResizeBox(DecodedImage image, CropBox box, int outWidth, int outHeight, bool flip, Span<byte> output) =>
            Sample(image, box, (double)box.Width / outWidth, (double)box.Height / outHeight, 0, 0, outWidth, outHeight, flip, output);

        /// <summary>
        /// torchvision's evaluation transform <c>Resize(resize)</c> + <c>CenterCrop(crop)</c> in one pass: the shorter
        /// side scaled to <paramref name="resize"/> (the longer one to <c>int(resize·long/short)</c>), the central
        /// <paramref name="crop"/> × <paramref name="crop"/> kept; bilinear as <see cref="ResizeBox"/>, uint8 CHW.
        /// </summary>
        public static void ResizeCenterCrop(DecodedImage image, int resize, int crop, Span<byte> output)
        {
            int w = image.Width, h = image.Height;
            int newW, newH;
            if (w <= h) { newW = resize; newH = (int)((long)resize * h / w); }
            else { newH = resize; newW = (int)((long)resize * w / h); }
            // torchvision's center_crop: top = int(round((h - crop) / 2)), left likewise.
            int top = (int)Math.Round((newH - crop) / 2.0, MidpointRounding.ToEven);
            int left = (int)Math.Round((newW - crop) / 2.0, MidpointRounding.ToEven);
            Sample(image, new CropBox(0, 0, w, h), (double)w / newW, (double)h / newH, left, top, crop, crop, false, output);
        }

        /// <summary>
        /// Output pixel (u, v) reads the box at x = scaleX·(startU + u + ½) − ½ (clamped to [0, box.Width − 1]), y
        /// likewise, interpolating the four neighbours.
        /// </summary>
        static void Sample(DecodedImage image, CropBox box, double scaleX, double scaleY, int startU, int startV,
            int outWidth, int outHeight, bool flip, Span<byte> output)
        {
            if (box.Width < 1 || box.Height < 1 || box.X < 0 || box.Y < 0 || box.X + box.Width > image.Width || box.Y + box.Height > image.Height)
                throw new ArgumentOutOfRangeException(nameof(box), box, $"The box must lie inside the {image.Width}×{image.Height} image.");
            int plane = outWidth * outHeight;
            if (output.Length < 3 * plane) throw new ArgumentException($"The output holds {output.Length} bytes; {3 * plane} are needed.", nameof(output));
            var x0 = new int[outWidth];
            var x1 = new int[outWidth];
            var fx = new float[outWidth];
            for (int u = 0; u < outWidth; u++)
            {
                double real = scaleX * (startU + u + 0.5) - 0.5;
                if (real < 0) real = 0;
                int i = (int)real;
                if (i > box.Width - 1) i = box.Width - 1;
                int j = Math.Min(i + 1, box.Width - 1);
                double l = Math.Min(real - i, 1.0);
                int slot = flip ? outWidth - 1 - u : u;
                x0[slot] = (box.X + i) * 4; x1[slot] = (box.X + j) * 4; fx[slot] = (float)l;
            }
            var rgba = image.Rgba;
            int stride = image.Width * 4;
            for (int v = 0; v < outHeight; v++)
            {
                double real = scaleY * (startV + v + 0.5) - 0.5;
                if (real < 0) real = 0;
                int i = (int)real;
                if (i > box.Height - 1) i = box.Height - 1;
                int j = Math.Min(i + 1, box.Height - 1);
                float ly = (float)Math.Min(real - i, 1.0), hy = 1 - ly;
                int row0 = (box.Y + i) * stride, row1 = (box.Y + j) * stride;
                int o = v * outWidth;
                for (int u = 0; u < outWidth; u++)
                {
                    int a = row0 + x0[u], b = row0 + x1[u], c = row1 + x0[u], d = row1 + x1[u];
                    float lx = fx[u], hx = 1 - lx;
                    float w00 = hy * hx, w01 = hy * lx, w10 = ly * hx, w11 = ly * lx;
                    for (int ch = 0; ch < 3; ch++)
                    {
                        float value = w00 * rgba[a + ch] + w01 * rgba[b + ch] + w10 * rgba[c + ch] + w11 * rgba[d + ch];
                        output[ch * plane + o + u] = (byte)(value + 0.5f);
                    }
                }
            }
        }
    }
}

using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;

namespace ReSTE.Inference.Data
{
    /// <summary>
    /// Reads CIFAR-10's binary batches (<c>test_batch.bin</c>, optionally gzip-compressed): records of 1 label byte and
    /// 3072 bytes of 32×32 RGB planes. Images come back as CHW floats in [0, 1] (byte / 255), as PyTorch's ToTensor
    /// gives them; the packed model's Normalize op does the rest.
    /// </summary>
    public static class Cifar10File
    {
        public const int ImageBytes = 3072;
        public const int RecordBytes = ImageBytes + 1;

        /// <summary>Up to <paramref name="limit"/> images (all when null) and their labels.</summary>
        public static (float[] Images, byte[] Labels) Read(string path, int? limit = null)
        {
            using var file = File.OpenRead(path);
            Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            using (stream)
            {
                var images = new List<float>();
                var labels = new List<byte>();
                var record = new byte[RecordBytes];
                while (limit is null || labels.Count < limit)
                {
                    int read = stream.ReadAtLeast(record, RecordBytes, throwOnEndOfStream: false);
                    if (read == 0) break;
                    if (read < RecordBytes) throw new InvalidDataException($"'{path}' ends inside record {labels.Count} ({read} of {RecordBytes} bytes).");
                    if (record[0] > 9) throw new InvalidDataException($"'{path}': record {labels.Count} has label {record[0]}; CIFAR-10 labels are 0–9.");
                    labels.Add(record[0]);
                    for (int i = 1; i < RecordBytes; i++) images.Add(record[i] / 255f);
                }
                return (images.ToArray(), labels.ToArray());
            }
        }
    }
}

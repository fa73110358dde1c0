using System;
using System.Collections.Generic;
using System.Formats.Tar;
using System.IO;
using System.IO.Compression;

namespace ReSTE.Runtime.Data
{
    /// <summary>A CIFAR-100 split on the host: the images (CIFAR-10's layout) with both label sets.</summary>
    public sealed class Cifar100Set
    {
        public Cifar100Set(byte[] images, byte[] fine, byte[] coarse)
        {
            if (fine.Length != coarse.Length) throw new ArgumentException($"{fine.Length} fine labels and {coarse.Length} coarse labels.");
            Fine = new Cifar10Set(images, fine);
            Coarse = new Cifar10Set(images, coarse);
        }

        /// <summary>The images with the 100 fine labels.</summary>
        public Cifar10Set Fine { get; }
        /// <summary>The same images with the 20 coarse (superclass) labels.</summary>
        public Cifar10Set Coarse { get; }
        public int Count => Fine.Count;
    }

    /// <summary>
    /// Reads CIFAR-100's binary files (<c>train.bin</c>, <c>test.bin</c>; each record a coarse label byte, a fine label
    /// byte and 3,072 pixel bytes), gzip'd or not, from a folder or from <c>cifar-100-binary.tar.gz</c>. A truncated or
    /// corrupt file gets an <see cref="InvalidDataException"/> naming the file and the record.
    /// </summary>
    public static class Cifar100
    {
        public const int RecordBytes = 2 + Cifar10.ImageBytes;
        public const int FineClasses = 100, CoarseClasses = 20;
        public const string ArchiveName = "cifar-100-binary.tar.gz";

        public static string FileName(Cifar10Split split) => split == Cifar10Split.Train ? "train" : "test";

        /// <summary>
        /// Loads a split from <paramref name="path"/>: a folder holding <c>train.bin</c>/<c>test.bin</c> (or <c>.bin.gz</c>,
        /// or a <c>cifar-100-binary</c> sub-folder, or the archive), or the archive's path. <paramref name="limit"/> keeps the first N.
        /// </summary>
        public static Cifar100Set Load(string path, Cifar10Split split, int? limit = null)
        {
            if (limit is < 0) throw new ArgumentOutOfRangeException(nameof(limit), limit, $"The image limit must be ≥ 0, not {limit}.");
            var name = FileName(split);
            if (File.Exists(path)) return LoadArchive(path, split, limit);
            if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"CIFAR-100 data not found: '{path}' is neither a folder nor {ArchiveName}.");
            foreach (var folder in new[] { path, Path.Combine(path, "cifar-100-binary") })
                foreach (var candidate in new[] { name + ".bin", name + ".bin.gz" })
                {
                    var file = Path.Combine(folder, candidate);
                    if (!File.Exists(file)) continue;
                    using var raw = File.OpenRead(file);
                    bool gz = raw.Length >= 2 && raw.ReadByte() == 0x1f && raw.ReadByte() == 0x8b;
                    raw.Position = 0;
                    using Stream s = gz ? new GZipStream(raw, CompressionMode.Decompress) : raw;
                    return Read(s, file, limit);
                }
            var archive = Path.Combine(path, ArchiveName);
            if (File.Exists(archive)) return LoadArchive(archive, split, limit);
            throw new FileNotFoundException($"CIFAR-100 file '{name}.bin' (or '{name}.bin.gz', or {ArchiveName}) not found in '{path}'.", Path.Combine(path, name + ".bin"));
        }

        /// <summary>Reads records until the stream ends (or <paramref name="maxRecords"/>); <paramref name="name"/> names the source in errors.</summary>
        public static Cifar100Set Read(Stream stream, string name, int? maxRecords = null)
        {
            var images = new MemoryStream();
            var fine = new List<byte>();
            var coarse = new List<byte>();
            var record = new byte[RecordBytes];
            int index = 0;
            while (!maxRecords.HasValue || index < maxRecords.Value)
            {
                int got;
                try { got = stream.ReadAtLeast(record, RecordBytes, throwOnEndOfStream: false); }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"CIFAR-100 file '{name}' is corrupt: decompression failed in record {index}: {e.Message}", e);
                }
                if (got == 0) break;
                if (got < RecordBytes)
                    throw new InvalidDataException($"CIFAR-100 file '{name}' is truncated: record {index} has {got} of {RecordBytes} bytes.");
                if (record[0] >= CoarseClasses || record[1] >= FineClasses)
                    throw new InvalidDataException($"CIFAR-100 file '{name}' is corrupt: record {index} has labels {record[0]} (coarse, 0..19) and {record[1]} (fine, 0..99).");
                coarse.Add(record[0]);
                fine.Add(record[1]);
                images.Write(record, 2, Cifar10.ImageBytes);
                index++;
            }
            if (index == 0 && (!maxRecords.HasValue || maxRecords.Value > 0))
                throw new InvalidDataException($"CIFAR-100 file '{name}' holds no records.");
            return new Cifar100Set(images.ToArray(), fine.ToArray(), coarse.ToArray());
        }

        static Cifar100Set LoadArchive(string archive, Cifar10Split split, int? limit)
        {
            var wanted = FileName(split) + ".bin";
            using var raw = File.OpenRead(archive);
            using var gz = new GZipStream(raw, CompressionMode.Decompress);
            using var tar = new TarReader(gz);
            while (true)
            {
                TarEntry? entry;
                try { entry = tar.GetNextEntry(); }
                catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
                {
                    throw new InvalidDataException($"CIFAR-100 archive '{archive}' is corrupt or truncated: {e.Message}", e);
                }
                if (entry is null) break;
                if (Path.GetFileName(entry.Name) == wanted && entry.DataStream is not null)
                    return Read(entry.DataStream, $"{archive}!{entry.Name}", limit);
            }
            throw new InvalidDataException($"CIFAR-100 archive '{archive}' holds no '{wanted}'.");
        }
    }
}

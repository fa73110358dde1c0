using System;
using System.Collections.Generic;
using System.Formats.Tar;
using System.IO;
using System.IO.Compression;

namespace ReSTE.Runtime.Data
{
    /// <summary>Which part of CIFAR-10.</summary>
    public enum Cifar10Split
    {
        /// <summary>data_batch_1..5: 50,000 images.</summary>
        Train,
        /// <summary>test_batch: 10,000 images.</summary>
        Test,
    }

    /// <summary>
    /// CIFAR-10 images on the host, in the standard binary layout: <see cref="Images"/> holds <see cref="Count"/>
    /// records of 3,072 bytes (1,024 R, 1,024 G, 1,024 B, each 32×32 row-major), <see cref="Labels"/> one byte each.
    /// </summary>
    public sealed class Cifar10Set
    {
        public Cifar10Set(byte[] images, byte[] labels)
        {
            if (images.Length != labels.Length * Cifar10.ImageBytes)
                throw new ArgumentException($"{images.Length} image bytes do not make {labels.Length} images of {Cifar10.ImageBytes} bytes.");
            Images = images;
            Labels = labels;
        }

        public byte[] Images { get; }
        public byte[] Labels { get; }
        public int Count => Labels.Length;

        /// <summary>The first <paramref name="n"/> images (all of them when n ≥ Count).</summary>
        public Cifar10Set Take(int n)
        {
            if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "The number of images must be ≥ 0.");
            if (n >= Count) return this;
            return new Cifar10Set(Images.AsSpan(0, n * Cifar10.ImageBytes).ToArray(), Labels.AsSpan(0, n).ToArray());
        }
    }

    /// <summary>
    /// Reads CIFAR-10's binary batches (<c>data_batch_1..5.bin</c>, <c>test_batch.bin</c>), gzip'd (<c>.bin.gz</c>) or
    /// not, from a folder, or from the original <c>cifar-10-binary.tar.gz</c>. A truncated or corrupt file gets an
    /// <see cref="InvalidDataException"/> naming the file and the record.
    /// </summary>
    public static class Cifar10
    {
        public const int Side = 32;
        public const int Channels = 3;
        public const int ImageBytes = Channels * Side * Side;
        public const int RecordBytes = 1 + ImageBytes;
        public const int Classes = 10;
        public const string ArchiveName = "cifar-10-binary.tar.gz";

        /// <summary>The batch names of a split, without extension, in order.</summary>
        public static IReadOnlyList<string> BatchNames(Cifar10Split split) => split == Cifar10Split.Train
            ? new[] { "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5" }
            : new[] { "test_batch" };

        /// <summary>
        /// Loads a split from <paramref name="path"/>: a folder holding the batches (<c>.bin</c> or <c>.bin.gz</c>) or
        /// <c>cifar-10-binary.tar.gz</c>, or the path of that archive. <paramref name="limit"/> keeps the first N images.
        /// </summary>
        public static Cifar10Set Load(string path, Cifar10Split split, int? limit = null)
        {
            if (limit is < 0) throw new ArgumentOutOfRangeException(nameof(limit), limit, "--limit must be ≥ 0.");
            if (File.Exists(path)) return LoadArchive(path, split, limit);
            if (!Directory.Exists(path))
                throw new DirectoryNotFoundException($"CIFAR-10 data not found: '{path}' is neither a folder nor {ArchiveName}.");
            var sets = new List<Cifar10Set>();
            int have = 0;
            foreach (var name in BatchNames(split))
            {
                if (limit.HasValue && have >= limit.Value) break;
                var file = FindBatch(path, name);
                if (file is null)
                {
                    var archive = Path.Combine(path, ArchiveName);
                    if (File.Exists(archive)) return LoadArchive(archive, split, limit);
                    throw new FileNotFoundException($"CIFAR-10 batch '{name}.bin' (or '{name}.bin.gz') not found in '{path}'.", Path.Combine(path, name + ".bin"));
                }
                var set = ReadBatchFile(file, limit.HasValue ? limit.Value - have : null);
                sets.Add(set);
                have += set.Count;
            }
            return Concat(sets);
        }

        static string? FindBatch(string folder, string name)
        {
            foreach (var candidate in new[] { name + ".bin", name + ".bin.gz" })
            {
                var p = Path.Combine(folder, candidate);
                if (File.Exists(p)) return p;
            }
            return null;
        }

        /// <summary>The checksum list that, when next to a batch file, lists its SHA-256.</summary>
        public const string ChecksumFile = "SHA256SUMS";

        /// <summary>
        /// Reads one batch file (<c>.gz</c> by its extension or its magic bytes), verified whole before use: against
        /// its SHA-256 when a <c>SHA256SUMS</c> file next to it lists it; otherwise a gzip'd file is decompressed to
        /// its end (so that gzip's CRC is checked even when <paramref name="maxRecords"/> stops early) and a plain one
        /// must hold whole records. A damaged file is an <see cref="InvalidDataException"/> naming it and the reason.
        /// </summary>
        public static Cifar10Set ReadBatchFile(string file, int? maxRecords = null)
        {
            bool summed = VerifyChecksum(file);
            using var raw = File.OpenRead(file);
            bool gz = raw.Length >= 2 && IsGzip(raw);
            if (!gz && raw.Length % RecordBytes != 0)
                throw new InvalidDataException($"CIFAR-10 file '{file}' is truncated: its {raw.Length} bytes end inside record {raw.Length / RecordBytes} ({raw.Length % RecordBytes} of {RecordBytes} bytes).");
            using Stream s = gz ? new GZipStream(raw, CompressionMode.Decompress) : raw;
            var set = ReadBatch(s, file, maxRecords);
            if (gz && !summed)
            {
                try { s.CopyTo(Stream.Null); }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"CIFAR-10 file '{file}' is damaged: its gzip stream fails to decompress past the {set.Count} records read ({e.Message}).", e);
                }
                catch (EndOfStreamException e)
                {
                    throw new InvalidDataException($"CIFAR-10 file '{file}' is truncated: its gzip stream ends early ({e.Message}).", e);
                }
            }
            return set;
        }

        static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Path, long Length, DateTime Written), bool> Verified = new();

        /// <summary>
        /// Checks <paramref name="file"/> against the <c>SHA256SUMS</c> in its folder; false when no such list names
        /// it. A mismatch is an <see cref="InvalidDataException"/> naming the file and both sums. A file verified once
        /// (same size and time) is not hashed again in this process.
        /// </summary>
        public static bool VerifyChecksum(string file)
        {
            var full = Path.GetFullPath(file);
            var sums = Path.Combine(Path.GetDirectoryName(full)!, ChecksumFile);
            if (!File.Exists(sums)) return false;
            string? expected = null;
            var name = Path.GetFileName(full);
            foreach (var line in File.ReadLines(sums))
            {
                var t = line.Trim();
                int sp = t.IndexOf(' ');
                if (sp <= 0) continue;
                var entry = t[(sp + 1)..].TrimStart(' ', '*');
                if (entry == name || entry == "./" + name) { expected = t[..sp].ToLowerInvariant(); break; }
            }
            if (expected is null) return false;
            var info = new FileInfo(full);
            var key = (full, info.Length, info.LastWriteTimeUtc);
            if (Verified.ContainsKey(key)) return true;
            string actual;
            using (var fs = File.OpenRead(full))
                actual = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(fs)).ToLowerInvariant();
            if (actual != expected)
                throw new InvalidDataException($"CIFAR-10 file '{file}' is damaged: its SHA-256 is {actual}, {ChecksumFile} lists {expected}.");
            Verified[key] = true;
            return true;
        }

        static bool IsGzip(FileStream s)
        {
            int a = s.ReadByte(), b = s.ReadByte();
            s.Position = 0;
            return a == 0x1f && b == 0x8b;
        }

        /// <summary>
        /// Reads records from <paramref name="stream"/> until its end (or <paramref name="maxRecords"/>);
        /// <paramref name="name"/> names the source in errors.
        /// </summary>
        public static Cifar10Set ReadBatch(Stream stream, string name, int? maxRecords = null)
        {
            var images = new MemoryStream();
            var labels = new List<byte>();
            var record = new byte[RecordBytes];
            int index = 0;
            while (!maxRecords.HasValue || index < maxRecords.Value)
            {
                int got;
                try { got = stream.ReadAtLeast(record, RecordBytes, throwOnEndOfStream: false); }
                catch (InvalidDataException e)
                {
                    // Compressed data gives no record: the damage lies somewhere before the point where inflating failed.
                    throw new InvalidDataException($"CIFAR-10 file '{name}' is damaged: its compressed data fails to decompress at or before record {index} ({e.Message}).", e);
                }
                if (got == 0) break;
                if (got < RecordBytes)
                    throw new InvalidDataException($"CIFAR-10 file '{name}' is truncated: record {index} has {got} of {RecordBytes} bytes.");
                if (record[0] >= Classes)
                    throw new InvalidDataException($"CIFAR-10 file '{name}' is corrupt: record {index} has label {record[0]} (labels are 0..{Classes - 1}).");
                labels.Add(record[0]);
                images.Write(record, 1, ImageBytes);
                index++;
            }
            if (index == 0 && (!maxRecords.HasValue || maxRecords.Value > 0))
                throw new InvalidDataException($"CIFAR-10 file '{name}' holds no records.");
            return new Cifar10Set(images.ToArray(), labels.ToArray());
        }

        /// <summary>Reads a split from <c>cifar-10-binary.tar.gz</c> (entries <c>cifar-10-batches-bin/*.bin</c>).</summary>
        public static Cifar10Set LoadArchive(string archive, Cifar10Split split, int? limit = null)
        {
            var wanted = BatchNames(split);
            VerifyChecksum(archive);
            var found = new Dictionary<string, Cifar10Set>();
            using (var raw = File.OpenRead(archive))
            using (var gz = new GZipStream(raw, CompressionMode.Decompress))
            {
                TarReader tar = new(gz);
                try
                {
                    TarEntry? entry;
                    while ((entry = NextEntry(tar, archive)) != null)
                    {
                        var baseName = Path.GetFileName(entry.Name);
                        if (!baseName.EndsWith(".bin", StringComparison.Ordinal)) continue;
                        var stem = baseName[..^4];
                        if (!((IList<string>)wanted).Contains(stem) || entry.DataStream is null) continue;
                        found[stem] = ReadBatch(entry.DataStream, $"{archive}!{entry.Name}");
                    }
                }
                finally { tar.Dispose(); }
            }
            var sets = new List<Cifar10Set>();
            foreach (var name in wanted)
            {
                if (!found.TryGetValue(name, out var set))
                    throw new InvalidDataException($"CIFAR-10 archive '{archive}' holds no '{name}.bin'.");
                sets.Add(set);
            }
            var all = Concat(sets);
            return limit.HasValue ? all.Take(limit.Value) : all;
        }

        static TarEntry? NextEntry(TarReader tar, string archive)
        {
            try { return tar.GetNextEntry(); }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
            {
                throw new InvalidDataException($"CIFAR-10 archive '{archive}' is damaged or truncated: {e.Message}", e);
            }
        }

        static Cifar10Set Concat(List<Cifar10Set> sets)
        {
            if (sets.Count == 1) return sets[0];
            int n = 0;
            foreach (var s in sets) n += s.Count;
            var images = new byte[(long)n * ImageBytes];
            var labels = new byte[n];
            int at = 0;
            foreach (var s in sets)
            {
                Buffer.BlockCopy(s.Images, 0, images, at * ImageBytes, s.Images.Length);
                Buffer.BlockCopy(s.Labels, 0, labels, at, s.Count);
                at += s.Count;
            }
            return new Cifar10Set(images, labels);
        }

        /// <summary>
        /// The default data folder: <c>../shared/data/cifar10</c> relative to the repository root, searched upwards
        /// from <paramref name="start"/> (then from the app's folder); null when none is found.
        /// </summary>
        public static string? FindDefaultFolder(string? start = null)
        {
            foreach (var origin in new[] { start ?? Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            {
                for (var dir = new DirectoryInfo(origin); dir != null; dir = dir.Parent)
                {
                    foreach (var rel in new[] { Path.Combine("shared", "data", "cifar10"), Path.Combine("..", "shared", "data", "cifar10") })
                    {
                        var candidate = Path.GetFullPath(Path.Combine(dir.FullName, rel));
                        if (Directory.Exists(candidate)) return candidate;
                    }
                }
            }
            return null;
        }
    }
}

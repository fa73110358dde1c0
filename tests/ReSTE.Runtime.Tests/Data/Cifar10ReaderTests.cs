using System;
using System.Formats.Tar;
using System.IO;
using System.IO.Compression;
using System.Linq;
using ReSTE.Runtime.Data;
using Xunit;

namespace ReSTE.Runtime.Tests.Data
{
    public sealed class Cifar10ReaderTests
    {
        /// <summary>n records whose label is (start + i) % 10 and whose pixel j is (start + i + j) % 251.</summary>
        internal static byte[] Records(int n, int start = 0)
        {
            var bytes = new byte[n * Cifar10.RecordBytes];
            for (int i = 0; i < n; i++)
            {
                int at = i * Cifar10.RecordBytes;
                bytes[at] = (byte)((start + i) % 10);
                for (int j = 0; j < Cifar10.ImageBytes; j++) bytes[at + 1 + j] = (byte)((start + i + j) % 251);
            }
            return bytes;
        }

        static byte[] Gzip(byte[] data)
        {
            var ms = new MemoryStream();
            using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
            return ms.ToArray();
        }

        static void AssertRecords(Cifar10Set set, int n, int start = 0)
        {
            Assert.Equal(n, set.Count);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal((byte)((start + i) % 10), set.Labels[i]);
                Assert.Equal((byte)((start + i) % 251), set.Images[i * Cifar10.ImageBytes]);
                Assert.Equal((byte)((start + i + 3071) % 251), set.Images[i * Cifar10.ImageBytes + 3071]);
            }
        }

        static void WriteTrainBatches(TempDir dir, int perBatch, bool gz)
        {
            for (int b = 0; b < 5; b++)
            {
                var data = Records(perBatch, b * perBatch);
                File.WriteAllBytes(dir.File($"data_batch_{b + 1}.bin" + (gz ? ".gz" : "")), gz ? Gzip(data) : data);
            }
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void Reads_raw_and_gzipped_batches_in_order(bool gz)
        {
            using var dir = new TempDir();
            WriteTrainBatches(dir, 7, gz);
            File.WriteAllBytes(dir.File("test_batch.bin" + (gz ? ".gz" : "")), gz ? Gzip(Records(5, 100)) : Records(5, 100));
            AssertRecords(Cifar10.Load(dir.Path, Cifar10Split.Train), 35);
            AssertRecords(Cifar10.Load(dir.Path, Cifar10Split.Test), 5, 100);
        }

        [Fact]
        public void Limit_keeps_the_first_images_and_stops_reading_early()
        {
            using var dir = new TempDir();
            WriteTrainBatches(dir, 7, gz: true);
            // Batches past the limit are never opened: make the last one unreadable to prove it.
            File.WriteAllBytes(dir.File("data_batch_5.bin.gz"), new byte[] { 0x1f, 0x8b, 1, 2, 3 });
            AssertRecords(Cifar10.Load(dir.Path, Cifar10Split.Train, limit: 10), 10);
        }

        [Fact]
        public void Reads_the_original_tar_gz_archive()
        {
            using var dir = new TempDir();
            var archive = dir.File(Cifar10.ArchiveName);
            using (var fs = File.Create(archive))
            using (var gz = new GZipStream(fs, CompressionLevel.Fastest))
            using (var tar = new TarWriter(gz))
            {
                void Add(string name, byte[] data)
                {
                    var e = new PaxTarEntry(TarEntryType.RegularFile, "cifar-10-batches-bin/" + name) { DataStream = new MemoryStream(data) };
                    tar.WriteEntry(e);
                }
                Add("batches.meta.txt", System.Text.Encoding.ASCII.GetBytes("airplane\n"));
                for (int b = 4; b >= 0; b--) Add($"data_batch_{b + 1}.bin", Records(3, b * 3));
                Add("test_batch.bin", Records(4, 50));
            }
            AssertRecords(Cifar10.Load(archive, Cifar10Split.Train), 15);
            AssertRecords(Cifar10.Load(dir.Path, Cifar10Split.Test), 4, 50);
            AssertRecords(Cifar10.Load(archive, Cifar10Split.Train, limit: 4), 4);
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void A_truncated_file_is_named_with_its_record(bool gz)
        {
            using var dir = new TempDir();
            var data = Records(3).AsSpan(0, 2 * Cifar10.RecordBytes + 100).ToArray();
            var path = dir.File("test_batch.bin" + (gz ? ".gz" : ""));
            File.WriteAllBytes(path, gz ? Gzip(data) : data);
            var e = Assert.Throws<InvalidDataException>(() => Cifar10.Load(dir.Path, Cifar10Split.Test));
            Assert.Contains(path, e.Message);
            Assert.Contains("truncated", e.Message);
            Assert.Contains("record 2", e.Message);
        }

        [Fact]
        public void A_truncated_gzip_stream_is_named()
        {
            using var dir = new TempDir();
            var gz = Gzip(Records(40));
            var path = dir.File("test_batch.bin.gz");
            File.WriteAllBytes(path, gz.AsSpan(0, gz.Length / 2).ToArray());
            var e = Assert.Throws<InvalidDataException>(() => Cifar10.Load(dir.Path, Cifar10Split.Test));
            Assert.Contains(path, e.Message);
            Assert.Matches("record [0-9]+", e.Message);
        }

        [Fact]
        public void A_corrupt_label_is_named_with_its_record()
        {
            using var dir = new TempDir();
            var data = Records(4);
            data[3 * Cifar10.RecordBytes] = 200;
            var path = dir.File("test_batch.bin");
            File.WriteAllBytes(path, data);
            var e = Assert.Throws<InvalidDataException>(() => Cifar10.Load(dir.Path, Cifar10Split.Test));
            Assert.Contains(path, e.Message);
            Assert.Contains("record 3", e.Message);
            Assert.Contains("label 200", e.Message);
        }

        [Fact]
        public void Corrupt_gzip_data_is_named()
        {
            using var dir = new TempDir();
            var gz = Gzip(Records(20));
            for (int i = 20; i < gz.Length - 10; i += 7) gz[i] ^= 0x5A;
            var path = dir.File("test_batch.bin.gz");
            File.WriteAllBytes(path, gz);
            var e = Assert.Throws<InvalidDataException>(() => Cifar10.Load(dir.Path, Cifar10Split.Test));
            Assert.Contains(path, e.Message);
        }

        // Issue #17, case 6: a byte flipped in a .bin.gz was accepted when --limit stopped reading before gzip's CRC.
        [Theory]
        [InlineData(-6)] // the CRC in the trailer
        [InlineData(-40)] // compressed data near the end
        public void A_damaged_gzip_batch_is_refused_even_when_the_limit_stops_early(int fromEnd)
        {
            using var dir = new TempDir();
            var gz = Gzip(Records(40));
            gz[gz.Length + fromEnd] ^= 0x10;
            var path = dir.File("test_batch.bin.gz");
            File.WriteAllBytes(path, gz);
            var e = Assert.Throws<InvalidDataException>(() => Cifar10.Load(dir.Path, Cifar10Split.Test, limit: 1));
            Assert.Contains(path, e.Message);
            Assert.Contains("is damaged", e.Message);
        }

        // Issue #17, case 6: with a SHA256SUMS file (the shared data has one) a damaged batch is named with its checksum.
        [Fact]
        public void A_batch_that_differs_from_SHA256SUMS_is_named_with_both_sums()
        {
            var folder = Cifar10.FindDefaultFolder(AppContext.BaseDirectory);
            Assert.True(folder is not null, "../shared/data/cifar10 not found above the test folder");
            using var dir = new TempDir();
            File.Copy(Path.Combine(folder!, Cifar10.ChecksumFile), dir.File(Cifar10.ChecksumFile));
            var bytes = File.ReadAllBytes(Path.Combine(folder!, "test_batch.bin.gz"));
            File.WriteAllBytes(dir.File("test_batch.bin.gz"), bytes);
            Assert.Equal(10, Cifar10.Load(dir.Path, Cifar10Split.Test, limit: 10).Count);
            bytes[bytes.Length / 2] ^= 0x01;
            File.WriteAllBytes(dir.File("test_batch.bin.gz"), bytes);
            File.SetLastWriteTimeUtc(dir.File("test_batch.bin.gz"), DateTime.UtcNow.AddMinutes(1));
            var e = Assert.Throws<InvalidDataException>(() => Cifar10.Load(dir.Path, Cifar10Split.Test, limit: 10));
            Assert.Contains(dir.File("test_batch.bin.gz"), e.Message);
            Assert.Contains("its SHA-256 is", e.Message);
            Assert.Contains("SHA256SUMS lists 06c4145e11317935602df46e2869ff96ae8104a90d9d372d31b48e5acdc71ed3", e.Message);
        }

        [Fact]
        public void A_missing_batch_or_folder_is_named()
        {
            using var dir = new TempDir();
            File.WriteAllBytes(dir.File("data_batch_1.bin"), Records(2));
            var e = Assert.Throws<FileNotFoundException>(() => Cifar10.Load(dir.Path, Cifar10Split.Train));
            Assert.Contains("data_batch_2", e.Message);
            var d = Assert.Throws<DirectoryNotFoundException>(() => Cifar10.Load(dir.File("nowhere"), Cifar10Split.Train));
            Assert.Contains("nowhere", d.Message);
        }

        [Fact]
        public void The_real_data_set_has_the_published_counts_labels_and_statistics()
        {
            var folder = Cifar10.FindDefaultFolder(AppContext.BaseDirectory);
            Assert.True(folder is not null, "../shared/data/cifar10 not found above the test folder");
            var test = Cifar10.Load(folder!, Cifar10Split.Test);
            Assert.Equal(10_000, test.Count);
            var perClass = new int[10];
            foreach (var l in test.Labels) perClass[l]++;
            Assert.All(perClass, c => Assert.Equal(1000, c));
            // The published per-channel mean of the CIFAR-10 test set: 0.4942, 0.4851, 0.4504.
            var expected = new[] { 0.4942, 0.4851, 0.4504 };
            for (int c = 0; c < 3; c++)
            {
                double sum = 0;
                for (int i = 0; i < test.Count; i++)
                {
                    int at = i * Cifar10.ImageBytes + c * 1024;
                    for (int j = 0; j < 1024; j++) sum += test.Images[at + j];
                }
                Assert.Equal(expected[c], sum / (test.Count * 1024.0) / 255, 3);
            }
            var train = Cifar10.Load(folder!, Cifar10Split.Train, limit: 12_000);
            Assert.Equal(12_000, train.Count);
            Assert.True(train.Labels.Distinct().Count() == 10);
        }
    }
}

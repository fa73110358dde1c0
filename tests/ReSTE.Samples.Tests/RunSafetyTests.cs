using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using ReSTE.Inference.Format;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Interop;
using ReSTE.Runtime.Training;
using ReSTE.Samples.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Samples.Tests
{
    /// <summary>One short real run (2 epochs of 2 steps) that the run-safety tests copy and then abuse.</summary>
    public sealed class FinishedRun : IDisposable
    {
        public static readonly string DataFolder = Cifar10.FindDefaultFolder(AppContext.BaseDirectory)
            ?? throw new DirectoryNotFoundException("../shared/data/cifar10 not found");
        public static readonly string[] Small = { "--batch", "16", "--limit", "32", "--test-limit", "16", "--data", DataFolder };

        public FinishedRun()
        {
            Root = Path.Combine(Path.GetTempPath(), "reste-runs-" + Guid.NewGuid().ToString("N"));
            Folder = Path.Combine(Root, "run");
            var (code, o, e) = CliTests.Run(new[] { "train", "--epochs", "2", "--seed", "1", "--out", Folder }.Concat(Small).ToArray());
            if (code != 0) throw new InvalidOperationException($"the shared run failed ({code}): {e} {o}");
            Metrics = File.ReadAllText(Path.Combine(Folder, MetricsFileHook.CsvFile));
        }

        public string Root { get; }
        public string Folder { get; }
        public string Metrics { get; }

        /// <summary>A copy of the run's folder at <paramref name="dest"/>.</summary>
        public string CopyTo(string dest)
        {
            Directory.CreateDirectory(dest);
            foreach (var f in Directory.GetFiles(Folder)) File.Copy(f, Path.Combine(dest, Path.GetFileName(f)));
            return dest;
        }

        public void Dispose() { try { Directory.Delete(Root, true); } catch (IOException) { } }
    }

    /// <summary>
    /// The cases of issue #17 that need no kill: a run folder is not overwritten or shared, resume refuses another run
    /// before touching anything, and bad input gets one line naming it.
    /// </summary>
    public sealed class RunSafetyTests : IClassFixture<FinishedRun>, IDisposable
    {
        readonly FinishedRun _run;
        readonly string _dir = Path.Combine(Path.GetTempPath(), "reste-safety-" + Guid.NewGuid().ToString("N"));

        public RunSafetyTests(FinishedRun run) { _run = run; Directory.CreateDirectory(_dir); }
        public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

        static void AssertOneLine(string err, params string[] expected)
        {
            var lines = err.TrimEnd().Split('\n');
            Assert.True(lines.Length == 1, "more than one line: " + err);
            Assert.StartsWith("ReSTE.Samples: ", lines[0]);
            foreach (var e in expected) Assert.Contains(e, lines[0]);
        }

        static string[] Train(params string[] args) => new[] { "train" }.Concat(args).Concat(FinishedRun.Small).ToArray();

        // Case 1: a fresh train into an existing run folder silently overwrote it.
        [Fact]
        public void A_fresh_run_refuses_a_folder_holding_another_run_and_overwrite_replaces_it()
        {
            var folder = _run.CopyTo(Path.Combine(_dir, "R"));
            var before = Directory.GetFiles(folder).ToDictionary(f => f, File.ReadAllBytes);
            var (code, stdout, err) = CliTests.Run(Train("--epochs", "1", "--seed", "9", "--out", folder));
            Assert.Equal(1, code);
            AssertOneLine(err, $"run folder '{folder}' holds another run", "--resume", "--overwrite");
            Assert.DoesNotContain("data:", stdout); // refused before loading anything
            foreach (var (f, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(f));
            Assert.False(Directory.Exists(Path.Combine(folder, "tensorboard")));

            (code, stdout, err) = CliTests.Run(Train("--epochs", "1", "--seed", "9", "--out", folder, "--overwrite"));
            Assert.True(code == 0, err + stdout);
            Assert.Contains("--overwrite removed the previous run", stdout);
            var rows = File.ReadAllLines(Path.Combine(folder, MetricsFileHook.CsvFile)).Skip(1).Select(l => l.Split(',')[0]).ToArray();
            Assert.Equal(new[] { "1" }, rows);
            using var c = Checkpoint.Load(Path.Combine(folder, Trainer.CheckpointFile));
            Assert.Equal("9", c.Metadata["seed"]);
            Assert.Equal(1, c.Epoch);
        }

        // Case 4: resume checked the schedule only; a smaller --limit crashed in libtorch, other models and
        // estimators were accepted, and a refused resume still loaded the data and created files.
        [Theory]
        [InlineData("--limit 16", "--limit 32 in the checkpoint, 16 now")]
        [InlineData("--limit 64", "--limit 32 in the checkpoint, 64 now")]
        [InlineData("--model resnet20-bireal", "--model resnet20 in the checkpoint, resnet20-bireal now")]
        [InlineData("--a32", "--a32 false in the checkpoint, true now")]
        [InlineData("--estimator STE", "--estimator ReSTE in the checkpoint, STE now")]
        [InlineData("--o-end 2", "--o-end 3 in the checkpoint, 2 now")]
        [InlineData("--test-limit 20", "--test-limit 16 in the checkpoint, 20 now")]
        [InlineData("--seed 5 --epochs 4", "--epochs 2 in the checkpoint, 4 now; --seed 1 in the checkpoint, 5 now")]
        public void Resume_refuses_another_run_naming_each_difference_before_touching_anything(string change, string expected)
        {
            var folder = _run.CopyTo(Path.Combine(_dir, "R"));
            var elsewhere = Path.Combine(_dir, "other");
            var args = new[] { "train", "--resume", folder, "--data", FinishedRun.DataFolder }.Concat(change.Split(' ')).ToList();
            var (code, stdout, err) = CliTests.Run(args.ToArray());
            Assert.Equal(1, code);
            AssertOneLine(err, "Cannot resume", expected);
            Assert.DoesNotContain("data:", stdout);
            Assert.False(Directory.Exists(Path.Combine(folder, "tensorboard")));
            // Into another folder: refused the same way, and that folder is not created.
            (code, _, err) = CliTests.Run(args.Concat(new[] { "--out", elsewhere }).ToArray());
            Assert.Equal(1, code);
            AssertOneLine(err, expected);
            Assert.False(Directory.Exists(elsewhere));
        }

        // Case 2: two runs on one folder both ran and mixed their results.
        [Fact]
        public void A_second_run_on_a_held_folder_is_refused_naming_the_holder()
        {
            var folder = Path.Combine(_dir, "shared");
            using var first = Child.Start(Train("--epochs", "50", "--out", folder));
            first.WaitFor("train:", TimeSpan.FromSeconds(120));
            var (code, stdout, err) = CliTests.Run(Train("--epochs", "1", "--out", folder));
            Assert.Equal(1, code);
            AssertOneLine(err, $"is in use by pid {first.Pid}", "train --epochs 50");
            Assert.DoesNotContain("data:", stdout);
            // The holder goes on, unharmed, and saves when asked to stop.
            first.Signal(15);
            Assert.Equal(Program.Terminated, first.WaitForExit(TimeSpan.FromSeconds(120)));
            Assert.True(File.Exists(Path.Combine(folder, Trainer.CheckpointFile)));
            Assert.False(File.Exists(Path.Combine(folder, RunFolder.LockFile)));
        }

        // Case 7: SIGTERM exited 143 without a word and without saving.
        [Fact]
        public void SIGTERM_saves_the_step_and_exits_143_and_resume_finishes_the_run()
        {
            var folder = Path.Combine(_dir, "term");
            using var child = Child.Start(Train("--epochs", "2", "--out", folder));
            child.WaitFor("train:", TimeSpan.FromSeconds(120));
            child.Signal(15);
            Assert.Equal(143, child.WaitForExit(TimeSpan.FromSeconds(120)));
            Assert.Contains("SIGTERM: saving and stopping", child.Error);
            Assert.Contains("Interrupted at epoch", child.Output);
            using (var c = Checkpoint.Load(Path.Combine(folder, Trainer.CheckpointFile))) Assert.True(c.Epoch < 2);
            var (code, stdout, err) = CliTests.Run("train", "--resume", folder);
            Assert.True(code == 0, err + stdout);
            using var done = Checkpoint.Load(Path.Combine(folder, Trainer.CheckpointFile));
            Assert.Equal(2, done.Epoch);
        }

        // Case 7: temporary files of killed processes piled up.
        [Fact]
        public void Temporary_files_of_ended_processes_are_removed_at_start()
        {
            var folder = _run.CopyTo(Path.Combine(_dir, "tmp"));
            // A pid that cannot be running (above the kernel's pid_max) and one that is (ours: kept).
            var dead = Path.Combine(folder, ".checkpoint.safetensors.99999999.tmp");
            var live = Path.Combine(folder, $".notes.txt.{Environment.ProcessId}.tmp"); // a live process's, not one a run writes
            File.WriteAllText(dead, "partial");
            File.WriteAllText(live, "partial");
            var (code, stdout, err) = CliTests.Run("train", "--resume", folder, "--epochs", "3");
            // --epochs 3 is another schedule: refused, and the folder is not touched ...
            Assert.Equal(1, code);
            Assert.True(File.Exists(dead));
            (code, stdout, err) = CliTests.Run("train", "--resume", folder);
            // ... while a resume (here: nothing left to run) takes the folder and cleans it.
            Assert.True(code == 0, err + stdout);
            Assert.Contains("removed 1 temporary file", stdout);
            Assert.False(File.Exists(dead));
            Assert.True(File.Exists(live));
        }

        // Case 5: non-numeric checkpoint fields were a FormatException stack trace.
        [Theory]
        [InlineData("epoch", "two")]
        [InlineData("seed", "1x")]
        [InlineData("best_top1", "high")]
        public void A_checkpoint_field_that_is_not_a_number_is_one_line_naming_it(string key, string value)
        {
            var folder = _run.CopyTo(Path.Combine(_dir, "bad"));
            var path = Path.Combine(folder, Trainer.CheckpointFile);
            using (var file = Safetensors.Load(path))
            {
                var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
                meta[key] = value;
                Safetensors.Save(path, file.Tensors, meta);
            }
            int code; string err;
            if (key != "seed") // eval reports the epoch and best top-1, not the seed
            {
                (code, _, err) = CliTests.Run("eval", "--checkpoint", path, "--test-limit", "16", "--data", FinishedRun.DataFolder);
                Assert.Equal(1, code);
                AssertOneLine(err, path, $"'{key}' is '{value}'");
            }
            (code, _, err) = CliTests.Run("train", "--resume", folder);
            Assert.Equal(1, code);
            AssertOneLine(err, $"'{key}' is '{value}'");
        }

        // Case 5: --lr 1e308 was a libtorch ExternalException stack trace.
        [Fact]
        public void A_learning_rate_beyond_float32_is_one_line()
        {
            var (code, stdout, err) = CliTests.Run(Train("--epochs", "1", "--lr", "1e308", "--out", Path.Combine(_dir, "lr")));
            Assert.Equal(2, code);
            Assert.Equal("", stdout);
            Assert.Contains("--lr 1E+308 does not fit the float32", err.Split('\n')[0]);
            Assert.False(Directory.Exists(Path.Combine(_dir, "lr")));
        }

        /// <summary>A safetensors file whose header is <paramref name="header"/> followed by <paramref name="dataBytes"/> zero bytes.</summary>
        static void WriteRawSafetensors(string path, string header, int dataBytes)
        {
            var h = Encoding.UTF8.GetBytes(header);
            var bytes = new byte[8 + h.Length + dataBytes];
            BitConverter.GetBytes((ulong)h.Length).CopyTo(bytes, 0);
            h.CopyTo(bytes, 8);
            File.WriteAllBytes(path, bytes);
        }

        // Case 5: negative or overflowing shapes were an ExternalException; a header field missing named nothing.
        [Theory]
        [InlineData("{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[-1,4],\"data_offsets\":[0,16]}}", "tensor 'conv1.weight' has a negative dimension")]
        [InlineData("{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,16]}}", "tensor 'conv1.weight' of shape [4611686018427387904, 4] is larger than")]
        [InlineData("{\"conv1.weight\":{\"shape\":[4],\"data_offsets\":[0,16]}}", "tensor 'conv1.weight' has no 'dtype'")]
        public void A_bad_safetensors_header_is_one_line_naming_the_tensor(string header, string expected)
        {
            var path = Path.Combine(_dir, "bad.safetensors");
            WriteRawSafetensors(path, header, 16);
            var (code, _, err) = CliTests.Run("eval", "--weights", path, "--test-limit", "16", "--data", FinishedRun.DataFolder);
            Assert.Equal(1, code);
            AssertOneLine(err, path, expected);
        }

        static string SaveReference(string path, Func<string, Tensor, Tensor> change)
        {
            manual_seed(3);
            var source = ModelZoo.Create("resnet20", Policies.Default);
            var tensors = new Dictionary<string, Tensor>();
            foreach (var (k, v) in source.state_dict()) tensors[k] = change(k, v);
            Safetensors.Save(path, tensors);
            return path;
        }

        // Case 6: int32, float16 and NaN weights were loaded without a word.
        [Fact]
        public void Weights_of_a_wrong_type_or_with_NaN_are_refused_and_float16_is_converted_with_a_warning()
        {
            string[] Eval(string p) => new[] { "eval", "--weights", p, "--test-limit", "16", "--data", FinishedRun.DataFolder };
            var ints = SaveReference(Path.Combine(_dir, "int.safetensors"), (k, v) => k == "linear.weight" ? v.mul(100).to(ScalarType.Int32) : v);
            var (code, _, err) = CliTests.Run(Eval(ints));
            Assert.Equal(1, code);
            AssertOneLine(err, "linear.weight is int32 where linear.weight is float32");

            var nan = SaveReference(Path.Combine(_dir, "nan.safetensors"), (k, v) =>
            {
                if (k != "layer1.0.conv1.weight") return v;
                var c = v.clone();
                c.view(-1)[5] = float.NaN;
                c.view(-1)[7] = float.PositiveInfinity;
                return c;
            });
            (code, _, err) = CliTests.Run(Eval(nan));
            Assert.Equal(1, code);
            AssertOneLine(err, "NaN or infinite values in layer1.0.conv1.weight (2 of 2304 values)");

            var half = SaveReference(Path.Combine(_dir, "half.safetensors"), (k, v) => v.is_floating_point() ? v.to(ScalarType.Float16) : v);
            (code, var stdout, err) = CliTests.Run(Eval(half));
            Assert.True(code == 0, err);
            Assert.Matches(@"warning: '.*half.safetensors': converted \d+ float16 tensors to float32 \(", stdout);
        }

        /// <summary>A PNG of the given size with a valid header; its image data is <paramref name="idat"/> (zlib).</summary>
        static byte[] Png(int width, int height, byte[] idat)
        {
            var ms = new MemoryStream();
            ms.Write(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A });
            void Chunk(string type, byte[] data)
            {
                var len = BitConverter.GetBytes(data.Length); Array.Reverse(len); ms.Write(len);
                var td = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
                ms.Write(td);
                var crc = BitConverter.GetBytes(Crc32.Compute(td)); Array.Reverse(crc); ms.Write(crc);
            }
            var ihdr = new byte[13];
            var w = BitConverter.GetBytes(width); Array.Reverse(w); w.CopyTo(ihdr, 0);
            var h = BitConverter.GetBytes(height); Array.Reverse(h); h.CopyTo(ihdr, 4);
            ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
            Chunk("IHDR", ihdr);
            Chunk("IDAT", idat);
            Chunk("IEND", Array.Empty<byte>());
            return ms.ToArray();
        }

        // Case 5: a 50000×50000 PNG was decoded (a stack trace); case 6: a truncated PNG was classified with exit 0.
        [Fact]
        public void Huge_and_truncated_images_are_refused_in_one_line()
        {
            var packed = Path.Combine(_dir, "r20.rbnn");
            Assert.Equal(0, CliTests.Run("export", "--random-init", "--out", packed).Code);
            var huge = Path.Combine(_dir, "huge.png");
            File.WriteAllBytes(huge, Png(50000, 50000, new byte[] { 0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01 }));
            var (code, stdout, err) = CliTests.Run("infer", "--packed", packed, "--png", huge);
            Assert.Equal(1, code);
            AssertOneLine(err, huge, "is 50000×50000");

            var full = Path.Combine(_dir, "full.png");
            using (var bitmap = new SkiaSharp.SKBitmap(32, 32))
            {
                for (int y = 0; y < 32; y++) for (int x = 0; x < 32; x++) bitmap.SetPixel(x, y, new SkiaSharp.SKColor((byte)(x * 8), (byte)(y * 8), (byte)(x ^ y)));
                using var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(full, data.ToArray());
            }
            var truncated = Path.Combine(_dir, "truncated.png");
            File.WriteAllBytes(truncated, File.ReadAllBytes(full)[..60]);
            (code, stdout, err) = CliTests.Run("infer", "--packed", packed, "--png", truncated);
            Assert.Equal(1, code);
            AssertOneLine(err, truncated, "is truncated");
            Assert.DoesNotContain("logits", stdout);
        }

        // Case 5: a packed model whose geometry the engine cannot run was a NotSupportedException stack trace.
        [Fact]
        public void A_packed_model_the_engine_cannot_run_is_one_line_naming_the_file_and_layer()
        {
            var ops = new DeployOp[]
            {
                new BinaryConv2dOp("wide", 3, 1, 1, 1, 1, 0, true, new SignBits(3, new byte[] { 0b101 }, null), new[] { 1f }),
                new GlobalAvgPoolOp("pool"),
                new LinearOp("fc", 1, 10, new float[10], null),
            };
            var path = Path.Combine(_dir, "wide.rbnn");
            PackedModelFile.Save(new PackedModel(3, 32, 100, ops), path);
            var (code, _, err) = CliTests.Run("infer", "--packed", path, "--test-limit", "4", "--data", FinishedRun.DataFolder);
            Assert.Equal(1, code);
            AssertOneLine(err, path, "wide: rows of 100 pixels");
        }
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Interop;
using ReSTE.Runtime.Training;
using ReSTE.Samples.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Samples.Tests
{
    /// <summary>End-to-end runs of the CLI on a few hundred real CIFAR-10 images (CPU).</summary>
    public sealed class TrainingRunTests : IDisposable
    {
        readonly TempDir _tmp = new();
        string _dir => _tmp.Path;
        static readonly string DataFolder = Cifar10.FindDefaultFolder(AppContext.BaseDirectory)
            ?? throw new DirectoryNotFoundException("../shared/data/cifar10 not found");

        public void Dispose() => _tmp.Dispose();

        static double[] Column(string csvPath, string column)
        {
            var lines = File.ReadAllLines(csvPath);
            int i = Array.IndexOf(lines[0].Split(','), column);
            return lines.Skip(1).Select(l => double.Parse(l.Split(',')[i], CultureInfo.InvariantCulture)).ToArray();
        }

        [Fact]
        public void Training_a_few_hundred_images_lowers_the_loss_and_eval_of_the_checkpoint_agrees()
        {
            var outDir = Path.Combine(_dir, "run");
            var (code, stdout, err) = CliTests.Run("train", "--model", "resnet20", "--epochs", "4", "--batch", "50", "--limit", "300",
                "--test-limit", "200", "--data", DataFolder, "--out", outDir, "--seed", "1", "--lr", "0.05", "--indicators");
            Assert.True(code == 0, err + stdout);
            Assert.Contains("resnet20 (ReSTE 1W/1A, o_end 3): 269,850 parameters, 267,264 binary", stdout);
            Assert.Contains("300 training, 200 test images", stdout);
            Assert.Contains("epoch 4/4", stdout);
            var loss = Column(Path.Combine(outDir, MetricsFileHook.CsvFile), "train_loss");
            Assert.Equal(4, loss.Length);
            Assert.True(loss[^1] < loss[0] - 0.05, $"loss did not fall: {string.Join(", ", loss)}");
            var o = Column(Path.Combine(outDir, MetricsFileHook.CsvFile), "o");
            Assert.True(o[0] == 1 && o[3] > o[2] && o[2] > o[1], string.Join(", ", o));
            Assert.All(Column(Path.Combine(outDir, MetricsFileHook.CsvFile), "e"), e => Assert.True(e > 0));
            Assert.Equal(4, File.ReadAllLines(Path.Combine(outDir, MetricsFileHook.JsonlFile)).Length);
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(outDir, "tensorboard"), "events.out.tfevents*", SearchOption.AllDirectories));

            // eval of the final checkpoint gives the last epoch's test accuracy.
            var lastTop1 = Column(Path.Combine(outDir, MetricsFileHook.CsvFile), "test_top1")[^1];
            var (ecode, eout, eerr) = CliTests.Run("eval", "--checkpoint", Path.Combine(outDir, Trainer.CheckpointFile), "--test-limit", "200", "--data", DataFolder);
            Assert.True(ecode == 0, eerr);
            var m = Regex.Match(eout, @"test: 200 images, loss [0-9.]+, top-1 ([0-9.]+)%");
            Assert.True(m.Success, eout);
            Assert.Equal(lastTop1, double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), 2);
        }

        /// <summary>Cancels a token when a line containing a marker is written (Ctrl-C at a chosen moment).</summary>
        sealed class CancellingWriter : StringWriter
        {
            readonly string _marker; readonly CancellationTokenSource _cts;
            public CancellingWriter(string marker, CancellationTokenSource cts) { _marker = marker; _cts = cts; }
            public override void WriteLine(string? value) { base.WriteLine(value); if (value?.Contains(_marker) == true) _cts.Cancel(); }
        }

        [Fact]
        public void Ctrl_C_saves_and_resume_finishes_the_same_schedule()
        {
            var outDir = Path.Combine(_dir, "resume");
            using var cts = new CancellationTokenSource();
            var o = new CancellingWriter("epoch 1/3", cts);
            var e = new StringWriter();
            int code = Program.Run(new[] { "train", "--epochs", "3", "--batch", "50", "--limit", "100", "--test-limit", "50",
                "--data", DataFolder, "--out", outDir, "--seed", "2" }, o, e, cts.Token);
            Assert.Equal(130, code);
            Assert.Contains("Interrupted at epoch 2, step 0", o.ToString());
            var ckpt = Path.Combine(outDir, Trainer.CheckpointFile);
            using (var c = Checkpoint.Load(ckpt))
            {
                Assert.Equal(1, c.Epoch);
                Assert.Equal("resnet20", c.Metadata["tag.model"]);
                Assert.Equal("100", c.Metadata["tag.limit"]);
            }
            // Only --resume and the evaluation subset: the rest comes from the checkpoint.
            var (rcode, rout, rerr) = CliTests.Run("train", "--resume", ckpt, "--test-limit", "50");
            Assert.True(rcode == 0, rerr + rout);
            Assert.Contains("resuming", rout);
            Assert.DoesNotContain("epoch 1/3", rout);
            Assert.Contains("epoch 2/3", rout);
            Assert.Contains("epoch 3/3", rout);
            Assert.Contains("100 training", rout);
            using var done = Checkpoint.Load(ckpt);
            Assert.Equal(3, done.Epoch);
            Assert.Equal(3, File.ReadAllLines(Path.Combine(outDir, MetricsFileHook.CsvFile)).Length - 1);
        }

        [Fact]
        public void A_diverging_run_stops_with_a_clear_message()
        {
            var outDir = Path.Combine(_dir, "nan");
            var (code, stdout, err) = CliTests.Run("train", "--epochs", "2", "--batch", "50", "--limit", "100", "--test-limit", "50",
                "--data", DataFolder, "--out", outDir, "--lr", "1e30");
            Assert.True(code == 3, $"exit {code}: {stdout} {err}");
            Assert.Contains("Stopped: the training loss became", stdout);
            Assert.Contains("epoch 1", stdout);
            Assert.False(File.Exists(Path.Combine(outDir, Trainer.CheckpointFile)));
        }

        [Fact]
        public void Eval_weights_loads_a_reference_state_dict_and_names_bad_tensors()
        {
            // A state dict as the reference saves it: DataParallel's "module." prefix and num_batches_tracked.
            manual_seed(3);
            var source = ModelZoo.Create("resnet20", Policies.Default);
            var reference = new Dictionary<string, Tensor>();
            foreach (var (k, v) in source.state_dict())
                if (!k.EndsWith("num_batches_tracked")) reference["module." + k] = v;
            reference["module.bn1.num_batches_tracked"] = tensor(100L);
            Directory.CreateDirectory(_dir);
            var path = Path.Combine(_dir, "model.safetensors");
            Safetensors.Save(path, reference);

            var (code, stdout, err) = CliTests.Run("eval", "--weights", path, "--test-limit", "100", "--data", DataFolder);
            Assert.True(code == 0, err);
            using var test = new DeviceCifar(Cifar10.Load(DataFolder, Cifar10Split.Test, 100), CPU);
            var (_, top1, _) = Trainer.Evaluate(source, test);
            Assert.Contains($"top-1 {top1.ToString("F2", CultureInfo.InvariantCulture)}%", stdout);

            reference["module.layer2.0.conv1.weight"] = zeros(32, 16, 1, 1);
            reference.Remove("module.linear.bias");
            Safetensors.Save(path, reference);
            var (bad, _, berr) = CliTests.Run("eval", "--weights", path, "--test-limit", "100", "--data", DataFolder);
            Assert.Equal(1, bad);
            Assert.Contains("missing linear.bias", berr);
            Assert.Contains("mis-shaped module.layer2.0.conv1.weight: [32, 16, 1, 1] where layer2.0.conv1.weight is [32, 16, 3, 3]", berr);
        }
    }
}

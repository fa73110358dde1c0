using System;
using System.IO;
using System.Linq;
using System.Threading;
using ReSTE.Runtime.Training;
using Xunit;

namespace ReSTE.Samples.Tests
{
    /// <summary>The README's "Your own model, your own data" program (samples/ReSTE.OwnData), run as written.</summary>
    public sealed class OwnDataTests : IDisposable
    {
        readonly string _dir = Path.Combine(Path.GetTempPath(), "reste-own-" + Guid.NewGuid().ToString("N"));

        public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

        static string RepoFile(params string[] parts)
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            {
                var p = Path.Combine(new[] { d.FullName }.Concat(parts).ToArray());
                if (File.Exists(p)) return p;
            }
            throw new FileNotFoundException(string.Join("/", parts));
        }

        [Fact]
        public void The_README_program_is_the_sample_file()
        {
            var readme = File.ReadAllText(RepoFile("README.md")).Replace("\r\n", "\n");
            var program = File.ReadAllText(RepoFile("samples", "ReSTE.OwnData", "Program.cs")).Replace("\r\n", "\n");
            Assert.Contains("```csharp\n" + program.TrimEnd() + "\n```", readme);
        }

        [Fact]
        public void The_own_data_program_trains_a_binary_MLP_checkpoints_and_resumes()
        {
            // Interrupted during the third epoch, then run again: it resumes from the checkpoint and completes.
            using var cts = new CancellationTokenSource();
            var log = new StopAt("epoch 2/5", cts);
            int first = OwnData.Program.Run(null, _dir, log, cts.Token);
            Assert.Equal(1, first);
            Assert.Contains("Interrupted at epoch 3, step 0", log.ToString());
            var again = new StringWriter();
            int code = OwnData.Program.Run(null, _dir, again);
            Assert.True(code == 0, again.ToString());
            var text = again.ToString();
            Assert.DoesNotContain("epoch 2/5", text);
            Assert.Contains("epoch 5/5", text);
            Assert.Contains("Completed: ", text);
            using var ckpt = Checkpoint.Load(Path.Combine(_dir, Trainer.CheckpointFile));
            Assert.Equal(5, ckpt.Epoch);
            Assert.True(ckpt.BestTop1 > 80, $"best top-1 {ckpt.BestTop1}%");
            Assert.Equal(5, File.ReadAllLines(Path.Combine(_dir, MetricsFileHook.CsvFile)).Length - 1);
        }

        sealed class StopAt : StringWriter
        {
            readonly string _marker; readonly CancellationTokenSource _cts;
            public StopAt(string marker, CancellationTokenSource cts) { _marker = marker; _cts = cts; }
            public override void WriteLine(string? value) { base.WriteLine(value); if (value?.Contains(_marker) == true) _cts.Cancel(); }
        }
    }
}

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using ReSTE.Runtime.Interop;
using ReSTE.Runtime.Training;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Samples.Tests
{
    /// <summary>A test that mounts a small tmpfs: skipped (with the reason) unless it runs as root on Linux and the mount works.</summary>
    public sealed class TmpfsFactAttribute : FactAttribute
    {
        public TmpfsFactAttribute()
        {
            if (Tmpfs.Unavailable is { } why) Skip = why;
        }
    }

    /// <summary>A tmpfs of a given size, mounted on a fresh folder and unmounted on dispose.</summary>
    sealed class Tmpfs : IDisposable
    {
        static readonly Lazy<string?> Probe = new(() =>
        {
            if (!OperatingSystem.IsLinux()) return "needs Linux to mount a small tmpfs (disk-full faults)";
            if (Environment.UserName != "root") return "needs root to mount a small tmpfs (disk-full faults); run the tests as root to include them";
            try { using var t = new Tmpfs(64 * 1024); return null; }
            catch (InvalidOperationException e) { return "cannot mount a tmpfs here: " + e.Message; }
        });

        public static string? Unavailable => Probe.Value;

        public Tmpfs(long bytes)
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "reste-tmpfs-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
            Sh("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", Path);
        }

        public string Path { get; }

        static void Sh(params string[] args)
        {
            var psi = new ProcessStartInfo(args[0]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in args.Skip(1)) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"{string.Join(' ', args)}: exit {p.ExitCode}: {err.Trim()}");
        }

        public void Dispose()
        {
            try { Sh("umount", Path); Directory.Delete(Path); } catch (InvalidOperationException) { } catch (IOException) { }
        }
    }

    /// <summary>
    /// Issue #17, case 3 and the fault-injection suite: the trainer killed at any instant (a child process, SIGKILL),
    /// a full disk at each write, and two runs started together on one folder. After each fault the folder must hold
    /// a loadable checkpoint and metrics with each epoch at most once; after the resume that finishes the run, each
    /// epoch exactly once, best weights of the best epoch, and the same model as a run that was never interrupted.
    /// </summary>
    public sealed class FaultInjectionTests : IDisposable
    {
        const int Epochs = 4;
        readonly string _dir = Path.Combine(Path.GetTempPath(), "reste-faults-" + Guid.NewGuid().ToString("N"));

        public FaultInjectionTests() { Directory.CreateDirectory(_dir); }
        public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

        static string[] Args(string folder, int epochs = Epochs) =>
            new[] { "train", "--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--seed", "4", "--out", folder }.Concat(FinishedRun.Small).ToArray();

        static int[] CsvEpochs(string folder)
        {
            var csv = Path.Combine(folder, MetricsFileHook.CsvFile);
            if (!File.Exists(csv)) return Array.Empty<int>();
            var lines = File.ReadAllLines(csv);
            Assert.Equal("epoch", lines[0].Split(',')[0]);
            return lines.Skip(1).Select(l => int.Parse(l.Split(',')[0], CultureInfo.InvariantCulture)).ToArray();
        }

        static int[] JsonlEpochs(string folder)
        {
            var jsonl = Path.Combine(folder, MetricsFileHook.JsonlFile);
            if (!File.Exists(jsonl)) return Array.Empty<int>();
            return File.ReadAllLines(jsonl).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("epoch").GetInt32()).ToArray();
        }

        /// <summary>What must hold after any fault: a loadable checkpoint (or none yet) and metrics with no epoch twice, none beyond the checkpoint.</summary>
        static void AssertConsistentAfterFault(string folder, string when)
        {
            var ckpt = Path.Combine(folder, Trainer.CheckpointFile);
            int done = 0;
            if (File.Exists(ckpt)) using (var c = Checkpoint.Load(ckpt)) done = c.Epoch;
            foreach (var rows in new[] { CsvEpochs(folder), JsonlEpochs(folder) })
            {
                Assert.True(rows.SequenceEqual(Enumerable.Range(1, rows.Length)), $"{when}: metrics epochs {string.Join(",", rows)}");
                Assert.True(rows.Length <= Math.Max(done, 0) + 0, $"{when}: {rows.Length} metrics rows, checkpoint at epoch {done}");
            }
        }

        /// <summary>What must hold once the run is complete: each epoch once, the best weights those of the best epoch, no temporary file left.</summary>
        static void AssertComplete(string folder, int epochs = Epochs)
        {
            Assert.Equal(Enumerable.Range(1, epochs), CsvEpochs(folder));
            Assert.Equal(Enumerable.Range(1, epochs), JsonlEpochs(folder));
            using var c = Checkpoint.Load(Path.Combine(folder, Trainer.CheckpointFile));
            Assert.Equal(epochs, c.Epoch);
            var lines = File.ReadAllLines(Path.Combine(folder, MetricsFileHook.CsvFile));
            int col = Array.IndexOf(lines[0].Split(','), "test_top1");
            var top1 = lines.Skip(1).Select(l => double.Parse(l.Split(',')[col], CultureInfo.InvariantCulture)).ToArray();
            int bestEpoch = Array.IndexOf(top1, top1.Max()) + 1;
            Assert.Equal(bestEpoch, c.BestEpoch);
            Assert.Equal(top1.Max(), c.BestTop1, 5);
            using var best = Safetensors.Load(Path.Combine(folder, Trainer.BestWeightsFile));
            Assert.Equal(bestEpoch.ToString(CultureInfo.InvariantCulture), best.Metadata["epoch"]);
            Assert.Equal(c.Best.Keys.OrderBy(k => k), best.Tensors.Keys.OrderBy(k => k));
            foreach (var (k, t) in best.Tensors) Assert.True(t.allclose(c.Best[k], 0, 0), $"best.safetensors {k} differs from the checkpoint's best weights");
            Assert.Empty(Directory.GetFiles(folder, "*.tmp"));
        }

        static void AssertSameModel(string expectedFolder, string actualFolder)
        {
            using var a = Checkpoint.Load(Path.Combine(expectedFolder, Trainer.CheckpointFile));
            using var b = Checkpoint.Load(Path.Combine(actualFolder, Trainer.CheckpointFile));
            Assert.Equal(a.Model.Keys.OrderBy(k => k), b.Model.Keys.OrderBy(k => k));
            foreach (var (k, t) in a.Model) Assert.True(t.allclose(b.Model[k], 0, 0), $"{k} differs from the uninterrupted run");
        }

        /// <summary>
        /// The furthest point the console reported, as (completed epochs, steps done in the next epoch): an epoch line
        /// <c>epoch E/N lr …</c> means E epochs done; a progress line <c>epoch E step S/N</c> means S steps of epoch E.
        /// </summary>
        static (int Epochs, int Steps) LastReported(string output)
        {
            var best = (0, 0);
            foreach (Match m in Regex.Matches(output, @"^epoch (\d+)(?:/\d+ lr| step (\d+)/\d+)", RegexOptions.Multiline))
            {
                int e = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                var at = m.Groups[2].Success ? (e - 1, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)) : (e, 0);
                if (at.CompareTo(best) > 0) best = at;
            }
            return best;
        }

        [Fact]
        public void Kills_at_random_instants_across_epoch_commits_cost_nothing_but_the_step_in_flight()
        {
            var straight = Path.Combine(_dir, "straight");
            var (code, o, e) = CliTests.Run(Args(straight));
            Assert.True(code == 0, e + o);
            AssertComplete(straight);

            var folder = Path.Combine(_dir, "killed");
            var rng = new Random(17);
            var log = new List<string>();
            for (int attempt = 0; attempt < 12; attempt++)
            {
                bool resume = File.Exists(Path.Combine(folder, Trainer.CheckpointFile));
                using var child = Child.Start(resume ? new[] { "train", "--resume", folder } : Args(folder));
                child.WaitFor("train:", TimeSpan.FromSeconds(180));
                // Odd attempts: the instant the console reports an epoch, which is after the checkpoint's rename
                // and before the metrics rows are written; even ones: anywhere in the next stretch of training.
                string when;
                if (attempt % 2 == 1)
                {
                    int next = CsvEpochs(folder).Length + 1;
                    try { child.WaitFor($"epoch {next}/{Epochs} lr", TimeSpan.FromSeconds(180)); } catch (InvalidOperationException) { }
                    int ms = rng.Next(0, 40);
                    System.Threading.Thread.Sleep(ms);
                    when = $"attempt {attempt}: {ms} ms after epoch {next} was reported";
                }
                else
                {
                    int ms = rng.Next(0, 2500);
                    System.Threading.Thread.Sleep(ms);
                    when = $"attempt {attempt}: {ms} ms into training";
                }
                bool ended = false;
                var reported = LastReported(child.Output);
                try { child.Signal(9); } catch (InvalidOperationException) { ended = true; }
                int exit = child.WaitForExit(TimeSpan.FromSeconds(60));
                log.Add($"{when}: exit {exit}, reported ({reported.Epochs}, {reported.Steps})");
                if (exit != 0 && File.Exists(Path.Combine(folder, Trainer.CheckpointFile)))
                {
                    // The checkpoint is written before each step is reported (every step on the CPU), so after the
                    // kill it holds at least what the console had shown: only the step in flight was lost.
                    using var c = Checkpoint.Load(Path.Combine(folder, Trainer.CheckpointFile));
                    Assert.True((c.Epoch, c.Step).CompareTo(reported) >= 0,
                        $"{string.Join("; ", log)}: the checkpoint is at epoch {c.Epoch} step {c.Step}, behind what was reported");
                }
                if (ended || exit == 0)
                {
                    if (exit == 0) break;
                }
                AssertConsistentAfterFault(folder, string.Join("; ", log));
            }
            // Finish whatever is left, then everything must be as if nothing had happened.
            (code, o, e) = CliTests.Run("train", "--resume", folder);
            Assert.True(code == 0, string.Join("; ", log) + e + o);
            AssertComplete(folder);
            AssertSameModel(straight, folder);
            Assert.True(log.Count >= 3, "too few kills landed: " + string.Join("; ", log));
        }

        [TmpfsFact]
        public void A_full_disk_at_any_write_stops_the_run_with_one_line_and_resume_completes_it()
        {
            // Sizes that run out of space at different writes: the first checkpoint, best weights, metrics, a later
            // checkpoint while the previous one still takes its space.
            var outcomes = new List<string>();
            foreach (var kib in new[] { 256, 1536, 2560, 3584, 4608, 6144, 7680 })
            {
                using var fs = new Tmpfs(kib * 1024L);
                var folder = Path.Combine(fs.Path, "run");
                var (code, o, e) = CliTests.Run(Args(folder, epochs: 3));
                outcomes.Add($"{kib} KiB: exit {code}");
                if (code == 0) { AssertComplete(folder, 3); continue; }
                Assert.True(code == 1, $"{kib} KiB: exit {code}: {e} {o}");
                var lines = e.TrimEnd().Split('\n');
                Assert.True(lines.Length == 1, e);
                Assert.Contains("No space left on device", lines[0]);
                Assert.Contains(fs.Path, lines[0]);
                Assert.Empty(Directory.Exists(folder) ? Directory.GetFiles(folder, "*.tmp") : Array.Empty<string>());
                AssertConsistentAfterFault(folder, $"{kib} KiB");
                // Moved to a disk with room, the run resumes and completes.
                var moved = Path.Combine(_dir, $"moved-{kib}");
                Directory.CreateDirectory(moved);
                if (Directory.Exists(folder))
                    foreach (var f in Directory.GetFiles(folder)) File.Copy(f, Path.Combine(moved, Path.GetFileName(f)));
                bool resumable = File.Exists(Path.Combine(moved, Trainer.CheckpointFile));
                (code, o, e) = CliTests.Run(resumable ? new[] { "train", "--resume", moved } : Args(moved, epochs: 3).Append("--overwrite").ToArray());
                Assert.True(code == 0, $"{kib} KiB, then resumed: {e} {o}");
                AssertComplete(moved, 3);
            }
            Assert.Contains(outcomes, s => s.EndsWith("exit 1", StringComparison.Ordinal));
        }

        [Fact]
        public void Two_runs_started_together_on_one_folder_one_runs_and_the_other_is_refused()
        {
            var folder = Path.Combine(_dir, "race");
            using var a = Child.Start(Args(folder, epochs: 2));
            using var b = Child.Start(Args(folder, epochs: 2));
            int ea = a.WaitForExit(TimeSpan.FromSeconds(300)), eb = b.WaitForExit(TimeSpan.FromSeconds(300));
            var codes = new[] { ea, eb }.OrderBy(c => c).ToArray();
            Assert.True(codes.SequenceEqual(new[] { 0, 1 }), $"exits {ea} and {eb}: {a.Error} {b.Error}");
            var loser = ea == 1 ? a : b;
            var winner = ea == 1 ? b : a;
            Assert.Matches($"(is in use by pid {winner.Pid}|holds another run)", loser.Error);
            AssertComplete(folder, 2);
        }
    }
}

using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using ReSTE.Runtime.Native;
using Xunit;

namespace ReSTE.Samples.Tests
{
    /// <summary>
    /// The runtime's glibc malloc settings (MallocTuning) change where freed buffers go, never what is computed: the
    /// same training steps in two child processes, one with the tuning and one with RESTE_MALLOC_TUNING=off, give the
    /// same losses bit for bit.
    /// </summary>
    public sealed class MallocTuningTests
    {
        static (int Code, string Output) RunCli(IReadOnlyDictionary<string, string> env, params string[] args)
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "ReSTE.Samples.dll");
            Assert.True(File.Exists(dll), $"The samples CLI is not at {dll}");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(dll);
            foreach (var a in args) start.ArgumentList.Add(a);
            foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MALLOC_", StringComparison.Ordinal) || k == "GLIBC_TUNABLES" || k == MallocTuning.Variable).ToList())
                start.Environment.Remove(key);
            foreach (var (k, v) in env) start.Environment[k] = v;
            using var process = Process.Start(start)!;
            var output = new StringBuilder();
            process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"ReSTE.Samples {string.Join(' ', args)} took over 3 minutes.\n{output}");
            }
            process.WaitForExit();
            return (process.ExitCode, output.ToString());
        }

        static string Losses(string output)
        {
            var line = output.Split('\n').Select(l => l.TrimEnd()).SingleOrDefault(l => l.StartsWith("losses: ", StringComparison.Ordinal));
            Assert.True(line is not null, output);
            return line!["losses: ".Length..];
        }

        [LinuxFact(Because = "the tuning exists on Linux with glibc only")]
        public void Training_steps_give_the_same_losses_bit_for_bit_with_and_without_the_malloc_tuning()
        {
            // Batch 64: activations of 4 MiB, above glibc's default mmap threshold, so the two processes do place them
            // differently (fresh mmaps each step without, the reused heap with).
            string[] args = { "bench", "--model", "resnet20", "--batch", "64", "--steps", "3", "--warmup-steps", "0", "--seed", "3", "--losses" };
            var (tunedCode, tuned) = RunCli(new Dictionary<string, string>(), args);
            var (offCode, off) = RunCli(new Dictionary<string, string> { [MallocTuning.Variable] = "off" }, args);
            Assert.True(tunedCode == 0, tuned);
            Assert.True(offCode == 0, off);
            Assert.Contains("glibc malloc keeps large buffers", tuned);
            Assert.Contains($"glibc malloc defaults ({MallocTuning.Variable}=off)", off);
            var a = Losses(tuned);
            var b = Losses(off);
            Assert.Equal(3, a.Split(' ').Length);
            Assert.All(a.Split(' '), v => Assert.True(float.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var f) && float.IsFinite(f) && f > 0, v));
            Assert.Equal(a, b);
        }

        [Fact]
        public void The_users_own_malloc_variables_are_left_in_force()
        {
            Assert.True(MallocTuning.UserHasMallocSettings(new Hashtable { ["MALLOC_TRIM_THRESHOLD_"] = "1" }));
            Assert.True(MallocTuning.UserHasMallocSettings(new Hashtable { ["MALLOC_ARENA_MAX"] = "2" }));
            Assert.True(MallocTuning.UserHasMallocSettings(new Hashtable { ["GLIBC_TUNABLES"] = "glibc.malloc.mmap_threshold=1000000" }));
            Assert.False(MallocTuning.UserHasMallocSettings(new Hashtable { ["GLIBC_TUNABLES"] = "glibc.cpu.hwcaps=-AVX2", ["PATH"] = "/bin" }));
            Assert.True(MallocTuning.IsOff("off") && MallocTuning.IsOff(" OFF ") && MallocTuning.IsOff("0") && MallocTuning.IsOff("false") && MallocTuning.IsOff("no"));
            Assert.False(MallocTuning.IsOff(null) || MallocTuning.IsOff("") || MallocTuning.IsOff("on") || MallocTuning.IsOff("1"));
        }

        [LinuxFact(Because = "the tuning exists on Linux with glibc only")]
        public void A_user_MALLOC_variable_turns_the_tuning_off_in_a_child_process()
        {
            var (code, output) = RunCli(new Dictionary<string, string> { ["MALLOC_TOP_PAD_"] = "1048576" },
                "bench", "--model", "resnet20", "--batch", "4", "--steps", "1", "--warmup-steps", "0");
            Assert.True(code == 0, output);
            Assert.Contains("glibc malloc as the MALLOC_* variables set it", output);
        }
    }
}

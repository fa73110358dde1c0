using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Training;
using Xunit;

namespace ReSTE.Samples.Tests
{
    /// <summary><c>eval --eval engine|torch|auto</c>: the same numbers on both forwards, the path named, progress printed.</summary>
    public sealed class EvalCliTests : IDisposable
    {
        readonly string _dir = Path.Combine(Path.GetTempPath(), "reste-evalcli-" + Guid.NewGuid().ToString("N"));
        static readonly string DataFolder = Cifar10.FindDefaultFolder(AppContext.BaseDirectory)
            ?? throw new DirectoryNotFoundException("../shared/data/cifar10 not found");

        public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

        [Fact]
        public void Eval_on_the_engine_and_on_TorchSharp_prints_the_same_results_names_the_path_and_shows_progress()
        {
            var outDir = Path.Combine(_dir, "run");
            var (code, stdout, err) = CliTests.Run("train", "--model", "resnet20", "--epochs", "1", "--batch", "32", "--limit", "64",
                "--test-limit", "20", "--data", DataFolder, "--out", outDir);
            Assert.True(code == 0, err + stdout);
            var ckpt = Path.Combine(outDir, Trainer.CheckpointFile);
            string[] Args(string with) => new[] { "eval", "--checkpoint", ckpt, "--test-limit", "100", "--batch", "20", "--data", DataFolder, "--eval", with };
            var (ecode, eout, eerr) = CliTests.Run(Args("engine"));
            Assert.True(ecode == 0, eerr + eout);
            var (tcode, tout, terr) = CliTests.Run(Args("torch"));
            Assert.True(tcode == 0, terr + tout);
            var numbers = new Regex(@"test: 100 images, (loss [0-9.]+, top-1 [0-9.]+%, top-5 [0-9.]+%) \([0-9.]+s, [0-9]+ img/s, ([^)]*)\)");
            var e = numbers.Match(eout);
            var t = numbers.Match(tout);
            Assert.True(e.Success, eout);
            Assert.True(t.Success, tout);
            Assert.Equal(t.Groups[1].Value, e.Groups[1].Value);
            Assert.StartsWith("XNOR engine, ", e.Groups[2].Value);
            Assert.Equal("TorchSharp: asked for", t.Groups[2].Value);
            // Redirected output: a line at each quarter of the 5 batches of 20.
            foreach (var output in new[] { eout, tout })
                Assert.Equal(new[] { "eval 40/100", "eval 60/100", "eval 80/100" },
                    output.Split('\n').Where(l => l.StartsWith("eval ", StringComparison.Ordinal)).Select(l => string.Join(' ', l.Split(' ').Take(2))).ToArray());

            // auto: the engine on a CPU with AVX-512 or AVX2 (+ FMA, BMI2), else TorchSharp saying why.
            var (acode, aout, aerr) = CliTests.Run(Args("auto"));
            Assert.True(acode == 0, aerr + aout);
            var a = numbers.Match(aout);
            Assert.True(a.Success, aout);
            Assert.Equal(t.Groups[1].Value, a.Groups[1].Value);
            Assert.Equal(ReSTE.Inference.Engine.InferenceEngine.HasFastKernels ? "XNOR engine" : "TorchSharp: this CPU has neither AVX-512 nor AVX2 with FMA and BMI2", a.Groups[2].Value.Split(',')[0]);
        }

        [Fact]
        public void An_unknown_eval_choice_is_a_usage_error()
        {
            var (code, stdout, err) = CliTests.Run("eval", "--checkpoint", "x", "--eval", "fast");
            Assert.Equal(2, code);
            Assert.Equal("", stdout);
            Assert.Contains("--eval: 'fast' is not auto, engine or torch.", err.Split('\n')[0]);
        }
    }
}

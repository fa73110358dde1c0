using System;
using System.IO;
using System.Linq;
using ReSTE.Reports;
using ReSTE.Runtime.Data;
using ReSTE.Samples;
using Xunit;

namespace ReSTE.Samples.Tests
{
    /// <summary>The <c>sweep</c> and <c>compare</c> commands end to end on ResNet-20 and a few synthetic CIFAR-10 records.</summary>
    public sealed class AnalysisCliTests : IDisposable
    {
        readonly TempDir _root = new();
        readonly string _data;

        public AnalysisCliTests()
        {
            _data = _root.File("cifar10");
            Directory.CreateDirectory(_data);
            for (int i = 1; i <= 5; i++) WriteBatch(Path.Combine(_data, $"data_batch_{i}.bin"), 8, seed: i); // 40 training images
            WriteBatch(Path.Combine(_data, "test_batch.bin"), 16, seed: 6);
        }

        public void Dispose()
        {
            _root.Dispose();
        }

        /// <summary>CIFAR-10's binary format: per record one label byte, then 3 × 32 × 32 pixel bytes.</summary>
        static void WriteBatch(string path, int records, int seed)
        {
            var random = new Random(seed);
            var bytes = new byte[records * Cifar10.RecordBytes];
            random.NextBytes(bytes);
            for (int i = 0; i < records; i++) bytes[i * Cifar10.RecordBytes] = (byte)(i % Cifar10.Classes);
            File.WriteAllBytes(path, bytes);
        }

        (int Code, string Out, string Err) Run(params string[] args)
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int code = Program.Run(args, output, error);
            return (code, output.ToString(), error.ToString());
        }

        [Fact]
        public void Sweep_trains_one_run_per_o_end_and_writes_tables_and_figures()
        {
            var outDir = _root.File("sweep");
            var (code, stdout, stderr) = Run("sweep", "--data", _data, "--epochs", "2", "--batch", "16", "--o-end", "1,3",
                "--test-limit", "16", "--bins", "12", "--out", outDir);
            Assert.True(code == 0, stdout + stderr);
            var runs = ReportTables.ReadCsv(Path.Combine(outDir, ReportTables.RunsCsv));
            Assert.Equal(new[] { "ReSTE-o1", "ReSTE-o3" }, runs.Select(r => r["run"]));
            Assert.All(runs, r => Assert.Equal("current", r["definition"]));
            var epochs = ReportTables.ReadCsv(Path.Combine(outDir, ReportTables.EpochsCsv));
            Assert.Equal(new[] { "1", "2", "1", "2" }, epochs.Select(e => e["epoch"]));
            // o during epoch 2 of 2 (index 1): 1 + (o_end − 1)(1 − cos(π/4)).
            Assert.Equal(1 + 2 * (1 - Math.Cos(Math.PI / 4)), ReportTables.ParseNumber(epochs[3]["parameter"]), 12);
            // The trainer's metrics agree with the table: best top-1 is the best of the epochs' top-1.
            foreach (var run in runs)
            {
                var mine = epochs.Where(e => e["run"] == run["run"]).Select(e => ReportTables.ParseNumber(e["top1"])).ToArray();
                Assert.Equal(mine.Max(), ReportTables.ParseNumber(run["best_top1"]));
                Assert.True(File.Exists(Path.Combine(outDir, "runs", run["run"], "metrics.csv")));
            }
            var layers = ReportTables.ReadCsv(Path.Combine(outDir, ReportTables.LayersCsv));
            int binaryLayers = layers.Count / 4;
            Assert.True(binaryLayers >= 18, $"{binaryLayers} binary layers per epoch"); // ResNet-20: 18 binary convolutions
            Assert.Equal(PngInfo.Read(Path.Combine(outDir, ReportFigures.Fig4File)), (ReportFigures.PanelRowSize.Width, ReportFigures.PanelRowSize.Height));
            Assert.Equal(PngInfo.Read(Path.Combine(outDir, ReportFigures.Fig5File)), (ReportFigures.TwoPanelSize.Width, ReportFigures.TwoPanelSize.Height));
            Assert.Equal(PngInfo.Read(Path.Combine(outDir, ReportFigures.LossFile("ReSTE-o3"))), (ReportFigures.LossSize.Width, ReportFigures.LossSize.Height));
            Assert.Contains("| ReSTE-o3 | ReSTE | 3 |", stdout);
        }

        [Fact]
        public void Compare_trains_each_estimator_with_the_reference_definition_and_checks_properties()
        {
            var outDir = _root.File("compare");
            var (code, stdout, stderr) = Run("compare", "--data", _data, "--epochs", "1", "--batch", "16", "--estimators", "ste,EDE,ReSTE",
                "--test-limit", "16", "--definition", "reference", "--out", outDir);
            Assert.True(code == 0, stdout + stderr);
            var runs = ReportTables.ReadCsv(Path.Combine(outDir, ReportTables.RunsCsv));
            Assert.Equal(new[] { "STE", "EDE", "ReSTE" }, runs.Select(r => r["run"]));
            Assert.All(runs, r => Assert.Equal("reference", r["definition"]));
            // The reference measures e with ReSTE's power function at o_end whatever the estimator.
            Assert.All(runs, r => Assert.True(double.IsFinite(ReportTables.ParseNumber(r["e"]))));
            var properties = File.ReadAllText(Path.Combine(outDir, "properties.md"));
            Assert.Contains("| ReSTE | yes | yes |", properties);
            Assert.Contains("| EDE | no |", properties);
            Assert.Equal(PngInfo.Read(Path.Combine(outDir, ReportFigures.CompareFile)), (ReportFigures.PanelRowSize.Width, ReportFigures.PanelRowSize.Height));
        }

        [Theory]
        [InlineData("sweep --o-end 1,0.5", "--o-end: '0.5' is not a number ≥ 1")]
        [InlineData("sweep --o-end 2,2", "--o-end: 2 is given twice")]
        [InlineData("compare --estimators STE,magic", "unknown estimator 'magic'")]
        [InlineData("compare --estimators STE,ste", "--estimators: STE is given twice")]
        [InlineData("sweep --definition paper", "unknown indicator definition 'paper'")]
        [InlineData("sweep --bins 0", "--bins must be ≥ 1")]
        [InlineData("compare --test-limit 0", "--test-limit must be ≥ 1")]
        [InlineData("compare --o-end 0.5", "--o-end must be a finite number ≥ 1")]
        public void Bad_arguments_are_one_line_errors(string args, string message)
        {
            var (code, _, stderr) = Run(args.Split(' ').Concat(new[] { "--data", _data }).ToArray());
            Assert.NotEqual(0, code);
            Assert.Contains(message, stderr);
        }
    }
}

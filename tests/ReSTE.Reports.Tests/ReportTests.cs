using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ReSTE.Reports;
using ReSTE.Runtime.Indicators;
using SkiaSharp;
using Xunit;

namespace ReSTE.Reports.Tests
{
    /// <summary>A sweep and a comparison trained once on the tiny model, shared by the report tests.</summary>
    public sealed class TinyExperiments : IDisposable
    {
        public const int Epochs = 3, Seed = 11;
        public static readonly double[] OEnds = { 1, 2, 3 };

        public TinyExperiments()
        {
            SweepTrainer = new TinyTrainer(Epochs);
            Sweep = ExperimentRunner.Sweep(OEnds, SweepTrainer.Train, Seed);
            CompareTrainer = new TinyTrainer(Epochs, IndicatorDefinition.Reference);
            Compare = ExperimentRunner.Compare(ExperimentRunner.DefaultEstimators, CompareTrainer.Train, Seed, oEnd: 3);
            Directory = _tmp.Path;
            SweepFiles = ReportTables.WriteAll(Path.Combine(Directory, "sweep"), Sweep).Concat(ReportFigures.WriteAll(Path.Combine(Directory, "sweep"), Sweep)).ToArray();
            CompareFiles = ReportTables.WriteAll(Path.Combine(Directory, "compare"), Compare).Concat(ReportFigures.WriteAll(Path.Combine(Directory, "compare"), Compare)).ToArray();
        }

        public TinyTrainer SweepTrainer { get; }
        public TinyTrainer CompareTrainer { get; }
        public ExperimentResult Sweep { get; }
        public ExperimentResult Compare { get; }
        readonly TempDir _tmp = new();
        public string Directory { get; }
        public IReadOnlyList<string> SweepFiles { get; }
        public IReadOnlyList<string> CompareFiles { get; }

        public void Dispose()
        {
            _tmp.Dispose();
        }
    }

    public class ReportTests : IClassFixture<TinyExperiments>
    {
        readonly TinyExperiments _x;
        public ReportTests(TinyExperiments x) => _x = x;

        static double D(string s) => ReportTables.ParseNumber(s);
        string SweepPath(string name) => Path.Combine(_x.Directory, "sweep", name);
        string ComparePath(string name) => Path.Combine(_x.Directory, "compare", name);

        [Fact]
        public void The_runner_trains_one_run_per_o_end_and_per_estimator_in_order()
        {
            Assert.Equal(new[] { "ReSTE-o1", "ReSTE-o2", "ReSTE-o3" }, _x.SweepTrainer.Calls);
            Assert.Equal(ExperimentRunner.DefaultEstimators, _x.CompareTrainer.Calls);
            Assert.Equal(TinyExperiments.OEnds, _x.Sweep.Runs.Select(r => r.OEnd));
            foreach (var run in _x.Sweep.Runs.Concat(_x.Compare.Runs))
            {
                Assert.Equal(TinyExperiments.Epochs, run.Epochs.Count);
                Assert.Equal(TinyExperiments.Epochs * (TinyTrainer.TrainSize / TinyTrainer.BatchSize), run.StepLosses.Count);
                Assert.All(run.Epochs, e => Assert.Equal(new[] { "layer1", "layer2" }, e.Layers.Select(l => l.Layer)));
            }
        }

        [Fact]
        public void Same_seed_same_initialisation_and_data_order()
        {
            // Every estimator's forward is sign: with the same initialisation and the same first batch, the first
            // step's loss is the same whatever the estimator (backward, and so later steps, differ).
            var first = _x.Compare.Runs.Select(r => r.StepLosses[0]).ToArray();
            Assert.All(first, l => Assert.Equal(first[0], l));
            var second = _x.Compare.Runs.Select(r => r.StepLosses[1]).Distinct().Count();
            Assert.True(second > 1, "later steps should differ between estimators");
        }

        [Fact]
        public void The_schedule_shows_in_the_parameter_column()
        {
            foreach (var run in _x.Sweep.Runs)
                for (int e = 0; e < TinyExperiments.Epochs; e++)
                    Assert.Equal(1 + (run.OEnd - 1) * (1 - Math.Cos(Math.PI / 2 * e / TinyExperiments.Epochs)), run.Epochs[e].Parameter, 12);
        }

        [Fact]
        public void Runs_csv_has_a_row_per_run_with_its_best_top1_and_summary()
        {
            var rows = ReportTables.ReadCsv(SweepPath(ReportTables.RunsCsv));
            Assert.Equal(_x.Sweep.Runs.Count, rows.Count);
            Assert.Equal(ReportTables.RunsHeader, File.ReadLines(SweepPath(ReportTables.RunsCsv)).First());
            for (int i = 0; i < rows.Count; i++)
            {
                var run = _x.Sweep.Runs[i];
                Assert.Equal(run.Name, rows[i]["run"]);
                Assert.Equal(run.OEnd, D(rows[i]["o_end"]));
                Assert.Equal("current", rows[i]["definition"]);
                Assert.Equal(run.Epochs.Max(e => e.Top1), D(rows[i]["best_top1"]));
                Assert.Equal(run.Epochs.Average(e => e.EstimatingError), D(rows[i]["e"]), 12);
                Assert.Equal(run.Epochs.Average(e => e.GradientInstability), D(rows[i]["s"]), 12);
            }
            var compare = ReportTables.ReadCsv(ComparePath(ReportTables.RunsCsv));
            Assert.Equal(ExperimentRunner.DefaultEstimators, compare.Select(r => r["estimator"]));
            for (int i = 0; i < compare.Count; i++)
            {
                var run = _x.Compare.Runs[i];
                Assert.Equal("reference", compare[i]["definition"]);
                // Reference: e is the mean over epochs, s the sum over epochs, each epoch's the sum over layers.
                Assert.Equal(run.Epochs.Average(e => e.Layers.Sum(l => l.EstimatingError)), D(compare[i]["e"]), 9);
                Assert.Equal(run.Epochs.Sum(e => e.Layers.Sum(l => l.GradientInstability)), D(compare[i]["s"]), 9);
            }
        }

        [Fact]
        public void Epochs_and_layers_csv_have_a_row_per_run_epoch_and_layer()
        {
            var epochs = ReportTables.ReadCsv(SweepPath(ReportTables.EpochsCsv));
            var layers = ReportTables.ReadCsv(SweepPath(ReportTables.LayersCsv));
            Assert.Equal(_x.Sweep.Runs.Count * TinyExperiments.Epochs, epochs.Count);
            Assert.Equal(_x.Sweep.Runs.Count * TinyExperiments.Epochs * 2, layers.Count);
            int row = 0, layerRow = 0;
            foreach (var run in _x.Sweep.Runs)
                foreach (var e in run.Epochs)
                {
                    var r = epochs[row++];
                    Assert.Equal((run.Name, e.Epoch), (r["run"], int.Parse(r["epoch"])));
                    Assert.Equal(e.Top1, D(r["top1"]));
                    Assert.Equal(e.TrainLoss, D(r["train_loss"]));
                    Assert.Equal(e.EstimatingError, D(r["e"]));
                    Assert.Equal(e.GradientInstability, D(r["s"]));
                    // Current: the epoch's e and s are the means over its layers.
                    Assert.Equal(e.Layers.Average(l => l.EstimatingError), e.EstimatingError, 12);
                    foreach (var l in e.Layers)
                    {
                        var lr = layers[layerRow++];
                        Assert.Equal((run.Name, e.Epoch.ToString(), l.Layer), (lr["run"], lr["epoch"], lr["layer"]));
                        Assert.Equal(l.EstimatingError, D(lr["e"]));
                        Assert.Equal(l.GradientInstability, D(lr["s"]));
                    }
                }
        }

        [Fact]
        public void Losses_and_distributions_csv_hold_every_step_and_bin()
        {
            var losses = ReportTables.ReadCsv(SweepPath(ReportTables.LossesCsv));
            Assert.Equal(_x.Sweep.Runs.Sum(r => r.StepLosses.Count), losses.Count);
            Assert.Equal(_x.Sweep.Runs[0].StepLosses[5], D(losses[5]["loss"]));
            var dist = ReportTables.ReadCsv(SweepPath(ReportTables.DistributionsCsv));
            Assert.Equal(_x.Sweep.Runs.Count * 2 * 20, dist.Count);
            var firstError = dist.Where(d => d["run"] == "ReSTE-o1" && d["quantity"] == "error").Sum(d => long.Parse(d["count"]));
            Assert.Equal((TinyTrainer.Hidden * TinyTrainer.Hidden) * 2, firstError);
        }

        [Fact]
        public void Markdown_has_a_summary_row_per_run_and_an_epoch_table_per_run()
        {
            var md = File.ReadAllText(SweepPath(ReportTables.ReportMarkdown));
            Assert.StartsWith("# Equilibrium sweep over o_end", md);
            foreach (var run in _x.Sweep.Runs)
            {
                Assert.Contains($"| {run.Name} | ReSTE | {run.OEnd} | {run.BestTop1:0.00} | {run.BestEpoch} |", md);
                Assert.Contains($"## {run.Name}: per epoch", md);
            }
            var compare = File.ReadAllText(ComparePath(ReportTables.ReportMarkdown));
            Assert.StartsWith("# Estimator comparison", compare);
            Assert.Contains("Indicator definition: reference.", compare);
            Assert.Contains("- reference: as the reference code", compare);
            Assert.Contains("- current: f is each layer's estimator at its current parameter", md);
            Assert.DoesNotContain("- reference:", md);
            foreach (var name in ExperimentRunner.DefaultEstimators) Assert.Contains($"| {name} | {name} | 3 |", compare);
        }

        [Fact]
        public void The_figures_exist_decode_and_have_the_expected_size()
        {
            var expected = new List<(string Path, FigureSize Size)>
            {
                (SweepPath(ReportFigures.Fig4File), ReportFigures.PanelRowSize),
                (SweepPath(ReportFigures.Fig5File), ReportFigures.TwoPanelSize),
                (ComparePath(ReportFigures.CompareFile), ReportFigures.PanelRowSize),
            };
            foreach (var run in _x.Sweep.Runs) expected.Add((SweepPath(ReportFigures.LossFile(run.Name)), ReportFigures.LossSize));
            foreach (var run in _x.Compare.Runs) expected.Add((ComparePath(ReportFigures.LossFile(run.Name)), ReportFigures.LossSize));
            Assert.Equal(expected.Select(e => e.Path).OrderBy(p => p), _x.SweepFiles.Concat(_x.CompareFiles).Where(f => f.EndsWith(".png")).OrderBy(p => p));

            foreach (var (path, size) in expected)
            {
                Assert.True(File.Exists(path), path);
                Assert.Equal((size.Width, size.Height), PngInfo.Read(path));
                using var bitmap = SKBitmap.Decode(path);
                Assert.NotNull(bitmap);
                Assert.Equal((size.Width, size.Height), (bitmap.Width, bitmap.Height));
                // Something was drawn: more than a handful of colours.
                var colours = new HashSet<uint>();
                for (int y = 0; y < bitmap.Height; y += 3)
                    for (int x = 0; x < bitmap.Width; x += 3)
                        colours.Add((uint)bitmap.GetPixel(x, y));
                Assert.True(colours.Count > 5, $"{path}: {colours.Count} colours");
            }
        }

        [Fact]
        public void The_csv_files_load_back_into_the_same_runs_and_redraw()
        {
            var loaded = ReportTables.Load(Path.Combine(_x.Directory, "sweep"), ExperimentKind.Sweep);
            Assert.Equal(_x.Sweep.Runs.Count, loaded.Runs.Count);
            for (int i = 0; i < loaded.Runs.Count; i++)
            {
                var (a, b) = (_x.Sweep.Runs[i], loaded.Runs[i]);
                Assert.Equal((a.Name, a.Estimator, a.OEnd, a.Definition), (b.Name, b.Estimator, b.OEnd, b.Definition));
                Assert.Equal((a.SummaryEstimatingError, a.SummaryGradientInstability), (b.SummaryEstimatingError, b.SummaryGradientInstability));
                Assert.Equal(a.StepLosses, b.StepLosses);
                Assert.Equal(a.ErrorDistribution!.Counts, b.ErrorDistribution!.Counts);
                Assert.Equal(a.GradientDistribution!.Counts, b.GradientDistribution!.Counts);
                Assert.Equal(a.ErrorDistribution.Max, b.ErrorDistribution.Max, 12);
                for (int e = 0; e < a.Epochs.Count; e++)
                {
                    var (x, y) = (a.Epochs[e], b.Epochs[e]);
                    Assert.Equal((x.Epoch, x.Parameter, x.TrainLoss, x.Top1, x.EstimatingError, x.GradientInstability),
                                 (y.Epoch, y.Parameter, y.TrainLoss, y.Top1, y.EstimatingError, y.GradientInstability));
                    Assert.Equal(x.Layers, y.Layers);
                }
            }
            // The same tables come out again.
            Assert.Equal(File.ReadAllText(SweepPath(ReportTables.LayersCsv)), ReportTables.Layers(loaded.Runs));
            Assert.Equal(File.ReadAllText(SweepPath(ReportTables.ReportMarkdown)), ReportTables.Markdown(loaded));
            var redrawn = Path.Combine(_x.Directory, "redrawn.png");
            ReportFigures.Fig4(redrawn, loaded.Runs);
            Assert.Equal((ReportFigures.PanelRowSize.Width, ReportFigures.PanelRowSize.Height), PngInfo.Read(redrawn));
        }

        [Fact]
        public void A_figure_has_exactly_its_panels()
        {
            var panels = new[] { new ScottPlot.Plot(), new ScottPlot.Plot(), new ScottPlot.Plot() };
            var multiplot = ReportFigures.Columns(panels);
            Assert.Equal(panels, multiplot.Subplots.GetPlots());
        }

        [Fact]
        public void Fig4_draws_data_in_each_third()
        {
            // Each third of Fig. 4 holds one panel (e, s, top-1) with its line in the default blue across the middle half
            // of the third; a blank panel (or a fourth panel shifting the others) leaves one without.
            using var bitmap = SKBitmap.Decode(SweepPath(ReportFigures.Fig4File));
            int third = bitmap.Width / 3;
            for (int panel = 0; panel < 3; panel++)
            {
                int blue = 0;
                for (int y = 0; y < bitmap.Height; y++)
                    for (int x = panel * third + third / 4; x < panel * third + 3 * third / 4; x++)
                    {
                        var c = bitmap.GetPixel(x, y);
                        if (c.Blue > 150 && c.Red < 80 && c.Green < 150) blue++;
                    }
                Assert.True(blue > 50, $"panel {panel}: {blue} data pixels");
            }
        }

        [Fact]
        public void A_file_that_is_not_a_png_is_an_error_naming_it()
        {
            var path = Path.Combine(_x.Directory, "not.png");
            File.WriteAllText(path, "this is not a PNG file, just text long enough");
            var ex = Assert.Throws<InvalidDataException>(() => PngInfo.Read(path));
            Assert.Contains(path, ex.Message);
        }
    }

    public class ExperimentRunnerTests
    {
        static RunRecord Run(RunSpec spec, string? name = null) => new(name ?? spec.Name, spec.Estimator, spec.OEnd, "current",
            new[] { new EpochRecord(0, 1, 1.0, 50, 2, 3, Array.Empty<LayerValue>()), new EpochRecord(1, 1, 0.5, 60, 1, 4, Array.Empty<LayerValue>()) },
            new[] { 1.0, 0.5 }, 1.5, 3.5);

        [Fact]
        public void A_trainer_returning_another_run_is_an_error_naming_both()
        {
            var ex = Assert.Throws<InvalidOperationException>(() => ExperimentRunner.Sweep(new[] { 2.0 }, s => Run(s, "other"), 1));
            Assert.Contains("'ReSTE-o2'", ex.Message);
            Assert.Contains("'other'", ex.Message);
        }

        [Fact]
        public void Bad_sweeps_are_errors()
        {
            Assert.Throws<ArgumentException>(() => ExperimentRunner.Sweep(Array.Empty<double>(), s => Run(s), 1));
            Assert.Contains("0.5", Assert.Throws<ArgumentException>(() => ExperimentRunner.Sweep(new[] { 0.5 }, s => Run(s), 1)).Message);
            Assert.Throws<ArgumentException>(() => ExperimentRunner.Sweep(new[] { 2.0, 2.0 }, s => Run(s), 1));
            Assert.Throws<ArgumentException>(() => ExperimentRunner.Compare(new[] { "STE", "ste" }, s => Run(s), 1));
        }

        [Fact]
        public void Every_run_gets_the_same_seed_and_best_top1_is_the_maximum()
        {
            var seeds = new List<int>();
            var result = ExperimentRunner.Compare(new[] { "STE", "ReSTE" }, s => { seeds.Add(s.Seed); return Run(s); }, 42);
            Assert.Equal(new[] { 42, 42 }, seeds);
            Assert.All(result.Runs, r => Assert.Equal((60.0, 1), (r.BestTop1, r.BestEpoch)));
        }

        [Fact]
        public void Histograms_count_values_into_equal_bins()
        {
            var h = Histogram.Of(new[] { 0.0, 0.1, 0.5, 0.99, 1.0, 2.0 }, 4, 0, 1);
            Assert.Equal(new long[] { 2, 0, 1, 2 }, h.Counts);
            Assert.Equal(0.125, h.Center(0));
            Assert.Equal(1.0, h.Fractions().Sum(), 12);
        }
    }
}

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using ScottPlot;

namespace ReSTE.Reports
{
    /// <summary>Pixel sizes of the figures.</summary>
    public sealed record FigureSize(int Width, int Height);

    /// <summary>
    /// The paper's figures drawn with ScottPlot as PNG:
    /// Fig. 4 (<see cref="Fig4File"/>): e, s (log10 s when it spans more than two orders of magnitude) and best
    /// top-1 against o_end, one panel each;
    /// Fig. 5 (<see cref="Fig5File"/>): the distribution of the per-weight estimating error |sign(w) − f(w)| and of the
    /// weight gradients (as log10|∂L/∂w| of the non-zero ones) at the end of training, one curve per o_end;
    /// the training loss of each run against the step (<c>loss_&lt;run&gt;.png</c>; the paper's Fig. 6 shows loss spikes at
    /// o_end = 10); for a comparison, <see cref="CompareFile"/>: best top-1, e and s per estimator as bars.
    /// </summary>
    public static class ReportFigures
    {
        public const string Fig4File = "fig4_indicators_vs_oend.png";
        public const string Fig5File = "fig5_distributions.png";
        public const string CompareFile = "compare_estimators.png";

        public static readonly FigureSize PanelRowSize = new(1500, 450);
        public static readonly FigureSize TwoPanelSize = new(1200, 450);
        public static readonly FigureSize LossSize = new(800, 450);

        /// <summary>The file name of a run's loss curve: "loss_" and the run's name with characters outside [A-Za-z0-9._-] replaced by '_'.</summary>
        public static string LossFile(string runName)
        {
            var sb = new StringBuilder("loss_");
            foreach (char c in runName) sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
            return sb.Append(".png").ToString();
        }

        /// <summary>Draws the experiment's figures into <paramref name="directory"/>; returns their paths.</summary>
        public static IReadOnlyList<string> WriteAll(string directory, ExperimentResult result)
        {
            Directory.CreateDirectory(directory);
            var files = new List<string>();
            if (result.Kind == ExperimentKind.Sweep)
            {
                files.Add(Fig4(Path.Combine(directory, Fig4File), result.Runs));
                if (result.Runs.Any(r => r.ErrorDistribution is not null || r.GradientDistribution is not null))
                    files.Add(Fig5(Path.Combine(directory, Fig5File), result.Runs));
            }
            else
            {
                files.Add(CompareBars(Path.Combine(directory, CompareFile), result.Runs));
            }
            foreach (var run in result.Runs)
                if (run.StepLosses.Count > 0 || run.Epochs.Count > 0)
                    files.Add(LossCurve(Path.Combine(directory, LossFile(run.Name)), run));
            return files;
        }

        /// <summary>Fig. 4: e, s and best top-1 (one panel each) against o_end, runs sorted by o_end.</summary>
        public static string Fig4(string path, IReadOnlyList<RunRecord> runs, FigureSize? size = null)
        {
            size ??= PanelRowSize;
            var sorted = runs.OrderBy(r => r.OEnd).ToArray();
            double[] x = sorted.Select(r => r.OEnd).ToArray();
            var multiplot = Columns(
                Panel(x, sorted.Select(r => r.SummaryEstimatingError).ToArray(), "o_end", "estimating error e", "e against o_end"),
                LogPanelIfWide(x, sorted.Select(r => r.SummaryGradientInstability).ToArray(), "o_end", "gradient instability s", "s against o_end"),
                Panel(x, sorted.Select(r => r.BestTop1).ToArray(), "o_end", "best top-1 (%)", "top-1 against o_end"));
            multiplot.SavePng(path, size.Width, size.Height);
            return path;
        }

        /// <summary>
        /// The panels side by side, left to right, and nothing else (a new <see cref="Multiplot"/> starts with an empty
        /// plot of its own, which would be drawn as a blank first panel: it is replaced by the first panel here).
        /// </summary>
        public static Multiplot Columns(params Plot[] panels)
        {
            if (panels.Length == 0) throw new ArgumentException("A figure needs at least one panel.", nameof(panels));
            var multiplot = new Multiplot(panels[0]);
            for (int i = 1; i < panels.Length; i++) multiplot.AddPlot(panels[i]);
            multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
            return multiplot;
        }

        /// <summary>
        /// A panel of y, or of log10 y when every y is positive and they span more than two orders of magnitude (s
        /// typically grows by several with o_end; on a linear axis the small values would all sit on zero).
        /// </summary>
        static Plot LogPanelIfWide(double[] x, double[] y, string xLabel, string yLabel, string title)
        {
            var finite = y.Where(double.IsFinite).ToArray();
            bool log = finite.Length > 1 && finite.All(v => v > 0) && finite.Max() / finite.Min() > 100;
            return log ? Panel(x, y.Select(Math.Log10).ToArray(), xLabel, $"log10 {yLabel}", title) : Panel(x, y, xLabel, yLabel, title);
        }

        static Plot Panel(double[] x, double[] y, string xLabel, string yLabel, string title)
        {
            var plot = new Plot();
            var scatter = plot.Add.Scatter(x, y);
            scatter.LineWidth = 2;
            scatter.MarkerSize = 8;
            plot.XLabel(xLabel);
            plot.YLabel(yLabel);
            plot.Title(title);
            return plot;
        }

        /// <summary>
        /// Fig. 5: two panels, the distribution (fraction of weights per bin) of the per-weight estimating error and of
        /// the weight gradients (<see cref="RunRecord.GradientDistribution"/>: log10|∂L/∂w| as the CLI records it) at
        /// the end of training, one curve per run, labelled by o_end.
        /// </summary>
        public static string Fig5(string path, IReadOnlyList<RunRecord> runs, FigureSize? size = null)
        {
            size ??= TwoPanelSize;
            var sorted = runs.OrderBy(r => r.OEnd).ToArray();
            var multiplot = Columns(
                DistributionPanel(sorted, r => r.ErrorDistribution, "|sign(w) − f(w)|", "distribution of the estimating error"),
                DistributionPanel(sorted, r => r.GradientDistribution, "log10 |∂L/∂w|", "distribution of the weight gradients"));
            multiplot.SavePng(path, size.Width, size.Height);
            return path;
        }

        static Plot DistributionPanel(IEnumerable<RunRecord> runs, Func<RunRecord, Histogram?> pick, string xLabel, string title)
        {
            var plot = new Plot();
            foreach (var run in runs)
            {
                var h = pick(run);
                if (h is null || h.Counts.Count == 0) continue;
                var line = plot.Add.ScatterLine(h.Centers(), h.Fractions());
                line.LineWidth = 2;
                line.LegendText = $"o_end = {ExperimentRunner.Format(run.OEnd)}";
            }
            plot.XLabel(xLabel);
            plot.YLabel("fraction of weights");
            plot.Title(title);
            plot.ShowLegend();
            return plot;
        }

        /// <summary>
        /// One run's training loss per step, or, for a run that reports no step losses (a trainer that reads the
        /// device once per epoch), its mean training loss per epoch.
        /// </summary>
        public static string LossCurve(string path, RunRecord run, FigureSize? size = null)
        {
            size ??= LossSize;
            var plot = new Plot();
            bool perStep = run.StepLosses.Count > 0;
            double[] x = perStep ? Enumerable.Range(0, run.StepLosses.Count).Select(i => (double)i).ToArray()
                                 : run.Epochs.Select(e => (double)e.Epoch).ToArray();
            double[] y = perStep ? run.StepLosses.ToArray() : run.Epochs.Select(e => e.TrainLoss).ToArray();
            var line = plot.Add.ScatterLine(x, y);
            line.LineWidth = 1.5f;
            plot.XLabel(perStep ? "step" : "epoch");
            plot.YLabel("training loss");
            plot.Title($"{run.Name}: training loss");
            plot.SavePng(path, size.Width, size.Height);
            return path;
        }

        /// <summary>A comparison: best top-1, e and s of each estimator as bars, one panel each.</summary>
        public static string CompareBars(string path, IReadOnlyList<RunRecord> runs, FigureSize? size = null)
        {
            size ??= PanelRowSize;
            string[] names = runs.Select(r => r.Name).ToArray();
            var multiplot = Columns(
                BarPanel(names, runs.Select(r => r.BestTop1).ToArray(), "best top-1 (%)"),
                BarPanel(names, runs.Select(r => r.SummaryEstimatingError).ToArray(), "estimating error e"),
                BarPanel(names, runs.Select(r => r.SummaryGradientInstability).ToArray(), "gradient instability s"));
            multiplot.SavePng(path, size.Width, size.Height);
            return path;
        }

        static Plot BarPanel(string[] names, double[] values, string title)
        {
            var plot = new Plot();
            double[] positions = Enumerable.Range(0, names.Length).Select(i => (double)i).ToArray();
            plot.Add.Bars(positions, values.Select(v => double.IsNaN(v) ? 0 : v).ToArray());
            plot.Axes.Bottom.SetTicks(positions, names);
            plot.Axes.Margins(bottom: 0);
            plot.Title(title);
            return plot;
        }
    }

    /// <summary>Reads what a PNG file says of itself, without decoding the pixels: the signature and the IHDR chunk.</summary>
    public static class PngInfo
    {
        static readonly byte[] Signature = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };

        /// <summary>Width and height from the IHDR chunk; <see cref="InvalidDataException"/> naming the file if it is not a PNG.</summary>
        public static (int Width, int Height) Read(string path)
        {
            var bytes = new byte[8 + 8 + 13];
            using (var stream = File.OpenRead(path))
            {
                int read = 0, n;
                while (read < bytes.Length && (n = stream.Read(bytes, read, bytes.Length - read)) > 0) read += n;
                if (read < bytes.Length) throw new InvalidDataException($"{path}: {read} bytes, too short for a PNG header.");
            }
            for (int i = 0; i < Signature.Length; i++)
                if (bytes[i] != Signature[i]) throw new InvalidDataException($"{path}: not a PNG file (bad signature).");
            if (Encoding.ASCII.GetString(bytes, 12, 4) != "IHDR") throw new InvalidDataException($"{path}: the first chunk is not IHDR.");
            int width = (bytes[16] << 24) | (bytes[17] << 16) | (bytes[18] << 8) | bytes[19];
            int height = (bytes[20] << 24) | (bytes[21] << 16) | (bytes[22] << 8) | bytes[23];
            return (width, height);
        }
    }
}

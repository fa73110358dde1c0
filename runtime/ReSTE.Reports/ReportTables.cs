using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace ReSTE.Reports
{
    /// <summary>
    /// The numbers of an experiment as CSV (round-trip precision, invariant culture, one header line) and as a Markdown
    /// report. File names: <see cref="RunsCsv"/> (one row per run), <see cref="EpochsCsv"/> (per run per epoch),
    /// <see cref="LayersCsv"/> (per run per epoch per layer), <see cref="LossesCsv"/> (per run per step),
    /// <see cref="DistributionsCsv"/> (per run, the end-of-training histograms) and <see cref="ReportMarkdown"/>.
    /// </summary>
    public static class ReportTables
    {
        public const string RunsCsv = "runs.csv";
        public const string EpochsCsv = "epochs.csv";
        public const string LayersCsv = "layers.csv";
        public const string LossesCsv = "losses.csv";
        public const string DistributionsCsv = "distributions.csv";
        public const string ReportMarkdown = "report.md";

        public const string RunsHeader = "run,estimator,o_end,definition,epochs,best_top1,best_epoch,e,s,final_train_loss";
        public const string EpochsHeader = "run,estimator,o_end,epoch,parameter,train_loss,top1,e,s";
        public const string LayersHeader = "run,estimator,o_end,epoch,parameter,layer,e,s";
        public const string LossesHeader = "run,step,loss";
        public const string DistributionsHeader = "run,estimator,o_end,quantity,bin,low,high,count";

        /// <summary>Writes every CSV file and the Markdown report into <paramref name="directory"/>; returns their paths.</summary>
        public static IReadOnlyList<string> WriteAll(string directory, ExperimentResult result)
        {
            Directory.CreateDirectory(directory);
            var files = new List<string>();
            void Write(string name, string text)
            {
                var path = Path.Combine(directory, name);
                File.WriteAllText(path, text, new UTF8Encoding(false));
                files.Add(path);
            }
            Write(RunsCsv, Runs(result.Runs));
            Write(EpochsCsv, Epochs(result.Runs));
            Write(LayersCsv, Layers(result.Runs));
            Write(LossesCsv, Losses(result.Runs));
            Write(DistributionsCsv, Distributions(result.Runs));
            Write(ReportMarkdown, Markdown(result));
            return files;
        }

        public static string Runs(IReadOnlyList<RunRecord> runs)
        {
            var sb = new StringBuilder().Append(RunsHeader).Append('\n');
            foreach (var r in runs)
                Row(sb, r.Name, r.Estimator, N(r.OEnd), r.Definition, r.Epochs.Count.ToString(CultureInfo.InvariantCulture), N(r.BestTop1),
                    r.BestEpoch.ToString(CultureInfo.InvariantCulture), N(r.SummaryEstimatingError), N(r.SummaryGradientInstability),
                    N(r.Epochs.Count == 0 ? double.NaN : r.Epochs[^1].TrainLoss));
            return sb.ToString();
        }

        public static string Epochs(IReadOnlyList<RunRecord> runs)
        {
            var sb = new StringBuilder().Append(EpochsHeader).Append('\n');
            foreach (var r in runs)
                foreach (var e in r.Epochs)
                    Row(sb, r.Name, r.Estimator, N(r.OEnd), I(e.Epoch), N(e.Parameter), N(e.TrainLoss), N(e.Top1), N(e.EstimatingError), N(e.GradientInstability));
            return sb.ToString();
        }

        public static string Layers(IReadOnlyList<RunRecord> runs)
        {
            var sb = new StringBuilder().Append(LayersHeader).Append('\n');
            foreach (var r in runs)
                foreach (var e in r.Epochs)
                    foreach (var l in e.Layers)
                        Row(sb, r.Name, r.Estimator, N(r.OEnd), I(e.Epoch), N(e.Parameter), l.Layer, N(l.EstimatingError), N(l.GradientInstability));
            return sb.ToString();
        }

        public static string Losses(IReadOnlyList<RunRecord> runs)
        {
            var sb = new StringBuilder().Append(LossesHeader).Append('\n');
            foreach (var r in runs)
                for (int i = 0; i < r.StepLosses.Count; i++)
                    Row(sb, r.Name, I(i), N(r.StepLosses[i]));
            return sb.ToString();
        }

        public static string Distributions(IReadOnlyList<RunRecord> runs)
        {
            var sb = new StringBuilder().Append(DistributionsHeader).Append('\n');
            foreach (var r in runs)
            {
                void Add(string quantity, Histogram? h)
                {
                    if (h is null) return;
                    for (int i = 0; i < h.Counts.Count; i++)
                        Row(sb, r.Name, r.Estimator, N(r.OEnd), quantity, I(i), N(h.Min + i * h.BinWidth), N(h.Min + (i + 1) * h.BinWidth),
                            h.Counts[i].ToString(CultureInfo.InvariantCulture));
                }
                Add("error", r.ErrorDistribution);
                Add("gradient", r.GradientDistribution);
            }
            return sb.ToString();
        }

        /// <summary>
        /// The Markdown report: a summary table (one row per run: best top-1 and the epoch it came at, summary e and s),
        /// then per run a table of its epochs (parameter, loss, top-1, e, s), then per run the last epoch's layers.
        /// </summary>
        public static string Markdown(ExperimentResult result)
        {
            var sb = new StringBuilder();
            var runs = result.Runs;
            string definition = string.Join(", ", runs.Select(r => r.Definition).Distinct());
            sb.Append(result.Kind == ExperimentKind.Sweep ? "# Equilibrium sweep over o_end\n\n" : "# Estimator comparison\n\n");
            sb.Append($"Indicator definition: {definition}. e = ‖sign(w) − f(w)‖₂ (estimating error), s = var(|∂L/∂w|) (gradient instability).\n\n");
            foreach (var d in runs.Select(r => r.Definition).Distinct())
                if (DefinitionNotes.TryGetValue(d, out var note)) sb.Append($"- {d}: {note}\n");
            sb.Append('\n');
            sb.Append("| run | estimator | o_end | best top-1 (%) | best epoch | e | s |\n");
            sb.Append("|---|---|---:|---:|---:|---:|---:|\n");
            foreach (var r in runs)
                sb.Append($"| {r.Name} | {r.Estimator} | {M(r.OEnd)} | {Top(r.BestTop1)} | {r.BestEpoch} | {M(r.SummaryEstimatingError)} | {M(r.SummaryGradientInstability)} |\n");

            foreach (var r in runs)
            {
                sb.Append($"\n## {r.Name}: per epoch\n\n");
                sb.Append("| epoch | parameter | train loss | top-1 (%) | e | s |\n");
                sb.Append("|---:|---:|---:|---:|---:|---:|\n");
                foreach (var e in r.Epochs)
                    sb.Append($"| {e.Epoch} | {M(e.Parameter)} | {M(e.TrainLoss)} | {Top(e.Top1)} | {M(e.EstimatingError)} | {M(e.GradientInstability)} |\n");
            }

            foreach (var r in runs)
            {
                if (r.Epochs.Count == 0) continue;
                var last = r.Epochs[^1];
                sb.Append($"\n## {r.Name}: per layer at epoch {last.Epoch}\n\n");
                sb.Append("| layer | e | s |\n|---|---:|---:|\n");
                foreach (var l in last.Layers)
                    sb.Append($"| {l.Layer} | {M(l.EstimatingError)} | {M(l.GradientInstability)} |\n");
            }
            return sb.ToString();
        }

        /// <summary>What e and s mean under each indicator definition, as the runtime's IndicatorDefinition documents it.</summary>
        public static readonly IReadOnlyDictionary<string, string> DefinitionNotes = new Dictionary<string, string>
        {
            ["current"] = "f is each layer's estimator at its current parameter (o of the epoch); per epoch, e and s are means over the layers; per run, means over the epochs.",
            ["reference"] = "as the reference code: f is ReSTE's sign(w)|w|^(1/o_end) at the run's o_end whatever the epoch and estimator; per epoch, e and s are sums over the layers; per run, e is the mean over epochs and s the sum over epochs.",
        };

        /// <summary>
        /// Reads back the runs that <see cref="WriteAll"/> wrote into <paramref name="directory"/> (runs, epochs,
        /// layers, losses and distributions CSV files), so that tables and figures can be redrawn from the numbers
        /// alone, on a machine without TorchSharp. Numbers come back exactly (they are written in round-trip form).
        /// </summary>
        public static ExperimentResult Load(string directory, ExperimentKind kind)
        {
            string P(string name) => Path.Combine(directory, name);
            var epochRows = ReadCsv(P(EpochsCsv));
            var layerRows = ReadCsv(P(LayersCsv));
            var lossRows = ReadCsv(P(LossesCsv));
            var distRows = ReadCsv(P(DistributionsCsv));
            var runs = new List<RunRecord>();
            foreach (var r in ReadCsv(P(RunsCsv)))
            {
                string name = r["run"];
                var epochs = epochRows.Where(e => e["run"] == name).Select(e =>
                {
                    string epoch = e["epoch"];
                    var layers = layerRows.Where(l => l["run"] == name && l["epoch"] == epoch)
                        .Select(l => new LayerValue(l["layer"], ParseNumber(l["e"]), ParseNumber(l["s"]))).ToArray();
                    return new EpochRecord(int.Parse(epoch, CultureInfo.InvariantCulture), ParseNumber(e["parameter"]), ParseNumber(e["train_loss"]),
                        ParseNumber(e["top1"]), ParseNumber(e["e"]), ParseNumber(e["s"]), layers);
                }).ToArray();
                var losses = lossRows.Where(l => l["run"] == name).OrderBy(l => int.Parse(l["step"], CultureInfo.InvariantCulture))
                    .Select(l => ParseNumber(l["loss"])).ToArray();
                Histogram? Dist(string quantity)
                {
                    var bins = distRows.Where(d => d["run"] == name && d["quantity"] == quantity)
                        .OrderBy(d => int.Parse(d["bin"], CultureInfo.InvariantCulture)).ToArray();
                    if (bins.Length == 0) return null;
                    return new Histogram(ParseNumber(bins[0]["low"]), ParseNumber(bins[^1]["high"]),
                        bins.Select(d => long.Parse(d["count"], CultureInfo.InvariantCulture)).ToArray());
                }
                runs.Add(new RunRecord(name, r["estimator"], ParseNumber(r["o_end"]), r["definition"], epochs, losses,
                    ParseNumber(r["e"]), ParseNumber(r["s"]), Dist("error"), Dist("gradient")));
            }
            return new ExperimentResult(kind, runs);
        }

        /// <summary>Reads a CSV file written here into rows of named fields (the header names the fields).</summary>
        public static IReadOnlyList<IReadOnlyDictionary<string, string>> ReadCsv(string path)
        {
            var lines = File.ReadAllLines(path);
            if (lines.Length == 0) throw new InvalidDataException($"{path}: empty CSV file (no header).");
            var header = SplitCsv(lines[0]);
            var rows = new List<IReadOnlyDictionary<string, string>>();
            for (int i = 1; i < lines.Length; i++)
            {
                if (lines[i].Length == 0) continue;
                var fields = SplitCsv(lines[i]);
                if (fields.Count != header.Count)
                    throw new InvalidDataException($"{path}:{i + 1}: {fields.Count} fields, the header has {header.Count}.");
                var row = new Dictionary<string, string>(header.Count);
                for (int j = 0; j < header.Count; j++) row[header[j]] = fields[j];
                rows.Add(row);
            }
            return rows;
        }

        /// <summary>Parses a number as written to these CSV files ("NaN" included).</summary>
        public static double ParseNumber(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

        static List<string> SplitCsv(string line)
        {
            var fields = new List<string>();
            var sb = new StringBuilder();
            bool quoted = false;
            for (int i = 0; i < line.Length; i++)
            {
                char c = line[i];
                if (quoted)
                {
                    if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                    else if (c == '"') quoted = false;
                    else sb.Append(c);
                }
                else if (c == '"') quoted = true;
                else if (c == ',') { fields.Add(sb.ToString()); sb.Clear(); }
                else sb.Append(c);
            }
            fields.Add(sb.ToString());
            return fields;
        }

        static void Row(StringBuilder sb, params string[] fields)
        {
            for (int i = 0; i < fields.Length; i++)
            {
                if (i > 0) sb.Append(',');
                var f = fields[i];
                if (f.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0) sb.Append('"').Append(f.Replace("\"", "\"\"")).Append('"');
                else sb.Append(f);
            }
            sb.Append('\n');
        }

        /// <summary>A number in round-trip form.</summary>
        internal static string N(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        /// <summary>A number for reading: 4 significant digits.</summary>
        internal static string M(double v) => double.IsNaN(v) ? "n/a" : v.ToString("G4", CultureInfo.InvariantCulture);
        static string Top(double v) => double.IsNaN(v) ? "n/a" : v.ToString("0.00", CultureInfo.InvariantCulture);
    }
}

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using TorchSharp;

namespace ReSTE.Runtime.Training
{
    /// <summary>
    /// One line per completed epoch in <c>metrics.csv</c> and/or <c>metrics.jsonl</c> in a folder. Each file is
    /// rewritten whole (temporary file, rename) at every epoch, so that a kill leaves the previous version intact;
    /// when a run resumes, both are rewritten from the epochs its checkpoint records (<see cref="ITrainerHook.OnResume"/>),
    /// so that they end with each epoch exactly once.
    /// </summary>
    public sealed class MetricsFileHook : ITrainerHook
    {
        public const string CsvFile = "metrics.csv";
        public const string JsonlFile = "metrics.jsonl";
        public static readonly string[] Columns =
        {
            "epoch", "lr", "o", "train_loss", "train_top1", "test_loss", "test_top1", "test_top5", "best_top1",
            "train_seconds", "eval_seconds", "images_per_second", "e", "s",
        };

        readonly string? _csv, _jsonl;
        readonly List<(int Epoch, string Csv, string Json)> _rows = new();

        public MetricsFileHook(string directory, bool csv = true, bool jsonl = true)
        {
            Directory.CreateDirectory(directory);
            _csv = csv ? Path.Combine(directory, CsvFile) : null;
            _jsonl = jsonl ? Path.Combine(directory, JsonlFile) : null;
        }

        static double[] Values(EpochMetrics m) => new double[]
        {
            m.Epoch, m.LearningRate, m.EstimatorParameter, m.TrainLoss, m.TrainTop1, m.TestLoss, m.TestTop1, m.TestTop5,
            m.BestTop1, m.TrainSeconds, m.EvalSeconds, m.ImagesPerSecond, m.EstimatingError, m.GradientInstability,
        };

        public void OnResume(IReadOnlyList<EpochMetrics> completed)
        {
            _rows.Clear();
            foreach (var m in completed) _rows.Add(Row(m));
            Write();
        }

        public void OnEpoch(EpochMetrics m)
        {
            // An epoch run again (after a resume) replaces its row and any after it.
            _rows.RemoveAll(r => r.Epoch >= m.Epoch);
            _rows.Add(Row(m));
            Write();
        }

        void Write()
        {
            if (_csv is not null)
            {
                var sb = new StringBuilder(string.Join(',', Columns)).Append('\n');
                foreach (var r in _rows) sb.Append(r.Csv).Append('\n');
                var bytes = Encoding.UTF8.GetBytes(sb.ToString());
                Checkpoint.WriteAtomically(_csv, s => s.Write(bytes, 0, bytes.Length));
            }
            if (_jsonl is not null)
            {
                var sb = new StringBuilder();
                foreach (var r in _rows) sb.Append(r.Json).Append('\n');
                var bytes = Encoding.UTF8.GetBytes(sb.ToString());
                Checkpoint.WriteAtomically(_jsonl, s => s.Write(bytes, 0, bytes.Length));
            }
        }

        static (int, string, string) Row(EpochMetrics m)
        {
            var values = Values(m);
            var sb = new StringBuilder();
            for (int i = 0; i < values.Length; i++)
            {
                if (i > 0) sb.Append(',');
                if (!double.IsNaN(values[i])) sb.Append(values[i].ToString("G9", CultureInfo.InvariantCulture));
            }
            using var ms = new MemoryStream();
            using (var w = new Utf8JsonWriter(ms))
            {
                w.WriteStartObject();
                for (int i = 0; i < values.Length; i++)
                {
                    if (double.IsNaN(values[i])) w.WriteNull(Columns[i]);
                    else if (i == 0) w.WriteNumber(Columns[i], (int)values[i]);
                    else w.WriteNumber(Columns[i], values[i]);
                }
                if (m.Layers.Count > 0)
                {
                    w.WriteStartObject("layers");
                    foreach (var l in m.Layers)
                    {
                        w.WriteStartObject(l.Layer);
                        WriteNumberOrNull(w, "e", l.EstimatingError);
                        WriteNumberOrNull(w, "s", l.GradientInstability);
                        w.WriteEndObject();
                    }
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            return (m.Epoch, sb.ToString(), Encoding.UTF8.GetString(ms.ToArray()));
        }

        static void WriteNumberOrNull(Utf8JsonWriter w, string name, double v)
        {
            if (double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
        }
    }

    /// <summary>TensorBoard event files through TorchSharp's SummaryWriter: scalars per epoch.</summary>
    public sealed class TensorBoardHook : ITrainerHook
    {
        readonly TorchSharp.Modules.SummaryWriter _writer;

        public TensorBoardHook(string logDirectory)
        {
            Directory.CreateDirectory(logDirectory);
            _writer = torch.utils.tensorboard.SummaryWriter(logDirectory);
            LogDirectory = logDirectory;
        }

        public string LogDirectory { get; }

        public void OnEpoch(EpochMetrics m)
        {
            void Add(string tag, double v) { if (double.IsFinite(v)) _writer.add_scalar(tag, (float)v, m.Epoch); }
            Add("train/loss", m.TrainLoss);
            Add("train/top1", m.TrainTop1);
            Add("test/loss", m.TestLoss);
            Add("test/top1", m.TestTop1);
            Add("test/top5", m.TestTop5);
            Add("test/best_top1", m.BestTop1);
            Add("schedule/lr", m.LearningRate);
            Add("schedule/o", m.EstimatorParameter);
            Add("speed/images_per_second", m.ImagesPerSecond);
            Add("indicators/e", m.EstimatingError);
            Add("indicators/s", m.GradientInstability);
            foreach (var l in m.Layers)
            {
                Add($"indicators_e/{l.Layer}", l.EstimatingError);
                Add($"indicators_s/{l.Layer}", l.GradientInstability);
            }
        }
    }

    /// <summary>
    /// Progress on the console: on a terminal, a bar redrawn in place with the step, rate (img/s) and ETA; when
    /// output is redirected, plain lines (one every <see cref="LinesEvery"/> of the epoch) so that logs stay readable.
    /// One line per epoch with the results either way.
    /// </summary>
    public sealed class ConsoleProgressHook : ITrainerHook
    {
        readonly TextWriter _out;
        readonly bool _interactive;
        readonly Stopwatch _epochClock = new();
        readonly Stopwatch _redraw = new();
        int _startStep;

        public ConsoleProgressHook(TextWriter? output = null, bool? interactive = null)
        {
            _out = output ?? Console.Out;
            _interactive = interactive ?? (output is null && !Console.IsOutputRedirected);
        }

        /// <summary>When redirected: a progress line at every quarter of an epoch.</summary>
        public int LinesEvery { get; init; } = 4;

        static string Fmt(double v, string f = "F2") => v.ToString(f, CultureInfo.InvariantCulture);

        static string Eta(double seconds)
        {
            if (!double.IsFinite(seconds) || seconds < 0) return "--:--";
            var t = TimeSpan.FromSeconds(seconds);
            return t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}" : $"{t.Minutes:D2}:{t.Seconds:D2}";
        }

        public void OnEpochStart(int epoch, int firstStep, int steps)
        {
            _epochClock.Restart();
            _redraw.Restart();
            _startStep = firstStep;
        }

        public void OnStep(int epoch, int step, int steps, int batchSize)
        {
            int done = step + 1 - _startStep;
            double secs = _epochClock.Elapsed.TotalSeconds;
            double rate = done * batchSize / Math.Max(secs, 1e-9);
            double eta = secs / done * (steps - step - 1);
            if (_interactive)
            {
                if (_redraw.ElapsedMilliseconds < 200 && step + 1 < steps) return;
                _redraw.Restart();
                const int width = 30;
                int filled = (int)((double)(step + 1) / steps * width);
                _out.Write($"\repoch {epoch + 1} [{new string('#', filled)}{new string('-', width - filled)}] {step + 1}/{steps} {Fmt(rate, "F0")} img/s ETA {Eta(eta)}   ");
                _out.Flush();
            }
            else
            {
                int every = Math.Max(1, steps / Math.Max(1, LinesEvery));
                if ((step + 1) % every == 0 && step + 1 < steps)
                    _out.WriteLine($"epoch {epoch + 1} step {step + 1}/{steps} {Fmt(rate, "F0")} img/s ETA {Eta(eta)}");
            }
        }

        public void OnEvalStart(int epoch)
        {
            if (_interactive) { _out.Write("\r" + new string(' ', 90) + "\r"); _out.Flush(); }
        }

        public void OnEpoch(EpochMetrics m)
        {
            var test = double.IsNaN(m.TestTop1)
                ? "(no test source) "
                : $"test {Fmt(m.TestTop1)}% top5 {Fmt(m.TestTop5)}% best {Fmt(m.BestTop1)}% ";
            var line = $"epoch {m.Epoch}/{m.Epochs} lr {Fmt(m.LearningRate, "F4")} " +
                       (double.IsNaN(m.EstimatorParameter) ? "" : $"o {Fmt(m.EstimatorParameter, "F3")} ") +
                       $"loss {Fmt(m.TrainLoss, "F4")} train {Fmt(m.TrainTop1)}% {test}" +
                       $"({Fmt(m.TrainSeconds, "F1")}s train, {Fmt(m.EvalSeconds, "F1")}s eval, {Fmt(m.ImagesPerSecond, "F0")} img/s)";
            if (!double.IsNaN(m.EstimatingError)) line += $" e {Fmt(m.EstimatingError, "F4")} s {m.GradientInstability.ToString("G4", CultureInfo.InvariantCulture)}";
            _out.WriteLine(line);
        }

        public void OnEnd(TrainResult result)
        {
            if (_interactive) { _out.Write("\r" + new string(' ', 90) + "\r"); }
            _out.WriteLine(result.Message);
        }
    }
}

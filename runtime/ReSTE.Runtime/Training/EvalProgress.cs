using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;

namespace ReSTE.Runtime.Training
{
    /// <summary>
    /// Progress of an evaluation on the console, as <see cref="ConsoleProgressHook"/> shows training: on a terminal a
    /// bar redrawn in place (images done, img/s, ETA) and erased at the end; when output is redirected, a plain line
    /// at each quarter. Feed it <see cref="Report"/> with (images done, total); a report of 0 starts a new evaluation.
    /// </summary>
    public sealed class EvalProgress
    {
        readonly TextWriter _out;
        readonly bool _interactive;
        readonly string _label;
        readonly Stopwatch _clock = new(), _redraw = new();
        int _nextQuarter;

        public EvalProgress(TextWriter? output = null, bool? interactive = null, string label = "eval")
        {
            _out = output ?? Console.Out;
            _interactive = interactive ?? (output is null && !Console.IsOutputRedirected);
            _label = label;
        }

        /// <summary>When redirected: this many lines per evaluation, the last one before the end (4: one per quarter).</summary>
        public int LinesEvery { get; init; } = 4;

        static string Eta(double seconds)
        {
            if (!double.IsFinite(seconds) || seconds < 0) return "--:--";
            var t = TimeSpan.FromSeconds(seconds);
            return t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}" : $"{t.Minutes:D2}:{t.Seconds:D2}";
        }

        static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

        /// <summary>Images <paramref name="done"/> of <paramref name="total"/>.</summary>
        public void Report(int done, int total)
        {
            if (done <= 0 || !_clock.IsRunning)
            {
                _clock.Restart(); _redraw.Restart(); _nextQuarter = 1;
                if (done <= 0) return;
            }
            double secs = _clock.Elapsed.TotalSeconds;
            double rate = done / Math.Max(secs, 1e-9);
            double eta = (total - done) / Math.Max(rate, 1e-9);
            string rateText = rate.ToString("F0", CultureInfo.InvariantCulture);
            if (_interactive)
            {
                if (done >= total)
                {
                    _out.Write("\r" + new string(' ', 90) + "\r");
                    _out.Flush();
                    _clock.Reset();
                    return;
                }
                if (_redraw.ElapsedMilliseconds < 200) return;
                _redraw.Restart();
                const int width = 30;
                int filled = (int)((double)done / total * width);
                _out.Write($"\r{_label} [{new string('#', filled)}{new string('-', width - filled)}] {N(done)}/{N(total)} {rateText} img/s ETA {Eta(eta)}   ");
                _out.Flush();
            }
            else
            {
                int lines = Math.Max(1, LinesEvery);
                while (_nextQuarter < lines && done >= (long)total * _nextQuarter / lines)
                {
                    if (done < total) _out.WriteLine($"{_label} {N(done)}/{N(total)} images {rateText} img/s ETA {Eta(eta)}");
                    _nextQuarter++;
                }
                if (done >= total) _clock.Reset();
            }
        }
    }
}

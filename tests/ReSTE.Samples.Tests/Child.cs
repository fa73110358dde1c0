using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace ReSTE.Samples.Tests
{
    /// <summary>The samples CLI in a child process (<c>dotnet ReSTE.Samples.dll …</c>), to signal and kill it.</summary>
    sealed class Child : IDisposable
    {
        readonly Process _p;
        readonly StringBuilder _out = new(), _err = new();
        readonly object _gate = new();

        Child(Process p)
        {
            _p = p;
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) { _out.AppendLine(e.Data); Monitor.PulseAll(_gate); } };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) { _err.AppendLine(e.Data); Monitor.PulseAll(_gate); } };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
        }

        public static Child Start(string[] args, params (string Key, string Value)[] environment)
        {
            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
            var psi = new ProcessStartInfo(host)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                WorkingDirectory = Path.GetTempPath(),
            };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ReSTE.Samples.dll"));
            foreach (var a in args) psi.ArgumentList.Add(a);
            foreach (var (k, v) in environment) psi.Environment[k] = v;
            return new Child(Process.Start(psi) ?? throw new InvalidOperationException("could not start the samples CLI"));
        }

        public int Pid => _p.Id;
        public string Output { get { lock (_gate) return _out.ToString(); } }
        public string Error { get { lock (_gate) return _err.ToString(); } }

        /// <summary>Waits until the output holds <paramref name="marker"/> (or the process ends: then throws with its output).</summary>
        public void WaitFor(string marker, TimeSpan timeout)
        {
            var until = DateTime.UtcNow + timeout;
            lock (_gate)
            {
                while (!_out.ToString().Contains(marker, StringComparison.Ordinal))
                {
                    if (_p.HasExited) throw new InvalidOperationException($"the child ended (exit {_p.ExitCode}) before '{marker}': {_out} {_err}");
                    var left = until - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) throw new TimeoutException($"no '{marker}' after {timeout}: {_out} {_err}");
                    Monitor.Wait(_gate, TimeSpan.FromMilliseconds(Math.Min(200, left.TotalMilliseconds)));
                }
            }
        }

        [DllImport("libc", SetLastError = true)]
        static extern int kill(int pid, int sig);

        /// <summary>Sends a POSIX signal (15: SIGTERM, 9: SIGKILL).</summary>
        public void Signal(int signal)
        {
            if (kill(_p.Id, signal) != 0) throw new InvalidOperationException($"kill({_p.Id}, {signal}) failed: errno {Marshal.GetLastWin32Error()}");
        }

        public int WaitForExit(TimeSpan timeout)
        {
            if (!_p.WaitForExit(timeout)) { _p.Kill(); throw new TimeoutException($"the child did not end within {timeout}: {Output} {Error}"); }
            _p.WaitForExit(); // flushes the redirected output
            return _p.ExitCode;
        }

        public void Dispose()
        {
            try { if (!_p.HasExited) { _p.Kill(); _p.WaitForExit(); } } catch (InvalidOperationException) { }
            _p.Dispose();
        }
    }
}

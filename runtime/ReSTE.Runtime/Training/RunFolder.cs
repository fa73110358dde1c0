using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace ReSTE.Runtime.Training
{
    /// <summary>A run folder that another live process holds.</summary>
    public sealed class RunFolderBusyException : IOException
    {
        public RunFolderBusyException(string folder, string holder)
            : base($"run folder '{folder}' is in use by {holder}; wait for that run to end or pick another --out.")
        {
            Folder = folder; Holder = holder;
        }

        public string Folder { get; }
        public string Holder { get; }
    }

    /// <summary>
    /// A run folder held by this process: an exclusive lock on <c>.run.lock</c> (released by the kernel when the
    /// process ends, however it ends) and <c>run.lock</c> naming the holder (pid, start time, host, command) for the
    /// message another run gets. A <c>run.lock</c> left by a process that is no longer running is stale and replaced;
    /// temporary files of processes that are no longer running (<c>.NAME.PID.tmp</c>) are removed when the folder is
    /// taken. Disposing releases the lock.
    /// </summary>
    public sealed class RunFolder : IDisposable
    {
        /// <summary>Names the holder (human-readable; removed when the run ends).</summary>
        public const string LockFile = "run.lock";
        /// <summary>The file the exclusive lock is taken on (never removed: removing it would let two runs lock two files).</summary>
        public const string LockHandleFile = ".run.lock";

        static readonly Regex TempName = new(@"^\..+\.(\d+)\.tmp$", RegexOptions.CultureInvariant);

        readonly FileStream _handle;
        readonly string _info;

        readonly bool _created;

        RunFolder(string path, FileStream handle, string info, string? staleHolder, IReadOnlyList<string> removed, bool created)
        {
            Path = path; _handle = handle; _info = info; StaleHolder = staleHolder; RemovedTemporaries = removed; _created = created;
        }

        /// <summary>The folder (full path).</summary>
        public string Path { get; }
        /// <summary>The holder named by a stale <c>run.lock</c> that was replaced, or null.</summary>
        public string? StaleHolder { get; }
        /// <summary>Temporary files of dead processes removed when the folder was taken.</summary>
        public IReadOnlyList<string> RemovedTemporaries { get; }

        /// <summary>
        /// Creates <paramref name="folder"/> if needed and takes it for this process, or throws
        /// <see cref="RunFolderBusyException"/> naming the live holder.
        /// </summary>
        public static RunFolder Acquire(string folder, string? command = null)
        {
            var full = System.IO.Path.GetFullPath(folder);
            bool created = !Directory.Exists(full);
            Directory.CreateDirectory(full);
            var handlePath = System.IO.Path.Combine(full, LockHandleFile);
            var infoPath = System.IO.Path.Combine(full, LockFile);
            FileStream handle;
            try { handle = new FileStream(handlePath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && !(e is PathTooLongException))
            {
                throw new RunFolderBusyException(full, DescribeHolder(infoPath) ?? "another process (its run.lock is not written yet)");
            }
            try
            {
                string? stale = null;
                var previous = ReadInfo(infoPath);
                if (previous is not null)
                {
                    // The kernel lock is ours, so the holder it names has ended, unless this file system ignores
                    // locks: then the pid decides.
                    if (previous.Pid != Environment.ProcessId && IsRunning(previous.Pid, previous.StartTicks))
                        throw new RunFolderBusyException(full, previous.Describe());
                    stale = previous.Describe();
                }
                var me = Process.GetCurrentProcess();
                var info = string.Join("\n",
                    $"pid {Environment.ProcessId}",
                    $"start {me.StartTime.ToUniversalTime().Ticks.ToString(CultureInfo.InvariantCulture)}",
                    $"since {me.StartTime.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC",
                    $"host {Environment.MachineName}",
                    $"command {command ?? string.Join(' ', Environment.GetCommandLineArgs())}") + "\n";
                Checkpoint.WriteAtomically(infoPath, s => { var b = System.Text.Encoding.UTF8.GetBytes(info); s.Write(b, 0, b.Length); });
                var removed = RemoveStaleTemporaries(full);
                return new RunFolder(full, handle, info, stale, removed, created);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Throws <see cref="RunFolderBusyException"/> when <c>run.lock</c> in <paramref name="folder"/> names a process
        /// that is running; creates and changes nothing (a check before <see cref="Acquire"/>, which decides).
        /// </summary>
        public static void ThrowIfBusy(string folder)
        {
            var full = System.IO.Path.GetFullPath(folder);
            var info = ReadInfo(System.IO.Path.Combine(full, LockFile));
            if (info is not null && info.Pid != Environment.ProcessId && IsRunning(info.Pid, info.StartTicks))
                throw new RunFolderBusyException(full, info.Describe());
        }

        /// <summary>Removes <c>.NAME.PID.tmp</c> files in <paramref name="folder"/> whose process is not running; returns their names.</summary>
        public static IReadOnlyList<string> RemoveStaleTemporaries(string folder)
        {
            var removed = new List<string>();
            if (!Directory.Exists(folder)) return removed;
            foreach (var file in Directory.EnumerateFiles(folder))
            {
                var name = System.IO.Path.GetFileName(file);
                var m = TempName.Match(name);
                if (!m.Success || !int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
                if (pid == Environment.ProcessId || IsRunning(pid, null)) continue;
                try { File.Delete(file); removed.Add(name); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
            return removed;
        }

        sealed record HolderInfo(int Pid, long? StartTicks, string Text)
        {
            public string Describe() => Text;
        }

        static HolderInfo? ReadInfo(string infoPath)
        {
            string[] lines;
            try { lines = File.ReadAllLines(infoPath); }
            catch (FileNotFoundException) { return null; }
            catch (IOException) { return null; }
            int pid = -1; long? start = null;
            string? since = null, host = null, command = null;
            foreach (var line in lines)
            {
                int sp = line.IndexOf(' ');
                if (sp < 0) continue;
                var (k, v) = (line[..sp], line[(sp + 1)..]);
                switch (k)
                {
                    case "pid": int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out pid); break;
                    case "start": if (long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var t)) start = t; break;
                    case "since": since = v; break;
                    case "host": host = v; break;
                    case "command": command = v; break;
                }
            }
            if (pid <= 0) return new HolderInfo(-1, null, $"an unknown process (unreadable {LockFile})");
            var text = $"pid {pid}" + (host is not null ? $" on {host}" : "") + (since is not null ? $", started {since}" : "") +
                       (command is not null ? $" ({command})" : "");
            return new HolderInfo(pid, start, text);
        }

        static string? DescribeHolder(string infoPath)
        {
            // The holder writes run.lock right after taking the lock: give it a moment.
            for (int i = 0; i < 20; i++)
            {
                var info = ReadInfo(infoPath);
                if (info is not null) return info.Describe();
                System.Threading.Thread.Sleep(25);
            }
            return null;
        }

        /// <summary>Whether a process with this pid runs (and, when known, started at these UTC ticks, so a reused pid is not taken for it).</summary>
        static bool IsRunning(int pid, long? startTicks)
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                if (p.HasExited) return false;
                if (startTicks is long ticks)
                {
                    try { return Math.Abs(p.StartTime.ToUniversalTime().Ticks - ticks) < TimeSpan.TicksPerSecond; }
                    catch (InvalidOperationException) { return false; }
                }
                return true;
            }
            catch (ArgumentException) { return false; }
            catch (InvalidOperationException) { return false; }
        }

        public void Dispose()
        {
            try
            {
                // run.lock goes only if it still names us.
                var infoPath = System.IO.Path.Combine(Path, LockFile);
                if (File.Exists(infoPath) && File.ReadAllText(infoPath) == _info) File.Delete(infoPath);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            _handle.Dispose();
            // A run that ended before writing anything (refused, or failed while loading) leaves no folder it created.
            try
            {
                if (_created && Directory.EnumerateFileSystemEntries(Path).All(e => System.IO.Path.GetFileName(e) == LockHandleFile))
                {
                    File.Delete(System.IO.Path.Combine(Path, LockHandleFile));
                    Directory.Delete(Path);
                }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }
}

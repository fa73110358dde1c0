using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;

namespace ReSTE.Samples
{
    public static class Program
    {
        /// <summary>The exit code after SIGTERM (128 + 15, as a shell reports a process ended by it): the run saved its step first.</summary>
        public const int Terminated = 143;

        public static int Main(string[] args)
        {
            using var cts = new CancellationTokenSource();
            int signal = 0;
            void Stop(int number, string name, string how)
            {
                signal = number;
                cts.Cancel();
                Console.Error.WriteLine($"\n{name}: saving and stopping after this step ({how}).");
            }
            // The first Ctrl-C (SIGINT) or SIGTERM (docker stop, systemd, schedulers) asks the run to save and stop at
            // the next step; a second one ends the process at once.
            ConsoleCancelEventHandler handler = (_, e) =>
            {
                if (cts.IsCancellationRequested) return;
                e.Cancel = true;
                Stop(2, "Ctrl-C", "Ctrl-C again to abort");
            };
            Console.CancelKeyPress += handler;
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
            {
                if (cts.IsCancellationRequested) return;
                ctx.Cancel = true;
                Stop(15, "SIGTERM", "a second SIGTERM aborts");
            });
            try
            {
                int code = Run(args, Console.Out, Console.Error, cts.Token);
                return code == Commands.Interrupted && signal == 15 ? Terminated : code;
            }
            finally { Console.CancelKeyPress -= handler; }
        }

        /// <summary>
        /// One line for any failure: the message (which names the file, tensor, record or value), its first line only;
        /// a library's own exception types (libtorch's, out of memory) are named so that the line says where it came from.
        /// </summary>
        public static string OneLine(Exception e)
        {
            while (e is AggregateException { InnerExceptions.Count: 1 } a) e = a.InnerExceptions[0];
            while (e is System.Reflection.TargetInvocationException { InnerException: { } inner }) e = inner;
            var message = e.Message.Replace("\r", "").Split('\n', StringSplitOptions.RemoveEmptyEntries) is { Length: > 0 } lines ? lines[0].Trim() : "";
            return e switch
            {
                IOException or InvalidDataException or InvalidOperationException or ArgumentException or UnauthorizedAccessException
                    or NotSupportedException or FormatException or OverflowException => message,
                OutOfMemoryException => $"out of memory: {message}",
                ExternalException => $"libtorch: {message}",
                _ => $"{e.GetType().Name}: {message}",
            };
        }

        /// <summary>The whole program, with its output and cancellation given (tests call this).</summary>
        public static int Run(string[] args, TextWriter output, TextWriter error, CancellationToken cancel = default)
        {
            var commands = new Commands(output, cancel);
            int Guard(Func<int> action)
            {
                try { return action(); }
                catch (Exception e)
                {
                    output.Flush();
                    error.WriteLine($"{Cli.AppName}: {OneLine(e)}");
                    return Commands.Failed;
                }
            }
            var root = Cli.Build(r => Guard(() => commands.Train(r)), r => Guard(() => commands.Eval(r)), r => Guard(() => commands.Bench(r)));
            Analysis.AnalysisCli.Register(root, output, cancel, Guard);
            DeployCommands.Register(root, output, Guard);
            return Cli.Run(args, root, output, error);
        }
    }
}

using System;
using System.IO;
using System.Threading;

namespace ReSTE.Samples
{
    public static class Program
    {
        public static int Main(string[] args)
        {
            using var cts = new CancellationTokenSource();
            // The first Ctrl-C asks the run to save and stop at the next step; a second one ends the process.
            ConsoleCancelEventHandler handler = (_, e) =>
            {
                if (cts.IsCancellationRequested) return;
                e.Cancel = true;
                cts.Cancel();
                Console.Error.WriteLine("\nCtrl-C: saving and stopping after this step (Ctrl-C again to abort).");
            };
            Console.CancelKeyPress += handler;
            try { return Run(args, Console.Out, Console.Error, cts.Token); }
            finally { Console.CancelKeyPress -= handler; }
        }

        /// <summary>The whole program, with its output and cancellation given (tests call this).</summary>
        public static int Run(string[] args, TextWriter output, TextWriter error, CancellationToken cancel = default)
        {
            var commands = new Commands(output, cancel);
            int Guard(Func<int> action)
            {
                try { return action(); }
                catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or ArgumentException or UnauthorizedAccessException)
                {
                    output.Flush();
                    error.WriteLine($"{Cli.AppName}: {e.Message}");
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

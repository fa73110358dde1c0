using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Training;

namespace ReSTE.Samples
{
    /// <summary>
    /// The run-folder rules of <c>train</c>, checked before any data is loaded or any file written: a fresh run refuses
    /// a folder that holds another run unless <c>--overwrite</c>; <c>--resume</c> (a run folder or its checkpoint)
    /// refuses any setting that differs from the checkpoint's run, naming each; the folder is locked for the run.
    /// </summary>
    static class RunSetup
    {
        /// <summary>The files a run writes into its folder (what <c>--overwrite</c> replaces).</summary>
        public static readonly string[] RunFiles = { Trainer.CheckpointFile, Trainer.PreviousCheckpointFile, Trainer.BestWeightsFile, MetricsFileHook.CsvFile, MetricsFileHook.JsonlFile };
        public const string TensorBoardFolder = "tensorboard";

        /// <summary>The checkpoint that <c>--resume</c> names: the path itself, or the checkpoint of a run folder.</summary>
        public static string CheckpointOf(string resume)
        {
            if (Directory.Exists(resume))
            {
                var inside = Path.Combine(resume, Trainer.CheckpointFile);
                return File.Exists(inside) ? inside
                    : throw new FileNotFoundException($"--resume: run folder '{resume}' holds no {Trainer.CheckpointFile} (no epoch of it was saved).", inside);
            }
            return File.Exists(resume) ? resume : throw new FileNotFoundException($"--resume: no checkpoint or run folder at '{resume}'.", resume);
        }

        /// <summary>What identifies a data folder: the SHA-256 of its SHA256SUMS when it has one (the same data wherever it lies), else its full path.</summary>
        public static string DataIdentity(string folder)
        {
            var full = Path.GetFullPath(folder);
            var sums = Directory.Exists(full) ? Path.Combine(full, Cifar10.ChecksumFile) : null;
            if (sums is not null && File.Exists(sums))
                return "sha256:" + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(sums))).ToLowerInvariant();
            return full;
        }

        /// <summary>One setting that makes a run what it is: its option, its value now and in the checkpoint's run (null: not recorded).</summary>
        public sealed record Setting(string Name, string Now, string? Then);

        /// <summary>
        /// Refuses a resume whose settings differ from the checkpoint's run; the message names every difference.
        /// A setting the checkpoint does not record (older checkpoints) is not compared.
        /// </summary>
        public static void CheckSame(string checkpoint, IEnumerable<Setting> settings)
        {
            var differ = settings.Where(s => s.Then is not null && s.Then != s.Now)
                .Select(s => $"{s.Name} {Show(s.Then!)} in the checkpoint, {Show(s.Now)} now").ToList();
            if (differ.Count > 0)
                throw new InvalidOperationException($"Cannot resume '{checkpoint}' as another run: {string.Join("; ", differ)}. " +
                                                    "Leave these options out to continue as it was, or start a new run with another --out.");
        }

        static string Show(string v) => v.Length == 0 ? "(none)" : v;

        /// <summary>Whether <paramref name="folder"/> holds a run: its checkpoint (written at the first epoch's end, before any other record).</summary>
        public static bool HoldsRun(string folder) => File.Exists(Path.Combine(folder, Trainer.CheckpointFile));

        /// <summary>Whether <paramref name="folder"/> holds any file a run writes (a run that saved no epoch leaves TensorBoard events only).</summary>
        public static bool HoldsRunFiles(string folder) =>
            Directory.Exists(folder) && (RunFiles.Any(f => File.Exists(Path.Combine(folder, f))) || Directory.Exists(Path.Combine(folder, TensorBoardFolder)));

        /// <summary>Refuses to start a fresh run in a folder that holds another run, unless <paramref name="overwrite"/>.</summary>
        public static void CheckFresh(string folder, bool overwrite)
        {
            if (overwrite || !HoldsRun(folder)) return;
            var ckpt = Path.Combine(folder, Trainer.CheckpointFile);
            string what = "another run";
            {
                try
                {
                    using var c = Checkpoint.Load(ckpt);
                    c.Metadata.TryGetValue("tag.model", out var model);
                    what = $"another run ({model ?? "a model"}, {c.Epoch} of {c.Metadata.GetValueOrDefault("epochs", "?")} epochs done)";
                }
                catch (Exception e) when (e is IOException or InvalidDataException) { what = $"another run's checkpoint ({Program.OneLine(e)})"; }
            }
            throw new IOException($"run folder '{folder}' holds {what}: continue it with --resume {folder}, replace it with --overwrite, or pick another --out.");
        }

        /// <summary>Removes the files of the run in <paramref name="folder"/> (for <c>--overwrite</c>, under the folder's lock).</summary>
        public static void Clear(string folder)
        {
            foreach (var f in RunFiles)
            {
                var p = Path.Combine(folder, f);
                if (File.Exists(p)) File.Delete(p);
            }
            var tb = Path.Combine(folder, TensorBoardFolder);
            if (Directory.Exists(tb)) Directory.Delete(tb, recursive: true);
        }

        public static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        public static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
    }
}

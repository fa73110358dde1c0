using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ReSTE.Runtime.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Training
{
    /// <summary>
    /// A training checkpoint as one safetensors file: the model's state under <c>model.</c>, the optimizer's momentum
    /// under <c>momentum.</c>, and in the metadata where training stands (the next epoch and step, the best top-1, the
    /// partial sums of an interrupted epoch) and the settings that fix the schedule. Written atomically: to a
    /// temporary file in the same folder, flushed, then renamed over the old one, so a crash leaves the last good one.
    /// </summary>
    public sealed class Checkpoint : IDisposable
    {
        public const string ModelPrefix = "model.";
        public const string MomentumPrefix = "momentum.";
        /// <summary>The best epoch's weights (the source of <c>best.safetensors</c>, which is regenerated from them).</summary>
        public const string BestPrefix = "best.";
        public const string FormatVersion = "reste-checkpoint-1";

        public Checkpoint(Dictionary<string, Tensor> model, Dictionary<string, Tensor> momentum, Dictionary<string, string> metadata, string source = "the checkpoint")
        {
            Model = model; Momentum = momentum; Metadata = metadata; Source = source;
        }

        /// <summary>Where the checkpoint came from (its path), for messages.</summary>
        public string Source { get; }

        public Dictionary<string, Tensor> Model { get; }
        public Dictionary<string, Tensor> Momentum { get; }
        /// <summary>The best epoch's model state (empty when no epoch was evaluated, or in older checkpoints).</summary>
        public Dictionary<string, Tensor> Best { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, string> Metadata { get; }

        /// <summary>The next epoch to run (from 0).</summary>
        public int Epoch => Int("epoch");
        /// <summary>The next step of that epoch (0 unless the run was interrupted inside it).</summary>
        public int Step => Int("step");
        public double BestTop1 => Double("best_top1");
        public int BestEpoch => Int("best_epoch");

        /// <summary>An integer setting; a missing or non-numeric value is an <see cref="InvalidDataException"/> naming the file, key and value.</summary>
        public int Int(string key)
        {
            var v = Get(key);
            return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
                : throw new InvalidDataException($"checkpoint '{Source}': metadata '{key}' is '{v}', not an integer.");
        }

        /// <summary>A 64-bit integer setting (the seed), checked as <see cref="Int"/>.</summary>
        public long Long(string key)
        {
            var v = Get(key);
            return long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
                : throw new InvalidDataException($"checkpoint '{Source}': metadata '{key}' is '{v}', not an integer.");
        }

        /// <summary>A number (NaN allowed: a best top-1 before any evaluation), checked as <see cref="Int"/>.</summary>
        public double Double(string key)
        {
            var v = Get(key);
            return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
                : throw new InvalidDataException($"checkpoint '{Source}': metadata '{key}' is '{v}', not a number.");
        }

        public string Get(string key) => Metadata.TryGetValue(key, out var v) ? v
            : throw new InvalidDataException($"checkpoint '{Source}' lacks metadata '{key}'.");

        /// <summary>
        /// Writes <paramref name="path"/> atomically (temporary file, flush, rename). With <paramref name="previousPath"/>,
        /// the file it replaces stays there (see <see cref="WriteAtomically"/>).
        /// </summary>
        public static void Save(string path, nn.Module model, IOptimizer? optimizer, IReadOnlyDictionary<string, string> metadata,
            IEnumerable<KeyValuePair<string, Tensor>>? best = null, string? previousPath = null)
        {
            var tensors = new List<KeyValuePair<string, Tensor>>();
            if (best is not null)
                foreach (var (name, t) in best) tensors.Add(new(BestPrefix + name, t));
            foreach (var (name, t) in model.state_dict()) tensors.Add(new(ModelPrefix + name, t));
            if (optimizer is not null)
                foreach (var (name, t) in optimizer.State) tensors.Add(new(MomentumPrefix + name, t));
            var meta = new Dictionary<string, string>(metadata) { ["format"] = FormatVersion };
            WriteAtomically(path, stream => Safetensors.Write(stream, tensors, meta), previousPath);
        }

        /// <summary>
        /// Writes a file through a temporary file in the same folder and a rename. With <paramref name="previousPath"/>,
        /// the version it replaces is kept there (a hard link made before the rename, by <see cref="File.Replace(string, string, string?)"/>),
        /// so that at every instant <paramref name="path"/> holds the old or the new version and the old one can be put back.
        /// </summary>
        public static void WriteAtomically(string path, Action<Stream> write, string? previousPath = null)
        {
            var full = Path.GetFullPath(path);
            var dir = Path.GetDirectoryName(full)!;
            Directory.CreateDirectory(dir);
            var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
            try
            {
                using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
                {
                    write(fs);
                    fs.Flush(flushToDisk: true);
                }
                if (previousPath is not null && File.Exists(full)) File.Replace(tmp, full, Path.GetFullPath(previousPath));
                else File.Move(tmp, full, overwrite: true);
            }
            catch (Exception e)
            {
                try { if (File.Exists(tmp)) File.Delete(tmp); } catch (IOException) { }
                // Disk full and the like: name the file, keep the system's reason; the previous file is untouched.
                if (e is IOException && e.Message.IndexOf(full, StringComparison.Ordinal) < 0)
                    throw new IOException($"writing '{full}' failed ({e.Message.TrimEnd('.')}); the previous version, if any, is kept.", e);
                throw;
            }
        }

        /// <summary>Reads a checkpoint written by <see cref="Save"/>.</summary>
        public static Checkpoint Load(string path)
        {
            var file = Safetensors.Load(path);
            if (!file.Metadata.TryGetValue("format", out var format) || format != FormatVersion)
            {
                file.Dispose();
                throw new InvalidDataException($"'{path}' is not a ReSTE training checkpoint (format '{format ?? "none"}'; expected {FormatVersion}). " +
                                               "Weights from the reference go through `eval --weights`.");
            }
            var model = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var momentum = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var best = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, t) in file.Tensors)
            {
                if (name.StartsWith(ModelPrefix, StringComparison.Ordinal)) model[name[ModelPrefix.Length..]] = t;
                else if (name.StartsWith(BestPrefix, StringComparison.Ordinal)) best[name[BestPrefix.Length..]] = t;
                else if (name.StartsWith(MomentumPrefix, StringComparison.Ordinal)) momentum[name[MomentumPrefix.Length..]] = t;
                else throw new InvalidDataException($"Checkpoint '{path}' holds an unexpected tensor '{name}'.");
            }
            var ckpt = new Checkpoint(model, momentum, file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), path);
            foreach (var (k, v) in best) ckpt.Best[k] = v;
            return ckpt;
        }

        public void Dispose()
        {
            foreach (var t in Model.Values) t.Dispose();
            foreach (var t in Momentum.Values) t.Dispose();
            foreach (var t in Best.Values) t.Dispose();
        }
    }
}

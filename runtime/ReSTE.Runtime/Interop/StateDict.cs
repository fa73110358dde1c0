using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Interop
{
    /// <summary>Loads named tensors into a model's parameters and buffers, strictly.</summary>
    public static class StateDict
    {
        /// <summary>
        /// Copies <paramref name="source"/> into <paramref name="model"/>'s state (parameters and buffers, by their
        /// PyTorch-style names). <paramref name="map"/> turns a source name into ours (null: the tensor is not ours and
        /// is dropped on purpose). Any of our tensors left without a value, any source tensor that names nothing of
        /// ours, any shape mismatch, any integer or boolean tensor for a floating-point one of ours (and the reverse)
        /// and any NaN or infinite value is an <see cref="InvalidDataException"/> that lists them by name. A floating
        /// tensor of another precision (float16, bfloat16, float64) is converted to ours; the returned warnings say
        /// which. Ours for which <paramref name="optional"/> holds may be absent from the source and keep their value.
        /// </summary>
        public static IReadOnlyList<string> Load(nn.Module model, IReadOnlyDictionary<string, Tensor> source, Func<string, string?>? map = null, string sourceName = "the weights",
            Func<string, bool>? optional = null)
        {
            var ours = model.state_dict();
            var assigned = new Dictionary<string, (string From, Tensor Value)>(StringComparer.Ordinal);
            var extra = new List<string>();
            var misShaped = new List<string>();
            var misTyped = new List<string>();
            var notFinite = new List<string>();
            var converted = new List<(string Name, ScalarType From, ScalarType To)>();
            var misShapedTargets = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, value) in source)
            {
                var target = map is null ? name : map(name);
                if (target is null) continue;
                if (!ours.TryGetValue(target, out var mine)) { extra.Add(name == target ? name : $"{name} (as {target})"); continue; }
                if (assigned.ContainsKey(target)) { extra.Add($"{name} (a second value for {target})"); continue; }
                if (!mine.shape.SequenceEqual(value.shape))
                {
                    misShaped.Add($"{name}: [{string.Join(", ", value.shape)}] where {target} is [{string.Join(", ", mine.shape)}]");
                    misShapedTargets.Add(target);
                    continue;
                }
                if (value.is_floating_point() != mine.is_floating_point() || value.is_complex())
                {
                    misTyped.Add($"{name} is {TypeName(value.dtype)} where {target} is {TypeName(mine.dtype)}");
                    misShapedTargets.Add(target);
                    continue;
                }
                if (value.is_floating_point())
                {
                    long bad;
                    using (var finite = value.isfinite().logical_not().sum()) bad = finite.item<long>();
                    if (bad > 0) { notFinite.Add($"{name} ({bad} of {value.numel()} values)"); misShapedTargets.Add(target); continue; }
                    if (value.dtype != mine.dtype) converted.Add((name, value.dtype, mine.dtype));
                }
                assigned[target] = (name, value);
            }
            var missing = ours.Keys.Where(k => !assigned.ContainsKey(k) && !misShapedTargets.Contains(k) && optional?.Invoke(k) != true).ToList();
            if (missing.Count + extra.Count + misShaped.Count + misTyped.Count + notFinite.Count > 0)
            {
                var parts = new List<string>();
                if (missing.Count > 0) parts.Add($"missing {string.Join(", ", missing)}");
                if (extra.Count > 0) parts.Add($"unexpected {string.Join(", ", extra)}");
                if (misShaped.Count > 0) parts.Add($"mis-shaped {string.Join("; ", misShaped)}");
                if (misTyped.Count > 0) parts.Add($"wrong type {string.Join("; ", misTyped)}");
                if (notFinite.Count > 0) parts.Add($"NaN or infinite values in {string.Join(", ", notFinite)}");
                throw new InvalidDataException($"Cannot load {sourceName} into {model.GetName()}: {string.Join("; ", parts)}.");
            }
            var warnings = new List<string>();
            foreach (var group in converted.GroupBy(c => (c.From, c.To)))
                warnings.Add($"{sourceName}: converted {group.Count()} {TypeName(group.Key.From)} tensor{(group.Count() == 1 ? "" : "s")} to {TypeName(group.Key.To)} " +
                             $"({string.Join(", ", group.Take(5).Select(c => c.Name))}{(group.Count() > 5 ? ", …" : "")}).");
            using var noGrad = no_grad();
            foreach (var (target, (_, value)) in assigned)
            {
                var mine = ours[target];
                mine.copy_(value.to(mine.dtype));
            }
            return warnings;
        }

        static string TypeName(ScalarType t) => t switch
        {
            ScalarType.Float32 => "float32",
            ScalarType.Float64 => "float64",
            ScalarType.Float16 => "float16",
            ScalarType.BFloat16 => "bfloat16",
            ScalarType.Int64 => "int64",
            ScalarType.Int32 => "int32",
            ScalarType.Int16 => "int16",
            ScalarType.Int8 => "int8",
            ScalarType.Byte => "uint8",
            ScalarType.Bool => "bool",
            _ => t.ToString(),
        };

        /// <summary>The model's state (parameters and buffers) by name.</summary>
        public static Dictionary<string, Tensor> Of(nn.Module model) => model.state_dict();
    }

    /// <summary>
    /// Maps the parameter and buffer names of the official PyTorch ReSTE models onto ours. Our CIFAR models name their
    /// parts as the reference does (<c>conv1</c>, <c>bn1</c>, <c>layer1.0.conv1</c>, <c>layer1.0.bn1</c>, …,
    /// <c>bn2</c>, <c>linear</c>), so the mapping removes what wraps the reference's names: the <c>module.</c> prefix
    /// of <c>nn.DataParallel</c> and the <c>state_dict</c> / <c>model.</c> prefixes of some checkpoints. Buffers that
    /// hold no learned value (<c>num_batches_tracked</c>) are dropped when the model has none of its own, and may be
    /// absent from the reference (ours then keep their value).
    /// </summary>
    public static class ReferenceNames
    {
        static readonly string[] Prefixes = { "module.", "state_dict.", "model." };

        /// <summary>Our name for a reference name, or null to drop it.</summary>
        public static string? Map(string referenceName, IReadOnlyCollection<string> ourNames)
        {
            var name = referenceName;
            bool changed = true;
            while (changed)
            {
                changed = false;
                foreach (var p in Prefixes)
                    if (name.StartsWith(p, StringComparison.Ordinal) && !ourNames.Contains(name)) { name = name[p.Length..]; changed = true; }
            }
            if (name.EndsWith(".num_batches_tracked", StringComparison.Ordinal) && !ourNames.Contains(name)) return null;
            return name;
        }

        /// <summary>Loads a reference state dict (as read from safetensors) into <paramref name="model"/>.</summary>
        public static IReadOnlyList<string> Load(nn.Module model, IReadOnlyDictionary<string, Tensor> reference, string sourceName)
        {
            var ours = model.state_dict().Keys.ToHashSet(StringComparer.Ordinal);
            return StateDict.Load(model, reference, n => Map(n, ours), sourceName, n => n.EndsWith(".num_batches_tracked", StringComparison.Ordinal));
        }
    }
}

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace ReSTE.TestSupport
{
    /// <summary>
    /// The golden files: every *.json in ../shared/golden (found by walking up from the test assembly) and, when
    /// RESTE_GOLDEN_DIR is set, every *.json in that folder too.
    /// </summary>
    public static class GoldenData
    {
        public sealed record Case(string File, int Index, double O, string Kind, float[] Z, float[] Upstream, float[] Forward, float[] Grad, double T, double M);

        public sealed record ConvLayer(string File, int Index, int Stride, int Padding, double O, double T,
            long[] InputShape, float[] Input, long[] WeightShape, float[] Weight, long[] OutputShape, float[] Output,
            float[] Upstream, float[] GradInput, float[] GradWeight);

        public sealed record GoldenFile(string Path, IReadOnlyList<Case> Cases, IReadOnlyList<ConvLayer> ConvLayers);

        public static string SharedGoldenFolder()
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null)
            {
                var candidate = System.IO.Path.Combine(dir.FullName, "..", "shared", "golden");
                if (Directory.Exists(candidate) && dir.GetDirectories(".git").Length + dir.GetFiles(".git").Length > 0)
                    return System.IO.Path.GetFullPath(candidate);
                candidate = System.IO.Path.Combine(dir.FullName, "shared", "golden");
                if (Directory.Exists(candidate) && File.Exists(System.IO.Path.Combine(dir.FullName, "shared", "README.md")))
                    return System.IO.Path.GetFullPath(candidate);
                dir = dir.Parent;
            }
            throw new DirectoryNotFoundException($"No ../shared/golden found above {AppContext.BaseDirectory}.");
        }

        public static IReadOnlyList<string> Files()
        {
            var files = Directory.GetFiles(SharedGoldenFolder(), "*.json").OrderBy(f => f, StringComparer.Ordinal).ToList();
            var extra = Environment.GetEnvironmentVariable("RESTE_GOLDEN_DIR");
            if (!string.IsNullOrWhiteSpace(extra))
            {
                if (!Directory.Exists(extra)) throw new DirectoryNotFoundException($"RESTE_GOLDEN_DIR='{extra}' is not a folder.");
                files.AddRange(Directory.GetFiles(extra, "*.json").OrderBy(f => f, StringComparer.Ordinal));
            }
            return files;
        }

        /// <summary>Reads one golden file; anything unreadable throws, naming the file and the field.</summary>
        public static GoldenFile Load(string path)
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(path));
                var root = doc.RootElement;
                double t = root.TryGetProperty("t", out var tv) ? tv.GetDouble() : 1.5;
                double m = root.TryGetProperty("m", out var mv) ? mv.GetDouble() : 0.1;
                var cases = new List<Case>();
                if (root.TryGetProperty("cases", out var cs))
                {
                    int i = 0;
                    foreach (var c in cs.EnumerateArray())
                    {
                        cases.Add(new Case(path, i++, c.GetProperty("o").GetDouble(), c.TryGetProperty("kind", out var k) ? k.GetString() ?? "" : "",
                            Floats(c, "z"), Floats(c, "upstream"), Floats(c, "forward"), Floats(c, "grad"),
                            c.TryGetProperty("t", out var ct) ? ct.GetDouble() : t, c.TryGetProperty("m", out var cm) ? cm.GetDouble() : m));
                    }
                }
                var convs = new List<ConvLayer>();
                if (root.TryGetProperty("conv_layers", out var ls))
                {
                    int i = 0;
                    foreach (var l in ls.EnumerateArray())
                    {
                        convs.Add(new ConvLayer(path, i++, l.GetProperty("stride").GetInt32(), l.GetProperty("padding").GetInt32(),
                            l.GetProperty("o").GetDouble(), l.TryGetProperty("t", out var lt) ? lt.GetDouble() : t,
                            Longs(l, "input_shape"), Floats(l, "input"), Longs(l, "weight_shape"), Floats(l, "weight"),
                            Longs(l, "output_shape"), Floats(l, "output"), Floats(l, "upstream"), Floats(l, "grad_input"), Floats(l, "grad_weight")));
                    }
                }
                if (cases.Count == 0 && convs.Count == 0)
                    throw new InvalidDataException("it has neither 'cases' nor 'conv_layers'.");
                return new GoldenFile(path, cases, convs);
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or InvalidDataException or FormatException)
            {
                throw new InvalidDataException($"Golden file '{path}' cannot be read: {e.Message}", e);
            }
        }

        static float[] Floats(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => (float)x.GetDouble()).ToArray();
        static long[] Longs(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => x.GetInt64()).ToArray();
    }

    public static class Tolerance
    {
        /// <summary>Gradients match within 1e-5 relative or 1e-6 absolute.</summary>
        public static void AssertClose(float[] expected, float[] actual, string what, double rel = 1e-5, double abs = 1e-6)
        {
            if (expected.Length != actual.Length)
                throw new Xunit.Sdk.XunitException($"{what}: {actual.Length} values, expected {expected.Length}.");
            for (int i = 0; i < expected.Length; i++)
            {
                double diff = Math.Abs((double)expected[i] - actual[i]);
                if (diff > abs && diff > rel * Math.Abs(expected[i]))
                    throw new Xunit.Sdk.XunitException($"{what}[{i}]: {actual[i]:R}, expected {expected[i]:R} (|diff| {diff:E2}).");
            }
        }
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.CodeAnalysis;
using Xunit.Sdk;

namespace ReSTE.Generators.Tests.Infrastructure
{
    /// <summary>
    /// Snapshot checks in Verify.SourceGenerators' layout: each generated source in
    /// <c>Snapshots/{Class}.{Method}#{HintName}.verified.cs</c> (first line <c>//HintName: …</c>), the generator's
    /// diagnostics, when there are any, in <c>Snapshots/{Class}.{Method}.verified.txt</c>. UTF-8 without BOM, LF.
    /// A mismatch writes the <c>.received.</c> file beside it and fails with a line diff; with the environment variable
    /// UPDATE_SNAPSHOTS=1 the received text is accepted as the new verified file instead.
    /// </summary>
    public static class Snapshot
    {
        static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

        public static bool Updating => Environment.GetEnvironmentVariable("UPDATE_SNAPSHOTS") == "1";

        public static void Verify(GeneratorDriverRunResult result, string className, Compilation? input = null, [CallerMemberName] string method = "", [CallerFilePath] string callerFile = "")
        {
            var folder = Path.Combine(Path.GetDirectoryName(callerFile)!, "Snapshots");
            Directory.CreateDirectory(folder);
            var prefix = $"{className}.{method}";
            var expected = new Dictionary<string, string>(StringComparer.Ordinal);

            foreach (var source in result.Results.SelectMany(r => r.GeneratedSources).OrderBy(s => s.HintName, StringComparer.Ordinal))
                expected[$"{prefix}#{source.HintName}"] = $"//HintName: {source.HintName}\n" + Normalize(source.SourceText.ToString());

            var diagnostics = result.Diagnostics.Concat(result.Results.SelectMany(r => r.Diagnostics)).Distinct().ToList();
            if (diagnostics.Count > 0)
                expected[prefix] = FormatDiagnostics(diagnostics, input);

            var failures = new List<string>();
            foreach (var pair in expected)
            {
                var ext = pair.Key == prefix ? ".txt" : ".cs";
                var verifiedPath = Path.Combine(folder, pair.Key.Replace(".cs", "", StringComparison.Ordinal) + ".verified" + ext);
                // "X#Y.Binary.g.cs" → "X#Y.Binary.g.verified.cs", as Verify names it.
                if (ext == ".cs") verifiedPath = Path.Combine(folder, pair.Key[..^3] + ".verified.cs");
                var receivedPath = verifiedPath.Replace(".verified.", ".received.", StringComparison.Ordinal);
                var actual = pair.Value;
                var verified = File.Exists(verifiedPath) ? Normalize(File.ReadAllText(verifiedPath, Utf8)) : null;
                if (verified == actual)
                {
                    if (File.Exists(receivedPath)) File.Delete(receivedPath);
                    continue;
                }
                if (Updating)
                {
                    File.WriteAllText(verifiedPath, actual, Utf8);
                    if (File.Exists(receivedPath)) File.Delete(receivedPath);
                    continue;
                }
                File.WriteAllText(receivedPath, actual, Utf8);
                failures.Add(verified is null
                    ? $"No snapshot {Path.GetFileName(verifiedPath)}; wrote {Path.GetFileName(receivedPath)} (rename it, or run with UPDATE_SNAPSHOTS=1, to accept).\n{Head(actual)}"
                    : $"{Path.GetFileName(verifiedPath)} differs; wrote {Path.GetFileName(receivedPath)}.\n{Diff(verified, actual)}");
            }

            // A verified file this test no longer produces is stale.
            foreach (var path in Directory.GetFiles(folder, prefix + "*.verified.*"))
            {
                var name = Path.GetFileName(path);
                bool mine = name.StartsWith(prefix + "#", StringComparison.Ordinal) || name == prefix + ".verified.txt";
                if (!mine) continue;
                bool produced = expected.Keys.Any(k => name == (k == prefix ? prefix + ".verified.txt" : k[..^3] + ".verified.cs"));
                if (produced) continue;
                if (Updating) File.Delete(path);
                else failures.Add($"{name} is no longer produced by the generator (UPDATE_SNAPSHOTS=1 deletes it).");
            }

            if (failures.Count > 0)
                throw new XunitException("Snapshot mismatch (set UPDATE_SNAPSHOTS=1 to accept):\n" + string.Join("\n\n", failures));
        }

        public static string FormatDiagnostics(IEnumerable<Diagnostic> diagnostics, Compilation? input = null)
        {
            var sb = new StringBuilder();
            foreach (var d in diagnostics.OrderBy(d => d.Location.SourceSpan.Start).ThenBy(d => d.Id, StringComparer.Ordinal))
            {
                var span = d.Location.GetLineSpan();
                var where = d.Location == Location.None ? "(no location)"
                    : string.Format(CultureInfo.InvariantCulture, "{0}({1},{2}-{3},{4})", span.Path, span.StartLinePosition.Line + 1,
                        span.StartLinePosition.Character + 1, span.EndLinePosition.Line + 1, span.EndLinePosition.Character + 1);
                sb.Append(d.Id).Append(' ').Append(d.Severity.ToString().ToLowerInvariant()).Append(' ').Append(where).Append('\n');
                sb.Append("  ").Append(d.GetMessage(CultureInfo.InvariantCulture)).Append('\n');
                var text = SourceText(d, input);
                if (text != null) sb.Append("  at: ").Append(text.Replace("\n", " ", StringComparison.Ordinal)).Append('\n');
            }
            return sb.ToString();
        }

        /// <summary>The source a diagnostic points at (generator diagnostics carry a file location, not a tree).</summary>
        public static string? SourceText(Diagnostic d, Compilation? input)
        {
            var tree = d.Location.SourceTree ?? input?.SyntaxTrees.FirstOrDefault(t => t.FilePath == d.Location.GetLineSpan().Path);
            return tree?.GetText().ToString(d.Location.SourceSpan);
        }

        static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal).TrimStart('\uFEFF');

        static string Head(string text) => string.Join("\n", text.Split('\n').Take(20)) + "\n…";

        /// <summary>A readable line diff: each differing line with its number, "-" verified, "+" received (at most 40).</summary>
        public static string Diff(string verified, string received)
        {
            var a = verified.Split('\n');
            var b = received.Split('\n');
            var sb = new StringBuilder();
            int shown = 0;
            // Align on the common prefix and suffix, then list the middle of each side.
            int start = 0;
            while (start < a.Length && start < b.Length && a[start] == b[start]) start++;
            int endA = a.Length - 1, endB = b.Length - 1;
            while (endA >= start && endB >= start && a[endA] == b[endB]) { endA--; endB--; }
            for (int i = start; i <= endA && shown < 40; i++, shown++) sb.Append(CultureInfo.InvariantCulture, $"{i + 1,5} - {a[i]}\n");
            for (int i = start; i <= endB && shown < 80; i++, shown++) sb.Append(CultureInfo.InvariantCulture, $"{i + 1,5} + {b[i]}\n");
            if (shown >= 40) sb.Append("      (more differences not shown)\n");
            return sb.ToString();
        }
    }
}

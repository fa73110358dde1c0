using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ReSTE.Generators.Testing
{
    /// <summary>A run of the [Binarize] generator: its result, and the compilation it ran over.</summary>
    public sealed class GeneratorRun
    {
        internal GeneratorRun(GeneratorDriverRunResult result, Compilation input, Compilation output)
        {
            Result = result;
            Input = input;
            Output = output;
        }

        /// <summary>The generated sources and the generator's diagnostics.</summary>
        public GeneratorDriverRunResult Result { get; }

        /// <summary>The compilation the generator ran over.</summary>
        public Compilation Input { get; }

        /// <summary>The input with the generated sources added.</summary>
        public Compilation Output { get; }

        /// <summary>The generator's diagnostics (RESTE001 …).</summary>
        public IReadOnlyList<Diagnostic> Diagnostics =>
            Result.Diagnostics.Concat(Result.Results.SelectMany(r => r.Diagnostics)).Distinct().ToList();
    }

    /// <summary>A generated file differs from its verified snapshot, or a snapshot is missing or stale.</summary>
    public sealed class SnapshotMismatchException : Exception
    {
        /// <summary>A mismatch described by <paramref name="message"/> (the files and a line diff).</summary>
        public SnapshotMismatchException(string message) : base(message) { }
    }

    /// <summary>
    /// Snapshot checks of generated code in Verify.SourceGenerators' layout: each generated source in
    /// <c>Snapshots/{Test}#{HintName}.verified.cs</c> (first line <c>//HintName: …</c>), the generator's diagnostics,
    /// when there are any, in <c>Snapshots/{Test}.verified.txt</c>; UTF-8 without BOM, LF. A mismatch writes the
    /// <c>.received.</c> file beside it and throws <see cref="SnapshotMismatchException"/> with a line diff; with the
    /// environment variable <c>UPDATE_SNAPSHOTS=1</c> the received text is accepted as the verified file instead.
    /// </summary>
    public static class GeneratorSnapshot
    {
        /// <summary>The environment variable that accepts received snapshots when set to 1.</summary>
        public const string AcceptVariable = "UPDATE_SNAPSHOTS";

        static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

        /// <summary>The parse options of the compilations made here (the latest C#).</summary>
        public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

        /// <summary>True when <c>UPDATE_SNAPSHOTS=1</c>: mismatches are written as the new verified files.</summary>
        public static bool Accepting => Environment.GetEnvironmentVariable(AcceptVariable) == "1";

        const string AbstractionsFile = "ReSTE.Abstractions.dll";

        static readonly Lazy<ImmutableArray<MetadataReference>> LazyReferences = new(() =>
        {
            var tpa = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string
                ?? throw new InvalidOperationException("TRUSTED_PLATFORM_ASSEMBLIES is not set: run under .NET (not .NET Framework), or pass references to Run.");
            var paths = tpa.Split(Path.PathSeparator)
                .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && !Path.GetFileName(p).StartsWith("ReSTE.Generators", StringComparison.Ordinal))
                .ToList();
            // ReSTE.Abstractions ([Binarize] and its enums) can reach the process beside the generator rather than
            // through the deps file (a ProjectReference build): then take the copy beside the generator's assembly.
            if (!paths.Any(p => Path.GetFileName(p) == AbstractionsFile))
            {
                var besideGenerator = Path.Combine(Path.GetDirectoryName(typeof(BinarizeGenerator).Assembly.Location) ?? "", AbstractionsFile);
                if (File.Exists(besideGenerator)) paths.Add(besideGenerator);
            }
            return paths
                .OrderBy(p => p, StringComparer.Ordinal)
                .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
                .ToImmutableArray();
        });

        /// <summary>The assemblies of the running process (the BCL, TorchSharp, ReSTE.Runtime, …) as references.</summary>
        public static ImmutableArray<MetadataReference> ProcessReferences => LazyReferences.Value;

        /// <summary>A library compilation of <paramref name="sources"/> against <see cref="ProcessReferences"/>.</summary>
        public static CSharpCompilation Compilation(IEnumerable<(string Path, string Text)> sources, IEnumerable<MetadataReference>? references = null) =>
            CSharpCompilation.Create("GeneratorInput",
                sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, ParseOptions, path: s.Path)),
                references ?? ProcessReferences,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        /// <summary>Runs the generator over source texts (named Input0.cs, Input1.cs, …).</summary>
        public static GeneratorRun Run(params string[] sources) =>
            Run(Compilation(sources.Select((s, i) => ($"Input{i}.cs", s))));

        /// <summary>Runs the generator over a compilation (for example one you built of your project).</summary>
        public static GeneratorRun Run(Compilation compilation)
        {
            if (compilation is null) throw new ArgumentNullException(nameof(compilation));
            GeneratorDriver driver = CSharpGeneratorDriver.Create(
                new[] { new BinarizeGenerator().AsSourceGenerator() },
                parseOptions: compilation.SyntaxTrees.FirstOrDefault()?.Options as CSharpParseOptions ?? ParseOptions);
            driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
            return new GeneratorRun(driver.GetRunResult(), compilation, output);
        }

        /// <summary>
        /// Runs the generator over C# files; relative paths are taken from the folder of the calling source file. The
        /// file names (not the full paths) name the syntax trees, so diagnostics snapshots do not depend on the machine.
        /// </summary>
        public static GeneratorRun RunFiles(IEnumerable<string> paths, [CallerFilePath] string callerFile = "")
        {
            var files = paths.Select(p => Resolve(p, callerFile)).ToList();
            foreach (var f in files)
                if (!File.Exists(f)) throw new FileNotFoundException($"RunFiles: no C# file {f}.", f);
            return Run(Compilation(files.Select(f => (Path.GetFileName(f), File.ReadAllText(f)))));
        }

        /// <summary>
        /// Runs the generator over every .cs file under <paramref name="projectDirectory"/> (bin/ and obj/ left out);
        /// a relative path is taken from the folder of the calling source file. Tree paths are relative to the folder.
        /// </summary>
        public static GeneratorRun RunProject(string projectDirectory, [CallerFilePath] string callerFile = "")
        {
            var root = Resolve(projectDirectory, callerFile);
            if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"RunProject: no folder {root} (from \"{projectDirectory}\").");
            var files = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
                .Where(f => !Relative(root, f).Split('/').Any(part => part is "bin" or "obj"))
                .OrderBy(f => f, StringComparer.Ordinal)
                .ToList();
            if (files.Count == 0) throw new FileNotFoundException($"RunProject: no .cs files under {root}.");
            return Run(Compilation(files.Select(f => (Relative(root, f), File.ReadAllText(f)))));
        }

        static string Resolve(string path, string callerFile) =>
            Path.GetFullPath(Path.IsPathRooted(path) || string.IsNullOrEmpty(callerFile) ? path : Path.Combine(Path.GetDirectoryName(callerFile)!, path));

        static string Relative(string root, string file) => Path.GetRelativePath(root, file).Replace('\\', '/');

        /// <summary>
        /// Compares every generated file (and the diagnostics) of <paramref name="run"/> with the snapshots named
        /// <c>{test file name}.{test method}</c> in <c>Snapshots/</c> beside the calling test file.
        /// </summary>
        public static void Verify(GeneratorRun run, [CallerMemberName] string test = "", [CallerFilePath] string callerFile = "")
        {
            if (run is null) throw new ArgumentNullException(nameof(run));
            var folder = Path.Combine(Path.GetDirectoryName(callerFile)!, "Snapshots");
            Verify(run.Result, $"{Path.GetFileNameWithoutExtension(callerFile)}.{test}", folder, run.Input);
        }

        /// <summary>
        /// Compares the generated files of <paramref name="result"/> with <c>{folder}/{name}#{HintName}.verified.cs</c>
        /// and its diagnostics with <c>{folder}/{name}.verified.txt</c>.
        /// </summary>
        public static void Verify(GeneratorDriverRunResult result, string name, string folder, Compilation? input = null)
        {
            if (result is null) throw new ArgumentNullException(nameof(result));
            Directory.CreateDirectory(folder);
            var prefix = name;
            var expected = new Dictionary<string, string>(StringComparer.Ordinal);

            foreach (var source in result.Results.SelectMany(r => r.GeneratedSources).OrderBy(s => s.HintName, StringComparer.Ordinal))
                expected[$"{prefix}#{source.HintName}"] = $"//HintName: {source.HintName}\n" + Normalize(source.SourceText.ToString());

            var diagnostics = result.Diagnostics.Concat(result.Results.SelectMany(r => r.Diagnostics)).Distinct().ToList();
            if (diagnostics.Count > 0)
                expected[prefix] = FormatDiagnostics(diagnostics, input);

            var failures = new List<string>();
            foreach (var pair in expected)
            {
                // "X#Y.Binary.g.cs" → "X#Y.Binary.g.verified.cs", as Verify names it; diagnostics "X" → "X.verified.txt".
                var verifiedPath = pair.Key == prefix
                    ? Path.Combine(folder, prefix + ".verified.txt")
                    : Path.Combine(folder, (pair.Key.EndsWith(".cs", StringComparison.Ordinal) ? pair.Key[..^3] : pair.Key) + ".verified.cs");
                var receivedPath = verifiedPath.Replace(".verified.", ".received.", StringComparison.Ordinal);
                var actual = pair.Value;
                var verified = File.Exists(verifiedPath) ? Normalize(File.ReadAllText(verifiedPath, Utf8)) : null;
                if (verified == actual)
                {
                    if (File.Exists(receivedPath)) File.Delete(receivedPath);
                    continue;
                }
                if (Accepting)
                {
                    File.WriteAllText(verifiedPath, actual, Utf8);
                    if (File.Exists(receivedPath)) File.Delete(receivedPath);
                    continue;
                }
                File.WriteAllText(receivedPath, actual, Utf8);
                failures.Add(verified is null
                    ? $"No snapshot {Path.GetFileName(verifiedPath)}; wrote {Path.GetFileName(receivedPath)} (rename it, or run with {AcceptVariable}=1, to accept).\n{Head(actual)}"
                    : $"{Path.GetFileName(verifiedPath)} differs; wrote {Path.GetFileName(receivedPath)}.\n{Diff(verified, actual)}");
            }

            // A verified file this test no longer produces is stale.
            foreach (var path in Directory.GetFiles(folder, prefix + "*.verified.*"))
            {
                var file = Path.GetFileName(path);
                bool mine = file.StartsWith(prefix + "#", StringComparison.Ordinal) || file == prefix + ".verified.txt";
                if (!mine) continue;
                bool produced = expected.Keys.Any(k => file == (k == prefix ? prefix + ".verified.txt" : k[..^3] + ".verified.cs"));
                if (produced) continue;
                if (Accepting) File.Delete(path);
                else failures.Add($"{file} is no longer produced by the generator ({AcceptVariable}=1 deletes it).");
            }

            if (failures.Count > 0)
                throw new SnapshotMismatchException($"Snapshot mismatch in {folder} (set {AcceptVariable}=1 to accept):\n" + string.Join("\n\n", failures));
        }

        /// <summary>Diagnostics as text: id, severity, file(line,col-line,col), the message, and the source it points at.</summary>
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
            if (d is null) throw new ArgumentNullException(nameof(d));
            var tree = d.Location.SourceTree ?? input?.SyntaxTrees.FirstOrDefault(t => t.FilePath == d.Location.GetLineSpan().Path);
            return tree?.GetText().ToString(d.Location.SourceSpan);
        }

        static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal).TrimStart('\uFEFF');

        static string Head(string text) => string.Join("\n", text.Split('\n').Take(20)) + "\n…";

        /// <summary>A readable line diff: each differing line with its number, "-" verified, "+" received (at most 40).</summary>
        public static string Diff(string verified, string received)
        {
            if (verified is null) throw new ArgumentNullException(nameof(verified));
            if (received is null) throw new ArgumentNullException(nameof(received));
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

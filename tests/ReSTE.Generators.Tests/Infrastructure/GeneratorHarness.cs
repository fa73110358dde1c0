using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ReSTE.Generators.Tests.Infrastructure
{
    /// <summary>
    /// Runs <see cref="BinarizeGenerator"/> in memory over C# sources, against the references this test process runs
    /// with (the BCL, TorchSharp and ReSTE.Runtime), so that the compilation has the real attribute and module types.
    /// </summary>
    public static class GeneratorHarness
    {
        public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

        static readonly Lazy<ImmutableArray<MetadataReference>> LazyReferences = new(() =>
        {
            var tpa = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
            var paths = tpa.Split(Path.PathSeparator)
                .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && !Path.GetFileName(p).StartsWith("ReSTE.Generators", StringComparison.Ordinal))
                .ToList();
            // ReSTE.Abstractions ([Binarize] and its enums) reaches this process beside the generator as well as through
            // the runtime, and the deps file does not list it: add it from where it was loaded.
            var abstractions = typeof(ReSTE.Runtime.BinarizeAttribute).Assembly.Location;
            if (!paths.Any(p => Path.GetFileName(p) == Path.GetFileName(abstractions))) paths.Add(abstractions);
            return paths
                .OrderBy(p => p, StringComparer.Ordinal)
                .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
                .ToImmutableArray();
        });

        public static ImmutableArray<MetadataReference> References => LazyReferences.Value;

        public static CSharpCompilation Compilation(params string[] sources) =>
            CSharpCompilation.Create("GeneratorInput",
                sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Input{i}.cs")),
                References,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        public static GeneratorDriver Driver() =>
            CSharpGeneratorDriver.Create(
                new[] { new BinarizeGenerator().AsSourceGenerator() },
                parseOptions: ParseOptions,
                driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

        /// <summary>Runs the generator; returns its result and the compilation with the generated sources added.</summary>
        public static (GeneratorDriverRunResult Result, Compilation Output) Run(params string[] sources)
        {
            var input = Compilation(sources);
            var driver = Driver().RunGeneratorsAndUpdateCompilation(input, out var output, out _);
            return (driver.GetRunResult(), output);
        }

        /// <summary>The compiler's errors and warnings in the generated files (none expected).</summary>
        public static IReadOnlyList<Diagnostic> GeneratedCodeProblems(Compilation output) =>
            output.GetDiagnostics()
                .Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Location.SourceTree is { } t && t.FilePath.EndsWith(".g.cs", StringComparison.Ordinal))
                .ToList();

        /// <summary>The compiler's errors anywhere (for the input sources' own mistakes).</summary>
        public static IReadOnlyList<Diagnostic> Errors(Compilation output) =>
            output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
    }
}

using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using ReSTE.Generators.Testing;

namespace ReSTE.Generators.Tests.Infrastructure
{
    /// <summary>
    /// This repository's snapshots, through the ReSTE.Generators.Testing package that users get: each generated source
    /// in <c>Snapshots/{Class}.{Method}#{HintName}.verified.cs</c>, diagnostics in <c>Snapshots/{Class}.{Method}.verified.txt</c>;
    /// a mismatch writes <c>.received.</c> files and throws <see cref="SnapshotMismatchException"/> with a line diff;
    /// UPDATE_SNAPSHOTS=1 accepts.
    /// </summary>
    public static class Snapshot
    {
        public static bool Updating => GeneratorSnapshot.Accepting;

        public static void Verify(GeneratorDriverRunResult result, string className, Compilation? input = null, [CallerMemberName] string method = "", [CallerFilePath] string callerFile = "") =>
            GeneratorSnapshot.Verify(result, $"{className}.{method}", Path.Combine(Path.GetDirectoryName(callerFile)!, "Snapshots"), input);

        public static string FormatDiagnostics(IEnumerable<Diagnostic> diagnostics, Compilation? input = null) => GeneratorSnapshot.FormatDiagnostics(diagnostics, input);

        public static string? SourceText(Diagnostic d, Compilation? input) => GeneratorSnapshot.SourceText(d, input);

        public static string Diff(string verified, string received) => GeneratorSnapshot.Diff(verified, received);
    }
}

using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using ReSTE.Generators.Parsing;

namespace ReSTE.Generators.Diagnostics
{
    /// <summary>A location as plain data (file, span, line span), turned back into a <see cref="Location"/> when reported.</summary>
    internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
    {
        public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

        public static LocationInfo? From(Location? location)
        {
            if (location is null || location.SourceTree is null) return null;
            return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
        }
    }

    /// <summary>A diagnostic carried through the pipeline as data: the descriptor's id, where, and the message arguments.</summary>
    internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
    {
        public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, Location? location, params string[] arguments) =>
            new(descriptor.Id, LocationInfo.From(location), EquatableArray.From(arguments));

        public Diagnostic ToDiagnostic()
        {
            var args = new object[Arguments.Count];
            for (int i = 0; i < args.Length; i++) args[i] = Arguments[i];
            return Diagnostic.Create(DiagnosticDescriptors.ById(Id), Location?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None, args);
        }

        public bool IsError => DiagnosticDescriptors.ById(Id).DefaultSeverity == DiagnosticSeverity.Error;
    }
}

using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;
using ReSTE.Generators.Emission;
using ReSTE.Generators.Parsing;

namespace ReSTE.Generators
{
    /// <summary>
    /// [Binarize] on a partial TorchSharp module → nested BinaryConv2d, BinaryLinear, BinarySign and BinaryLayers
    /// specialised to the policy. The pipeline: ForAttributeWithMetadataName → <see cref="Parser"/> (a value-equatable
    /// <see cref="BinarizeSpec"/> per class, diagnostics as data) → <see cref="Emitter"/> (source text) in
    /// RegisterSourceOutput, which also reports the diagnostics.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class BinarizeGenerator : IIncrementalGenerator
    {
        /// <summary>Tracking names of the pipeline's steps, for incrementality tests.</summary>
        public static class TrackingNames
        {
            public const string Specs = "BinarizeSpecs";
            public const string Diagnostics = "BinarizeDiagnostics";
            public const string Emittable = "BinarizeEmittable";
        }

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var specs = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    Parser.AttributeMetadataName,
                    static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax,
                    static (ctx, ct) => Parser.Parse(ctx, ct))
                .WithTrackingName(TrackingNames.Specs);

            var diagnostics = specs
                .Select(static (spec, _) => spec.Diagnostics)
                .Where(static d => d.Count > 0)
                .WithTrackingName(TrackingNames.Diagnostics);

            context.RegisterSourceOutput(diagnostics, static (spc, list) =>
            {
                foreach (var d in list) spc.ReportDiagnostic(d.ToDiagnostic());
            });

            var emittable = specs
                .Where(static spec => spec.Policy is not null)
                .Select(static (spec, _) => spec with { Diagnostics = EquatableArray<Diagnostics.DiagnosticInfo>.Empty })
                .WithTrackingName(TrackingNames.Emittable);

            context.RegisterSourceOutput(emittable, static (spc, spec) =>
                spc.AddSource(spec.HintName, SourceText.From(Emitter.Emit(spec), System.Text.Encoding.UTF8)));
        }
    }
}

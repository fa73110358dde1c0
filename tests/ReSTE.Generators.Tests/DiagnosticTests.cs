using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using ReSTE.Generators.Diagnostics;
using ReSTE.Generators.Tests.Infrastructure;
using Xunit;

namespace ReSTE.Generators.Tests
{
    /// <summary>
    /// Each diagnostic: its id, severity, the value named in the message, and where it points. The diagnostics are also
    /// kept as snapshots (Snapshots/DiagnosticTests.{Method}.verified.txt).
    /// </summary>
    public class DiagnosticTests
    {
        const string Usings = "using ReSTE.Runtime;\nusing TorchSharp;\nusing static TorchSharp.torch;\n\nnamespace Models;\n\n";

        static string Block(string attribute, string modifiers = "public sealed partial") => Usings + $$"""
            {{attribute}}
            {{modifiers}} class Block : nn.Module<Tensor, Tensor>
            {
                public Block() : base(nameof(Block)) { }
                public override Tensor forward(Tensor x) => x;
            }
            """;

        sealed record Outcome(IReadOnlyList<Diagnostic> Diagnostics, Compilation Input)
        {
            public int Count => Diagnostics.Count;
            public IEnumerable<T> Select<T>(System.Func<Diagnostic, T> f) => Diagnostics.Select(f);
            public IEnumerable<Diagnostic> Where(System.Func<Diagnostic, bool> f) => Diagnostics.Where(f);
        }

        static Outcome Run(string source, string method, bool expectOutput = false)
        {
            var input = GeneratorHarness.Compilation(source);
            var result = GeneratorHarness.Driver().RunGenerators(input).GetRunResult();
            Snapshot.Verify(result, nameof(DiagnosticTests), input, method);
            Assert.Equal(expectOutput, result.GeneratedTrees.Length > 0);
            return new Outcome(result.Diagnostics, input);
        }

        static Diagnostic Single(Outcome outcome, string id, DiagnosticSeverity severity, string at, params string[] inMessage)
        {
            var d = Assert.Single(outcome.Diagnostics);
            Assert.Equal(id, d.Id);
            Assert.Equal(severity, d.Severity);
            Assert.Equal(at, Snapshot.SourceText(d, outcome.Input));
            var message = d.GetMessage(CultureInfo.InvariantCulture);
            foreach (var part in inMessage) Assert.Contains(part, message);
            return d;
        }

        [Fact]
        public void RESTE001_class_not_partial() =>
            Single(Run(Block("[Binarize]", "public sealed"), nameof(RESTE001_class_not_partial)),
                "RESTE001", DiagnosticSeverity.Error, "Block", "'Block'", "partial");

        [Fact]
        public void RESTE001_containing_type_not_partial() =>
            Single(Run(Usings + """
                public static class Zoo
                {
                    [Binarize]
                    public sealed partial class Block : nn.Module<Tensor, Tensor>
                    {
                        public Block() : base(nameof(Block)) { }
                        public override Tensor forward(Tensor x) => x;
                    }
                }
                """, nameof(RESTE001_containing_type_not_partial)),
                "RESTE001", DiagnosticSeverity.Error, "Zoo", "'Zoo'");

        [Fact]
        public void RESTE002_not_a_TorchSharp_module() =>
            Single(Run(Usings + """
                public class Base { }

                [Binarize]
                public partial class Block : Base { }
                """, nameof(RESTE002_not_a_TorchSharp_module)),
                "RESTE002", DiagnosticSeverity.Error, "Block", "'Block'", "'Models.Base'");

        [Fact]
        public void RESTE003_OEnd_below_one() =>
            Single(Run(Block("[Binarize(OEnd = 0.5)]"), nameof(RESTE003_OEnd_below_one)),
                "RESTE003", DiagnosticSeverity.Error, "OEnd = 0.5", "OEnd = 0.5", "'Block'");

        [Fact]
        public void RESTE004_T_not_above_M() =>
            Single(Run(Block("[Binarize(T = 0.1, M = 0.1)]"), nameof(RESTE004_T_not_above_M)),
                "RESTE004", DiagnosticSeverity.Error, "T = 0.1", "T = 0.1", "M = 0.1");

        [Fact]
        public void RESTE004_points_at_M_when_only_M_is_set() =>
            Single(Run(Block("[Binarize(M = 2)]"), nameof(RESTE004_points_at_M_when_only_M_is_set)),
                "RESTE004", DiagnosticSeverity.Error, "M = 2", "T = 1.5", "M = 2");

        [Fact]
        public void RESTE005_M_not_positive() =>
            Single(Run(Block("[Binarize(M = -0.25)]"), nameof(RESTE005_M_not_positive)),
                "RESTE005", DiagnosticSeverity.Error, "M = -0.25", "M = -0.25");

        [Fact]
        public void RESTE006_NaN_or_infinity_in_any_constant()
        {
            var diagnostics = Run(Block("[Binarize(OEnd = double.NaN, T = double.PositiveInfinity, Beta = 1.0 / 0.0)]"), nameof(RESTE006_NaN_or_infinity_in_any_constant))
                .Where(d => d.Id == "RESTE006").OrderBy(d => d.Location.SourceSpan.Start).ToList();
            Assert.Equal(3, diagnostics.Count);
            Assert.All(diagnostics, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
            Assert.Contains("OEnd = NaN", diagnostics[0].GetMessage(CultureInfo.InvariantCulture));
            Assert.Contains("T = Infinity", diagnostics[1].GetMessage(CultureInfo.InvariantCulture));
            Assert.Contains("Beta = Infinity", diagnostics[2].GetMessage(CultureInfo.InvariantCulture));
        }

        [Fact]
        public void RESTE007_property_of_another_estimator_is_a_warning_and_the_layers_are_still_generated()
        {
            var diagnostics = Run(Block("[Binarize(Estimator = Estimator.STE, OEnd = 3, Beta = 2)]"),
                nameof(RESTE007_property_of_another_estimator_is_a_warning_and_the_layers_are_still_generated), expectOutput: true);
            Assert.Equal(2, diagnostics.Count);
            Assert.All(diagnostics.Diagnostics, d => Assert.Equal(("RESTE007", DiagnosticSeverity.Warning), (d.Id, d.Severity)));
            var messages = diagnostics.Select(d => d.GetMessage(CultureInfo.InvariantCulture)).OrderBy(m => m, System.StringComparer.Ordinal).ToList();
            Assert.Contains("Beta = 2 does not apply to the STE estimator", messages[0]);
            Assert.Contains("applies to SignSwish", messages[0]);
            Assert.Contains("OEnd = 3 does not apply to the STE estimator", messages[1]);
        }

        [Fact]
        public void RESTE008_nested_in_a_generic_type() =>
            Single(Run(Usings + """
                public partial class Zoo<T>
                {
                    [Binarize]
                    public sealed partial class Block : nn.Module<Tensor, Tensor>
                    {
                        public Block() : base(nameof(Block)) { }
                        public override Tensor forward(Tensor x) => x;
                    }
                }
                """, nameof(RESTE008_nested_in_a_generic_type)),
                "RESTE008", DiagnosticSeverity.Error, "Block", "'Zoo<T>'");

        [Fact]
        public void RESTE008_generic_class() =>
            Single(Run(Usings + """
                [Binarize]
                public sealed partial class Block<T> : nn.Module<Tensor, Tensor>
                {
                    public Block() : base("Block") { }
                    public override Tensor forward(Tensor x) => x;
                }
                """, nameof(RESTE008_generic_class)),
                "RESTE008", DiagnosticSeverity.Error, "Block", "'Block<T>'");

        [Fact]
        public void RESTE009_two_Binarize_attributes()
        {
            var source = Block("[Binarize(OEnd = 2)]\n[Binarize(OEnd = 3)]");
            var diagnostics = Run(source, nameof(RESTE009_two_Binarize_attributes));
            Single(diagnostics, "RESTE009", DiagnosticSeverity.Error, "Binarize(OEnd = 3)", "'Block'", "2 [Binarize]");
            // The compiler reports the duplicate too (the attribute does not allow multiple).
            var (_, output) = GeneratorHarness.Run(source);
            Assert.Contains(GeneratorHarness.Errors(output), d => d.Id == "CS0579");
        }

        [Fact]
        public void RESTE009_two_Binarize_attributes_on_two_partial_declarations()
        {
            var diagnostics = Run(Usings + """
                [Binarize(OEnd = 2)]
                public sealed partial class Block : nn.Module<Tensor, Tensor>
                {
                    public Block() : base(nameof(Block)) { }
                    public override Tensor forward(Tensor x) => x;
                }

                [Binarize(Estimator = Estimator.STE)]
                public sealed partial class Block { }
                """, nameof(RESTE009_two_Binarize_attributes_on_two_partial_declarations));
            var d = Single(diagnostics, "RESTE009", DiagnosticSeverity.Error, "Binarize(Estimator = Estimator.STE)", "'Block'", "2 [Binarize]");
        }

        [Fact]
        public void RESTE010_DSQ_alpha_out_of_range() =>
            Single(Run(Block("[Binarize(Estimator = Estimator.DSQ, Alpha = 1.5)]"), nameof(RESTE010_DSQ_alpha_out_of_range)),
                "RESTE010", DiagnosticSeverity.Error, "Alpha = 1.5", "Alpha = 1.5 must be in (0, 1)");

        [Fact]
        public void RESTE010_EDE_tMax_below_tMin() =>
            Single(Run(Block("[Binarize(Estimator = Estimator.EDE, EdeTMin = 2, EdeTMax = 1)]"), nameof(RESTE010_EDE_tMax_below_tMin)),
                "RESTE010", DiagnosticSeverity.Error, "EdeTMax = 1", "EdeTMax = 1 must be ≥ EdeTMin = 2");

        [Fact]
        public void RESTE010_unknown_estimator_value() =>
            Single(Run(Block("[Binarize(Estimator = (Estimator)42)]"), nameof(RESTE010_unknown_estimator_value)),
                "RESTE010", DiagnosticSeverity.Error, "Estimator = (Estimator)42", "Estimator = 42 must be one of ReSTE, STE");

        [Fact]
        public void RESTE010_ProgressiveSign_alpha_not_above_one() =>
            Single(Run(Block("[Binarize(Estimator = Estimator.ProgressiveSign, ProgressiveAlpha = 1)]"), nameof(RESTE010_ProgressiveSign_alpha_not_above_one)),
                "RESTE010", DiagnosticSeverity.Error, "ProgressiveAlpha = 1", "ProgressiveAlpha = 1 must be > 1");

        [Fact]
        public void RESTE010_FDA_terms_below_one() =>
            Single(Run(Block("[Binarize(Estimator = Estimator.FDA, Terms = 0)]"), nameof(RESTE010_FDA_terms_below_one)),
                "RESTE010", DiagnosticSeverity.Error, "Terms = 0", "Terms = 0 must be ≥ 1");

        [Fact]
        public void RESTE011_a_member_with_a_name_the_generator_adds_is_an_error_at_the_member()
        {
            var outcome = Run(Usings + """
                [Binarize]
                public sealed partial class Block : nn.Module<Tensor, Tensor>
                {
                    public Block() : base(nameof(Block)) { }
                    public override Tensor forward(Tensor x) => x;
                    public static int Layers => 1;
                    private readonly int BinarySign = 2;
                    public void BinaryLayers() { }
                    public sealed class BinaryConv2d { }
                    public object BinaryLinear { get; } = new object();
                }
                """, nameof(RESTE011_a_member_with_a_name_the_generator_adds_is_an_error_at_the_member));
            var found = outcome.Diagnostics.OrderBy(d => d.Location.SourceSpan.Start).ToList();
            Assert.All(found, d => Assert.Equal(("RESTE011", DiagnosticSeverity.Error), (d.Id, d.Severity)));
            Assert.Equal(new[] { "Layers", "BinarySign", "BinaryLayers", "BinaryConv2d", "BinaryLinear" }, found.Select(d => Snapshot.SourceText(d, outcome.Input)));
            Assert.Contains("'Block' declares a member named 'Layers'", found[0].GetMessage(CultureInfo.InvariantCulture));
            Assert.Contains("layer factory", found[0].GetMessage(CultureInfo.InvariantCulture));
        }

        [Fact]
        public void A_static_policy_class_needs_no_module_base_but_must_be_partial() =>
            Single(Run(Usings + "[Binarize]\npublic static class EdePolicy { }\n", nameof(A_static_policy_class_needs_no_module_base_but_must_be_partial)),
                "RESTE001", DiagnosticSeverity.Error, "EdePolicy", "'EdePolicy' is not declared partial");

        [Fact]
        public void Descriptors_have_distinct_ids_in_sequence_and_every_one_is_tested()
        {
            var ids = DiagnosticDescriptors.All.Select(d => d.Id).ToList();
            Assert.Equal(Enumerable.Range(1, ids.Count).Select(i => $"RESTE{i:000}"), ids);
            var tested = typeof(DiagnosticTests).GetMethods().Select(m => m.Name).ToList();
            foreach (var id in ids) Assert.Contains(tested, name => name.StartsWith(id + "_", System.StringComparison.Ordinal));
        }
    }
}

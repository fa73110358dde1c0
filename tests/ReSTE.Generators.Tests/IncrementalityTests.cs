using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using ReSTE.Generators.Tests.Infrastructure;
using Xunit;

namespace ReSTE.Generators.Tests
{
    /// <summary>
    /// The pipeline's tracked steps across edits (as Mapperly and the LoggerMessage generator test theirs): unrelated edits
    /// leave every output Cached or Unchanged; changing OEnd on one class re-emits that class only.
    /// </summary>
    public class IncrementalityTests
    {
        static string Annotated(string name, string attribute, string body = "") => $$"""
            using ReSTE.Runtime;
            using TorchSharp;
            using static TorchSharp.torch;

            namespace Models;

            {{attribute}}
            public sealed partial class {{name}} : nn.Module<Tensor, Tensor>
            {
                public {{name}}() : base(nameof({{name}})) { }
                public override Tensor forward(Tensor x) => x;
            {{body}}
            }
            """;

        const string Unrelated = """
            namespace Models;

            public static class Helpers
            {
                public static int Twice(int x) => x * 2;
            }
            """;

        static readonly IncrementalStepRunReason[] Reused = { IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged };

        static (GeneratorDriver Driver, CSharpCompilation Compilation) First()
        {
            var compilation = GeneratorHarness.Compilation(
                Annotated("BlockA", "[Binarize(OEnd = 3)]"),
                Annotated("BlockB", "[Binarize(Estimator = Estimator.STE)]"),
                Unrelated);
            var driver = GeneratorHarness.Driver().RunGenerators(compilation);
            var first = driver.GetRunResult().Results.Single();
            Assert.Equal(2, first.GeneratedSources.Length);
            Assert.All(Outputs(first, BinarizeGenerator.TrackingNames.Specs), r => Assert.Equal(IncrementalStepRunReason.New, r));
            return (driver, compilation);
        }

        static CSharpCompilation Replace(CSharpCompilation compilation, int index, string text)
        {
            var old = compilation.SyntaxTrees.ElementAt(index);
            return compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(text, GeneratorHarness.ParseOptions, path: old.FilePath));
        }

        static IEnumerable<IncrementalStepRunReason> Outputs(GeneratorRunResult result, string step) =>
            result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);

        static IEnumerable<IncrementalStepRunReason> SourceOutputs(GeneratorRunResult result) =>
            result.TrackedOutputSteps.SelectMany(p => p.Value).SelectMany(s => s.Outputs).Select(o => o.Reason);

        [Fact]
        public void An_unrelated_edit_leaves_every_step_cached_or_unchanged()
        {
            var (driver, compilation) = First();
            var next = Replace(compilation, 2, Unrelated.Replace("x * 2", "x + x", StringComparison.Ordinal));
            var result = driver.RunGenerators(next).GetRunResult().Results.Single();

            foreach (var step in new[] { BinarizeGenerator.TrackingNames.Specs, BinarizeGenerator.TrackingNames.Emittable })
                Assert.All(Outputs(result, step), r => Assert.Contains(r, Reused));
            Assert.NotEmpty(SourceOutputs(result));
            Assert.All(SourceOutputs(result), r => Assert.Contains(r, Reused));
        }

        [Fact]
        public void An_edit_inside_an_annotated_class_that_keeps_its_policy_re_emits_nothing()
        {
            var (driver, compilation) = First();
            var next = Replace(compilation, 0, Annotated("BlockA", "[Binarize(OEnd = 3)]", "    public int Extra => 1;"));
            var result = driver.RunGenerators(next).GetRunResult().Results.Single();

            // The transform runs again for the edited declaration, but produces an equal model: everything after it is reused.
            Assert.All(Outputs(result, BinarizeGenerator.TrackingNames.Specs), r => Assert.Contains(r, Reused));
            Assert.All(Outputs(result, BinarizeGenerator.TrackingNames.Emittable), r => Assert.Contains(r, Reused));
            Assert.All(SourceOutputs(result), r => Assert.Contains(r, Reused));
        }

        [Fact]
        public void Changing_OEnd_on_one_class_re_emits_only_that_class()
        {
            var (driver, compilation) = First();
            var before = driver.GetRunResult().Results.Single().GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString());
            var next = Replace(compilation, 0, Annotated("BlockA", "[Binarize(OEnd = 4)]"));
            driver = driver.RunGenerators(next);
            var result = driver.GetRunResult().Results.Single();

            var specs = Outputs(result, BinarizeGenerator.TrackingNames.Emittable).ToList();
            Assert.Equal(1, specs.Count(r => r == IncrementalStepRunReason.Modified));
            Assert.Equal(1, specs.Count(r => Reused.Contains(r)));

            var emitted = SourceOutputs(result).ToList();
            Assert.Equal(1, emitted.Count(r => r == IncrementalStepRunReason.Modified));
            Assert.All(emitted.Where(r => r != IncrementalStepRunReason.Modified), r => Assert.Contains(r, Reused));

            var after = result.GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString());
            Assert.NotEqual(before["Models.BlockA.Binary.g.cs"], after["Models.BlockA.Binary.g.cs"]);
            Assert.Contains("oEnd: 4,", after["Models.BlockA.Binary.g.cs"]);
            Assert.Equal(before["Models.BlockB.Binary.g.cs"], after["Models.BlockB.Binary.g.cs"]);
        }

        [Fact]
        public void Pipeline_models_hold_no_symbols_syntax_or_compilations()
        {
            var (driver, _) = First();
            var result = driver.GetRunResult().Results.Single();
            // Only this generator's named steps: Roslyn's own ForAttributeWithMetadataName steps do carry the compilation.
            var names = new[] { BinarizeGenerator.TrackingNames.Specs, BinarizeGenerator.TrackingNames.Diagnostics, BinarizeGenerator.TrackingNames.Emittable };
            Assert.Contains(BinarizeGenerator.TrackingNames.Specs, result.TrackedSteps.Keys);
            foreach (var name in names.Where(result.TrackedSteps.ContainsKey))
                foreach (var step in result.TrackedSteps[name])
                    foreach (var (value, _) in step.Outputs)
                        AssertNoCompilerObjects(value, name, new HashSet<object>(ReferenceEqualityComparer.Instance));
        }

        static void AssertNoCompilerObjects(object? value, string path, HashSet<object> seen)
        {
            if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum) return;
            Assert.False(value is ISymbol or SyntaxNode or Compilation or SemanticModel or SyntaxTree,
                $"{path} holds a {value.GetType().Name}, which pins a compilation and defeats caching.");
            if (!value.GetType().IsValueType && !seen.Add(value)) return;
            if (value.GetType().Namespace?.StartsWith("ReSTE.Generators", StringComparison.Ordinal) != true && value is not IEnumerable) return;
            if (value is IEnumerable items)
            {
                int i = 0;
                foreach (var item in items) AssertNoCompilerObjects(item, $"{path}[{i++}]", seen);
                if (value.GetType().Namespace?.StartsWith("ReSTE.Generators", StringComparison.Ordinal) != true) return;
            }
            foreach (var field in value.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                AssertNoCompilerObjects(field.GetValue(value), $"{path}.{field.Name}", seen);
        }
    }
}

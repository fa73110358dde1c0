using System.IO;
using ReSTE.Generators.Testing;
using ReSTE.Generators.Tests.Infrastructure;
using Xunit;

namespace ReSTE.Generators.Tests
{
    /// <summary>
    /// The bnn template ships the verified snapshot of its model's generated layers: it must be what this generator
    /// writes (UPDATE_SNAPSHOTS=1 rewrites it with the others), or a project made from the template would fail its test.
    /// </summary>
    public class TemplateSnapshotTests
    {
        [Fact]
        public void The_bnn_templates_snapshot_is_what_the_generator_writes_for_its_model()
        {
            var content = Path.Combine(PackageTests.RepoRoot(), "templates", "ReSTE.Templates", "content", "bnn");
            var run = GeneratorSnapshot.RunFiles(new[] { Path.Combine(content, "MyNet", "Model.cs") });
            Assert.Empty(run.Diagnostics);
            Assert.Empty(GeneratorHarness.GeneratedCodeProblems(run.Output));
            Assert.Single(run.Result.GeneratedTrees);
            // The name the template's test gets: {file ModelTests.cs}.{method}.
            GeneratorSnapshot.Verify(run.Result, "ModelTests.Generated_layers_match_the_snapshot", Path.Combine(content, "MyNet.Tests", "Snapshots"), run.Input);
        }
    }
}

using ReSTE.Generators.Testing;
using Xunit;

namespace MyNet.Tests;

public class ModelTests
{
    // Runs the [Binarize] generator over ../MyNet/Model.cs and compares each generated file with
    // Snapshots/ModelTests.Generated_layers_match_the_snapshot#{HintName}.verified.cs. After a change to the model,
    // review the diff (and the .received. file), then accept it: UPDATE_SNAPSHOTS=1 dotnet test
    [Fact]
    public void Generated_layers_match_the_snapshot() =>
        GeneratorSnapshot.Verify(GeneratorSnapshot.RunFiles(new[] { "../MyNet/Model.cs" }));
}

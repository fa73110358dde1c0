using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using ReSTE.Generators;

// Generation time of the [Binarize] generator (Stopwatch, in-process, Release): for 1 and for N annotated classes
// (one file each, estimators in turn), cold (a new driver over a new compilation) and after a one-line edit (a driver
// that has run once, given the compilation with one class's OEnd changed). Each figure is the median of the runs, with
// the minimum; the first cold run of the process (JIT of Roslyn and the generator) is reported apart.
// Usage: dotnet run -c Release --project benchmarks/ReSTE.Generators.Benchmarks [-- runs]

int runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 15;
var parse = new CSharpParseOptions(LanguageVersion.Latest);
var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
    .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && !Path.GetFileName(p).StartsWith("ReSTE.Generators", StringComparison.Ordinal))
    .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
string[] estimators = { "ReSTE", "STE", "ApproxSign", "SignSwish", "EDE", "DSQ", "FDA", "RBNN" };

string Source(int i, double oEnd) => $$"""
    using ReSTE.Runtime;
    using TorchSharp;
    using static TorchSharp.torch;

    namespace Models;

    [Binarize(Estimator = Estimator.{{estimators[i % estimators.Length]}}{{(i % estimators.Length == 0 ? ", OEnd = " + oEnd.ToString(CultureInfo.InvariantCulture) : "")}})]
    public sealed partial class Block{{i}} : nn.Module<Tensor, Tensor>
    {
        private readonly BinaryConv2d conv1, conv2;
        public Block{{i}}() : base(nameof(Block{{i}}))
        {
            conv1 = new BinaryConv2d(16, 16, 3, padding: 1);
            conv2 = new BinaryConv2d(16, 16, 3, padding: 1);
            RegisterComponents();
        }
        public override Tensor forward(Tensor x) => conv2.call(conv1.call(x));
    }
    """;

CSharpCompilation Compilation(int classes) => CSharpCompilation.Create("Bench",
    Enumerable.Range(0, classes).Select(i => CSharpSyntaxTree.ParseText(Source(i, 3), parse, path: $"Block{i}.cs")),
    references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));

GeneratorDriver NewDriver() => CSharpGeneratorDriver.Create(new[] { new BinarizeGenerator().AsSourceGenerator() }, parseOptions: parse);

double Ms(Stopwatch sw) => sw.Elapsed.TotalMilliseconds;
string Stats(List<double> xs) { xs.Sort(); return $"median {xs[xs.Count / 2],8:F2} ms, min {xs[0],8:F2} ms"; }

Console.WriteLine($"ReSTE.Generators generation time ({Environment.ProcessorCount} cores, {RuntimeInformationText()}, {runs} runs each)");
var firstCompilation = Compilation(1);
var sw0 = Stopwatch.StartNew();
var firstDriver = NewDriver().RunGenerators(firstCompilation);
sw0.Stop();
if (firstDriver.GetRunResult().GeneratedTrees.Length != 1) throw new InvalidOperationException("expected one generated file");
Console.WriteLine($"  first run in the process (JIT included), 1 class: {Ms(sw0):F1} ms");

foreach (var classes in new[] { 1, 200 })
{
    var cold = new List<double>();
    var edit = new List<double>();
    for (int r = 0; r < runs; r++)
    {
        var compilation = Compilation(classes); // fresh trees and compilation: nothing cached
        var sw = Stopwatch.StartNew();
        var driver = NewDriver().RunGenerators(compilation);
        sw.Stop();
        cold.Add(Ms(sw));
        var result = driver.GetRunResult();
        if (result.GeneratedTrees.Length != classes || result.Diagnostics.Length != 0) throw new InvalidOperationException("unexpected output");

        // One-line edit: class 0's OEnd changes; only that class is re-emitted.
        var old = compilation.SyntaxTrees.First();
        var edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(Source(0, 3 + (r + 1) * 0.25), parse, path: old.FilePath));
        sw.Restart();
        driver = driver.RunGenerators(edited);
        sw.Stop();
        edit.Add(Ms(sw));
        if (driver.GetRunResult().GeneratedTrees.Length != classes) throw new InvalidOperationException("unexpected output after edit");
    }
    Console.WriteLine($"  {classes,3} class(es): cold {Stats(cold)} | after a one-line edit {Stats(edit)}");
}

static string RuntimeInformationText() => System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;

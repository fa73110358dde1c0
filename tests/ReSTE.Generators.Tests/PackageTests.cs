using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace ReSTE.Generators.Tests
{
    /// <summary>
    /// The packages as a user gets them, from the README's set-up block: a copy of this working tree is packed into a
    /// folder with the block's own pack command (once for the class), then fresh projects outside the repository run the
    /// block's remaining lines and build the README example (net10.0, and net8.0 self-contained on the .NET 8 runtime),
    /// and a project made from the bnn template runs its snapshot test (passes; fails after an OEnd edit with a diff;
    /// passes after accepting). Restores go through the machine's NuGet sources; the packages just packed have a version
    /// of their own, and their copies in the NuGet cache are deleted afterwards.
    /// </summary>
    public sealed class PackageFeed : IDisposable
    {
        public static readonly string[] PackageIds =
            { "ReSTE", "ReSTE.Generators", "ReSTE.Generators.Testing", "ReSTE.Runtime", "ReSTE.Inference", "ReSTE.Reports", "ReSTE.Onnx", "ReSTE.Templates" };

        public string Repo { get; }
        public string Root { get; }
        public string Feed { get; }
        public string Version { get; }
        public string SetupAfterPack { get; }

        public PackageFeed()
        {
            Repo = PackageTests.RepoRoot();
            Root = Path.Combine(Path.GetTempPath(), "reste-package-test-" + Guid.NewGuid().ToString("N")[..8]);
            Feed = Path.Combine(Root, "feed");
            Directory.CreateDirectory(Root);
            var (pack, rest) = PackageTests.SetupBlock(Repo);
            SetupAfterPack = rest;

            // A copy of the working tree (tracked and untracked, not ignored files): packing rebuilds with a new version,
            // which must not rewrite the assemblies that other test processes are running from.
            var copy = Path.Combine(Root, "ReSTE.Generators");
            var files = PackageTests.Run(Repo, null, true, "git", "ls-files", "-co", "--exclude-standard", "-z");
            foreach (var file in files.Split('\0', StringSplitOptions.RemoveEmptyEntries))
            {
                var from = Path.Combine(Repo, file);
                if (!File.Exists(from)) continue; // deleted in the working tree
                var to = Path.Combine(copy, file);
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(from, to);
            }
            PackageTests.Bash(Root, pack.Replace("cd ReSTE.Generators", $"cd '{copy}'", StringComparison.Ordinal).Replace("\"$HOME/reste-feed\"", $"'{Feed}'", StringComparison.Ordinal));

            var runtime = Directory.GetFiles(Feed, "ReSTE.Runtime.*.nupkg").Single();
            Version = Path.GetFileNameWithoutExtension(runtime)["ReSTE.Runtime.".Length..];
            Assert.Matches(@"^0\.1\.0-local\.\d{14}$", Version);
        }

        public string Package(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

        public void Dispose()
        {
            try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            foreach (var id in PackageIds)
            {
                var cached = Path.Combine(PackageTests.MachinePackages(), id.ToLowerInvariant(), Version?.ToLowerInvariant() ?? "-");
                try { if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
    }

    public class PackageTests : IClassFixture<PackageFeed>
    {
        readonly PackageFeed feed;
        readonly ITestOutputHelper output;

        public PackageTests(PackageFeed feed, ITestOutputHelper output)
        {
            this.feed = feed;
            this.output = output;
        }

        public static string RepoRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "ReSTE.Generators.sln"))) return dir.FullName;
            throw new DirectoryNotFoundException($"No ReSTE.Generators.sln above {AppContext.BaseDirectory}.");
        }

        public static string MachinePackages() =>
            Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

        static IEnumerable<(string Lang, string Text)> CodeBlocks(string markdown)
        {
            foreach (Match m in Regex.Matches(markdown.Replace("\r\n", "\n", StringComparison.Ordinal), @"^```(\w*)\n(.*?)^```$", RegexOptions.Multiline | RegexOptions.Singleline))
                yield return (m.Groups[1].Value, m.Groups[2].Value);
        }

        /// <summary>The README's first code block (the set-up), split before its "dotnet new console" line.</summary>
        public static (string Pack, string AfterPack) SetupBlock(string repo)
        {
            var (lang, text) = CodeBlocks(File.ReadAllText(Path.Combine(repo, "README.md"))).First();
            Assert.Equal("bash", lang);
            int split = text.IndexOf("dotnet new console", StringComparison.Ordinal);
            Assert.True(split > 0, "The README's first code block has no 'dotnet new console' line:\n" + text);
            return (text[..split], text[split..]);
        }

        /// <summary>The first C# block of the README's "Writing a binary network": the example program.</summary>
        static string ReadmeExample(string repo)
        {
            var readme = File.ReadAllText(Path.Combine(repo, "README.md"));
            int section = readme.IndexOf("\n## Writing a binary network", StringComparison.Ordinal);
            Assert.True(section > 0, "The README has no section 'Writing a binary network'.");
            return CodeBlocks(readme[section..]).First(b => b.Lang == "csharp").Text;
        }

        public static string Run(string workingDirectory, IDictionary<string, string>? environment, bool mustSucceed, string file, params string[] arguments)
        {
            var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in arguments) start.ArgumentList.Add(a);
            // The test host's MSBuild and test-platform variables must not leak into the child builds.
            foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)
                         || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH" || k == "UPDATE_SNAPSHOTS").ToList())
                start.Environment.Remove(key);
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            start.Environment["DOTNET_NOLOGO"] = "1";
            start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
            if (environment != null)
                foreach (var pair in environment) start.Environment[pair.Key] = pair.Value;
            using var process = Process.Start(start)!;
            var text = new StringBuilder();
            process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (text) text.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (text) text.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var what = $"{file} {string.Join(' ', arguments)} (in {workingDirectory})";
            if (!process.WaitForExit(TimeSpan.FromMinutes(20)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{what} took over 20 minutes.\n{text}");
            }
            process.WaitForExit();
            if (mustSucceed) Assert.True(process.ExitCode == 0, $"{what} exited {process.ExitCode}:\n{text}");
            else Assert.True(process.ExitCode != 0, $"{what} was expected to fail and exited 0:\n{text}");
            return text.ToString();
        }

        public static string Bash(string workingDirectory, string script, bool mustSucceed = true) =>
            Run(workingDirectory, null, mustSucceed, "bash", "-euo", "pipefail", "-c", script);

        static string Dotnet(string workingDirectory, params string[] arguments) => Run(workingDirectory, null, true, "dotnet", arguments);

        static long FolderBytes(string folder) => new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

        static string Mb(long bytes) => (bytes / 1e6).ToString("F0", CultureInfo.InvariantCulture) + " MB";

        /// <summary>A fresh folder outside the repository with the README's set-up lines after the pack run in it.</summary>
        string NewApp(string name, string tfm)
        {
            var dir = Path.Combine(feed.Root, name);
            Directory.CreateDirectory(dir);
            var rest = feed.SetupAfterPack.Replace("\"$HOME/reste-feed\"", $"'{feed.Feed}'", StringComparison.Ordinal);
            Assert.Contains("--target-framework-override net10.0", rest);
            Bash(dir, rest.Replace("--target-framework-override net10.0", "--target-framework-override " + tfm, StringComparison.Ordinal));
            var app = Path.Combine(dir, "MyApp");
            Assert.Contains($"<TargetFramework>{tfm}</TargetFramework>", File.ReadAllText(Path.Combine(app, "MyApp.csproj")));
            Assert.Contains("Include=\"ReSTE\" Version=\"" + feed.Version + "\"", File.ReadAllText(Path.Combine(app, "MyApp.csproj")));
            File.WriteAllText(Path.Combine(app, "Program.cs"), ReadmeExample(feed.Repo));
            return app;
        }

        static void AssertTrained(string run)
        {
            var losses = run.Split('\n').Where(l => l.StartsWith("epoch ", StringComparison.Ordinal))
                .Select(l => double.Parse(l[(l.LastIndexOf('=') + 1)..].Trim(), CultureInfo.InvariantCulture)).ToList();
            Assert.True(losses.Count == 5, run);
            Assert.All(losses, l => Assert.True(double.IsFinite(l) && l > 0, run));
            Assert.True(losses[^1] < losses[0], $"the loss did not decrease:\n{run}");
            Assert.Contains("binary weights: 4608", run);
            // The policy scenario: a static policy class, (3, 1) and (1, 3) kernels with Padding.Same, the extension
            // methods and the summary (16·16·3 binary weights per binary convolution, 1-bit inputs).
            Assert.Contains("binary layers: conv1, conv2", run);
            Assert.Contains("compression ratio", run);
            Assert.Contains("parameters: 2,170 (1,536 binary, 634 full precision)", run);
        }

        [Fact]
        public void The_packages_carry_their_metadata_and_the_right_dependencies()
        {
            foreach (var id in PackageFeed.PackageIds)
            {
                using var zip = ZipFile.OpenRead(feed.Package(id));
                var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open()).ReadToEnd();
                foreach (var tag in new[] { "<readme>README.md</readme>", "<projectUrl>", "<repository type=\"git\"", "<tags>", "<releaseNotes>", "<license type=\"expression\">MIT</license>" })
                    Assert.True(nuspec.Contains(tag, StringComparison.Ordinal), $"{id}: no {tag} in\n{nuspec}");
                Assert.Contains(zip.Entries, e => e.FullName == "README.md");
                bool hasLib = zip.Entries.Any(e => e.FullName.StartsWith("lib/", StringComparison.Ordinal) && e.FullName.EndsWith(".dll", StringComparison.Ordinal));
                Assert.Equal(hasLib, File.Exists(Path.Combine(feed.Feed, $"{id}.{feed.Version}.snupkg")));
            }
            string Nuspec(string id)
            {
                using var zip = ZipFile.OpenRead(feed.Package(id));
                return new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open()).ReadToEnd();
            }
            using (var zip = ZipFile.OpenRead(feed.Package("ReSTE.Generators")))
            {
                Assert.Contains(zip.Entries, e => e.FullName == "analyzers/dotnet/cs/ReSTE.Generators.dll");
                // [Binarize]'s assembly loads beside the generator, which reads the real attribute and catalogue.
                Assert.Contains(zip.Entries, e => e.FullName == "analyzers/dotnet/cs/ReSTE.Abstractions.dll");
                Assert.DoesNotContain(zip.Entries, e => e.FullName.StartsWith("lib/", StringComparison.Ordinal));
            }
            using (var zip = ZipFile.OpenRead(feed.Package("ReSTE.Runtime")))
            {
                Assert.Contains(zip.Entries, e => e.FullName == "buildTransitive/ReSTE.Runtime.targets");
                foreach (var tfm in new[] { "net8.0", "net10.0" })
                {
                    Assert.Contains(zip.Entries, e => e.FullName == $"lib/{tfm}/ReSTE.Runtime.dll");
                    // ReSTE.Abstractions ships inside the runtime package, not as a dependency.
                    Assert.Contains(zip.Entries, e => e.FullName == $"lib/{tfm}/ReSTE.Abstractions.dll");
                }
            }
            // Managed TorchSharp only: the application picks its libtorch.
            var runtime = Nuspec("ReSTE.Runtime");
            Assert.Contains("id=\"TorchSharp\"", runtime);
            Assert.DoesNotContain("id=\"TorchSharp-cpu\"", runtime);
            Assert.DoesNotContain("ReSTE.Abstractions", runtime);
            // The ONNX writer: the inference library and Google.Protobuf; protoc (Grpc.Tools) is a build-time tool only.
            var onnx = Nuspec("ReSTE.Onnx");
            Assert.Contains($"<dependency id=\"ReSTE.Inference\" version=\"{feed.Version}\"", onnx);
            Assert.Contains("id=\"Google.Protobuf\"", onnx);
            Assert.DoesNotContain("Grpc.Tools", onnx);
            Assert.DoesNotContain("id=\"TorchSharp", onnx);
            // The one reference: the meta package brings the runtime and the generator, analyzers and build files included.
            var meta = Nuspec("ReSTE");
            foreach (var tfm in new[] { "net8.0", "net10.0" })
                Assert.Contains($"<group targetFramework=\"{tfm}\">", meta);
            Assert.Contains($"<dependency id=\"ReSTE.Runtime\" version=\"{feed.Version}\" include=\"All\" />", meta);
            Assert.Contains($"<dependency id=\"ReSTE.Generators\" version=\"{feed.Version}\" include=\"All\" />", meta);
            using (var zip = ZipFile.OpenRead(feed.Package("ReSTE.Generators.Testing")))
                foreach (var tfm in new[] { "net8.0", "net10.0" })
                {
                    Assert.Contains(zip.Entries, e => e.FullName == $"lib/{tfm}/ReSTE.Generators.Testing.dll");
                    Assert.Contains(zip.Entries, e => e.FullName == $"lib/{tfm}/ReSTE.Generators.dll");
                }
            using (var zip = ZipFile.OpenRead(feed.Package("ReSTE.Templates")))
            {
                Assert.Contains(zip.Entries, e => e.FullName == "content/bnn/.template.config/template.json");
                var csproj = new StreamReader(zip.GetEntry("content/bnn/MyNet/MyNet.csproj")!.Open()).ReadToEnd();
                Assert.Contains($"Include=\"ReSTE\" Version=\"{feed.Version}\"", csproj);
            }
        }

        [Fact]
        public void A_net10_project_with_the_README_set_up_builds_and_runs_the_README_example()
        {
            var app = NewApp("net10", "net10.0");
            Dotnet(app, "build", "-c", "Release");
            var bin = Path.Combine(app, "bin", "Release", "net10.0");
            AssertTrained(Dotnet(app, Path.Combine(bin, "MyApp.dll")));
            output.WriteLine($"net10.0, TorchSharp-cpu, dotnet build (no runtime identifier): {Mb(FolderBytes(bin))} in {bin}");
        }

        [Fact]
        public void A_net8_project_with_the_README_set_up_builds_and_runs_the_README_example_on_the_NET_8_runtime()
        {
            var app = NewApp("net8", "net8.0");
            // This machine has only the .NET 10 runtime: the app carries the .NET 8 one (self-contained, linux-x64).
            Dotnet(app, "build", "-c", "Release", "-r", "linux-x64", "--self-contained");
            var bin = Path.Combine(app, "bin", "Release", "net8.0", "linux-x64");
            Assert.Matches("\"Microsoft.NETCore.App.Runtime.linux-x64\": \"8\\.0\\.", File.ReadAllText(Path.Combine(bin, "MyApp.deps.json")).Replace("runtimepack.", "", StringComparison.Ordinal));
            AssertTrained(Run(app, null, true, Path.Combine(bin, "MyApp")));
            output.WriteLine($"net8.0, TorchSharp-cpu, dotnet build -r linux-x64 --self-contained: {Mb(FolderBytes(bin))} in {bin}");
        }

        [Fact]
        public void A_project_on_an_unsupported_framework_gets_NuGets_framework_error_at_restore()
        {
            var dir = Path.Combine(feed.Root, "net6");
            Directory.CreateDirectory(dir);
            var rest = feed.SetupAfterPack.Replace("\"$HOME/reste-feed\"", $"'{feed.Feed}'", StringComparison.Ordinal);
            var upToPackage = rest[..rest.IndexOf("dotnet add package ReSTE", StringComparison.Ordinal)]
                .Replace("--target-framework-override net10.0", "--target-framework-override net6.0", StringComparison.Ordinal);
            Bash(dir, upToPackage);
            var app = Path.Combine(dir, "MyApp");
            var text = Run(app, null, false, "dotnet", "add", "package", "ReSTE", "--version", feed.Version);
            Assert.Contains("NU1202", text);
            Assert.Contains("net6.0", text);
        }

        [Fact]
        public void A_project_from_the_template_passes_its_snapshot_test_fails_after_an_OEnd_edit_and_passes_after_accepting()
        {
            var dir = Path.Combine(feed.Root, "template");
            var hive = Path.Combine(feed.Root, "template-hive");
            Directory.CreateDirectory(dir);
            Dotnet(dir, "new", "install", feed.Package("ReSTE.Templates"), "--debug:custom-hive", hive);
            Dotnet(dir, "new", "bnn", "-n", "MyNet", "--debug:custom-hive", hive);
            var root = Path.Combine(dir, "MyNet");
            // The feed, as the README's set-up adds it.
            Bash(root, $"dotnet new nugetconfig\ndotnet nuget add source '{feed.Feed}' -n reste\n");

            Dotnet(root, "build", "MyNet", "-c", "Release");
            var bin = Path.Combine(root, "MyNet", "bin", "Release", "net10.0");
            output.WriteLine($"template app, net10.0, TorchSharp-cpu, dotnet build: {Mb(FolderBytes(bin))}");

            Assert.Contains("Passed!", Dotnet(root, "test", "MyNet.Tests", "-c", "Release"));

            var model = Path.Combine(root, "MyNet", "Model.cs");
            var source = File.ReadAllText(model);
            Assert.Contains("OEnd = 3", source);
            File.WriteAllText(model, source.Replace("OEnd = 3", "OEnd = 5", StringComparison.Ordinal));
            var failed = Run(root, null, false, "dotnet", "test", "MyNet.Tests", "-c", "Release");
            Assert.Contains("SnapshotMismatchException", failed);
            Assert.Contains("differs; wrote ModelTests.Generated_layers_match_the_snapshot#MyNet.BinaryNet.Binary.g.received.cs", failed);
            Assert.Matches(@"\d+ - .*oEnd: 3", failed);
            Assert.Matches(@"\d+ \+ .*oEnd: 5", failed);
            var snapshots = Path.Combine(root, "MyNet.Tests", "Snapshots");
            Assert.Single(Directory.GetFiles(snapshots, "*.received.cs"));

            Run(root, new Dictionary<string, string> { ["UPDATE_SNAPSHOTS"] = "1" }, true, "dotnet", "test", "MyNet.Tests", "-c", "Release");
            Assert.Empty(Directory.GetFiles(snapshots, "*.received.cs"));
            Assert.Contains("oEnd: 5", File.ReadAllText(Directory.GetFiles(snapshots, "*.verified.cs").Single()));
            Assert.Contains("Passed!", Dotnet(root, "test", "MyNet.Tests", "-c", "Release"));
        }
    }
}

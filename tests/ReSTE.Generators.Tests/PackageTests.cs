using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using Xunit;

namespace ReSTE.Generators.Tests
{
    /// <summary>
    /// As users get it: dotnet pack the runtime (with ReSTE.Inference, which it depends on) and the generator into a local
    /// folder feed, then build and run the README example (PackageTest/Program.cs) in a fresh project outside the
    /// repository, with its own empty Directory.Build.props/targets and a NuGet.config naming the feed and nuget.org.
    /// </summary>
    public class PackageTests
    {
        static string RepoRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "ReSTE.Generators.sln"))) return dir.FullName;
            throw new DirectoryNotFoundException($"No ReSTE.Generators.sln above {AppContext.BaseDirectory}.");
        }

        static string MachinePackages() =>
            Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

        static string Dotnet(string workingDirectory, params string[] arguments)
        {
            var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in arguments) start.ArgumentList.Add(a);
            // The test host's MSBuild and test-platform variables must not leak into the child builds.
            foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)
                         || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH").ToList())
                start.Environment.Remove(key);
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            start.Environment["DOTNET_NOLOGO"] = "1";
            using var process = Process.Start(start)!;
            var output = new StringBuilder();
            process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"dotnet {string.Join(' ', arguments)} took over 5 minutes.\n{output}");
            }
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} (in {workingDirectory}) exited {process.ExitCode}:\n{output}");
            return output.ToString();
        }

        [Fact]
        public void Packed_runtime_and_generator_build_and_run_the_README_example_in_a_fresh_project()
        {
            var repo = RepoRoot();
            var root = Path.Combine(Path.GetTempPath(), "reste-package-test-" + Guid.NewGuid().ToString("N")[..8]);
            var feed = Path.Combine(root, "feed");
            var app = Path.Combine(root, "app");
            // A version no cache has seen, so that the packages just packed are the ones used.
            var version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
            Directory.CreateDirectory(feed);
            Directory.CreateDirectory(app);
            try
            {
                foreach (var project in new[] { "generator/ReSTE.Generators", "runtime/ReSTE.Inference", "runtime/ReSTE.Runtime" })
                    Dotnet(repo, "pack", project, "-c", "Release", "-o", feed, "-p:PackageVersion=" + version);
                Assert.True(File.Exists(Path.Combine(feed, $"ReSTE.Generators.{version}.nupkg")));
                using (var zip = System.IO.Compression.ZipFile.OpenRead(Path.Combine(feed, $"ReSTE.Generators.{version}.nupkg")))
                {
                    Assert.Contains(zip.Entries, e => e.FullName == "analyzers/dotnet/cs/ReSTE.Generators.dll");
                    // [Binarize]'s assembly loads beside the generator, which reads the real attribute and catalogue.
                    Assert.Contains(zip.Entries, e => e.FullName == "analyzers/dotnet/cs/ReSTE.Abstractions.dll");
                    Assert.DoesNotContain(zip.Entries, e => e.FullName.StartsWith("lib/", StringComparison.Ordinal));
                }
                using (var zip = System.IO.Compression.ZipFile.OpenRead(Path.Combine(feed, $"ReSTE.Runtime.{version}.nupkg")))
                {
                    Assert.Contains(zip.Entries, e => e.FullName == "buildTransitive/ReSTE.Runtime.targets");
                    using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
                    var text = nuspec.ReadToEnd();
                    // Managed TorchSharp only: the application picks its libtorch.
                    Assert.Contains("id=\"TorchSharp\"", text);
                    Assert.DoesNotContain("TorchSharp-cpu", text);
                    Assert.Contains("<group targetFramework=\"net8.0\">", text);
                    Assert.Contains("<group targetFramework=\"net10.0\">", text);
                    // ReSTE.Abstractions ships inside the runtime package, not as a dependency.
                    Assert.DoesNotContain("ReSTE.Abstractions", text);
                    Assert.Contains(zip.Entries, e => e.FullName == "lib/net10.0/ReSTE.Abstractions.dll");
                }

                var here = Path.Combine(repo, "tests", "ReSTE.Generators.Tests", "PackageTest");
                File.Copy(Path.Combine(here, "Program.cs"), Path.Combine(app, "Program.cs"));
                File.WriteAllText(Path.Combine(app, "Consumer.csproj"), File.ReadAllText(Path.Combine(here, "Consumer.csproj.template")).Replace("$VERSION$", version, StringComparison.Ordinal));
                File.WriteAllText(Path.Combine(app, "NuGet.config"), File.ReadAllText(Path.Combine(here, "NuGet.config.template"))
                    .Replace("$PACKAGES$", Path.Combine(root, "packages"), StringComparison.Ordinal)
                    .Replace("$FEED$", feed, StringComparison.Ordinal)
                    .Replace("$MACHINE_PACKAGES$", MachinePackages(), StringComparison.Ordinal));
                // Empty, so that no Directory.Build.* above the temp folder applies.
                File.WriteAllText(Path.Combine(app, "Directory.Build.props"), "<Project />\n");
                File.WriteAllText(Path.Combine(app, "Directory.Build.targets"), "<Project />\n");

                Dotnet(app, "build", "-c", "Release");
                var run = Dotnet(app, "bin/Release/net10.0/Consumer.dll");
                var losses = run.Split('\n').Where(l => l.StartsWith("epoch ", StringComparison.Ordinal))
                    .Select(l => double.Parse(l[(l.LastIndexOf('=') + 1)..].Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToList();
                Assert.True(losses.Count == 5, run);
                Assert.All(losses, l => Assert.True(double.IsFinite(l) && l > 0, run));
                Assert.True(losses[^1] < losses[0], $"the loss did not decrease:\n{run}");
                Assert.Contains("binary weights: 4608", run);
                // The policy scenario: a static policy class, (3, 1) and (1, 3) kernels with Padding.Same, the extension
                // methods and the summary (16·16·3 binary weights per binary convolution, 1-bit inputs).
                Assert.Contains("policy model output: [2, 10]", run);
                Assert.Contains("binary layers: conv1, conv2", run);
                Assert.Contains("compression ratio", run);
                Assert.Contains("parameters: 2,170 (1,536 binary, 634 full precision)", run);
            }
            finally
            {
                try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
    }
}

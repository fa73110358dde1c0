using System;
using System.IO;
using System.Linq;
using ReSTE.Build;
using ReSTE.Runtime.Native;
using Xunit;

namespace ReSTE.Runtime.Tests
{
    public class NativeTests
    {
        const string Version = "GLIBCXX_3.4.32";
        const string Elf = "it reads the ELF files of TorchSharp's linux-x64 native library";

        static string PackagedLibTorchSharp()
        {
            // The unpatched original, from the NuGet package folder (read only here, never written).
            var home = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            var path = Path.Combine(home, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
            Assert.True(File.Exists(path), $"TorchSharp's native library is not at {path}");
            return path;
        }

        [LinuxFact(Because = Elf)]
        public void The_packaged_library_requires_GLIBCXX_3_4_32_strongly()
        {
            var needs = ElfVersionNeeds.Read(File.ReadAllBytes(PackagedLibTorchSharp()), "libLibTorchSharp.so");
            var need = Assert.Single(needs, n => n.Version == Version);
            Assert.Equal("libstdc++.so.6", need.File);
            Assert.False(need.IsWeak);
        }

        [LinuxFact(Because = Elf)]
        public void Marking_weak_changes_only_that_requirement_and_is_idempotent()
        {
            var original = File.ReadAllBytes(PackagedLibTorchSharp());
            var patched = (byte[])original.Clone();
            Assert.Equal(WeakPatchResult.Patched, ElfVersionNeeds.MarkWeak(patched, Version, "copy"));
            int changed = Enumerable.Range(0, original.Length).Count(i => original[i] != patched[i]);
            Assert.Equal(1, changed); // one byte of one vna_flags field
            var before = ElfVersionNeeds.Read(original, "original");
            var after = ElfVersionNeeds.Read(patched, "patched");
            Assert.Equal(before.Count, after.Count);
            for (int i = 0; i < before.Count; i++)
                Assert.Equal(before[i].Version == Version || before[i].IsWeak, after[i].IsWeak);
            Assert.Equal(WeakPatchResult.AlreadyWeak, ElfVersionNeeds.MarkWeak(patched, Version, "copy"));
            Assert.Equal(WeakPatchResult.NotRequired, ElfVersionNeeds.MarkWeak(patched, "GLIBCXX_9.9.99", "copy"));
        }

        [LinuxFact(Because = Elf)]
        public void The_build_output_library_is_patched_only_where_the_system_lacks_the_version()
        {
            var output = Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories).Single();
            var need = ElfVersionNeeds.Read(File.ReadAllBytes(output), output).Single(n => n.Version == Version);
            var libstdcxx = ElfVersionNeeds.FindSystemLibStdCxx();
            bool systemHasIt = libstdcxx != null && ElfVersionNeeds.FileDefinesVersion(libstdcxx, Version);
            Assert.Equal(!systemHasIt, need.IsWeak);
            // And the package cache still holds the original.
            Assert.False(ElfVersionNeeds.Read(File.ReadAllBytes(PackagedLibTorchSharp()), "package").Single(n => n.Version == Version).IsWeak);
        }

        [LinuxFact(Because = Elf)]
        public void Patching_a_file_replaces_it_atomically_instead_of_writing_through_a_link()
        {
            using var dir = new TempDir();
            var source = dir.File("cache.so");
            File.Copy(PackagedLibTorchSharp(), source);
            var linked = dir.File("output.so");
            File.CreateSymbolicLink(linked, source);
            Assert.Equal(WeakPatchResult.Patched, ElfVersionNeeds.MarkWeakInFile(linked, Version));
            Assert.False(new FileInfo(linked).Attributes.HasFlag(FileAttributes.ReparsePoint)); // replaced, not written through
            Assert.False(ElfVersionNeeds.Read(File.ReadAllBytes(source), "source").Single(n => n.Version == Version).IsWeak);
            Assert.True(ElfVersionNeeds.Read(File.ReadAllBytes(linked), "patched").Single(n => n.Version == Version).IsWeak);
        }

        [Fact]
        public void A_libstdcxx_that_defines_the_version_is_recognised()
        {
            using var dir = new TempDir();
            var path = dir.File("libstdc++.so.6");
            File.WriteAllBytes(path, System.Text.Encoding.ASCII.GetBytes("xx\0GLIBCXX_3.4.31\0GLIBCXX_3.4.32\0yy"));
            Assert.True(ElfVersionNeeds.FileDefinesVersion(path, Version));
            File.WriteAllBytes(path, System.Text.Encoding.ASCII.GetBytes("xx\0GLIBCXX_3.4.30\0GLIBCXX_3.4.320\0"));
            Assert.False(ElfVersionNeeds.FileDefinesVersion(path, Version));
        }

        [Fact]
        public void A_file_that_is_not_ELF_is_a_clear_error()
        {
            Assert.Contains("'x.so' is not an ELF file", Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(new byte[100], "x.so")).Message);
        }

        [LinuxFact(Because = Elf)]
        public void A_truncated_ELF_file_is_a_clear_error()
        {
            var truncated = File.ReadAllBytes(PackagedLibTorchSharp()).AsSpan(0, 4096).ToArray();
            Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(truncated, "cut.so")).Message);
        }

        [Fact]
        public void LIBTORCH_PATH_errors_name_the_folder()
        {
            using var empty = new TempDir();
            var missing = empty.File("no-such-libtorch");
            Assert.Contains(missing, Assert.Throws<DirectoryNotFoundException>(() => LibTorch.LoadFrom(missing)).Message);
            Assert.Contains("holds no libtorch.so", Assert.Throws<FileNotFoundException>(() => LibTorch.LoadFrom(empty.Path)).Message);
        }

        [Fact]
        public void Unknown_devices_are_rejected_by_name()
        {
            Assert.Contains("'tpu'", Assert.Throws<ArgumentException>(() => LibTorch.Initialize("tpu")).Message);
            Assert.Equal(TorchSharp.DeviceType.CPU, LibTorch.Initialize("cpu").type);
        }
    }
}

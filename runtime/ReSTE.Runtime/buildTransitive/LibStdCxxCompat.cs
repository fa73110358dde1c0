// Makes TorchSharp 0.107's libLibTorchSharp.so loadable on systems whose libstdc++ predates GCC 13 (Debian 12 and
// similar). The library was linked against GCC 13's libstdc++ and therefore lists the symbol version GLIBCXX_3.4.32
// as required, for the single symbol std::ios_base_library_init, which it never calls. glibc refuses to load a
// library whose required versions are missing, unless the requirement is marked weak (VER_FLG_WEAK). This file marks
// exactly that one requirement weak in a copy of the library in the build output: it never touches the NuGet cache or
// system files, and it does nothing on systems whose libstdc++ already provides GLIBCXX_3.4.32.
//
// It is compiled twice: by MSBuild's RoslynCodeTaskFactory as the PatchLibTorchSharpForOldLibStdCxx task (see
// ReSTE.Runtime.targets), and into the runtime tests with RESTE_ELF_TESTS defined, which test the logic directly.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace ReSTE.Build
{
    /// <summary>What <see cref="ElfVersionNeeds.MarkWeak"/> did to a file.</summary>
    public enum WeakPatchResult { Patched, AlreadyWeak, NotRequired }

    /// <summary>Reads and edits the version-needs section (.gnu.version_r) of a 64-bit little-endian ELF file.</summary>
    public static class ElfVersionNeeds
    {
        const uint ShtGnuVerneed = 0x6ffffffe;
        const ushort VerFlgWeak = 0x2;

        /// <summary>One entry of .gnu.version_r: a version required from a needed library.</summary>
        public readonly struct Need
        {
            public Need(string file, string version, ushort flags, long flagsOffset)
            { File = file; Version = version; Flags = flags; FlagsOffset = flagsOffset; }
            public string File { get; }
            public string Version { get; }
            public ushort Flags { get; }
            public long FlagsOffset { get; }
            public bool IsWeak => (Flags & VerFlgWeak) != 0;
        }

        public static List<Need> Read(byte[] elf, string nameForErrors)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException($"'{nameForErrors}' is not an ELF file.");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException($"'{nameForErrors}' is not a 64-bit little-endian ELF file (class {elf[4]}, data {elf[5]}).");
            long shoff = (long)U64(elf, 0x28);
            int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
            var needs = new List<Need>();
            for (int i = 0; i < shnum; i++)
            {
                long sh = shoff + (long)i * shentsize;
                Check(elf, sh, 64, nameForErrors);
                if (U32(elf, sh + 4) != ShtGnuVerneed) continue;
                long offset = (long)U64(elf, sh + 0x18);
                uint link = U32(elf, sh + 0x28), count = U32(elf, sh + 0x2C);
                long strtab = (long)U64(elf, shoff + (long)link * shentsize + 0x18);
                long vn = offset;
                for (uint n = 0; n < count; n++)
                {
                    Check(elf, vn, 16, nameForErrors);
                    ushort auxCount = U16(elf, vn + 2);
                    string file = CString(elf, strtab + U32(elf, vn + 4), nameForErrors);
                    long aux = vn + U32(elf, vn + 8);
                    for (int a = 0; a < auxCount; a++)
                    {
                        Check(elf, aux, 16, nameForErrors);
                        string version = CString(elf, strtab + U32(elf, aux + 8), nameForErrors);
                        needs.Add(new Need(file, version, U16(elf, aux + 4), aux + 4));
                        aux += U32(elf, aux + 12);
                    }
                    uint next = U32(elf, vn + 12);
                    if (next == 0) break;
                    vn += next;
                }
            }
            return needs;
        }

        /// <summary>Marks the requirement of <paramref name="version"/> weak, in memory. Nothing else changes.</summary>
        public static WeakPatchResult MarkWeak(byte[] elf, string version, string nameForErrors)
        {
            var result = WeakPatchResult.NotRequired;
            foreach (var need in Read(elf, nameForErrors))
            {
                if (need.Version != version) continue;
                if (need.IsWeak) { if (result == WeakPatchResult.NotRequired) result = WeakPatchResult.AlreadyWeak; continue; }
                ushort flags = (ushort)(need.Flags | VerFlgWeak);
                elf[need.FlagsOffset] = (byte)(flags & 0xff);
                elf[need.FlagsOffset + 1] = (byte)(flags >> 8);
                result = WeakPatchResult.Patched;
            }
            return result;
        }

        /// <summary>
        /// Patches the file in place, atomically (a temporary file renamed over it, so that a hard link into a package
        /// cache is replaced, never written through).
        /// </summary>
        public static WeakPatchResult MarkWeakInFile(string path, string version)
        {
            byte[] elf = File.ReadAllBytes(path);
            var result = MarkWeak(elf, version, path);
            if (result != WeakPatchResult.Patched) return result;
            string temporary = path + ".reste-patch.tmp";
            File.WriteAllBytes(temporary, elf);
            File.Replace(temporary, path, destinationBackupFileName: null);
            return result;
        }

        /// <summary>True when the file's bytes contain the version name, as a libstdc++ that defines it does.</summary>
        public static bool FileDefinesVersion(string path, string version)
        {
            byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
            byte[] haystack = File.ReadAllBytes(path);
            return IndexOf(haystack, needle) >= 0;
        }

        /// <summary>The libstdc++ the dynamic loader would pick for this process, or null where none is found.</summary>
        public static string? FindSystemLibStdCxx()
        {
            // The one mapped into this process (MSBuild or the test host) is the one glibc resolves by soname.
            try
            {
                foreach (string line in File.ReadLines("/proc/self/maps"))
                {
                    int slash = line.IndexOf('/');
                    if (slash >= 0 && line.Contains("libstdc++.so")) return line.Substring(slash).Trim();
                }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            foreach (string dir in new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib" })
            {
                string candidate = Path.Combine(dir, "libstdc++.so.6");
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }

        static int IndexOf(byte[] haystack, byte[] needle)
        {
            for (int i = 0; i + needle.Length <= haystack.Length; i++)
            {
                if (haystack[i] != needle[0]) continue;
                int j = 1;
                while (j < needle.Length && haystack[i + j] == needle[j]) j++;
                if (j == needle.Length) return i;
            }
            return -1;
        }

        static void Check(byte[] elf, long offset, int length, string name)
        {
            if (offset < 0 || offset + length > elf.Length)
                throw new InvalidDataException($"'{name}' is truncated or malformed: offset {offset} + {length} is past its end ({elf.Length} bytes).");
        }

        static string CString(byte[] elf, long offset, string name)
        {
            Check(elf, offset, 1, name);
            long end = offset;
            while (end < elf.Length && elf[end] != 0) end++;
            return Encoding.ASCII.GetString(elf, (int)offset, (int)(end - offset));
        }

        static ushort U16(byte[] b, long o) => (ushort)(b[o] | b[o + 1] << 8);
        static uint U32(byte[] b, long o) => (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24);
        static ulong U64(byte[] b, long o) => U32(b, o) | (ulong)U32(b, o + 4) << 32;
    }

#if !RESTE_ELF_TESTS
    /// <summary>MSBuild task: patches every libLibTorchSharp.so given, when the system libstdc++ lacks the version.</summary>
    public sealed class PatchLibTorchSharpForOldLibStdCxx : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        public string Version { get; set; } = "GLIBCXX_3.4.32";

        public override bool Execute()
        {
            if (!System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux)) return true;
            string? libstdcxx = ElfVersionNeeds.FindSystemLibStdCxx();
            if (libstdcxx != null && ElfVersionNeeds.FileDefinesVersion(libstdcxx, Version))
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, $"{libstdcxx} defines {Version}: libLibTorchSharp.so left as it is.");
                return true;
            }
            foreach (var item in Files)
            {
                string path = item.ItemSpec;
                if (!File.Exists(path)) continue;
                var result = ElfVersionNeeds.MarkWeakInFile(path, Version);
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                    $"ReSTE: {path}: {Version} requirement {result} (system libstdc++: {libstdcxx ?? "not found"}).");
            }
            return true;
        }
    }
#endif
}

using System;
using System.Collections;
using System.Runtime.InteropServices;

namespace ReSTE.Runtime.Native
{
    /// <summary>What <see cref="MallocTuning.Apply"/> did.</summary>
    public enum MallocTuningState
    {
        /// <summary>Not attempted yet.</summary>
        NotApplied,
        /// <summary>glibc keeps large buffers between steps (the thresholds below are in force).</summary>
        Tuned,
        /// <summary>Turned off by <c>RESTE_MALLOC_TUNING=off</c>.</summary>
        TurnedOff,
        /// <summary>The user set glibc's own <c>MALLOC_*</c> variables or malloc tunables: those are left in force.</summary>
        UserSettings,
        /// <summary>Not Linux with glibc (musl, macOS, Windows): nothing to do.</summary>
        NotGlibc,
        /// <summary>glibc refused a setting (mallopt returned 0).</summary>
        Refused,
    }

    /// <summary>
    /// glibc's malloc serves a request of more than its mmap threshold (dynamic, from 128 KiB) with a fresh mmap, and
    /// gives the pages back on free; memory freed at the top of the heap beyond the trim threshold goes back too. A CPU
    /// training step allocates and frees many buffers of megabytes (activations, gradients), so every step the kernel
    /// zeroes fresh pages again: measured with perf on ResNet-20, 21% of the step in the kernel, 12.9% in
    /// <c>clear_page_erms</c>. When libtorch loads on Linux with glibc, the runtime sets (through <c>mallopt</c>) the mmap
    /// threshold to 32 MiB (glibc's maximum), the trim threshold to 2 GiB − 1 and the top pad to 256 MiB, so that the
    /// freed buffers stay in the heap and the next step reuses them. Device memory of CUDA runs is libtorch's caching
    /// allocator and is not affected; results are unchanged (a test compares losses bit for bit with and without).
    /// Nothing is done when the user set any <c>MALLOC_*</c> variable (e.g. <c>MALLOC_MMAP_THRESHOLD_</c>,
    /// <c>MALLOC_ARENA_MAX</c>) or <c>GLIBC_TUNABLES</c> with <c>glibc.malloc.</c> settings, or
    /// <c>RESTE_MALLOC_TUNING=off</c> (also <c>0</c>, <c>false</c>, <c>no</c>).
    /// </summary>
    public static class MallocTuning
    {
        /// <summary>Set to <c>off</c> to keep glibc's default malloc behaviour.</summary>
        public const string Variable = "RESTE_MALLOC_TUNING";

        public const int MmapThreshold = 32 << 20;
        public const int TrimThreshold = int.MaxValue;
        public const int TopPad = 256 << 20;

        // glibc's malloc.h
        const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3;

        static readonly object Gate = new();
        static MallocTuningState _state;

        /// <summary>What was done in this process.</summary>
        public static MallocTuningState State { get { lock (Gate) return _state; } }

        /// <summary>One line for logs: what the runtime did with glibc's malloc.</summary>
        public static string Describe() => State switch
        {
            MallocTuningState.Tuned => "glibc malloc keeps large buffers (RESTE_MALLOC_TUNING=off to turn off)",
            MallocTuningState.TurnedOff => $"glibc malloc defaults ({Variable}=off)",
            MallocTuningState.UserSettings => "glibc malloc as the MALLOC_* variables set it",
            MallocTuningState.NotGlibc => "system malloc (not glibc)",
            MallocTuningState.Refused => "glibc malloc defaults (mallopt refused a setting)",
            _ => "malloc not tuned",
        };

        [DllImport("libc", EntryPoint = "mallopt")]
        static extern int MallOpt(int param, int value);

        [DllImport("libc", EntryPoint = "gnu_get_libc_version")]
        static extern IntPtr GnuGetLibcVersion();

        /// <summary>Whether the variable's value asks to turn the tuning off.</summary>
        public static bool IsOff(string? value) => value is not null &&
            (value.Trim().Equals("off", StringComparison.OrdinalIgnoreCase) || value.Trim() == "0" ||
             value.Trim().Equals("false", StringComparison.OrdinalIgnoreCase) || value.Trim().Equals("no", StringComparison.OrdinalIgnoreCase));

        /// <summary>Whether the environment holds glibc malloc settings of the user's.</summary>
        public static bool UserHasMallocSettings(IDictionary environment)
        {
            foreach (DictionaryEntry e in environment)
            {
                var name = e.Key as string ?? "";
                if (name.StartsWith("MALLOC_", StringComparison.Ordinal)) return true;
                if (name == "GLIBC_TUNABLES" && (e.Value as string ?? "").Contains("glibc.malloc.", StringComparison.Ordinal)) return true;
            }
            return false;
        }

        /// <summary>Applies the settings once per process (later calls return the first call's state).</summary>
        public static MallocTuningState Apply()
        {
            lock (Gate)
            {
                if (_state != MallocTuningState.NotApplied) return _state;
                _state = Decide();
                return _state;
            }
        }

        static MallocTuningState Decide()
        {
            if (!OperatingSystem.IsLinux()) return MallocTuningState.NotGlibc;
            if (IsOff(Environment.GetEnvironmentVariable(Variable))) return MallocTuningState.TurnedOff;
            if (UserHasMallocSettings(Environment.GetEnvironmentVariables())) return MallocTuningState.UserSettings;
            try { if (GnuGetLibcVersion() == IntPtr.Zero) return MallocTuningState.NotGlibc; }
            catch (EntryPointNotFoundException) { return MallocTuningState.NotGlibc; }
            catch (DllNotFoundException) { return MallocTuningState.NotGlibc; }
            // mallopt returns 1 on success; the mmap threshold first, as setting it also stops glibc's dynamic threshold.
            bool ok = MallOpt(M_MMAP_THRESHOLD, MmapThreshold) == 1;
            ok &= MallOpt(M_TRIM_THRESHOLD, TrimThreshold) == 1;
            ok &= MallOpt(M_TOP_PAD, TopPad) == 1;
            return ok ? MallocTuningState.Tuned : MallocTuningState.Refused;
        }
    }
}

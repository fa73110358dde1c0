using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace ReSTE.Runtime.Native
{
    /// <summary>
    /// Loads libtorch. By default TorchSharp finds the CPU libtorch of the TorchSharp-cpu package beside the app. When
    /// the environment variable <c>LIBTORCH_PATH</c> names a folder (for example the <c>lib</c> folder of an installed
    /// PyTorch with CUDA), libtorch is loaded from there first, so that TorchSharp's <c>libLibTorchSharp.so</c> binds to
    /// it: this is how CUDA is used without the TorchSharp-cuda packages.
    /// </summary>
    public static class LibTorch
    {
        /// <summary>The environment variable naming a folder that holds an existing libtorch.</summary>
        public const string PathVariable = "LIBTORCH_PATH";

        static readonly object Gate = new();
        static string? _loadedFrom;
        static bool _attempted;
        static Exception? _error;

        // Dependency order: each library's needed libraries come before it, so that glibc finds them already loaded.
        static readonly string[] CpuLibraries = { "libc10.so", "libtorch_cpu.so", "libtorch.so" };
        static readonly string[] CudaLibraries = { "libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so" };

        /// <summary>The folder libtorch was loaded from through <c>LIBTORCH_PATH</c>, or null (the packaged one).</summary>
        public static string? LoadedFrom { get { lock (Gate) return _loadedFrom; } }

        // A library-level module initializer is the point: libtorch must be loaded from LIBTORCH_PATH before any
        // TorchSharp call binds libLibTorchSharp.so to whatever libtorch the loader finds first.
#pragma warning disable CA2255
        [ModuleInitializer]
#pragma warning restore CA2255
        internal static void LoadOnFirstUse()
        {
            // Runs before any type of this assembly is used; failures are reported by Initialize, not here, because
            // an exception from a module initializer surfaces as an unreadable TypeInitializationException.
            try { LimitOneDnnIsa(); } catch (Exception) { }
            try { MallocTuning.Apply(); } catch (Exception) { }
            try { PreloadFromEnvironment(); } catch (Exception) { }
        }

        /// <summary>The environment variable that caps the instruction set of oneDNN, libtorch's CPU convolution library.</summary>
        public const string OneDnnIsaVariable = "ONEDNN_MAX_CPU_ISA";

        [DllImport("libc", EntryPoint = "setenv")]
        static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

        /// <summary>
        /// libtorch 2.10's oneDNN (v3.7.1) computes wrong input gradients of small convolutions with its AVX-512
        /// kernels (seen here on an AVX-512 AMD EPYC: a 4→8-channel 3×3 convolution's grad_input off by up to 15,
        /// NaN at times, against an unfold/matmul reference and against the official ReSTE values; its AVX2 kernels
        /// are exact). Unless the user has chosen an ISA, cap oneDNN at AVX2. oneDNN reads the variable from the
        /// process environment on its first use, so it is set with libc's setenv, before any convolution.
        /// Returns the value in force, or null where none is set.
        /// </summary>
        public static string? LimitOneDnnIsa()
        {
            if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
            var chosen = Environment.GetEnvironmentVariable(OneDnnIsaVariable);
            if (!string.IsNullOrEmpty(chosen)) return chosen;
            if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return null;
            SetEnv(OneDnnIsaVariable, "AVX2", 0);
            Environment.SetEnvironmentVariable(OneDnnIsaVariable, "AVX2");
            return "AVX2";
        }

        /// <summary>
        /// Makes sure libtorch is loaded (from <c>LIBTORCH_PATH</c> when it is set) and returns the device named by
        /// <paramref name="device"/> ("cpu", "cuda", "cuda:1"). Throws a clear error when CUDA is asked for and is not
        /// available, naming where libtorch was loaded from.
        /// </summary>
        public static torch.Device Initialize(string device = "cpu")
        {
            if (string.IsNullOrWhiteSpace(device)) throw new ArgumentException("The device must be 'cpu' or 'cuda[:N]'.", nameof(device));
            PreloadFromEnvironment();
            var parsed = device.Trim().ToLowerInvariant();
            if (parsed == "cpu") { torch.InitializeDeviceType(DeviceType.CPU); return torch.CPU; }
            if (parsed == "cuda" || parsed.StartsWith("cuda:", StringComparison.Ordinal))
            {
                if (!torch.TryInitializeDeviceType(DeviceType.CUDA) || !torch.cuda.is_available())
                    throw new InvalidOperationException(
                        $"Device '{device}' was asked for, but CUDA is not available (libtorch from {LoadedFrom ?? "the TorchSharp-cpu package"}). " +
                        $"Set {PathVariable} to a folder holding libtorch.so, libtorch_cuda.so and libc10_cuda.so (e.g. an installed PyTorch's torch/lib).");
                return torch.device(parsed);
            }
            throw new ArgumentException($"Unknown device '{device}': use 'cpu' or 'cuda[:N]'.", nameof(device));
        }

        /// <summary>Loads libtorch from <c>LIBTORCH_PATH</c> if it is set; does nothing otherwise.</summary>
        public static void PreloadFromEnvironment()
        {
            lock (Gate)
            {
                if (_attempted) { if (_error != null) throw _error; return; }
                _attempted = true;
                var folder = Environment.GetEnvironmentVariable(PathVariable);
                if (string.IsNullOrWhiteSpace(folder)) return;
                try { _loadedFrom = LoadFrom(folder); }
                catch (Exception e) { _error = e; throw; }
            }
        }

        /// <summary>Loads libtorch's libraries from <paramref name="folder"/>, with CUDA when its CUDA libraries are there.</summary>
        public static string LoadFrom(string folder)
        {
            var full = Path.GetFullPath(folder);
            if (!Directory.Exists(full))
                throw new DirectoryNotFoundException($"{PathVariable}='{folder}' is not a folder.");
            if (!File.Exists(Path.Combine(full, "libtorch.so")))
                throw new FileNotFoundException($"{PathVariable}='{folder}' holds no libtorch.so.", Path.Combine(full, "libtorch.so"));
            bool cuda = File.Exists(Path.Combine(full, "libtorch_cuda.so")) && File.Exists(Path.Combine(full, "libc10_cuda.so"));
            var missing = new List<string>();
            foreach (var name in cuda ? CudaLibraries : CpuLibraries)
            {
                var path = Path.Combine(full, name);
                if (!File.Exists(path)) { missing.Add(name); continue; }
                NativeLibrary.Load(path);
            }
            if (missing.Count > 0)
                throw new FileNotFoundException($"{PathVariable}='{folder}' lacks {string.Join(", ", missing)}.");
            return full;
        }
    }
}

using System.Runtime.CompilerServices;

// Compiled into every test assembly by tests/Directory.Build.props.

// Tests seed TorchSharp's global random generator (torch.manual_seed) and count live tensors process-wide: test classes
// running side by side would draw from one another's sequence, so each test assembly runs its tests one at a time.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]

namespace ReSTE.TestSupport
{
    static class TestAssemblySetup
    {
        // libtorch's AVX-512 oneDNN kernels are wrong on some CPUs, and tests touch TorchSharp before the runtime at
        // times: apply the runtime's workaround (LibTorch.LimitOneDnnIsa) before any tensor, as the runtime's own module
        // initializer would.
#pragma warning disable CA2255
        [ModuleInitializer]
#pragma warning restore CA2255
        internal static void Setup() => ReSTE.Runtime.Native.LibTorch.LimitOneDnnIsa();
    }
}

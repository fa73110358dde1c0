using System.Runtime.CompilerServices;

namespace ReSTE.Analysis.Tests
{
    static class TestSetup
    {
        // libtorch's AVX-512 oneDNN kernels are wrong on some CPUs: apply the runtime's workaround before any tensor.
#pragma warning disable CA2255
        [ModuleInitializer]
#pragma warning restore CA2255
        internal static void Setup() => ReSTE.Runtime.Native.LibTorch.LimitOneDnnIsa();
    }
}

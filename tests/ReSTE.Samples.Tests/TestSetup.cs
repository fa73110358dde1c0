using System.Runtime.CompilerServices;

namespace ReSTE.Samples.Tests
{
    static class TestSetup
    {
        // Apply the runtime's oneDNN workaround before any TorchSharp call (see LibTorch.LimitOneDnnIsa).
#pragma warning disable CA2255
        [ModuleInitializer]
#pragma warning restore CA2255
        internal static void Setup() => ReSTE.Runtime.Native.LibTorch.LimitOneDnnIsa();
    }
}

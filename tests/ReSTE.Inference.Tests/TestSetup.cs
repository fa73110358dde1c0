using System.Runtime.CompilerServices;

namespace ReSTE.Inference.Tests
{
    static class TestSetup
    {
        // Tests touch TorchSharp before the runtime at times; apply the runtime's oneDNN workaround first (see
        // LibTorch.LimitOneDnnIsa), as the runtime's own module initializer would.
#pragma warning disable CA2255
        [ModuleInitializer]
#pragma warning restore CA2255
        internal static void Setup() => ReSTE.Runtime.Native.LibTorch.LimitOneDnnIsa();
    }
}

using System.Runtime.CompilerServices;

// The TorchSharp tests seed libtorch's global generator (manual_seed); run the test classes one after another so that
// every run draws the same models and a failure reproduces.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]

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

using System;
using Xunit;

namespace ReSTE.TestSupport
{
    /// <summary>A fact that needs Linux; skipped elsewhere, with <see cref="Because"/> as the reason.</summary>
    public sealed class LinuxFactAttribute : FactAttribute
    {
        string _because = "it needs Linux";

        public LinuxFactAttribute() => Update();

        /// <summary>Why the test needs Linux (the skip reason on other systems).</summary>
        public string Because
        {
            get => _because;
            set { _because = value; Update(); }
        }

        void Update()
        {
            if (!OperatingSystem.IsLinux()) Skip = $"Linux only: {_because} (this is {Environment.OSVersion.Platform}).";
        }
    }

    /// <summary>A theory about splitting work over threads: skipped, with the reason, on a machine with one core.</summary>
    public sealed class MultiCoreTheoryAttribute : TheoryAttribute
    {
        public MultiCoreTheoryAttribute()
        {
            if (Environment.ProcessorCount < 2)
                Skip = $"needs 2 or more cores to split work over threads (this machine has {Environment.ProcessorCount}).";
        }
    }

    /// <summary>
    /// A fact skipped, with <c>because</c> as the reason, while the environment variable <c>variable</c> is
    /// <c>value</c> (for instance a test of the failing path of snapshots while UPDATE_SNAPSHOTS=1 accepts every change).
    /// </summary>
    public sealed class FactUnlessEnvironmentAttribute : FactAttribute
    {
        public FactUnlessEnvironmentAttribute(string variable, string value, string because)
        {
            if (Environment.GetEnvironmentVariable(variable) == value) Skip = $"{variable}={value}: {because}";
        }
    }

    /// <summary>
    /// A fact that runs only while the environment variable <c>variable</c> is <c>value</c> (for instance the checks
    /// that CI's leg with <c>DOTNET_EnableAVX512F=0</c> really runs without AVX-512); skipped otherwise, saying so.
    /// </summary>
    public sealed class FactIfEnvironmentAttribute : FactAttribute
    {
        public FactIfEnvironmentAttribute(string variable, string value)
        {
            if (Environment.GetEnvironmentVariable(variable) != value)
                Skip = $"runs only with {variable}={value} (CI's leg that sets it); here it is {Environment.GetEnvironmentVariable(variable) ?? "unset"}";
        }
    }
}

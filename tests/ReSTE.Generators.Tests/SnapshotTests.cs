using ReSTE.Generators.Tests.Infrastructure;
using Xunit;

namespace ReSTE.Generators.Tests
{
    /// <summary>
    /// The generated source, reviewed as snapshots (Snapshots/SnapshotTests.*.verified.cs); each run also compiles it,
    /// so a snapshot that no longer compiles fails here even before it is reviewed.
    /// </summary>
    public class SnapshotTests
    {
        static void Check(string source, string method)
        {
            var (result, output) = GeneratorHarness.Run(source);
            Assert.Empty(result.Diagnostics);
            Assert.Empty(GeneratorHarness.Errors(output));
            Assert.Empty(GeneratorHarness.GeneratedCodeProblems(output));
            Assert.NotEmpty(result.GeneratedTrees);
            Snapshot.Verify(result, nameof(SnapshotTests), method: method);
        }

        static string Block(string attribute, string name = "Block") => $$"""
            using ReSTE.Runtime;
            using TorchSharp;
            using static TorchSharp.torch;

            namespace Models
            {
                {{attribute}}
                public sealed partial class {{name}} : nn.Module<Tensor, Tensor>
                {
                    public {{name}}() : base(nameof({{name}})) { }
                    public override Tensor forward(Tensor x) => x;
                }
            }
            """;

        [Fact]
        public void ReSTE_defaults() => Check(Block("[Binarize]"), nameof(ReSTE_defaults));

        [Fact]
        public void ReSTE_every_constant() =>
            Check(Block("[Binarize(Estimator = Estimator.ReSTE, OEnd = 4.5, T = 1.25, M = 0.05, Schedule = ScheduleKind.Linear)]"), nameof(ReSTE_every_constant));

        [Fact]
        public void STE() => Check(Block("[Binarize(Estimator = Estimator.STE, SteClip = 1.5)]"), nameof(STE));

        [Fact]
        public void ApproxSign() => Check(Block("[Binarize(Estimator = Estimator.ApproxSign)]"), nameof(ApproxSign));

        [Fact]
        public void SignSwish() => Check(Block("[Binarize(Estimator = Estimator.SignSwish, Beta = 10)]"), nameof(SignSwish));

        [Fact]
        public void EDE() => Check(Block("[Binarize(Estimator = Estimator.EDE, EdeTMin = 0.1, EdeTMax = 10)]"), nameof(EDE));

        [Fact]
        public void DSQ() => Check(Block("[Binarize(Estimator = Estimator.DSQ, Alpha = 0.2)]"), nameof(DSQ));

        [Fact]
        public void FDA() => Check(Block("[Binarize(Estimator = Estimator.FDA, Terms = 6)]"), nameof(FDA));

        [Fact]
        public void RBNN() => Check(Block("[Binarize(Estimator = Estimator.RBNN, RbnnTMin = 0.01, RbnnTMax = 10)]"), nameof(RBNN));

        [Fact]
        public void ProgressiveSign() => Check(Block("[Binarize(Estimator = Estimator.ProgressiveSign, ProgressiveAlpha = 3, ProgressiveBeta = 8)]"), nameof(ProgressiveSign));

        [Fact]
        public void WeightsOnly_1W32A() => Check(Block("[Binarize(Activations = false)]"), nameof(WeightsOnly_1W32A));

        [Fact]
        public void Scale_ChannelMeanAbs() => Check(Block("[Binarize(Scale = ScaleMode.ChannelMeanAbs)]"), nameof(Scale_ChannelMeanAbs));

        [Fact]
        public void Scale_None() => Check(Block("[Binarize(Estimator = Estimator.STE, Scale = ScaleMode.None)]"), nameof(Scale_None));

        [Fact]
        public void Static_policy_class() => Check("""
            using ReSTE.Runtime;

            namespace Models;

            [Binarize(Estimator = Estimator.EDE)]
            public static partial class EdePolicy;
            """, nameof(Static_policy_class));

        [Fact]
        public void File_scoped_namespace() => Check("""
            using ReSTE.Runtime;
            using TorchSharp;
            using static TorchSharp.torch;

            namespace Models.Cifar;

            [Binarize(OEnd = 2)]
            public partial class BasicBlock : nn.Module<Tensor, Tensor>
            {
                public BasicBlock() : base(nameof(BasicBlock)) { }
                public override Tensor forward(Tensor x) => x;
            }
            """, nameof(File_scoped_namespace));

        [Fact]
        public void Global_namespace() => Check("""
            using ReSTE.Runtime;
            using TorchSharp;
            using static TorchSharp.torch;

            [Binarize(Estimator = Estimator.DSQ)]
            internal sealed partial class TopLevel : nn.Module<Tensor, Tensor>
            {
                public TopLevel() : base(nameof(TopLevel)) { }
                public override Tensor forward(Tensor x) => x;
            }
            """, nameof(Global_namespace));

        [Fact]
        public void Nested_classes() => Check("""
            using ReSTE.Runtime;
            using TorchSharp;
            using static TorchSharp.torch;

            namespace Models
            {
                namespace Deep
                {
                    public static partial class Zoo
                    {
                        internal partial record Settings
                        {
                            [Binarize(Estimator = Estimator.RBNN, Activations = false, Scale = ScaleMode.None)]
                            private sealed partial class Inner : nn.Module<Tensor, Tensor>
                            {
                                public Inner() : base(nameof(Inner)) { }
                                public override Tensor forward(Tensor x) => x;
                            }
                        }
                    }
                }
            }
            """, nameof(Nested_classes));

        [Fact]
        public void Two_classes_in_one_file_get_one_file_each() => Check("""
            using ReSTE.Runtime;
            using TorchSharp;
            using static TorchSharp.torch;

            namespace Models;

            [Binarize(Estimator = Estimator.STE)]
            public partial class SteNet : nn.Module<Tensor, Tensor>
            {
                public SteNet() : base(nameof(SteNet)) { }
                public override Tensor forward(Tensor x) => x;
            }

            [Binarize(Estimator = Estimator.ReSTE, OEnd = 3)]
            public partial class ReSTENet : nn.Module<Tensor, Tensor>
            {
                public ReSTENet() : base(nameof(ReSTENet)) { }
                public override Tensor forward(Tensor x) => x;
            }
            """, nameof(Two_classes_in_one_file_get_one_file_each));
    }
}

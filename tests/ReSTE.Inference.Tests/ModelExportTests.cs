using System;
using System.Collections.Generic;
using System.Linq;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using ReSTE.Runtime;
using ReSTE.Runtime.Deploy;
using ReSTE.TestSupport;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ReSTE.Inference.Tests
{
    /// <summary>A module with its own forward and no export: clamp(x, −1, 1) written as a lambda would be.</summary>
    sealed class LambdaModule : nn.Module<Tensor, Tensor>
    {
        public LambdaModule() : base(nameof(LambdaModule)) { }
        public override Tensor forward(Tensor x) => x.clamp(-1, 1);
    }

    /// <summary>out = x + BN(conv(x)): a residual block with its own forward, exported with <see cref="ExportContext.Residual"/>.</summary>
    sealed class AddBlock : nn.Module<Tensor, Tensor>, IExportable
    {
        private readonly TestBinaryConv2d conv;
        private readonly BatchNorm2d bn;

        public AddBlock(long channels) : base(nameof(AddBlock))
        {
            conv = new TestBinaryConv2d(channels, channels, 3, 1, 1);
            bn = nn.BatchNorm2d(channels);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => x.add(bn.forward(conv.forward(x)));

        public void Export(ExportContext ctx) => ctx.Residual(main: c => { c.Export(conv); c.Export(bn); });
    }

    /// <summary>Export walked through the model: TorchSharp's modules by the registry, the rest by their own export or a user's handler.</summary>
    public class ModelExportTests
    {
        readonly ITestOutputHelper _out;
        public ModelExportTests(ITestOutputHelper output) { _out = output; }

        /// <summary>Exports, writes and re-reads <paramref name="model"/>, and checks the engine's outputs against TorchSharp eval on random inputs.</summary>
        internal static (PackedModel Packed, double MaxDiff) ExportAndCompare(nn.Module<Tensor, Tensor> model, int[] inputShape, int count = 16,
            ExportRegistry? registry = null, ITestOutputHelper? output = null)
        {
            var packed = ModelExporter.Export(model, inputShape, registry: registry);
            var engine = new InferenceEngine(PackedModelFile.FromBytes(PackedModelFile.ToBytes(packed)));
            model.eval();
            float[] input, expected;
            using (no_grad())
            {
                var x = randn(new long[] { count }.Concat(inputShape.Select(d => (long)d)).ToArray());
                input = LayerExport.Floats(x);
                expected = LayerExport.Floats(model.forward(x));
            }
            var actual = engine.RunBatch(input, count);
            Assert.Equal(expected.Length, actual.Length);
            double maxDiff = 0;
            for (int i = 0; i < actual.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            output?.WriteLine($"{count} inputs: max |Δ| = {maxDiff:G3}; steps: {string.Join(" | ", engine.Steps)}");
            Assert.True(maxDiff < 1e-4, $"max |Δ| {maxDiff}");
            return (packed, maxDiff);
        }

        static TorchSharp.Modules.Sequential Seq(params (string, nn.Module<Tensor, Tensor>)[] modules) => nn.Sequential(modules);

        [Fact]
        public void A_module_that_cannot_export_is_named_by_its_path()
        {
            var model = Seq(
                ("stem", nn.Conv2d(3, 4, 3, padding: 1)),
                ("layer2", Seq(("0", Seq(("conv", nn.Conv2d(4, 4, 1)), ("shortcut", new LambdaModule()))))));
            var e = Assert.Throws<NotSupportedException>(() => ModelExporter.Export(model, new[] { 3, 8, 8 }));
            Assert.Equal("layer2.0.shortcut: LambdaModule is not exportable; implement IExportable or register a handler (ExportRegistry.Register<LambdaModule>).", e.Message);
        }

        [Fact]
        public void A_registered_handler_exports_a_module_type()
        {
            manual_seed(7);
            var model = Seq(
                ("conv", nn.Conv2d(3, 6, 3, padding: 1)),
                ("bn", nn.BatchNorm2d(6)),
                ("clamp", new LambdaModule()),
                ("flatten", nn.Flatten()),
                ("fc", nn.Linear(6 * 8 * 8, 5)));
            TorchTestUtil.RandomizeBatchNorms(model, 7);
            var registry = new ExportRegistry().Register<LambdaModule>((_, ctx) => ctx.Emit(new HardtanhOp(ctx.Path, -1, 1)));
            var (packed, _) = ExportAndCompare(model, new[] { 3, 8, 8 }, registry: registry, output: _out);
            Assert.Equal(new[] { "conv", "bn", "clamp", "fc" }, packed.Ops.Select(o => o.Name));
            Assert.IsType<HardtanhOp>(packed.Ops[2]);
        }

        [Fact]
        public void A_sequential_of_TorchSharp_modules_and_binary_layers_exports_without_export_code()
        {
            manual_seed(8);
            var model = Seq(
                ("conv0", nn.Conv2d(3, 8, 3, padding: 1, bias: false)),
                ("bn0", nn.BatchNorm2d(8)),
                ("relu0", nn.ReLU()),
                ("pool0", nn.MaxPool2d(2, 2)),
                ("conv1", new TestBinaryConv2d(8, 16, 3, 1, 1)),
                ("bn1", nn.BatchNorm2d(16)),
                ("act1", nn.ReLU()),
                ("block", new AddBlock(16)),
                ("drop", nn.Dropout(0.2)),
                ("id", nn.Identity()),
                ("gap", nn.AdaptiveAvgPool2d(1)),
                ("flatten", nn.Flatten()),
                ("bn2", nn.BatchNorm1d(16)),
                ("fc", nn.Linear(16, 10)));
            TorchTestUtil.RandomizeBatchNorms(model, 8);
            model.train();
            ModelExporter.Export(model, new[] { 3, 16, 16 });
            Assert.True(model.training, "export leaves the training flag as it was");
            var (packed, _) = ExportAndCompare(model, new[] { 3, 16, 16 }, output: _out);
            Assert.Equal(
                new[] { "conv0", "bn0", "relu0", "pool0", "conv1", "bn1", "act1", "block", "block.conv", "block.bn", "block.add", "gap", "bn2", "fc" },
                packed.Ops.Select(o => o.Name));
        }

        [Fact]
        public void The_callers_metadata_joins_and_overrides_the_models()
        {
            manual_seed(9);
            var model = new TestResNet(new long[] { 4, 8, 8 }, 1);
            var packed = ModelExporter.Export(new MetadataModel(model), new[] { 3, 16, 16 },
                metadata: new Dictionary<string, string> { ["source"] = "test", ["architecture"] = "override" });
            Assert.Equal("override", packed.Metadata["architecture"]);
            Assert.Equal("3", packed.Metadata["stages"]);
            Assert.Equal("test", packed.Metadata["source"]);
        }

        sealed class MetadataModel : nn.Module<Tensor, Tensor>, IExportable
        {
            private readonly TestResNet inner;
            public MetadataModel(TestResNet inner) : base(nameof(MetadataModel)) { this.inner = inner; RegisterComponents(); }
            public override Tensor forward(Tensor x) => inner.forward(x);
            public void Export(ExportContext ctx)
            {
                ctx.SetMetadata("architecture", "test-resnet");
                ctx.SetMetadata("stages", 3);
                ctx.Export(inner);
            }
        }

        [Fact]
        public void A_flatten_followed_by_other_than_a_Linear_is_refused_naming_the_op()
        {
            var model = Seq(("conv", nn.Conv2d(3, 4, 3)), ("flatten", nn.Flatten()), ("bn", nn.BatchNorm1d(4 * 6 * 6)));
            var e = Assert.Throws<NotSupportedException>(() => ModelExporter.Export(model, new[] { 3, 8, 8 }));
            Assert.StartsWith("bn: follows the flatten at flatten of a 4×6×6 map", e.Message);
        }

        [Fact]
        public void Pooling_the_format_cannot_state_is_refused_naming_the_module()
        {
            var model = Seq(("conv", nn.Conv2d(3, 4, 3)), ("head", Seq(("pool", nn.AvgPool2d(3, 2, 1)))));
            var e = Assert.Throws<NotSupportedException>(() => ModelExporter.Export(model, new[] { 3, 9, 9 }));
            Assert.Equal("head.pool: AvgPool2d padding (1, 1) is not exportable (only 0).", e.Message);

            var grouped = Seq(("conv", nn.Conv2d(4, 4, 3, groups: 2)));
            e = Assert.Throws<NotSupportedException>(() => ModelExporter.Export(grouped, new[] { 4, 9, 9 }));
            Assert.StartsWith("conv: a full-precision Conv2d with groups 2 is not exportable", e.Message);
        }

        [Fact]
        public void A_residual_block_left_open_is_refused()
        {
            var registry = new ExportRegistry().Register<LambdaModule>((_, ctx) => ctx.BeginResidual());
            var model = Seq(("conv", nn.Conv2d(3, 4, 3)), ("open", new LambdaModule()));
            var e = Assert.Throws<NotSupportedException>(() => ModelExporter.Export(model, new[] { 3, 8, 8 }, registry: registry));
            Assert.Equal("open: the residual block is never ended (Add).", e.Message);
        }
    }
}

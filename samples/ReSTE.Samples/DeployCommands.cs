using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using ReSTE.Inference.Summary;
using ReSTE.Runtime;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Deploy;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Interop;
using ReSTE.Runtime.Native;
using ReSTE.Runtime.Training;
using ReSTE.Samples.Models;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Samples
{
    /// <summary>
    /// <c>export</c>: a checkpoint (or reference weights) of a CIFAR-10 model to a packed 1-bit file (.rbnn), with its summary.
    /// <c>infer</c>: the packed model on the CPU inference engine (XNOR + popcount, no TorchSharp at run time) over
    /// CIFAR-10 test images or PNG files; with <c>--compare</c>, against the TorchSharp model in eval mode.
    /// </summary>
    public static class DeployCommands
    {
        static readonly string[] ClassNames = { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" };

        static readonly Option<string?> PackedOut = new("--out") { Description = "The packed model file to write (.rbnn)", HelpName = "file" };
        static readonly Option<string?> OnnxOut = new("--onnx") { Description = "Also (or instead) write the model as ONNX (opset 13, fp32 ±1 weights), for ONNX Runtime and other ONNX tools", HelpName = "file" };
        static readonly Option<bool> RandomInit = new("--random-init") { Description = "Export the freshly initialised model (no weights; for format and speed checks)" };
        static readonly Option<long> InitSeed = new("--seed") { Description = "Seed of --random-init", HelpName = "N", DefaultValueFactory = _ => 0 };
        static readonly Option<string?> Packed = new("--packed") { Description = "A packed model written by export", HelpName = "file" };
        static readonly Option<string[]> Png = new("--png") { Description = "Classify these PNG images (resized to 32×32) instead of the test set", HelpName = "file", AllowMultipleArgumentsPerToken = true };
        static readonly Option<int> Threads = new("--threads") { Description = "Images run in parallel on this many threads", HelpName = "N", DefaultValueFactory = _ => 1 };
        static readonly Option<bool> Compare = new("--compare") { Description = "Also run the TorchSharp model in eval mode (needs --checkpoint or --weights) and report agreement" };
        static readonly Option<bool> ShowSummary = new("--summary") { Description = "Print the per-layer summary" };

        /// <summary>Adds <c>export</c> and <c>infer</c> to <paramref name="root"/>; <paramref name="guard"/> turns expected errors into exit code 1.</summary>
        public static void Register(RootCommand root, TextWriter output, Func<Func<int>, int> guard)
        {
            var export = new Command("export", "Write a model (the CIFAR models, or resnet18-imagenet / resnet34-imagenet at --image-size) as a packed 1-bit model (.rbnn) and/or ONNX, and print its summary");
            foreach (var o in new Option[] { Cli.Model, Cli.EstimatorName, Cli.A32, Cli.Checkpoint, Cli.Weights, RandomInit, InitSeed, Cli.ImageSize, PackedOut, OnnxOut, ShowSummary })
                export.Options.Add(o);
            export.SetAction(r => guard(() => Export(r, output)));
            var infer = new Command("infer", "Run a packed model (or a checkpoint, packed on the fly) on the CPU XNOR engine over CIFAR-10 test images or PNGs");
            foreach (var o in new Option[] { Packed, Cli.Model, Cli.EstimatorName, Cli.A32, Cli.Checkpoint, Cli.Weights, Cli.Data, Cli.TestLimit, Png, Threads, Compare, ShowSummary })
                infer.Options.Add(o);
            infer.SetAction(r => guard(() => Infer(r, output)));
            root.Subcommands.Add(export);
            root.Subcommands.Add(infer);
        }

        static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

        static bool Given(ParseResult r, Option o) => r.GetResult(o) is { Implicit: false };

        /// <summary>
        /// The TorchSharp model with its weights, its CLI name and its input side: 32 for the CIFAR models; for the
        /// ImageNet models --image-size, else the checkpoint's, else 224. The classes are the checkpoint's (an image
        /// folder's or CIFAR-100's), else the model's default.
        /// </summary>
        static (nn.Module<Tensor, Tensor> Model, string Name, string Source, int InputSize) LoadTorchModel(ParseResult r, bool allowRandom, TextWriter o)
        {
            var ckptPath = r.GetValue(Cli.Checkpoint);
            var weights = r.GetValue(Cli.Weights);
            bool random = allowRandom && r.GetValue(RandomInit);
            if ((ckptPath is not null ? 1 : 0) + (weights is not null ? 1 : 0) + (random ? 1 : 0) != 1)
                throw new ArgumentException(allowRandom ? "export needs exactly one of --checkpoint, --weights and --random-init."
                    : "exactly one of --packed, --checkpoint and --weights is needed.");
            string name = r.GetValue(Cli.Model)!;
            var estimator = EstimatorFactory.Parse(r.GetValue(Cli.EstimatorName)!);
            bool a32 = r.GetValue(Cli.A32);
            int? imageSize = r.GetValue(Cli.ImageSize);
            long? classes = null;
            Checkpoint? ckpt = null;
            try
            {
                if (ckptPath is not null)
                {
                    ckpt = Checkpoint.Load(ckptPath);
                    string? Tag(string k) => ckpt.Metadata.TryGetValue("tag." + k, out var v) ? v : null;
                    if (!Given(r, Cli.Model) && Tag("model") is { } m) name = m;
                    if (!Given(r, Cli.EstimatorName) && Tag("estimator") is { } e) estimator = EstimatorFactory.Parse(e);
                    if (!Given(r, Cli.A32) && Tag("a32") is { } a) a32 = a == "true";
                    if (imageSize is null && Tag("image_size") is { Length: > 0 } isz && int.TryParse(isz, NumberStyles.None, CultureInfo.InvariantCulture, out int side)) imageSize = side;
                    if (Tag("classes_count") is { Length: > 0 } cc)
                        classes = int.TryParse(cc, NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k > 0 ? k
                            : throw new InvalidDataException($"checkpoint '{ckptPath}': tag 'classes_count' is '{cc}', not a number of classes.");
                }
                // A checkpoint's model tag bypasses the --model check.
                if (!ModelZoo.AllModels.Contains(name))
                    throw new ArgumentException($"--model: '{name}' cannot be packed; export takes {string.Join(", ", ModelZoo.AllModels)}.");
                bool imageNet = ModelZoo.IsImageNet(name);
                if (!imageNet && Given(r, Cli.ImageSize))
                    throw new ArgumentException($"--image-size applies to the ImageNet models; '{name}' takes 32×32 inputs.");
                int inputSize = imageNet ? imageSize ?? 224 : 32;
                // The smallest input whose maps stay at least 1×1 through the stem (stride 4) and three stride-2 stages.
                if (imageNet && inputSize < 32)
                    throw new ArgumentException($"--image-size {inputSize}: '{name}' needs inputs of at least 32×32 (its maps shrink 32-fold).");
                LibTorch.Initialize("cpu");
                manual_seed(r.GetValue(InitSeed));
                var model = ModelZoo.Create(name, estimator, !a32, numClasses: classes);
                string source;
                if (ckpt is not null)
                {
                    foreach (var w in StateDict.Load(model, ckpt.Model, null, $"checkpoint '{ckptPath}'")) o.WriteLine("warning: " + w);
                    source = $"checkpoint {ckptPath} (epoch {ckpt.Epoch}, best top-1 {ckpt.BestTop1.ToString("F2", CultureInfo.InvariantCulture)}%)";
                }
                else if (weights is not null)
                {
                    using var file = Safetensors.Load(weights);
                    foreach (var w in ReferenceNames.Load(model, file.Tensors, $"'{weights}'")) o.WriteLine("warning: " + w);
                    source = $"weights {weights}";
                }
                else source = $"random initialisation (seed {r.GetValue(InitSeed)})";
                model.eval();
                return (model, name, $"{name}, {estimator} {(a32 ? "1W/32A" : "1W/1A")}, {source}", inputSize);
            }
            finally { ckpt?.Dispose(); }
        }

        static PackedModel Pack(nn.Module<Tensor, Tensor> model, string name, string source, int inputSize)
        {
            var metadata = new Dictionary<string, string> { ["source"] = source, ["model"] = name };
            return ModelExporter.Export(model, new[] { 3, inputSize, inputSize }, Normalization.ImageNet, metadata);
        }

        static void PrintSummary(TextWriter o, PackedModel packed, bool perLayer)
        {
            var s = ModelSummary.Of(packed);
            if (perLayer) o.Write(s.ToText());
            else o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"summary: {N(s.TotalParameters)} parameters ({N(s.BinaryParameters)} binary = {N((s.BinaryParameters + 7) / 8)} bytes packed), " +
                $"deployed {N(s.MemoryBytes)} bytes vs {N(s.Float32Bytes)} in fp32 ({s.CompressionRatio:F1}×); {N(s.BinaryMacs)} binary MACs, {N(s.FloatMacs)} fp32 MACs"));
        }

        static int Export(ParseResult r, TextWriter o)
        {
            var outPath = r.GetValue(PackedOut);
            var onnxPath = r.GetValue(OnnxOut);
            if (outPath is null && onnxPath is null) throw new ArgumentException("export needs --out <file.rbnn> (or --onnx <file.onnx>).");
            var (model, name, source, inputSize) = LoadTorchModel(r, allowRandom: true, o);
            var packed = Pack(model, name, source, inputSize);
            if (outPath is not null)
            {
                PackedModelFile.Save(packed, outPath);
                o.WriteLine($"export: {source} → {outPath} ({N(new FileInfo(outPath).Length)} bytes, format v{PackedModelFile.RequiredVersion(packed)})");
            }
            if (onnxPath is not null)
            {
                ReSTE.Onnx.OnnxExport.Save(packed, onnxPath);
                o.WriteLine($"export: {source} → {onnxPath} ({N(new FileInfo(onnxPath).Length)} bytes, ONNX opset {ReSTE.Onnx.OnnxExport.Opset})");
            }
            PrintSummary(o, packed, r.GetValue(ShowSummary));
            return 0;
        }

        static int Infer(ParseResult r, TextWriter o)
        {
            int threads = r.GetValue(Threads);
            if (threads < 1) throw new ArgumentException($"--threads must be ≥ 1, not {threads}.");
            var packedPath = r.GetValue(Packed);
            bool compare = r.GetValue(Compare);
            PackedModel packed;
            nn.Module<Tensor, Tensor>? model = null;
            if (packedPath is not null)
            {
                if (r.GetValue(Cli.Checkpoint) is not null || r.GetValue(Cli.Weights) is not null)
                    throw new ArgumentException("infer takes --packed or --checkpoint/--weights, not both.");
                if (compare) throw new ArgumentException("--compare needs the TorchSharp model: give --checkpoint or --weights instead of --packed.");
                packed = PackedModelFile.Load(packedPath);
                o.WriteLine($"packed model: {packedPath} ({N(new FileInfo(packedPath).Length)} bytes)" +
                            (packed.Metadata.TryGetValue("source", out var src) ? $", from {src}" : ""));
            }
            else
            {
                var (m, name, source, inputSize) = LoadTorchModel(r, allowRandom: false, o);
                if (inputSize != 32) throw new ArgumentException($"infer runs CIFAR-10 test images (32×32); '{name}' takes {inputSize}×{inputSize} inputs.");
                model = m;
                packed = Pack(m, name, source, inputSize);
                o.WriteLine($"packed in memory: {source}");
            }
            PrintSummary(o, packed, r.GetValue(ShowSummary));
            InferenceEngine engine;
            try { engine = new InferenceEngine(packed); }
            catch (NotSupportedException e)
            {
                throw new NotSupportedException($"{(packedPath is not null ? $"packed model '{packedPath}'" : "the packed model")}: the engine cannot run it: {e.Message}", e);
            }
            if (engine.InputLength != 3 * 32 * 32 || engine.OutputLength != 10)
                throw new InvalidDataException($"The packed model takes {engine.InputLength} inputs and gives {engine.OutputLength} outputs; infer runs CIFAR-10 models (3×32×32 → 10).");

            var pngs = r.GetValue(Png) ?? Array.Empty<string>();
            if (pngs.Length > 0)
            {
                foreach (var path in pngs)
                {
                    var logits = engine.Run(ReadPng(path));
                    int k = InferenceEngine.ArgMax(logits);
                    o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{path}: {ClassNames[k]} (logits {string.Join(" ", logits.Select(v => v.ToString("F3", CultureInfo.InvariantCulture)))})"));
                }
                return 0;
            }

            var folder = r.GetValue(Cli.Data) ?? Cifar10.FindDefaultFolder()
                ?? throw new DirectoryNotFoundException("CIFAR-10 not found: no shared/data/cifar10 or ../shared/data/cifar10 above the current folder or the app; pass --data <folder>.");
            var set = Cifar10.Load(folder, Cifar10Split.Test, r.GetValue(Cli.TestLimit));
            var images = new float[set.Images.Length];
            for (int i = 0; i < images.Length; i++) images[i] = set.Images[i] / 255f;
            engine.Run(images.AsSpan(0, engine.InputLength)); // warm up
            var clock = Stopwatch.StartNew();
            var outputs = engine.RunBatch(images, set.Count, threads);
            double secs = clock.Elapsed.TotalSeconds;
            int correct = 0;
            for (int i = 0; i < set.Count; i++) if (InferenceEngine.ArgMax(outputs.AsSpan(i * 10, 10)) == set.Labels[i]) correct++;
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"infer (XNOR engine, {threads} thread{(threads > 1 ? "s" : "")}): {N(set.Count)} test images, top-1 {100.0 * correct / set.Count:F2}%, {set.Count / secs:F0} img/s ({secs:F2}s)"));

            if (compare && model is not null)
            {
                const int batch = 250;
                double maxDiff = 0;
                int agree = 0, torchCorrect = 0;
                var differing = new List<(int Index, double Diff)>();
                var torchClock = Stopwatch.StartNew();
                var mean = tensor(Normalization.ImageNet.Mean).reshape(1, 3, 1, 1);
                var std = tensor(Normalization.ImageNet.Std).reshape(1, 3, 1, 1);
                for (int start = 0; start < set.Count; start += batch)
                {
                    int n = Math.Min(batch, set.Count - start);
                    float[] expected;
                    using (no_grad())
                    using (var scope = NewDisposeScope())
                    {
                        var slice = images.AsSpan(start * engine.InputLength, n * engine.InputLength).ToArray();
                        var x = tensor(slice, new long[] { n, 3, 32, 32 });
                        expected = PackedModelBuilder.Floats(model.forward(x.sub(mean).div(std)));
                        GC.KeepAlive(slice);
                    }
                    for (int i = 0; i < n; i++)
                    {
                        var e = expected.AsSpan(i * 10, 10);
                        var a = outputs.AsSpan((start + i) * 10, 10);
                        for (int j = 0; j < 10; j++) maxDiff = Math.Max(maxDiff, Math.Abs(e[j] - a[j]));
                        int ke = InferenceEngine.ArgMax(e);
                        double d = 0;
                        for (int j = 0; j < 10; j++) d = Math.Max(d, Math.Abs(e[j] - a[j]));
                        if (d >= 1e-4) differing.Add((start + i, d));
                        if (ke == InferenceEngine.ArgMax(a)) agree++;
                        if (ke == set.Labels[start + i]) torchCorrect++;
                    }
                }
                double tsecs = torchClock.Elapsed.TotalSeconds;
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"compare (TorchSharp fp32 eval, batch {batch}): top-1 {100.0 * torchCorrect / set.Count:F2}%, {set.Count / tsecs:F0} img/s; " +
                    $"same prediction on {N(agree)}/{N(set.Count)}, max |Δlogit| {maxDiff:G3}"));
                if (agree != set.Count || maxDiff >= 1e-4)
                {
                    o.WriteLine($"compare: the engine and TorchSharp disagree beyond 1e-4 on {differing.Count} images: " +
                        string.Join(", ", differing.Take(20).Select(t => string.Create(CultureInfo.InvariantCulture, $"#{t.Index} ({t.Diff:G3})"))));
                    return 1;
                }
            }
            return 0;
        }

        /// <summary>The largest image side <c>infer --png</c> decodes (the image is resized to 32×32 anyway).</summary>
        public const int MaxImageSide = 8192;

        /// <summary>
        /// A PNG as CHW floats in [0, 1], resized to 32×32 when it is another size. An image larger than
        /// <see cref="MaxImageSide"/> on a side is refused before decoding; a truncated or damaged one is an error
        /// (not a partly decoded image).
        /// </summary>
        static float[] ReadPng(string path)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"--png: no file at '{path}'.", path);
            using var codec = SKCodec.Create(path, out var opened)
                ?? throw new InvalidDataException($"--png: '{path}' is not an image SkiaSharp can decode ({opened}).");
            var size = codec.Info;
            if (size.Width < 1 || size.Height < 1 || size.Width > MaxImageSide || size.Height > MaxImageSide)
                throw new InvalidDataException($"--png: '{path}' is {size.Width}×{size.Height}; images up to {MaxImageSide}×{MaxImageSide} are decoded.");
            using var decoded = new SKBitmap(new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
            var result = codec.GetPixels(decoded.Info, decoded.GetPixels());
            if (result != SKCodecResult.Success)
                throw new InvalidDataException(result == SKCodecResult.IncompleteInput
                    ? $"--png: '{path}' is truncated: its image data ends before the last row ({new FileInfo(path).Length} bytes)."
                    : $"--png: '{path}' cannot be decoded: {result}.");
            using var rgba = new SKBitmap(new SKImageInfo(32, 32, SKColorType.Rgba8888, SKAlphaType.Unpremul));
            if (!decoded.ScalePixels(rgba, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None)))
                throw new InvalidDataException($"'{path}' could not be resized to 32×32.");
            var x = new float[3 * 32 * 32];
            for (int y = 0; y < 32; y++)
                for (int xx = 0; xx < 32; xx++)
                {
                    var c = rgba.GetPixel(xx, y);
                    int p = y * 32 + xx;
                    x[p] = c.Red / 255f; x[1024 + p] = c.Green / 255f; x[2048 + p] = c.Blue / 255f;
                }
            return x;
        }
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using ReSTE.Runtime.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Deploy
{
    /// <summary>Packs a TorchSharp model for the inference engine; throws <see cref="NotSupportedException"/> or <see cref="ArgumentException"/> when it cannot.</summary>
    /// <remarks>The packed model must take the batches' inputs as they come (already normalised: no Normalize op).</remarks>
    public delegate PackedModel ModelPacker(nn.Module<Tensor, Tensor> model);

    /// <summary>One pass over labelled batches, in order.</summary>
    public interface IEvaluationBatches : IDisposable
    {
        /// <summary>The next batch (inputs as the model takes them, int64 labels), created in the current DisposeScope; false after the last.</summary>
        bool Next(out Tensor x, out Tensor y);
    }

    /// <summary>Which forward evaluates: the engine where it is faster (auto), the engine whenever it can run, or TorchSharp.</summary>
    public enum EvaluationChoice
    {
        /// <summary>The engine on a CPU where its fast kernels run (AVX-512, or AVX2 with FMA and BMI2), where the model can be packed; TorchSharp otherwise.</summary>
        Auto,
        /// <summary>The engine wherever the model can be packed and the data is on the CPU (its portable path, on a CPU with neither AVX-512 nor AVX2, is slower than TorchSharp).</summary>
        Engine,
        /// <summary>Always the TorchSharp forward.</summary>
        TorchSharp,
    }

    /// <summary>Which forward computed an evaluation.</summary>
    public enum EvaluationPath
    {
        /// <summary>The model packed in memory and run on the CPU XNOR engine.</summary>
        Engine,
        /// <summary>The TorchSharp model's eval-mode forward.</summary>
        TorchSharp,
    }

    /// <summary>
    /// Loss (mean cross-entropy), top-1 and top-5 (percent) of one evaluation of <c>Count</c> examples, the path that
    /// computed them and, for TorchSharp, why (<c>Reason</c>: the device, the user's choice, or why the model could
    /// not be packed; null on the engine); each example's top-1 class in <c>Predictions</c> when asked for.
    /// </summary>
    public sealed record EvaluationReport(double Loss, double Top1, double Top5, int Count, EvaluationPath Path, string? Reason, int[]? Predictions = null)
    {
        /// <summary>"XNOR engine" or "TorchSharp (reason)", for output lines.</summary>
        public string Describe() => Path == EvaluationPath.Engine ? "XNOR engine" : Reason is null ? "TorchSharp" : $"TorchSharp: {Reason}";
    }

    /// <summary>
    /// Evaluates a classifier on labelled batches. On the CPU a 1W/1A model that <see cref="ModelPacker"/> can pack is
    /// packed in memory (its current weights and BatchNorm statistics) and run on the XNOR engine, which computes the
    /// same logits as the generated layers' eval forward (the binary layers' partial sums are exact integers on both
    /// sides) several times faster; loss (mean cross-entropy, in double), top-1 and top-5 come from those logits. On
    /// another device, when forced, or when the model cannot be packed (1W/32A layers, no binary layer, a graph the
    /// exporter refuses), the TorchSharp forward runs instead and <see cref="EvaluationReport.Reason"/> says why.
    /// Progress (images done, total) is reported after every batch.
    /// </summary>
    public sealed class EngineEvaluator
    {
        readonly ModelPacker? _packer;

        /// <param name="packer">How to pack the model; null: always TorchSharp.</param>
        /// <param name="choice">Auto (the engine where it is fast), Engine or TorchSharp.</param>
        /// <param name="progress">Called with (images done, total) at the start and after every batch.</param>
        /// <param name="threads">Engine threads; 0: libtorch's intra-op thread count.</param>
        public EngineEvaluator(ModelPacker? packer, EvaluationChoice choice = EvaluationChoice.Auto, Action<int, int>? progress = null, int threads = 0)
        {
            if (threads < 0) throw new ArgumentOutOfRangeException(nameof(threads), threads, "The engine's thread count must be ≥ 0 (0: libtorch's).");
            if (!Enum.IsDefined(choice)) throw new ArgumentOutOfRangeException(nameof(choice), choice, "Unknown evaluation choice.");
            _packer = packer; Choice = choice; Progress = progress; Threads = threads;
        }

        public EvaluationChoice Choice { get; }

        public Action<int, int>? Progress { get; set; }
        public int Threads { get; }

        /// <summary>Called when the path differs from the previous evaluation's (the first time, always) with the report's <see cref="EvaluationReport.Describe"/>.</summary>
        public Action<EvaluationReport>? PathChanged { get; set; }

        EvaluationPath? _lastPath;
        string? _lastReason;

        /// <summary>Why the engine cannot evaluate <paramref name="model"/> on <paramref name="device"/>, or null when it can try.</summary>
        public string? TorchSharpReason(nn.Module<Tensor, Tensor> model, Device device)
        {
            if (device.type != DeviceType.CPU) return $"on {device}, evaluation stays on the device";
            if (Choice == EvaluationChoice.TorchSharp) return "asked for";
            if (_packer is null) return "no packed form of this model (the exporter does not know it)";
            var layers = BinaryModel.Layers(model);
            if (layers.Count == 0) return "the model has no binary layer";
            var fp = layers.Where(l => !l.Layer.BinarizesActivations).Select(l => l.Name).ToList();
            if (fp.Count > 0) return $"1W/32A layers ({fp[0]}{(fp.Count > 1 ? $" and {fp.Count - 1} more" : "")}): the engine runs 1W/1A models";
            if (Choice == EvaluationChoice.Auto && !InferenceEngine.HasFastKernels) return "this CPU has neither AVX-512 nor AVX2 with FMA and BMI2, without which the XNOR engine is slower than TorchSharp";
            return null;
        }

        /// <summary>
        /// Evaluates <paramref name="model"/> on a pass of <paramref name="batches"/> (<paramref name="count"/> examples
        /// in all, on <paramref name="device"/>). A pass may be opened twice (once more when the engine turns out not
        /// to fit the batches).
        /// </summary>
        public EvaluationReport Evaluate(nn.Module<Tensor, Tensor> model, Func<IEvaluationBatches> batches, int count, Device device, bool keepPredictions = false)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(batches);
            var reason = TorchSharpReason(model, device);
            EvaluationReport report;
            if (reason is null)
            {
                PackedModel? packed = null;
                bool wasTraining = model.training;
                try { packed = _packer!(model); }
                catch (Exception e) when (e is NotSupportedException or ArgumentException or InvalidOperationException)
                {
                    reason = $"the model cannot be packed ({e.Message})";
                }
                finally { model.train(wasTraining); }
                report = packed is null ? Torch(model, batches, count, device, reason, keepPredictions) : Engine(model, packed, batches, count, device, keepPredictions);
            }
            else report = Torch(model, batches, count, device, reason, keepPredictions);
            if (report.Path != _lastPath || report.Reason != _lastReason)
            {
                _lastPath = report.Path; _lastReason = report.Reason;
                PathChanged?.Invoke(report);
            }
            return report;
        }

        /// <summary>The engine's thread count in force.</summary>
        public int EffectiveThreads => Threads > 0 ? Threads : Math.Max(1, torch.get_num_threads());

        EvaluationReport Engine(nn.Module<Tensor, Tensor> model, PackedModel packed, Func<IEvaluationBatches> batches, int count, Device device, bool keepPredictions)
        {
            var engine = new InferenceEngine(packed);
            int threads = EffectiveThreads;
            double lossSum = 0;
            long top1 = 0, top5 = 0;
            int seen = 0;
            var predictions = keepPredictions ? new int[count] : null;
            Progress?.Invoke(0, count);
            string? mismatch = null;
            using (var pass = batches())
                while (true)
                {
                    using var scope = NewDisposeScope();
                    if (!pass.Next(out var x, out var y)) break;
                    int n = (int)y.shape[0];
                    long perImage = x.numel() / Math.Max(1, n);
                    if (perImage != engine.InputLength || x.device_type != DeviceType.CPU)
                    {
                        mismatch = $"the packed model takes {engine.InputLength} inputs per example, the batches give [{string.Join(",", x.shape.Skip(1))}]";
                        break;
                    }
                    float[] input = x.to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
                    long[] labels = y.to_type(ScalarType.Int64).data<long>().ToArray();
                    float[] logits = engine.RunBatch(input, n, threads);
                    int classes = engine.OutputLength;
                    for (int i = 0; i < n; i++)
                    {
                        var l = logits.AsSpan(i * classes, classes);
                        int label = (int)labels[i];
                        if ((uint)label >= (uint)classes)
                            throw new ArgumentException($"Label {label} of example {seen + i} is outside the model's {classes} classes.");
                        double max = double.NegativeInfinity;
                        for (int j = 0; j < classes; j++) max = Math.Max(max, l[j]);
                        double sum = 0;
                        for (int j = 0; j < classes; j++) sum += Math.Exp(l[j] - max);
                        lossSum += max + Math.Log(sum) - l[label];
                        int pred = InferenceEngine.ArgMax(l);
                        if (pred == label) top1++;
                        // Top-k: fewer than k classes score above the label's (ties counted for the label, as the first of them).
                        int above = 0;
                        for (int j = 0; j < classes; j++) if (l[j] > l[label] || (l[j] == l[label] && j < label)) above++;
                        if (above < Math.Min(5, classes)) top5++;
                        if (predictions is not null && seen + i < predictions.Length) predictions[seen + i] = pred;
                    }
                    seen += n;
                    Progress?.Invoke(Math.Min(seen, count), count);
                }
            // Only a first batch can mismatch (the shapes do not change within a pass): start over on TorchSharp.
            if (mismatch is not null) return Torch(model, batches, count, device, mismatch, keepPredictions);
            return Result(lossSum, top1, top5, seen, count, EvaluationPath.Engine, null, predictions);
        }

        EvaluationReport Torch(nn.Module<Tensor, Tensor> model, Func<IEvaluationBatches> batches, int count, Device device, string? reason, bool keepPredictions)
        {
            bool wasTraining = model.training;
            try { return TorchEval(model, batches, count, device, reason, keepPredictions); }
            finally { model.train(wasTraining); }
        }

        EvaluationReport TorchEval(nn.Module<Tensor, Tensor> model, Func<IEvaluationBatches> batches, int count, Device device, string? reason, bool keepPredictions)
        {
            model.eval();
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var lossSum = zeros(1, dtype: ScalarType.Float64, device: device);
            var top1 = zeros(1, dtype: ScalarType.Float64, device: device);
            var top5 = zeros(1, dtype: ScalarType.Float64, device: device);
            var preds = keepPredictions ? new List<Tensor>() : null;
            int seen = 0;
            Progress?.Invoke(0, count);
            using var pass = batches();
            while (true)
            {
                using var inner = NewDisposeScope();
                if (!pass.Next(out var x, out var y)) break;
                var output = model.forward(x);
                lossSum.add_(nn.functional.cross_entropy(output, y, reduction: nn.Reduction.Sum).to(ScalarType.Float64));
                int k = (int)Math.Min(5, output.shape[1]);
                var (_, pred) = output.topk(k, dim: 1);
                var hit = pred.eq(y.unsqueeze(1));
                top1.add_(hit.narrow(1, 0, 1).sum().to(ScalarType.Float64));
                top5.add_(hit.any(1).sum().to(ScalarType.Float64));
                preds?.Add(output.argmax(1).MoveToOuterDisposeScope());
                seen += (int)y.shape[0];
                Progress?.Invoke(Math.Min(seen, count), count);
            }
            var v = cat(new[] { lossSum, top1, top5 }).cpu().data<double>().ToArray();
            int[]? predictions = null;
            if (preds is { Count: > 0 }) predictions = cat(preds.ToArray()).to_type(ScalarType.Int32).cpu().data<int>().ToArray();
            else if (preds is not null) predictions = Array.Empty<int>();
            return Result(v[0], v[1], v[2], seen, count, EvaluationPath.TorchSharp, reason, predictions);
        }

        static EvaluationReport Result(double loss, double top1, double top5, int seen, int count, EvaluationPath path, string? reason, int[]? predictions)
        {
            if (seen != count) throw new InvalidOperationException($"The evaluation read {seen} examples; {count} were expected.");
            if (seen == 0) return new EvaluationReport(double.NaN, double.NaN, double.NaN, 0, path, reason, predictions);
            return new EvaluationReport(loss / seen, 100 * top1 / seen, 100 * top5 / seen, seen, path, reason, predictions);
        }
    }

    /// <summary>Evaluation passes over the runtime's batch sources.</summary>
    public static class EvaluationBatches
    {
        /// <summary>Every example of <paramref name="data"/> once, in order, with its evaluation transform (for CIFAR-10: normalised).</summary>
        public static Func<IEvaluationBatches> Of(ReSTE.Runtime.Data.IBatchSource data, int batchSize)
        {
            ArgumentNullException.ThrowIfNull(data);
            if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"The evaluation batch size must be ≥ 1, not {batchSize}.");
            return () => new ReaderPass(data.Open(ReSTE.Runtime.Data.BatchPass.Evaluation(batchSize)));
        }

        sealed class ReaderPass : IEvaluationBatches
        {
            readonly ReSTE.Runtime.Data.IBatchReader _reader;
            public ReaderPass(ReSTE.Runtime.Data.IBatchReader reader) { _reader = reader; }
            public bool Next(out Tensor x, out Tensor y) => _reader.Next(out x, out y);
            public void Dispose() => _reader.Dispose();
        }
    }
}

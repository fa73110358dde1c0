using System;
using System.Collections.Generic;
using ReSTE.Inference.Format;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Deploy
{
    /// <summary>Per-channel input normalisation (x − mean) / std, stored as the packed model's first op.</summary>
    public sealed record Normalization(float[] Mean, float[] Std)
    {
        /// <summary>The ImageNet statistics the sample's CIFAR-10 pipeline normalises with.</summary>
        public static Normalization ImageNet { get; } = new(new[] { 0.485f, 0.456f, 0.406f }, new[] { 0.229f, 0.224f, 0.225f });
    }

    /// <summary>
    /// Exports a TorchSharp model to a <see cref="PackedModel"/> by walking it: each module exports itself
    /// (<see cref="IExportable"/>: the runtime's binary layers, and models and blocks with their own forward) or through
    /// a handler (<see cref="ExportRegistry"/>: TorchSharp's Sequential, Conv2d, BatchNorm, ReLU, Hardtanh, pooling,
    /// Flatten, Linear, Identity, and the user's registrations). A module that has neither is a one-line error naming
    /// its path in the model. The packed model is then run against the model's forward on random images
    /// (<see cref="ExportCheck"/>) and refused when they differ.
    /// </summary>
    public static class ModelExporter
    {
        /// <summary>
        /// The packed model of <paramref name="model"/>, run in eval mode (its training flags are restored afterwards).
        /// <paramref name="inputShape"/> is one input without the batch: {C, H, W} for images, {features} for a model
        /// that takes flat vectors. With <paramref name="normalize"/>, the file's first op normalises raw input, and the
        /// check feeds the model normalised input. <paramref name="metadata"/> is added to what the model sets
        /// (<see cref="ExportContext.SetMetadata(string, string)"/>) and wins on equal keys. <paramref name="registry"/>
        /// holds the caller's handlers. <paramref name="verify"/> false skips the whole-model check (the per-layer checks
        /// still run).
        /// </summary>
        public static PackedModel Export(nn.Module model, IReadOnlyList<int> inputShape, Normalization? normalize = null,
            IReadOnlyDictionary<string, string>? metadata = null, ExportRegistry? registry = null, bool verify = true)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(inputShape);
            if (inputShape.Count is not (1 or 3) || inputShape[0] <= 0 || (inputShape.Count == 3 && (inputShape[1] <= 0 || inputShape[2] <= 0)))
                throw new ArgumentException($"The input shape [{string.Join(", ", inputShape)}] must be {{C, H, W}} or {{features}}, all positive.", nameof(inputShape));
            int c = inputShape[0], h = inputShape.Count == 3 ? inputShape[1] : 1, w = inputShape.Count == 3 ? inputShape[2] : 1;
            var session = new ExportSession(model, registry ?? new ExportRegistry(), c, h, w);
            bool wasTraining = model.training;
            model.eval();
            PackedModel packed;
            try
            {
                if (normalize is not null) session.Emit(new NormalizeOp("normalize", normalize.Mean, normalize.Std));
                session.Dispatch(model, "");
                session.CheckClosed();
                if (metadata is not null) foreach (var (k, v) in metadata) session.Metadata[k] = v;
                packed = new PackedModel(c, h, w, session.Ops.ToArray(), session.Metadata);
            }
            finally { model.train(wasTraining); }
            if (verify)
            {
                var shape = new long[inputShape.Count];
                for (int i = 0; i < shape.Length; i++) shape[i] = inputShape[i];
                ExportCheck.Verify(model, packed, normalize?.Mean, normalize?.Std, inputShape: shape);
            }
            return packed;
        }
    }
}

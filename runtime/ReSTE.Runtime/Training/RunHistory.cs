using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using ReSTE.Runtime.Indicators;

namespace ReSTE.Runtime.Training
{
    /// <summary>
    /// The results of a run's completed epochs as the checkpoint records them (metadata <see cref="Key"/>, JSON): the
    /// checkpoint is the run's commit record, and the metrics files and best weights are regenerated from it when a
    /// run resumes, so that a kill between the checkpoint's rename and those files costs nothing. Step losses are not
    /// kept (only the epochs run by this process have them).
    /// </summary>
    public static class RunHistory
    {
        public const string Key = "history";

        sealed record Row(
            int Epoch, int Epochs, double Lr, double O, double TrainLoss, double TrainTop1, double TestLoss, double TestTop1,
            double TestTop5, double BestTop1, int BestEpoch, double TrainSeconds, double EvalSeconds, double ImagesPerSecond,
            double E, double S, LayerRow[]? Layers);

        sealed record LayerRow(string Layer, double E, double S);

        static readonly JsonSerializerOptions Json = new()
        {
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };

        public static string Serialize(IEnumerable<EpochMetrics> epochs) => JsonSerializer.Serialize(epochs.Select(m => new Row(
            m.Epoch, m.Epochs, m.LearningRate, m.EstimatorParameter, m.TrainLoss, m.TrainTop1, m.TestLoss, m.TestTop1, m.TestTop5,
            m.BestTop1, m.BestEpoch, m.TrainSeconds, m.EvalSeconds, m.ImagesPerSecond, m.EstimatingError, m.GradientInstability,
            m.Layers.Count == 0 ? null : m.Layers.Select(l => new LayerRow(l.Layer, l.EstimatingError, l.GradientInstability)).ToArray())).ToArray(), Json);

        /// <summary>The completed epochs a checkpoint records (empty for checkpoints written before this record existed).</summary>
        public static IReadOnlyList<EpochMetrics> Of(Checkpoint checkpoint)
        {
            if (!checkpoint.Metadata.TryGetValue(Key, out var json)) return Array.Empty<EpochMetrics>();
            Row[]? rows;
            try { rows = JsonSerializer.Deserialize<Row[]>(json, Json); }
            catch (JsonException e) { throw new InvalidDataException($"checkpoint '{checkpoint.Source}': metadata '{Key}' is not a list of epochs ({e.Message}).", e); }
            return (rows ?? Array.Empty<Row>()).Select(r => new EpochMetrics
            {
                Epoch = r.Epoch, Epochs = r.Epochs, LearningRate = r.Lr, EstimatorParameter = r.O, TrainLoss = r.TrainLoss, TrainTop1 = r.TrainTop1,
                TestLoss = r.TestLoss, TestTop1 = r.TestTop1, TestTop5 = r.TestTop5, BestTop1 = r.BestTop1, BestEpoch = r.BestEpoch,
                TrainSeconds = r.TrainSeconds, EvalSeconds = r.EvalSeconds, ImagesPerSecond = r.ImagesPerSecond,
                EstimatingError = r.E, GradientInstability = r.S,
                Layers = r.Layers?.Select(l => new LayerIndicators(l.Layer, l.E, l.S)).ToArray() ?? Array.Empty<LayerIndicators>(),
            }).ToList();
        }
    }
}

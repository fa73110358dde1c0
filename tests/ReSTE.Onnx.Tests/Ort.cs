using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Format;
using Xunit;

namespace ReSTE.Onnx.Tests
{
    /// <summary>An exported model in an ONNX Runtime session (CPU, default graph optimizations, as a user would open it).</summary>
    sealed class OrtModel : IDisposable
    {
        readonly InferenceSession _session;
        readonly int[] _inputShape;

        public OrtModel(byte[] onnx, int intraOpThreads = 1)
        {
            using var options = new SessionOptions { IntraOpNumThreads = intraOpThreads, InterOpNumThreads = 1 };
            _session = new InferenceSession(onnx, options);
            var input = _session.InputMetadata[OnnxExport.InputName];
            _inputShape = input.Dimensions.Skip(1).ToArray();
        }

        public int InputLength => _inputShape.Aggregate(1, (a, d) => a * d);

        /// <summary>The outputs of <paramref name="count"/> inputs laid one after the other, in one batch.</summary>
        public float[] Run(float[] inputs, int count)
        {
            var dims = new[] { count }.Concat(_inputShape).ToArray();
            var tensor = new DenseTensor<float>(inputs.AsMemory(0, count * InputLength), dims);
            using var results = _session.Run(new[] { NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, tensor) });
            var output = results.Single(r => r.Name == OnnxExport.OutputName).AsTensor<float>();
            Assert.Equal(count, output.Dimensions[0]);
            return output.ToArray();
        }

        public void Dispose() => _session.Dispose();
    }

    static class Models
    {
        /// <summary>The ONNX op types of an exported model, in graph order.</summary>
        public static IReadOnlyList<string> OpTypes(PackedModel model) =>
            OnnxExport.Convert(model).Graph.Node.Select(n => n.OpType).ToList();

        public static float[] Uniform(Random rng, int n, float lo = 0, float hi = 1)
        {
            var x = new float[n];
            for (int i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng.NextSingle();
            return x;
        }

        public static float[] Normal(Random rng, int n, float std = 1)
        {
            var x = new float[n];
            for (int i = 0; i < n; i++)
            {
                double u = 1 - rng.NextDouble(), v = rng.NextDouble();
                x[i] = (float)(std * Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v));
            }
            return x;
        }

        public static SignBits RandomSigns(Random rng, long n, bool withZeros = false)
        {
            var v = new float[n];
            for (long i = 0; i < n; i++) v[i] = withZeros && rng.Next(7) == 0 ? 0 : rng.Next(2) == 0 ? -1 : 1;
            return BitPacking.Pack(v);
        }

        public static BatchNormOp RandomBatchNorm(Random rng, string name, int c) =>
            new(name, Uniform(rng, c, 0.3f, 1.7f), Normal(rng, c, 0.3f), Normal(rng, c, 0.5f), Uniform(rng, c, 0.2f, 2.2f), 1e-5f);
    }
}

using System;
using BenchmarkDotNet.Attributes;
using ReSTE.Inference.Engine;
using ReSTE.Inference.Engine.BConv2d;
using ReSTE.Inference.Format;
using ReSTE.Runtime;
using ReSTE.Runtime.Deploy;
using ReSTE.Samples.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Benchmarks
{
    /// <summary>
    /// Whole models (the sample's ResNet-20, VGG-small and ResNet-18, generated ReSTE layers, 1W/1A), images per second =
    /// Images / mean time: the packed model on the XNOR engine against the same model in TorchSharp fp32 eval mode
    /// (no_grad), each on <see cref="Threads"/> threads.
    /// </summary>
    [MemoryDiagnoser(false)]
    public class ModelInference
    {
        [Params("resnet20", "vgg-small", "resnet18")] public string Model = "resnet20";
        [Params(1, 64)] public int Images;
        [Params(1, 2)] public int Threads;

        InferenceEngine _engine = null!;
        nn.Module<Tensor, Tensor> _model = null!;
        float[] _images = null!;
        Tensor _input = null!;

        [GlobalSetup]
        public void Setup()
        {
            ReSTE.Runtime.Native.LibTorch.LimitOneDnnIsa();
            manual_seed(1);
            var model = ModelZoo.Create(Model, Estimator.ReSTE, binaryActivations: true);
            using (no_grad())
                foreach (var (_, m) in model.named_modules())
                    if (m is TorchSharp.Modules.NormBase bn)
                    {
                        // Trained-like BatchNorm statistics (the defaults would leave most activations exactly 0).
                        long c = bn.running_mean!.shape[0];
                        bn.weight!.copy_(rand(c).add_(0.5));
                        bn.bias!.copy_(randn(c).mul_(0.3));
                        bn.running_mean!.copy_(randn(c).mul_(0.5));
                        bn.running_var!.copy_(rand(c).add_(0.5));
                    }
            model.eval();
            _model = model;
            var packed = ModelExporter.Export(model, new[] { 3, 32, 32 });
            _engine = new InferenceEngine(PackedModelFile.FromBytes(PackedModelFile.ToBytes(packed)));
            var rng = new Random(1);
            _images = new float[Images * 3 * 32 * 32];
            for (int i = 0; i < _images.Length; i++) _images[i] = (float)(rng.NextDouble() * 4 - 2);
            _input = tensor(_images, new long[] { Images, 3, 32, 32 });
            torch.set_num_threads(Threads);
        }

        [Benchmark(Description = "XNOR engine")]
        public float XnorEngine() => _engine.RunBatch(_images, Images, Threads)[0];

        [Benchmark(Baseline = true, Description = "TorchSharp fp32 eval")]
        public float TorchSharpFp32()
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            return _model.forward(_input).data<float>()[0];
        }
    }

    /// <summary>
    /// One binary 3×3 convolution of each ResNet-20 stage, on one thread: the engine's step as it runs inside a model
    /// (copying the CHW activations in and out, sign bit-planes of every tap, the bit-sliced count, scale and the fused
    /// ReLU/BatchNorm epilogue; preallocated output; images in groups of up to 8) against
    /// libtorch's fp32 conv2d of the same shape (a plain convolution of already-binarized ±1 tensors: the least a float
    /// runtime pays for the layer) and against the whole layer as the sample's model runs it in TorchSharp eval mode.
    /// </summary>
    public class BinaryConvLayer
    {
        [Params(16, 32, 64)] public int Channels;
        [Params(1, 64)] public int Images;

        InferenceEngine _engine = null!;
        InferenceEngine.Workspace _ws = null!;
        float[] _x = null!, _y = null!;
        Tensor _tx = null!, _tw = null!, _raw = null!;
        nn.Module<Tensor, Tensor> _layer = null!;
        int _size;

        [GlobalSetup]
        public void Setup()
        {
            ReSTE.Runtime.Native.LibTorch.LimitOneDnnIsa();
            torch.set_num_threads(1);
            _size = Channels == 16 ? 32 : Channels == 32 ? 16 : 8;
            var rng = new Random(2);
            var w = new float[Channels * Channels * 9];
            for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1);
            var bnW = new float[Channels]; var bnB = new float[Channels]; var mean = new float[Channels]; var var = new float[Channels];
            for (int i = 0; i < Channels; i++) { bnW[i] = 1.1f; bnB[i] = 0.1f; mean[i] = 0.2f; var[i] = 0.9f; }
            var model = new PackedModel(Channels, _size, _size, new DeployOp[]
            {
                new BinaryConv2dOp("conv", Channels, Channels, 3, 3, 1, 1, true, BitPacking.Pack(w), new[] { 0.7f }),
                new ReLUOp("relu"),
                new BatchNormOp("bn", bnW, bnB, mean, var, 1e-5f),
            });
            _engine = new InferenceEngine(model);
            _x = new float[Images * Channels * _size * _size];
            _y = new float[_x.Length];
            for (int i = 0; i < _x.Length; i++) _x[i] = (float)(rng.NextDouble() * 2 - 1);
            _ws = _engine.RentWorkspace();
            _engine.LoadGroup(_ws, _x, Math.Min(BitPlaneConv.MaxBatch, Images));
            _tx = tensor(_x, new long[] { Images, Channels, _size, _size }).sign();
            _tw = tensor(w, new long[] { Channels, Channels, 3, 3 }).sign().mul(0.7f);
            _raw = tensor(_x, new long[] { Images, Channels, _size, _size });
            // The same layer as the sample's ResNet-20 runs it in TorchSharp: generated ReSTE BinaryConv2d (sign of input
            // and weight, conv, β), ReLU, BatchNorm, eval mode.
            var conv = ReSTEPolicy.Layers.Conv2d(Channels, Channels, 3, 1, 1);
            var bn = nn.BatchNorm2d(Channels);
            using (no_grad())
            {
                ((ReSTE.Runtime.Layers.IBinaryLayer)conv).LatentWeight.copy_(tensor(w, new long[] { Channels, Channels, 3, 3 }));
                bn.weight!.copy_(tensor(bnW)); bn.bias!.copy_(tensor(bnB));
                bn.running_mean!.copy_(tensor(mean)); bn.running_var!.copy_(tensor(var));
            }
            _layer = nn.Sequential(("conv", conv), ("relu", nn.ReLU()), ("bn", bn));
            _layer.eval();
        }

        [Benchmark(Description = "XNOR conv (+pack, ReLU, BN)")]
        public float Xnor()
        {
            _engine.RunInto(_x, Images, _y);
            return _y[0];
        }

        /// <summary>
        /// The step alone, as inside a model: its input already in the workspace (where the previous step wrote it) and
        /// its output left there, groups of 8 images (one group loaded once and run Images / 8 times).
        /// </summary>
        [Benchmark(Description = "XNOR step in place (+pack, ReLU, BN)")]
        public float XnorInPlace()
        {
            for (int done = 0; done < Images; done += BitPlaneConv.MaxBatch)
                _engine.RunSteps(_ws, Math.Min(BitPlaneConv.MaxBatch, Images - done));
            return _ws.Slots[^1][0];
        }

        [Benchmark(Description = "TorchSharp layer (sign, conv, β, ReLU, BN)")]
        public float TorchLayer()
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            return _layer.forward(_raw).data<float>()[0];
        }

        [Benchmark(Baseline = true, Description = "libtorch fp32 conv2d")]
        public float TorchConv()
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            return nn.functional.conv2d(_tx, _tw, padding: new[] { 1L, 1L }).data<float>()[0];
        }
    }
}

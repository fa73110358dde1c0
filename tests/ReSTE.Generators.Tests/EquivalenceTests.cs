using System;
using System.Linq;
using ReSTE.Generators.Tests.Modules;
using ReSTE.Runtime.Estimators;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Generators.Tests
{
    /// <summary>
    /// The generated ReSTE BinaryConv2d (compiled by the real compiler with the generator as an analyzer, in
    /// Modules.cs) against every conv layer of the official PyTorch code's golden values.
    /// </summary>
    public class EquivalenceTests
    {
        [Fact]
        public void Generated_ReSTE_BinaryConv2d_reproduces_every_golden_conv_layer()
        {
            int layers = 0;
            foreach (var path in GoldenData.Files())
            {
                foreach (var l in GoldenData.Load(path).ConvLayers)
                {
                    CheckConv(l);
                    layers++;
                }
            }
            Assert.True(layers > 0, "no conv layer in the golden files");
        }

        static void CheckConv(GoldenData.ConvLayer l)
        {
            using var scope = NewDisposeScope();
            string where = $"{System.IO.Path.GetFileName(l.File)} conv layer {l.Index} (o = {l.O}, stride {l.Stride}, padding {l.Padding})";
            // The compile-time constants of ReSTEBlock are the reference's: t = 1.5, m = 0.1.
            Assert.Equal(1.5, l.T);
            var ws = l.WeightShape;
            Assert.Equal(ws[2], ws[3]);
            using var conv = new ReSTEBlock.BinaryConv2d(ws[1], ws[0], ws[2], stride: l.Stride, padding: l.Padding);
            var estimator = Assert.IsType<ReSTEEstimator>(conv.Estimator);
            estimator.OEnd = l.O; // Constant schedule: o = OEnd
            Assert.Equal(l.O, estimator.O);
            using (no_grad()) conv.Weight.copy_(tensor(l.Weight, ws));

            var x = tensor(l.Input, l.InputShape).requires_grad_();
            var y = conv.forward(x);
            Assert.Equal(l.OutputShape, y.shape);
            Tolerance.AssertClose(l.Output, y.data<float>().ToArray(), where + " output", rel: 1e-6, abs: 1e-6);
            y.backward(new[] { tensor(l.Upstream, l.OutputShape) });
            Tolerance.AssertClose(l.GradInput, x.grad!.data<float>().ToArray(), where + " grad_input");
            Tolerance.AssertClose(l.GradWeight, conv.Weight.grad!.data<float>().ToArray(), where + " grad_weight");
        }
    }
}

using System.Linq;
using ReSTE.Runtime.Estimators;
using ReSTE.Runtime.Layers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Tests
{
    public class GoldenTests
    {
        [Fact]
        public void Golden_every_case_and_conv_layer_of_every_file_matches_the_reference()
        {
            var files = GoldenData.Files();
            Assert.NotEmpty(files);
            int cases = 0, layers = 0;
            foreach (var path in files)
            {
                var golden = GoldenData.Load(path); // throws, naming the file, when it cannot be read
                foreach (var c in golden.Cases) { CheckCase(c); cases++; }
                foreach (var l in golden.ConvLayers) { CheckConv(l); layers++; }
            }
            Assert.True(cases > 0 && layers > 0, $"checked {cases} cases and {layers} conv layers");
        }

        static void CheckCase(GoldenData.Case c)
        {
            using var scope = NewDisposeScope();
            string where = $"{System.IO.Path.GetFileName(c.File)} case {c.Index} (o = {c.O}, {c.Kind})";
            var z = tensor(c.Z, new long[] { c.Z.Length }).requires_grad_();
            var y = ReSTESign.Apply(z, c.O, c.T, c.M);
            Assert.Equal(c.Forward, y.data<float>().ToArray());
            y.backward(new[] { tensor(c.Upstream, new long[] { c.Upstream.Length }) });
            Tolerance.AssertClose(c.Grad, z.grad!.data<float>().ToArray(), where + " grad");
        }

        static void CheckConv(GoldenData.ConvLayer l)
        {
            using var scope = NewDisposeScope();
            string where = $"{System.IO.Path.GetFileName(l.File)} conv layer {l.Index}";
            var x = tensor(l.Input, l.InputShape).requires_grad_();
            var w = tensor(l.Weight, l.WeightShape).requires_grad_();
            var bw = BinaryWeights.Scaled(ReSTESign.Apply(w, l.O, l.T), w, ScaleMode.LayerMeanAbs);
            var ba = ReSTESign.Apply(x, l.O, l.T);
            var y = nn.functional.conv2d(ba, bw, strides: new long[] { l.Stride, l.Stride }, padding: new long[] { l.Padding, l.Padding });
            Assert.Equal(l.OutputShape, y.shape);
            Tolerance.AssertClose(l.Output, y.data<float>().ToArray(), where + " output", rel: 1e-6, abs: 1e-6);
            y.backward(new[] { tensor(l.Upstream, l.OutputShape) });
            Tolerance.AssertClose(l.GradInput, x.grad!.data<float>().ToArray(), where + " grad_input");
            Tolerance.AssertClose(l.GradWeight, w.grad!.data<float>().ToArray(), where + " grad_weight");
        }

        [Fact]
        public void Golden_an_unreadable_file_is_an_error_naming_it()
        {
            var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"reste-bad-{System.Guid.NewGuid():N}.json");
            System.IO.File.WriteAllText(path, "{ \"cases\": [ { \"o\": 1.0 } ] }");
            try
            {
                var e = Assert.Throws<System.IO.InvalidDataException>(() => GoldenData.Load(path));
                Assert.Contains(path, e.Message);
            }
            finally { System.IO.File.Delete(path); }
        }
    }
}

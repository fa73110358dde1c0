using System;
using System.Globalization;
using ReSTE.Generators.Parsing;

namespace ReSTE.Generators.Emission
{
    /// <summary>
    /// Writes the nested types of one [Binarize] class: the estimator as an autograd function specialised to the policy
    /// (its constants inlined as invariant-culture literals), BinaryConv2d and BinaryLinear with fused forwards, and the
    /// BinaryLayers factory. Every type name is written with global:: so that nothing in the user's code can capture it.
    /// </summary>
    internal static class Emitter
    {
        const string Tensor = "global::TorchSharp.torch.Tensor";
        const string Torch = "global::TorchSharp.torch";
        const string Estimators = "global::ReSTE.Runtime.Estimators";
        const string Runtime = "global::ReSTE.Runtime";
        const string Layers = "global::ReSTE.Runtime.Layers";

        /// <summary>How one estimator is written: its state object and how its backward is called.</summary>
        sealed class EstimatorCode
        {
            public string StateType = "";
            public string NewState = "";
            public string Description = "";
            /// <summary>Parameters of Apply after z ("double o"), empty when the backward needs nothing per call.</summary>
            public string ApplyParameters = "";
            /// <summary>The value boxed into the autograd context ("o", "(t, k)"), or empty.</summary>
            public string SavedValue = "";
            /// <summary>The backward's statement that reads the per-call value back, or empty.</summary>
            public string Unpack = "";
            /// <summary>The gradient expression of z and g, constants inlined.</summary>
            public string Gradient = "";
            /// <summary>Arguments of Apply after the tensor, read from the layer's estimator state.</summary>
            public string CallArguments = "";
        }

        public static string Literal(double value)
        {
            var text = value.ToString("R", CultureInfo.InvariantCulture);
            return text;
        }

        static string Literal(int value) => value.ToString(CultureInfo.InvariantCulture);

        static EstimatorCode For(Policy p)
        {
            switch (p.Estimator)
            {
                case EstimatorKind.ReSTE:
                    return new EstimatorCode
                    {
                        StateType = Estimators + ".ReSTE",
                        NewState = $"new {Estimators}.ReSTE(oEnd: {Literal(p.OEnd)}, t: {Literal(p.T)}, m: {Literal(p.M)}, schedule: {Runtime}.ScheduleKind.{p.Schedule})",
                        Description = $"ReSTE backward with t = {Literal(p.T)} and m = {Literal(p.M)} inlined, o given per call ({p.Schedule} schedule from 1 to {Literal(p.OEnd)})",
                        ApplyParameters = "double o",
                        SavedValue = "o",
                        Unpack = "var o = (double)ctx.get_data(\"p\");",
                        Gradient = $"{Estimators}.ReSTEEstimator.Backward(z, g, o, {Literal(p.T)}, {Literal(p.M)})",
                        CallArguments = "estimator.O",
                    };
                case EstimatorKind.STE:
                    return new EstimatorCode
                    {
                        StateType = Estimators + ".Ste",
                        NewState = $"new {Estimators}.Ste(clip: {Literal(p.SteClip)})",
                        Description = $"STE backward clipped at {Literal(p.SteClip)}",
                        Gradient = $"{Estimators}.SteEstimator.Backward(z, g, {Literal(p.SteClip)})",
                    };
                case EstimatorKind.ApproxSign:
                    return new EstimatorCode
                    {
                        StateType = Estimators + ".ApproxSign",
                        NewState = $"new {Estimators}.ApproxSign()",
                        Description = "ApproxSign backward (2 − 2|z| inside [−1, 1])",
                        Gradient = $"{Estimators}.ApproxSignEstimator.Backward(z, g)",
                    };
                case EstimatorKind.SignSwish:
                    return new EstimatorCode
                    {
                        StateType = Estimators + ".SignSwish",
                        NewState = $"new {Estimators}.SignSwish(beta: {Literal(p.Beta)})",
                        Description = $"SignSwish backward with β = {Literal(p.Beta)}",
                        Gradient = $"{Estimators}.SignSwishEstimator.Backward(z, g, {Literal(p.Beta)})",
                    };
                case EstimatorKind.EDE:
                    return new EstimatorCode
                    {
                        StateType = Estimators + ".Ede",
                        NewState = $"new {Estimators}.Ede(tMin: {Literal(p.EdeTMin)}, tMax: {Literal(p.EdeTMax)})",
                        Description = $"EDE backward, t and k given per call (t from {Literal(p.EdeTMin)} to {Literal(p.EdeTMax)})",
                        ApplyParameters = "double t, double k",
                        SavedValue = "(t, k)",
                        Unpack = "var (t, k) = ((double, double))ctx.get_data(\"p\");",
                        Gradient = $"{Estimators}.EdeEstimator.Backward(z, g, t, k)",
                        CallArguments = "estimator.T, estimator.K",
                    };
                case EstimatorKind.DSQ:
                    return new EstimatorCode
                    {
                        StateType = Estimators + ".Dsq",
                        NewState = $"new {Estimators}.Dsq(alpha: {Literal(p.Alpha)})",
                        Description = $"DSQ backward with α = {Literal(p.Alpha)}",
                        Gradient = $"{Estimators}.DsqEstimator.Backward(z, g, {Literal(p.Alpha)})",
                    };
                case EstimatorKind.FDA:
                    return new EstimatorCode
                    {
                        StateType = Estimators + ".Fda",
                        NewState = $"new {Estimators}.Fda(omega: {Literal(p.Omega)}, terms: {Literal(p.Terms)})",
                        Description = $"FDA backward with ω = {Literal(p.Omega)} and {Literal(p.Terms)} terms",
                        Gradient = $"{Estimators}.FdaEstimator.Backward(z, g, {Literal(p.Omega)}, {Literal(p.Terms)})",
                    };
                case EstimatorKind.RBNN:
                    return new EstimatorCode
                    {
                        StateType = Estimators + ".Rbnn",
                        NewState = $"new {Estimators}.Rbnn(tMin: {Literal(p.RbnnTMin)}, tMax: {Literal(p.RbnnTMax)})",
                        Description = $"RBNN backward, t and k given per call (t from {Literal(p.RbnnTMin)} to {Literal(p.RbnnTMax)})",
                        ApplyParameters = "double t, double k",
                        SavedValue = "(t, k)",
                        Unpack = "var (t, k) = ((double, double))ctx.get_data(\"p\");",
                        Gradient = $"{Estimators}.RbnnEstimator.Backward(z, g, t, k)",
                        CallArguments = "estimator.T, estimator.K",
                    };
                default:
                    throw new ArgumentOutOfRangeException(nameof(p), p.Estimator, "Unknown estimator.");
            }
        }

        public static string Emit(BinarizeSpec spec)
        {
            var p = spec.Policy ?? throw new InvalidOperationException($"'{spec.DisplayName}' has errors; nothing to emit.");
            var e = For(p);
            var w = new SourceWriter();
            string policyText = $"Estimator = {p.Estimator}, " + (p.Activations ? "1W/1A" : "1W/32A") + $", Scale = {p.Scale}";

            w.Line("// <auto-generated/>");
            w.Line($"// ReSTE.Generators: the binary layers of {spec.DisplayName} ({policyText}).");
            w.Line("#nullable enable");
            w.Line("#pragma warning disable CS1591");
            w.Line();
            if (spec.Namespace != null) w.Open($"namespace {spec.Namespace}");
            foreach (var c in spec.ContainingTypes) w.Open($"partial {c.Keyword} {c.Name}");
            w.Open($"partial {spec.Keyword} {spec.ClassName}");

            w.Line($"/// <summary>Creates the binary layers of this class's policy ({policyText}).</summary>");
            w.Line($"public static {Layers}.IBinaryLayerFactory Layers {{ get; }} = new BinaryLayers();");
            w.Line();

            EmitFactory(w);
            w.Line();
            EmitSign(w, spec, e);
            w.Line();
            EmitLayer(w, p, e, conv: true);
            w.Line();
            EmitLayer(w, p, e, conv: false);

            w.Close();
            foreach (var _ in spec.ContainingTypes) w.Close();
            if (spec.Namespace != null) w.Close();
            return w.ToString();
        }

        const string ConvParameters = "long inChannels, long outChannels, " + Layers + ".ConvSize kernelSize, " + Layers + ".ConvSize stride = default, "
            + Layers + ".ConvPadding padding = default, " + Layers + ".ConvSize dilation = default, long groups = 1, bool bias = false, "
            + Torch + ".Device? device = null, " + Torch + ".ScalarType? dtype = null";
        const string ConvArguments = "inChannels, outChannels, kernelSize, stride, padding, dilation, groups, bias, device, dtype";
        const string LinearParameters = "long inFeatures, long outFeatures, bool bias = true, " + Torch + ".Device? device = null, " + Torch + ".ScalarType? dtype = null";
        const string LinearArguments = "inFeatures, outFeatures, bias, device, dtype";

        static void EmitFactory(SourceWriter w)
        {
            w.Line("/// <summary>Creates <see cref=\"BinaryConv2d\"/> and <see cref=\"BinaryLinear\"/> layers of this class's policy.</summary>");
            w.Open($"public sealed class BinaryLayers : {Layers}.IBinaryLayerFactory");
            w.Line($"public {Torch}.nn.Module<{Tensor}, {Tensor}> Conv2d({ConvParameters}) =>");
            w.Line($"    new BinaryConv2d({ConvArguments});");
            w.Line();
            w.Line($"public {Torch}.nn.Module<{Tensor}, {Tensor}> Linear({LinearParameters}) =>");
            w.Line($"    new BinaryLinear({LinearArguments});");
            w.Close();
        }

        static void EmitSign(SourceWriter w, BinarizeSpec spec, EstimatorCode e)
        {
            bool perCall = e.ApplyParameters.Length > 0;
            w.Line($"/// <summary>sign(z) forward; {e.Description}.</summary>");
            w.Open($"public sealed class BinarySign : {Layers}.BinarySignFunction<BinarySign>");
            w.Line($"public override string Name => \"{spec.DisplayName}.BinarySign\";");
            w.Line();
            w.Open($"public override global::System.Collections.Generic.List<{Tensor}> backward({Torch}.autograd.AutogradContext ctx, {Tensor} grad_output)");
            if (perCall) w.Line(e.Unpack);
            w.Line($"return {Estimators}.EstimatorAutograd.Backward(ctx, grad_output, {(perCall ? 1 : 0)}, (z, g) => {e.Gradient});");
            w.Close();
            w.Line();
            w.Line("/// <summary>sign(z), with this policy's estimator as its gradient.</summary>");
            if (perCall)
                w.Line($"public static {Tensor} Apply({Tensor} z, {e.ApplyParameters}) => apply(z, {e.SavedValue});");
            else
                w.Line($"public static {Tensor} Apply({Tensor} z) => apply(z);");
            w.Close();
        }

        static void EmitLayer(SourceWriter w, Policy p, EstimatorCode e, bool conv)
        {
            string name = conv ? "BinaryConv2d" : "BinaryLinear";
            string call = e.CallArguments.Length > 0 ? ", " + e.CallArguments : "";
            w.Line($"/// <summary>A binary {(conv ? "2-D convolution" : "fully connected layer")}: sign of the " + (p.Activations ? "input and of the " : "") + "latent weight" +
                   (p.Scale == ScaleKind.None ? "" : ", scaled") + $", then {(conv ? "conv2d" : "linear")}, in one forward.</summary>");
            w.Open($"public sealed class {name} : {Layers}.{name}Base<{e.StateType}>");
            w.Line(conv
                ? "/// <summary>PyTorch's nn.Conv2d arguments and initialisation (kaiming_uniform with a = √5); no bias unless asked.</summary>"
                : "/// <summary>PyTorch's nn.Linear arguments and initialisation (kaiming_uniform with a = √5).</summary>");
            w.Line($"public {name}({(conv ? ConvParameters : LinearParameters)})");
            w.Line($"    : base({(conv ? ConvArguments : LinearArguments)}, {e.NewState}, {(p.Activations ? "true" : "false")}, {Runtime}.ScaleMode.{p.Scale}) {{ }}");
            w.Line();

            w.Open($"public override {Tensor} forward({Tensor} input)");
            w.Line($"using var scope = {Torch}.NewDisposeScope();");
            string x = "input";
            if (p.Activations)
            {
                w.Line($"var x = BinarySign.Apply(input{call});");
                x = "x";
            }
            string scale = p.Scale switch
            {
                ScaleKind.LayerMeanAbs => ".mul(weight.abs().mean())",
                ScaleKind.ChannelMeanAbs => conv
                    ? ".mul(weight.abs().mean(new long[] { 1, 2, 3 }, keepdim: true))"
                    : ".mul(weight.abs().mean(new long[] { 1 }, keepdim: true))",
                _ => "",
            };
            if (p.Activations && p.Scale != ScaleKind.None)
            {
                // In eval mode the ±1 weights meet {−1, 0, +1} activations unscaled: every partial sum is an integer, exact
                // in fp32 whatever order the backend sums in (oneDNN, batch size, threads), and β multiplies the result
                // once. Evaluation is then reproducible, and equal to what the packed XNOR engine computes. Training
                // keeps the reference's order (β on the weights: one small multiply instead of one per output).
                string outputScale = p.Scale == ScaleKind.LayerMeanAbs
                    ? "weight.abs().mean()"
                    : conv ? "weight.abs().mean(new long[] { 1, 2, 3 }).view(-1, 1, 1)" : "weight.abs().mean(new long[] { 1 })";
                w.Line($"if (!training) return WithBias(Apply({x}, BinarySign.Apply(weight{call}), null).mul({outputScale})).MoveToOuterDisposeScope();");
            }
            w.Line($"return Apply({x}, BinarySign.Apply(weight{call}){scale}, bias).MoveToOuterDisposeScope();");
            w.Close();
            w.Close();
        }
    }
}

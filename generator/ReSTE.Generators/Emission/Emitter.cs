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
        const string Parameter = "global::TorchSharp.Modules.Parameter";
        const string Torch = "global::TorchSharp.torch";
        const string Estimators = "global::ReSTE.Runtime.Estimators";
        const string Runtime = "global::ReSTE.Runtime";

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
                        Unpack = "var o = (double)ctx.get_data(\"o\");",
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
                        Unpack = "var (t, k) = ((double, double))ctx.get_data(\"tk\");",
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
                        Unpack = "var (t, k) = ((double, double))ctx.get_data(\"tk\");",
                        Gradient = $"{Estimators}.RbnnEstimator.Backward(z, g, t, k)",
                        CallArguments = "estimator.T, estimator.K",
                    };
                default:
                    throw new ArgumentOutOfRangeException(nameof(p), p.Estimator, "Unknown estimator.");
            }
        }

        static string SavedKey(EstimatorCode e) => e.SavedValue == "o" ? "o" : "tk";

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
            w.Line("public static global::ReSTE.Runtime.Layers.IBinaryLayerFactory Layers { get; } = new BinaryLayers();");
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

        static void EmitFactory(SourceWriter w)
        {
            w.Line("/// <summary>Creates <see cref=\"BinaryConv2d\"/> and <see cref=\"BinaryLinear\"/> layers of this class's policy.</summary>");
            w.Open("public sealed class BinaryLayers : global::ReSTE.Runtime.Layers.IBinaryLayerFactory");
            w.Line($"public {Torch}.nn.Module<{Tensor}, {Tensor}> Conv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, long dilation = 1, long groups = 1, bool bias = false) =>");
            w.Line("    new BinaryConv2d(inChannels, outChannels, kernelSize, stride, padding, dilation, groups, bias);");
            w.Line();
            w.Line($"public {Torch}.nn.Module<{Tensor}, {Tensor}> Linear(long inFeatures, long outFeatures, bool bias = true) =>");
            w.Line("    new BinaryLinear(inFeatures, outFeatures, bias);");
            w.Close();
        }

        static void EmitSign(SourceWriter w, BinarizeSpec spec, EstimatorCode e)
        {
            bool perCall = e.ApplyParameters.Length > 0;
            w.Line($"/// <summary>sign(z) forward; {e.Description}.</summary>");
            w.Open($"public sealed class BinarySign : {Torch}.autograd.SingleTensorFunction<BinarySign>");
            w.Line($"public override string Name => \"{spec.DisplayName}.BinarySign\";");
            w.Line();
            w.Open($"public override {Tensor} forward({Torch}.autograd.AutogradContext ctx, params object[] vars)");
            w.Line($"var z = ({Tensor})vars[0];");
            w.Line($"ctx.save_for_backward(new global::System.Collections.Generic.List<{Tensor}> {{ z }});");
            if (perCall) w.Line($"ctx.save_data(\"{SavedKey(e)}\", vars[1]);");
            w.Line($"return {Estimators}.Sign.Forward(z);");
            w.Close();
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
            if (conv)
                w.Line("/// <summary>A binary 2-D convolution: sign of the " + (p.Activations ? "input and of the " : "") + "latent weight" +
                       (p.Scale == ScaleKind.None ? "" : ", scaled") + ", then conv2d, in one forward.</summary>");
            else
                w.Line("/// <summary>A binary fully connected layer: sign of the " + (p.Activations ? "input and of the " : "") + "latent weight" +
                       (p.Scale == ScaleKind.None ? "" : ", scaled") + ", then linear, in one forward.</summary>");
            w.Open($"public sealed class {name} : {Torch}.nn.Module<{Tensor}, {Tensor}>, global::ReSTE.Runtime.Layers.IBinaryLayer");
            w.Line($"private readonly {Parameter} weight;");
            w.Line($"private readonly {Parameter}? bias;");
            w.Line($"private readonly {e.StateType} estimator = {e.NewState};");
            if (conv)
            {
                w.Line("private readonly long[] stride, padding, dilation;");
                w.Line("private readonly long groups;");
            }
            w.Line();

            if (conv)
            {
                w.Line("/// <summary>PyTorch's nn.Conv2d arguments and initialisation (kaiming_uniform with a = √5); no bias unless asked.</summary>");
                w.Line("public BinaryConv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, long dilation = 1, long groups = 1, bool bias = false)");
                w.Line("    : base(nameof(BinaryConv2d))");
                w.Open();
                w.Line("Check(inChannels > 0, nameof(inChannels), inChannels, \"> 0\");");
                w.Line("Check(outChannels > 0, nameof(outChannels), outChannels, \"> 0\");");
                w.Line("Check(kernelSize > 0, nameof(kernelSize), kernelSize, \"> 0\");");
                w.Line("Check(stride > 0, nameof(stride), stride, \"> 0\");");
                w.Line("Check(padding >= 0, nameof(padding), padding, \">= 0\");");
                w.Line("Check(dilation > 0, nameof(dilation), dilation, \"> 0\");");
                w.Line("Check(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0, nameof(groups), groups, \"> 0 and divide inChannels and outChannels\");");
                w.Line("this.stride = new[] { stride, stride };");
                w.Line("this.padding = new[] { padding, padding };");
                w.Line("this.dilation = new[] { dilation, dilation };");
                w.Line("this.groups = groups;");
                w.Line($"weight = new {Parameter}({Torch}.empty(new[] {{ outChannels, inChannels / groups, kernelSize, kernelSize }}));");
                w.Line($"this.bias = bias ? new {Parameter}({Torch}.empty(new[] {{ outChannels }})) : null;");
                w.Line("Initialize(inChannels / groups * kernelSize * kernelSize);");
                w.Line("RegisterComponents();");
                w.Close();
            }
            else
            {
                w.Line("/// <summary>PyTorch's nn.Linear arguments and initialisation (kaiming_uniform with a = √5).</summary>");
                w.Line("public BinaryLinear(long inFeatures, long outFeatures, bool bias = true)");
                w.Line("    : base(nameof(BinaryLinear))");
                w.Open();
                w.Line("Check(inFeatures > 0, nameof(inFeatures), inFeatures, \"> 0\");");
                w.Line("Check(outFeatures > 0, nameof(outFeatures), outFeatures, \"> 0\");");
                w.Line($"weight = new {Parameter}({Torch}.empty(new[] {{ outFeatures, inFeatures }}));");
                w.Line($"this.bias = bias ? new {Parameter}({Torch}.empty(new[] {{ outFeatures }})) : null;");
                w.Line("Initialize(inFeatures);");
                w.Line("RegisterComponents();");
                w.Close();
            }
            w.Line();

            w.Line("/// <summary>The latent full-precision weight that sign binarizes (state dict name \"weight\").</summary>");
            w.Line($"public {Parameter} Weight => weight;");
            w.Line("/// <summary>The full-precision bias, or null.</summary>");
            w.Line($"public {Parameter}? Bias => bias;");
            w.Line($"public {Parameter} LatentWeight => weight;");
            w.Line($"public {Estimators}.IEstimator Estimator => estimator;");
            w.Line($"public bool BinarizesActivations => {(p.Activations ? "true" : "false")};");
            w.Line($"public {Runtime}.ScaleMode Scale => {Runtime}.ScaleMode.{p.Scale};");
            w.Line("public long BinaryWeightCount => weight.numel();");
            w.Line("public void SetProgress(int epoch, int epochs) => estimator.SetProgress(epoch, epochs);");
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
                w.Line("if (!training)");
                w.Open();
                if (conv)
                    w.Line($"var y = {Torch}.nn.functional.conv2d({x}, BinarySign.Apply(weight{call}), null, strides: stride, padding: padding, dilation: dilation, groups: groups).mul({outputScale});");
                else
                    w.Line($"var y = {Torch}.nn.functional.linear({x}, BinarySign.Apply(weight{call})).mul({outputScale});");
                w.Line($"return (bias is null ? y : y.add({(conv ? "bias.view(-1, 1, 1)" : "bias")})).MoveToOuterDisposeScope();");
                w.Close();
            }
            w.Line($"var w = BinarySign.Apply(weight{call}){scale};");
            if (conv)
                w.Line($"return {Torch}.nn.functional.conv2d({x}, w, bias, strides: stride, padding: padding, dilation: dilation, groups: groups).MoveToOuterDisposeScope();");
            else
                w.Line($"return {Torch}.nn.functional.linear({x}, w, bias).MoveToOuterDisposeScope();");
            w.Close();
            w.Line();

            w.Open("private void Initialize(long fanIn)");
            w.Open($"using ({Torch}.no_grad())");
            w.Line($"{Torch}.nn.init.kaiming_uniform_(weight, a: global::System.Math.Sqrt(5));");
            w.Line("if (bias is not null)");
            w.Open();
            w.Line("var bound = fanIn > 0 ? 1 / global::System.Math.Sqrt(fanIn) : 0;");
            w.Line($"{Torch}.nn.init.uniform_(bias, -bound, bound);");
            w.Close();
            w.Close();
            w.Close();
            w.Line();
            w.Line("private static void Check(bool ok, string name, long value, string rule)");
            w.Line("{");
            w.Line($"    if (!ok) throw new global::System.ArgumentOutOfRangeException(name, value, \"{name}: \" + name + \" = \" + value + \" must be \" + rule + \".\");");
            w.Line("}");
            w.Close();
        }
    }
}

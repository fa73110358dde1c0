using System;

namespace ReSTE.Runtime
{
    /// <summary>The backward estimators of sign. Each is one class of <c>ReSTE.Runtime.Estimators</c> (<c>ReSTEEstimator</c>, …) and one <see cref="EstimatorDescription"/> in <see cref="EstimatorCatalog"/>.</summary>
    public enum Estimator
    {
        /// <summary>Rectified STE (Wu et al., ICCV 2023): the power function sign(z)|z|^(1/o), rectified near 0 and cut at t.</summary>
        ReSTE,
        /// <summary>Straight-through estimator, clipped at 1 (Hubara et al., 2016).</summary>
        STE,
        /// <summary>ApproxSign of Bi-Real Net (Liu et al., ECCV 2018): 2 − 2|z| inside [−1, 1].</summary>
        ApproxSign,
        /// <summary>SignSwish of BNN+ (Darabi et al., 2018).</summary>
        SignSwish,
        /// <summary>Error decay estimator of IR-Net (Qin et al., CVPR 2020).</summary>
        EDE,
        /// <summary>Differentiable soft quantization (Gong et al., ICCV 2019): a tanh soft quantizer.</summary>
        DSQ,
        /// <summary>Fourier-series frequency-domain approximation (Xu et al., NeurIPS 2021).</summary>
        FDA,
        /// <summary>The training-aware approximation of RBNN (Lin et al., NeurIPS 2020).</summary>
        RBNN,
        /// <summary>bitorch's progressive sign (hpi-xnor/bitorch): hardtanh(s·z) with s growing from 1 to α^β over training.</summary>
        ProgressiveSign,
    }

    /// <summary>How binary weights are scaled after sign.</summary>
    public enum ScaleMode
    {
        /// <summary>β = mean|W| over the whole weight tensor, not detached (the reference and default).</summary>
        LayerMeanAbs,
        /// <summary>β = mean|W| per output channel (XNOR-Net), not detached.</summary>
        ChannelMeanAbs,
        /// <summary>No scaling: weights are ±1.</summary>
        None,
    }

    /// <summary>How the estimator's parameter (o for ReSTE) moves during training.</summary>
    public enum ScheduleKind
    {
        /// <summary>o = 1 + (o_end − 1)(1 − cos(π/2 · epoch / E)): the reference and default.</summary>
        Cosine,
        /// <summary>o = 1 + (o_end − 1) · epoch / E.</summary>
        Linear,
        /// <summary>o = o_end throughout.</summary>
        Constant,
    }

    /// <summary>
    /// Declares the binarization policy of every generated binary layer (<c>BinaryConv2d</c>, <c>BinaryLinear</c>)
    /// nested in the annotated <c>partial</c> TorchSharp module. The ReSTE.Generators source generator reads it at
    /// compile time and emits layers specialised to it.
    /// </summary>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    public sealed class BinarizeAttribute : Attribute
    {
        /// <summary>The backward estimator of sign. Default ReSTE.</summary>
        public Estimator Estimator { get; set; } = Estimator.ReSTE;
        /// <summary>ReSTE: the final o of the schedule (≥ 1). Default 3, the paper's.</summary>
        public double OEnd { get; set; } = 3;
        /// <summary>ReSTE: gradients are 0 where |z| &gt; T. Default 1.5.</summary>
        public double T { get; set; } = 1.5;
        /// <summary>ReSTE: below |z| ≤ M the slope is the constant (f(M) − f(0))/M. Default 0.1.</summary>
        public double M { get; set; } = 0.1;
        /// <summary>true: 1W/1A (weights and activations binary, the default); false: 1W/32A.</summary>
        public bool Activations { get; set; } = true;
        /// <summary>How binary weights are scaled. Default <see cref="ScaleMode.LayerMeanAbs"/>.</summary>
        public ScaleMode Scale { get; set; } = ScaleMode.LayerMeanAbs;
        /// <summary>How o moves over training. Default <see cref="ScheduleKind.Cosine"/>.</summary>
        public ScheduleKind Schedule { get; set; } = ScheduleKind.Cosine;
        /// <summary>STE: gradients are 0 where |z| &gt; SteClip. Default 1.</summary>
        public double SteClip { get; set; } = 1;
        /// <summary>SignSwish: β. Default 5.</summary>
        public double Beta { get; set; } = 5;
        /// <summary>EDE: the first t of the schedule. Default 0.1 (IR-Net).</summary>
        public double EdeTMin { get; set; } = 0.1;
        /// <summary>EDE: the last t of the schedule. Default 10 (IR-Net).</summary>
        public double EdeTMax { get; set; } = 10;
        /// <summary>DSQ: α, the distance of the soft quantizer from sign. Default 0.2.</summary>
        public double Alpha { get; set; } = 0.2;
        /// <summary>FDA: the base frequency ω of the series. Default π/2.</summary>
        public double Omega { get; set; } = Math.PI / 2;
        /// <summary>FDA: the number of odd harmonics kept. Default 4.</summary>
        public int Terms { get; set; } = 4;
        /// <summary>RBNN: the first t of the schedule. Default 0.01.</summary>
        public double RbnnTMin { get; set; } = 0.01;
        /// <summary>RBNN: the last t of the schedule. Default 10.</summary>
        public double RbnnTMax { get; set; } = 10;
        /// <summary>ProgressiveSign: α, the base of the slope s = α^(β·scale) (&gt; 1). Default 4 (bitorch's).</summary>
        public double ProgressiveAlpha { get; set; } = 4;
        /// <summary>ProgressiveSign: β, the exponent's factor (&gt; 0). Default 10 (bitorch's).</summary>
        public double ProgressiveBeta { get; set; } = 10;
    }
}

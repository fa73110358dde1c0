using Workspace = ReSTE.Inference.Engine.InferenceEngine.Workspace;

namespace ReSTE.Inference.Engine.Steps
{
    /// <summary>
    /// One executable step of an <see cref="InferenceEngine"/>: reads the activations of a group of images from slot
    /// <see cref="In"/> of the workspace and writes slot <see cref="Out"/> (the same slot for steps that work in place).
    /// The <see cref="Planner"/> turns a packed model's ops into steps, one file per step kind in Engine/Steps/.
    /// </summary>
    internal abstract class Step
    {
        /// <summary>The workspace slots read and written.</summary>
        public int In, Out;
        /// <summary>Runs the step on the <paramref name="n"/> images (1 to <c>BitPlaneConv.MaxBatch</c>) in the workspace.</summary>
        public abstract void Run(Workspace ws, int n);
        public abstract string Describe();
    }
}

namespace ReSTE.Inference.Engine
{
    /// <summary>An activation's shape per image: channels, height, width (CHW, as in PyTorch).</summary>
    internal readonly record struct Shape(int C, int H, int W)
    {
        public int Length => C * H * W;
        public int Plane => H * W;
        public override string ToString() => $"{C}×{H}×{W}";
    }
}

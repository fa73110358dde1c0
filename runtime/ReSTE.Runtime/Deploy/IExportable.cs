namespace ReSTE.Runtime.Deploy
{
    /// <summary>
    /// A module that says how it exports to a packed model (<c>.rbnn</c>): its <see cref="Export"/> emits the ops its
    /// forward computes, in order, through the context's graph API (<see cref="ExportContext.Export(TorchSharp.torch.nn.Module)"/>
    /// for a child module, <see cref="ExportContext.ReLU"/> and the other functional ops, residual blocks with
    /// <see cref="ExportContext.BeginResidual"/>/<see cref="ExportContext.ShortcutBranch"/>/<see cref="ExportContext.Add"/>).
    /// The runtime's binary layers implement it; a model or block with its own <c>forward</c> implements it itself.
    /// <see cref="ModelExporter"/> then runs the packed model against the forward on random inputs, so an export that
    /// states the graph wrong is refused.
    /// </summary>
    public interface IExportable
    {
        /// <summary>Emits this module's ops into <paramref name="ctx"/> (whose <see cref="ExportContext.Path"/> is this module's path).</summary>
        void Export(ExportContext ctx);
    }
}

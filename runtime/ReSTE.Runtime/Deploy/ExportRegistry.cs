using System;
using System.Collections.Generic;
using System.Linq;
using ReSTE.Runtime.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Deploy
{
    /// <summary>
    /// How modules that do not implement <see cref="IExportable"/> export: built-in handlers for TorchSharp's own
    /// modules a binary network uses (Sequential, Conv2d, BatchNorm1d/2d, ReLU, Hardtanh, MaxPool2d, AvgPool2d,
    /// AdaptiveAvgPool2d to 1×1, Flatten, Linear, Identity, Dropout) and for any other <see cref="IBinaryLayer"/>, and
    /// the user's own (<see cref="Register{T}"/>), which come first: a user's handler for a type (or a base type or
    /// interface of it) overrides the module's own <see cref="IExportable.Export"/> and the built-in one.
    /// </summary>
    public sealed class ExportRegistry
    {
        readonly Dictionary<Type, Action<nn.Module, ExportContext>> _user = new();
        static readonly Dictionary<Type, Action<nn.Module, ExportContext>> BuiltIn = CreateBuiltIns();

        /// <summary>
        /// Exports every module of type <typeparamref name="T"/> (or derived from it, or implementing it) with
        /// <paramref name="handler"/>, which emits its ops into the context (a later registration for the same type wins).
        /// </summary>
        public ExportRegistry Register<T>(Action<T, ExportContext> handler) where T : class
        {
            ArgumentNullException.ThrowIfNull(handler);
            _user[typeof(T)] = (m, ctx) => handler((T)(object)m, ctx);
            return this;
        }

        /// <summary>The types with a built-in handler.</summary>
        public static IReadOnlyCollection<Type> BuiltInTypes => BuiltIn.Keys;

        internal bool TryFindUser(Type type, out Action<nn.Module, ExportContext> handler) => Find(_user, type, out handler);
        internal bool TryFindBuiltIn(Type type, out Action<nn.Module, ExportContext> handler) => Find(BuiltIn, type, out handler);

        /// <summary>The handler for the nearest type: the type itself, its base types outward, then its interfaces.</summary>
        static bool Find(Dictionary<Type, Action<nn.Module, ExportContext>> map, Type type, out Action<nn.Module, ExportContext> handler)
        {
            for (var t = type; t is not null; t = t.BaseType)
                if (map.TryGetValue(t, out handler!)) return true;
            foreach (var i in type.GetInterfaces())
                if (map.TryGetValue(i, out handler!)) return true;
            handler = null!;
            return false;
        }

        static Dictionary<Type, Action<nn.Module, ExportContext>> CreateBuiltIns()
        {
            var map = new Dictionary<Type, Action<nn.Module, ExportContext>>();
            void Add<T>(Action<T, ExportContext> h) where T : class => map[typeof(T)] = (m, ctx) => h((T)(object)m, ctx);

            Add<Sequential>((_, ctx) => ctx.ExportChildren());
            Add<Identity>((_, _) => { });
            Add<Dropout>((_, _) => { });
            Add<Conv2d>((conv, ctx) => ctx.Emit(LayerExport.FloatConv(ctx.Path, conv)));
            Add<BatchNorm1d>((bn, ctx) => ctx.Emit(LayerExport.BatchNorm(ctx.Path, bn)));
            Add<BatchNorm2d>((bn, ctx) => ctx.Emit(LayerExport.BatchNorm(ctx.Path, bn)));
            Add<Linear>((l, ctx) => ctx.Emit(LayerExport.Linear(ctx.Path, l)));
            Add<ReLU>((_, ctx) => ctx.Emit(new Inference.Format.ReLUOp(ctx.Path)));
            Add<Hardtanh>((t, ctx) =>
            {
                float min = (float)t.min_val, max = (float)t.max_val;
                if (!Clamps(t, min, max))
                    throw ctx.Error($"this Hardtanh returns its input unclamped (TorchSharp 0.107's hardtanh is the identity), so the model computes no clamp here; " +
                        $"clamp in forward (x.clamp({min}, {max})) and export it with ctx.Hardtanh, or drop the module.");
                ctx.Emit(new Inference.Format.HardtanhOp(ctx.Path, min, max));
            });
            Add<MaxPool2d>((p, ctx) =>
            {
                var (k, s, pad) = PoolGeometry(ctx, "MaxPool2d", p.kernel_size, p.stride, p.padding, p.ceil_mode, paddingAllowed: true);
                if (p.dilation is { } d && d.Any(v => v != 1)) throw ctx.Error($"MaxPool2d dilation ({string.Join(", ", d)}) is not exportable (only 1).");
                ctx.Emit(new Inference.Format.MaxPool2dOp(ctx.Path, k, s, pad));
            });
            Add<AvgPool2d>((p, ctx) =>
            {
                var (k, s, _) = PoolGeometry(ctx, "AvgPool2d", p.kernel_size, p.stride, p.padding, p.ceil_mode, paddingAllowed: false);
                if (p.divisor_override is not null) throw ctx.Error($"AvgPool2d divisor_override {p.divisor_override} is not exportable.");
                if (k == ctx.Height && k == ctx.Width && s >= k) ctx.Emit(new Inference.Format.GlobalAvgPoolOp(ctx.Path));
                else ctx.Emit(new Inference.Format.AvgPool2dOp(ctx.Path, k, s));
            });
            Add<AdaptiveAvgPool2d>((p, ctx) =>
            {
                if (p.output_size is null || p.output_size.Any(v => v != 1))
                    throw ctx.Error($"AdaptiveAvgPool2d to ({string.Join(", ", p.output_size ?? Array.Empty<long>())}) is not exportable; only to 1×1 (global average pooling).");
                ctx.Emit(new Inference.Format.GlobalAvgPoolOp(ctx.Path));
            });
            Add<Flatten>((f, ctx) =>
            {
                if (f.start_dim != 1 || (f.end_dim != -1 && f.end_dim != 3))
                    throw ctx.Error($"Flatten({f.start_dim}, {f.end_dim}) is not exportable; only Flatten(1, -1).");
                ctx.Flatten();
            });
            // A binary layer not built on the runtime's bases (those implement IExportable): geometry probed.
            Add<IBinaryLayer>((layer, ctx) => LayerExport.ProbedBinaryLayer(ctx, layer));
            return map;
        }

        /// <summary>Whether the module clamps [min − 1, max + 1] to [min, max].</summary>
        static bool Clamps(Hardtanh t, float min, float max)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var y = t.forward(tensor(new[] { min - 1, max + 1 })).data<float>().ToArray();
            return y[0] == min && y[1] == max;
        }

        static (int Kernel, int Stride, int Padding) PoolGeometry(ExportContext ctx, string kind, long[] kernel, long[]? stride, long[]? padding, bool ceilMode, bool paddingAllowed)
        {
            long k = kernel[0];
            if (kernel.Any(v => v != k)) throw ctx.Error($"{kind} kernel ({string.Join(", ", kernel)}) is not square; not exportable.");
            long s = stride is null || stride.Length == 0 ? k : stride[0];
            if (stride is not null && stride.Any(v => v != s)) throw ctx.Error($"{kind} stride ({string.Join(", ", stride)}) differs per axis; not exportable.");
            long pad = padding is null || padding.Length == 0 ? 0 : padding[0];
            if (padding is not null && padding.Any(v => v != pad)) throw ctx.Error($"{kind} padding ({string.Join(", ", padding)}) differs per axis; not exportable.");
            if (pad != 0 && !paddingAllowed) throw ctx.Error($"{kind} padding ({string.Join(", ", padding!)}) is not exportable (only 0).");
            if (ceilMode) throw ctx.Error($"{kind} with ceil_mode is not exportable.");
            return ((int)k, (int)s, (int)pad);
        }
    }
}

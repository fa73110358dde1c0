using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ReSTE.Generators.Diagnostics;

namespace ReSTE.Generators.Parsing
{
    /// <summary>
    /// Reads one [Binarize] class into a <see cref="BinarizeSpec"/>: where it lives, its policy with defaults filled in,
    /// and every problem found, as data. Runs inside the incremental transform; nothing it returns holds a symbol.
    /// </summary>
    internal static class Parser
    {
        public const string AttributeMetadataName = "ReSTE.Runtime.BinarizeAttribute";

        static readonly string[] DoubleProperties =
            { "OEnd", "T", "M", "SteClip", "Beta", "EdeTMin", "EdeTMax", "Alpha", "Omega", "RbnnTMin", "RbnnTMax" };

        /// <summary>The properties each estimator reads; Estimator, Activations and Scale apply to every one.</summary>
        static readonly Dictionary<EstimatorKind, string[]> Applicable = new()
        {
            [EstimatorKind.ReSTE] = new[] { "OEnd", "T", "M", "Schedule" },
            [EstimatorKind.STE] = new[] { "SteClip" },
            [EstimatorKind.ApproxSign] = new string[0],
            [EstimatorKind.SignSwish] = new[] { "Beta" },
            [EstimatorKind.EDE] = new[] { "EdeTMin", "EdeTMax" },
            [EstimatorKind.DSQ] = new[] { "Alpha" },
            [EstimatorKind.FDA] = new[] { "Omega", "Terms" },
            [EstimatorKind.RBNN] = new[] { "RbnnTMin", "RbnnTMax" },
        };

        static readonly string[] Universal = { "Estimator", "Activations", "Scale" };

        public static BinarizeSpec Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var symbol = (INamedTypeSymbol)context.TargetSymbol;
            var syntax = (TypeDeclarationSyntax)context.TargetNode;
            var diagnostics = new List<DiagnosticInfo>();
            var display = symbol.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat);
            var containing = new List<ContainingType>();
            for (var t = symbol.ContainingType; t != null; t = t.ContainingType) containing.Insert(0, new ContainingType(Keyword(t), t.Name));
            display = string.Join(".", containing.Select(c => c.Name).Concat(new[] { display }));

            var ns = symbol.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : null;
            var hintName = string.Join(".", new[] { ns }.Concat(containing.Select(c => c.Name)).Concat(new[] { symbol.Name }).Where(s => s != null)) + ".Binary.g.cs";
            if (symbol.Arity > 0) hintName = hintName.Replace(".Binary.g.cs", "_" + symbol.Arity.ToString(CultureInfo.InvariantCulture) + ".Binary.g.cs");

            // More than one [Binarize] (the attribute forbids it, so the compiler reports CS0579 as well): each extra one,
            // in this declaration, gets RESTE009; no declaration of the class emits anything.
            var all = symbol.GetAttributes().Where(a => a.AttributeClass?.ToDisplayString() == AttributeMetadataName).ToList();
            if (all.Count > 1)
            {
                foreach (var attribute in all.Skip(1))
                {
                    var reference = attribute.ApplicationSyntaxReference;
                    if (reference != null && reference.SyntaxTree == syntax.SyntaxTree && syntax.Span.Contains(reference.Span))
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.Duplicate, reference.GetSyntax(cancellationToken).GetLocation(),
                            display, all.Count.ToString(CultureInfo.InvariantCulture)));
                }
            }

            if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotPartial, syntax.Identifier.GetLocation(), display));
            foreach (var ancestor in syntax.Ancestors().OfType<TypeDeclarationSyntax>())
                if (!ancestor.Modifiers.Any(SyntaxKind.PartialKeyword))
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotPartial, ancestor.Identifier.GetLocation(), ancestor.Identifier.ValueText));

            if (!DerivesFromModule(symbol))
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotModule, syntax.Identifier.GetLocation(), display,
                    symbol.BaseType?.ToDisplayString() ?? "object"));

            if (symbol.Arity > 0)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NestedInGeneric, syntax.Identifier.GetLocation(), display, display));
            for (var t = symbol.ContainingType; t != null; t = t.ContainingType)
                if (t.Arity > 0)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NestedInGeneric, syntax.Identifier.GetLocation(), display,
                        t.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)));

            var attributeData = context.Attributes.First(a => a.ApplicationSyntaxReference is { } r && syntax.Span.Contains(r.Span));
            var policy = ReadPolicy(attributeData, display, diagnostics, cancellationToken);

            var keyword = Keyword(symbol, syntax);
            bool failed = all.Count > 1 || diagnostics.Any(d => d.IsError);
            return new BinarizeSpec(ns, EquatableArray.From(containing), keyword, symbol.Name, hintName, failed ? null : policy,
                EquatableArray.From(diagnostics));
        }

        static bool DerivesFromModule(INamedTypeSymbol symbol)
        {
            for (var t = symbol.BaseType; t != null; t = t.BaseType)
            {
                var d = t.OriginalDefinition;
                if (d.Name == "Module" && d.ContainingType is { Name: "nn" } nn && nn.ContainingType is { Name: "torch" } torch
                    && torch.ContainingNamespace is { Name: "TorchSharp" } root && root.ContainingNamespace.IsGlobalNamespace)
                    return true;
            }
            return false;
        }

        static string Keyword(INamedTypeSymbol type)
        {
            if (type.IsRecord) return type.TypeKind == TypeKind.Struct ? "record struct" : "record";
            return type.TypeKind switch
            {
                TypeKind.Struct => "struct",
                TypeKind.Interface => "interface",
                _ => "class",
            };
        }

        static string Keyword(INamedTypeSymbol type, TypeDeclarationSyntax syntax) =>
            syntax is RecordDeclarationSyntax ? "record" : Keyword(type);

        static Policy ReadPolicy(AttributeData attribute, string display, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
        {
            var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            Location Where(string property)
            {
                var argument = syntax?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == property);
                return argument?.GetLocation() ?? syntax?.GetLocation() ?? Location.None;
            }

            var set = new Dictionary<string, TypedConstant>(StringComparer.Ordinal);
            foreach (var pair in attribute.NamedArguments)
                if (!pair.Value.IsNull && pair.Value.Kind != TypedConstantKind.Error) set[pair.Key] = pair.Value;

            var p = Policy.Default;
            double D(string name, double fallback) => set.TryGetValue(name, out var c) && c.Value is IConvertible v ? v.ToDouble(CultureInfo.InvariantCulture) : fallback;
            int I(string name, int fallback) => set.TryGetValue(name, out var c) && c.Value is IConvertible v ? v.ToInt32(CultureInfo.InvariantCulture) : fallback;

            p = p with
            {
                Estimator = (EstimatorKind)I("Estimator", (int)p.Estimator),
                OEnd = D("OEnd", p.OEnd),
                T = D("T", p.T),
                M = D("M", p.M),
                Activations = set.TryGetValue("Activations", out var act) && act.Value is bool b ? b : p.Activations,
                Scale = (ScaleKind)I("Scale", (int)p.Scale),
                Schedule = (ScheduleKindModel)I("Schedule", (int)p.Schedule),
                SteClip = D("SteClip", p.SteClip),
                Beta = D("Beta", p.Beta),
                EdeTMin = D("EdeTMin", p.EdeTMin),
                EdeTMax = D("EdeTMax", p.EdeTMax),
                Alpha = D("Alpha", p.Alpha),
                Omega = D("Omega", p.Omega),
                Terms = I("Terms", p.Terms),
                RbnnTMin = D("RbnnTMin", p.RbnnTMin),
                RbnnTMax = D("RbnnTMax", p.RbnnTMax),
            };

            void Error(DiagnosticDescriptor d, string property, params string[] args) =>
                diagnostics.Add(DiagnosticInfo.Create(d, Where(property), new[] { display }.Concat(args).ToArray()));

            bool estimatorKnown = Enum.IsDefined(typeof(EstimatorKind), p.Estimator);
            if (!estimatorKnown)
                Error(DiagnosticDescriptors.OutOfRange, "Estimator", "Estimator", Fmt((int)p.Estimator), "one of " + string.Join(", ", Enum.GetNames(typeof(EstimatorKind))));
            if (!Enum.IsDefined(typeof(ScaleKind), p.Scale))
                Error(DiagnosticDescriptors.OutOfRange, "Scale", "Scale", Fmt((int)p.Scale), "one of " + string.Join(", ", Enum.GetNames(typeof(ScaleKind))));
            if (!Enum.IsDefined(typeof(ScheduleKindModel), p.Schedule))
                Error(DiagnosticDescriptors.OutOfRange, "Schedule", "Schedule", Fmt((int)p.Schedule), "one of " + string.Join(", ", Enum.GetNames(typeof(ScheduleKindModel))));

            var values = new Dictionary<string, double>
            {
                ["OEnd"] = p.OEnd, ["T"] = p.T, ["M"] = p.M, ["SteClip"] = p.SteClip, ["Beta"] = p.Beta, ["EdeTMin"] = p.EdeTMin,
                ["EdeTMax"] = p.EdeTMax, ["Alpha"] = p.Alpha, ["Omega"] = p.Omega, ["RbnnTMin"] = p.RbnnTMin, ["RbnnTMax"] = p.RbnnTMax,
            };
            var finite = new HashSet<string>(StringComparer.Ordinal);
            foreach (var name in DoubleProperties)
            {
                if (IsFinite(values[name])) finite.Add(name);
                else Error(DiagnosticDescriptors.NotFinite, name, name, Fmt(values[name]));
            }

            if (!estimatorKnown) return p;

            var applies = Applicable[p.Estimator];
            foreach (var pair in set.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                if (Universal.Contains(pair.Key) || applies.Contains(pair.Key)) continue;
                if (pair.Key is not ("OEnd" or "T" or "M" or "Schedule" or "SteClip" or "Beta" or "EdeTMin" or "EdeTMax" or "Alpha" or "Omega" or "Terms" or "RbnnTMin" or "RbnnTMax")) continue;
                var owners = Applicable.Where(a => a.Value.Contains(pair.Key)).Select(a => a.Key.ToString());
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotApplicable, Where(pair.Key),
                    display, pair.Key, ValueText(pair.Value), p.Estimator.ToString(), string.Join(", ", owners)));
            }

            switch (p.Estimator)
            {
                case EstimatorKind.ReSTE:
                    if (finite.Contains("OEnd") && p.OEnd < 1) Error(DiagnosticDescriptors.OEndBelowOne, "OEnd", Fmt(p.OEnd));
                    if (finite.Contains("M") && p.M <= 0) Error(DiagnosticDescriptors.MNotPositive, "M", Fmt(p.M));
                    else if (finite.Contains("M") && finite.Contains("T") && p.T <= p.M)
                        Error(DiagnosticDescriptors.TNotAboveM, set.ContainsKey("T") || !set.ContainsKey("M") ? "T" : "M", Fmt(p.T), Fmt(p.M));
                    break;
                case EstimatorKind.STE:
                    Positive("SteClip", p.SteClip);
                    break;
                case EstimatorKind.SignSwish:
                    Positive("Beta", p.Beta);
                    break;
                case EstimatorKind.EDE:
                    Range("EdeTMin", p.EdeTMin, "EdeTMax", p.EdeTMax);
                    break;
                case EstimatorKind.DSQ:
                    if (finite.Contains("Alpha") && (p.Alpha <= 0 || p.Alpha >= 1)) Error(DiagnosticDescriptors.OutOfRange, "Alpha", "Alpha", Fmt(p.Alpha), "in (0, 1)");
                    break;
                case EstimatorKind.FDA:
                    Positive("Omega", p.Omega);
                    if (p.Terms < 1) Error(DiagnosticDescriptors.OutOfRange, "Terms", "Terms", Fmt(p.Terms), "≥ 1");
                    break;
                case EstimatorKind.RBNN:
                    Range("RbnnTMin", p.RbnnTMin, "RbnnTMax", p.RbnnTMax);
                    break;
            }
            return p;

            void Positive(string name, double value)
            {
                if (finite.Contains(name) && value <= 0) Error(DiagnosticDescriptors.OutOfRange, name, name, Fmt(value), "> 0");
            }

            void Range(string minName, double min, string maxName, double max)
            {
                Positive(minName, min);
                Positive(maxName, max);
                if (finite.Contains(minName) && finite.Contains(maxName) && min > 0 && max > 0 && max < min)
                    Error(DiagnosticDescriptors.OutOfRange, maxName, maxName, Fmt(max), "≥ " + minName + " = " + Fmt(min));
            }
        }

        static bool IsFinite(double v) => !double.IsNaN(v) && !double.IsInfinity(v);

        static string ValueText(TypedConstant c) => c.Value switch
        {
            double d => Fmt(d),
            bool b => b ? "true" : "false",
            int i when c.Type?.TypeKind == TypeKind.Enum => EnumName(c.Type, i),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => c.ToCSharpString(),
        };

        static string EnumName(ITypeSymbol type, int value)
        {
            foreach (var m in type.GetMembers().OfType<IFieldSymbol>())
                if (m.HasConstantValue && Convert.ToInt32(m.ConstantValue, CultureInfo.InvariantCulture) == value) return m.Name;
            return value.ToString(CultureInfo.InvariantCulture);
        }

        public static string Fmt(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        static string Fmt(int v) => v.ToString(CultureInfo.InvariantCulture);
    }
}

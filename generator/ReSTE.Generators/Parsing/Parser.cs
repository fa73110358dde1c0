using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ReSTE.Generators.Diagnostics;
using ReSTE.Runtime;

namespace ReSTE.Generators.Parsing
{
    /// <summary>
    /// Reads one [Binarize] class into a <see cref="BinarizeSpec"/>: where it lives, its policy with defaults filled in,
    /// and every problem found, as data. Runs inside the incremental transform; nothing it returns holds a symbol.
    /// </summary>
    internal static class Parser
    {
        public const string AttributeMetadataName = "ReSTE.Runtime.BinarizeAttribute";

        /// <summary>Names the generator adds to the annotated class, and what each is.</summary>
        static readonly (string Name, string What)[] Reserved =
        {
            ("Layers", "the policy's layer factory"), ("BinaryLayers", "the factory's type"), ("BinaryConv2d", "the binary convolution"),
            ("BinaryLinear", "the binary fully connected layer"), ("BinarySign", "the estimator's autograd function"),
        };

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
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotPartial, syntax.Identifier.GetLocation(), display, display));
            foreach (var ancestor in syntax.Ancestors().OfType<TypeDeclarationSyntax>())
                if (!ancestor.Modifiers.Any(SyntaxKind.PartialKeyword))
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotPartial, ancestor.Identifier.GetLocation(),
                        ancestor.Identifier.ValueText + (ancestor.TypeParameterList?.ToString() ?? ""), display));

            // A static class only names a policy (no module of its own): its nested layers are what it is for.
            if (!symbol.IsStatic && !DerivesFromModule(symbol))
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotModule, syntax.Identifier.GetLocation(), display,
                    symbol.BaseType?.ToDisplayString() ?? "object"));

            if (symbol.Arity > 0)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NestedInGeneric, syntax.Identifier.GetLocation(), display, "is generic"));
            for (var t = symbol.ContainingType; t != null; t = t.ContainingType)
                if (t.Arity > 0)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NestedInGeneric, syntax.Identifier.GetLocation(), display,
                        "is nested in the generic type '" + t.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat) + "'"));

            // Members the user declared with a name the generator adds (each declaration of them in this part of the class).
            foreach (var member in symbol.GetMembers())
            {
                var reserved = Reserved.FirstOrDefault(r => r.Name == member.Name);
                if (reserved.Name is null || member.IsImplicitlyDeclared) continue;
                foreach (var reference in member.DeclaringSyntaxReferences)
                {
                    if (reference.SyntaxTree != syntax.SyntaxTree || !syntax.Span.Contains(reference.Span)) continue;
                    var node = reference.GetSyntax(cancellationToken);
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ReservedName, NameLocation(node), display, member.Name, reserved.What));
                }
            }

            var attributeData = context.Attributes.First(a => a.ApplicationSyntaxReference is { } r && syntax.Span.Contains(r.Span));
            var policy = ReadPolicy(attributeData, display, diagnostics, cancellationToken);

            var keyword = Keyword(symbol, syntax);
            bool failed = all.Count > 1 || diagnostics.Any(d => d.IsError);
            return new BinarizeSpec(ns, EquatableArray.From(containing), keyword, symbol.Name, hintName, failed ? null : policy,
                EquatableArray.From(diagnostics));
        }

        /// <summary>Where a member's name is written (the identifier of a method, property, field variable or type).</summary>
        static Location NameLocation(SyntaxNode node) => node switch
        {
            BaseTypeDeclarationSyntax t => t.Identifier.GetLocation(),
            MethodDeclarationSyntax m => m.Identifier.GetLocation(),
            PropertyDeclarationSyntax p => p.Identifier.GetLocation(),
            EventDeclarationSyntax e => e.Identifier.GetLocation(),
            VariableDeclaratorSyntax v => v.Identifier.GetLocation(),
            DelegateDeclarationSyntax d => d.Identifier.GetLocation(),
            _ => node.GetLocation(),
        };

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

        /// <summary>
        /// The policy: every property of the real <see cref="BinarizeAttribute"/> (its defaults from a fresh instance,
        /// overridden by the named arguments), checked against the chosen estimator's description in
        /// <see cref="EstimatorCatalog"/>. Null when the estimator is unknown.
        /// </summary>
        static Policy? ReadPolicy(AttributeData attribute, string display, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
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

            // The attribute's real properties and defaults; values as double, int (enums too) or bool.
            var defaults = new BinarizeAttribute();
            var properties = typeof(BinarizeAttribute).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToArray();
            var values = new Dictionary<string, object>(StringComparer.Ordinal);
            foreach (var property in properties)
            {
                var type = property.PropertyType;
                object value = type.IsEnum ? Convert.ToInt32(property.GetValue(defaults), CultureInfo.InvariantCulture) : property.GetValue(defaults)!;
                if (set.TryGetValue(property.Name, out var c) && c.Value is IConvertible v)
                    value = type == typeof(bool) ? (object)v.ToBoolean(CultureInfo.InvariantCulture)
                        : type == typeof(double) ? (object)v.ToDouble(CultureInfo.InvariantCulture)
                        : (object)v.ToInt32(CultureInfo.InvariantCulture);
                values[property.Name] = value;
            }
            double Number(string name) => Convert.ToDouble(values[name], CultureInfo.InvariantCulture);

            void Error(DiagnosticDescriptor d, string property, params string[] args) =>
                diagnostics.Add(DiagnosticInfo.Create(d, Where(property), new[] { display }.Concat(args).ToArray()));

            foreach (var property in properties.Where(p => p.PropertyType.IsEnum))
            {
                int raw = (int)values[property.Name];
                if (!Enum.IsDefined(property.PropertyType, Enum.ToObject(property.PropertyType, raw)))
                    Error(DiagnosticDescriptors.OutOfRange, property.Name, property.Name, Fmt(raw), "one of " + string.Join(", ", Enum.GetNames(property.PropertyType)));
            }
            var finite = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in properties)
            {
                if (property.PropertyType != typeof(double)) { finite.Add(property.Name); continue; }
                if (IsFinite(Number(property.Name))) finite.Add(property.Name);
                else Error(DiagnosticDescriptors.NotFinite, property.Name, property.Name, Fmt(Number(property.Name)));
            }

            var estimator = (Estimator)(int)values[nameof(BinarizeAttribute.Estimator)];
            if (!Enum.IsDefined(typeof(Estimator), estimator)) return null;
            var description = EstimatorCatalog.Get(estimator);

            foreach (var pair in set.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                if (EstimatorCatalog.Universal.Contains(pair.Key) || description.Settings.Any(s => s.Property == pair.Key)) continue;
                var owners = EstimatorCatalog.Reading(pair.Key).Select(k => k.ToString()).ToList();
                if (owners.Count == 0) continue;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotApplicable, Where(pair.Key),
                    display, pair.Key, ValueText(pair.Value), estimator.ToString(), string.Join(", ", owners)));
            }

            string Text(string name) => values[name] is int i ? Fmt(i) : Fmt(Number(name));
            bool Valid(EstimatorSetting s) => finite.Contains(s.Property) && s.Satisfies(Number(s.Property));
            foreach (var s in description.Settings)
            {
                if (properties.First(p => p.Name == s.Property).PropertyType.IsEnum) continue;
                if (finite.Contains(s.Property) && !s.Satisfies(Number(s.Property)))
                    Report(s.DiagnosticId, s.Property, s.RuleText, null);
                if (s.Cross == CrossRule.None || !Valid(s)) continue;
                var other = description.Settings.First(o => o.Property == s.Other);
                if (Valid(other) && !s.SatisfiesCross(Number(s.Property), Number(other.Property)))
                    Report(s.CrossDiagnosticId, set.ContainsKey(s.Property) || !set.ContainsKey(other.Property) ? s.Property : other.Property,
                        s.CrossText + " = " + Text(other.Property), s, other);
            }

            void Report(string id, string at, string rule, EstimatorSetting? crossOf, EstimatorSetting? other = null)
            {
                var name = crossOf?.Property ?? at;
                switch (id)
                {
                    case "RESTE004": Error(DiagnosticDescriptors.TNotAboveM, at, Text(name), Text(other!.Property)); break;
                    case "RESTE003": Error(DiagnosticDescriptors.OEndBelowOne, at, Text(name)); break;
                    case "RESTE005": Error(DiagnosticDescriptors.MNotPositive, at, Text(name)); break;
                    default: Error(DiagnosticDescriptors.ById(id), at, name, Text(name), rule); break;
                }
            }

            var policyValues = description.Settings.Select(s =>
            {
                var type = properties.First(p => p.Name == s.Property).PropertyType;
                var value = values[s.Property];
                if (type.IsEnum)
                {
                    var member = Enum.GetName(type, Enum.ToObject(type, (int)value)) ?? Fmt((int)value);
                    return new PolicyValue(s.Property, "global::" + type.FullName + "." + member, member);
                }
                var literal = value is int i ? Fmt(i) : Fmt(Number(s.Property));
                return new PolicyValue(s.Property, literal, literal);
            });
            var scale = (ScaleMode)(int)values[nameof(BinarizeAttribute.Scale)];
            return new Policy(estimator, (bool)values[nameof(BinarizeAttribute.Activations)], scale, EquatableArray.From(policyValues));
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

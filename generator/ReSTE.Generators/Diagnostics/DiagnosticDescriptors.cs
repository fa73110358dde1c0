using System;
using Microsoft.CodeAnalysis;

namespace ReSTE.Generators.Diagnostics
{
    /// <summary>The diagnostics of the [Binarize] generator. Each message names the offending value and the class.</summary>
    internal static class DiagnosticDescriptors
    {
        const string Category = "ReSTE.Generators";

        public static readonly DiagnosticDescriptor NotPartial = new(
            "RESTE001", "[Binarize] class must be partial",
            "'{0}' is not declared partial: the generator adds the binary layers of [Binarize] class '{1}' to it; declare '{0}' partial (and every type containing '{1}')",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NotModule = new(
            "RESTE002", "[Binarize] class must be a TorchSharp module",
            "'{0}' has [Binarize] but does not derive from TorchSharp.torch.nn.Module (its base is '{1}'); derive it from Module<Tensor, Tensor> or another TorchSharp module",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor OEndBelowOne = new(
            "RESTE003", "OEnd must be at least 1",
            "[Binarize] on '{0}': OEnd = {1} must be ≥ 1 (o moves from 1 to OEnd; the paper uses 3)",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor TNotAboveM = new(
            "RESTE004", "T must be greater than M",
            "[Binarize] on '{0}': T = {1} must be greater than M = {2} (gradients are cut at |z| > T and constant below |z| ≤ M)",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor MNotPositive = new(
            "RESTE005", "M must be positive",
            "[Binarize] on '{0}': M = {1} must be > 0",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NotFinite = new(
            "RESTE006", "Estimator constants must be finite",
            "[Binarize] on '{0}': {1} = {2} is not a finite number",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NotApplicable = new(
            "RESTE007", "Property does not apply to the chosen estimator",
            "[Binarize] on '{0}': {1} = {2} does not apply to the {3} estimator and is ignored (it applies to {4})",
            Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NestedInGeneric = new(
            "RESTE008", "[Binarize] class cannot be generic or nested in a generic type",
            "'{0}' has [Binarize] but {1}: its layers would be a separate type per type argument; declare it in a non-generic type",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor Duplicate = new(
            "RESTE009", "More than one [Binarize] on a class",
            "'{0}' has {1} [Binarize] attributes; a class has one binarization policy: keep one",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor OutOfRange = new(
            "RESTE010", "Estimator constant out of range",
            "[Binarize] on '{0}': {1} = {2} must be {3}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ReservedName = new(
            "RESTE011", "A member's name is one the generator adds",
            "'{0}' declares a member named '{1}', but [Binarize] adds {2} under that name; rename the member",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor[] All =
            { NotPartial, NotModule, OEndBelowOne, TNotAboveM, MNotPositive, NotFinite, NotApplicable, NestedInGeneric, Duplicate, OutOfRange, ReservedName };

        public static DiagnosticDescriptor ById(string id)
        {
            foreach (var d in All) if (d.Id == id) return d;
            throw new ArgumentException($"Unknown diagnostic id '{id}'.", nameof(id));
        }
    }
}

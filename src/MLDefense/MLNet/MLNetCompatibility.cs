using System.Reflection;

namespace MLDefense.MLNet;

/// <summary>
/// Checks, once per process and before the first byte of a model is written or read, that the Microsoft.ML.Core
/// loaded at run time has every internal member the bridge uses, with the signature it was compiled against. Another
/// ML.NET version that renamed or removed one fails here with one message naming the member and the supported
/// version, instead of a <see cref="MissingMemberException"/> halfway through a model file.
/// </summary>
internal static class MLNetCompatibility
{
    /// <summary>The ML.NET release the bridge is written and tested for (Directory.Packages.props pins it).</summary>
    internal const string SupportedVersion = "5.0.1";

    private static readonly Lazy<string?> Problem = new(FindProblem);

    /// <summary>Throws <see cref="NotSupportedException"/> naming the first missing member, if any.</summary>
    internal static void Ensure()
    {
        if (Problem.Value is { } problem) throw new NotSupportedException(problem);
    }

    /// <summary>The members the bridge calls, as (type, member, parameter types or null for a field).</summary>
    private static IEnumerable<(string Type, string Member, string[]? Parameters)> Required() =>
    [
        ("Microsoft.ML.ModelSaveContext", "Writer", null),
        ("Microsoft.ML.ModelSaveContext", "CheckAtModel", []),
        ("Microsoft.ML.ModelSaveContext", "SetVersionInfo", ["Microsoft.ML.VersionInfo"]),
        ("Microsoft.ML.ModelSaveContext", "SaveBinaryStream", ["System.String", "System.Action`1[System.IO.BinaryWriter]"]),
        ("Microsoft.ML.ModelLoadContext", "Reader", null),
        ("Microsoft.ML.ModelLoadContext", "CheckAtModel", ["Microsoft.ML.VersionInfo"]),
        ("Microsoft.ML.ModelLoadContext", "TryLoadBinaryStream", ["System.String", "System.Action`1[System.IO.BinaryReader]"]),
        ("Microsoft.ML.VersionInfo", ".ctor", ["System.String", "System.UInt32", "System.UInt32", "System.UInt32", "System.String", "System.String", "System.String"]),
        ("Microsoft.ML.LoadableClassAttribute", ".ctor", ["System.Type", "System.Type", "System.Type", "System.Type", "System.String", "System.String[]"]),
        ("Microsoft.ML.SignatureLoadModel", "Invoke", ["Microsoft.ML.ModelLoadContext"]),
        ("Microsoft.ML.SchemaShape+Column", ".ctor", ["System.String", "Microsoft.ML.SchemaShape+Column+VectorKind", "Microsoft.ML.Data.DataViewType", "System.Boolean", "Microsoft.ML.SchemaShape"]),
    ];

    private static string? FindProblem()
    {
        var core = typeof(Microsoft.ML.ModelSaveContext).Assembly;
        string found = core.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? core.GetName().Version?.ToString() ?? "unknown";
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
        foreach (var (typeName, member, parameters) in Required())
        {
            var type = core.GetType(typeName);
            bool present = type is not null && (parameters is null
                ? type.GetField(member, all) is not null
                : member == ".ctor"
                    ? type.GetConstructors(all).Any(c => Matches(c, parameters))
                    : type.GetMethods(all).Any(m => m.Name == member && Matches(m, parameters)));
            if (!present)
                return $"MLDefense cannot save or load models with this ML.NET: Microsoft.ML.Core {found} lacks " +
                    $"{typeName}.{member}{(parameters is null ? "" : "(" + string.Join(", ", parameters) + ")")}, which MLDefense's ML.NET bridge uses. " +
                    $"MLDefense supports Microsoft.ML {SupportedVersion} exactly; reference that version.";
        }
        return null;
    }

    private static bool Matches(MethodBase method, string[] parameters)
    {
        var actual = method.GetParameters();
        return actual.Length == parameters.Length && actual.Zip(parameters).All(p => p.First.ParameterType.ToString() == p.Second);
    }
}

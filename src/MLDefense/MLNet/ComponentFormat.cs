using Microsoft.ML;

namespace MLDefense.MLNet;

/// <summary>
/// How one MLDefense component is recorded in an ML.NET model zip: the 8-character model signature and format version
/// in ML.NET's model header (as first-party components do), the loader signature <c>MLNet/LoadableComponents.cs</c>
/// registers it under, and the name error messages use.
/// </summary>
/// <param name="ModelSignature">Exactly 8 ASCII characters, unique to the component (e.g. <c>MLDSAEC.</c>).</param>
/// <param name="Version">The format version this build writes; it reads this version only (no older formats exist yet).</param>
/// <param name="LoaderSignature">At most 24 ASCII characters; ML.NET finds the loader by it.</param>
/// <param name="Name">What the component is, for messages: "SAEC detector".</param>
internal sealed record ComponentFormat(string ModelSignature, uint Version, string LoaderSignature, string Name)
{
    /// <summary>ML.NET's header record; the loader assembly is MLDefense's, so Load registers it by name as for ML.NET's own.</summary>
    internal VersionInfo VersionInfo => new(ModelSignature, Version, Version, Version,
        loaderAssemblyName: typeof(ComponentFormat).Assembly.FullName, loaderSignature: LoaderSignature, loaderSignatureAlt: null);

    /// <summary>The model signature as ML.NET packs it into the header (8 characters, little-endian).</summary>
    internal ulong PackedSignature
    {
        get
        {
            ulong packed = 0;
            for (int i = 0; i < ModelSignature.Length; i++) packed |= (ulong)ModelSignature[i] << (8 * i);
            return packed;
        }
    }
}

/// <summary>A component the bridge can rebuild from a model zip: its format, and a factory over a <see cref="ComponentReader"/>.</summary>
/// <typeparam name="TSelf">The component (a transformer).</typeparam>
internal interface ILoadableComponent<TSelf> where TSelf : class, ILoadableComponent<TSelf>
{
    /// <summary>How the component is recorded.</summary>
    static abstract ComponentFormat Format { get; }

    /// <summary>Rebuilds the component from what its Save wrote; bad content throws <see cref="InvalidDataException"/>.</summary>
    static abstract TSelf Load(ComponentReader reader);
}

/// <summary>
/// The loader ML.NET's component catalog calls (through the attributes of <c>MLNet/LoadableComponents.cs</c>): it finds a
/// static <c>Create(IHostEnvironment, ModelLoadContext)</c> declared on the loader type and returning the instance type.
/// </summary>
/// <typeparam name="T">The component.</typeparam>
internal static class ComponentLoader<T> where T : class, ILoadableComponent<T>
{
    private static T Create(Microsoft.ML.Runtime.IHostEnvironment environment, ModelLoadContext context) => ComponentReader.Read<T>(environment, context);
}

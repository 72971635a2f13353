using System.Runtime.InteropServices;
using System.IO.Compression;

using MLDefense.Data;
namespace MLDefense.Legacy;

/// <summary>
/// <c>ml.Model.Save</c> and <c>ml.Model.Load</c>: a model as one zip file.
/// </summary>
/// <remarks>
/// <para>Layout of the zip:</para>
/// <code>
/// manifest.json                  {"formatVersion": 1, "createdBy": "...", "isChain": true,
///                                 "components": [{"name": "MLDefense.Saec", "version": 1, "folder": "components/01-MLDefense.Saec/"}, ...],
///                                 "inputSchema": [{"name": "Image", "type": "Vector", "dimensions": [1, 28, 28],
///                                                  "imageShape": {"channels": 1, "height": 28, "width": 28}}, ...]}
/// components/01-&lt;name&gt;/...       whatever the first component's Save wrote (options.json, weights.safetensors...)
/// components/02-&lt;name&gt;/...
/// </code>
/// <para>A <see cref="TransformerChain{TLastTransformer}"/> (nested chains included) is saved flattened as its components in
/// order and loads back as a <c>TransformerChain&lt;ITransformer&gt;</c>; any other transformer loads back as itself. Every
/// component must implement <see cref="ISavableTransformer"/>, carry <see cref="ModelComponentAttribute"/> and be known
/// to <see cref="ModelComponentRegistry"/>.</para>
/// <para>Loading trusts nothing in the file: it rejects anything that is not a zip, a truncated or corrupt zip (every
/// entry's CRC-32 is checked), unsafe entry names (<c>..</c>, absolute paths, backslashes — checked before any entry is
/// read), a missing manifest, a format version or component version newer than this build reads, unknown components,
/// and weights whose header or shapes do not fit — each with an <see cref="InvalidDataException"/> that says what is
/// wrong and, for a component, which one.</para>
/// </remarks>
public static class ModelPersistence
{
    private const string ComponentsFolder = "components/";

    /// <summary>
    /// Saves a model and the schema of the data it takes to a zip file, atomically: the zip is written to a temporary file
    /// beside <paramref name="path"/> and then moved over it, so a failure half-way leaves any earlier file untouched.
    /// </summary>
    /// <param name="catalog">The model catalog (<c>ml.Model</c>).</param>
    /// <param name="model">A savable transformer or a chain of them.</param>
    /// <param name="inputSchema">The schema of the model's input data (recorded, and returned by Load).</param>
    /// <param name="path">The zip file to create or replace.</param>
    /// <exception cref="InvalidOperationException">A component cannot be saved (the message names its type).</exception>
    public static void Save(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var plan = Plan(model, inputSchema);
        var target = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{path}' has no directory.", nameof(path));
        // Beside the target, so that the final move is a rename within one file system.
        var temp = Path.Combine(directory, "." + Path.GetFileName(target) + ".tmp-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Write(plan, stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Saves a model to a stream (left open). Unlike the path overload this cannot be atomic: when a component fails,
    /// the stream may already hold part of a zip.
    /// </summary>
    /// <param name="catalog">The model catalog (<c>ml.Model</c>).</param>
    /// <param name="model">A savable transformer or a chain of them.</param>
    /// <param name="inputSchema">The schema of the model's input data.</param>
    /// <param name="stream">A writable stream.</param>
    public static void Save(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Write(Plan(model, inputSchema), stream);
    }

    /// <summary>Loads a model saved by <c>Save</c>; its weights go to the context's device.</summary>
    /// <param name="catalog">The model catalog (<c>ml.Model</c>).</param>
    /// <param name="path">The zip file.</param>
    /// <param name="inputSchema">The input schema recorded at save time.</param>
    /// <returns>The model: a <c>TransformerChain&lt;ITransformer&gt;</c> when a chain was saved, else the single transformer.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid model zip (the message says why).</exception>
    public static ITransformer Load(this ModelOperationsCatalog catalog, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Load(catalog.Context, stream, $"Model file '{path}'", out inputSchema);
    }

    /// <summary>Loads a model from a stream (left open); a non-seekable stream is first copied into memory.</summary>
    /// <param name="catalog">The model catalog (<c>ml.Model</c>).</param>
    /// <param name="stream">The zip.</param>
    /// <param name="inputSchema">The input schema recorded at save time.</param>
    /// <returns>The model: a <c>TransformerChain&lt;ITransformer&gt;</c> when a chain was saved, else the single transformer.</returns>
    /// <exception cref="InvalidDataException">The stream is not a valid model zip (the message says why).</exception>
    public static ITransformer Load(this ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.CanSeek) return Load(catalog.Context, stream, "The model stream", out inputSchema);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        copy.Position = 0;
        return Load(catalog.Context, copy, "The model stream", out inputSchema);
    }

    private sealed record SavePlan(bool IsChain, IReadOnlyList<(ISavableTransformer Component, ModelComponentAttribute Attribute)> Components, DataViewSchema InputSchema);

    /// <summary>Checks everything that can be checked before a byte is written, so most mistakes fail with no file touched.</summary>
    private static SavePlan Plan(ITransformer model, DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        var flat = new List<ITransformer>();
        Flatten(model, flat);
        var components = flat.Select(transformer =>
        {
            var attribute = ModelComponentRegistry.AttributeOf(transformer);
            // A model that saves but cannot load is a trap: insist on a loader now.
            ModelComponentRegistration registration;
            try
            {
                registration = ModelComponentRegistry.Resolve(attribute.Name);
            }
            catch (InvalidDataException)
            {
                throw new InvalidOperationException($"{transformer.GetType().FullName} cannot be saved: no loader is registered for '{attribute.Name}', so the file " +
                    $"could not be loaded back. Implement ILoadableTransformer<{transformer.GetType().Name}> or call ModelComponentRegistry.Register.");
            }
            if (registration.ComponentType is { } registered && registered != transformer.GetType())
                throw new InvalidOperationException($"{transformer.GetType().FullName} is named '{attribute.Name}', but that name is registered to {registered.FullName}.");
            if (attribute.Version > registration.Version)
                throw new InvalidOperationException($"{transformer.GetType().FullName} writes version {attribute.Version} of '{attribute.Name}' but its registered loader reads only up to {registration.Version}.");
            return ((ISavableTransformer)transformer, attribute);
        }).ToList();
        // The recorded schema must be one the model accepts, or the saved file would describe an unusable model.
        model.GetOutputSchema(inputSchema);
        return new SavePlan(IsTransformerChain(model), components, inputSchema);
    }

    private static void Flatten(ITransformer transformer, List<ITransformer> into)
    {
        if (IsTransformerChain(transformer))
            foreach (var inner in (IEnumerable<ITransformer>)transformer) Flatten(inner, into);
        else into.Add(transformer);
    }

    private static bool IsTransformerChain(ITransformer transformer) =>
        transformer.GetType() is { IsGenericType: true } type && type.GetGenericTypeDefinition() == typeof(TransformerChain<>);

    private static void Write(SavePlan plan, Stream stream)
    {
        using var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        var manifest = new ModelManifest
        {
            FormatVersion = ModelManifest.CurrentFormatVersion,
            CreatedBy = ModelManifest.CreatedByThisBuild,
            IsChain = plan.IsChain,
            Components = [],
            InputSchema = ModelManifest.FromSchema(plan.InputSchema),
        };
        for (int i = 0; i < plan.Components.Count; i++)
        {
            var (component, attribute) = plan.Components[i];
            var folder = $"{ComponentsFolder}{i + 1:D2}-{attribute.Name}/";
            // The folder's own entry marks it present even for a component that writes no files.
            archive.CreateEntry(folder);
            try
            {
                component.Save(new ModelSaveContext(archive, folder));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                throw new InvalidOperationException($"Saving component {i + 1} '{attribute.Name}' ({component.GetType().FullName}) failed: {ex.Message}", ex);
            }
            manifest.Components.Add(new ModelManifest.ComponentEntry { Name = attribute.Name, Version = attribute.Version, Folder = folder });
        }
        using var manifestStream = archive.CreateEntry(ModelManifest.EntryName, CompressionLevel.Optimal).Open();
        manifest.Write(manifestStream);
    }

    private static ITransformer Load(MLContext context, Stream stream, string source, out DataViewSchema inputSchema)
    {
        using var archive = ModelArchiveChecks.Open(stream, source);
        ModelArchiveChecks.CheckEntryNames(archive, source);
        ModelArchiveChecks.CheckIntegrity(archive, source);

        var manifestEntry = archive.GetEntry(ModelManifest.EntryName)
            ?? throw new InvalidDataException($"{source} has no {ModelManifest.EntryName}: it is a zip, but not an MLDefense model.");
        ModelManifest manifest;
        using (var manifestStream = manifestEntry.Open()) manifest = ModelManifest.Read(manifestStream, source);
        inputSchema = manifest.ToSchema(source);

        // Resolve every component before loading any, so an unknown or too-new component fails before weights are read.
        var steps = manifest.Components!.Select((entry, i) => ResolveStep(archive, entry, i, source)).ToList();
        if (steps.Select(s => s.Folder).Distinct(StringComparer.Ordinal).Count() != steps.Count)
            throw new InvalidDataException($"{source}: two components of {ModelManifest.EntryName} share a folder.");

        var loaded = new List<ITransformer>();
        try
        {
            foreach (var (index, entry, registration, folder) in steps)
            {
                var loadContext = new ModelLoadContext(archive, folder, entry.Version, context);
                ISavableTransformer component;
                try
                {
                    component = registration.Loader(loadContext);
                }
                catch (Exception ex) when (ex is InvalidDataException or IOException or ArgumentException or FormatException
                                               or InvalidOperationException or KeyNotFoundException or ExternalException or System.Text.Json.JsonException)
                {
                    throw new InvalidDataException($"{source}: component {index + 1} '{entry.Name}' ({folder}) could not be loaded: {ex.Message}", ex);
                }
                loaded.Add(component ?? throw new InvalidDataException($"{source}: the loader of component '{entry.Name}' returned nothing."));
            }
        }
        catch
        {
            foreach (var component in loaded) (component as IDisposable)?.Dispose();
            throw;
        }
        return manifest.IsChain ? new TransformerChain<ITransformer>(loaded.ToArray()) : loaded[0];
    }

    private static (int Index, ModelManifest.ComponentEntry Entry, ModelComponentRegistration Registration, string Folder) ResolveStep(
        ZipArchive archive, ModelManifest.ComponentEntry entry, int index, string source)
    {
        string where = $"{source}: component {index + 1}";
        if (string.IsNullOrEmpty(entry.Name)) throw new InvalidDataException($"{where} has no name.");
        var folder = entry.Folder ?? "";
        if (!folder.StartsWith(ComponentsFolder, StringComparison.Ordinal) || !folder.EndsWith('/') || folder.Length <= ComponentsFolder.Length + 1
            || ModelArchiveChecks.UnsafeReason(folder) is not null)
            throw new InvalidDataException($"{where} '{entry.Name}' names folder '{folder}', which is not a plain folder under {ComponentsFolder}.");
        if (!archive.Entries.Any(e => e.FullName.StartsWith(folder, StringComparison.Ordinal)))
            throw new InvalidDataException($"{where} '{entry.Name}' has no files: folder '{folder}' is missing from the zip.");
        if (entry.Version < 1) throw new InvalidDataException($"{where} '{entry.Name}' has invalid version {entry.Version}.");
        ModelComponentRegistration registration;
        try
        {
            registration = ModelComponentRegistry.Resolve(entry.Name);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{where}: {ex.Message}", ex);
        }
        if (entry.Version > registration.Version)
            throw new InvalidDataException($"{where} '{entry.Name}' was written as version {entry.Version} by a newer build; the registered loader reads up to version {registration.Version}. Upgrade the assembly that defines it.");
        return (index, entry, registration, folder);
    }
}

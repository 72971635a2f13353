using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;

using MLDefense.Data;
namespace MLDefense.Legacy;

/// <summary>
/// Declares a savable transformer's registered name and format version. The model zip records the name; loading
/// finds the component through this registration — never by instantiating a type named in the file. Any
/// assembly can declare components (the save/load hooks are public, unlike ML.NET's).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModelComponentAttribute(string name, int version = 1) : Attribute
{
    /// <summary>The registered name, e.g. <c>MLDefense.ImageClassifier</c>.</summary>
    public string Name { get; } = name;
    /// <summary>The format version this build writes and the highest it reads.</summary>
    public int Version { get; } = version;
}

/// <summary>A transformer that can be written into a model zip (its class also carries <see cref="ModelComponentAttribute"/>).</summary>
public interface ISavableTransformer : ITransformer
{
    /// <summary>Writes options and weights into its own folder of the zip.</summary>
    void Save(ModelSaveContext context);
}

/// <summary>The loading half of a component: a static factory the registry calls with the component's folder.</summary>
public interface ILoadableTransformer<out TSelf> where TSelf : ISavableTransformer
{
    /// <summary>Rebuilds the transformer from what <see cref="ISavableTransformer.Save"/> wrote.</summary>
    static abstract TSelf Load(ModelLoadContext context);
}

/// <summary>Shared JSON settings for component options (readable, enums as strings, no surprises).</summary>
public static class ModelJson
{
    /// <summary>The options used for every JSON file in a model zip.</summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        IncludeFields = false,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}

/// <summary>A component's folder in a model zip being written.</summary>
public sealed class ModelSaveContext
{
    private readonly ZipArchive archive;

    internal ModelSaveContext(ZipArchive archive, string folder) => (this.archive, Folder) = (archive, folder);

    /// <summary>The component's folder inside the zip (e.g. <c>components/01-MLDefense.Saec/</c>).</summary>
    public string Folder { get; }

    /// <summary>Writes the component's options as <c>options.json</c>.</summary>
    public void WriteOptions<T>(T options) => WriteJson("options.json", options);

    /// <summary>Writes any JSON file into the folder.</summary>
    public void WriteJson<T>(string fileName, T value)
    {
        using var stream = Create(fileName);
        JsonSerializer.Serialize(stream, value, ModelJson.Options);
    }

    /// <summary>Writes tensors as <c>weights.safetensors</c> (or another file name).</summary>
    public void WriteTensors(IReadOnlyDictionary<string, Tensor> tensors, string fileName = "weights.safetensors")
    {
        // ZipArchive entry streams cannot seek; safetensors writes sequentially, so this is fine.
        using var stream = Create(fileName);
        Safetensors.Save(tensors, stream);
    }

    /// <summary>Writes a module's state dict (parameters and buffers).</summary>
    public void WriteModule(Module module, string fileName = "weights.safetensors")
    {
        var state = module.state_dict();
        // TorchSharp's state_dict holds the module's own tensors: nothing to dispose.
        WriteTensors(state, fileName);
    }

    private Stream Create(string fileName)
    {
        if (fileName.Contains('/') || fileName.Contains('\\') || fileName.Contains("..") || fileName.Length == 0)
            throw new ArgumentException($"'{fileName}' is not a plain file name.", nameof(fileName));
        return archive.CreateEntry(Folder + fileName, CompressionLevel.Fastest).Open();
    }
}

/// <summary>A component's folder in a model zip being read.</summary>
public sealed class ModelLoadContext
{
    private readonly ZipArchive archive;

    internal ModelLoadContext(ZipArchive archive, string folder, int version, MLContext context) =>
        (this.archive, Folder, Version, Context) = (archive, folder, version, context);

    /// <summary>The component's folder inside the zip.</summary>
    public string Folder { get; }
    /// <summary>The format version the file was written with (≤ the registered one).</summary>
    public int Version { get; }
    /// <summary>The context loading the model (its device is where weights go).</summary>
    public MLContext Context { get; }

    /// <summary>Reads <c>options.json</c>.</summary>
    public T ReadOptions<T>() => ReadJson<T>("options.json");

    /// <summary>Reads a JSON file of the folder.</summary>
    public T ReadJson<T>(string fileName)
    {
        using var stream = Open(fileName);
        try
        {
            return JsonSerializer.Deserialize<T>(stream, ModelJson.Options) ?? throw new InvalidDataException($"{Folder}{fileName} is empty.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{Folder}{fileName} is not valid: {ex.Message}", ex);
        }
    }

    /// <summary>Whether the folder has a file.</summary>
    public bool Has(string fileName) => archive.GetEntry(Folder + fileName) is not null;

    /// <summary>Reads tensors (validated: see <see cref="Safetensors"/>) onto a device (default: the context's).</summary>
    public Dictionary<string, Tensor> ReadTensors(string fileName = "weights.safetensors", Device? device = null)
    {
        using var entry = Open(fileName);
        using var buffer = new MemoryStream();
        entry.CopyTo(buffer);
        return Safetensors.Load(buffer, device ?? Context.Device, Folder + fileName);
    }

    /// <summary>Loads a module's state dict strictly (every key present, every shape equal).</summary>
    public void LoadModule(Module module, string fileName = "weights.safetensors")
    {
        var state = ReadTensors(fileName);
        try { module.LoadStateStrict(state); }
        catch (ArgumentException ex) { throw new InvalidDataException($"{Folder}{fileName} does not fit the model: {ex.Message}", ex); }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    private Stream Open(string fileName) =>
        (archive.GetEntry(Folder + fileName) ?? throw new InvalidDataException($"The model is missing {Folder}{fileName}.")).Open();
}

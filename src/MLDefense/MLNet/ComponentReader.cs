using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLDefense.MLNet;

/// <summary>
/// Reads one component back from a model ML.NET is loading. Every problem — another component's header, a format
/// version from a newer MLDefense, a missing or corrupt stream, weights of the wrong shape or dtype — is an
/// <see cref="InvalidDataException"/> naming the component and its folder in the zip; nothing is returned half-loaded.
/// </summary>
internal sealed class ComponentReader
{
    private readonly ModelLoadContext context;

    private ComponentReader(IHostEnvironment environment, ModelLoadContext context, ComponentFormat format) =>
        (Environment, this.context, Format) = (environment, context, format);

    /// <summary>The environment loading the model (its seed, device settings and log).</summary>
    internal IHostEnvironment Environment { get; }

    /// <summary>What is being read.</summary>
    internal ComponentFormat Format { get; }

    /// <summary>The device the environment asks for (<see cref="EnvironmentSettings.Device"/>): weights go there.</summary>
    internal Device Device => EnvironmentSettings.Device(Environment);

    /// <summary>Where the component sits in the zip, for messages (e.g. <c>TransformerChain/Transform_001</c>).</summary>
    internal string Folder => context.Directory ?? "the model";

    internal static T Read<T>(IHostEnvironment environment, ModelLoadContext context) where T : class, ILoadableComponent<T>
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(context);
        MLNetCompatibility.Ensure();
        return ReadCore<T>(environment, context);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static T ReadCore<T>(IHostEnvironment environment, ModelLoadContext context) where T : class, ILoadableComponent<T>
    {
        var format = T.Format;
        var reader = new ComponentReader(environment, context, format);
        var header = context.Header;
        if (header.ModelSignature != format.PackedSignature)
            throw reader.Bad($"its header is not a {format.Name}'s (model signature 0x{header.ModelSignature:X16}, expected '{format.ModelSignature}')");
        if (header.ModelVerReadable > format.Version)
            throw reader.Bad($"it was written in format version {header.ModelVerReadable} by a newer MLDefense; this MLDefense reads version {format.Version}. Update MLDefense");
        if (header.ModelVerWritten < format.Version)
            throw reader.Bad($"it was written in format version {header.ModelVerWritten}, which this MLDefense (version {format.Version}) no longer reads");
        context.CheckAtModel(format.VersionInfo);
        try
        {
            return T.Load(reader);
        }
        catch (Exception ex) when (ex is InvalidDataException or ArgumentException or JsonException or EndOfStreamException && !ex.Message.StartsWith(reader.Prefix, StringComparison.Ordinal))
        {
            throw reader.Bad(ex.Message, ex);
        }
    }

    private string Prefix => $"The {Format.Name} in {Folder} cannot be loaded";

    /// <summary>An error naming the component: "The SAEC detector in TransformerChain/Transform_001 cannot be loaded: {why}."</summary>
    internal InvalidDataException Bad(string why, Exception? inner = null) => new($"{Prefix}: {why.TrimEnd('.')}.", inner);

    /// <summary>Reads <c>options.json</c>.</summary>
    internal T ReadOptions<T>() => ReadJson<T>("options.json");

    /// <summary>Reads a JSON stream.</summary>
    internal T ReadJson<T>(string name)
    {
        byte[] bytes = ReadBytes(name);
        try
        {
            return JsonSerializer.Deserialize<T>(bytes, ComponentJson.Options) ?? throw Bad($"{name} is empty");
        }
        catch (JsonException ex)
        {
            throw Bad($"{name} is not valid JSON for {typeof(T).Name}: {ex.Message}", ex);
        }
    }

    /// <summary>Reads a safetensors stream (validated by <see cref="Safetensors"/>) onto <see cref="Device"/>.</summary>
    internal Dictionary<string, Tensor> ReadTensors(string name = "weights.safetensors")
    {
        byte[] bytes = ReadBytes(name);
        string expected = System.Text.Encoding.ASCII.GetString(ReadBytes(name + ".sha256")).Trim();
        if (!string.Equals(expected, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), StringComparison.OrdinalIgnoreCase))
            throw Bad($"the weights {name} do not match their checksum ({name}.sha256): the file is damaged");
        using var buffer = new MemoryStream(bytes, writable: false);
        try
        {
            return Safetensors.Load(buffer, Device, $"{Folder}/{name}");
        }
        catch (InvalidDataException ex)
        {
            throw Bad(ex.Message, ex);
        }
    }

    /// <summary>Loads a module's state dict strictly (every key present, every shape and dtype equal).</summary>
    internal void ReadModule(nn.Module module, string name = "weights.safetensors")
    {
        var state = ReadTensors(name);
        try { module.LoadStateStrict(state); }
        catch (ArgumentException ex) { throw Bad($"{name} does not fit the network: {ex.Message}", ex); }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    private byte[] ReadBytes(string name)
    {
        byte[]? bytes = null;
        try
        {
            if (!context.TryLoadBinaryStream(name, reader => bytes = ReadToEnd(reader.BaseStream)))
                throw Bad($"the stream {name} is missing");
        }
        catch (InvalidDataException ex) when (!ex.Message.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw Bad($"the stream {name} is corrupt: {ex.Message}", ex);
        }
        return bytes!;
    }

    private static byte[] ReadToEnd(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}

/// <summary>The JSON settings of every stream the bridge writes (readable, enums as names, NaN allowed).</summary>
internal static class ComponentJson
{
    internal static JsonSerializerOptions Options { get; } = new()
    {
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}

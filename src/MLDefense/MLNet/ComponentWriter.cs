using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.ML;

namespace MLDefense.MLNet;

/// <summary>
/// Writes one component into the model ML.NET is saving: ML.NET's header (<see cref="ComponentFormat"/>), then named
/// streams in the component's folder of the zip — options and fit records as JSON, weights as safetensors (readable
/// from Python; nothing executes on load).
/// </summary>
internal sealed class ComponentWriter
{
    private readonly ModelSaveContext context;

    private ComponentWriter(ModelSaveContext context) => this.context = context;

    /// <summary>Called from a component's <c>ICanSaveModel.Save</c>: checks ML.NET's compatibility first, then writes.</summary>
    internal static void Write<T>(ModelSaveContext context, Action<ComponentWriter> write) where T : class, ILoadableComponent<T>
    {
        ArgumentNullException.ThrowIfNull(context);
        MLNetCompatibility.Ensure();
        WriteCore(context, T.Format, write);
    }

    // Separate, so that a missing member (another ML.NET) surfaces from Ensure above, not from the JIT compiling this.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WriteCore(ModelSaveContext context, ComponentFormat format, Action<ComponentWriter> write)
    {
        context.CheckAtModel();
        context.SetVersionInfo(format.VersionInfo);
        write(new ComponentWriter(context));
    }

    /// <summary>Writes the component's options as <c>options.json</c>.</summary>
    internal void WriteOptions<T>(T options) => WriteJson("options.json", options);

    /// <summary>Writes a JSON stream.</summary>
    internal void WriteJson<T>(string name, T value)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(value, ComponentJson.Options);
        context.SaveBinaryStream(name, writer => writer.Write(json));
    }

    /// <summary>
    /// Writes tensors as a safetensors stream, and its SHA-256 as a stream <c>{name}.sha256</c> beside it: safetensors has
    /// no checksum, and a flipped bit in the data would otherwise load as a silently different network.
    /// </summary>
    internal void WriteTensors(IReadOnlyDictionary<string, Tensor> tensors, string name = "weights.safetensors")
    {
        using var buffer = new MemoryStream();
        Safetensors.Save(tensors, buffer);
        byte[] bytes = buffer.ToArray();
        context.SaveBinaryStream(name, writer => writer.Write(bytes));
        context.SaveBinaryStream(name + ".sha256", writer => writer.Write(System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)))));
    }

    /// <summary>Writes a module's state dict (parameters and buffers) as a safetensors stream.</summary>
    internal void WriteModule(nn.Module module, string name = "weights.safetensors") =>
        // TorchSharp's state_dict holds the module's own tensors: nothing to dispose.
        WriteTensors(module.state_dict(), name);
}

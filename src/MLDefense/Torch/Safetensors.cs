using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MLDefense.Torch;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a UTF-8 JSON header
/// (<c>{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}</c>)
/// and the raw little-endian data. Loading executes nothing and validates everything: the header length,
/// dtypes, that each tensor's byte range matches its shape and lies inside the file, and that the ranges
/// tile the data section exactly (no holes, no overlaps) — so a truncated file or a header that lies is
/// rejected before any tensor is built. Files written here load in Python's <c>safetensors</c> and back.
/// </summary>
public static class Safetensors
{
    private const long MaxHeaderBytes = 100L << 20;

    private static readonly Dictionary<ScalarType, string> Names = new()
    {
        [ScalarType.Float32] = "F32", [ScalarType.Float64] = "F64", [ScalarType.Float16] = "F16", [ScalarType.BFloat16] = "BF16",
        [ScalarType.Int64] = "I64", [ScalarType.Int32] = "I32", [ScalarType.Int16] = "I16", [ScalarType.Int8] = "I8",
        [ScalarType.Byte] = "U8", [ScalarType.Bool] = "BOOL",
    };

    /// <summary>Writes tensors (and optional string metadata) to a file, atomically: a temp file renamed into place.</summary>
    public static void Save(IReadOnlyDictionary<string, Tensor> tensors, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var full = Path.GetFullPath(path);
        var temp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
                Save(tensors, stream, metadata);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Writes tensors to a stream.</summary>
    public static void Save(IReadOnlyDictionary<string, Tensor> tensors, Stream stream, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        var ordered = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        long offset = 0;
        foreach (var (name, t) in ordered)
        {
            if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor.");
            if (!Names.TryGetValue(t.dtype, out var dtypeName)) throw new NotSupportedException($"safetensors: no encoding for {t.dtype} ('{name}').");
            long bytes = t.numel() * t.ElementSize;
            header[name] = new JsonObject
            {
                ["dtype"] = dtypeName,
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode)JsonValue.Create(s)!).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        // Pad the header with spaces to an 8-byte boundary, as the reference implementation does.
        int padded = (json.Length + 7) / 8 * 8;
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
        stream.Write(prefix);
        stream.Write(json);
        for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var (_, t) in ordered) WriteData(t, stream);
        stream.Flush();
    }

    private static void WriteData(Tensor t, Stream stream)
    {
        using var detached = t.detach();
        using var cpu = detached.cpu().contiguous();
        stream.Write(cpu.bytes);
    }

    /// <summary>The entries of a file's header, without reading the data.</summary>
    public sealed record Entry(string Name, ScalarType DType, long[] Shape, long Begin, long End);

    /// <summary>Reads every tensor of a file onto a device (default: the CPU).</summary>
    public static Dictionary<string, Tensor> Load(string path, Device? device = null)
    {
        using var stream = File.OpenRead(path);
        return Load(stream, device, path);
    }

    /// <summary>Reads every tensor of a seekable stream.</summary>
    public static Dictionary<string, Tensor> Load(Stream stream, Device? device = null, string source = "stream")
    {
        var (entries, dataStart, _) = ReadHeader(stream, source);
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var e in entries)
            {
                var bytes = new byte[e.End - e.Begin];
                stream.Seek(dataStart + e.Begin, SeekOrigin.Begin);
                stream.ReadExactly(bytes);
                result[e.Name] = TensorData.FromBytes(bytes, e.Shape, e.DType, device ?? CPU).DetachFromDisposeScope();
            }
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>The metadata strings of a file (empty when it has none).</summary>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        using var stream = File.OpenRead(path);
        return ReadHeader(stream, path).Metadata;
    }

    /// <summary>Parses and validates the header of a seekable stream.</summary>
    public static (List<Entry> Entries, long DataStart, Dictionary<string, string> Metadata) ReadHeader(Stream stream, string source = "stream")
    {
        long length = stream.Length;
        if (length < 8) throw Bad(source, $"the file is {length} bytes long, too short for a header");
        Span<byte> prefix = stackalloc byte[8];
        stream.Seek(0, SeekOrigin.Begin);
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)MaxHeaderBytes || (long)headerLength > length - 8)
            throw Bad(source, $"the header claims {headerLength} bytes but the file holds {length - 8} after the length prefix");
        var json = new byte[headerLength];
        stream.ReadExactly(json);
        JsonObject header;
        try
        {
            header = JsonNode.Parse(json) as JsonObject ?? throw Bad(source, "the header is not a JSON object");
        }
        catch (JsonException ex)
        {
            throw Bad(source, $"the header is not valid JSON ({ex.Message})");
        }

        long dataStart = 8 + (long)headerLength;
        long dataLength = length - dataStart;
        var metadata = new Dictionary<string, string>();
        var entries = new List<Entry>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is not JsonObject meta) throw Bad(source, "__metadata__ is not an object");
                foreach (var (k, v) in meta) metadata[k] = v?.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw Bad(source, $"metadata '{k}' is not a string");
                continue;
            }
            entries.Add(ParseEntry(name, node, source));
        }

        // The ranges must tile [0, dataLength) exactly: this catches lies about offsets and truncation.
        long expected = 0;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin != expected)
                throw Bad(source, $"tensor '{e.Name}' starts at byte {e.Begin} but the previous data ends at {expected} (overlap or hole)");
            expected = e.End;
        }
        if (expected != dataLength)
            throw Bad(source, $"the header describes {expected} bytes of data but the file holds {dataLength} (truncated or padded)");
        return (entries, dataStart, metadata);
    }

    private static Entry ParseEntry(string name, JsonNode? node, string source)
    {
        if (node is not JsonObject o) throw Bad(source, $"entry '{name}' is not an object");
        var dtypeName = o["dtype"]?.GetValueKind() == JsonValueKind.String ? o["dtype"]!.GetValue<string>() : throw Bad(source, $"entry '{name}' has no dtype");
        var dtype = Names.FirstOrDefault(kv => kv.Value == dtypeName);
        if (dtype.Value is null) throw Bad(source, $"entry '{name}' has unsupported dtype '{dtypeName}'");
        if (o["shape"] is not JsonArray shapeNode || o["data_offsets"] is not JsonArray offsets || offsets.Count != 2)
            throw Bad(source, $"entry '{name}' needs a shape array and two data_offsets");
        long[] shape;
        long begin, end;
        try
        {
            shape = shapeNode.Select(n => n!.GetValue<long>()).ToArray();
            (begin, end) = (offsets[0]!.GetValue<long>(), offsets[1]!.GetValue<long>());
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or NullReferenceException)
        {
            throw Bad(source, $"entry '{name}' has non-integer shape or offsets");
        }
        if (shape.Any(s => s < 0) || begin < 0 || end < begin) throw Bad(source, $"entry '{name}' has a negative size or inverted offsets");
        long count = 1;
        try { foreach (var s in shape) count = checked(count * s); }
        catch (OverflowException) { throw Bad(source, $"entry '{name}' has an absurd shape"); }
        long bytes = count * dtype.Key.ElementSize();
        if (end - begin != bytes)
            throw Bad(source, $"entry '{name}' has shape [{string.Join(", ", shape)}] of {dtypeName} ({bytes} bytes) but its offsets span {end - begin} bytes");
        return new Entry(name, dtype.Key, shape, begin, end);
    }

    private static InvalidDataException Bad(string source, string what) => new($"Not a valid safetensors file ({source}): {what}.");
}

using System.Text.Json;
using System.Text.Json.Serialization;

using MLDefense.Data;
namespace MLDefense.Legacy;

/// <summary>
/// The <c>manifest.json</c> of a model zip: what wrote it, the components in order (each with its registered name, the
/// version it was written with and its folder), whether the saved model was a chain, and the input schema.
/// </summary>
internal sealed class ModelManifest
{
    /// <summary>The layout of the zip itself; a reader rejects a higher one instead of misreading it.</summary>
    public const int CurrentFormatVersion = 1;
    public const string EntryName = "manifest.json";

    [JsonPropertyName("formatVersion")] public int FormatVersion { get; set; }
    [JsonPropertyName("createdBy")] public string? CreatedBy { get; set; }
    // ML.NET loads a saved chain back as a chain and a single transformer as itself; a chain of one component
    // would be ambiguous without this flag.
    [JsonPropertyName("isChain")] public bool IsChain { get; set; }
    [JsonPropertyName("components")] public List<ComponentEntry>? Components { get; set; }
    [JsonPropertyName("inputSchema")] public List<ColumnEntry>? InputSchema { get; set; }

    internal sealed class ComponentEntry
    {
        [JsonPropertyName("name")] public string? Name { get; set; }
        [JsonPropertyName("version")] public int Version { get; set; }
        [JsonPropertyName("folder")] public string? Folder { get; set; }
    }

    internal sealed class ColumnEntry
    {
        [JsonPropertyName("name")] public string? Name { get; set; }
        [JsonPropertyName("type")] public string? Type { get; set; }
        [JsonPropertyName("dimensions"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int[]? Dimensions { get; set; }
        [JsonPropertyName("imageShape"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public ImageShapeEntry? ImageShape { get; set; }
        [JsonPropertyName("slotNames"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string[]? SlotNames { get; set; }
    }

    internal sealed class ImageShapeEntry
    {
        [JsonPropertyName("channels")] public int Channels { get; set; }
        [JsonPropertyName("height")] public int Height { get; set; }
        [JsonPropertyName("width")] public int Width { get; set; }
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static string CreatedByThisBuild =>
        "MLDefense " + (typeof(ModelManifest).Assembly.GetName().Version?.ToString() ?? "unknown");

    public void Write(Stream stream) => JsonSerializer.Serialize(stream, this, JsonOptions);

    /// <summary>Parses and checks the manifest (format version first, so a newer file gets the right message).</summary>
    public static ModelManifest Read(Stream stream, string source)
    {
        ModelManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelManifest>(stream, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source}: {EntryName} is not valid JSON for a model manifest ({ex.Message}).", ex);
        }
        if (manifest is null) throw new InvalidDataException($"{source}: {EntryName} is empty.");
        if (manifest.FormatVersion > CurrentFormatVersion)
            throw new InvalidDataException($"{source} was written by a newer MLDefense (model format version {manifest.FormatVersion}" +
                $"{(manifest.CreatedBy is { } by ? $", created by {by}" : "")}); this build reads format versions up to {CurrentFormatVersion}. Upgrade MLDefense to load it.");
        if (manifest.FormatVersion < 1)
            throw new InvalidDataException($"{source}: {EntryName} has no valid formatVersion (found {manifest.FormatVersion}).");
        if (manifest.Components is null) throw new InvalidDataException($"{source}: {EntryName} has no components list.");
        if (manifest.InputSchema is null) throw new InvalidDataException($"{source}: {EntryName} has no inputSchema.");
        if (!manifest.IsChain && manifest.Components.Count != 1)
            throw new InvalidDataException($"{source}: {EntryName} describes a single transformer but lists {manifest.Components.Count} components.");
        return manifest;
    }

    public static List<ColumnEntry> FromSchema(DataViewSchema schema) => schema.Visible.Select(column =>
    {
        var entry = new ColumnEntry { Name = column.Name, Type = TypeName(column) };
        if (column.Type is VectorDataViewType vector) entry.Dimensions = vector.Dimensions.ToArray();
        if (column.ImageShape is { } shape) entry.ImageShape = new ImageShapeEntry { Channels = shape.Channels, Height = shape.Height, Width = shape.Width };
        if (column.Annotations?.SlotNames is { } slots) entry.SlotNames = slots.ToArray();
        return entry;
    }).ToList();

    private static string TypeName(DataViewSchema.Column column) => column.Type switch
    {
        VectorDataViewType => "Vector",
        NumberDataViewType n when n.Equals(NumberDataViewType.Single) => "Single",
        NumberDataViewType n when n.Equals(NumberDataViewType.Double) => "Double",
        NumberDataViewType n when n.Equals(NumberDataViewType.Int32) => "Int32",
        NumberDataViewType n when n.Equals(NumberDataViewType.Int64) => "Int64",
        BooleanDataViewType => "Boolean",
        TextDataViewType => "Text",
        _ => throw new ArgumentException($"Column '{column.Name}' has type {column.Type}, which a model zip cannot record."),
    };

    public DataViewSchema ToSchema(string source) => new(InputSchema!.Select((entry, i) =>
    {
        string where = $"{source}: input schema column {i} ('{entry.Name}')";
        if (string.IsNullOrEmpty(entry.Name)) throw new InvalidDataException($"{where} has no name.");
        DataViewType type = entry.Type switch
        {
            "Single" => NumberDataViewType.Single,
            "Double" => NumberDataViewType.Double,
            "Int32" => NumberDataViewType.Int32,
            "Int64" => NumberDataViewType.Int64,
            "Boolean" => BooleanDataViewType.Instance,
            "Text" => TextDataViewType.Instance,
            "Vector" when entry.Dimensions is { Length: > 0 } dims && dims.All(d => d > 0) => VectorOf(dims, where),
            "Vector" => throw new InvalidDataException($"{where} is a vector without positive dimensions."),
            _ => throw new InvalidDataException($"{where} has unknown type '{entry.Type}'."),
        };
        ImageShape? image = null;
        if (entry.ImageShape is { } s)
        {
            image = new ImageShape(s.Channels, s.Height, s.Width);
            if (!type.Equals(image.VectorType) || s.Channels is < 1 or > 4)
                throw new InvalidDataException($"{where} has image shape {image}, which does not match its type {type}.");
        }
        var annotations = image is null && entry.SlotNames is null ? null : new DataViewSchema.Annotations(image, entry.SlotNames);
        return new DataViewSchema.Column(entry.Name, type, annotations);
    }));

    private static VectorDataViewType VectorOf(int[] dimensions, string where)
    {
        try { return new VectorDataViewType(dimensions); }
        catch (OverflowException) { throw new InvalidDataException($"{where} has absurd dimensions [{string.Join(", ", dimensions)}]."); }
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MLDefense.Reporting;

/// <summary>Which benchmark wrote a JSON file, as recognised from its rows (<see cref="ReportInputs.Classify"/>).</summary>
public enum BenchmarkKind
{
    /// <summary>Nothing recognised: shown as generic tables.</summary>
    Generic,
    /// <summary>MixDefense protocol rows (<c>bench saec</c>, <c>evaluate</c>): attack, norm, epsilon, acc_detector.</summary>
    MixDefenseSweep,
    /// <summary><c>bench mixdefense</c> rows: the MixDefense protocol per method (attack, norm, epsilon, method, acc_detector).</summary>
    MixDefenseMethods,
    /// <summary><c>bench attacks</c> (or <c>attack</c>) rows: attack, adversarial_accuracy.</summary>
    Attacks,
    /// <summary><c>bench engine</c> rows: case, mldefense_images_per_s.</summary>
    Engine,
    /// <summary><c>bench classifier</c> (or <c>train-classifier</c>) rows: architecture, test_accuracy.</summary>
    Classifier,
    /// <summary><c>bench aegan</c> rows: attack, method, accuracy.</summary>
    AeGan,
    /// <summary><c>bench miaed</c> rows: variant, recall, specificity, accuracy.</summary>
    Miaed,
    /// <summary><c>defend</c> (the main job) rows: set, purified_accuracy, any_flagged.</summary>
    DefendedPipeline,
}

/// <summary>An image grid a JSON file points to (its top-level <c>"image_grids"</c>), with the path resolved.</summary>
/// <param name="Title">The caption.</param>
/// <param name="Path">The PNG's full path.</param>
/// <param name="Rows">What each row of the grid shows, top to bottom (e.g. clean, FGSM, purified).</param>
public sealed record ImageGridReference(string Title, string Path, IReadOnlyList<string> Rows)
{
    /// <summary>
    /// The entry to put in a benchmark's JSON <c>"image_grids"</c> array: <c>{"title", "path", "rows"}</c> with the path
    /// relative to <paramref name="jsonFolder"/> (the folder of the JSON file it goes into), so the two can move together.
    /// </summary>
    public JsonObject ToJson(string jsonFolder) => new()
    {
        ["title"] = Title,
        ["path"] = System.IO.Path.GetRelativePath(jsonFolder, Path).Replace('\\', '/'),
        ["rows"] = new JsonArray(Rows.Select(r => (JsonNode?)r).ToArray()),
    };
}

/// <summary>A named array of objects found in a JSON file beside its rows (e.g. <c>"cases"</c>, <c>"history"</c>, <c>"speed"</c>).</summary>
/// <param name="Name">The property's name.</param>
/// <param name="Rows">Its objects.</param>
public sealed record NamedRows(string Name, IReadOnlyList<JsonObject> Rows);

/// <summary>One JSON file read for the report.</summary>
/// <param name="Path">Where it was read from.</param>
/// <param name="Kind">Which benchmark wrote it.</param>
/// <param name="Rows">Its result rows (see <see cref="ReportInputs"/> for where they are looked for).</param>
/// <param name="Facts">Its top-level scalar properties (device, threads, versions, seconds), formatted.</param>
/// <param name="Tables">Other arrays of objects (and objects) beside the rows.</param>
/// <param name="ImageGrids">The image grids it points to.</param>
/// <param name="Problems">What could not be read (a bad JSON file, a malformed image-grid entry), for the report to say.</param>
public sealed record ReportInput(string Path, BenchmarkKind Kind, IReadOnlyList<JsonObject> Rows, IReadOnlyList<KeyValuePair<string, string>> Facts,
                                 IReadOnlyList<NamedRows> Tables, IReadOnlyList<ImageGridReference> ImageGrids, IReadOnlyList<string> Problems)
{
    /// <summary>The file's top-level object (null when the file is an array or could not be read).</summary>
    public JsonObject? Root { get; init; }
}

/// <summary>
/// Reads the benchmarks' JSON files for <c>mldefense report</c> and recognises each by its content, not its name.
/// </summary>
/// <remarks>
/// <para><b>Where the rows are.</b> The array of objects in the top-level <c>"rows"</c> property (every <c>bench</c>
/// command); else a top-level array of objects (<c>evaluate --json</c>); else the top-level object itself when it matches a
/// kind (<c>attack --json</c>, <c>train-classifier --json</c>).</para>
/// <para><b>Which benchmark.</b> The first kind whose keys every row has: MIAED (<c>variant</c>, <c>recall</c>,
/// <c>specificity</c>, <c>accuracy</c>), AE-GAN (<c>attack</c>, <c>method</c>, <c>accuracy</c>), MixDefense sweep
/// (<c>attack</c>, <c>norm</c>, <c>epsilon</c>, <c>acc_detector</c>), attacks (<c>attack</c>, <c>adversarial_accuracy</c>),
/// engine (<c>case</c>, <c>mldefense_images_per_s</c>), classifier (<c>architecture</c>, <c>test_accuracy</c>). Anything
/// else is <see cref="BenchmarkKind.Generic"/> and is shown as tables.</para>
/// <para><b>Optional extras any file may carry.</b> A row's <c>"roc"</c> (in <c>"rows"</c> or in any other top-level
/// array of objects, e.g. a detection table beside purification rows): its ROC curve as <c>[[fpr, tpr], ...]</c> in
/// increasing FPR (see <see cref="RocJson"/>); a top-level <c>"image_grids"</c>:
/// <c>[{"title", "path", "rows": [...]}]</c>, the path to a PNG relative to the JSON file's folder (or absolute).
/// Other top-level scalars become the section's facts; other arrays of objects, and objects, become tables.</para>
/// </remarks>
public static class ReportInputs
{
    /// <summary>The property a row's ROC curve is read from.</summary>
    public const string RocProperty = "roc";

    /// <summary>The top-level property image grids are read from.</summary>
    public const string ImageGridsProperty = "image_grids";

    private static readonly (BenchmarkKind Kind, string[] Keys)[] Signatures =
    [
        (BenchmarkKind.Miaed, ["variant", "recall", "specificity", "accuracy"]),
        (BenchmarkKind.DefendedPipeline, ["set", "purified_accuracy", "any_flagged"]),
        (BenchmarkKind.AeGan, ["attack", "method", "accuracy"]),
        (BenchmarkKind.MixDefenseMethods, ["attack", "norm", "epsilon", "method", "acc_detector"]),
        (BenchmarkKind.MixDefenseSweep, ["attack", "norm", "epsilon", "acc_detector"]),
        (BenchmarkKind.Attacks, ["attack", "adversarial_accuracy"]),
        (BenchmarkKind.Engine, ["case", "mldefense_images_per_s"]),
        (BenchmarkKind.Classifier, ["architecture", "test_accuracy"]),
    ];

    /// <summary>
    /// The JSON files named by <paramref name="paths"/>: a file as itself, a folder as its <c>*.json</c> files (not its
    /// subfolders), in ordinal name order; each file once, in the order first named.
    /// </summary>
    /// <exception cref="FileNotFoundException">A path is neither a file nor a folder.</exception>
    public static IReadOnlyList<string> Expand(IEnumerable<string> paths)
    {
        var files = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            IEnumerable<string> found;
            if (File.Exists(path)) found = [Path.GetFullPath(path)];
            else if (Directory.Exists(path))
                found = Directory.GetFiles(path, "*.json", SearchOption.TopDirectoryOnly).Select(Path.GetFullPath).Order(StringComparer.Ordinal);
            else throw new FileNotFoundException($"{path} is neither a file nor a folder.", path);
            foreach (var file in found)
                if (seen.Add(file)) files.Add(file);
        }
        return files;
    }

    /// <summary>Reads and recognises one file; a file that cannot be read or parsed gives an input whose <see cref="ReportInput.Problems"/> say why.</summary>
    public static ReportInput Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Unreadable(path, $"could not be read: {e.Message}");
        }
        return Parse(text, path);
    }

    /// <summary>Recognises the JSON <paramref name="json"/>, read from <paramref name="path"/> (relative image-grid paths are resolved against its folder).</summary>
    public static ReportInput Parse(string json, string path)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            return Unreadable(path, $"is not valid JSON: {e.Message}");
        }

        var problems = new List<string>();
        if (root is JsonArray array)
        {
            var rows = ObjectsOf(array);
            if (rows is null) return new(path, BenchmarkKind.Generic, [], [], [], [], ["holds an array that is not an array of objects; nothing to show."]);
            return new(path, Classify(rows), rows, [], [], [], problems);
        }
        if (root is not JsonObject obj)
            return new(path, BenchmarkKind.Generic, [], [], [], [], ["holds a single value, not an object or an array of objects; nothing to show."]);

        IReadOnlyList<JsonObject> resultRows = [];
        string? rowsProperty = null;
        BenchmarkKind kind = BenchmarkKind.Generic;
        if (obj["rows"] is JsonArray rowArray && ObjectsOf(rowArray) is { } found)
        {
            (resultRows, rowsProperty, kind) = (found, "rows", Classify(found));
        }
        else if (Classify([obj]) is var single and not BenchmarkKind.Generic)
        {
            (resultRows, kind) = ([ScalarsOf(obj)], single);
        }

        var grids = ReadImageGrids(obj, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", problems);
        bool rootIsRow = rowsProperty is null && kind != BenchmarkKind.Generic;
        var facts = new List<KeyValuePair<string, string>>();
        var tables = new List<NamedRows>();
        foreach (var (name, value) in obj)
        {
            if (name == rowsProperty || name == ImageGridsProperty) continue;
            switch (value)
            {
                case JsonValue scalar when !rootIsRow:
                    if (FormatScalar(scalar) is { } text) facts.Add(new(name, ReportText.Truncate(text, 240)));
                    break;
                case JsonArray items when ObjectsOf(items) is { Count: > 0 } objects:
                    tables.Add(new(name, objects));
                    break;
                case JsonObject nested when nested.All(p => p.Value is not JsonObject):
                    tables.Add(new(name, [nested]));
                    break;
                case JsonObject nested when nested.All(p => p.Value is JsonObject):
                    tables.Add(new(name, nested.Select(p => WithName(p.Key, (JsonObject)p.Value!)).ToList()));
                    break;
                case JsonArray items when !rootIsRow && items.All(i => i is JsonValue):
                    facts.Add(new(name, ReportText.Truncate(string.Join(", ", items.Select(i => FormatScalar((JsonValue)i!) ?? "—")), 240)));
                    break;
            }
        }
        return new(path, kind, resultRows, facts, tables, grids, problems) { Root = obj };
    }

    /// <summary>The first kind whose keys every row has (see the remarks of <see cref="ReportInputs"/>); <see cref="BenchmarkKind.Generic"/> for none or no rows.</summary>
    public static BenchmarkKind Classify(IReadOnlyList<JsonObject> rows)
    {
        if (rows.Count == 0) return BenchmarkKind.Generic;
        foreach (var (kind, keys) in Signatures)
            if (rows.All(row => keys.All(row.ContainsKey))) return kind;
        return BenchmarkKind.Generic;
    }

    /// <summary>A scalar as text: strings as they are, numbers via <see cref="ReportText.Number"/>, booleans yes/no; null for JSON null.</summary>
    public static string? FormatScalar(JsonValue value) => value.GetValueKind() switch
    {
        JsonValueKind.String => value.GetValue<string>(),
        JsonValueKind.Number => ReportText.Number(value.GetValue<double>()),
        JsonValueKind.True => "yes",
        JsonValueKind.False => "no",
        _ => null,
    };

    /// <summary>A number from a row: the property's value when it is a JSON number, else NaN (missing, null, text).</summary>
    public static double Number(JsonObject row, string name) =>
        row[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : double.NaN;

    /// <summary>A string from a row: the property's text (a number as its invariant text), else "".</summary>
    public static string Text(JsonObject row, string name) => row[name] switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>().ToString(CultureInfo.InvariantCulture),
        _ => "",
    };

    private static ReportInput Unreadable(string path, string problem) =>
        new(path, BenchmarkKind.Generic, [], [], [], [], [problem]);

    private static List<JsonObject>? ObjectsOf(JsonArray array) =>
        array.Count > 0 && array.All(item => item is JsonObject) ? array.Select(item => (JsonObject)item!).ToList() : null;

    private static JsonObject ScalarsOf(JsonObject obj)
    {
        var row = new JsonObject();
        foreach (var (name, value) in obj)
            if (value is null or JsonValue || name == RocProperty) row[name] = value?.DeepClone();
        return row;
    }

    private static JsonObject WithName(string name, JsonObject value)
    {
        var row = new JsonObject { ["name"] = name };
        foreach (var (key, v) in value) if (key != "name") row[key] = v?.DeepClone();
        return row;
    }

    private static List<ImageGridReference> ReadImageGrids(JsonObject root, string folder, List<string> problems)
    {
        var grids = new List<ImageGridReference>();
        if (!root.TryGetPropertyValue(ImageGridsProperty, out var node) || node is null) return grids;
        if (node is not JsonArray entries)
        {
            problems.Add($"\"{ImageGridsProperty}\" is not an array of {{\"title\", \"path\", \"rows\"}} objects; no image grid shown.");
            return grids;
        }
        for (int i = 0; i < entries.Count; i++)
        {
            if (entries[i] is not JsonObject entry || entry["path"] is not JsonValue p || p.GetValueKind() != JsonValueKind.String
                || p.GetValue<string>().Length == 0)
            {
                problems.Add($"\"{ImageGridsProperty}\"[{i}] has no \"path\" string; skipped.");
                continue;
            }
            var relative = p.GetValue<string>();
            var full = Path.GetFullPath(Path.IsPathRooted(relative) ? relative : Path.Combine(folder, relative));
            var title = entry["title"] is JsonValue t && t.GetValueKind() == JsonValueKind.String ? t.GetValue<string>() : Path.GetFileName(full);
            var rows = entry["rows"] is JsonArray r ? r.Select(x => x is JsonValue v ? FormatScalar(v) ?? "" : "").ToList() : [];
            grids.Add(new(title, full, rows));
        }
        return grids;
    }
}

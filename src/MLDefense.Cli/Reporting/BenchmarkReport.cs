using System.Text.Json;
using System.Text.Json.Nodes;

namespace MLDefense.Reporting;

/// <summary>
/// Turns the benchmarks' JSON (read by <see cref="ReportInputs"/>) into a <see cref="ReportDocument"/>: one section per
/// file with the charts its kind calls for (<see cref="BenchmarkCharts"/>), the ROC curves its rows carry, the image
/// grids it points to, and its rows and other arrays as tables. What cannot be drawn (a missing PNG, a malformed ROC)
/// becomes a warning in the page, never a failure of the whole report.
/// </summary>
public static class BenchmarkReport
{
    /// <summary>The largest PNG embedded; a bigger one is named in a warning instead (the page would be too heavy to open).</summary>
    public const long MaxImageBytes = 20 * 1024 * 1024;

    /// <summary>The page for <paramref name="inputs"/>, in order.</summary>
    public static ReportDocument Build(IEnumerable<ReportInput> inputs, string title, DateTimeOffset? generated = null) =>
        new(title, inputs.Select(Section).ToList(), generated);

    /// <summary>The section of one input.</summary>
    public static ReportSection Section(ReportInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var blocks = new List<ReportBlock>();
        foreach (var problem in input.Problems) blocks.Add(new NoteBlock($"{Path.GetFileName(input.Path)} {problem}", Warning: true));

        var rows = input.Rows;
        blocks.AddRange(input.Kind switch
        {
            BenchmarkKind.MixDefenseSweep => BenchmarkCharts.MixDefense(rows),
            BenchmarkKind.MixDefenseMethods => BenchmarkCharts.MixDefenseMethods(rows, input.Root?["points"] as JsonArray),
            BenchmarkKind.Attacks => BenchmarkCharts.Attacks(rows, input.Root?["speed"] as JsonObject),
            BenchmarkKind.Engine => BenchmarkCharts.EngineSpeed(rows, "Engine speed", target: null),
            BenchmarkKind.Classifier => BenchmarkCharts.Classifier(rows),
            BenchmarkKind.AeGan => BenchmarkCharts.AeGan(rows),
            BenchmarkKind.Miaed => BenchmarkCharts.Miaed(rows),
            BenchmarkKind.DefendedPipeline => BenchmarkCharts.DefendedPipeline(rows),
            _ => [],
        });
        blocks.AddRange(BenchmarkCharts.Roc(rows, input.Kind));
        blocks.AddRange(ImageGrids(input.ImageGrids));
        if (rows.Count > 0) blocks.Add(RowTable(input.Kind == BenchmarkKind.Generic ? "rows" : "Results", rows, CellFormatter(input.Kind, rows)));
        foreach (var table in input.Tables)
        {
            blocks.AddRange(BenchmarkCharts.IsLearningCurve(table.Rows) ? BenchmarkCharts.LearningCurve(table.Rows) : BenchmarkCharts.History(table));
            blocks.AddRange(BenchmarkCharts.Roc(table.Rows, BenchmarkKind.Generic));
            blocks.Add(RowTable(table.Name, table.Rows, null));
        }
        if (blocks.Count == 0 && input.Facts.Count == 0) blocks.Add(new NoteBlock("Nothing in this file could be shown."));
        return new(KindTitle(input), input.Path, input.Facts, blocks);
    }

    /// <summary>The heading of an input's section: what its benchmark measures, and its file name.</summary>
    public static string KindTitle(ReportInput input)
    {
        var name = Path.GetFileName(input.Path);
        var what = input.Kind switch
        {
            BenchmarkKind.MixDefenseSweep => "Detection under the MixDefense protocol (bench saec)",
            BenchmarkKind.MixDefenseMethods => "MixDefense's detectors and baselines on the same adversarial examples (bench mixdefense)",
            BenchmarkKind.Attacks => "Attack strength (bench attacks)",
            BenchmarkKind.Engine => "Engine speed against PyTorch (bench engine)",
            BenchmarkKind.Classifier => "Classifier accuracy (bench classifier)",
            BenchmarkKind.AeGan => "Purification: AE-GAN+sr against MagNet- and Defense-GAN-style (bench aegan)",
            BenchmarkKind.Miaed => "MIAED detection (bench miaed)",
            BenchmarkKind.DefendedPipeline => "The defended pipeline: SAEC, AE-GAN+sr, classifier, MIAED (defend)",
            _ => "Results",
        };
        return $"{what} — {name}";
    }

    /// <summary>
    /// A table of <paramref name="rows"/>: one column per property in order of first appearance (a <c>"roc"</c> curve is
    /// shown as its number of points), numbers right-aligned, <c>meets_target</c> as pass/fail, arrays of numbers or strings
    /// as a list, other nested values as compact JSON. <paramref name="format"/> may format a cell its own way (return null to use the default).
    /// </summary>
    public static TableBlock RowTable(string title, IReadOnlyList<JsonObject> rows, Func<JsonObject, string, TableCell?>? format)
    {
        var columns = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in rows)
            foreach (var (name, _) in row)
                if (seen.Add(name)) columns.Add(name);
        var headers = columns.Select(c => c == ReportInputs.RocProperty ? "ROC points" : c).ToList();
        var cells = rows.Select(row => (IReadOnlyList<TableCell>)columns.Select(c => format?.Invoke(row, c) ?? Cell(c, row[c], row.ContainsKey(c))).ToList()).ToList();
        return new TableBlock(title, headers, cells);
    }

    private static TableCell Cell(string column, JsonNode? value, bool present)
    {
        if (!present) return new("");
        if (column == ReportInputs.RocProperty) return new(value is JsonArray a ? $"{a.Count}" : "—", CellStyle.Number);
        if (column == "meets_target" && value is JsonValue b && b.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
            return b.GetValue<bool>() ? new("pass", CellStyle.Pass) : new("fail", CellStyle.Fail);
        return value switch
        {
            null => new("—"),
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => new(ReportText.Number(v.GetValue<double>()), CellStyle.Number),
            JsonValue v => new(ReportInputs.FormatScalar(v) ?? "—"),
            JsonArray items when items.All(i => i is null or JsonValue) =>
                new(ReportText.Truncate(string.Join(", ", items.Select(i => i is JsonValue x ? ReportInputs.FormatScalar(x) ?? "—" : "—")), 120)),
            _ => new(ReportText.Truncate(value.ToJsonString(), 80)),
        };
    }

    private static Func<JsonObject, string, TableCell?>? CellFormatter(BenchmarkKind kind, IReadOnlyList<JsonObject> rows)
    {
        if (kind is not (BenchmarkKind.MixDefenseSweep or BenchmarkKind.MixDefenseMethods)) return null;
        var in255ths = BenchmarkCharts.DatasetsInTwoHundredFiftyFifths(rows);
        return (row, column) =>
            column == "epsilon" && ReportInputs.Text(row, "norm") == "linf" && in255ths.Contains(ReportInputs.Text(row, "dataset"))
                ? new TableCell(ReportText.Epsilon(ReportInputs.Number(row, "epsilon"), true), CellStyle.Number)
                : null;
    }

    private static IEnumerable<ReportBlock> ImageGrids(IReadOnlyList<ImageGridReference> grids)
    {
        foreach (var grid in grids)
        {
            ReportBlock block;
            try
            {
                var info = new FileInfo(grid.Path);
                if (!info.Exists) block = new NoteBlock($"Image grid \"{grid.Title}\": {grid.Path} does not exist.", Warning: true);
                else if (info.Length > MaxImageBytes)
                    block = new NoteBlock($"Image grid \"{grid.Title}\": {grid.Path} is {info.Length / 1048576.0:F1} MiB, over the {MaxImageBytes / 1048576} MiB embedded in a page; open it separately.", Warning: true);
                else
                {
                    var png = File.ReadAllBytes(grid.Path);
                    block = PngSize(png) is (int width, int height)
                        ? new ImageBlock(grid.Title, png, width, height, grid.Rows)
                        : new NoteBlock($"Image grid \"{grid.Title}\": {grid.Path} is not a PNG file.", Warning: true);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                block = new NoteBlock($"Image grid \"{grid.Title}\": {grid.Path} could not be read ({e.Message}).", Warning: true);
            }
            yield return block;
        }
    }

    /// <summary>A PNG's width and height from its header (signature, then the IHDR chunk); null when the bytes are not a PNG.</summary>
    public static (int Width, int Height)? PngSize(ReadOnlySpan<byte> png)
    {
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (png.Length < 24 || !png[..8].SequenceEqual(signature) || !png.Slice(12, 4).SequenceEqual("IHDR"u8)) return null;
        int width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.Slice(16, 4));
        int height = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.Slice(20, 4));
        return width > 0 && height > 0 ? (width, height) : null;
    }
}

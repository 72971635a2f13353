using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using MLDefense.Evaluation;

namespace MLDefense.Benchmarks;

/// <summary>
/// One probe of a learning curve (issue 23): what a benchmark's evaluation gave the model after <paramref name="Epoch"/>
/// epochs of training.
/// </summary>
/// <param name="Epoch">The epochs the probed model was trained for.</param>
/// <param name="TestImages">The test images the probe was evaluated on (the first ones).</param>
/// <param name="FitSeconds">Wall-clock seconds of this probe's Fit: the epochs since the previous probe and the calibration (0 when loaded).</param>
/// <param name="Rows">The evaluation's rows, as the benchmark writes them.</param>
public sealed record LearningCurvePoint<TRow>(
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("test_images")] int TestImages,
    [property: JsonPropertyName("fit_seconds")] double FitSeconds,
    [property: JsonPropertyName("rows")] IReadOnlyList<TRow> Rows);

/// <summary>
/// The staging of a learning curve: the model is trained to each probe's epochs in turn, each Fit continuing the previous
/// one through a kept checkpoint (the estimators' <c>KeepCheckpoint</c>), and evaluated there; the probes done are kept in a
/// JSON file beside the checkpoint, so an interrupted run skips them when started again.
/// </summary>
internal static class LearningCurves
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>The epochs to train to, in order: the probes below <paramref name="epochs"/>, then <paramref name="epochs"/> itself (the final model).</summary>
    public static IReadOnlyList<int> Stages(IReadOnlyList<int> probes, int epochs) =>
        probes.Where(e => e < epochs).Append(epochs).Distinct().Order().ToArray();

    /// <summary>Why <paramref name="probes"/> cannot be a curve of a training of <paramref name="epochs"/> epochs kept in <paramref name="directory"/>, or null.</summary>
    public static string? Problem(IReadOnlyList<int> probes, int epochs, string? directory, int testImages, string directoryOption)
    {
        if (probes.Count == 0) return null;
        if (directory is null) return $"a learning curve keeps its checkpoint and probes in a folder: give {directoryOption}.";
        if (probes.Any(e => e < 1 || e > epochs)) return $"the curve's epochs must be in [1, {epochs}] (the training's epochs); got {string.Join(", ", probes)}.";
        if (testImages < 1) return $"the curve's test images must be at least 1; got {testImages}.";
        return null;
    }

    /// <summary>The probes kept in <paramref name="path"/> (none when it does not exist), by epoch.</summary>
    /// <exception cref="InvalidDataException">The file is not a curve of these rows.</exception>
    public static SortedDictionary<int, LearningCurvePoint<TRow>> Read<TRow>(string path)
    {
        var points = new SortedDictionary<int, LearningCurvePoint<TRow>>();
        if (!File.Exists(path)) return points;
        try
        {
            foreach (var point in JsonSerializer.Deserialize<List<LearningCurvePoint<TRow>>>(File.ReadAllText(path), Json) ?? [])
                points[point.Epoch] = point;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The learning curve '{path}' cannot be read ({e.Message}); delete it to probe again.", e);
        }
        return points;
    }

    /// <summary>Writes the probes to <paramref name="path"/> atomically (a temporary file renamed into place).</summary>
    public static void Write<TRow>(string path, IEnumerable<LearningCurvePoint<TRow>> points)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(points.OrderBy(p => p.Epoch).ToList(), Json));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Parses a comma-separated list of epochs (<c>5,10,20</c>), or throws <see cref="FormatException"/> naming the bad item.</summary>
    public static IReadOnlyList<int> ParseEpochs(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(item => int.TryParse(item, out int e) && e > 0 ? e : throw new FormatException($"'{item}' is not a positive number of epochs."))
        .Distinct().Order().ToArray();

    /// <summary>A learning curve as Markdown: one row per epoch, one column per attack, each cell the accuracies of its series joined by " / ".</summary>
    public static string Table(IEnumerable<(int Epoch, IEnumerable<(string Attack, string Series, double Accuracy)> Cells)> points)
    {
        var rows = points.Select(p => (p.Epoch, Cells: p.Cells.ToList())).ToList();
        var attacks = rows.SelectMany(p => p.Cells.Select(x => x.Attack)).Distinct().ToList();
        var table = new MarkdownTable([MarkdownColumn.Numeric("Epoch"), .. attacks.Select(MarkdownColumn.Numeric)]);
        foreach (var (epoch, cells) in rows)
            table.AddRow([epoch.ToString(CultureInfo.InvariantCulture),
                          .. attacks.Select(a => string.Join(" / ", cells.Where(x => x.Attack == a).Select(x => MarkdownTable.Percent(x.Accuracy))))]);
        return table.ToString();
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace MLDefense.Cli.Infrastructure;

/// <summary>Writes a command's machine-readable results (<c>--json PATH</c>).</summary>
public static class JsonResults
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// A learning curve (<see cref="Benchmarks.LearningCurves"/>) as the benches' JSON <c>curve</c> array: one object per row of
    /// every probe, <c>{"dataset", "epoch", "test_images", "fit_seconds", ...}</c> followed by the row's own fields.
    /// </summary>
    public static JsonArray Curve<TRow>(IEnumerable<(string Dataset, IReadOnlyList<Benchmarks.LearningCurvePoint<TRow>> Points)> curves,
                                        Func<TRow, JsonObject> rowFields)
    {
        var array = new JsonArray();
        foreach (var (dataset, points) in curves)
            foreach (var p in points)
                foreach (var row in p.Rows)
                {
                    var item = new JsonObject { ["dataset"] = dataset, ["epoch"] = p.Epoch, ["test_images"] = p.TestImages, ["fit_seconds"] = Seconds(p.FitSeconds) };
                    foreach (var (name, value) in rowFields(row).ToList()) item[name] = value?.DeepClone();
                    array.Add(item);
                }
        return array;
    }

    /// <summary>Writes <paramref name="results"/> to <paramref name="file"/> when one was given, and says where.</summary>
    public static void Write(CliConsole console, FileInfo? file, JsonNode results)
    {
        if (file is null) return;
        File.WriteAllText(file.FullName, results.ToJsonString(Indented) + "\n");
        console.Out.MarkupLineInterpolated($"Results written to [blue]{file.FullName}[/].");
    }

    /// <summary>A seconds figure rounded to milliseconds, so the JSON does not carry timer noise digits.</summary>
    public static double Seconds(double seconds) => Math.Round(seconds, 3);
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace MLDefense.Cli.Infrastructure;

/// <summary>Writes a command's machine-readable results (<c>--json PATH</c>).</summary>
public static class JsonResults
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

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

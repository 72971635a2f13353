using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense bench pipeline</c>: what ML.NET's cursor contract costs the defended pipeline, and one image's latency.</summary>
public static class BenchPipelineCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var quick = CommonOptions.Quick("1,000 test images instead of 10,000, components fitted on 500 instead of 1,000.");
        var json = CommonOptions.Json("{\"images\", \"device\", \"threads\", \"pipeline_seconds\": [...], \"direct_seconds\": [...], \"ratio\", \"target\", "
            + "\"meets_target\", \"prediction_ms_median\", \"prediction_ms\": [...]}");
        var command = new Command("pipeline",
            "Fits the defended pipeline SAEC -> AE-GAN+sr -> classifier A -> MIAED briefly on Fashion-MNIST, then times Transform over the "
          + "test images read through a row cursor (every added column) against the same networks called directly on the same batches of 256, "
          + $"in alternating rounds (target: ratio of medians <= {PipelineBenchmarkResult.Target}), and one image through ML.NET's PredictionEngine.")
        {
            quick, json,
        };
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            var options = (parseResult.GetValue(quick) ? PipelineBenchmarkOptions.Quick : PipelineBenchmarkOptions.Full) with
            {
                Seed = settings.Seed, Device = settings.Device, DataDirectory = settings.DataDirectory,
            };
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, settings, context =>
            {
                var result = ProgressDisplay.Run(context.Console, display =>
                    PipelineBenchmark.Run(options, new InlineProgress<string>(s => display.Report("pipeline", s, 0, milestone: true)), context.Cancellation));
                Render(context.Console.Out, result);
                JsonResults.Write(context.Console, jsonFile, ToJson(result));
                return 0;
            });
        });
        return command;
    }

    private static void Render(IAnsiConsole console, PipelineBenchmarkResult r)
    {
        string Rounds(IReadOnlyList<double> s) => $"{PipelineBenchmarkResult.Median(s):F2} ({s.Min():F2}–{s.Max():F2})";
        var table = new Table()
            .Title($"The cursor's cost: {r.Images} images through SAEC, AE-GAN+sr, classifier A and MIAED")
            .Caption(Markup.Escape($"{r.Device} · {r.Threads} threads · median (min–max) of {r.PipelineSeconds.Count} alternating rounds"))
            .AddColumn("path")
            .AddNumberColumns("seconds", "images/s");
        table.AddRow("Transform, read through a row cursor", Rounds(r.PipelineSeconds), $"{r.Images / PipelineBenchmarkResult.Median(r.PipelineSeconds):F1}");
        table.AddRow("the same networks called directly", Rounds(r.DirectSeconds), $"{r.Images / PipelineBenchmarkResult.Median(r.DirectSeconds):F1}");
        console.Write(table);
        console.MarkupLine($"ratio {r.Ratio:F3} (target <= {PipelineBenchmarkResult.Target}) {TableText.PassFail(r.Ratio <= PipelineBenchmarkResult.Target)}");
        console.MarkupLine(Markup.Escape($"PredictionEngine, one image through the whole pipeline: median {r.PredictionMedianMilliseconds:F1} ms " +
            $"({r.PredictionMilliseconds.Min():F1}–{r.PredictionMilliseconds.Max():F1}) over {r.PredictionMilliseconds.Count} calls"));
    }

    private static JsonObject ToJson(PipelineBenchmarkResult r) => new()
    {
        ["images"] = r.Images,
        ["device"] = r.Device,
        ["threads"] = r.Threads,
        ["pipeline_seconds"] = new JsonArray(r.PipelineSeconds.Select(s => (JsonNode)JsonResults.Seconds(s)).ToArray()),
        ["direct_seconds"] = new JsonArray(r.DirectSeconds.Select(s => (JsonNode)JsonResults.Seconds(s)).ToArray()),
        ["ratio"] = Math.Round(r.Ratio, 4),
        ["target"] = PipelineBenchmarkResult.Target,
        ["meets_target"] = r.Ratio <= PipelineBenchmarkResult.Target,
        ["prediction_ms_median"] = Math.Round(r.PredictionMedianMilliseconds, 2),
        ["prediction_ms"] = new JsonArray(r.PredictionMilliseconds.Select(s => (JsonNode)Math.Round(s, 2)).ToArray()),
    };
}

using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Cli.Infrastructure;
using MLDefense.Reporting;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense report</c>: one self-contained HTML page of charts and tables from the benchmarks' JSON files (issue 8).</summary>
public static class ReportCommand
{
    /// <summary>The page title when <c>--title</c> is not given.</summary>
    public const string DefaultTitle = "MLDefense benchmark report";

    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var input = new Option<string[]>("--input")
        {
            Description = "The results to show: JSON files written by --json of the bench commands (engine, classifier, attacks, saec, aegan, miaed), "
                        + "evaluate, attack or train-classifier, or folders whose *.json files (not subfolders) are read in name order. "
                        + "Repeat the option or give several paths after it. Each file is recognised by its content, not its name: by the keys every one "
                        + "of its \"rows\" (or of its top-level array, or the top-level object itself) has — miaed: variant, recall, specificity, "
                        + "accuracy; aegan: attack, method, accuracy; saec: attack, norm, epsilon, acc_detector; attacks: attack, adversarial_accuracy; "
                        + "engine: case, mldefense_images_per_s; classifier: architecture, test_accuracy; anything else is shown as tables. Optional in any file: a row's "
                        + "\"roc\": [[fpr, tpr], ...] is drawn as a ROC curve; a top-level \"image_grids\": [{\"title\", \"path\", \"rows\"}] embeds "
                        + "those PNGs (paths relative to the JSON file).",
            HelpName = "PATH",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
            CustomParser = result =>
            {
                var paths = result.Tokens.Select(t => t.Value).ToArray();
                foreach (var path in paths)
                    if (!File.Exists(path) && !Directory.Exists(path))
                    {
                        result.AddError($"--input: {Path.GetFullPath(path)} is neither a file nor a folder.");
                        break;
                    }
                return paths;
            },
        };
        var output = OptionParsers.Create<FileInfo>("--output",
            "The HTML file to write (replaced if it exists): one page with inline SVG charts and embedded PNGs, no script and no network access, "
          + "to open in any browser.", "PATH", OptionParsers.FileInExistingFolder);
        output.Required = true;
        var title = new Option<string>("--title")
        {
            Description = $"The page's title. Default: \"{DefaultTitle}\".",
            HelpName = "TEXT",
            DefaultValueFactory = _ => DefaultTitle,
        };
        var json = CommonOptions.Json("{\"output\", \"title\", \"inputs\": [{\"path\", \"kind\", \"rows\", \"charts\", \"tables\", \"image_grids\", "
            + "\"warnings\": [...]}]} — kind is how the file was recognised (generic when not)");

        var command = new Command("report",
            "Renders benchmark results as one self-contained HTML page: per file, the charts its benchmark calls for — Acc_Detector and Acc_RC "
          + "against the budget per attack (MixDefense Fig. 5-7) for saec/evaluate; clean and adversarial accuracy and perturbation size per "
          + "attack for attacks; speed and speed ratio for engine; test accuracy for classifier; accuracy per purifier for aegan; detection "
          + "accuracy per variant for miaed; ROC curves where rows carry them; image grids — followed by the results as tables. A file that "
          + "cannot be read or drawn becomes a warning in the page, not a failure.")
        {
            input, output, title, json,
        };
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            var paths = parseResult.GetValue(input)!;
            var outputFile = parseResult.GetValue(output)!;
            var pageTitle = parseResult.GetValue(title)!;
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, settings, context => Run(context, paths, outputFile, pageTitle, jsonFile));
        });
        return command;
    }

    private static int Run(CommandContext context, IReadOnlyList<string> paths, FileInfo output, string title, FileInfo? jsonFile)
    {
        var files = ReportInputs.Expand(paths);
        if (files.Count == 0) throw new InvalidOperationException($"No JSON file found in {string.Join(", ", paths)}.");
        var inputs = new List<ReportInput>(files.Count);
        foreach (var file in files)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            inputs.Add(ReportInputs.Read(file));
        }
        var document = BenchmarkReport.Build(inputs, title, DateTimeOffset.UtcNow);
        HtmlReport.Save(document, output.FullName);

        var table = new Table()
            .Title("Report inputs")
            .AddColumn("file").AddColumn("recognised as").AddNumberColumns("rows", "charts", "tables", "image grids", "warnings");
        var summaries = new JsonArray();
        for (int i = 0; i < inputs.Count; i++)
        {
            var (x, section) = (inputs[i], document.Sections[i]);
            int charts = section.Blocks.Count(b => b is ChartBlock), tables = section.Blocks.Count(b => b is TableBlock);
            int images = section.Blocks.Count(b => b is ImageBlock);
            var warnings = section.Blocks.OfType<NoteBlock>().Where(n => n.Warning).Select(n => n.Text).ToList();
            table.AddRow(Markup.Escape(Path.GetFileName(x.Path)), KindName(x.Kind), $"{x.Rows.Count}", $"{charts}", $"{tables}", $"{images}",
                         warnings.Count > 0 ? $"[yellow]{warnings.Count}[/]" : "0");
            foreach (var warning in warnings) context.Console.WriteError($"warning: {warning}");
            summaries.Add(new JsonObject
            {
                ["path"] = x.Path,
                ["kind"] = KindName(x.Kind),
                ["rows"] = x.Rows.Count,
                ["charts"] = charts,
                ["tables"] = tables,
                ["image_grids"] = images,
                ["warnings"] = new JsonArray(warnings.Select(w => (JsonNode?)w).ToArray()),
            });
        }
        context.Console.Out.Write(table);
        context.Console.Out.MarkupLineInterpolated($"Report written to [blue]{output.FullName}[/].");
        JsonResults.Write(context.Console, jsonFile, new JsonObject { ["output"] = output.FullName, ["title"] = title, ["inputs"] = summaries });
        return 0;
    }

    /// <summary>The kind's name as the summary and the JSON write it (the bench command that writes such files).</summary>
    public static string KindName(BenchmarkKind kind) => kind switch
    {
        BenchmarkKind.MixDefenseSweep => "saec (MixDefense sweep)",
        BenchmarkKind.MixDefenseMethods => "mixdefense (methods on the same AEs)",
        BenchmarkKind.Attacks => "attacks",
        BenchmarkKind.Engine => "engine",
        BenchmarkKind.Classifier => "classifier",
        BenchmarkKind.AeGan => "aegan",
        BenchmarkKind.Miaed => "miaed",
        BenchmarkKind.DefendedPipeline => "defend",
        _ => "generic",
    };
}

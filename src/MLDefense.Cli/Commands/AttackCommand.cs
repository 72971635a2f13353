using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Attacks;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Evaluation;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense attack</c>: attacks a dataset's test images with a saved classifier and reports what the attack did.</summary>
public static class AttackCommand
{
    /// <summary>How many adversarial images <c>--output-images</c> saves.</summary>
    public const int SavedImages = 8;

    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var model = CommonOptions.Model();
        var dataset = CommonOptions.Dataset();
        var attackOptions = new AttackOptions(AttackFactory.Names);
        var limit = OptionParsers.Create("--limit", "Attack only the first N test images. Default: all.", "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var outputImages = OptionParsers.Create("--output-images", $"Also save the first {SavedImages} adversarial images as PNG files (adversarial-0.png, ...) in this folder "
                                                                 + "(created if missing; its parent must exist). Default: none.",
                                                "DIR", r => (DirectoryInfo?)ParentExists(r));
        var json = CommonOptions.Json("{\"model\", \"dataset\", \"attack\", \"norm\", \"epsilon\", \"images\", \"clean_accuracy\", \"adversarial_accuracy\", "
                                    + "\"mean_l2\", \"mean_linf\", \"seconds\", \"images_per_s\", \"threads\", \"device\", \"seed\"} — epsilon is null for cw and deepfool; "
                                    + "mean_l2 and mean_linf average over all images (0 for an image left unchanged)");

        var command = new Command("attack",
            "Attacks the test images of a dataset with a saved classifier (untargeted, labels = the true classes) and reports the classifier's clean and "
          + "adversarial accuracy, the mean L2 and L∞ size of the perturbations, and the images attacked per second.")
        {
            model, dataset, limit, outputImages, json,
        };
        attackOptions.AddTo(command);
        command.SetAction(parseResult =>
        {
            var settings = attackOptions.Read(parseResult);
            if (!AttackOptions.Check(settings, console)) return Program.Usage;
            var modelFile = parseResult.GetValue(model)!;
            var datasetName = parseResult.GetValue(dataset)!;
            var count = parseResult.GetValue(limit);
            var imagesFolder = parseResult.GetValue(outputImages);
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, globals.Read(parseResult), context =>
            {
                var ml = context.CreateMLContext();
                var result = ProgressDisplay.Run(context.Console, display =>
                    AttackEvaluation.Run(ml, modelFile.FullName, datasetName, settings, count, context.Settings.DataDirectory, context.Settings.Seed,
                                         imagesFolder is null ? 0 : SavedImages,
                                         new InlineProgress<EvaluationProgress>(p => display.Report("attack", $"{p.Stage} · {p.ImagesDone}/{p.ImagesTotal} images", p.Fraction)),
                                         context.Cancellation));
                Render(context.Console.Out, result, modelFile, datasetName);
                if (imagesFolder is not null) SaveImages(context.Console, result, imagesFolder);
                JsonResults.Write(context.Console, jsonFile, new JsonObject
                {
                    ["model"] = modelFile.FullName,
                    ["dataset"] = datasetName,
                    ["attack"] = result.Attack,
                    ["norm"] = result.Norm,
                    ["epsilon"] = result.Epsilon,
                    ["images"] = result.Images,
                    ["clean_accuracy"] = result.CleanAccuracy,
                    ["adversarial_accuracy"] = result.AdversarialAccuracy,
                    ["mean_l2"] = result.MeanL2,
                    ["mean_linf"] = result.MeanLinf,
                    ["seconds"] = JsonResults.Seconds(result.Seconds),
                    ["images_per_s"] = result.ImagesPerSecond,
                    ["threads"] = context.Settings.Threads,
                    ["device"] = Runtime.DeviceName(context.Settings.Device),
                    ["seed"] = context.Settings.Seed,
                });
                return 0;
            });
        });
        return command;
    }

    private static DirectoryInfo ParentExists(System.CommandLine.Parsing.ArgumentResult result)
    {
        var folder = new DirectoryInfo(result.Tokens[0].Value);
        if (folder.Parent is { Exists: false } parent) result.AddError($"{OptionParsers.OptionName(result)}: the folder {parent.FullName} does not exist.");
        return folder;
    }

    private static void Render(IAnsiConsole console, AttackEvaluationResult r, FileInfo model, string dataset)
    {
        var table = new Table().Title($"{Markup.Escape(AttackBenchmark.AttackTitleOf(r))} on {Markup.Escape(dataset)}").AddColumn("").AddColumn("");
        table.HideHeaders();
        table.AddRow("model", Markup.Escape(model.FullName));
        table.AddRow("images", $"{r.Images}");
        table.AddRow("clean accuracy", $"{r.CleanAccuracy:F4}");
        table.AddRow("adversarial accuracy", $"[bold]{r.AdversarialAccuracy:F4}[/]");
        table.AddRow("mean L2", $"{r.MeanL2:F4}");
        table.AddRow("mean L∞", $"{r.MeanLinf:F4}");
        table.AddRow("speed", $"{r.ImagesPerSecond:F1} images/s ({r.Seconds:F1} s)");
        console.Write(table);
    }

    private static void SaveImages(CliConsole console, AttackEvaluationResult r, DirectoryInfo folder)
    {
        folder.Create();
        for (int i = 0; i < r.Examples.Count; i++)
            ImageFiles.SavePng(r.Examples[i], r.ImageShape, Path.Combine(folder.FullName, $"adversarial-{i}.png"));
        console.Out.MarkupLineInterpolated($"{r.Examples.Count} adversarial images saved in [blue]{folder.FullName}[/].");
    }
}

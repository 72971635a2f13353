using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using MLDefense.Data;
using Microsoft.ML;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense train-classifier</c>: trains a built-in image classifier on a known dataset and saves it.</summary>
public static class TrainClassifierCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var dataset = CommonOptions.Dataset();
        var architecture = CommonOptions.Architecture();
        var epochs = OptionParsers.Create("--epochs", "Passes over the training data. Default: the architecture's paper default (c1, a, b, c: 10; c2: 50).",
                                          "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var batchSize = OptionParsers.Create("--batch-size", "Images per optimisation step. Default: the architecture's (128 for all).",
                                             "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var learningRate = OptionParsers.Create("--lr", "Initial learning rate. Default: the architecture's (Adam 1e-3 for all; for c2 this departs from Carlini-Wagner's SGD, which stalls at chance on the 4,000-image subset).",
                                                "X", r => (double?)OptionParsers.PositiveNumber(r));
        var output = OptionParsers.Create("--output", "Where to save the trained model (a zip that ml.Model.Load reads). Default: <dataset>-<architecture>.zip in the current folder.",
                                          "PATH", r => (FileInfo?)OptionParsers.FileInExistingFolder(r));
        var limit = OptionParsers.Create("--limit", "Use only the first N training images and the first N test images (for smoke tests and quick trials). Default: all.",
                                         "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var json = CommonOptions.Json("{\"dataset\", \"architecture\", \"epochs\", \"batch_size\", \"learning_rate\", \"train_images\", \"test_images\", "
                                    + "\"test_accuracy\", \"train_seconds\", \"evaluate_seconds\", \"device\", \"threads\", \"seed\", \"model_path\", "
                                    + "\"history\": [{\"epoch\", \"loss\", \"train_accuracy\"}]}");

        var command = new Command("train-classifier",
            "Trains a built-in image classifier on a known dataset with progress (epoch, loss, accuracy, ETA), measures its test accuracy, "
          + "and saves it as a model zip (with the input schema: Image, Label).")
        {
            dataset, architecture, epochs, batchSize, learningRate, output, limit, json,
        };
        command.Validators.Add(result =>
        {
            // The raw tokens, not GetValue: a value that failed to parse already has its own error, and GetValue would throw.
            var datasetName = result.GetResult(dataset)?.Tokens.FirstOrDefault()?.Value.ToLowerInvariant();
            var architectureName = result.GetResult(architecture)?.Tokens.FirstOrDefault()?.Value.ToLowerInvariant();
            if (datasetName is null || !KnownDatasets.Names.Contains(datasetName)) return;
            if (architectureName is null || !ClassifierTraining.ArchitecturesByShortName.TryGetValue(architectureName, out var chosen)) return;
            if (ClassifierTraining.Incompatibility(datasetName, chosen) is { } why) result.AddError($"--architecture: {why}");
        });
        command.SetAction(parseResult =>
        {
            var request = new ClassifierTrainingRequest
            {
                Dataset = parseResult.GetValue(dataset)!,
                Architecture = parseResult.GetValue(architecture),
                Epochs = parseResult.GetValue(epochs),
                BatchSize = parseResult.GetValue(batchSize),
                LearningRate = parseResult.GetValue(learningRate),
                TrainImages = parseResult.GetValue(limit),
                TestImages = parseResult.GetValue(limit),
            };
            var modelFile = parseResult.GetValue(output)
                         ?? new FileInfo($"{request.Dataset}-{ClassifierTraining.ShortName(request.Architecture)}.zip");
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, globals.Read(parseResult), context => Train(context, request, modelFile, jsonFile));
        });
        return command;
    }

    private static int Train(CommandContext context, ClassifierTrainingRequest request, FileInfo modelFile, FileInfo? jsonFile)
    {
        var settings = context.Settings;
        request = request with { DataDirectory = settings.DataDirectory, Seed = settings.Seed };
        var ml = context.CreateMLContext();
        var (model, inputSchema, result) = ProgressDisplay.Run(context.Console, display =>
            ClassifierTraining.Run(ml, request, new InlineProgress<ClassifierTrainingStatus>(s => TrainingProgressText.Show(display, "", s)),
                                   context.Cancellation));
        using (model)
            ml.Model.Save(model, inputSchema, modelFile.FullName);

        var console = context.Console.Out;
        var table = new Table().Title("Trained classifier").AddColumn("").AddColumn("");
        table.HideHeaders();
        table.AddRow("dataset", Markup.Escape(result.Dataset));
        table.AddRow("architecture", $"{ClassifierTraining.ShortName(result.Architecture)} ({result.Architecture})");
        table.AddRow("epochs", $"{result.Epochs} (batch {result.BatchSize}, lr {result.LearningRate:G3})");
        table.AddRow("training images", $"{result.TrainImages}");
        table.AddRow("final epoch", result.History.Count > 0 ? $"loss {result.History[^1].Loss:F4}, train accuracy {result.History[^1].TrainAccuracy * 100:F2}%" : "—");
        table.AddRow("test accuracy", $"[bold]{result.TestAccuracy:F4}[/] on {result.TestImages} images");
        table.AddRow("train time", $"{result.TrainSeconds:F1} s on {result.Device}, {settings.Threads} threads");
        table.AddRow("model", Markup.Escape(modelFile.FullName));
        console.Write(table);

        JsonResults.Write(context.Console, jsonFile, new JsonObject
        {
            ["dataset"] = result.Dataset,
            ["architecture"] = ClassifierTraining.ShortName(result.Architecture),
            ["epochs"] = result.Epochs,
            ["batch_size"] = result.BatchSize,
            ["learning_rate"] = result.LearningRate,
            ["train_images"] = result.TrainImages,
            ["test_images"] = result.TestImages,
            ["test_accuracy"] = result.TestAccuracy,
            ["train_seconds"] = JsonResults.Seconds(result.TrainSeconds),
            ["evaluate_seconds"] = JsonResults.Seconds(result.EvaluateSeconds),
            ["device"] = result.Device,
            ["threads"] = settings.Threads,
            ["seed"] = settings.Seed,
            ["model_path"] = modelFile.FullName,
            ["history"] = new JsonArray(result.History.Select(h => (JsonNode)new JsonObject
            {
                ["epoch"] = h.Epoch,
                ["loss"] = h.Loss,
                ["train_accuracy"] = h.TrainAccuracy,
            }).ToArray()),
        });
        return 0;
    }
}

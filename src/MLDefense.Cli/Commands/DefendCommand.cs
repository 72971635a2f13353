using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using MLDefense.Jobs;
using MLDefense.Reporting;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense defend</c>: the main job — the defended pipeline trained, evaluated, saved, reloaded and used (issue 8).</summary>
public static class DefendCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var defaults = DefendedPipelineJobOptions.Default;
        var dataset = OptionParsers.Create("--dataset", "fashion-mnist (default) or mnist.", "fashion-mnist|mnist", r =>
        {
            var text = r.Tokens[0].Value.ToLowerInvariant();
            if (text is not ("fashion-mnist" or "mnist")) r.AddError($"--dataset: '{r.Tokens[0].Value}' is not fashion-mnist or mnist (classifier A takes 1x28x28 images).");
            return text;
        });
        var full = new Option<bool>("--full")
        {
            Description = "The papers' training: every training image, classifier A 10 epochs, AE-GAN+sr 60, MIAED 100 (simple network 20), all 10,000 "
                        + $"test images — hours on a CPU. Default: {defaults.DescribeShortening()} (about 9 minutes on 2 CPU cores).",
        };
        static int? Count(System.CommandLine.Parsing.ArgumentResult r) => OptionParsers.WholeNumber(r, minimum: 1);
        var trainImages = OptionParsers.Create("--train-images", "Train every component on the first N training images (overrides the preset).", "N", Count);
        var testImages = OptionParsers.Create("--test-images", "Evaluate and attack the first N test images (overrides the preset).", "N", Count);
        var classifierEpochs = OptionParsers.Create("--classifier-epochs", "Classifier A's epochs (overrides the preset).", "N", Count);
        var aeganEpochs = OptionParsers.Create("--aegan-epochs", "AE-GAN+sr's epochs (overrides the preset).", "N", Count);
        var miaedEpochs = OptionParsers.Create("--miaed-epochs", "MIAED's autoencoder epochs (overrides the preset; its simple network keeps the preset's).", "N", Count);
        var epsilon = OptionParsers.Create("--epsilon", $"The L-inf budgets of FGSM and PGD, comma-separated (a sweep). Default {string.Join(",", defaults.Epsilons)}.", "X[,X...]", r =>
        {
            var values = new List<double>();
            foreach (var text in r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
            {
                if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value) || !(value > 0))
                    r.AddError($"--epsilon: '{text}' is not a positive number.");
                else if (value > 1) r.AddError($"--epsilon: {value} is above 1 (pixels are in [0, 1]).");
                else values.Add(value);
            }
            return values.Count > 0 ? values.Distinct().Order().ToArray() : null;
        });
        var output = OptionParsers.Create("--output", $"Where to save the defended pipeline (one zip). Default {defaults.OutputPath}.", "PATH",
                                          r => (FileInfo?)OptionParsers.FileInExistingFolder(r));
        var images = OptionParsers.Create("--images", "Also write a PNG grid: clean, FGSM, PGD, and the purified FGSM and PGD images (10 each).", "PATH",
                                          r => (FileInfo?)OptionParsers.FileInExistingFolder(r));
        var json = CommonOptions.Json("{\"dataset\", \"preset\", \"shortened\", \"threads\", \"device\", \"torch_version\", \"seed\", \"total_seconds\", "
            + "\"classifier\": {\"architecture\", \"epochs\", \"train_images\", \"test_accuracy\", \"train_seconds\"}, \"pipeline_fit_seconds\", "
            + "\"rows\": [{\"set\", \"epsilon\", \"images\", \"undefended_accuracy\", \"purified_accuracy\", \"saec_flagged\", \"aegan_flagged\", "
            + "\"miaed_flagged\", \"any_flagged\", \"handled_correctly\", \"saec_auc\", \"aegan_auc\", \"miaed_auc\"}], \"model_path\", \"model_bytes\", "
            + "\"reloaded_rows_agreeing\", \"reloaded_rows_compared\", \"examples\": [{\"set\", \"index\", \"true_label\", \"predicted_label\", "
            + "\"confidence\", \"flags\"}], \"image_grids\": [{\"title\", \"path\", \"rows\"}]}");

        var command = new Command("defend",
            "The main job: trains classifier A, fits the defended pipeline SAEC -> AE-GAN+sr purifier -> classifier A -> MIAED, attacks the test "
          + "images with FGSM and PGD (computed on classifier A alone), prints what the pipeline does on clean and adversarial images, saves the "
          + "pipeline to one zip, reloads it, checks the reloaded model agrees, and predicts a few images one by one with their flags.")
        {
            dataset, full, trainImages, testImages, classifierEpochs, aeganEpochs, miaedEpochs, epsilon, output, images, json,
        };
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            var preset = parseResult.GetValue(full) ? DefendedPipelineJobOptions.Full : DefendedPipelineJobOptions.Default;
            int? miaed = parseResult.GetValue(miaedEpochs);
            var options = preset with
            {
                Dataset = parseResult.GetValue(dataset) ?? preset.Dataset,
                DataDirectory = settings.DataDirectory, Seed = settings.Seed, Device = settings.Device,
                TrainImages = parseResult.GetValue(trainImages) ?? preset.TrainImages,
                TestImages = parseResult.GetValue(testImages) ?? preset.TestImages,
                ClassifierEpochs = parseResult.GetValue(classifierEpochs) ?? preset.ClassifierEpochs,
                AeGanEpochs = parseResult.GetValue(aeganEpochs) ?? preset.AeGanEpochs,
                MiaedEpochs = miaed ?? preset.MiaedEpochs,
                Epsilons = parseResult.GetValue(epsilon) is { Length: > 0 } budgets ? budgets : preset.Epsilons,
                OutputPath = parseResult.GetValue(output)?.FullName ?? preset.OutputPath,
                ImageGridPath = parseResult.GetValue(images)?.FullName,
            };
            var jsonFile = parseResult.GetValue(json);
            string presetName = parseResult.GetValue(full) ? "full" : "default";
            return CommandRunner.Run(console, settings, context => Run(context, options, presetName, jsonFile));
        });
        return command;
    }

    private static int Run(CommandContext context, DefendedPipelineJobOptions options, string preset, FileInfo? jsonFile)
    {
        var result = ProgressDisplay.Run(context.Console, display =>
            DefendedPipelineJob.Run(options, new InlineProgress<DefendedPipelineJobProgress>(p =>
                display.Report($"[{p.StageIndex + 1}/{DefendedPipelineJob.Stages.Count}] {p.Stage}", p.Detail, p.Fraction, p.Remaining)),
                context.Cancellation));
        Render(context.Console.Out, result);
        JsonResults.Write(context.Console, jsonFile, ToJson(result, preset, jsonFile?.DirectoryName ?? Environment.CurrentDirectory));
        return 0;
    }

    private static string Rate(double value) => $"{value * 100:F1}%";

    private static string Auc(double? value) => value is double v ? $"{v:F3}" : "—";

    private static void Render(IAnsiConsole console, DefendedPipelineJobResult r)
    {
        var o = r.Options;
        string shortened = o.DescribeShortening();
        console.MarkupLine($"[bold]Classifier A[/] on {Markup.Escape(o.Dataset)}: test accuracy [bold]{r.Classifier.TestAccuracy:F4}[/] after "
                         + $"{r.Classifier.Epochs} epochs on {r.Classifier.TrainImages} images ({r.Classifier.TrainSeconds:F0} s); "
                         + $"SAEC, AE-GAN+sr and MIAED fitted in {r.PipelineFitSeconds:F0} s.");
        var table = new Table()
            .Title($"The defended pipeline on {Markup.Escape(o.Dataset)} (attacks computed on classifier A alone, L-inf ε = {string.Join(", ", o.Epsilons)})")
            .Caption(Markup.Escape($"{r.Device} · {r.Threads} threads · libtorch {r.TorchVersion} · seed {o.Seed} · total {r.TotalSeconds:F0} s"
                                 + (shortened.Length > 0 ? $" · shortened training: {shortened} (--full for the papers')" : "")))
            .AddColumn("images").AddNumberColumns("n", "accuracy\nundefended", "accuracy\npurified", "SAEC\nflagged", "AE-GAN+sr\nflagged",
                                                  "MIAED\nflagged", "any\nflagged", "handled\ncorrectly", "AUC SAEC /\nAE-GAN / MIAED");
        foreach (var s in r.Sets)
            table.AddRow(s.Epsilon is { } e ? $"{s.Set} ε {e}" : s.Set, $"{s.Images}", Rate(s.UndefendedAccuracy), Rate(s.PurifiedAccuracy), Rate(s.SaecFlagged), Rate(s.AeGanFlagged),
                         Rate(s.MiaedFlagged), Rate(s.AnyFlagged), $"[bold]{Rate(s.HandledCorrectly)}[/]",
                         s.SaecAuc is null ? "—" : $"{Auc(s.SaecAuc)} / {Auc(s.AeGanAuc)} / {Auc(s.MiaedAuc)}");
        console.Write(table);
        console.WriteLine("Flagged on clean images = false positives. Handled correctly: clean — classified correctly and not flagged; "
                        + "adversarial — flagged, or classified correctly (MixDefense's Acc_RC, Eq. 8).");

        console.MarkupLine($"Saved [bold]{Markup.Escape(r.ModelPath)}[/] ({r.ModelBytes / 1e6:F1} MB); reloaded: "
                         + (r.ReloadedRowsAgreeing == r.ReloadedRowsCompared
                             ? $"[green]same outputs on all {r.ReloadedRowsCompared} test images[/]"
                             : $"[red]outputs differ on {r.ReloadedRowsCompared - r.ReloadedRowsAgreeing} of {r.ReloadedRowsCompared} test images[/]"));
        if (r.Examples.Count > 0)
        {
            var examples = new Table().Title("Single predictions by the reloaded model (prediction engine)")
                .AddColumn("image").AddColumn("true").AddColumn("predicted").AddNumberColumns("p").AddColumn("flagged by");
            foreach (var e in r.Examples)
                examples.AddRow($"{e.Set} #{e.Index}", Markup.Escape(e.TrueLabel), Markup.Escape(e.PredictedLabel), $"{e.Confidence:F3}",
                                e.Flags.Count == 0 ? "—" : $"[yellow]{Markup.Escape(string.Join(", ", e.Flags))}[/]");
            console.Write(examples);
        }
        if (r.ImageGridPath is { } grid) console.MarkupLine($"Images: [bold]{Markup.Escape(grid)}[/] (rows: {Markup.Escape(string.Join(", ", r.ImageGridRows))}).");
        if (r.Device == "cpu" && o.TrainImages is not null)
            console.WriteLine("Short training on a CPU: the numbers show the pipeline working, not the papers' figures (see the README and `mldefense bench`).");
    }

    private static JsonObject ToJson(DefendedPipelineJobResult r, string preset, string jsonFolder) => new()
    {
        ["dataset"] = r.Options.Dataset,
        ["preset"] = preset,
        ["shortened"] = r.Options.DescribeShortening(),
        ["threads"] = r.Threads,
        ["device"] = r.Device,
        ["torch_version"] = r.TorchVersion,
        ["seed"] = r.Options.Seed,
        ["total_seconds"] = JsonResults.Seconds(r.TotalSeconds),
        ["classifier"] = new JsonObject
        {
            ["architecture"] = ClassifierTraining.ShortName(r.Classifier.Architecture),
            ["epochs"] = r.Classifier.Epochs,
            ["train_images"] = r.Classifier.TrainImages,
            ["test_accuracy"] = r.Classifier.TestAccuracy,
            ["train_seconds"] = JsonResults.Seconds(r.Classifier.TrainSeconds),
        },
        ["pipeline_fit_seconds"] = JsonResults.Seconds(r.PipelineFitSeconds),
        ["rows"] = new JsonArray(r.Sets.Select(s => (JsonNode)new JsonObject
        {
            ["set"] = s.Set,
            ["epsilon"] = s.Epsilon,
            ["images"] = s.Images,
            ["undefended_accuracy"] = s.UndefendedAccuracy,
            ["purified_accuracy"] = s.PurifiedAccuracy,
            ["saec_flagged"] = s.SaecFlagged,
            ["aegan_flagged"] = s.AeGanFlagged,
            ["miaed_flagged"] = s.MiaedFlagged,
            ["any_flagged"] = s.AnyFlagged,
            ["handled_correctly"] = s.HandledCorrectly,
            ["saec_auc"] = s.SaecAuc,
            ["aegan_auc"] = s.AeGanAuc,
            ["miaed_auc"] = s.MiaedAuc,
        }).ToArray()),
        ["model_path"] = r.ModelPath,
        ["model_bytes"] = r.ModelBytes,
        ["reloaded_rows_agreeing"] = r.ReloadedRowsAgreeing,
        ["reloaded_rows_compared"] = r.ReloadedRowsCompared,
        ["examples"] = new JsonArray(r.Examples.Select(e => (JsonNode)new JsonObject
        {
            ["set"] = e.Set,
            ["index"] = e.Index,
            ["true_label"] = e.TrueLabel,
            ["predicted_label"] = e.PredictedLabel,
            ["confidence"] = e.Confidence,
            ["flags"] = new JsonArray(e.Flags.Select(f => (JsonNode)f).ToArray()),
        }).ToArray()),
        ["image_grids"] = r.ImageGridPath is { } grid
            ? new JsonArray(new ImageGridReference($"{r.Options.Dataset}: clean, adversarial (ε = {r.Options.LargestEpsilon}) and purified images",
                                                   grid, r.ImageGridRows).ToJson(jsonFolder))
            : new JsonArray(),
    };
}

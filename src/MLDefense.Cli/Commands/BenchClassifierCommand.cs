using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense bench classifier</c>: the papers' target classifiers, their test accuracy and training time.</summary>
public static class BenchClassifierCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var quick = CommonOptions.Quick($"A short run (within 10 minutes on two CPU cores) instead of the full one. It shortens: {ClassifierBenchmark.QuickShortens}.");
        var only = CommonOptions.Only($"Run only these cases (repeat the option or separate with commas): {string.Join(", ", ClassifierBenchmark.FullCases.Select(c => c.Key))}. Default: all.",
                                      "DATASET/ARCH", keys => ClassifierBenchmark.Select(ClassifierBenchmark.FullCases, keys));
        var json = CommonOptions.Json("{\"quick\", \"quick_shortens\", \"threads\", \"device\", \"torch_version\", \"seed\", \"total_seconds\", "
            + "\"rows\": [{\"dataset\", \"architecture\", \"epochs\", \"test_accuracy\", \"train_seconds\", \"train_images\", \"test_images\", "
            + "\"evaluate_seconds\", \"target\", \"meets_target\"}]} — target and meets_target are null for cases without a target");

        var command = new Command("classifier",
            "Trains the papers' target classifiers — C1 on MNIST and on Fashion-MNIST, Defense-GAN's A on both, C2 on the CIFAR-10 subset — "
          + "with the architectures' paper settings, and reports test accuracy and training time against the targets of the full run: "
          + $"C1 MNIST >= {ClassifierBenchmark.MnistTarget:F3}, A MNIST >= {ClassifierBenchmark.MnistTarget:F3}, A Fashion-MNIST >= {ClassifierBenchmark.FashionMnistTarget:F2}.")
        {
            quick, only, json,
        };
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            bool isQuick = parseResult.GetValue(quick);
            var cases = isQuick ? ClassifierBenchmark.QuickCases : ClassifierBenchmark.FullCases;
            if (parseResult.GetValue(only) is { Length: > 0 } keys) cases = ClassifierBenchmark.Select(cases, keys);
            var options = new ClassifierBenchmarkOptions { Cases = cases, DataDirectory = settings.DataDirectory, Seed = settings.Seed, Device = settings.Device };
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, settings, context => Run(context, options, isQuick, jsonFile));
        });
        return command;
    }

    private static int Run(CommandContext context, ClassifierBenchmarkOptions options, bool quick, FileInfo? jsonFile)
    {
        var result = ProgressDisplay.Run(context.Console, display =>
            ClassifierBenchmark.Run(options, new InlineProgress<ClassifierBenchmarkProgress>(p =>
                TrainingProgressText.Show(display, $"[{p.CaseIndex + 1}/{p.CaseCount}] {p.Case.Key} ", p.Status)), context.Cancellation));
        Render(context.Console.Out, result, quick);
        JsonResults.Write(context.Console, jsonFile, ToJson(result, quick));
        return 0;
    }

    private static void Render(IAnsiConsole console, ClassifierBenchmarkResult r, bool quick)
    {
        var table = new Table()
            .Title(quick ? "Classifier benchmark (quick run)" : "Classifier benchmark")
            .Caption(Markup.Escape(BenchmarkRunText.Caption(r) + (quick ? " · targets are for the full run" : "")))
            .AddColumn("dataset")
            .AddColumn("architecture")
            .AddNumberColumns("epochs", "train images", "test images", "test accuracy", "train s")
            .AddColumn("target");
        foreach (var row in r.Rows)
            table.AddRow(
                Markup.Escape(row.Case.Dataset), ClassifierTraining.ShortName(row.Case.Architecture), $"{row.Epochs}", $"{row.TrainImages}",
                $"{row.TestImages}", $"{row.TestAccuracy:F4}", $"{row.TrainSeconds:F1}",
                row.Case.TargetAccuracy is double target
                    ? $">= {target:F3} " + TableText.PassFail(row.MeetsTarget == true)
                    : "—");
        console.Write(table);
        if (!quick) return;
        console.WriteLine("--quick shortens:");
        foreach (var row in r.Rows) console.WriteLine($"  {ClassifierBenchmark.Describe([row.Case])}");
    }

    private static JsonObject ToJson(ClassifierBenchmarkResult r, bool quick) =>
        new(BenchmarkRunText.JsonHeader(r, quick ? ClassifierBenchmark.Describe(r.Rows.Select(row => row.Case)) : null))
    {
        ["rows"] = new JsonArray(r.Rows.Select(row => (JsonNode)new JsonObject
        {
            ["dataset"] = row.Case.Dataset,
            ["architecture"] = ClassifierTraining.ShortName(row.Case.Architecture),
            ["epochs"] = row.Epochs,
            ["test_accuracy"] = row.TestAccuracy,
            ["train_seconds"] = JsonResults.Seconds(row.TrainSeconds),
            ["train_images"] = row.TrainImages,
            ["test_images"] = row.TestImages,
            ["evaluate_seconds"] = JsonResults.Seconds(row.EvaluateSeconds),
            ["target"] = row.Case.TargetAccuracy,
            ["meets_target"] = row.MeetsTarget,
        }).ToArray()),
    };
}

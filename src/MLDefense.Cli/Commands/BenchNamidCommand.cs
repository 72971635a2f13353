using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense bench namid</c>: NAMID against Standard AT, TRADES and MART (issue 26).</summary>
public static class BenchNamidCommand
{
    /// <summary>The seeds of <c>--quick</c> unless <c>--seeds</c> says otherwise.</summary>
    public const int QuickSeeds = 1;

    /// <summary>The seeds of the full run (the protocol: each claim averaged over 3 seeds) unless <c>--seeds</c> says otherwise.</summary>
    public const int FullSeeds = 3;

    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var quick = CommonOptions.Quick("A short run, one seed unless --seeds says otherwise: 2000 training and 500 test images, 5 epochs; Fashion-MNIST only (C1) unless --only names "
            + "gtsrb-subset or cifar10-subset (C2).");
        var json = CommonOptions.Json("{\"quick\", \"seconds\", \"standard_at_seconds_per_epoch\", \"train_images\", \"paper_scale_hours_estimate\", \"notes\", "
            + "\"rows\": [{\"dataset\", \"method\", \"attack\", \"mean_accuracy\", \"std\", \"seeds\"}]}");
        var methods = CommonOptions.Choices("--methods", "Run only these methods (comma-separated or repeated): " + string.Join(", ", NamidBenchmark.Methods.Select(m => m.Name))
            + ". NAMID variants need standard_at (their estimators' target model) in the same run, or train one.", NamidBenchmark.Methods.Select(m => m.Name).ToArray());
        var datasets = CommonOptions.Only("Run only these datasets (repeat the option or separate with commas): "
            + string.Join(", ", NamidBenchmark.FullCases.Select(c => c.Dataset)) + ". Default: all three (--quick: fashion-mnist).",
            "DATASET", keys => CommonOptions.SelectCases(NamidBenchmark.FullCases, c => c.Dataset, keys));
        var seeds = OptionParsers.Create("--seeds",
            $"Train and evaluate every method with this many seeds (--seed, --seed + 1, ...) and report the mean and the sample standard deviation. "
            + $"Default: {QuickSeeds} with --quick, {FullSeeds} for the full run.", "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var command = new Command("namid",
            "NAMID (Zhou et al., ICML 2022) on each adversarial-training loss against Standard AT, TRADES and MART, with Fig. 5's ablations, on equal footing "
          + "(same architecture, data, seed, epochs, PGD-10 training with step eps/4; SGD momentum 0.9, weight decay 2e-4, batch 64, lr 0.02 / 10 at 75% and 90% "
          + "of the epochs): natural accuracy, L-inf PGD-40, CW-L2, L2 PGD-40 and L-inf APGD-CE (100 iterations). Full run: Fashion-MNIST (C1), the GTSRB subset "
          + "and the CIFAR-10 subset (C2), 3 seeds (--seeds). "
          + "Prints a paper-scale cost estimate from the measured standard-AT epoch.")
        {
            quick, json, methods, datasets, seeds,
        };
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            bool isQuick = parseResult.GetValue(quick);
            var jsonFile = parseResult.GetValue(json);
            var only = parseResult.GetValue(methods) is { Length: > 0 } names ? names : null;
            var named = parseResult.GetValue(datasets) is { Length: > 0 } keys ? keys : null;
            int seedCount = parseResult.GetValue(seeds) ?? (isQuick ? QuickSeeds : FullSeeds);
            return CommandRunner.Run(console, settings, context =>
            {
                var all = isQuick ? NamidBenchmark.QuickCases : NamidBenchmark.FullCases;
                var cases = CommonOptions.SelectCases(all, c => c.Dataset, named ?? (isQuick ? NamidBenchmark.QuickDefault : all.Select(c => c.Dataset).ToArray()));
                var result = ProgressDisplay.Run(context.Console, display =>
                    NamidBenchmark.Run(cases, seedCount, settings.Seed, settings.DataDirectory,
                        settings.Device, stage => display.Report(stage, "", 0), context.Cancellation, only));
                Render(context.Console.Out, result, isQuick);
                JsonResults.Write(context.Console, jsonFile, ToJson(result, isQuick));
                return 0;
            });
        });
        return command;
    }

    private static void Render(IAnsiConsole console, NamidBenchmarkResult r, bool quick)
    {
        var table = new Table().Title(quick ? "NAMID benchmark (quick run)" : "NAMID benchmark")
            .Caption(Markup.Escape(double.IsNaN(r.StandardAtSecondsPerEpoch)
                ? $"{r.TotalSeconds:F0} s · standard_at not run: no per-epoch time, so no paper-scale estimate"
                : $"{r.TotalSeconds:F0} s · standard AT {r.StandardAtSecondsPerEpoch:F1} s/epoch on {r.TrainImages} images · paper scale (ResNet-18, "
                + $"50,000 CIFAR-10 images, 100 epochs of PGD-10) ≈ {r.PaperScaleHoursEstimate:F0} h here, scaled by FLOPs"))
            .AddColumn("dataset").AddColumn("method").AddColumn("attack").AddNumberColumns("accuracy", "std", "seeds");
        foreach (var row in r.Rows)
            table.AddRow(Markup.Escape(row.Dataset), Markup.Escape(row.Method), row.Attack, $"{row.MeanAccuracy:P2}", $"{row.Std:P2}", $"{row.Seeds}");
        console.Write(table);
        foreach (var note in r.Notes) console.WriteLine(Markup.Escape(note));
    }

    /// <summary>
    /// The <c>--json</c> document. The per-epoch time and the paper-scale estimate are null when the run had no standard_at
    /// (they are measured on it): JSON has no NaN, and System.Text.Json refuses to write one.
    /// </summary>
    public static JsonObject ToJson(NamidBenchmarkResult r, bool quick) => new()
    {
        ["quick"] = quick,
        ["seconds"] = Math.Round(r.TotalSeconds, 1),
        ["standard_at_seconds_per_epoch"] = Measured(r.StandardAtSecondsPerEpoch, 2),
        ["train_images"] = r.TrainImages,
        ["paper_scale_hours_estimate"] = Measured(r.PaperScaleHoursEstimate, 0),
        ["notes"] = new JsonArray(r.Notes.Select(n => (JsonNode)JsonValue.Create(n)).ToArray()),
        ["rows"] = new JsonArray(r.Rows.Select(row => (JsonNode)new JsonObject
        {
            ["dataset"] = row.Dataset, ["method"] = row.Method, ["attack"] = row.Attack,
            ["mean_accuracy"] = row.MeanAccuracy, ["std"] = row.Std, ["seeds"] = row.Seeds,
        }).ToArray()),
    };

    private static JsonNode? Measured(double value, int digits) => double.IsFinite(value) ? JsonValue.Create(Math.Round(value, digits)) : null;
}

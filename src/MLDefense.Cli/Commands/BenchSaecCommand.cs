using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using MLDefense.Evaluation;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense bench saec</c>: MixDefense's SAEC layer under the MixDefense protocol (issue 5).</summary>
public static class BenchSaecCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var quick = CommonOptions.Quick($"A short run instead of the full one. It shortens: {SaecBenchmark.Describe(SaecBenchmark.QuickCases)}.");
        var json = CommonOptions.Json("{\"quick\", \"quick_shortens\", \"threads\", \"device\", \"torch_version\", \"seed\", \"total_seconds\", "
            + "\"cases\": [{\"dataset\", \"architecture\", \"epochs\", \"train_images\", \"test_images\", \"classifier_accuracy\", \"train_seconds\", "
            + "\"threshold\", \"clean_fpr\", \"noise_auc\", \"scoring_images_per_s\"}], "
            + "\"rows\": [{\"dataset\", \"attack\", \"norm\", \"epsilon\", \"acc_detector\", \"acc_rc\", \"tpr\", \"fpr\", \"auc\", \"pairs\", "
            + "\"target\", \"meets_target\"}]} — target and meets_target are null for rows without a target");

        var command = new Command("saec",
            "MixDefense's SAEC detector (defaults: target FPR 1%, fitted on the clean training images) under the MixDefense protocol — "
          + "half clean images, half successful adversarial examples — on the CIFAR-10 subset with C2 and on MNIST with C1: FGSM and BIM "
          + "under L-inf (CIFAR: {1,2,4,6,8,12,16}/255; MNIST: 0.1, 0.2, 0.3), FGM and BIM under L2 at eps2 = eps_inf * sqrt(C*H*W) / 2; "
          + "BIM takes 10 steps of eps/4. Reports Acc_Detector, Acc_RC, TPR, FPR, AUC per budget and SAEC's scoring speed, against the "
          + $"target Acc_Detector >= {SaecBenchmark.TargetAccuracy:F2} on the CIFAR-10 subset for L-inf FGSM and BIM at eps >= 8/255 with FPR <= "
          + $"{SaecBenchmark.TargetFalsePositiveRate:P0}.")
        {
            quick, json,
        };
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            bool isQuick = parseResult.GetValue(quick);
            var options = new SaecBenchmarkOptions
            {
                Cases = isQuick ? SaecBenchmark.QuickCases : SaecBenchmark.FullCases,
                DataDirectory = settings.DataDirectory, Seed = settings.Seed, Device = settings.Device,
            };
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, settings, context => Run(context, options, isQuick, jsonFile));
        });
        return command;
    }

    private static int Run(CommandContext context, SaecBenchmarkOptions options, bool quick, FileInfo? jsonFile)
    {
        var result = ProgressDisplay.Run(context.Console, display =>
            SaecBenchmark.Run(options, new InlineProgress<SaecBenchmarkProgress>(p =>
                display.Report($"[{p.CaseIndex + 1}/{p.CaseCount}] {p.Case.Key} {p.Stage}", p.Detail, p.Fraction)), context.Cancellation));
        Render(context.Console.Out, result, quick);
        JsonResults.Write(context.Console, jsonFile, ToJson(result, quick));
        return 0;
    }

    private static string Epsilon(MixDefenseRow row) =>
        row.Norm == "linf" && row.Dataset == "cifar10-subset" ? $"{row.Epsilon * 255:0.##}/255" : $"{row.Epsilon:0.###}";

    private static void Render(IAnsiConsole console, SaecBenchmarkResult r, bool quick)
    {
        var cases = new Table()
            .Title(quick ? "SAEC benchmark (quick run): classifiers and SAEC" : "SAEC benchmark: classifiers and SAEC")
            .AddColumn("case").AddNumberColumns("epochs", "train / test images", "classifier acc", "threshold", "clean FPR", "noise AUC", "SAEC images/s");
        foreach (var c in r.Cases)
            cases.AddRow(Markup.Escape(c.Case.Key), $"{c.Epochs}", $"{c.TrainImages} / {c.TestImages}", $"{c.ClassifierAccuracy:F4}",
                         $"{c.Calibration.Threshold:G4}", $"{c.CleanFalsePositiveRate:P1}",
                         c.Calibration.NoiseAuc is double auc ? $"{auc:F3}" : "—", $"{c.ScoringImagesPerSecond:F0}");
        console.Write(cases);

        var rows = new Table()
            .Title("MixDefense protocol: half clean, half successful AEs")
            .Caption(Markup.Escape($"{BenchmarkRunText.Caption(r)} · "
                                 + $"target: Acc_Detector >= {SaecBenchmark.TargetAccuracy:F2} and FPR <= {SaecBenchmark.TargetFalsePositiveRate:P0} "
                                 + "(cifar10-subset, L-inf FGSM/BIM, eps >= 8/255)"))
            .AddColumn("dataset").AddColumn("attack").AddColumn("norm").AddNumberColumns("ε", "pairs", "Acc_Detector", "Acc_RC", "TPR", "FPR", "AUC").AddColumn("target");
        foreach (var row in r.Rows)
            rows.AddRow(Markup.Escape(row.Dataset), row.Attack, row.Norm, Epsilon(row), $"{row.Pairs}", $"{row.AccDetector:F4}", $"{row.AccRc:F4}",
                        $"{row.Tpr:F4}", $"{row.Fpr:F4}", $"{row.Auc:F4}",
                        SaecBenchmark.MeetsTarget(row) is bool meets ? TableText.PassFail(meets) : "—");
        console.Write(rows);
        if (quick) console.WriteLine($"--quick shortens: {SaecBenchmark.Describe(r.Cases.Select(c => c.Case))}");
    }

    private static JsonObject ToJson(SaecBenchmarkResult r, bool quick) =>
        new(BenchmarkRunText.JsonHeader(r, quick ? SaecBenchmark.Describe(r.Cases.Select(c => c.Case)) : null))
    {
        ["cases"] = new JsonArray(r.Cases.Select(c => (JsonNode)new JsonObject
        {
            ["dataset"] = c.Case.Dataset,
            ["architecture"] = ClassifierTraining.ShortName(c.Case.Architecture),
            ["epochs"] = c.Epochs,
            ["train_images"] = c.TrainImages,
            ["test_images"] = c.TestImages,
            ["classifier_accuracy"] = c.ClassifierAccuracy,
            ["train_seconds"] = JsonResults.Seconds(c.TrainSeconds),
            ["threshold"] = c.Calibration.Threshold,
            ["clean_fpr"] = c.CleanFalsePositiveRate,
            ["noise_auc"] = c.Calibration.NoiseAuc,
            ["scoring_images_per_s"] = Math.Round(c.ScoringImagesPerSecond, 1),
        }).ToArray()),
        ["rows"] = new JsonArray(r.Rows.Select(row => (JsonNode)new JsonObject
        {
            ["dataset"] = row.Dataset,
            ["attack"] = row.Attack,
            ["norm"] = row.Norm,
            ["epsilon"] = row.Epsilon,
            ["acc_detector"] = row.AccDetector,
            ["acc_rc"] = row.AccRc,
            ["tpr"] = row.Tpr,
            ["fpr"] = row.Fpr,
            ["auc"] = row.Auc,
            ["pairs"] = row.Pairs,
            ["target"] = SaecBenchmark.HasTarget(row) ? SaecBenchmark.TargetAccuracy : null,
            ["meets_target"] = SaecBenchmark.MeetsTarget(row),
        }).ToArray()),
    };
}

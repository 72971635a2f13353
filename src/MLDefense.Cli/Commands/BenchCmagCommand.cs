using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense bench cmag</c>: the CMAG detector under its paper's protocol (issue 25).</summary>
public static class BenchCmagCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var quick = CommonOptions.Quick($"A short run instead of the full one: {CmagBenchmark.Describe(CmagBenchmark.QuickCases)}; CW-L2 with {CmagBenchmark.QuickCwBudget.Describe().Replace(", κ 0", "")}.");
        var json = CommonOptions.Json("{\"quick\", \"quick_shortens\", \"threads\", \"device\", \"torch_version\", \"seed\", \"total_seconds\", \"cw_budget\", "
            + "\"cases\": [{\"dataset\", \"architecture\", \"train_images\", \"test_images\", \"classifier_accuracy\", \"classifier_seconds\", \"cmag_seconds\", "
            + "\"cmag_epochs\", \"cmag_batch_size\", \"reconstructor_epoch_seconds\", \"global_reconstructor_epoch_seconds\", \"thr_ssim\", \"thr_l2\", "
            + "\"calibrated_threshold\", \"paper_rule_heldout_fpr\", \"calibrated_rule_heldout_fpr\"}], "
            + "\"rows\": [{\"dataset\", \"attack\", \"intensity\", \"method\", \"rule\", \"detection_accuracy\", \"tpr\", \"fpr\", \"auc\", \"mean_ssim\", \"mean_l2\", "
            + "\"pairs\", \"attacked\", \"meets_target\"}], \"clean\": [{\"dataset\", \"method\", \"rule\", \"clean_fpr\", \"mean_ssim\", \"mean_l2\", \"images\"}]} — "
            + "detection_accuracy is the accuracy on the balanced pairs (successful AEs and their clean images), tpr the share of the AEs flagged; "
            + "rule is paper (Alg. 2's training-set extremes) or calibrated (held-out target FPR 1%)");
        int? Whole(System.CommandLine.Parsing.ArgumentResult r, int minimum) => OptionParsers.WholeNumber(r, minimum: minimum);
        var trainImages = OptionParsers.Create("--train-images", "Training images (classifier and CMAG) instead of the preset's.", "N", r => (int?)Whole(r, 20));
        var testImages = OptionParsers.Create("--test-images", "Test images attacked instead of the preset's.", "N", r => (int?)Whole(r, 1));
        var classifierEpochs = OptionParsers.Create("--classifier-epochs", "Classifier epochs instead of the preset's.", "N", r => (int?)Whole(r, 1));
        var cmagEpochs = OptionParsers.Create("--cmag-epochs", "CMAG epochs per stage of Alg. 1 instead of the preset's (full: 50).", "N", r => (int?)Whole(r, 1));
        var cmagBatch = OptionParsers.Create("--cmag-batch", "CMAG's training batch instead of the preset's (full: the paper's 2000).", "N", r => (int?)Whole(r, 1));
        var cwConstant = OptionParsers.Create("--cw-constant", "CW-L2's initial c instead of the preset's (100).", "C", r => (double?)OptionParsers.PositiveNumber(r));
        var cwIterations = OptionParsers.Create("--cw-iterations", "CW-L2's Adam iterations per binary-search step instead of the preset's.", "N", r => (int?)Whole(r, 1));
        var cwSteps = OptionParsers.Create("--cw-steps", "CW-L2's binary-search steps instead of the preset's.", "N", r => (int?)Whole(r, 1));
        var cwRate = OptionParsers.Create("--cw-learning-rate", "CW-L2's Adam learning rate instead of Carlini and Wagner's 0.01.", "LR", r => (double?)OptionParsers.PositiveNumber(r));
        var command = new Command("cmag",
            "CMAG (Han, Li, Xia 2021) under its paper's protocol: the target classifier (C1 on MNIST and Fashion-MNIST, C2 on the GTSRB subset at 32x32) "
          + "exposes its feature map and probabilities to ml.Transforms.Defenses.Cmag, fitted on the clean training images (Alg. 1: FMR and LR, then GR; "
          + "Adam 1e-3, batch 2000); FGSM at lambda 0.1, 0.2, 0.3 and CW-L2 at confidence 9, 19, 29 attack the test images; detection on balanced pairs "
          + "under Alg. 2's thresholds and under a threshold calibrated to 1% FPR on held-out clean rows, and the clean FPR on all the test images. "
          + "The issue's defense-aware attack runs too: rows PGD-adaptive, L-inf PGD at eps 0.3 (20 steps of eps/10) ascending CE - w * CMAG's score "
          + "through the whole cascade, intensity = w (1, 10). "
          + $"Target: detection accuracy >= {CmagBenchmark.TargetAccuracy:F2} in every cell. MagNet and Defense-GAN are not run.")
        {
            quick, json, trainImages, testImages, classifierEpochs, cmagEpochs, cmagBatch, cwConstant, cwIterations, cwSteps, cwRate,
        };
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            bool isQuick = parseResult.GetValue(quick);
            var cases = (isQuick ? CmagBenchmark.QuickCases : CmagBenchmark.FullCases).Select(c => c with
            {
                TrainImages = parseResult.GetValue(trainImages) ?? c.TrainImages,
                TestImages = parseResult.GetValue(testImages) ?? c.TestImages,
                ClassifierEpochs = parseResult.GetValue(classifierEpochs) ?? c.ClassifierEpochs,
                CmagEpochs = parseResult.GetValue(cmagEpochs) ?? c.CmagEpochs,
                CmagBatchSize = parseResult.GetValue(cmagBatch) ?? c.CmagBatchSize,
            }).ToArray();
            var options = new CmagBenchmarkOptions
            {
                Cases = cases,
                CwBudget = (isQuick ? CmagBenchmark.QuickCwBudget : CmagBenchmark.FullCwBudget) is var budget ? budget with
                {
                    InitialConstant = parseResult.GetValue(cwConstant) ?? budget.InitialConstant,
                    Iterations = parseResult.GetValue(cwIterations) ?? budget.Iterations,
                    BinarySearchSteps = parseResult.GetValue(cwSteps) ?? budget.BinarySearchSteps,
                } : null!,
                CwLearningRate = parseResult.GetValue(cwRate) ?? 0.01,
                DataDirectory = settings.DataDirectory, Seed = settings.Seed, Device = settings.Device,
            };
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, settings, context => Run(context, options, isQuick, jsonFile));
        });
        return command;
    }

    private static int Run(CommandContext context, CmagBenchmarkOptions options, bool quick, FileInfo? jsonFile)
    {
        var result = ProgressDisplay.Run(context.Console, display =>
            CmagBenchmark.Run(options, new InlineProgress<CmagBenchmarkProgress>(p => display.Report($"{p.Case.Dataset} {p.Stage}", p.Detail, p.Fraction)),
                context.Cancellation));
        Render(context.Console.Out, result, quick);
        JsonResults.Write(context.Console, jsonFile, ToJson(result, quick));
        return 0;
    }

    private static string F(double value, string format = "F4") => double.IsNaN(value) ? "—" : value.ToString(format, CultureInfo.InvariantCulture);

    private static void Render(IAnsiConsole console, CmagBenchmarkResult r, bool quick)
    {
        var cases = new Table().Title(quick ? "CMAG benchmark (quick run): classifiers and CMAG" : "CMAG benchmark: classifiers and CMAG")
            .AddColumn("dataset").AddNumberColumns("train / test", "classifier acc", "CMAG epochs × batch", "s / epoch (FMR+LR, GR)", "Thr_SSIM", "Thr_L2",
                "held-out FPR paper / calibrated");
        foreach (var c in r.Cases)
            cases.AddRow(Markup.Escape(c.Case.Dataset), $"{c.TrainImages} / {c.TestImages}", F(c.ClassifierAccuracy), $"{c.CmagEpochs}+{c.CmagEpochs} × {c.CmagBatchSize}",
                $"{F(c.ReconstructorEpochSeconds, "F1")}, {F(c.GlobalReconstructorEpochSeconds, "F1")}", F(c.Info.SsimThreshold), F(c.Info.L2Threshold),
                $"{c.Info.PaperRuleCalibrationFalsePositiveRate:P1} / {c.Info.CalibratedRuleCalibrationFalsePositiveRate:P1}");
        console.Write(cases);

        var rows = new Table().Title("Tables 3–7: balanced pairs (successful AEs and their clean images)")
            .Caption(Markup.Escape($"{BenchmarkRunText.Caption(r)} · CW-L2 {r.CwBudget} · target detection accuracy >= {CmagBenchmark.TargetAccuracy:F2}"))
            .AddColumn("dataset").AddColumn("attack").AddNumberColumns("intensity").AddColumn("rule").AddNumberColumns("pairs", "det. acc", "TPR", "FPR", "AUC", "mean SSIM", "mean L2")
            .AddColumn("target");
        foreach (var row in r.Cases.SelectMany(c => c.Rows))
            rows.AddRow(Markup.Escape(row.Dataset), row.Attack, row.Intensity.ToString(CultureInfo.InvariantCulture), row.Rule, $"{row.Pairs}/{row.Attacked}",
                F(row.DetectionAccuracy), F(row.Tpr), F(row.Fpr), F(row.Auc), F(row.MeanSsim), F(row.MeanL2, "F3"),
                row.Pairs == 0 ? "—" : TableText.PassFail(CmagBenchmark.MeetsTarget(row)));
        console.Write(rows);

        var clean = new Table().Title("Clean test images (Table 7's legitimate column; the clean FPR the paper does not report)")
            .AddColumn("dataset").AddColumn("rule").AddNumberColumns("images", "clean FPR", "mean SSIM", "mean L2");
        foreach (var row in r.Cases.SelectMany(c => c.CleanRows))
            clean.AddRow(Markup.Escape(row.Dataset), row.Rule, $"{row.Images}", F(row.CleanFpr), F(row.MeanSsim), F(row.MeanL2, "F3"));
        console.Write(clean);
        if (quick) console.WriteLine($"--quick shortens: {CmagBenchmark.Describe(r.Cases.Select(c => c.Case))}");
    }

    private static JsonNode? Number(double value) => double.IsNaN(value) ? null : JsonValue.Create(value);

    private static JsonObject ToJson(CmagBenchmarkResult r, bool quick) =>
        new(BenchmarkRunText.JsonHeader(r, quick ? CmagBenchmark.Describe(r.Cases.Select(c => c.Case)) : null))
    {
        ["cw_budget"] = r.CwBudget,
        ["cases"] = new JsonArray(r.Cases.Select(c => (JsonNode)new JsonObject
        {
            ["dataset"] = c.Case.Dataset,
            ["architecture"] = c.Case.Architecture.ToString(),
            ["train_images"] = c.TrainImages,
            ["test_images"] = c.TestImages,
            ["classifier_accuracy"] = c.ClassifierAccuracy,
            ["classifier_seconds"] = JsonResults.Seconds(c.ClassifierSeconds),
            ["cmag_seconds"] = JsonResults.Seconds(c.CmagSeconds),
            ["cmag_epochs"] = c.CmagEpochs,
            ["cmag_batch_size"] = c.CmagBatchSize,
            ["reconstructor_epoch_seconds"] = Number(Math.Round(c.ReconstructorEpochSeconds, 3)),
            ["global_reconstructor_epoch_seconds"] = Number(Math.Round(c.GlobalReconstructorEpochSeconds, 3)),
            ["thr_ssim"] = c.Info.SsimThreshold,
            ["thr_l2"] = c.Info.L2Threshold,
            ["calibrated_threshold"] = c.Info.CalibratedThreshold,
            ["paper_rule_heldout_fpr"] = c.Info.PaperRuleCalibrationFalsePositiveRate,
            ["calibrated_rule_heldout_fpr"] = c.Info.CalibratedRuleCalibrationFalsePositiveRate,
        }).ToArray()),
        ["rows"] = new JsonArray(r.Cases.SelectMany(c => c.Rows).Select(row => (JsonNode)new JsonObject
        {
            ["dataset"] = row.Dataset,
            ["attack"] = row.Attack,
            ["intensity"] = row.Intensity,
            ["method"] = row.Method,
            ["rule"] = row.Rule,
            ["detection_accuracy"] = Number(row.DetectionAccuracy),
            ["tpr"] = Number(row.Tpr),
            ["fpr"] = Number(row.Fpr),
            ["auc"] = Number(row.Auc),
            ["mean_ssim"] = Number(row.MeanSsim),
            ["mean_l2"] = Number(row.MeanL2),
            ["pairs"] = row.Pairs,
            ["attacked"] = row.Attacked,
            ["meets_target"] = row.Pairs == 0 ? null : CmagBenchmark.MeetsTarget(row),
        }).ToArray()),
        ["clean"] = new JsonArray(r.Cases.SelectMany(c => c.CleanRows).Select(row => (JsonNode)new JsonObject
        {
            ["dataset"] = row.Dataset,
            ["method"] = row.Method,
            ["rule"] = row.Rule,
            ["clean_fpr"] = row.CleanFpr,
            ["mean_ssim"] = row.MeanSsim,
            ["mean_l2"] = row.MeanL2,
            ["images"] = row.Images,
        }).ToArray()),
    };
}

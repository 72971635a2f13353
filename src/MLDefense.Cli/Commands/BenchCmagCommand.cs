using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using MLDefense.Reporting;
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
            + "\"calibrated_threshold\", \"paper_rule_heldout_fpr\", \"calibrated_rule_heldout_fpr\", \"training_mean_ssim\", \"training_mean_l2\", \"baselines\": [{\"method\", \"settings\", \"thr_ssim\", \"thr_l2\", "
            + "\"calibrated_threshold\", \"threshold_images\", \"calibration_images\", \"paper_rule_heldout_fpr\", \"calibrated_rule_heldout_fpr\", "
            + "\"training_mean_ssim\", \"training_mean_l2\", \"test_images_scored\", \"train_seconds\", \"threshold_seconds\"}]}], "
            + "\"rows\": [{\"dataset\", \"attack\", \"intensity\", \"method\", \"rule\", \"detection_accuracy\", \"tpr\", \"fpr\", \"auc\", \"mean_ssim\", \"mean_l2\", "
            + "\"pairs\", \"attacked\", \"meets_target\"}], \"clean\": [{\"dataset\", \"method\", \"rule\", \"clean_fpr\", \"mean_ssim\", \"mean_l2\", \"images\"}], "
            + "\"image_grids\": [{\"title\", \"path\", \"rows\"}]} — method is cmag, magnet or defensegan; "
            + "detection_accuracy is the accuracy on the balanced pairs (successful AEs and their clean images), tpr the share of the AEs flagged; "
            + "rule is paper (Alg. 2's training-set extremes) or calibrated (held-out target FPR 1%). Beside the JSON file, one PNG per dataset "
            + "(PATH-DATASET.png): a few test images, clean and attacked, with CMAG's, MagNet's and Defense-GAN's reconstructions; mldefense report shows it");
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
        var baselines = BaselinesOption();
        var datasetNames = CmagBenchmark.FullCases.Select(c => c.Dataset).ToArray();
        var only = CommonOptions.Only($"Run only these datasets (comma-separated or repeated): {string.Join(", ", datasetNames)}. Default: all three; "
            + "with --quick, mnist. With --quick each named dataset runs its quick preset (the same sizes and settings as mnist's; the GTSRB subset with C2).",
            "DATASET", names => CommonOptions.SelectCases(CmagBenchmark.FullCases, c => c.Dataset, names));
        var command = new Command("cmag",
            "CMAG (Han, Li, Xia 2021) under its paper's protocol: the target classifier (C1 on MNIST and Fashion-MNIST, C2 on the GTSRB subset at 32x32) "
          + "exposes its feature map and probabilities to ml.Transforms.Defenses.Cmag, fitted on the clean training images (Alg. 1: FMR and LR, then GR; "
          + "Adam 1e-3, batch 2000); FGSM at lambda 0.1, 0.2, 0.3 and CW-L2 at confidence 9, 19, 29 attack the test images; detection on balanced pairs "
          + "under Alg. 2's thresholds and under a threshold calibrated to 1% FPR on held-out clean rows, and the clean FPR on all the test images. "
          + "The issue's defense-aware attack runs too: rows PGD-adaptive, L-inf PGD at eps 0.3 (20 steps of eps/10) ascending CE - w * CMAG's score "
          + "through the whole cascade, intensity = w (1, 10). "
          + "MagNet (x' = G(F(x))) and Defense-GAN (x' = G(z*) after its latent search) run on the same examples with one autoencoder, AE-GAN's F and G, "
          + "trained on CMAG's training rows, and are scored with CMAG's rules (SSIM and L2 of x', Alg. 2's thresholds and the calibrated one). "
          + $"Target: detection accuracy >= {CmagBenchmark.TargetAccuracy:F2} in every cell.")
        {
            quick, json, trainImages, testImages, classifierEpochs, cmagEpochs, cmagBatch, cwConstant, cwIterations, cwSteps, cwRate, baselines, only,
        };
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            bool isQuick = parseResult.GetValue(quick);
            var named = parseResult.GetValue(only);
            var selected = named is { Length: > 0 }
                ? CommonOptions.SelectCases(isQuick ? CmagBenchmark.QuickPresets : CmagBenchmark.FullCases, c => c.Dataset, named)
                : isQuick ? CmagBenchmark.QuickCases : CmagBenchmark.FullCases;
            var cases = selected.Select(c => c with
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
                Baselines = SelectedBaselines(parseResult, baselines),
                DataDirectory = settings.DataDirectory, Seed = settings.Seed, Device = settings.Device,
            };
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, settings, context => Run(context, options, isQuick, jsonFile));
        });
        return command;
    }

    /// <summary><c>--baselines METHOD[,METHOD...]|none</c>: which of the paper's comparisons run beside CMAG (read it with <see cref="SelectedBaselines"/>).</summary>
    public static Option<string[]> BaselinesOption() => CommonOptions.Choices("--baselines",
        $"Run only these of the paper's comparisons beside CMAG (comma-separated or repeated): {string.Join(", ", CmagBenchmark.AvailableBaselines)}, "
      + "or none. Default: both.", CmagBenchmark.AvailableBaselines, allowNone: true);

    /// <summary>
    /// The baselines <paramref name="option"/> asks for: both (<see cref="CmagBenchmark.AvailableBaselines"/>) when it is not given — an array
    /// option's value is then empty, not null, which is also what <c>--baselines none</c> gives — else the ones named.
    /// </summary>
    public static IReadOnlyList<string> SelectedBaselines(ParseResult parseResult, Option<string[]> option) =>
        parseResult.GetResult(option) is null ? CmagBenchmark.AvailableBaselines : parseResult.GetValue(option) ?? [];

    private static int Run(CommandContext context, CmagBenchmarkOptions options, bool quick, FileInfo? jsonFile)
    {
        var result = ProgressDisplay.Run(context.Console, display =>
            CmagBenchmark.Run(options, new InlineProgress<CmagBenchmarkProgress>(p => display.Report($"{p.Case.Dataset} {p.Stage}", p.Detail, p.Fraction)),
                context.Cancellation));
        Render(context.Console.Out, result, quick);
        if (jsonFile is not null)
        {
            var grids = WriteImageGrids(result, jsonFile.FullName);
            foreach (var grid in grids) context.Console.Out.MarkupLineInterpolated($"Images: [blue]{grid.Path}[/] (rows: {string.Join(", ", grid.Rows)}).");
            var json = ToJson(result, quick);
            string folder = Path.GetDirectoryName(jsonFile.FullName) ?? ".";
            json["image_grids"] = new JsonArray(grids.Select(g => (JsonNode)g.ToJson(folder)).ToArray());
            JsonResults.Write(context.Console, jsonFile, json);
        }
        return 0;
    }

    /// <summary>Each case's examples as a PNG beside the JSON file (<c>PATH-DATASET.png</c>), with the entry <c>mldefense report</c> reads.</summary>
    public static List<ImageGridReference> WriteImageGrids(CmagBenchmarkResult result, string jsonPath)
    {
        var grids = new List<ImageGridReference>();
        string stem = Path.Combine(Path.GetDirectoryName(jsonPath) ?? ".", Path.GetFileNameWithoutExtension(jsonPath));
        foreach (var c in result.Cases)
        {
            if (c.Examples is not { Rows.Count: > 0 } e) continue;
            string path = $"{stem}-{c.Case.Dataset}.png";
            ImageGrid.SavePng(e.Rows, e.Shape, path);
            grids.Add(new ImageGridReference($"{c.Case.Dataset}: what each detector reconstructs (CMAG's x' is what the classifier sees, Sec. 3.3) — test images " +
                string.Join(", ", e.TestIndices), path, e.RowNames));
        }
        return grids;
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

        var baselineRows = r.Cases.SelectMany(c => c.Baselines.Select(b => (c.Case.Dataset, b))).ToList();
        if (baselineRows.Count > 0)
        {
            var baselines = new Table().Title("The paper's comparisons, scored with CMAG's rules (same training rows, same held-out rows)")
                .AddColumn("dataset").AddColumn("method").AddNumberColumns("Thr_SSIM", "Thr_L2", "threshold / held-out rows", "held-out FPR paper / calibrated", "test images", "s (train, thresholds)")
                .AddColumn("settings");
            foreach (var (dataset, b) in baselineRows)
                baselines.AddRow(Markup.Escape(dataset), b.Method, F(b.SsimThreshold), F(b.L2Threshold), $"{b.ThresholdImages} / {b.CalibrationImages}",
                    $"{b.PaperRuleHeldOutFpr:P1} / {b.CalibratedRuleHeldOutFpr:P1}", $"{b.TestImagesScored}", $"{b.TrainSeconds:F0}, {b.ThresholdSeconds:F0}", Markup.Escape(b.Settings));
            console.Write(baselines);
        }

        var rows = new Table().Title("Tables 3–7: balanced pairs (successful AEs and their clean images)")
            .Caption(Markup.Escape($"{BenchmarkRunText.Caption(r)} · CW-L2 {r.CwBudget} · target detection accuracy >= {CmagBenchmark.TargetAccuracy:F2}"))
            .AddColumn("dataset").AddColumn("attack").AddNumberColumns("intensity").AddColumn("method").AddColumn("rule").AddNumberColumns("pairs", "det. acc", "TPR", "FPR", "AUC", "mean SSIM", "mean L2")
            .AddColumn("target");
        foreach (var row in r.Cases.SelectMany(c => c.Rows))
            rows.AddRow(Markup.Escape(row.Dataset), row.Attack, row.Intensity.ToString(CultureInfo.InvariantCulture), row.Method, row.Rule, $"{row.Pairs}/{row.Attacked}",
                F(row.DetectionAccuracy), F(row.Tpr), F(row.Fpr), F(row.Auc), F(row.MeanSsim), F(row.MeanL2, "F3"),
                row.Pairs == 0 || row.Method != "cmag" ? "—" : TableText.PassFail(CmagBenchmark.MeetsTarget(row)));
        console.Write(rows);

        var clean = new Table().Title("Clean test images (Table 7's legitimate column; the clean FPR the paper does not report)")
            .AddColumn("dataset").AddColumn("method").AddColumn("rule").AddNumberColumns("images", "clean FPR", "mean SSIM", "mean L2");
        foreach (var row in r.Cases.SelectMany(c => c.CleanRows))
            clean.AddRow(Markup.Escape(row.Dataset), row.Method, row.Rule, $"{row.Images}", F(row.CleanFpr), F(row.MeanSsim), F(row.MeanL2, "F3"));
        console.Write(clean);
        if (quick) console.WriteLine($"--quick shortens: {CmagBenchmark.Describe(r.Cases.Select(c => c.Case))}");
    }

    private static JsonNode? Number(double value) => double.IsNaN(value) ? null : JsonValue.Create(value);

    /// <summary>The JSON <c>--json</c> writes, less its <c>image_grids</c> (which <see cref="WriteImageGrids"/> gives).</summary>
    public static JsonObject ToJson(CmagBenchmarkResult r, bool quick) =>
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
            ["training_mean_ssim"] = c.Info.TrainingMeanSsim,
            ["training_mean_l2"] = c.Info.TrainingMeanL2,
            ["baselines"] = new JsonArray(c.Baselines.Select(b => (JsonNode)new JsonObject
            {
                ["method"] = b.Method,
                ["settings"] = b.Settings,
                ["thr_ssim"] = b.SsimThreshold,
                ["thr_l2"] = b.L2Threshold,
                ["calibrated_threshold"] = b.CalibratedThreshold,
                ["threshold_images"] = b.ThresholdImages,
                ["calibration_images"] = b.CalibrationImages,
                ["paper_rule_heldout_fpr"] = b.PaperRuleHeldOutFpr,
                ["calibrated_rule_heldout_fpr"] = b.CalibratedRuleHeldOutFpr,
                ["training_mean_ssim"] = b.TrainingMeanSsim,
                ["training_mean_l2"] = b.TrainingMeanL2,
                ["test_images_scored"] = b.TestImagesScored,
                ["train_seconds"] = JsonResults.Seconds(b.TrainSeconds),
                ["threshold_seconds"] = JsonResults.Seconds(b.ThresholdSeconds),
            }).ToArray()),
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
            ["meets_target"] = row.Pairs == 0 || row.Method != "cmag" ? null : CmagBenchmark.MeetsTarget(row),
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

using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Evaluation;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense bench aegan</c>: AE-GAN+sr against MagNet- and Defense-GAN-style purification on classifier A (issue 6, AE-GAN Table 1).</summary>
public static class BenchAeganCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var full = AeGanBenchmarkOptions.Full;
        var paper = new MLDefense.Defenses.AeGanOptions();
        var quick = CommonOptions.Quick($"A short run (about 10-15 minutes on two CPU cores) instead of the full one (sized for a GPU). It shortens: "
                                      + $"{AeGanBenchmark.Describe(AeGanBenchmark.QuickCases)}; CW-L2 to {AeGanBenchmarkOptions.Quick.CarliniWagner.Describe()}.");
        var only = CommonOptions.Only($"Run only these datasets (repeat the option or separate with commas): {string.Join(", ", full.Cases.Select(c => c.Dataset))}. Default: both.",
                                      "DATASET", names => CommonOptions.SelectCases(full.Cases, c => c.Dataset, names));
        var datasets = full.Cases.Select(c => c.Dataset).ToArray();
        var model = CommonOptions.KeyedPaths("--model", "A trained classifier A for a dataset, as DATASET=PATH (a zip from `mldefense train-classifier --dataset DATASET "
            + "--architecture a`); repeat for both datasets. Default: train A first, as the preset says (the targets assume the fully trained A).", "DATASET", datasets);
        var purifier = CommonOptions.KeyedPaths("--purifier", "A trained AE-GAN purifier for a dataset, as DATASET=PATH (a zip --save-purifiers wrote, or any saved model "
            + "holding one), evaluated instead of training one; the search options below replace its saved ones. Default: train AE-GAN, as the preset says.", "DATASET", datasets);
        var savePurifiers = new Option<DirectoryInfo>("--save-purifiers")
        {
            Description = "Save each AE-GAN purifier the run trains to DIR/aegan-DATASET.zip (the folder is created), to evaluate it again with --purifier; "
                        + "while training, keep DIR/aegan-DATASET.checkpoint at each epoch's end, so that the same command, run again after an interruption "
                        + "(Ctrl+C, a crash), resumes the training after its last completed epoch. Default: not saved.",
            HelpName = "DIR",
        };
        var searchSteps = OptionParsers.Create("--search-steps", $"L, AE-GAN+sr's search steps for flagged images. Default: {full.SearchSteps} (the paper's).",
                                               "L", r => (int?)OptionParsers.WholeNumber(r, minimum: 0));
        var stepSize = OptionParsers.Create("--search-step-size", $"η, AE-GAN+sr's initial search step size on ||G(z) - x||^2 (halved every 5 steps). "
                                            + $"Default: {paper.SearchStepSize.ToString(CultureInfo.InvariantCulture)} (AeGanOptions.SearchStepSize).",
                                            "ETA", r => (double?)OptionParsers.PositiveNumber(r));
        var restarts = OptionParsers.Create("--defensegan-restarts", $"R, the Defense-GAN-style search's random starts. Default: {full.DefenseGanRestarts} (Defense-GAN's).",
                                            "R", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var iterations = OptionParsers.Create("--defensegan-iterations", $"L, the Defense-GAN-style search's iterations. Default: {full.DefenseGanIterations} (Defense-GAN's).",
                                              "L", r => (int?)OptionParsers.WholeNumber(r, minimum: 0));
        var purifierEpochs = OptionParsers.Create("--purifier-epochs", "AE-GAN's training epochs instead of the preset's. Default: "
                                                    + $"{AeGanBenchmark.QuickCases[0].PurifierEpochs} with --quick, else {paper.Epochs} (Table 4).",
                                                  "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var purifierWidth = OptionParsers.Create("--purifier-width", "AE-GAN's channel width w (the networks use w, 2w, 4w) instead of the preset's. Default: "
                                                    + $"{AeGanBenchmark.QuickCases[0].PurifierBaseChannels} with --quick, else {paper.BaseChannels} (Table 6).",
                                                 "W", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var purifierImages = OptionParsers.Create("--purifier-images", "Train AE-GAN on the first N training images instead of the preset's. Default: "
                                                    + $"{AeGanBenchmark.QuickCases[0].PurifierTrainImages} with --quick, else all.",
                                                  "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 2));
        var purifierWeight = OptionParsers.Create("--purifier-reconstruction-weight", "AE-GAN's λ, the weight of the reconstruction term ||G(F(x + eta)) - x||^2 "
                                                    + "(summed over the image's values) against the GAN term in Eq. 5. Default: "
                                                    + $"{paper.ReconstructionWeight.ToString(CultureInfo.InvariantCulture)} (Eq. 5's unweighted sum; "
                                                    + "1/784 weighs a per-value mean on 28x28 images).",
                                                  "LAMBDA", r => (double?)OptionParsers.PositiveNumber(r));
        var purifierLatent = OptionParsers.Create("--purifier-latent", "AE-GAN's latent dimension k. Default: "
                                                    + $"{paper.LatentDimension} (Table 4; Table 8 also uses 20).",
                                                  "K", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var purifierRate = OptionParsers.Create("--purifier-learning-rate", "AE-GAN's Adam learning rate instead of the preset's. Default: "
                                                    + $"{AeGanBenchmark.QuickCases[0].PurifierLearningRate?.ToString(CultureInfo.InvariantCulture)} with --quick, else {paper.LearningRate.ToString(CultureInfo.InvariantCulture)} (Table 4).",
                                                "RATE", r => (double?)OptionParsers.PositiveNumber(r));
        var purifierBatch = OptionParsers.Create("--purifier-batch-size", "AE-GAN's minibatch size instead of the preset's. Default: "
                                                    + $"{AeGanBenchmark.QuickCases[0].PurifierBatchSize} with --quick, else {paper.BatchSize} (Table 4).",
                                                 "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 2));
        var purifierNoise = OptionParsers.Create("--purifier-noise-bound", "AE-GAN's noise-regularisation bound b: each batch trains F on x + N(0, sigma^2) "
                                                    + "noise with sigma ~ U[0, b] (0 trains without \"+r\"). Default: "
                                                    + $"{paper.NoiseBound.ToString(CultureInfo.InvariantCulture)} (AeGanOptions.NoiseBound).",
                                                  "B", r => (double?)OptionParsers.NonNegativeNumber(r));
        var images = OptionParsers.Create("--images", "Attack and purify the first N test images instead of the preset's (for a busy machine). Default: "
                                                    + $"{AeGanBenchmark.QuickCases[0].TestImages} with --quick, else {full.Cases[0].TestImages}.",
                                          "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var defenseGanImages = OptionParsers.Create("--defensegan-images", "Purify the first N of them with the Defense-GAN-style search (0 skips it). Default: "
                                                    + $"{AeGanBenchmark.QuickCases[0].DefenseGanImages} with --quick, else {full.Cases[0].DefenseGanImages}.",
                                          "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 0));
        var bpdaImages = OptionParsers.Create("--bpda-images", "Attack the first N test images through the purifier (BPDA-PGD; 0 skips it). Default: "
                                                    + $"{AeGanBenchmark.QuickCases[0].BpdaImages} with --quick, else {full.Cases[0].BpdaImages}.",
                                          "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 0));
        var whiteBox = new Option<bool>("--white-box")
        {
            Description = "Also run the paper's white-box rows (Sec. 3.1: the attack knows the classifier and the defense; Table 1's white-box rows): FGSM, PGD "
                        + "and CW-L2 differentiated through the defense, as Defense-GAN's official white-box code does — through G(F(x)) (judged by magnet and "
                        + "aegan), through AE-GAN+sr with its L search steps unrolled (second derivatives of G; judged by aegan), and through the "
                        + "Defense-GAN-style search with its R*L steps unrolled (judged by defensegan). Rows carry \"threat\": \"white-box\" and are graded "
                        + "against the issue's bars; the gray-box rows (attacks on A alone) against the paper's gray-box figures. Default: gray-box only.",
        };
        var whiteBoxImages = OptionParsers.Create("--white-box-images", "With --white-box, attack the first N test images through G(F(x)) and through the unrolled "
                                                    + $"search. Default: {AeGanBenchmark.QuickCases[0].WhiteBoxImages} with --quick, else {full.Cases[0].WhiteBoxImages}.",
                                                  "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 0));
        var whiteBoxDefenseGanImages = OptionParsers.Create("--white-box-defensegan-images", "With --white-box, attack the first N test images through the unrolled "
                                                    + "Defense-GAN-style search (0 skips it; each input gradient differentiates R*L steps of G twice). Default: "
                                                    + $"{AeGanBenchmark.QuickCases[0].WhiteBoxDefenseGanImages} with --quick, else {full.Cases[0].WhiteBoxDefenseGanImages}.",
                                                  "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 0));
        var whiteBoxAttacks = AttackList("--white-box-attacks", "The attacks run through G(F(x)) and through the unrolled AE-GAN+sr search, comma-separated, "
                                         + $"of {string.Join(", ", AeGanBenchmark.Attacks)}. Default: all.");
        var whiteBoxDefenseGanAttacks = AttackList("--white-box-defensegan-attacks", "The attacks run through the unrolled Defense-GAN-style search, "
                                                   + $"comma-separated, of {string.Join(", ", AeGanBenchmark.Attacks)}. Default: {string.Join(",", full.WhiteBoxDefenseGanAttacks)} "
                                                   + "(PGD costs its 40 iterations times as much, CW-L2 its binary steps times iterations).");
        var whiteBoxDefenseGanBatch = OptionParsers.Create("--white-box-defensegan-batch-size", "Images per batch of the attacks through the unrolled Defense-GAN-style "
                                                    + $"search (its graph holds R*L steps of G per image). Default: {full.WhiteBoxDefenseGanBatchSize}.",
                                                  "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var curve = CommonOptions.Curve("each purifier the run trains (AE-GAN's epochs)", "--save-purifiers");
        var curveImages = CommonOptions.CurveImages(new AeGanBenchmarkOptions().CurveTestImages);
        var json = CommonOptions.Json("{\"quick\", \"quick_shortens\", \"threads\", \"device\", \"torch_version\", \"seed\", \"cw_settings\", \"total_seconds\", "
            + "\"cases\": [{\"dataset\", \"classifier\", \"classifier_accuracy\", \"classifier_train_seconds\", \"purifier\", \"purifier_epochs\", \"purifier_train_images\", "
            + "\"purifier_width\", \"purifier_reconstruction_weight\", \"purifier_latent_dimension\", \"purifier_noise_bound\", \"purifier_learning_rate\", \"purifier_batch_size\", \"purifier_train_seconds\", \"purifier_losses\", \"threshold\", \"training_fpr\", \"clean_test_flagged\", \"search_step_size\", "
            + "\"search_trace\": {\"images\", \"clean\", \"fgsm\", \"clean_reduction\", \"fgsm_reduction\"}, \"search_cost\": {\"aegan_images\", \"aegan_ms_per_image\", \"defensegan_images\", "
            + "\"defensegan_ms_per_image\", \"speedup\", \"target_speedup\", \"meets_target\"}, \"clean_within_1_5_points\", \"at_least_as_accurate_as_defensegan\", "
            + "\"detection\": [{\"epsilon\", \"auc\", \"tpr_at_fpr_5pct\", \"tpr\", \"fpr\", \"pairs\"}]}], "
            + "\"rows\": [{\"dataset\", \"attack\", \"method\", \"accuracy\", \"ms_per_image\", \"search_steps\", \"clean_accuracy\", \"undefended_accuracy\", "
            + "\"undefended_clean_accuracy\", \"searched_fraction\", \"images\", \"threat\", \"attack_through\", \"attack_ms_per_image\", \"target\", \"meets_target\", "
            + "\"paper_gray_box\", \"paper_white_box\"}], "
            + "\"curve\": [{\"dataset\", \"epoch\", \"test_images\", \"fit_seconds\", \"attack\", \"method\", \"accuracy\", \"clean_accuracy\", \"searched_fraction\"}]} — "
            + "threat gray-box: the attack is computed on A alone (attack_through classifier); white-box: through the defense (attack_through reconstruction, "
            + "search, defensegan-search, or bpda for BPDA-PGD); target and meets_target are null for rows without a target");

        var command = new Command("aegan",
            "AE-GAN+sr (AE-GAN Table 1) on MNIST and Fashion-MNIST with Defense-GAN's classifier A: FGSM eps 0.3, PGD eps 0.3 (40 steps of 0.01, random start) "
          + "and CW-L2 are computed on A, then purified by none, magnet (G(F(x))), defensegan (Defense-GAN-style search on the same decoder, "
          + $"R = {full.DefenseGanRestarts}, L = {full.DefenseGanIterations}) and aegan (AE-GAN+sr, L = {full.SearchSteps} for flagged images). Reports accuracy "
          + "on purified AEs and clean images, ms per image and search steps; the detection AUC of the reconstruction error for FGSM eps 0.1, 0.2, 0.3; "
          + "accuracy under BPDA-PGD (PGD through purifier and A, the search treated as the identity); the search's effect on ||G(z) - x||^2 and "
          + "the cost of both searches; with --white-box, the paper's white-box rows (attacks through the defense). Targets (full run, AE-GAN+sr): "
          + "white-box MNIST >= 0.97 on all three attacks, Fashion-MNIST FGSM >= 0.80, PGD >= 0.81, CW >= 0.76 (the issue's, from Table 1's white-box row); "
          + "gray-box the paper's gray-box figures (MNIST 0.882 / 0.910 / 0.915, Fashion-MNIST FGSM 0.604); "
          + $"clean accuracy within 1.5 points of A's; at least as accurate as defensegan and >= {AeGanBenchmark.TargetSpeedup:0}x cheaper per searched image.")
        {
            quick, only, model, purifier, savePurifiers, purifierEpochs, purifierWidth, purifierImages, purifierWeight, purifierLatent, purifierNoise, purifierRate, purifierBatch, searchSteps, stepSize, restarts, iterations, images, defenseGanImages, bpdaImages,
            whiteBox, whiteBoxImages, whiteBoxAttacks, whiteBoxDefenseGanImages, whiteBoxDefenseGanAttacks, whiteBoxDefenseGanBatch, curve, curveImages, json,
        };
        command.Validators.Add(result =>
        {
            if (result.GetResult(curve) is { } curveResult && !curveResult.Errors.Any() && result.GetResult(savePurifiers) is null)
                result.AddError("--curve: a learning curve keeps its checkpoint and probes in a folder: give --save-purifiers DIR.");
        });
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            bool isQuick = parseResult.GetValue(quick);
            var preset = isQuick ? AeGanBenchmarkOptions.Quick : AeGanBenchmarkOptions.Full;
            var cases = preset.Cases;
            if (parseResult.GetValue(only) is { Length: > 0 } names) cases = CommonOptions.SelectCases(cases, c => c.Dataset, names);
            cases = cases.Select(c => c with
            {
                TestImages = parseResult.GetValue(images) ?? c.TestImages,
                DefenseGanImages = parseResult.GetValue(defenseGanImages) ?? c.DefenseGanImages,
                BpdaImages = parseResult.GetValue(bpdaImages) ?? c.BpdaImages,
                WhiteBoxImages = parseResult.GetValue(whiteBoxImages) ?? c.WhiteBoxImages,
                WhiteBoxDefenseGanImages = parseResult.GetValue(whiteBoxDefenseGanImages) ?? c.WhiteBoxDefenseGanImages,
                PurifierEpochs = parseResult.GetValue(purifierEpochs) ?? c.PurifierEpochs,
                PurifierBaseChannels = parseResult.GetValue(purifierWidth) ?? c.PurifierBaseChannels,
                PurifierTrainImages = parseResult.GetValue(purifierImages) ?? c.PurifierTrainImages,
                PurifierReconstructionWeight = parseResult.GetValue(purifierWeight) ?? c.PurifierReconstructionWeight,
                PurifierLatentDimension = parseResult.GetValue(purifierLatent) ?? c.PurifierLatentDimension,
                PurifierNoiseBound = parseResult.GetValue(purifierNoise) ?? c.PurifierNoiseBound,
                PurifierLearningRate = parseResult.GetValue(purifierRate) ?? c.PurifierLearningRate,
                PurifierBatchSize = parseResult.GetValue(purifierBatch) ?? c.PurifierBatchSize,
            }).ToArray();
            // A path for a dataset the run skips (--only) is left out, not refused.
            Dictionary<string, string> Paths(Option<Dictionary<string, string>> option) =>
                (parseResult.GetValue(option) ?? []).Where(p => cases.Any(c => c.Dataset == p.Key)).ToDictionary();
            var options = preset with
            {
                Cases = cases,
                ModelPaths = Paths(model),
                PurifierPaths = Paths(purifier),
                PurifierSaveDirectory = parseResult.GetValue(savePurifiers)?.FullName,
                CurveEpochs = parseResult.GetValue(curve) ?? [],
                CurveTestImages = parseResult.GetValue(curveImages) ?? preset.CurveTestImages,
                SearchSteps = parseResult.GetValue(searchSteps) ?? preset.SearchSteps,
                SearchStepSize = parseResult.GetValue(stepSize) ?? preset.SearchStepSize,
                DefenseGanRestarts = parseResult.GetValue(restarts) ?? preset.DefenseGanRestarts,
                DefenseGanIterations = parseResult.GetValue(iterations) ?? preset.DefenseGanIterations,
                WhiteBox = parseResult.GetValue(whiteBox),
                WhiteBoxAttacks = parseResult.GetValue(whiteBoxAttacks) is { Length: > 0 } chosen ? chosen : preset.WhiteBoxAttacks,
                WhiteBoxDefenseGanAttacks = parseResult.GetValue(whiteBoxDefenseGanAttacks) is { Length: > 0 } dganAttacks ? dganAttacks : preset.WhiteBoxDefenseGanAttacks,
                WhiteBoxDefenseGanBatchSize = parseResult.GetValue(whiteBoxDefenseGanBatch) ?? preset.WhiteBoxDefenseGanBatchSize,
                DataDirectory = settings.DataDirectory,
                Seed = settings.Seed,
                Device = settings.Device,
            };
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, settings, context => Run(context, options, isQuick, jsonFile));
        });
        return command;
    }

    /// <summary>A comma-separated (or repeated) list of the benchmark's attacks, case-insensitive, returned in their own spelling.</summary>
    private static Option<string[]> AttackList(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "ATTACKS",
        AllowMultipleArgumentsPerToken = true,
        CustomParser = result =>
        {
            var names = CommonOptions.SplitList(result.Tokens);
            var unknown = names.Where(n => !AeGanBenchmark.Attacks.Contains(n, StringComparer.OrdinalIgnoreCase)).ToArray();
            if (names.Length == 0 || unknown.Length > 0)
            {
                result.AddError($"{name}: '{string.Join(",", names.Length == 0 ? [""] : unknown)}' is not among {string.Join(", ", AeGanBenchmark.Attacks)}.");
                return [];
            }
            return names.Select(n => AeGanBenchmark.Attacks.First(a => a.Equals(n, StringComparison.OrdinalIgnoreCase))).Distinct().ToArray();
        },
    };

    private static int Run(CommandContext context, AeGanBenchmarkOptions options, bool quick, FileInfo? jsonFile)
    {
        var result = ProgressDisplay.Run(context.Console, display =>
            AeGanBenchmark.Run(options, new InlineProgress<AeGanBenchmarkProgress>(p =>
                display.Report($"[{p.CaseIndex + 1}/{p.CaseCount}] {p.Dataset} {p.Stage}", p.Detail, p.Fraction)), context.Cancellation));
        Render(context.Console, result, quick);
        JsonResults.Write(context.Console, jsonFile, ToJson(result, quick));
        return 0;
    }

    /// <summary>Table 1's shape: per dataset, a row per attack (then clean images and BPDA), a column per method (accuracy in %).</summary>
    internal static string Table1(AeGanBenchmarkResult r)
    {
        var table = new MarkdownTable(
            MarkdownColumn.Text("Dataset"), MarkdownColumn.Text("Attack"), MarkdownColumn.Numeric("No defense"), MarkdownColumn.Numeric("MagNet"),
            MarkdownColumn.Numeric("Defense-GAN"), MarkdownColumn.Numeric("AE-GAN+sr"), MarkdownColumn.Text("AE-GAN+sr target"),
            MarkdownColumn.Numeric("paper, gray-box"));
        foreach (var c in r.Cases)
        {
            var gray = c.Rows.Where(row => row.Threat == AeGanBenchmark.GrayBox).ToList();
            foreach (var attack in AeGanBenchmark.Attacks)
            {
                var cells = AeGanBenchmark.Methods.Select(m => gray.FirstOrDefault(row => row.Attack == attack && row.Method == m) is { } row
                    ? MarkdownTable.Percent(row.Accuracy) + (m == "defensegan" ? $" ({row.Images})" : "") : "—");
                var aegan = gray.FirstOrDefault(row => row.Attack == attack && row.Method == "aegan");
                table.AddRow([c.Case.Dataset, attack, .. cells, TargetCell(aegan),
                              AeGanBenchmark.PaperGrayBox(c.Case.Dataset, attack, "aegan") is double paper ? MarkdownTable.Percent(paper) : "—"]);
            }
            var cleanCells = AeGanBenchmark.Methods.Select(m => gray.FirstOrDefault(row => row.Attack == "FGSM" && row.Method == m) is { } row
                ? MarkdownTable.Percent(row.CleanAccuracy) + (m == "defensegan" ? $" ({row.Images})" : "") : "—");
            table.AddRow([c.Case.Dataset, "clean", .. cleanCells, c.CleanAccuracyWithinTolerance ? "within 1.5 points: pass" : "within 1.5 points: fail", "—"]);
            if (c.Rows.FirstOrDefault(row => row.Attack == AeGanBenchmark.BpdaAttackName) is { } bpda)
                table.AddRow(c.Case.Dataset, $"{AeGanBenchmark.BpdaAttackName} ({bpda.Images})", "—", "—", "—", MarkdownTable.Percent(bpda.Accuracy), "no target", "—");
            var timing = AeGanBenchmark.Methods.Select(m => gray.Where(row => row.Method == m).ToArray() is { Length: > 0 } rows
                ? MarkdownTable.Number(rows.Average(row => row.MsPerImage), 3) : "—");
            string speed = c.Cost is { } cost
                ? $"search {cost.Speedup:F0}x cheaper: {(cost.Speedup >= AeGanBenchmark.TargetSpeedup ? "pass" : "fail")}" : "—";
            table.AddRow([c.Case.Dataset, "ms / image", .. timing, speed, "—"]);
        }
        return table.ToString();

        static string TargetCell(AeGanBenchmarkRow? row) => row?.Target is double t
            ? $">= {MarkdownTable.Percent(t)}: {(row.MeetsTarget == true ? "pass" : "fail")}" : "—";
    }

    /// <summary>
    /// The white-box rows in Table 1's shape: per dataset and attack, a row per attacked model (A∘G∘F, A after the unrolled
    /// AE-GAN+sr search, A after the unrolled Defense-GAN-style search) with the accuracy (%) of the methods it was judged by,
    /// AE-GAN+sr's target, the paper's white-box figures and the attack's cost; null without white-box rows.
    /// </summary>
    internal static string? WhiteBoxTable(AeGanBenchmarkResult r)
    {
        if (!r.Rows.Any(row => row.Threat == AeGanBenchmark.WhiteBox && row.AttackThrough != "bpda")) return null;
        var table = new MarkdownTable(
            MarkdownColumn.Text("Dataset"), MarkdownColumn.Text("Attack"), MarkdownColumn.Text("Attacked model"), MarkdownColumn.Numeric("MagNet"),
            MarkdownColumn.Numeric("Defense-GAN"), MarkdownColumn.Numeric("AE-GAN+sr"), MarkdownColumn.Text("AE-GAN+sr target"),
            MarkdownColumn.Text("paper, white-box (MagNet / Defense-GAN / AE-GAN+sr)"), MarkdownColumn.Numeric("attack ms / image"), MarkdownColumn.Numeric("images"));
        (string Through, string Label)[] paths = [("reconstruction", "A∘G∘F"), ("search", "A∘AE-GAN+sr, search unrolled"), ("defensegan-search", "A∘Defense-GAN-style, search unrolled")];
        foreach (var c in r.Cases)
            foreach (var attack in AeGanBenchmark.Attacks)
                foreach (var (through, label) in paths)
                {
                    var rows = c.Rows.Where(row => row.Threat == AeGanBenchmark.WhiteBox && row.AttackThrough == through && row.Attack == attack).ToList();
                    if (rows.Count == 0) continue;
                    string Cell(string method) => rows.FirstOrDefault(row => row.Method == method) is { } row ? MarkdownTable.Percent(row.Accuracy) : "—";
                    string Paper(string method) => AeGanBenchmark.PaperWhiteBox(c.Case.Dataset, attack, method) is double v ? MarkdownTable.Percent(v) : "—";
                    var aegan = rows.FirstOrDefault(row => row.Method == "aegan");
                    table.AddRow(c.Case.Dataset, attack, label, Cell("magnet"), Cell("defensegan"), Cell("aegan"),
                                 aegan?.Target is double t ? $">= {MarkdownTable.Percent(t)}: {(aegan.MeetsTarget == true ? "pass" : "fail")}" : "—",
                                 $"{Paper("magnet")} / {Paper("defensegan")} / {Paper("aegan")}",
                                 rows[0].AttackMsPerImage is double ms ? MarkdownTable.Number(ms, 1) : "—", $"{rows[0].Images}");
                }
        return table.ToString();
    }

    private static void Render(CliConsole console, AeGanBenchmarkResult r, bool quick)
    {
        var cases = new Table()
            .Title(quick ? "AE-GAN benchmark (quick run): classifier A and the purifier" : "AE-GAN benchmark: classifier A and the purifier")
            .AddColumn("dataset").AddNumberColumns("A acc", "AE-GAN epochs / width / images / λ / k / b", "train s", "threshold", "clean flagged",
                                                   "‖G(z)−x‖² clean: F(x) → z_L", "FGSM: F(x) → z_L", "search ms: aegan / defensegan");
        foreach (var c in r.Cases)
            cases.AddRow(Markup.Escape(c.Case.Dataset), $"{c.ClassifierAccuracy:F4}", $"{c.PurifierOptions.Epochs} / {c.PurifierOptions.BaseChannels} / {c.PurifierTrainImages} / {c.PurifierOptions.ReconstructionWeight:G4} / {c.PurifierOptions.LatentDimension} / {c.PurifierOptions.NoiseBound:G4}",
                         $"{c.PurifierTrainSeconds:F0}", $"{c.Calibration.Threshold:G4}", $"{c.CleanTestFlaggedFraction:P1}",
                         $"{c.Trace.Clean[0]:F2} → {c.Trace.Clean[^1]:F2}", $"{c.Trace.Fgsm[0]:F2} → {c.Trace.Fgsm[^1]:F2}",
                         c.Cost is { } cost ? $"{cost.AeGanMsPerImage:F1} / {cost.DefenseGanMsPerImage:F0}" : "—");
        console.Out.Write(cases);
        console.Out.WriteLine();
        console.Out.MarkupLine(Markup.Escape("Table 1's shape, attacks on A alone (the paper's gray-box setting, graded against its gray-box figures; the issue's "
                                           + "bars come from its white-box rows, which attack through the defense): accuracy (%) of A on purified adversarial examples and clean images; "
                                           + "Defense-GAN on the first (N) images; ms / image averages the attack rows."));
        console.TextOut.Write(Table1(r));
        console.Out.WriteLine();
        if (WhiteBoxTable(r) is { } whiteBoxTable)
        {
            console.Out.MarkupLine(Markup.Escape("White-box rows (Sec. 3.1: the attack differentiates through the defense, as Defense-GAN's white-box code does): "
                                               + "accuracy (%) of A on the purified adversarial examples of each attacked model, judged by the methods it attacks; "
                                               + "attack ms / image is the cost of crafting the examples."));
            console.TextOut.Write(whiteBoxTable);
            console.Out.WriteLine();
        }
        var detection = new MarkdownTable(MarkdownColumn.Text("Dataset"), MarkdownColumn.Numeric("FGSM ε"), MarkdownColumn.Numeric("pairs"),
                                          MarkdownColumn.Numeric("AUC"), MarkdownColumn.Numeric("TPR @ FPR 5% (%)"), MarkdownColumn.Numeric("TPR (%)"),
                                          MarkdownColumn.Numeric("FPR (%)"));
        foreach (var c in r.Cases)
            foreach (var d in c.Detection)
                detection.AddRow(c.Case.Dataset, MarkdownTable.Number(d.Epsilon), $"{d.Pairs}", MarkdownTable.Number(d.Auc), MarkdownTable.Percent(d.TprAtFpr5Percent),
                                 MarkdownTable.Percent(d.Tpr), MarkdownTable.Percent(d.Fpr));
        console.Out.MarkupLine(Markup.Escape("Detection by reconstruction error (successful FGSM AEs against their clean images):"));
        console.TextOut.Write(detection.ToString());
        console.Out.WriteLine();
        console.Out.MarkupLine(Markup.Escape($"{BenchmarkRunText.Caption(r)} · CW-L2: {r.CarliniWagnerSettings}."));
        foreach (var c in r.Cases)
            console.Out.MarkupLine(Markup.Escape($"{c.Case.Dataset}: classifier {c.Classifier}; purifier {c.PurifierSource ?? "trained for this run"}."));
        foreach (var c in r.Cases.Where(c => c.Curve.Count > 0))
        {
            console.Out.WriteLine();
            console.Out.MarkupLine(Markup.Escape($"{c.Case.Dataset} learning curve (accuracy, none / magnet / aegan, on the first {c.Curve[0].TestImages} test images):"));
            console.TextOut.WriteLine(LearningCurves.Table(c.Curve.Select(p => (p.Epoch,
                p.Rows.Select(row => (row.Attack, row.Method, row.Accuracy)).Concat(p.Rows.Where(row => row.Attack == "FGSM").Select(row => ("clean", row.Method, row.CleanAccuracy)))))));
        }
        if (quick)
            console.Out.MarkupLine(Markup.Escape($"--quick shortens: {AeGanBenchmark.Describe(r.Cases)}."
                + (r.Cases.Any(c => c.PurifierSource is not null) ? " A loaded purifier keeps the AE-GAN settings it was trained with (in the table above)." : "")));
    }

    private static JsonArray Numbers(IEnumerable<double> values) => new(values.Select(v => (JsonNode?)Math.Round(v, 5)).ToArray());

    private static JsonObject ToJson(AeGanBenchmarkResult r, bool quick) => new()
    {
        ["quick"] = quick,
        ["quick_shortens"] = quick ? AeGanBenchmark.Describe(r.Cases) : null,
        ["threads"] = r.Threads,
        ["device"] = r.Device,
        ["torch_version"] = r.TorchVersion,
        ["seed"] = r.Seed,
        ["cw_settings"] = r.CarliniWagnerSettings,
        ["total_seconds"] = JsonResults.Seconds(r.TotalSeconds),
        ["cases"] = new JsonArray(r.Cases.Select(c => (JsonNode)new JsonObject
        {
            ["dataset"] = c.Case.Dataset,
            ["classifier"] = c.Classifier,
            ["classifier_accuracy"] = c.ClassifierAccuracy,
            ["classifier_train_seconds"] = JsonResults.Seconds(c.ClassifierTrainSeconds),
            ["purifier"] = c.PurifierSource,
            ["purifier_epochs"] = c.PurifierOptions.Epochs,
            ["purifier_train_images"] = c.PurifierTrainImages,
            ["purifier_width"] = c.PurifierOptions.BaseChannels,
            ["purifier_reconstruction_weight"] = c.PurifierOptions.ReconstructionWeight,
            ["purifier_latent_dimension"] = c.PurifierOptions.LatentDimension,
            ["purifier_noise_bound"] = c.PurifierOptions.NoiseBound,
            ["purifier_learning_rate"] = c.PurifierOptions.LearningRate,
            ["purifier_batch_size"] = c.PurifierOptions.BatchSize,
            ["purifier_train_seconds"] = JsonResults.Seconds(c.PurifierTrainSeconds),
            ["purifier_losses"] = c.PurifierLosses is { } l
                ? new JsonObject { ["discriminator"] = l.DiscriminatorLoss, ["generator"] = l.GeneratorLoss, ["reconstruction"] = l.ReconstructionLoss }
                : null,
            ["threshold"] = c.Calibration.Threshold,
            ["training_fpr"] = c.Calibration.TrainingFalsePositiveRate,
            ["clean_test_flagged"] = c.CleanTestFlaggedFraction,
            ["search_step_size"] = c.SearchStepSize,
            ["search_trace"] = new JsonObject
            {
                ["images"] = c.Trace.Images,
                ["clean"] = Numbers(c.Trace.Clean),
                ["fgsm"] = Numbers(c.Trace.Fgsm),
                ["clean_reduction"] = c.Trace.CleanReduction,
                ["fgsm_reduction"] = c.Trace.FgsmReduction,
            },
            ["search_cost"] = c.Cost is { } cost
                ? new JsonObject
                {
                    ["aegan_images"] = cost.AeGanImages,
                    ["aegan_ms_per_image"] = cost.AeGanMsPerImage,
                    ["defensegan_images"] = cost.DefenseGanImages,
                    ["defensegan_ms_per_image"] = cost.DefenseGanMsPerImage,
                    ["speedup"] = cost.Speedup,
                    ["target_speedup"] = AeGanBenchmark.TargetSpeedup,
                    ["meets_target"] = cost.Speedup >= AeGanBenchmark.TargetSpeedup,
                }
                : null,
            ["clean_within_1_5_points"] = c.CleanAccuracyWithinTolerance,
            ["at_least_as_accurate_as_defensegan"] = c.AtLeastAsAccurateAsDefenseGan,
            ["detection"] = new JsonArray(c.Detection.Select(d => (JsonNode)new JsonObject
            {
                ["epsilon"] = d.Epsilon,
                ["auc"] = Finite(d.Auc),
                ["tpr_at_fpr_5pct"] = Finite(d.TprAtFpr5Percent),
                ["tpr"] = Finite(d.Tpr),
                ["fpr"] = Finite(d.Fpr),
                ["pairs"] = d.Pairs,
            }).ToArray()),
        }).ToArray()),
        ["rows"] = new JsonArray(r.Rows.Select(row => (JsonNode)new JsonObject
        {
            ["dataset"] = row.Dataset,
            ["attack"] = row.Attack,
            ["method"] = row.Method,
            ["accuracy"] = row.Accuracy,
            ["ms_per_image"] = Math.Round(row.MsPerImage, 4),
            ["search_steps"] = row.SearchSteps,
            ["clean_accuracy"] = row.CleanAccuracy,
            ["undefended_accuracy"] = row.UndefendedAccuracy,
            ["undefended_clean_accuracy"] = row.UndefendedCleanAccuracy,
            ["searched_fraction"] = row.SearchedFraction,
            ["images"] = row.Images,
            ["threat"] = row.Threat,
            ["attack_through"] = row.AttackThrough,
            ["attack_ms_per_image"] = row.AttackMsPerImage is double ms ? Math.Round(ms, 3) : null,
            ["target"] = row.Target,
            ["meets_target"] = row.MeetsTarget,
            ["paper_gray_box"] = AeGanBenchmark.PaperGrayBox(row.Dataset, row.Attack, row.Method),
            ["paper_white_box"] = AeGanBenchmark.PaperWhiteBox(row.Dataset, row.Attack, row.Method),
        }).ToArray()),
        ["curve"] = JsonResults.Curve(r.Cases.Select(c => (c.Case.Dataset, c.Curve)), row => new JsonObject
        {
            ["attack"] = row.Attack,
            ["method"] = row.Method,
            ["accuracy"] = row.Accuracy,
            ["clean_accuracy"] = row.CleanAccuracy,
            ["searched_fraction"] = row.SearchedFraction,
        }),
    };

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}

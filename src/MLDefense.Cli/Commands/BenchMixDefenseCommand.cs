using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using MLDefense.Defenses;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense bench mixdefense</c>: MixDefense's detectors and baselines on the same adversarial examples (issue 24, Fig. 5–7 and 9).</summary>
public static class BenchMixDefenseCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var quickShortens = string.Join("; ", MixDefenseBenchmark.QuickCases.Select(c => c.Describe()))
            + $"; CW-L2 {MixDefenseBenchmark.QuickCarliniWagner.Describe()}; points need {MixDefenseBenchmark.QuickMinimumPairs} successful AEs instead of 100";
        var quick = CommonOptions.Quick($"A short run instead of the full one. It shortens: {quickShortens}.");
        var json = CommonOptions.Json("{\"quick\", \"quick_shortens\", \"threads\", \"device\", \"torch_version\", \"seed\", \"total_seconds\", \"cw_budget\", "
            + "\"minimum_pairs\", \"methods\", \"pending_methods\", \"cases\": [{\"dataset\", \"architecture\", \"classifier\", \"epochs\", \"train_images\", "
            + "\"test_images\", \"classifier_accuracy\", \"thresholds\", \"clean_fpr\", \"seconds\", \"contranet\": {\"wrong_label_auc\", \"true_label_mean_distance\", "
            + "\"wrong_label_mean_distance\", \"true_label_mean_ssim\", \"wrong_label_mean_ssim\", \"calibration_images\", \"training_images\"} or null}], "
            + "\"rows\": [{\"dataset\", \"attack\", \"norm\", \"epsilon\", \"method\", \"acc_detector\", \"acc_rc\", \"tpr\", \"fpr\", \"auc\"}], "
            + "\"clean\": [{\"dataset\", \"method\", \"clean_accuracy\"}], \"points\": [{\"dataset\", \"attack\", \"norm\", \"epsilon\", \"pairs\", \"attacked\", "
            + "\"adversarial_accuracy\"}], \"dropped\": [the same, for points with too few successful AEs], with --adaptive \"adaptive\": [{\"dataset\", \"attack\", "
            + "\"norm\", \"epsilon\", \"method\", \"acc_detector\", \"acc_rc\", \"tpr\", \"fpr\", \"auc\", \"attack_success_rate\", \"evasion_rate\", \"pairs\", \"attacked\", \"mean_score\", "
            + "\"mean_clean_score\", \"latent_epsilon\"}]}");
        var methods = CommonOptions.Choices("--methods",
            $"Evaluate only these methods (comma-separated or repeated): {string.Join(", ", MixDefenseBenchmark.AvailableMethods)}. Default: all "
          + "(mixdefense is SAEC then ContraNet, Fig. 1; saec+fs puts Feature Squeezing in ContraNet's place).", MixDefenseBenchmark.AvailableMethods);
        var adaptive = new Option<bool>("--adaptive")
        {
            Description = "Also run Sec. 6's adaptive attacks on ContraNet at each L-inf budget, after the non-adaptive PGD they start from (attack \"PGD\"): "
                + $"{MLDefense.Defenses.ContraNetInputAttack.AttackName} (Fig. 12: the reconstruction G(E(x), y') pulled toward the AE, classifier kept fooled), "
                + "adaptive-latent (Fig. 13: FGSM on z at eps_z 0.3 so that G(z, y') resembles PGD's AE; adaptive-latent-free: 100 unconstrained steps), "
                + "adaptive-bpda (PGD on CE - d/threshold through classifier and ContraNet, the argmax passed straight through). "
                + $"PGD, the refinement and BPDA take {new MixDefenseBenchmarkOptions().AdaptiveIterations} steps of 2.5*eps/steps ({MixDefenseBenchmark.QuickAdaptiveIterations} with --quick). "
                + "Needs contranet or mixdefense among the methods. Rows under \"adaptive\" in the JSON.",
        };
        var all = MixDefenseBenchmark.FullCases.Select(c => c.Dataset).ToArray();
        var only = CommonOptions.Only($"Run only these datasets: {string.Join(", ", all)}. Default: all.", "DATASET",
                                      names => CommonOptions.SelectCases(MixDefenseBenchmark.FullCases, c => c.Dataset, names));
        var model = CommonOptions.KeyedPaths("--model",
            "A trained classifier to use instead of training one, as DATASET=PATH.zip (repeatable), e.g. from `mldefense train-classifier`.", "DATASET", all);

        var command = new Command("mixdefense",
            "MixDefense (Yang et al.) Sec. 5.2: SAEC, Feature Squeezing, a MagNet-style autoencoder detector and the SAEC cascade, fitted once per dataset on "
          + "clean training images, on the same adversarial examples of MNIST (C1), the GTSRB subset and the CIFAR-10 subset (C2): FGSM/BIM under L-inf, FGM/BIM "
          + "under L2 (eps2 = eps_inf * sqrt(C*H*W) / 2) over budget sweeps, CW-L2 and DeepFool sorted by L2. Acc_Detector (Eq. 7) on successful AEs with their "
          + "clean images, Acc_RC (Eq. 8) over all AEs, TPR, FPR, AUC; points with fewer than 100 successful AEs are dropped; clean accuracy through each defense.")
        {
            quick, json, methods, only, model, adaptive,
        };
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            bool isQuick = parseResult.GetValue(quick);
            var jsonFile = parseResult.GetValue(json);
            var methodList = parseResult.GetValue(methods);
            var datasets = parseResult.GetValue(only);
            var paths = parseResult.GetValue(model) ?? [];
            bool isAdaptive = parseResult.GetValue(adaptive);
            return CommandRunner.Run(console, settings, context =>
            {
                var cases = isQuick ? MixDefenseBenchmark.QuickCases : MixDefenseBenchmark.FullCases;
                if (datasets is { Length: > 0 }) cases = CommonOptions.SelectCases(cases, c => c.Dataset, datasets);
                var options = new MixDefenseBenchmarkOptions
                {
                    Cases = cases,
                    Methods = methodList is { Length: > 0 } ? methodList : MixDefenseBenchmark.DefaultMethods,
                    DataDirectory = settings.DataDirectory, Seed = settings.Seed, Device = settings.Device,
                    CarliniWagner = isQuick ? MixDefenseBenchmark.QuickCarliniWagner : CarliniWagnerBudget.Full,
                    MinimumPairs = isQuick ? MixDefenseBenchmark.QuickMinimumPairs : 100,
                    ClassifierPaths = paths,
                    Adaptive = isAdaptive,
                    AdaptiveIterations = isQuick ? MixDefenseBenchmark.QuickAdaptiveIterations : new MixDefenseBenchmarkOptions().AdaptiveIterations,
                };
                var result = ProgressDisplay.Run(context.Console, display =>
                    MixDefenseBenchmark.Run(options, new InlineProgress<MixDefenseBenchmarkProgress>(p =>
                        display.Report($"[{p.CaseIndex + 1}/{p.CaseCount}] {p.Case.Dataset} {p.Stage}", p.Detail, p.Fraction)), context.Cancellation));
                Render(context.Console.Out, result, isQuick);
                JsonResults.Write(context.Console, jsonFile, ToJson(result, isQuick ? quickShortens : null));
                return 0;
            });
        });
        return command;
    }

    private static string Epsilon(MixDefenseBenchmarkRow row) => Epsilon(row.Dataset, row.Norm, row.Epsilon);

    private static string Epsilon(string dataset, string norm, double epsilon) =>
        norm == "linf" && dataset != "mnist" ? $"{epsilon * 255:0.##}/255" : epsilon.ToString("0.###", CultureInfo.InvariantCulture);

    private static void Render(IAnsiConsole console, MixDefenseBenchmarkResult r, bool quick)
    {
        var cases = new Table().Title(quick ? "MixDefense benchmark (quick run): classifiers and detectors" : "MixDefense benchmark: classifiers and detectors")
            .AddColumn("dataset").AddColumn("classifier").AddNumberColumns("train / test", "accuracy").AddColumn("thresholds").AddColumn("clean FPR").AddColumn("clean accuracy through each");
        foreach (var c in r.Cases)
            cases.AddRow(Markup.Escape(c.Case.Dataset), Markup.Escape($"{ClassifierTraining.ShortName(c.Case.Architecture)} ({c.ClassifierSource}, {c.Epochs} epochs)"),
                $"{c.TrainImages} / {c.TestImages}", $"{c.ClassifierAccuracy:F4}",
                Markup.Escape(string.Join(", ", c.Thresholds.Select(t => $"{t.Key} {t.Value:G4}"))),
                Markup.Escape(string.Join(", ", c.CleanFalsePositiveRates.Select(t => $"{t.Key} {t.Value:P1}"))),
                Markup.Escape(string.Join(", ", c.CleanRows.Select(t => $"{t.Method} {t.CleanAccuracy:F4}"))));
        console.Write(cases);
        foreach (var c in r.Cases.Where(c => c.ContraNet is not null))
            console.WriteLine($"{c.Case.Dataset} ContraNet on its held-out clean rows: {ContraNetFit(c.ContraNet!)}");

        var rows = new Table().Title("Acc_Detector / Acc_RC per method on the same AEs (half clean, half successful AEs; Acc_RC over all AEs)")
            .Caption(Markup.Escape(BenchmarkRunText.Caption(r) + $" · CW-L2 {r.CarliniWagner} · points need {r.MinimumPairs} successful AEs"))
            .AddColumn("dataset").AddColumn("attack").AddColumn("norm").AddNumberColumns("ε", "pairs");
        foreach (var m in r.Methods) rows.AddColumn(new TableColumn(Markup.Escape(m)).RightAligned());
        foreach (var c in r.Cases)
            foreach (var p in c.Points)
            {
                var cells = new List<string> { Markup.Escape(p.Dataset), p.Attack, p.Norm, Epsilon(p.Dataset, p.Norm, p.Epsilon), $"{p.Pairs}" };
                foreach (var m in r.Methods)
                {
                    var row = c.Rows.FirstOrDefault(x => x.Method == m && x.Attack == p.Attack && x.Norm == p.Norm && x.Epsilon == p.Epsilon);
                    cells.Add(row is null ? "—" : $"{row.AccDetector:F3} / {row.AccRc:F3}");
                }
                rows.AddRow(cells.ToArray());
            }
        console.Write(rows);
        var adaptiveRows = r.Cases.SelectMany(c => c.AdaptiveRows).ToList();
        if (adaptiveRows.Count > 0)
        {
            var table = new Table().Title("Sec. 6 adaptive attacks on ContraNet (PGD = the non-adaptive reference at the same budget)")
                .AddColumn("dataset").AddColumn("attack").AddNumberColumns("ε", "pairs", "success").AddColumn("method")
                .AddNumberColumns("Acc_Detector", "TPR", "FPR", "AUC", "Acc_RC", "evaded", "mean score (AE / clean)");
            foreach (var a in adaptiveRows)
                table.AddRow(Markup.Escape(a.Dataset), Markup.Escape(a.Attack + (a.LatentEpsilon is { } le ? $" (ε_z {le:G3})" : "")), Epsilon(a.Dataset, a.Norm, a.Epsilon),
                    $"{a.Pairs}", $"{a.AttackSuccessRate:P1}", Markup.Escape(a.Method), $"{a.AccDetector:F3}", $"{a.Tpr:F3}", $"{a.Fpr:F3}", $"{a.Auc:F3}",
                    $"{a.AccRc:F3}", $"{a.EvasionRate:P1}", $"{a.MeanScore:F3} / {a.MeanCleanScore:F3}");
            console.Write(table);
        }
        var dropped = r.Cases.SelectMany(c => c.Dropped).ToList();
        if (dropped.Count > 0)
            console.WriteLine($"Dropped (fewer than {r.MinimumPairs} successful AEs): " + string.Join("; ", dropped.Select(d => $"{d.Dataset} {d.Attack} {d.Norm} ε {Epsilon(d.Dataset, d.Norm, d.Epsilon)} ({d.Pairs})")));
        if (quick) console.WriteLine("--quick: short trainings; the numbers show the benchmark working, not the paper's figures.");
    }

    /// <summary>What the fitted ContraNet learned, before any attack: does its reconstruction depend on the label?</summary>
    private static string ContraNetFit(ContraNetModelInfo i) => string.Create(CultureInfo.InvariantCulture,
        $"wrong-label AUC {i.WrongLabelAuc:F3} (metric distance true label {i.CalibrationTrueLabelMeanDistance:F4} vs a wrong one {i.CalibrationWrongLabelMeanDistance:F4}; " +
        $"SSIM {i.CalibrationTrueLabelMeanSsim:F3} vs {i.CalibrationWrongLabelMeanSsim:F3}); near 0.5 = the generator ignores the label");

    private static JsonObject Point(MixDefensePointInfo p) => new()
    {
        ["dataset"] = p.Dataset, ["attack"] = p.Attack, ["norm"] = p.Norm, ["epsilon"] = p.Epsilon, ["pairs"] = p.Pairs, ["attacked"] = p.Attacked,
        ["adversarial_accuracy"] = p.AdversarialAccuracy,
    };

    private static JsonObject ToJson(MixDefenseBenchmarkResult r, string? quickShortens) =>
        new(BenchmarkRunText.JsonHeader(r, quickShortens))
    {
        ["cw_budget"] = r.CarliniWagner,
        ["minimum_pairs"] = r.MinimumPairs,
        ["methods"] = new JsonArray(r.Methods.Select(m => (JsonNode?)m).ToArray()),
        ["cases"] = new JsonArray(r.Cases.Select(c => (JsonNode)new JsonObject
        {
            ["dataset"] = c.Case.Dataset,
            ["architecture"] = ClassifierTraining.ShortName(c.Case.Architecture),
            ["classifier"] = c.ClassifierSource,
            ["epochs"] = c.Epochs,
            ["train_images"] = c.TrainImages,
            ["test_images"] = c.TestImages,
            ["classifier_accuracy"] = c.ClassifierAccuracy,
            ["thresholds"] = new JsonObject(c.Thresholds.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)t.Value))),
            ["clean_fpr"] = new JsonObject(c.CleanFalsePositiveRates.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)t.Value))),
            ["seconds"] = new JsonObject(c.Seconds.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)JsonResults.Seconds(t.Value)))),
            ["contranet"] = c.ContraNet is not { } i ? null : new JsonObject
            {
                ["wrong_label_auc"] = i.WrongLabelAuc,
                ["true_label_mean_distance"] = i.CalibrationTrueLabelMeanDistance, ["wrong_label_mean_distance"] = i.CalibrationWrongLabelMeanDistance,
                ["true_label_mean_ssim"] = i.CalibrationTrueLabelMeanSsim, ["wrong_label_mean_ssim"] = i.CalibrationWrongLabelMeanSsim,
                ["calibration_images"] = i.CalibrationImageCount, ["training_images"] = i.TrainingImageCount,
            },
        }).ToArray()),
        ["rows"] = new JsonArray(r.Rows.Select(row => (JsonNode)new JsonObject
        {
            ["dataset"] = row.Dataset, ["attack"] = row.Attack, ["norm"] = row.Norm, ["epsilon"] = row.Epsilon, ["method"] = row.Method,
            ["acc_detector"] = row.AccDetector, ["acc_rc"] = row.AccRc, ["tpr"] = row.Tpr, ["fpr"] = row.Fpr, ["auc"] = row.Auc,
        }).ToArray()),
        ["clean"] = new JsonArray(r.Cases.SelectMany(c => c.CleanRows).Select(row => (JsonNode)new JsonObject
        {
            ["dataset"] = row.Dataset, ["method"] = row.Method, ["clean_accuracy"] = row.CleanAccuracy,
        }).ToArray()),
        ["points"] = new JsonArray(r.Cases.SelectMany(c => c.Points).Select(p => (JsonNode)Point(p)).ToArray()),
        ["dropped"] = new JsonArray(r.Cases.SelectMany(c => c.Dropped).Select(p => (JsonNode)Point(p)).ToArray()),
        ["adaptive"] = new JsonArray(r.Cases.SelectMany(c => c.AdaptiveRows).Select(a => (JsonNode)new JsonObject
        {
            ["dataset"] = a.Dataset, ["attack"] = a.Attack, ["norm"] = a.Norm, ["epsilon"] = a.Epsilon, ["method"] = a.Method,
            ["acc_detector"] = a.AccDetector, ["acc_rc"] = a.AccRc, ["tpr"] = a.Tpr, ["fpr"] = a.Fpr, ["auc"] = a.Auc,
            ["attack_success_rate"] = a.AttackSuccessRate, ["evasion_rate"] = a.EvasionRate, ["pairs"] = a.Pairs, ["attacked"] = a.Attacked, ["mean_score"] = a.MeanScore,
            ["mean_clean_score"] = a.MeanCleanScore, ["latent_epsilon"] = a.LatentEpsilon,
        }).ToArray()),
    };
}

using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using MLDefense.Defenses;
using MLDefense.Evaluation;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense bench miaed</c>: the MIAED detector under MIAED's protocol, Tables 7 and 10 (issue 7).</summary>
public static class BenchMiaedCommand
{
    /// <summary>The option that gives a trained classifier for a case: <c>--model-c1-mnist</c>, ...</summary>
    public static string ModelOptionName(MiaedBenchmarkCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return $"--model-{ClassifierTraining.ShortName(c.Architecture)}-{c.Dataset}";
    }

    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var quick = CommonOptions.Quick(
            $"A short run (about 10-15 minutes on two CPU cores) instead of the full one (days on a CPU: the paper trains MIAED for 100 epochs). "
          + $"It shortens: {MiaedBenchmark.DescribeShortening(MiaedBenchmarkOptions.Quick)}. With --only, the named cases run, each shortened: "
          + string.Join("; ", MiaedBenchmark.FullCases.Select(c => MiaedBenchmark.DescribeCase(MiaedBenchmark.QuickVersion(c)))) + ".");
        var only = CommonOptions.Only($"Run only these cases (repeat the option or separate with commas): {string.Join(", ", MiaedBenchmark.FullCases.Select(c => c.Key))}. "
                                    + "The ablation runs with mnist/c1. Default: all (with --quick: mnist/c1).",
                                      "DATASET/ARCH", keys => CommonOptions.SelectCases(MiaedBenchmark.FullCases, c => c.Key, keys, "cases"));
        var models = MiaedBenchmark.FullCases.Select(c => (Case: c, Option: CommonOptions.OptionalModel(ModelOptionName(c),
            $"A trained {ClassifierTraining.ShortName(c.Architecture).ToUpperInvariant()} classifier for {c.Dataset} (a zip from `mldefense train-classifier --dataset {c.Dataset} "
          + $"--architecture {ClassifierTraining.ShortName(c.Architecture)}`). Default: train one first (the targets assume the fully trained model)."))).ToArray();
        var paper = new MiaedOptions();
        var detectorEpochs = OptionParsers.Create("--detector-epochs", "MIAED's autoencoder epochs instead of the preset's. Default: "
                                                      + $"{MiaedBenchmark.QuickDetector.Epochs} with --quick, else {paper.Epochs} (the paper's).",
                                                    "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var detectorWidth = OptionParsers.Create("--detector-width", "MIAED's base channels B (of the encoder's first two convolutions; the next two have 2B, Table 3) instead of the preset's. Default: "
                                                     + "Table 3's width, 16 on grey images and 32 on colour ones (with or without --quick).",
                                                   "C", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var paperNetworks = new Option<bool>("--paper-networks")
        {
            Description = "MIAED's networks at the paper's sizes: Table 3's autoencoder at its width and Table 4's simple network "
                        + $"{string.Join('-', paper.SimpleNetworkHiddenUnits)}, with the preset's epochs and learning rate. "
                        + $"Default: the preset's sizes (with --quick, a simple network {string.Join('-', MiaedBenchmark.QuickDetector.SimpleNetworkHiddenUnits)}); --detector-width still sets the base channels.",
        };
        var officialWeights = new Option<bool>("--official-weights")
        {
            Description = $"MIAED's loss and batch with the official code's values where they depart from the paper's: {MiaedBenchmark.DescribeOfficialWeights()}. "
                        + "Default: the paper's.",
        };
        var trainImages = OptionParsers.Create("--train-images", "Fit MIAED on the first N training images instead of the case's (the classifier a run trains "
                                                    + "uses them too). Default: the preset's (with --quick: "
                                                    + $"{MiaedBenchmark.QuickVersion(MiaedBenchmark.FullCases[0]).TrainImages}; else all).",
                                               "N", r => (int?)OptionParsers.WholeNumber(r, minimum: MiaedEstimator.MinimumTrainingImages));
        var detectorFolder = new Option<DirectoryInfo>("--detectors")
        {
            Description = "A folder of fitted MIAED detectors, DIR/miaed-DATASET-VARIANT.zip (e.g. miaed-mnist-full.zip, miaed-mnist-caed.zip): each detector "
                        + "the run needs is loaded from there when its zip exists, else fitted and saved there (the folder is created); while one trains, "
                        + "DIR/miaed-DATASET-VARIANT.checkpoint keeps its state at each epoch's end. Keeps a long training, resumes an interrupted run "
                        + "(inside the detector that was training, after its last completed epoch), reruns the protocol on the same detectors. "
                        + "A loaded detector keeps the settings it was "
                        + "fitted with (listed per detector), not this command's --detector-* options. Default: fit every detector, save nothing.",
            HelpName = "DIR",
        };
        var ablationNames = new MiaedBenchmarkOptions().AblationVariants.Select(v => v.Name).ToArray();
        var ablation = OptionParsers.Create<MiaedVariant[]?>("--ablation",
            $"The ablation's variants besides the full model (Table 10, on mnist/c1), comma-separated: {string.Join(", ", ablationNames)}, or none. "
          + $"Each is a training as long as the full model's. Default: all (with --quick: {MiaedVariant.Caed.Name}).", "VARIANTS", result =>
            {
                var names = result.Tokens[0].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (names is ["none"]) return [];
                var all = new MiaedBenchmarkOptions().AblationVariants;
                var chosen = names.Select(n => all.FirstOrDefault(v => v.Name == n)).ToArray();
                if (names.Length == 0 || chosen.Any(v => v is null) || chosen.Distinct().Count() != chosen.Length)
                    result.AddError($"--ablation: '{result.Tokens[0].Value}' is not a list of distinct variants among {string.Join(", ", ablationNames)}, or none.");
                return chosen.OfType<MiaedVariant>().ToArray();
            });
        var secondOpinion = CommonOptions.KeyedPaths("--second-opinion",
            "A second classifier for a case, as CASE=PATH (e.g. mnist/c1=a.zip, a zip from `mldefense train-classifier`, trained apart from the "
          + "target model); repeat for several cases. Adds the baseline row second-opinion to every attack: flag where the target model's and the "
          + "second classifier's most probable classes differ (the argmax rule with an independent classifier in place of MIAED's simple network), "
          + "on the same kept images: what MIAED's latent adds over any second model. Default: none.", "CASE", MiaedBenchmark.FullCases.Select(c => c.Key).ToArray());
        var selectionFgsm = CommonOptions.KeyedPaths("--selection-fgsm",
            "A classifier for a case, as CASE=PATH (the target model's zip or another's), whose FGSM examples (the case's epsilon, true labels) of the "
          + "--selection-images training images after the case's own select the full model's simple network as the official code does "
          + $"(up to {MiaedBenchmark.OfficialSelectionEpochs} epochs, Adam's rate halved after {MiaedOptions.SelectionLearningRatePatience} epochs without improvement, "
          + $"stopped after {MiaedOptions.SelectionStoppingPatience}, the best epoch kept). The official code selects on FGSM examples of the test set; these "
          + "images are neither MIAED's training images nor the evaluation's, so the selection is measured without that leak. Needs a case with fewer "
          + "training images than the dataset has (--quick, --train-images). Default: none (the paper's fixed simple-network epochs).",
            "CASE", MiaedBenchmark.FullCases.Select(c => c.Key).ToArray());
        var selectionImages = OptionParsers.Create("--selection-images",
            $"How many training images after the case's own give --selection-fgsm's examples. Default: {new MiaedBenchmarkOptions().SelectionImages} (the official code selects on the 10,000 MNIST test images).",
            "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var curve = CommonOptions.Curve("the full model (MIAED's autoencoder epochs)", "--detectors");
        var curveImages = CommonOptions.CurveImages(new MiaedBenchmarkOptions().CurveTestImages);
        var json = CommonOptions.Json("{\"quick\", \"quick_shortens\", \"threads\", \"device\", \"torch_version\", \"seed\", \"total_seconds\", \"attacks\", \"detector\", "
            + "\"cases\": [{\"dataset\", \"architecture\", \"classifier\", \"classifier_accuracy\", \"train_images\", \"test_images\", \"detectors\": [{\"variant\", "
            + "\"threshold\", \"calibration_images\", \"calibration_fpr\", \"training_fpr\", \"simple_network_accuracy_held_out\", \"simple_network_accuracy_training\", "
            + "\"simple_network_selected_epoch\", \"simple_network_trained_epochs\", \"selection_images\", \"selection_accuracy\" (null without --selection-fgsm), "
            + "\"fit_seconds\", \"settings\", \"source\"}]}], \"rows\": [{\"dataset\", \"attack\", \"variant\", \"recall\", \"precision\", \"f1\", \"specificity\", \"accuracy\", \"auc\", "
            + "\"evaluated\", \"candidates\", \"kept\", \"threshold\", \"target\", \"meets_target\"}], \"ablation\": {\"full_minus_caed\", \"target\", \"meets_target\"}, "
            + "\"curve\": [{\"dataset\", \"epoch\", \"test_images\", \"fit_seconds\", \"attack\", \"variant\", \"accuracy\", \"specificity\", \"recall\", \"auc\", \"kept\"}]} "
            + "— rates in [0, 1]; target (the accuracy needed, with specificity >= 0.98) and meets_target are null for rows without a target; "
            + "precision is null when nothing was flagged");

        var command = new Command("miaed",
            "MIAED (Gao et al.) under its protocol: clean, noisy (sigma 0.1 grey, 0.01 colour) and adversarial versions of each test image, kept where the "
          + "classifier gets the first two right and the third wrong, adversarial examples counted twice. MNIST and Fashion-MNIST with C1 (eps 0.3), the CIFAR-10 "
          + "subset with C2 (eps 8/255); FGSM, BIM, PGD, MIM (50 iterations) and CW-L2 (Table 7), and the ablation of Table 10 on MNIST FGSM: the full model "
          + "against CAED and CAED with each of global MI, local MI, prior matching alone. MIAED is fitted on the training images with the classifier's "
          + "probabilities, its threshold calibrated at 2% FPR on a held-out 10%. Every attack is judged under two rules on the same images: variant full "
          + "(the JS divergence of the classifier's and the simple network's distributions above that threshold, as the paper describes) and full-argmax "
          + "(their most probable classes differ, as the official code does); the ablation uses the first. "
          + "Reports recall, precision, F1, specificity, accuracy, AUC as Markdown tables "
          + $"shaped like Tables 7 and 10, against the targets (MNIST, C1): accuracy >= {MiaedBenchmark.TargetPgdAccuracy:F3} against PGD and >= "
          + $"{MiaedBenchmark.TargetCarliniWagnerAccuracy:F2} against CW-L2, with specificity >= {MiaedBenchmark.TargetSpecificity:F2}; the full model >= "
          + $"{MiaedBenchmark.TargetFullOverCaed * 100:F0} points above CAED on FGSM.")
        {
            quick, only, detectorEpochs, detectorWidth, paperNetworks, officialWeights, trainImages, detectorFolder, ablation, secondOpinion, selectionFgsm, selectionImages,
            curve, curveImages, json,
        };
        foreach (var (_, option) in models) command.Options.Add(option);
        command.Validators.Add(result =>
        {
            if (result.GetResult(detectorFolder) is { } folder && !folder.Errors.Any() && result.GetValue(detectorFolder) is { } dir && File.Exists(dir.FullName))
                result.AddError($"--detectors: {dir.FullName} is a file, not a folder.");
            if (result.GetResult(curve) is { } curveResult && !curveResult.Errors.Any() && result.GetResult(detectorFolder) is null)
                result.AddError("--curve: a learning curve keeps its checkpoint and probes in a folder: give --detectors DIR.");
            // The raw tokens, not GetValue: a value that failed to parse already has its own error, and GetValue would throw.
            if (result.GetResult(quick)?.Errors.Any() == true || result.GetResult(only)?.Errors.Any() == true) return;
            var keys = result.GetResult(only) is { } onlyResult ? CommonOptions.SplitList(onlyResult.Tokens) : null;
            var cases = SelectCases(result.GetValue(quick), keys);
            foreach (var (c, option) in models)
                if (result.GetResult(option) is not null && !cases.Any(x => x.Key == c.Key))
                    result.AddError($"{option.Name}: the run has no {c.Key} case (it runs {string.Join(", ", cases.Select(x => x.Key))}; choose cases with --only).");
            foreach (var keyed in new[] { secondOpinion, selectionFgsm })
                if (result.GetResult(keyed) is { } given)
                    foreach (var key in given.Tokens.Select(t => t.Value).Where(v => v.IndexOf('=') > 0).Select(v => v[..v.IndexOf('=')].Trim().ToLowerInvariant())
                                                     .Where(k => MiaedBenchmark.FullCases.Any(x => x.Key == k) && !cases.Any(x => x.Key == k)))
                        result.AddError($"{keyed.Name}: the run has no {key} case (it runs {string.Join(", ", cases.Select(x => x.Key))}; choose cases with --only).");
        });
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            bool isQuick = parseResult.GetValue(quick);
            var preset = isQuick ? MiaedBenchmarkOptions.Quick : MiaedBenchmarkOptions.Full;
            var modelPaths = new Dictionary<string, string>();
            foreach (var (c, option) in models)
                if (parseResult.GetValue(option) is { } file) modelPaths[c.Key] = file.FullName;
            var detector = parseResult.GetValue(paperNetworks) ? MiaedBenchmark.WithPaperNetworks(preset.Detector) : preset.Detector;
            if (parseResult.GetValue(officialWeights)) detector = MiaedBenchmark.WithOfficialWeights(detector);
            var cases = SelectCases(isQuick, parseResult.GetValue(only));
            if (parseResult.GetValue(trainImages) is int n) cases = cases.Select(c => c with { TrainImages = n }).ToArray();
            var options = preset with
            {
                Cases = cases,
                ModelPaths = modelPaths,
                SecondOpinionPaths = parseResult.GetValue(secondOpinion) ?? [],
                SelectionFgsmPaths = parseResult.GetValue(selectionFgsm) ?? [],
                SelectionImages = parseResult.GetValue(selectionImages) ?? preset.SelectionImages,
                Detector = detector with
                {
                    Epochs = parseResult.GetValue(detectorEpochs) ?? detector.Epochs,
                    BaseChannels = parseResult.GetValue(detectorWidth) ?? detector.BaseChannels,
                },
                DetectorDirectory = parseResult.GetValue(detectorFolder)?.FullName,
                AblationVariants = parseResult.GetValue(ablation) ?? preset.AblationVariants,
                CurveEpochs = parseResult.GetValue(curve) ?? [],
                CurveTestImages = parseResult.GetValue(curveImages) ?? preset.CurveTestImages,
                DataDirectory = settings.DataDirectory, Seed = settings.Seed, Device = settings.Device,
            };
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, settings, context => Run(context, options, isQuick, jsonFile));
        });
        return command;
    }

    private static IReadOnlyList<MiaedBenchmarkCase> SelectCases(bool quick, string[]? keys)
    {
        if (keys is not { Length: > 0 }) return quick ? MiaedBenchmark.QuickCases : MiaedBenchmark.FullCases;
        var all = quick ? MiaedBenchmark.FullCases.Select(MiaedBenchmark.QuickVersion).ToArray() : MiaedBenchmark.FullCases;
        try
        {
            return CommonOptions.SelectCases(all, c => c.Key, keys, "cases");
        }
        catch (ArgumentException)
        {
            return []; // --only's parser reports the bad key.
        }
    }

    private static int Run(CommandContext context, MiaedBenchmarkOptions options, bool quick, FileInfo? jsonFile)
    {
        var result = ProgressDisplay.Run(context.Console, display =>
            MiaedBenchmark.Run(options, new InlineProgress<MiaedBenchmarkProgress>(p =>
                display.Report($"[{p.CaseIndex + 1}/{p.CaseCount}] {p.Case.Key} {p.Stage}", p.Detail, p.Fraction)), context.Cancellation));
        Render(context.Console, result, quick ? MiaedBenchmark.DescribeShortening(options) : null);
        JsonResults.Write(context.Console, jsonFile, ToJson(result, quick ? MiaedBenchmark.DescribeShortening(options) : null));
        return 0;
    }

    private static void Render(CliConsole console, MiaedBenchmarkResult r, string? shortens)
    {
        var cases = new Table()
            .Title(shortens is null ? "MIAED benchmark: classifiers and detectors" : "MIAED benchmark (quick run): classifiers and detectors")
            .Caption(Markup.Escape(BenchmarkRunText.Caption(r)))
            .AddColumn("case").AddNumberColumns("classifier acc", "train / test images")
            .AddColumn("variant").AddNumberColumns("threshold", "calibration FPR", "simple net acc (held out)", "fit s");
        foreach (var c in r.Cases)
            foreach (var d in c.Detectors)
                cases.AddRow(Markup.Escape(c.Case.Key), $"{c.ClassifierAccuracy:F4}", $"{c.TrainImages} / {c.TestImages}", Markup.Escape(d.Variant.Name),
                             $"{d.Info.Threshold:G4}", $"{d.Info.CalibrationFalsePositiveRate:P1} of {d.Info.CalibrationImageCount}",
                             $"{d.Info.SimpleNetworkCalibrationAccuracy:P1}", d.Source is null ? $"{d.FitSeconds:F0}" : "loaded");
        console.Out.Write(cases);
        foreach (var c in r.Cases) console.Out.WriteLine(Markup.Escape($"{c.Case.Key} classifier: {c.Classifier}"));
        console.Out.WriteLine(Markup.Escape($"Attacks: {r.Attacks}."));
        console.Out.WriteLine(Markup.Escape($"MIAED: {r.Detector}."));
        foreach (var c in r.Cases)
            foreach (var d in c.Detectors.Where(d => d.Source is not null))
                console.Out.WriteLine(Markup.Escape($"{c.Case.Key} {d.Variant.Name}: loaded from {d.Source}, fitted with {d.Settings}."));

        // Markdown goes out as plain text: Spectre markup would eat its brackets.
        console.TextOut.WriteLine();
        console.TextOut.WriteLine("MIAED Table 7 (full model: full = JS divergence at the calibrated threshold, full-argmax = argmax mismatch; "
                                + $"{MiaedBenchmark.SecondOpinionVariant} = argmax mismatch with --second-opinion's classifier; positives doubled):");
        console.TextOut.WriteLine(MiaedResult.ToMarkdown(r.AttackResults));
        foreach (var result in r.AttackResults.Where(x => MiaedBenchmark.HasTarget(x.Row)))
        {
            var row = result.Row;
            bool meets = MiaedBenchmark.MeetsTarget(row) == true;
            console.TextOut.WriteLine($"target {row.Dataset} {row.Attack} {row.Variant}: accuracy {row.Accuracy:F4} (>= {MiaedBenchmark.TargetAccuracy(row):F3}), "
                                    + $"specificity {row.Specificity:F4} (>= {MiaedBenchmark.TargetSpecificity:F2}): {(meets ? "pass" : "fail")}");
        }
        if (r.AblationResults.Count > 0)
        {
            console.TextOut.WriteLine();
            console.TextOut.WriteLine($"MIAED Table 10 (ablation, {MiaedBenchmark.AblationAttack}):");
            console.TextOut.WriteLine(MiaedResult.ToMarkdown(r.AblationResults));
            if (r.FullOverCaed is double gap)
                console.TextOut.WriteLine($"target full - caed accuracy: {gap * 100:F2} points (>= {MiaedBenchmark.TargetFullOverCaed * 100:F0}): "
                                        + $"{(gap >= MiaedBenchmark.TargetFullOverCaed ? "pass" : "fail")}");
        }
        foreach (var c in r.Cases.Where(c => c.Curve.Count > 0))
        {
            console.TextOut.WriteLine();
            console.TextOut.WriteLine($"{c.Case.Key} learning curve (full model; accuracy, default rule / argmax rule, on the first {c.Curve[0].TestImages} test images):");
            console.TextOut.WriteLine(LearningCurves.Table(c.Curve.Select(p => (p.Epoch, p.Rows.Select(row => (row.Attack, row.Variant, row.Accuracy))))));
        }
        if (shortens is not null) console.TextOut.WriteLine($"--quick shortens: {shortens}");
    }

    private static JsonNode? Number(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;

    private static JsonObject ToJson(MiaedBenchmarkResult r, string? shortens) => new(BenchmarkRunText.JsonHeader(r, shortens))
    {
        ["attacks"] = r.Attacks,
        ["detector"] = r.Detector,
        ["cases"] = new JsonArray(r.Cases.Select(c => (JsonNode)new JsonObject
        {
            ["dataset"] = c.Case.Dataset,
            ["architecture"] = ClassifierTraining.ShortName(c.Case.Architecture),
            ["classifier"] = c.Classifier,
            ["classifier_accuracy"] = c.ClassifierAccuracy,
            ["train_images"] = c.TrainImages,
            ["test_images"] = c.TestImages,
            ["detectors"] = new JsonArray(c.Detectors.Select(d => (JsonNode)new JsonObject
            {
                ["variant"] = d.Variant.Name,
                ["threshold"] = d.Info.Threshold,
                ["calibration_images"] = d.Info.CalibrationImageCount,
                ["calibration_fpr"] = d.Info.CalibrationFalsePositiveRate,
                ["training_fpr"] = d.Info.TrainingFalsePositiveRate,
                ["simple_network_accuracy_held_out"] = d.Info.SimpleNetworkCalibrationAccuracy,
                ["simple_network_accuracy_training"] = d.Info.SimpleNetworkTrainingAccuracy,
                ["simple_network_selected_epoch"] = d.Info.SimpleNetworkSelectedEpoch,
                ["simple_network_trained_epochs"] = d.Info.SimpleNetworkTrainedEpochs,
                ["selection_images"] = d.Info.SelectionImageCount,
                ["selection_accuracy"] = d.Info.SimpleNetworkSelectionAccuracy,
                ["fit_seconds"] = JsonResults.Seconds(d.FitSeconds),
                ["settings"] = d.Settings,
                ["source"] = d.Source,
            }).ToArray()),
        }).ToArray()),
        ["rows"] = new JsonArray(r.Cases.SelectMany(c => c.Results).Select(x => (JsonNode)new JsonObject
        {
            ["dataset"] = x.Row.Dataset,
            ["attack"] = x.Row.Attack,
            ["variant"] = x.Row.Variant,
            ["recall"] = Number(x.Row.Recall),
            ["precision"] = Number(x.Row.Precision),
            ["f1"] = Number(x.Row.F1),
            ["specificity"] = Number(x.Row.Specificity),
            ["clean_specificity"] = Number(x.Row.CleanSpecificity),
            ["noisy_specificity"] = Number(x.Row.NoisySpecificity),
            ["accuracy"] = Number(x.Row.Accuracy),
            ["auc"] = Number(x.Row.Auc),
            ["evaluated"] = x.Row.Evaluated,
            ["candidates"] = x.Row.Candidates,
            ["kept"] = x.Row.Kept,
            ["threshold"] = x.Row.Threshold,
            ["target"] = MiaedBenchmark.TargetAccuracy(x.Row),
            ["meets_target"] = MiaedBenchmark.MeetsTarget(x.Row),
        }).ToArray()),
        ["ablation"] = r.FullOverCaed is double gap
            ? new JsonObject { ["full_minus_caed"] = gap, ["target"] = MiaedBenchmark.TargetFullOverCaed, ["meets_target"] = gap >= MiaedBenchmark.TargetFullOverCaed }
            : null,
        ["curve"] = JsonResults.Curve(r.Cases.Select(c => (c.Case.Dataset, c.Curve)), row => new JsonObject
        {
            ["attack"] = row.Attack,
            ["variant"] = row.Variant,
            ["accuracy"] = Number(row.Accuracy),
            ["specificity"] = Number(row.Specificity),
            ["recall"] = Number(row.Recall),
            ["auc"] = Number(row.Auc),
            ["kept"] = row.Kept,
        }),
    };
}

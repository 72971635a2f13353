using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Attacks;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using MLDefense.Evaluation;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense evaluate</c>: a detector under a paper's protocol (for now MixDefense's, with SAEC).</summary>
public static class EvaluateCommand
{
    /// <summary>The detectors <c>--detector</c> accepts; the other defenses join as they land.</summary>
    public static IReadOnlyList<string> Detectors { get; } = ["saec"];

    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var model = CommonOptions.Model();
        var dataset = CommonOptions.Dataset();
        var attackOptions = new AttackOptions(AttackFactory.BudgetedNames);
        var detector = new Option<string>("--detector")
        {
            Description = "The detector: saec (MixDefense's SAEC layer, fitted on the clean training images; threshold at 1% false positives).",
            HelpName = string.Join('|', Detectors),
            Required = true,
            CustomParser = result =>
            {
                var text = result.Tokens[0].Value.ToLowerInvariant();
                if (!Detectors.Contains(text)) result.AddError($"--detector: '{result.Tokens[0].Value}' is not one of {string.Join(", ", Detectors)}.");
                return text;
            },
        };
        var limit = OptionParsers.Create("--limit", "Evaluate on the first N test images. Default: 1000.", "N", r => OptionParsers.WholeNumber(r, minimum: 1));
        limit.DefaultValueFactory = _ => 1000;
        var fitImages = OptionParsers.Create("--fit-images", "Fit the detector on the first N training images. Default: 10000.", "N", r => OptionParsers.WholeNumber(r, minimum: 1));
        fitImages.DefaultValueFactory = _ => 10_000;
        var json = CommonOptions.Json("[{\"dataset\", \"attack\", \"norm\", \"epsilon\", \"acc_detector\", \"acc_rc\", \"tpr\", \"fpr\", \"auc\", \"threshold\", "
                                    + "\"pairs\", \"evaluated\", \"clean_accuracy\", \"adversarial_accuracy\", \"attack_success_rate\"}] — one row per budget");

        var command = new Command("evaluate",
            "Evaluates a detector with MixDefense's protocol (Sec. 5.1): the classifier's test images and their adversarial examples at one budget "
          + "(--epsilon); the detector's accuracy on half clean, half successful adversarial examples (Acc_Detector), TPR, FPR, AUC, and the accuracy "
          + "of the classifier guarded by it (Acc_RC, Eq. 8), as a Markdown table.")
        {
            model, dataset, detector, limit, fitImages, json,
        };
        attackOptions.AddTo(command);
        command.SetAction(parseResult =>
        {
            var settings = attackOptions.Read(parseResult);
            if (!AttackOptions.Check(settings, console)) return Program.Usage;
            var request = new MixDefenseEvaluationRequest
            {
                ModelPath = parseResult.GetValue(model)!.FullName,
                Dataset = parseResult.GetValue(dataset)!,
                Attack = settings,
                TestImages = parseResult.GetValue(limit),
                FitImages = parseResult.GetValue(fitImages),
            };
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, globals.Read(parseResult), context =>
            {
                var ml = context.CreateMLContext();
                var result = ProgressDisplay.Run(context.Console, display =>
                    MixDefenseEvaluation.Run(ml, request with { DataDirectory = context.Settings.DataDirectory },
                        new InlineProgress<EvaluationProgress>(p => display.Report(p.Stage == "fit SAEC" ? "fit SAEC" : "MixDefense",
                                                                                   $"{p.Stage} · {p.ImagesDone}/{p.ImagesTotal}", p.Fraction)),
                        context.Cancellation));
                // Markdown goes out as plain text: Spectre markup would eat its brackets.
                context.Console.TextOut.WriteLine();
                context.Console.TextOut.WriteLine(result.ToMarkdown());
                JsonResults.Write(context.Console, jsonFile, JsonNode.Parse(result.ToJson())!);
                return 0;
            });
        });
        return command;
    }
}

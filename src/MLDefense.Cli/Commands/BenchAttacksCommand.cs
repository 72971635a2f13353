using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense bench attacks</c>: the attacks on MIAED's C1 MNIST classifier against the issue's targets, and PGD's speed against PyTorch.</summary>
public static class BenchAttacksCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var quick = CommonOptions.Quick($"Attack the first {AttackBenchmarkOptions.Quick.TestImages} test images ({AttackBenchmarkOptions.Quick.SpeedRounds} speed rounds, CW-L2 to "
                                      + $"{CarliniWagnerBudget.Quick.Describe()}) instead of all {AttackBenchmarkOptions.Full.TestImages} ({AttackBenchmarkOptions.Full.SpeedRounds} speed rounds).");
        var model = CommonOptions.OptionalModel("--model", "A trained C1 MNIST classifier (a zip from `mldefense train-classifier --dataset mnist --architecture c1`). "
                                                         + $"Default: train one first, shortened to {AttackBenchmarkOptions.Full.FallbackTrainingEpochs} of 10 epochs on the first "
                                                         + $"{AttackBenchmarkOptions.Full.FallbackTrainingImages} training images (the targets assume the fully trained model).");
        var images = OptionParsers.Create("--images", "Attack the first N test images instead of the preset's (for a machine too busy for the preset). Default: "
                                                    + $"{AttackBenchmarkOptions.Quick.TestImages} with --quick, else {AttackBenchmarkOptions.Full.TestImages}.",
                                          "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        var python = CommonOptions.Python("The interpreter that runs the PyTorch side of the speed row: Debian's, with `sudo apt-get install python3-torch`.");
        var json = CommonOptions.Json("{\"model\", \"test_images\", \"threads\", \"device\", \"torch_version\", \"cw_settings\", \"total_seconds\", "
            + "\"rows\": [{\"attack\", \"norm\", \"epsilon\", \"clean_accuracy\", \"adversarial_accuracy\", \"mean_l2\", \"mean_linf\", \"images_per_s\", "
            + "\"target\", \"meets_target\"}], \"speed\": {\"case\", \"batch_size\", \"mldefense_images_per_s\", \"pytorch_images_per_s\", \"ratio\", "
            + "\"target_ratio\", \"pytorch_version\", \"pytorch_unavailable\", \"mldefense_rounds\", \"pytorch_rounds\"}} — epsilon is null for CW-L2 and DeepFool; "
            + "target is the highest adversarial accuracy accepted");

        var command = new Command("attacks",
            "Attacks the MNIST test images with MIAED's classifier C1: FGSM ε 0.3; BIM, PGD (random start), MIM at L∞ ε 0.3, 40 iterations, step 0.01; "
          + $"CW-L2 ({CarliniWagnerBudget.Full.Describe()}; --quick: {CarliniWagnerBudget.Quick.Describe()}; the paper's 9 × 10000 would take "
          + "hours even on a GPU); DeepFool L2. "
          + "Reports clean and adversarial accuracy, mean L2 and L∞, images/s, against the targets (adversarial accuracy: FGSM <= 0.35, BIM/PGD/MIM <= 0.01, "
          + $"CW-L2 <= 0.05, DeepFool <= 0.05); and PGD-40 (no random start) images/s of MLDefense vs PyTorch ({AttackBenchmark.PyTorchScriptName}) on the "
          + "same weights, images and threads, alternating rounds, medians: target ratio >= 0.9.")
        {
            quick, model, images, python, json,
        };
        command.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            var preset = parseResult.GetValue(quick) ? AttackBenchmarkOptions.Quick : AttackBenchmarkOptions.Full;
            var options = preset with
            {
                TestImages = parseResult.GetValue(images) ?? preset.TestImages,
                ModelPath = parseResult.GetValue(model)?.FullName,
                DataDirectory = settings.DataDirectory,
                Seed = settings.Seed,
                Device = settings.Device,
                PyTorchScript = Path.Combine(AppContext.BaseDirectory, AttackBenchmark.PyTorchScriptName),
                PythonExecutable = parseResult.GetValue(python)!,
            };
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, settings, context => Run(context, options, jsonFile));
        });
        return command;
    }

    /// <summary>Runs the benchmark with progress, prints its table and writes the JSON.</summary>
    internal static int Run(CommandContext context, AttackBenchmarkOptions options, FileInfo? jsonFile)
    {
        var result = ProgressDisplay.Run(context.Console, display =>
            AttackBenchmark.Run(options, new InlineProgress<AttackBenchmarkProgress>(p => display.Report(p.Step, p.Message, p.Fraction)), context.Cancellation));
        Render(context.Console.Out, result);
        JsonResults.Write(context.Console, jsonFile, ToJson(result));
        return 0;
    }

    private static void Render(IAnsiConsole console, AttackBenchmarkResult r)
    {
        var table = new Table()
            .Title("Attacks on C1 (MNIST)")
            .Caption(Markup.Escape($"{r.TestImages} test images · {r.Model} · libtorch {r.TorchVersion} · {r.Device} · {r.Threads} threads · total {r.TotalSeconds:F0} s"))
            .AddColumn("attack")
            .AddNumberColumns("clean acc", "adv acc", "mean L2", "mean L∞", "images/s")
            .AddColumn("target (adv acc)");
        foreach (var row in r.Rows)
        {
            var x = row.Result;
            table.AddRow(Markup.Escape(AttackBenchmark.AttackTitleOf(x)), $"{x.CleanAccuracy:F4}", $"{x.AdversarialAccuracy:F4}", $"{x.MeanL2:F3}", $"{x.MeanLinf:F3}",
                         $"{x.ImagesPerSecond:F1}", $"<= {row.Target:F2} " + TableText.PassFail(row.MeetsTarget));
        }
        console.Write(table);
        console.MarkupLine(Markup.Escape($"CW-L2: {r.CarliniWagnerSettings}."));

        var s = r.Speed;
        var speed = new Table()
            .Title("PGD-40 speed: MLDefense vs PyTorch")
            .Caption(Markup.Escape($"batch {s.BatchSize} · {r.Threads} threads · medians of {s.MLDefenseRounds.Count} alternating rounds · PyTorch {s.PyTorchVersion ?? "—"}"))
            .AddNumberColumns("MLDefense images/s", "PyTorch images/s", "ratio")
            .AddColumn("target");
        speed.AddRow($"{s.MLDefenseImagesPerSecond:F1}", TableText.OrDash(s.PyTorchImagesPerSecond, "F1"), TableText.OrDash(s.Ratio, "F3"),
                     $">= {AttackSpeedRow.TargetRatio:F1} " + (s.Ratio is double q ? TableText.PassFail(q >= AttackSpeedRow.TargetRatio) : "—"));
        console.Write(speed);
        if (s.PyTorchUnavailable is not null) console.MarkupLine($"[yellow]PyTorch did not run: {Markup.Escape(s.PyTorchUnavailable)}[/]");
    }

    private static JsonObject ToJson(AttackBenchmarkResult r) => new()
    {
        ["model"] = r.Model,
        ["test_images"] = r.TestImages,
        ["threads"] = r.Threads,
        ["device"] = r.Device,
        ["torch_version"] = r.TorchVersion,
        ["cw_settings"] = r.CarliniWagnerSettings,
        ["total_seconds"] = JsonResults.Seconds(r.TotalSeconds),
        ["rows"] = new JsonArray(r.Rows.Select(row => (JsonNode)new JsonObject
        {
            ["attack"] = row.Result.Attack,
            ["norm"] = row.Result.Norm,
            ["epsilon"] = row.Result.Epsilon,
            ["clean_accuracy"] = row.Result.CleanAccuracy,
            ["adversarial_accuracy"] = row.Result.AdversarialAccuracy,
            ["mean_l2"] = row.Result.MeanL2,
            ["mean_linf"] = row.Result.MeanLinf,
            ["images_per_s"] = row.Result.ImagesPerSecond,
            ["target"] = row.Target,
            ["meets_target"] = row.MeetsTarget,
        }).ToArray()),
        ["speed"] = new JsonObject
        {
            ["case"] = "pgd40",
            ["batch_size"] = r.Speed.BatchSize,
            ["mldefense_images_per_s"] = r.Speed.MLDefenseImagesPerSecond,
            ["pytorch_images_per_s"] = r.Speed.PyTorchImagesPerSecond,
            ["ratio"] = r.Speed.Ratio,
            ["target_ratio"] = AttackSpeedRow.TargetRatio,
            ["pytorch_version"] = r.Speed.PyTorchVersion,
            ["pytorch_unavailable"] = r.Speed.PyTorchUnavailable,
            ["mldefense_rounds"] = new JsonArray(r.Speed.MLDefenseRounds.Select(v => (JsonNode?)v).ToArray()),
            ["pytorch_rounds"] = new JsonArray(r.Speed.PyTorchRounds.Select(v => (JsonNode?)v).ToArray()),
        },
    };
}

using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense bench ...</c>: benchmarks.</summary>
public static class BenchCommand
{
    /// <summary>The name of the PyTorch twin of the engine benchmark, copied next to the mldefense binary.</summary>
    public const string PyTorchScriptName = "bench_engine.py";

    /// <summary>Builds <c>bench</c> and its subcommands.</summary>
    public static Command Create(GlobalOptions globals, CliConsole console)
    {
        var bench = new Command("bench", "Benchmarks: the engine's speed against PyTorch; the papers' tables.");
        bench.Subcommands.Add(CreateEngine(globals, console));
        bench.Subcommands.Add(BenchClassifierCommand.Create(globals, console));
        bench.Subcommands.Add(BenchSaecCommand.Create(globals, console));
        bench.Subcommands.Add(BenchAttacksCommand.Create(globals, console));
        bench.Subcommands.Add(BenchAeganCommand.Create(globals, console));
        bench.Subcommands.Add(BenchMiaedCommand.Create(globals, console));
        return bench;
    }

    private static Command CreateEngine(GlobalOptions globals, CliConsole console)
    {
        var quick = CommonOptions.Quick($"A short run ({Describe(EngineBenchmarkOptions.Quick)}) instead of the full one ({Describe(EngineBenchmarkOptions.Full)}).");
        var json = CommonOptions.Json("{\"threads\", \"device\", \"torch_version\", \"pytorch_version\", "
            + "\"pytorch_unavailable\", \"batch_size\", \"rounds\", \"steps_per_round\", \"rows\": [{\"case\": \"train_step\"|\"input_gradient\", "
            + "\"mldefense_images_per_s\", \"pytorch_images_per_s\", \"ratio\"}], \"round_images_per_s\"} — one row per case, "
            + "ratio = mldefense / pytorch; pytorch figures and ratio are null when PyTorch could not run");
        var python = CommonOptions.Python("The interpreter that runs the PyTorch side: Debian's, into which `sudo apt-get install python3-torch` installs torch "
                                        + "(not a pyenv or venv python3 found first on PATH, unless it has torch).");

        var engine = new Command("engine",
            "MLDefense's libtorch binding against PyTorch on the same libtorch: MIAED's MNIST classifier C1, batch 128, Adam lr 1e-3; "
          + "cases train_step (forward, cross-entropy, zero_grad, backward, Adam step) and input_gradient (the FGSM/PGD inner loop: "
          + "torch.autograd.grad w.r.t. the input). Rounds alternate between the engines after warm-up; medians of images/s are reported. "
          + $"PyTorch runs {PyTorchScriptName} (next to this binary) with --python (install torch with `sudo apt-get install python3-torch`); "
          + "without it MLDefense's own figures are still reported. --threads sets the threads of both engines; --device auto picks cuda "
          + "when present, which needs a CUDA PyTorch too for the comparison.")
        {
            quick, json, python,
        };
        engine.SetAction(parseResult =>
        {
            var settings = globals.Read(parseResult);
            var preset = parseResult.GetValue(quick) ? EngineBenchmarkOptions.Quick : EngineBenchmarkOptions.Full;
            var options = preset with
            {
                Threads = settings.Threads,
                Device = Runtime.DeviceName(settings.Device),
                Seed = (ulong)settings.Seed,
                PyTorchScript = Path.Combine(AppContext.BaseDirectory, PyTorchScriptName),
                PythonExecutable = parseResult.GetValue(python)!,
            };
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, settings, context => RunEngine(context, options, jsonFile));
        });
        return engine;
    }

    private static string Describe(EngineBenchmarkOptions o) =>
        $"{o.Rounds} rounds of {o.StepsPerRound} timed steps per case and engine";

    private static int RunEngine(CommandContext context, EngineBenchmarkOptions options, FileInfo? jsonFile)
    {
        var result = ProgressDisplay.Run(context.Console, display =>
            EngineBenchmark.Run(options, new InlineProgress<EngineBenchmarkProgress>(p => display.Report("engine benchmark", p.Message, p.Fraction)),
                                context.Cancellation));
        Render(context.Console.Out, result);
        JsonResults.Write(context.Console, jsonFile, ToJson(result));
        return 0;
    }

    private static void Render(IAnsiConsole console, EngineBenchmarkResult r)
    {
        var table = new Table()
            .Title("Engine speed: MLDefense vs PyTorch")
            .Caption($"threads {r.Threads} · {r.Device} · batch {r.BatchSize} · median of {r.Rounds} rounds × {r.StepsPerRound} steps")
            .AddColumn("case")
            .AddNumberColumns("MLDefense images/s", "PyTorch images/s", "ratio");
        foreach (var row in r.Rows)
            table.AddRow(row.Case, $"{row.MLDefenseImagesPerSecond:F1}", TableText.OrDash(row.PyTorchImagesPerSecond, "F1"), TableText.OrDash(row.Ratio, "F3"));
        console.Write(table);
        console.MarkupLine(Markup.Escape($"libtorch {r.TorchVersion} (MLDefense), PyTorch {r.PyTorchVersion ?? "—"}."));
        if (r.PyTorchUnavailable is not null)
            console.MarkupLine($"[yellow]PyTorch did not run: {Markup.Escape(r.PyTorchUnavailable)}[/]");
    }

    private static JsonObject ToJson(EngineBenchmarkResult r)
    {
        var rows = new JsonArray();
        var rounds = new JsonObject();
        foreach (var row in r.Rows)
        {
            rows.Add(new JsonObject
            {
                ["case"] = row.Case,
                ["mldefense_images_per_s"] = row.MLDefenseImagesPerSecond,
                ["pytorch_images_per_s"] = row.PyTorchImagesPerSecond,
                ["ratio"] = row.Ratio,
            });
            rounds[row.Case] = new JsonObject
            {
                ["mldefense"] = new JsonArray(row.MLDefenseRounds.Select(v => (JsonNode?)v).ToArray()),
                ["pytorch"] = new JsonArray(row.PyTorchRounds.Select(v => (JsonNode?)v).ToArray()),
            };
        }
        return new JsonObject
        {
            ["threads"] = r.Threads,
            ["device"] = r.Device,
            ["torch_version"] = r.TorchVersion,
            ["pytorch_version"] = r.PyTorchVersion,
            ["pytorch_unavailable"] = r.PyTorchUnavailable,
            ["batch_size"] = r.BatchSize,
            ["rounds"] = r.Rounds,
            ["steps_per_round"] = r.StepsPerRound,
            ["rows"] = rows,
            ["round_images_per_s"] = rounds,
        };
    }
}

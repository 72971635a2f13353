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
        bench.Subcommands.Add(BenchCmagCommand.Create(globals, console));
        bench.Subcommands.Add(BenchPipelineCommand.Create(globals, console));
        bench.Subcommands.Add(BenchNamidCommand.Create(globals, console));
        bench.Subcommands.Add(BenchMixDefenseCommand.Create(globals, console));
        return bench;
    }

    private static Command CreateEngine(GlobalOptions globals, CliConsole console)
    {
        var quick = CommonOptions.Quick($"A short run ({Describe(EngineBenchmarkOptions.Quick)}) instead of the full one ({Describe(EngineBenchmarkOptions.Full)}).");
        var json = CommonOptions.Json("{\"threads\", \"device\", \"torch_version\", \"pytorch_version\", \"pytorch_unavailable\", \"ratio_note\", \"flops_note\", "
            + "\"matmul_peak\": {\"size\", \"rounds\", \"multiplies_per_round\", \"flops_per_multiply\", \"mldefense_gflops\", \"pytorch_gflops\", \"peak_gflops\", "
            + "\"round_gflops\"}, "
            + "\"rows\": [{\"case\": \"train_step\"|\"input_gradient\"|\"classifier_a_train_step\"|\"aegan_train_step\"|\"aegan_purify\"|\"miaed_train_step\", \"batch_size\", \"rounds\", "
            + "\"steps_per_round\", \"mldefense_images_per_s\", \"pytorch_images_per_s\", \"ratio\", \"flops_per_image\", \"mldefense_gflops\", \"pytorch_gflops\", "
            + "\"mldefense_fraction_of_peak\", \"pytorch_fraction_of_peak\"}], \"round_images_per_s\"} — one row per case, "
            + "ratio = mldefense / pytorch (PyTorch 1.13 runs an older libtorch than MLDefense's 2.10; ratio_note says which ran); fraction_of_peak = gflops / matmul_peak.peak_gflops; "
            + "pytorch figures and ratio are null when PyTorch could not run");
        var allCases = Enum.GetValues<EngineBenchmarkCase>().Select(EngineBenchmark.CaseName).ToArray();
        var only = CommonOptions.Only($"Run only these cases (repeat the option or separate with commas): {string.Join(", ", allCases)}. Default: all.",
                                      "CASE", names =>
        {
            var unknown = names.Where(n => EngineBenchmark.ParseCase(n.ToLowerInvariant()) is null).ToArray();
            if (unknown.Length > 0) throw new ArgumentException($"{string.Join(", ", unknown)} is not one of {string.Join(", ", allCases)}.");
        });
        var python = CommonOptions.Python("The interpreter that runs the PyTorch side: Debian's, into which `sudo apt-get install python3-torch` installs torch "
                                        + "(not a pyenv or venv python3 found first on PATH, unless it has torch).");

        var engine = new Command("engine",
            "MLDefense's engine (TorchSharp 0.107, libtorch 2.10) against Debian's PyTorch 1.13.1 (an older libtorch). MIAED's MNIST classifier C1, batch 128, Adam lr 1e-3: "
          + "cases train_step (forward, cross-entropy, zero_grad, backward, Adam step) and input_gradient (the FGSM/PGD inner loop: "
          + "torch.autograd.grad w.r.t. the input); Defense-GAN's classifier A, batch 128, the same step: case classifier_a_train_step. AE-GAN's networks at Table 6's width 64 and latent 128, batch 100 (Table 4): cases "
          + "aegan_train_step (one minibatch of Alg. 1: the D step, then the F and G step, Adam 2e-4) and aegan_purify (Alg. 2 with the "
          + "latent search, L = 15, on every image). MIAED's MI dual autoencoder at the paper's sizes, batch 128: case miaed_train_step (Eq. 15's "
          + "step and the prior critic's WGAN-GP step, Adam 1e-4). Rounds alternate between the engines after warm-up; medians of images/s are reported. "
          + "Roofline: the machine's matmul peak (1024² float32 products, alternating rounds, the faster engine's median) is measured first, and each case's "
          + "achieved GFLOP/s (its convolutions' and linear layers' FLOPs, counted analytically) is given with its fraction of that peak. "
          + $"PyTorch runs {PyTorchScriptName} (next to this binary) with --python (install torch with `sudo apt-get install python3-torch`); "
          + "without it MLDefense's own figures are still reported. --threads sets the threads of both engines; --device auto picks cuda "
          + "when present, which needs a CUDA PyTorch too for the comparison.")
        {
            quick, only, json, python,
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
            if (parseResult.GetValue(only) is { Length: > 0 } names)
                options = options with { Cases = names.Select(n => EngineBenchmark.ParseCase(n.ToLowerInvariant())!.Value).ToArray() };
            var jsonFile = parseResult.GetValue(json);
            return CommandRunner.Run(console, settings, context => RunEngine(context, options, jsonFile));
        });
        return engine;
    }

    private static string Describe(EngineBenchmarkOptions o) =>
        $"{o.Rounds} rounds of {o.StepsPerRound} timed steps per C1 case and engine ({Math.Max(1, o.StepsPerRound / 3)} for classifier A), "
      + $"{o.DefenseRounds} rounds of one step per defense case, {o.Rounds} rounds of {o.PeakMultipliesPerRound} products for the matmul peak";

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
        var peak = r.MatmulPeak;
        var table = new Table()
            .Title("Engine speed: MLDefense vs PyTorch")
            .Caption(Markup.Escape($"threads {r.Threads} · {r.Device} · medians (min–max) over the rounds · {r.RatioNote}"))
            .AddColumn("case")
            .AddNumberColumns("batch", "rounds × steps", "MLDefense images/s", "PyTorch images/s", "ratio (vs older libtorch)", "MFLOP/image",
                              "MLDefense GFLOP/s (% peak)", "PyTorch GFLOP/s (% peak)");
        table.AddRow($"roofline: matmul {peak.Size}² float32", "—", $"{peak.Rounds} × {peak.MultipliesPerRound}", "—", "—",
                     TableText.OrDash(peak.PyTorchGflops is double p && p > 0 ? peak.MLDefenseGflops / p : null, "F3"),
                     $"{EngineFlops.Matmul(peak.Size) / 1e6:F0} / product",
                     $"{Spread(peak.MLDefenseGflops, peak.MLDefenseRounds)} ({peak.MLDefenseGflops / peak.PeakGflops:P0})",
                     peak.PyTorchGflops is double pg ? $"{Spread(pg, peak.PyTorchRounds)} ({pg / peak.PeakGflops:P0})" : "—");
        foreach (var row in r.Rows)
            table.AddRow(row.Case, $"{row.BatchSize}", $"{row.Rounds} × {row.StepsPerRound}",
                         Spread(row.MLDefenseImagesPerSecond, row.MLDefenseRounds),
                         row.PyTorchImagesPerSecond is double py ? Spread(py, row.PyTorchRounds) : "—",
                         TableText.OrDash(row.Ratio, "F3"), $"{row.FlopsPerImage / 1e6:F1}",
                         $"{row.MLDefenseGflops:F1} ({row.MLDefenseFractionOfPeak:P0})",
                         row.PyTorchGflops is double g ? $"{g:F1} ({row.PyTorchFractionOfPeak:P0})" : "—");
        console.Write(table);
        console.MarkupLine(Markup.Escape($"libtorch {r.TorchVersion} (MLDefense), PyTorch {r.PyTorchVersion ?? "—"}. {r.RatioNote}."));
        console.MarkupLine(Markup.Escape($"Roofline: peak {peak.PeakGflops:F1} GFLOP/s. {EngineBenchmarkResult.FlopsNote}."));
        if (r.PyTorchUnavailable is not null)
            console.MarkupLine($"[yellow]PyTorch did not run: {Markup.Escape(r.PyTorchUnavailable)}[/]");
    }

    /// <summary>"median (min–max)" of a round series.</summary>
    private static string Spread(double median, IReadOnlyList<double> rounds) =>
        rounds.Count > 1 ? $"{median:F1} ({rounds.Min():F1}–{rounds.Max():F1})" : $"{median:F1}";

    private static JsonObject ToJson(EngineBenchmarkResult r)
    {
        var rows = new JsonArray();
        var rounds = new JsonObject();
        foreach (var row in r.Rows)
        {
            rows.Add(new JsonObject
            {
                ["case"] = row.Case,
                ["batch_size"] = row.BatchSize,
                ["rounds"] = row.Rounds,
                ["steps_per_round"] = row.StepsPerRound,
                ["mldefense_images_per_s"] = row.MLDefenseImagesPerSecond,
                ["pytorch_images_per_s"] = row.PyTorchImagesPerSecond,
                ["ratio"] = row.Ratio,
                ["flops_per_image"] = row.FlopsPerImage,
                ["mldefense_gflops"] = row.MLDefenseGflops,
                ["pytorch_gflops"] = row.PyTorchGflops,
                ["mldefense_fraction_of_peak"] = row.MLDefenseFractionOfPeak,
                ["pytorch_fraction_of_peak"] = row.PyTorchFractionOfPeak,
            });
            rounds[row.Case] = new JsonObject
            {
                ["mldefense"] = new JsonArray(row.MLDefenseRounds.Select(v => (JsonNode?)v).ToArray()),
                ["pytorch"] = new JsonArray(row.PyTorchRounds.Select(v => (JsonNode?)v).ToArray()),
            };
        }
        var peak = r.MatmulPeak;
        return new JsonObject
        {
            ["threads"] = r.Threads,
            ["device"] = r.Device,
            ["torch_version"] = r.TorchVersion,
            ["pytorch_version"] = r.PyTorchVersion,
            ["pytorch_unavailable"] = r.PyTorchUnavailable,
            ["ratio_note"] = r.RatioNote,
            ["flops_note"] = EngineBenchmarkResult.FlopsNote,
            ["matmul_peak"] = new JsonObject
            {
                ["size"] = peak.Size,
                ["rounds"] = peak.Rounds,
                ["multiplies_per_round"] = peak.MultipliesPerRound,
                ["flops_per_multiply"] = EngineFlops.Matmul(peak.Size),
                ["mldefense_gflops"] = peak.MLDefenseGflops,
                ["pytorch_gflops"] = peak.PyTorchGflops,
                ["peak_gflops"] = peak.PeakGflops,
                ["round_gflops"] = new JsonObject
                {
                    ["mldefense"] = new JsonArray(peak.MLDefenseRounds.Select(v => (JsonNode?)v).ToArray()),
                    ["pytorch"] = new JsonArray(peak.PyTorchRounds.Select(v => (JsonNode?)v).ToArray()),
                },
            },
            ["rows"] = rows,
            ["round_images_per_s"] = rounds,
        };
    }
}

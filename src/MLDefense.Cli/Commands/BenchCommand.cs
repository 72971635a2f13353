using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using Spectre.Console;

namespace MLDefense.Cli.Commands;

/// <summary><c>mldefense bench ...</c>: benchmarks.</summary>
public static class BenchCommand
{
    /// <summary>The name of the PyTorch twin of the engine benchmark, copied next to the mldefense binary.</summary>
    public const string PyTorchScriptName = "bench_engine.py";

    /// <summary>Builds <c>bench</c> and its subcommands.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks: the engine's speed against PyTorch; the papers' tables.");
        bench.Subcommands.Add(CreateEngine());
        return bench;
    }

    private static Command CreateEngine()
    {
        var quick = new Option<bool>("--quick")
        {
            Description = $"A short run ({Describe(EngineBenchmarkOptions.Quick)}) instead of the full one ({Describe(EngineBenchmarkOptions.Full)}).",
        };
        var json = new Option<FileInfo?>("--json")
        {
            Description = "Also write the results to this file as JSON: {\"threads\", \"device\", \"torch_version\", \"pytorch_version\", "
                        + "\"pytorch_unavailable\", \"batch_size\", \"rounds\", \"steps_per_round\", \"rows\": [{\"case\": \"train_step\"|\"input_gradient\", "
                        + "\"mldefense_images_per_s\", \"pytorch_images_per_s\", \"ratio\"}], \"round_images_per_s\"} — one row per case, "
                        + "ratio = mldefense / pytorch; pytorch figures and ratio are null when PyTorch could not run. Default: no file.",
            HelpName = "PATH",
        };
        json.CustomParser = result =>
        {
            var file = new FileInfo(result.Tokens[0].Value);
            if (file.Directory is { Exists: false } dir) result.AddError($"--json: the folder {dir.FullName} does not exist.");
            return file;
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Intra-op threads, the same for MLDefense and PyTorch (torch.set_num_threads on both sides); default: the processor count.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
            CustomParser = result =>
            {
                var text = result.Tokens[0].Value;
                if (int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= 1) return n;
                result.AddError($"--threads: '{text}' is not a whole number of at least 1.");
                return 0;
            },
            HelpName = "N",
        };
        var device = new Option<string>("--device")
        {
            Description = "Where the workloads run (cuda needs a CUDA libtorch under the shim and a CUDA PyTorch).",
            DefaultValueFactory = _ => "cpu",
            CustomParser = result =>
            {
                var text = result.Tokens[0].Value;
                if (text is "cpu" or "cuda") return text;
                result.AddError($"--device: '{text}' is not one of cpu, cuda.");
                return "cpu";
            },
            HelpName = "cpu|cuda",
        };

        var python = new Option<string>("--python")
        {
            Description = "The interpreter that runs the PyTorch side: Debian's, into which `sudo apt-get install python3-torch` installs torch "
                        + "(not a pyenv or venv python3 found first on PATH, unless it has torch).",
            DefaultValueFactory = _ => "/usr/bin/python3",
            HelpName = "PATH",
        };

        var engine = new Command("engine",
            "MLDefense's libtorch binding against PyTorch on the same libtorch: MIAED's MNIST classifier C1, batch 128, Adam lr 1e-3; "
          + "cases train_step (forward, cross-entropy, zero_grad, backward, Adam step) and input_gradient (the FGSM/PGD inner loop: "
          + "torch.autograd.grad w.r.t. the input). Rounds alternate between the engines after warm-up; medians of images/s are reported. "
          + $"PyTorch runs {PyTorchScriptName} (next to this binary) with --python (install torch with `sudo apt-get install python3-torch`); "
          + "without it MLDefense's own figures are still reported.")
        {
            quick, json, threads, device, python,
        };
        engine.SetAction(parseResult =>
        {
            var preset = parseResult.GetValue(quick) ? EngineBenchmarkOptions.Quick : EngineBenchmarkOptions.Full;
            var options = preset with
            {
                Threads = parseResult.GetValue(threads),
                Device = parseResult.GetValue(device)!,
                PyTorchScript = Path.Combine(AppContext.BaseDirectory, PyTorchScriptName),
                PythonExecutable = parseResult.GetValue(python)!,
            };
            return RunEngine(options, parseResult.GetValue(json));
        });
        return engine;
    }

    private static string Describe(EngineBenchmarkOptions o) =>
        $"{o.Rounds} rounds of {o.StepsPerRound} timed steps per case and engine";

    private static int RunEngine(EngineBenchmarkOptions options, FileInfo? jsonFile)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        EngineBenchmarkResult result;
        try
        {
            // No auto-refresh: a render thread would compete with the benchmark for the cores.
            result = AnsiConsole.Progress()
                .AutoRefresh(false)
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn())
                .Start(context =>
                {
                    var task = context.AddTask("engine benchmark", maxValue: 1);
                    var progress = new InlineProgress<EngineBenchmarkProgress>(p =>
                    {
                        task.Description = Markup.Escape(p.Message);
                        task.Value = p.Fraction;
                        context.Refresh();
                    });
                    return EngineBenchmark.Run(options, progress, cancel.Token);
                });
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("mldefense: cancelled.");
            return Program.Failure;
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"mldefense: {e.Message}");
            return Program.Failure;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        Render(result);
        if (jsonFile is not null)
        {
            try
            {
                File.WriteAllText(jsonFile.FullName, ToJson(result).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"mldefense: cannot write {jsonFile.FullName}: {e.Message}");
                return Program.Failure;
            }
            AnsiConsole.MarkupLine($"Results written to [blue]{Markup.Escape(jsonFile.FullName)}[/].");
        }
        return 0;
    }

    private static void Render(EngineBenchmarkResult r)
    {
        var table = new Table()
            .Title("Engine speed: MLDefense vs PyTorch")
            .Caption($"threads {r.Threads} · {r.Device} · batch {r.BatchSize} · median of {r.Rounds} rounds × {r.StepsPerRound} steps")
            .AddColumn("case")
            .AddColumn(new TableColumn("MLDefense images/s").RightAligned())
            .AddColumn(new TableColumn("PyTorch images/s").RightAligned())
            .AddColumn(new TableColumn("ratio").RightAligned());
        foreach (var row in r.Rows)
            table.AddRow(row.Case, $"{row.MLDefenseImagesPerSecond:F1}",
                         row.PyTorchImagesPerSecond is double p ? $"{p:F1}" : "—",
                         row.Ratio is double ratio ? $"{ratio:F3}" : "—");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(Markup.Escape($"libtorch {r.TorchVersion} (MLDefense), PyTorch {r.PyTorchVersion ?? "—"}."));
        if (r.PyTorchUnavailable is not null)
            AnsiConsole.MarkupLine($"[yellow]PyTorch did not run: {Markup.Escape(r.PyTorchUnavailable)}[/]");
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

    /// <summary>Reports on the calling thread (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

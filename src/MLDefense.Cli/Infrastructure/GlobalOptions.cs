using System.CommandLine;
using MLDefense.Data;
using Microsoft.ML;

namespace MLDefense.Cli.Infrastructure;

/// <summary>What the global options say for one run.</summary>
/// <param name="Threads">libtorch's intra-op threads.</param>
/// <param name="Device">Where training and inference run.</param>
/// <param name="Seed">The seed of everything random.</param>
/// <param name="DataDirectory">The dataset root given with <c>--data</c>, or null to search the default places.</param>
/// <param name="Verbose">Whether errors show their stack trace.</param>
public sealed record GlobalSettings(int Threads, ComputeDevice Device, int Seed, string? DataDirectory, bool Verbose);

/// <summary>
/// The options every command takes (<c>--threads</c>, <c>--device</c>, <c>--seed</c>, <c>--data</c>, <c>--verbose</c>),
/// accepted before or after the command's name. A new command reads them with <see cref="Read"/> and runs through
/// <see cref="CommandRunner"/>, which applies them.
/// </summary>
public sealed class GlobalOptions
{
    /// <summary>The default of <c>--seed</c>: runs repeat unless the user asks otherwise.</summary>
    public const int DefaultSeed = 1;

    /// <summary><c>--threads N</c>.</summary>
    public Option<int> Threads { get; } = new("--threads")
    {
        Description = "Intra-op threads of libtorch (torch.set_num_threads); libtorch alone may start with a single thread.",
        HelpName = "N",
        DefaultValueFactory = _ => Environment.ProcessorCount,
        CustomParser = result => OptionParsers.WholeNumber(result, minimum: 1),
        Recursive = true,
    };

    /// <summary><c>--device cpu|cuda|auto</c>.</summary>
    public Option<string> Device { get; } = new("--device")
    {
        Description = "Where training and inference run: cpu, cuda (an error if no GPU is usable), or auto (the GPU when the loaded libtorch has CUDA and one is present).",
        HelpName = "cpu|cuda|auto",
        DefaultValueFactory = _ => "auto",
        CustomParser = result =>
        {
            var text = result.Tokens[0].Value.ToLowerInvariant();
            if (text is not ("cpu" or "cuda" or "auto")) result.AddError($"--device: '{result.Tokens[0].Value}' is not one of cpu, cuda, auto.");
            return text;
        },
        Recursive = true,
    };

    /// <summary><c>--seed N</c>.</summary>
    public Option<int> Seed { get; } = new("--seed")
    {
        Description = "Seed of initialisation, shuffling and sampling, so that runs repeat.",
        HelpName = "N",
        DefaultValueFactory = _ => DefaultSeed,
        CustomParser = result => OptionParsers.WholeNumber(result, minimum: 0),
        Recursive = true,
    };

    /// <summary><c>--data DIR</c>.</summary>
    public Option<DirectoryInfo?> Data { get; } = new("--data")
    {
        Description = $"Dataset root: a folder holding <name>/ (one of {string.Join(", ", KnownDatasets.Names)}) or the dataset's files themselves. "
                    + "Default: shared/datasets/<name> beside the repository, then (fashion-mnist) Debian's " + KnownDatasets.DebianFashionMnistDirectory + ".",
        HelpName = "DIR",
        CustomParser = OptionParsers.ExistingFolder,
        Recursive = true,
    };

    /// <summary><c>--verbose</c>.</summary>
    public Option<bool> Verbose { get; } = new("--verbose")
    {
        Description = "On failure, print the full exception (stack trace included), not only its message.",
        Recursive = true,
    };

    /// <summary>Adds the options to the root command.</summary>
    public void AddTo(RootCommand root)
    {
        root.Options.Add(Threads);
        root.Options.Add(Device);
        root.Options.Add(Seed);
        root.Options.Add(Data);
        root.Options.Add(Verbose);
    }

    /// <summary>The values of the options in a parse.</summary>
    public GlobalSettings Read(ParseResult parseResult) => new(
        parseResult.GetValue(Threads),
        parseResult.GetValue(Device) switch
        {
            "cpu" => ComputeDevice.Cpu,
            "cuda" => ComputeDevice.Cuda,
            _ => ComputeDevice.Auto,
        },
        parseResult.GetValue(Seed),
        parseResult.GetValue(Data)?.FullName,
        parseResult.GetValue(Verbose));
}

using System.Text.Json.Nodes;
using MLDefense.Benchmarks;

namespace MLDefense.Cli.Infrastructure;

/// <summary>How the bench commands describe the run behind a result: one caption, and the same leading JSON keys.</summary>
public static class BenchmarkRunText
{
    /// <summary>libtorch version, device, threads, seed and total time, as a table caption.</summary>
    public static string Caption(IBenchmarkRun run) =>
        $"libtorch {run.TorchVersion} · {run.Device} · {run.Threads} threads · seed {run.Seed} · total {run.TotalSeconds:F0} s";

    /// <summary>
    /// The keys a bench's JSON starts with: <c>quick</c>, <c>quick_shortens</c> (what --quick shortened, null for the full
    /// run), <c>threads</c>, <c>device</c>, <c>torch_version</c>, <c>seed</c>, <c>total_seconds</c>; start a
    /// <see cref="JsonObject"/> with them and add the bench's own.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, JsonNode?>> JsonHeader(IBenchmarkRun run, string? quickShortens) =>
    [
        new("quick", quickShortens is not null),
        new("quick_shortens", quickShortens),
        new("threads", run.Threads),
        new("device", run.Device),
        new("torch_version", run.TorchVersion),
        new("seed", run.Seed),
        new("total_seconds", JsonResults.Seconds(run.TotalSeconds)),
    ];
}

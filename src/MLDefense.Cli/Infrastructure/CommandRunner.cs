using MLDefense.Data;
using Microsoft.ML;

namespace MLDefense.Cli.Infrastructure;

/// <summary>What a command's body gets: the global settings (already applied), the console, and Ctrl+C as a token.</summary>
/// <param name="Settings">The global options' values.</param>
/// <param name="Console">Where to write.</param>
/// <param name="Cancellation">Cancelled by Ctrl+C; pass it to the workload.</param>
public sealed record CommandContext(GlobalSettings Settings, CliConsole Console, CancellationToken Cancellation)
{
    /// <summary>A context seeded with <c>--seed</c> whose components run on <c>--device</c>.</summary>
    public MLContext CreateMLContext() => Runtime.CreateMLContext(Settings.Seed, Settings.Device);
}

/// <summary>
/// Runs a command's body the same way for every command: applies <c>--threads</c>, turns Ctrl+C into cancellation,
/// and turns any failure into one line on stderr (the full exception with <c>--verbose</c>) and exit code 1.
/// </summary>
public static class CommandRunner
{
    /// <summary>Runs <paramref name="body"/>; returns its exit code, or <see cref="Program.Failure"/> when it throws or is cancelled.</summary>
    public static int Run(CliConsole console, GlobalSettings settings, Func<CommandContext, int> body)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            Runtime.Configure(settings.Threads);
            return body(new CommandContext(settings, console, cancel.Token));
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            console.WriteError("cancelled.");
            return Program.Failure;
        }
        catch (Exception e)
        {
            if (settings.Verbose) console.Error.WriteLine($"mldefense: {e}");
            else console.WriteError($"{e.Message} (--verbose shows details)");
            return Program.Failure;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}

using Spectre.Console;

namespace MLDefense.Cli.Infrastructure;

/// <summary>
/// Where a command writes: results and help to <see cref="Out"/>, one-line errors to <see cref="Error"/>. Tests build
/// one over string writers; <see cref="System"/> is the process's console.
/// </summary>
/// <param name="Out">Tables, summaries and progress.</param>
/// <param name="TextOut">The same stream as plain text: System.CommandLine's help and plain progress lines (which must not wrap).</param>
/// <param name="Error">Error messages.</param>
/// <param name="LiveProgress">
/// Whether progress is drawn as live bars (an interactive terminal) or written as plain lines (output redirected to a
/// file or a CI log, where redrawn bars would leave escape codes and hundreds of partial lines).
/// </param>
public sealed record CliConsole(IAnsiConsole Out, TextWriter TextOut, TextWriter Error, bool LiveProgress)
{
    /// <summary>
    /// The process's console: live progress only on an interactive terminal; with the output redirected, no escape
    /// codes (Spectre.Console would still emit them when TERM says the terminal has colours) and no table wrapping.
    /// </summary>
    public static CliConsole System()
    {
        if (Console.IsOutputRedirected) return Plain(Console.Out, Console.Error);
        var console = AnsiConsole.Console;
        bool live = console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi;
        return new CliConsole(console, Console.Out, Console.Error, live);
    }

    /// <summary>A console without colours, escape codes or live progress that writes to <paramref name="output"/> and <paramref name="error"/>.</summary>
    public static CliConsole Plain(TextWriter output, TextWriter error)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        // Logs have no width to respect, and a table wider than Spectre's fallback of 80 columns would wrap its cells.
        console.Profile.Width = 200;
        return new CliConsole(console, output, error, LiveProgress: false);
    }

    /// <summary>Writes one line to <see cref="Error"/>, prefixed with the program's name; any line breaks in the message are folded.</summary>
    public void WriteError(string message) =>
        Error.WriteLine($"mldefense: {string.Join(' ', message.Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))}");
}

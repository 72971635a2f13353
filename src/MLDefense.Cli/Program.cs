using System.CommandLine;
using MLDefense.Cli.Commands;

namespace MLDefense.Cli;

/// <summary>The <c>mldefense</c> entry point.</summary>
public static class Program
{
    /// <summary>Exit code of a command that ran and failed.</summary>
    public const int Failure = 1;

    /// <summary>Exit code of a bad command line (unknown command or option, bad value).</summary>
    public const int Usage = 2;

    /// <summary>Parses the command line and runs the command.</summary>
    public static int Main(string[] args)
    {
        var root = new RootCommand("mldefense: defenses against adversarial examples on libtorch — train, attack, evaluate, bench.");
        root.Subcommands.Add(BenchCommand.Create());

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // One line, not the parser's help dump: the first error says what is wrong; --help says the rest.
            var message = string.Join(' ', parsed.Errors[0].Message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            Console.Error.WriteLine($"mldefense: {message} (see --help)");
            return Usage;
        }
        return parsed.Invoke();
    }
}

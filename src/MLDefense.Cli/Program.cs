using System.CommandLine;
using MLDefense.Cli.Commands;
using MLDefense.Cli.Infrastructure;

namespace MLDefense.Cli;

/// <summary>The <c>mldefense</c> entry point.</summary>
public static class Program
{
    /// <summary>Exit code of a command that ran and failed.</summary>
    public const int Failure = 1;

    /// <summary>Exit code of a bad command line (unknown command or option, bad value).</summary>
    public const int Usage = 2;

    /// <summary>Parses the command line and runs the command on the process's console.</summary>
    public static int Main(string[] args) => Run(args, CliConsole.System());

    /// <summary>Parses <paramref name="args"/> and runs the command, writing to <paramref name="console"/>; returns the exit code.</summary>
    public static int Run(string[] args, CliConsole console)
    {
        var root = CreateRootCommand(console);
        if (UnknownCommand(root, args) is { } unknown)
        {
            console.WriteError(unknown);
            return Usage;
        }
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // One line, not the parser's help dump: the first error says what is wrong; --help says the rest.
            console.WriteError($"{parsed.Errors[0].Message} (see --help)");
            return Usage;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = console.TextOut, Error = console.Error });
    }

    /// <summary>
    /// The message for a command word that names no command ("unknown command 'trian'; did you mean 'train-classifier'?"),
    /// or null. System.CommandLine would say only "Required command was not provided" or list the word as unmatched.
    /// Words after the first option are left to the parser.
    /// </summary>
    internal static string? UnknownCommand(Command root, IReadOnlyList<string> args)
    {
        Command current = root;
        foreach (var token in args)
        {
            if (token.StartsWith('-')) return null;
            var sub = current.Subcommands.FirstOrDefault(c => c.Name == token || c.Aliases.Contains(token));
            if (sub is null)
            {
                if (current.Subcommands.Count == 0 || current.Arguments.Count > 0) return null;
                var names = current.Subcommands.Select(c => c.Name).ToArray();
                // Nearest by edit distance to the whole name or to its start ("trian" is 2 from "train-classifier"'s "train").
                string nearest = names.MinBy(n => Math.Min(EditDistance(n, token), EditDistance(n[..Math.Min(n.Length, token.Length)], token)))!;
                string where = current == root ? "" : $" of '{current.Name}'";
                return $"unknown command '{token}'{where}; did you mean '{nearest}'? (commands: {string.Join(", ", names)}; see --help)";
            }
            current = sub;
        }
        return null;
    }

    private static int EditDistance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    /// <summary>
    /// The command tree. A new command (attack, evaluate) is one file under Commands/ with a <c>Create(GlobalOptions, CliConsole)</c>
    /// that runs its body through <see cref="CommandRunner"/>, plus one line here.
    /// </summary>
    public static RootCommand CreateRootCommand(CliConsole console)
    {
        var root = new RootCommand("mldefense: defenses against adversarial examples on libtorch — train, attack, evaluate, bench.");
        var globals = new GlobalOptions();
        globals.AddTo(root);
        root.Subcommands.Add(DefendCommand.Create(globals, console));
        root.Subcommands.Add(TrainClassifierCommand.Create(globals, console));
        root.Subcommands.Add(AttackCommand.Create(globals, console));
        root.Subcommands.Add(EvaluateCommand.Create(globals, console));
        root.Subcommands.Add(BenchCommand.Create(globals, console));
        root.Subcommands.Add(ReportCommand.Create(globals, console));
        return root;
    }
}

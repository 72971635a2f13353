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

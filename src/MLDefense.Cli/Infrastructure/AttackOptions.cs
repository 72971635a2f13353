using System.CommandLine;
using MLDefense.Attacks;

namespace MLDefense.Cli.Infrastructure;

/// <summary>
/// The options that choose an attack (<c>--attack</c>, <c>--epsilon</c>, <c>--norm</c>, <c>--iterations</c>,
/// <c>--step-size</c>), shared by <c>attack</c> and <c>evaluate</c>; <see cref="Read"/> turns them into <see cref="AttackSettings"/>.
/// </summary>
public sealed class AttackOptions
{
    /// <summary>Creates the options; <paramref name="names"/> are the attacks the command accepts.</summary>
    public AttackOptions(IReadOnlyList<string> names)
    {
        Attack = new Option<string>("--attack")
        {
            Description = "The attack: fgsm (L∞) and fgm (L2) (Goodfellow et al.), bim (Kurakin et al.), pgd (Madry et al., random start), "
                        + "mim (Dong et al.), cw (Carlini-Wagner L2, κ 0), deepfool (Moosavi-Dezfooli et al.). Only these here: " + string.Join(", ", names) + ".",
            HelpName = string.Join('|', names),
            Required = true,
            CustomParser = result =>
            {
                var text = result.Tokens[0].Value.ToLowerInvariant();
                if (!names.Contains(text)) result.AddError($"--attack: '{result.Tokens[0].Value}' is not one of {string.Join(", ", names)}.");
                return text;
            },
        };
        Epsilon = OptionParsers.Create("--epsilon", "The budget ε (fgsm, fgm, bim, pgd, mim). Default: the attack's, 0.3 (MNIST, L∞).",
                                       "X", r => (double?)OptionParsers.PositiveNumber(r));
        Norm = OptionParsers.Create<AttackNorm?>("--norm", "The norm of bim, pgd and deepfool (linf or l2). Default: linf (bim, pgd), l2 (deepfool); "
                                                          + "fgsm and mim are linf, fgm and cw l2.", "linf|l2", result =>
        {
            switch (result.Tokens[0].Value.ToLowerInvariant())
            {
                case "linf": return AttackNorm.Linf;
                case "l2": return AttackNorm.L2;
                default:
                    result.AddError($"--norm: '{result.Tokens[0].Value}' is not one of linf, l2.");
                    return null;
            }
        });
        Iterations = OptionParsers.Create("--iterations", "Iterations of bim, pgd (default 40) and mim (default 10); Adam iterations per binary-search "
                                                        + "step of cw (default 10000, the paper's: slow on a CPU); the most steps of deepfool (default 50).",
                                          "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));
        StepSize = OptionParsers.Create("--step-size", "The step size α of bim, pgd (default 0.01) and mim (default ε / iterations).",
                                        "X", r => (double?)OptionParsers.PositiveNumber(r));
    }

    /// <summary><c>--attack NAME</c>.</summary>
    public Option<string> Attack { get; }

    /// <summary><c>--epsilon X</c>.</summary>
    public Option<double?> Epsilon { get; }

    /// <summary><c>--norm linf|l2</c>.</summary>
    public Option<AttackNorm?> Norm { get; }

    /// <summary><c>--iterations N</c>.</summary>
    public Option<int?> Iterations { get; }

    /// <summary><c>--step-size X</c>.</summary>
    public Option<double?> StepSize { get; }

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Attack);
        command.Options.Add(Epsilon);
        command.Options.Add(Norm);
        command.Options.Add(Iterations);
        command.Options.Add(StepSize);
    }

    /// <summary>The settings a parse gives.</summary>
    public AttackSettings Read(ParseResult parseResult) => new()
    {
        Attack = parseResult.GetValue(Attack)!,
        Epsilon = parseResult.GetValue(Epsilon),
        Norm = parseResult.GetValue(Norm),
        Iterations = parseResult.GetValue(Iterations),
        StepSize = parseResult.GetValue(StepSize),
    };

    /// <summary>
    /// Checks that the settings make an attack (a setting that does not apply to the attack, such as <c>--epsilon</c> for
    /// cw, is a usage error); on failure writes one line and returns false.
    /// </summary>
    public static bool Check(AttackSettings settings, CliConsole console)
    {
        try
        {
            AttackFactory.Create(settings);
            return true;
        }
        catch (ArgumentException e)
        {
            console.WriteError($"--attack {settings.Attack}: {OptionParsers.MessageOf(e)} (see --help)");
            return false;
        }
    }
}

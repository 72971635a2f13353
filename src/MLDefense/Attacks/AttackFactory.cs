namespace MLDefense.Attacks;

/// <summary>
/// An attack chosen by name with the settings a command line gives (<c>mldefense attack --attack pgd --epsilon 0.3</c>);
/// every setting left null takes the attack's own default (see its Options class).
/// </summary>
public sealed record AttackSettings
{
    /// <summary>One of <see cref="AttackFactory.Names"/>: <c>fgsm</c>, <c>fgm</c>, <c>bim</c>, <c>pgd</c>, <c>mim</c>, <c>cw</c>, <c>deepfool</c>.</summary>
    public required string Attack { get; init; }

    /// <summary>The budget ε (FGSM, FGM, BIM, PGD, MIM); CW-L2 and DeepFool have none and reject it.</summary>
    public double? Epsilon { get; init; }

    /// <summary>The norm (BIM, PGD, DeepFool choose; FGSM and MIM are L∞, FGM and CW L2, and reject the other).</summary>
    public AttackNorm? Norm { get; init; }

    /// <summary>Iterations (BIM, PGD, MIM), Adam iterations per binary-search step (CW-L2), or the most steps (DeepFool); FGSM/FGM reject it.</summary>
    public int? Iterations { get; init; }

    /// <summary>The step size α (BIM, PGD, MIM); the others reject it.</summary>
    public double? StepSize { get; init; }
}

/// <summary>Builds the attacks of <see cref="AttackSettings"/> and describes their budgets for result rows.</summary>
public static class AttackFactory
{
    /// <summary>The attack names <see cref="Create"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fgsm", "fgm", "bim", "pgd", "mim", "cw", "deepfool"];

    /// <summary>The names of the attacks with a perturbation budget ε (the ones a budget sweep can run).</summary>
    public static IReadOnlyList<string> BudgetedNames { get; } = ["fgsm", "fgm", "bim", "pgd", "mim"];

    /// <summary>Builds the attack; the attack's constructor checks the values (ε &gt; 0, iterations ≥ 1, ...).</summary>
    /// <exception cref="ArgumentException">The name is unknown, or a setting does not apply to the attack (the message says which).</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public static AdversarialAttack Create(AttackSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var name = settings.Attack.ToLowerInvariant();
        switch (name)
        {
            case "fgsm":
            case "fgm":
                var fixedNorm = name == "fgsm" ? AttackNorm.Linf : AttackNorm.L2;
                RequireNorm(settings, name, fixedNorm);
                Reject(settings.Iterations, name, "iterations", "it takes a single step");
                Reject(settings.StepSize, name, "step size", "its step is ε");
                var fast = new FastGradientOptions { Norm = fixedNorm };
                if (settings.Epsilon is double fastEpsilon) fast.Epsilon = fastEpsilon;
                return new FastGradientAttack(fast);
            case "bim":
                var bim = new BasicIterativeOptions();
                if (settings.Epsilon is double bimEpsilon) bim.Epsilon = bimEpsilon;
                if (settings.Norm is AttackNorm bimNorm) bim.Norm = bimNorm;
                if (settings.Iterations is int bimIterations) bim.Iterations = bimIterations;
                if (settings.StepSize is double bimStep) bim.StepSize = bimStep;
                return new BasicIterativeAttack(bim);
            case "pgd":
                var pgd = new ProjectedGradientDescentOptions();
                if (settings.Epsilon is double pgdEpsilon) pgd.Epsilon = pgdEpsilon;
                if (settings.Norm is AttackNorm pgdNorm) pgd.Norm = pgdNorm;
                if (settings.Iterations is int pgdIterations) pgd.Iterations = pgdIterations;
                if (settings.StepSize is double pgdStep) pgd.StepSize = pgdStep;
                return new ProjectedGradientDescentAttack(pgd);
            case "mim":
                RequireNorm(settings, name, AttackNorm.Linf);
                var mim = new MomentumIterativeOptions { StepSize = settings.StepSize };
                if (settings.Epsilon is double mimEpsilon) mim.Epsilon = mimEpsilon;
                if (settings.Iterations is int mimIterations) mim.Iterations = mimIterations;
                return new MomentumIterativeAttack(mim);
            case "cw":
                RequireNorm(settings, name, AttackNorm.L2);
                Reject(settings.Epsilon, name, "epsilon", "it seeks the smallest L2 perturbation");
                Reject(settings.StepSize, name, "step size", "Adam's learning rate is fixed at 0.01");
                var cw = new CarliniWagnerL2Options();
                if (settings.Iterations is int cwIterations) cw.MaxIterations = cwIterations;
                return new CarliniWagnerL2Attack(cw);
            case "deepfool":
                Reject(settings.Epsilon, name, "epsilon", "it seeks the smallest perturbation");
                Reject(settings.StepSize, name, "step size", "each step is the linearised distance to the boundary");
                var deepFool = new DeepFoolOptions();
                if (settings.Norm is AttackNorm deepFoolNorm) deepFool.Norm = deepFoolNorm;
                if (settings.Iterations is int deepFoolIterations) deepFool.MaxIterations = deepFoolIterations;
                return new DeepFoolAttack(deepFool);
            default:
                throw new ArgumentException($"Unknown attack '{settings.Attack}'; the attacks are {string.Join(", ", Names)}.", nameof(settings));
        }
    }

    /// <summary>The attack's budget ε, or null for the attacks that have none (CW-L2, DeepFool).</summary>
    public static double? Epsilon(IAdversarialAttack attack) => attack switch
    {
        FastGradientAttack a => a.Epsilon,
        BasicIterativeAttack a => a.Epsilon,
        ProjectedGradientDescentAttack a => a.Epsilon,
        MomentumIterativeAttack a => a.Epsilon,
        AutoProjectedGradientAttack a => a.Epsilon,
        _ => null,
    };

    private static void RequireNorm(AttackSettings settings, string name, AttackNorm norm)
    {
        if (settings.Norm is AttackNorm asked && asked != norm)
            throw new ArgumentException($"{name} is an {NormText(norm)} attack; it takes no --norm {NormText(asked)}"
                                      + (name == "fgsm" ? " (fgm is its L2 form)." : name == "fgm" ? " (fgsm is its L∞ form)." : "."));
    }

    private static void Reject<T>(T? value, string name, string what, string why) where T : struct
    {
        if (value is not null) throw new ArgumentException($"{name} takes no {what} setting: {why}.");
    }

    private static string NormText(AttackNorm norm) => norm == AttackNorm.Linf ? "linf" : "l2";
}

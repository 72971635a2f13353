using MLDefense.Data;
using MLDefense.Classifiers;

namespace MLDefense.Attacks;

/// <summary>Options of <see cref="BasicIterativeAttack"/> (BIM).</summary>
public sealed class BasicIterativeOptions
{
    /// <summary>The budget ε (L∞: per pixel; L2: the perturbation's length). Default 0.3 (MNIST, L∞). Must be &gt; 0.</summary>
    public double Epsilon { get; set; } = 0.3;

    /// <summary>
    /// The step size α of each iteration. Default 0.01, the MNIST setting of the project's benchmark (MIAED Table 5,
    /// as Madry et al.); Kurakin et al. use α = 1/255 on ImageNet. Must be &gt; 0.
    /// </summary>
    public double StepSize { get; set; } = 0.01;

    /// <summary>
    /// The number of iterations. Default 40 (as <see cref="StepSize"/>); Kurakin et al. use min(ε·255 + 4, 1.25·ε·255).
    /// Must be ≥ 1.
    /// </summary>
    public int Iterations { get; set; } = 40;

    /// <summary>The norm of the budget and of the step. Default <see cref="AttackNorm.Linf"/>.</summary>
    public AttackNorm Norm { get; set; } = AttackNorm.Linf;
}

/// <summary>Options of <see cref="ProjectedGradientDescentAttack"/> (PGD).</summary>
public sealed class ProjectedGradientDescentOptions
{
    /// <summary>The budget ε (L∞: per pixel; L2: the perturbation's length). Default 0.3, Madry et al.'s MNIST budget. Must be &gt; 0.</summary>
    public double Epsilon { get; set; } = 0.3;

    /// <summary>The step size α. Default 0.01 (Madry et al., MNIST). Must be &gt; 0.</summary>
    public double StepSize { get; set; } = 0.01;

    /// <summary>The number of iterations. Default 40 (Madry et al., MNIST). Must be ≥ 1.</summary>
    public int Iterations { get; set; } = 40;

    /// <summary>The norm of the budget and of the step. Default <see cref="AttackNorm.Linf"/>.</summary>
    public AttackNorm Norm { get; set; } = AttackNorm.Linf;

    /// <summary>
    /// Whether each run starts from a uniformly random point of the ε-ball (L∞: U(−ε, ε) per pixel; L2: uniform in the ball)
    /// rather than from the clean image. Default true (Madry et al.).
    /// </summary>
    public bool RandomStart { get; set; } = true;

    /// <summary>
    /// Independent runs per image; each image keeps the run that succeeded (else the one with the worst loss). Default 1.
    /// Restarts beyond the first are skipped once every image of the batch has succeeded. Must be ≥ 1.
    /// </summary>
    public int Restarts { get; set; } = 1;

    /// <summary>When true the labels are target classes and the steps descend their cross-entropy. Default false.</summary>
    public bool Targeted { get; set; }
}

/// <summary>Options of <see cref="MomentumIterativeAttack"/> (MI-FGSM).</summary>
public sealed class MomentumIterativeOptions
{
    /// <summary>The L∞ budget ε. Default 0.3 (MNIST). Must be &gt; 0.</summary>
    public double Epsilon { get; set; } = 0.3;

    /// <summary>The number of iterations T. Default 10 (Dong et al.). Must be ≥ 1.</summary>
    public int Iterations { get; set; } = 10;

    /// <summary>The step size α; null (default) takes Dong et al.'s α = ε / T. Must be &gt; 0 when set.</summary>
    public double? StepSize { get; set; }

    /// <summary>The decay factor μ of the accumulated gradient. Default 1.0 (Dong et al.). Must be ≥ 0 (0 gives BIM).</summary>
    public double DecayFactor { get; set; } = 1.0;
}

/// <summary>
/// The basic iterative method (BIM; Kurakin, Goodfellow and Bengio, "Adversarial Examples in the Physical World",
/// ICLR 2017 workshop, Sec. 2.1): x₀ = x, xₜ₊₁ = Clip_{x,ε}(xₜ + α·sign(∇ₓJ(xₜ, y))). The L2 form steps by α·∇/‖∇‖₂ and
/// projects onto the L2 ball of radius ε. Every iterate is also clipped to [0, 1]. Untargeted.
/// </summary>
public sealed class BasicIterativeAttack : AdversarialAttack
{
    /// <summary>Creates the attack; the options are checked (ε &gt; 0, α &gt; 0, iterations ≥ 1) and copied.</summary>
    public BasicIterativeAttack(BasicIterativeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Norm = AttackInputs.Defined(options.Norm, Name);
        Epsilon = AttackInputs.Positive(options.Epsilon, "epsilon", Name);
        StepSize = AttackInputs.Positive(options.StepSize, "stepSize", Name);
        Iterations = AttackInputs.AtLeastOne(options.Iterations, "iterations", Name);
    }

    /// <summary>ε.</summary>
    public double Epsilon { get; }
    /// <summary>α.</summary>
    public double StepSize { get; }
    /// <summary>The number of iterations.</summary>
    public int Iterations { get; }

    /// <inheritdoc />
    public override string Name => "BIM";
    /// <inheritdoc />
    public override AttackNorm Norm { get; }
    /// <inheritdoc />
    public override bool Targeted => false;

    private protected override Tensor GenerateCore(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken) =>
        IterativeGradient.Run(classifier, images, labels, images.clone(), Norm, Epsilon, StepSize, Iterations, targeted: false, decayFactor: null, cancellationToken);
}

/// <summary>
/// Projected gradient descent (PGD; Madry, Makelov, Schmidt, Tsipras and Vladu, "Towards Deep Learning Models Resistant to
/// Adversarial Attacks", ICLR 2018, Eq. 2): xₜ₊₁ = Π_{x+S}(xₜ + α·sign(∇ₓL(θ, xₜ, y))), from a random point of the ε-ball
/// (Sec. 3), with restarts. The L2 form steps by α·∇/‖∇‖₂ and projects onto the L2 ball. Every iterate is clipped to
/// [0, 1]. Targeted: descends the cross-entropy of the target class.
/// </summary>
public sealed class ProjectedGradientDescentAttack : AdversarialAttack
{
    /// <summary>Creates the attack; the options are checked (ε &gt; 0, α &gt; 0, iterations ≥ 1, restarts ≥ 1) and copied.</summary>
    public ProjectedGradientDescentAttack(ProjectedGradientDescentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Norm = AttackInputs.Defined(options.Norm, Name);
        Epsilon = AttackInputs.Positive(options.Epsilon, "epsilon", Name);
        StepSize = AttackInputs.Positive(options.StepSize, "stepSize", Name);
        Iterations = AttackInputs.AtLeastOne(options.Iterations, "iterations", Name);
        Restarts = AttackInputs.AtLeastOne(options.Restarts, "restarts", Name);
        RandomStart = options.RandomStart;
        Targeted = options.Targeted;
    }

    /// <summary>ε.</summary>
    public double Epsilon { get; }
    /// <summary>α.</summary>
    public double StepSize { get; }
    /// <summary>The number of iterations per run.</summary>
    public int Iterations { get; }
    /// <summary>The number of runs.</summary>
    public int Restarts { get; }
    /// <summary>Whether runs start at a random point of the ε-ball.</summary>
    public bool RandomStart { get; }

    /// <inheritdoc />
    public override string Name => "PGD";
    /// <inheritdoc />
    public override AttackNorm Norm { get; }
    /// <inheritdoc />
    public override bool Targeted { get; }

    private protected override Tensor GenerateCore(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken)
    {
        Tensor? best = null, bestSucceeded = null, bestScore = null;
        for (int restart = 0; restart < Restarts; restart++)
        {
            using var run = torch.NewDisposeScope();
            var start = RandomStart ? RandomPointInBall(images) : images.clone();
            var candidate = IterativeGradient.Run(classifier, images, labels, start, Norm, Epsilon, StepSize, Iterations, Targeted, decayFactor: null, cancellationToken);
            if (Restarts == 1) return candidate.MoveToOuterDisposeScope();

            Tensor succeeded, score;
            using (torch.no_grad())
            {
                var logits = classifier.Logits(candidate);
                succeeded = AttackMath.Succeeded(logits, labels, Targeted);
                // Higher is better: the loss the attack ascends.
                var loss = torch.nn.functional.cross_entropy(logits, labels, reduction: Reduction.None);
                score = Targeted ? loss.neg() : loss;
            }
            if (best is null)
            {
                (best, bestSucceeded, bestScore) = (candidate.MoveToOuterDisposeScope(), succeeded.MoveToOuterDisposeScope(), score.MoveToOuterDisposeScope());
            }
            else
            {
                // A success beats a failure; between equals, the worse loss for the model wins.
                var better = succeeded.logical_and(bestSucceeded!.logical_not())
                    .logical_or(succeeded.eq(bestSucceeded!).logical_and(score.gt(bestScore!)));
                best.copy_(torch.where(better.reshape(-1, 1, 1, 1), candidate, best));
                bestSucceeded!.copy_(bestSucceeded.logical_or(succeeded));
                bestScore!.copy_(torch.where(better, score, bestScore));
            }
            if (bestSucceeded!.all().item<bool>()) break;
        }
        return best!;
    }

    private Tensor RandomPointInBall(Tensor images)
    {
        Tensor noise;
        if (Norm == AttackNorm.Linf)
        {
            noise = torch.rand_like(images).mul(2 * Epsilon).sub(Epsilon);
        }
        else
        {
            // A Gaussian direction and a radius ε·U^(1/d) give a uniform point of the d-dimensional ball.
            var direction = torch.randn_like(images);
            long d = images.numel() / images.size(0);
            var radius = torch.rand([images.size(0), 1, 1, 1], device: images.device).pow(1.0 / d).mul(Epsilon);
            noise = direction.div(AttackMath.PerImageNorm(direction, 2)).mul(radius);
        }
        return images.add(noise).clamp(0.0, 1.0);
    }
}

/// <summary>
/// The momentum iterative fast gradient sign method (MI-FGSM; Dong, Liao, Pang, Su, Zhu, Hu and Li, "Boosting Adversarial
/// Attacks with Momentum", CVPR 2018, Algorithm 1, Eqs. 6–7): gₜ₊₁ = μ·gₜ + ∇ₓJ(xₜ, y) / ‖∇ₓJ(xₜ, y)‖₁,
/// xₜ₊₁ = Clip_{x,ε}(xₜ + α·sign(gₜ₊₁)), with α = ε/T. L∞, untargeted; every iterate is also clipped to [0, 1].
/// </summary>
public sealed class MomentumIterativeAttack : AdversarialAttack
{
    /// <summary>Creates the attack; the options are checked (ε &gt; 0, iterations ≥ 1, α &gt; 0 when set, μ ≥ 0) and copied.</summary>
    public MomentumIterativeAttack(MomentumIterativeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Epsilon = AttackInputs.Positive(options.Epsilon, "epsilon", Name);
        Iterations = AttackInputs.AtLeastOne(options.Iterations, "iterations", Name);
        StepSize = options.StepSize is { } step ? AttackInputs.Positive(step, "stepSize", Name) : Epsilon / Iterations;
        DecayFactor = AttackInputs.NonNegative(options.DecayFactor, "decayFactor", Name);
    }

    /// <summary>ε.</summary>
    public double Epsilon { get; }
    /// <summary>T.</summary>
    public int Iterations { get; }
    /// <summary>α (ε/T unless given).</summary>
    public double StepSize { get; }
    /// <summary>μ.</summary>
    public double DecayFactor { get; }

    /// <inheritdoc />
    public override string Name => "MIM";
    /// <inheritdoc />
    public override AttackNorm Norm => AttackNorm.Linf;
    /// <inheritdoc />
    public override bool Targeted => false;

    private protected override Tensor GenerateCore(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken) =>
        IterativeGradient.Run(classifier, images, labels, images.clone(), AttackNorm.Linf, Epsilon, StepSize, Iterations, targeted: false, DecayFactor, cancellationToken);
}

/// <summary>The loop BIM, PGD and MIM share: ascend, project onto the ε-ball around the clean images, clip to [0, 1].</summary>
internal static class IterativeGradient
{
    /// <summary>
    /// Runs <paramref name="iterations"/> steps from <paramref name="start"/> (which it takes over and may free). With a
    /// <paramref name="decayFactor"/> the step follows the L1-normalised momentum of the gradients (MI-FGSM).
    /// The result is in the caller's current dispose scope.
    /// </summary>
    public static Tensor Run(IDifferentiableClassifier classifier, Tensor images, Tensor labels, Tensor start, AttackNorm norm,
        double epsilon, double stepSize, int iterations, bool targeted, double? decayFactor, CancellationToken cancellationToken)
    {
        using var scope = torch.NewDisposeScope();
        var adversarial = start;
        Tensor? low = null, high = null, momentum = null;
        if (norm == AttackNorm.Linf) (low, high) = (images.sub(epsilon), images.add(epsilon));
        if (decayFactor is not null) momentum = torch.zeros_like(images);

        for (int t = 0; t < iterations; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var step = torch.NewDisposeScope();
            var ascent = AttackMath.AscentDirection(classifier, adversarial, labels, targeted);
            Tensor direction;
            if (momentum is not null)
            {
                momentum = AttackMath.Replace(momentum, momentum.mul(decayFactor!.Value).add(ascent.div(torch.linalg.vector_norm(ascent, 1, [1, 2, 3], keepdim: true).clamp(min: 1e-12))));
                direction = momentum.sign();
            }
            else
            {
                direction = AttackMath.StepDirection(ascent, norm);
            }
            var moved = adversarial.add(direction.mul(stepSize));
            var projected = AttackMath.Project(moved, images, low, high, norm, epsilon);
            adversarial = AttackMath.Replace(adversarial, projected.clamp(0.0, 1.0));
        }
        return adversarial.MoveToOuterDisposeScope();
    }
}

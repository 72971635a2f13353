using MLDefense.Data;
using MLDefense.Classifiers;

namespace MLDefense.Attacks;

/// <summary>Options of <see cref="FastGradientAttack"/> (FGSM for L∞, FGM for L2).</summary>
public sealed class FastGradientOptions
{
    /// <summary>
    /// The budget ε: the largest change of a pixel (L∞) or the perturbation's Euclidean length (L2). Default 0.3, the usual
    /// L∞ budget on MNIST (Madry et al. 2018); Goodfellow et al. report ε = 0.25 on MNIST. Must be &gt; 0.
    /// </summary>
    public double Epsilon { get; set; } = 0.3;

    /// <summary>The norm: <see cref="AttackNorm.Linf"/> (FGSM, default) or <see cref="AttackNorm.L2"/> (FGM).</summary>
    public AttackNorm Norm { get; set; } = AttackNorm.Linf;

    /// <summary>When true the labels are target classes and the step descends their cross-entropy. Default false.</summary>
    public bool Targeted { get; set; }
}

/// <summary>
/// The fast gradient sign method (FGSM; Goodfellow, Shlens and Szegedy, "Explaining and Harnessing Adversarial Examples",
/// ICLR 2015, Eq. 3): x' = clip[0,1](x + ε·sign(∇ₓJ(θ, x, y))), and its L2 form, the fast gradient method (FGM; the same
/// paper's direction normalised in L2, as in Miyato et al. 2016): x' = clip[0,1](x + ε·∇ₓJ / ‖∇ₓJ‖₂). J is the
/// cross-entropy of the logits. Targeted: x' = clip[0,1](x − ε·sign(∇ₓJ(θ, x, t))) (Kurakin et al. 2017).
/// </summary>
/// <remarks>Where the gradient is exactly 0, sign gives 0 and the pixel does not move (as PyTorch's <c>sign</c>).</remarks>
public sealed class FastGradientAttack : AdversarialAttack
{
    /// <summary>Creates the attack; the options are checked (ε &gt; 0) and copied.</summary>
    public FastGradientAttack(FastGradientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Norm = AttackInputs.Defined(options.Norm, "FGSM");
        Epsilon = AttackInputs.Positive(options.Epsilon, "epsilon", Name);
        Targeted = options.Targeted;
    }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary><c>FGSM</c> for L∞, <c>FGM</c> for L2.</summary>
    public override string Name => Norm == AttackNorm.Linf ? "FGSM" : "FGM";

    /// <inheritdoc />
    public override AttackNorm Norm { get; }

    /// <inheritdoc />
    public override bool Targeted { get; }

    private protected override Tensor GenerateCore(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken)
    {
        var ascent = AttackMath.AscentDirection(classifier, images, labels, Targeted);
        var step = Norm == AttackNorm.Linf ? ascent.sign() : ascent.div(AttackMath.PerImageNorm(ascent, 2));
        return images.add(step.mul(Epsilon)).clamp(0.0, 1.0);
    }
}

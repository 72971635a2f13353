using MLDefense.Data;
using MLDefense.Classifiers;

namespace MLDefense.Attacks;

/// <summary>The norm an attack's budget is measured in.</summary>
public enum AttackNorm
{
    /// <summary>L∞: every pixel moves by at most ε.</summary>
    Linf,
    /// <summary>L2: the perturbation's Euclidean length is at most ε.</summary>
    L2,
}

/// <summary>
/// An evasion attack on a differentiable image classifier. Implementations work on whole batches on the
/// classifier's device and return images clipped to the valid pixel range [0, 1].
/// </summary>
public interface IAdversarialAttack
{
    /// <summary>A short name for tables and JSON (e.g. <c>PGD</c>).</summary>
    string Name { get; }

    /// <summary>The norm of the budget (attacks without a fixed budget, such as CW-L2 and DeepFool, report theirs).</summary>
    AttackNorm Norm { get; }

    /// <summary>
    /// Adversarial versions of <paramref name="images"/> ([N, C, H, W], values in [0, 1], on the classifier's device).
    /// <paramref name="labels"/> (int64 [N]) are the true classes for an untargeted attack, the target classes for a
    /// targeted one. The result is a new tensor the caller owns; it is detached from any autograd graph.
    /// </summary>
    Tensor Generate(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken = default);
}

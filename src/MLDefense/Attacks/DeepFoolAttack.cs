using MLDefense.Data;
using MLDefense.Classifiers;

namespace MLDefense.Attacks;

/// <summary>Options of <see cref="DeepFoolAttack"/>. Defaults are Moosavi-Dezfooli et al.'s.</summary>
public sealed class DeepFoolOptions
{
    /// <summary>The norm of the minimal perturbation sought: <see cref="AttackNorm.L2"/> (default) or <see cref="AttackNorm.Linf"/>.</summary>
    public AttackNorm Norm { get; set; } = AttackNorm.L2;

    /// <summary>The overshoot η: the accumulated perturbation is scaled by 1 + η to cross the boundary. Default 0.02. Must be ≥ 0.</summary>
    public double Overshoot { get; set; } = 0.02;

    /// <summary>The most linearisation steps per image. Default 50. Must be ≥ 1.</summary>
    public int MaxIterations { get; set; } = 50;
}

/// <summary>
/// DeepFool (Moosavi-Dezfooli, Fawzi and Frossard, "DeepFool: a simple and accurate method to fool deep neural networks",
/// CVPR 2016, Algorithm 2 and Sec. 3.3). At each step, with f_k = Z_k − Z_y and w_k = ∇f_k at the current iterate, it
/// picks l = argmin_{k≠y} |f_k| / ‖w_k‖_q and moves by r = (|f_l| / ‖w_l‖₂ + 10⁻⁴)·w_l / ‖w_l‖₂ for L2 (q = 2, the multi-class
/// Algorithm 2), or r = (|f_l| / ‖w_l‖₁ + 10⁻⁴)·sign(w_l) for L∞ (q = 1, the ℓp generalisation of Sec. 3.3); the iterate is
/// clip[0,1](x + (1 + η)·Σr), and each image stops as soon as it is misclassified. Untargeted; there is no fixed budget.
/// </summary>
/// <remarks>
/// Departures from the paper, and why: the class to leave is the given label, not the clean prediction (they coincide on
/// correctly classified images, and an already misclassified image is returned unchanged, consistently with the other
/// attacks); every class is a candidate (the reference code keeps the 10 most probable, the same for 10-class data); the
/// 10⁻⁴ added to the step length follows the authors' code, and iterates are clipped to [0, 1] because pixels must stay valid.
/// </remarks>
public sealed class DeepFoolAttack : AdversarialAttack
{
    /// <summary>Creates the attack; the options are checked (η ≥ 0, iterations ≥ 1) and copied.</summary>
    public DeepFoolAttack(DeepFoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Norm = AttackInputs.Defined(options.Norm, Name);
        Overshoot = AttackInputs.NonNegative(options.Overshoot, "overshoot", Name);
        MaxIterations = AttackInputs.AtLeastOne(options.MaxIterations, "maxIterations", Name);
    }

    /// <summary>η.</summary>
    public double Overshoot { get; }
    /// <summary>The most steps per image.</summary>
    public int MaxIterations { get; }

    /// <inheritdoc />
    public override string Name => "DeepFool";
    /// <inheritdoc />
    public override AttackNorm Norm { get; }
    /// <inheritdoc />
    public override bool Targeted => false;

    private protected override Tensor GenerateCore(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken)
    {
        long n = images.size(0), k = classifier.ClassCount, d = images.numel() / n;
        var totalPerturbation = torch.zeros_like(images);
        var adversarial = images.clone();
        var labelMask = torch.nn.functional.one_hot(labels, k).to(ScalarType.Bool);
        var labelIndex = labels.unsqueeze(1);

        for (int iteration = 0; iteration < MaxIterations; iteration++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var step = torch.NewDisposeScope();
            var input = adversarial.detach().requires_grad_();
            var logits = classifier.Logits(input);
            var active = logits.argmax(1).eq(labels);
            if (!active.any().item<bool>()) break;

            // One backward pass per class gives the Jacobian rows ∇Z_k for the whole batch (images are independent).
            var gradients = new Tensor[k];
            for (long c = 0; c < k; c++)
                gradients[c] = torch.autograd.grad([logits.select(1, c).sum()], [input], retain_graph: c < k - 1)[0].reshape(n, 1, d);
            var jacobian = torch.cat(gradients, 1);                                                 // [N, K, D]
            var w = jacobian.sub(jacobian.gather(1, labelIndex.unsqueeze(2).expand(n, 1, d)));  // w_k = ∇f_k
            using var noGrad = torch.no_grad();
            var f = logits.detach().sub(logits.detach().gather(1, labelIndex)).abs();             // |f_k|
            var wNorm = (Norm == AttackNorm.L2 ? torch.linalg.vector_norm(w, 2, [2]) : w.abs().sum(2)).clamp(min: 1e-12);
            var distance = f.div(wNorm).masked_fill(labelMask, double.PositiveInfinity);
            var closest = distance.argmin(1, keepdim: true);                                      // l, [N, 1]
            var length = distance.gather(1, closest).add(1e-4);                                   // [N, 1]
            var wClosest = w.gather(1, closest.unsqueeze(2).expand(n, 1, d)).squeeze(1);          // [N, D]
            var direction = Norm == AttackNorm.L2 ? wClosest.div(wNorm.gather(1, closest)) : wClosest.sign();
            var r = direction.mul(length).mul(active.unsqueeze(1).to(ScalarType.Float32)).reshape(images.shape);
            totalPerturbation.add_(r);
            adversarial = AttackMath.Replace(adversarial, images.add(totalPerturbation.mul(1 + Overshoot)).clamp(0.0, 1.0));
        }
        return adversarial;
    }
}

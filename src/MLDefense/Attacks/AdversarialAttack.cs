using MLDefense.Data;
using MLDefense.Classifiers;

namespace MLDefense.Attacks;

/// <summary>
/// The shared frame of MLDefense's attacks: <see cref="Generate"/> checks its inputs before any work, runs the attack
/// with gradients enabled inside a dispose scope (every temporary is freed when it returns or throws), and hands back
/// a detached tensor in the caller's dispose scope (or owned by the caller when there is none).
/// </summary>
/// <remarks>
/// Random draws (PGD's random start) come from libtorch's global generator: seed it with <c>torch.manual_seed</c>
/// for reproducible attacks. An attack instance keeps no state between calls and may be shared, one call per thread.
/// </remarks>
public abstract class AdversarialAttack : IAdversarialAttack
{
    private protected AdversarialAttack() { }

    /// <inheritdoc />
    public abstract string Name { get; }

    /// <inheritdoc />
    public abstract AttackNorm Norm { get; }

    /// <summary>True when <c>labels</c> are target classes to reach rather than true classes to leave.</summary>
    public abstract bool Targeted { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The images are not float32 [N, C, H, W] of the classifier's input shape with values in
    /// [0, 1], the batch is empty, the labels are not int64 [N] within [0, K), or a tensor is not on the classifier's device.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every iteration).</exception>
    public Tensor Generate(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken = default)
    {
        AttackInputs.Validate(Name, classifier, images, labels);
        cancellationToken.ThrowIfCancellationRequested();
        using var scope = torch.NewDisposeScope();
        // Attacks differentiate through the model even when called from a no_grad region (e.g. a pipeline's Transform).
        using var gradients = torch.enable_grad();
        var result = GenerateCore(classifier, images.detach(), labels, cancellationToken).detach();
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The attack proper: inputs are validated, detached, and on the classifier's device; gradients are enabled.</summary>
    private protected abstract Tensor GenerateCore(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken);
}

/// <summary>Steps the attacks share.</summary>
internal static class AttackMath
{
    /// <summary>
    /// ∇ₓ of the summed cross-entropy at <paramref name="images"/>; negated for a targeted attack, so that ascending the
    /// result always moves towards success. Summing (not averaging) keeps each image's gradient independent of the batch size.
    /// </summary>
    internal static Tensor AscentDirection(IDifferentiableClassifier classifier, Tensor images, Tensor labels, bool targeted)
    {
        var input = images.detach().requires_grad_();
        var loss = torch.nn.functional.cross_entropy(classifier.Logits(input), labels, reduction: Reduction.Sum);
        var gradient = torch.autograd.grad([loss], [input])[0];
        return targeted ? gradient.neg() : gradient;
    }

    /// <summary>Per-image Lp norms of a [N, C, H, W] tensor, shaped [N, 1, 1, 1] for broadcasting, floored away from 0.</summary>
    internal static Tensor PerImageNorm(Tensor t, double p) => torch.linalg.vector_norm(t, p, [1, 2, 3], keepdim: true).clamp(min: 1e-12);

    /// <summary>
    /// Projects <paramref name="moved"/> onto the ε-ball around <paramref name="images"/>: for L∞ clamps between <paramref name="low"/> =
    /// x − ε and <paramref name="high"/> = x + ε (precomputed by the caller), for L2 shrinks δ = moved − x to length ε when longer.
    /// Does not clip to [0, 1].
    /// </summary>
    internal static Tensor Project(Tensor moved, Tensor images, Tensor? low, Tensor? high, AttackNorm norm, double epsilon)
    {
        if (norm == AttackNorm.Linf) return torch.minimum(torch.maximum(moved, low!), high!);
        using var delta = moved.sub(images);
        using var shrink = torch.linalg.vector_norm(delta, 2, [1, 2, 3], keepdim: true).clamp(min: 1e-12).reciprocal().mul(epsilon).clamp(max: 1.0);
        using var scaled = delta.mul(shrink);
        return images.add(scaled);
    }

    /// <summary>The step direction of the iterative attacks: sign(g) for L∞, g / ‖g‖₂ per image for L2.</summary>
    internal static Tensor StepDirection(Tensor gradient, AttackNorm norm) =>
        norm == AttackNorm.Linf ? gradient.sign() : gradient.div(torch.linalg.vector_norm(gradient, 2, [1, 2, 3], keepdim: true).clamp(min: 1e-12));

    /// <summary>Hands <paramref name="next"/> to the scope enclosing the current one and frees <paramref name="previous"/>.</summary>
    internal static Tensor Replace(Tensor previous, Tensor next)
    {
        next.MoveToOuterDisposeScope();
        previous.Dispose();
        return next;
    }

    /// <summary>Whether each image (per row of <paramref name="logits"/>) is adversarial: misclassified, or classified as its target.</summary>
    internal static Tensor Succeeded(Tensor logits, Tensor labels, bool targeted)
    {
        var predicted = logits.argmax(1);
        return targeted ? predicted.eq(labels) : predicted.ne(labels);
    }
}

/// <summary>The checks every attack makes before any work; messages name the attack, what was expected and what was found.</summary>
internal static class AttackInputs
{
    public static void Validate(string attack, IDifferentiableClassifier classifier, Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        var expected = classifier.InputShape;
        var shape = images.shape;
        string found = $"[{string.Join(", ", shape)}]";
        if (shape.Length != 4)
            throw new ArgumentException($"{attack}: expected images [N, C, H, W]; found a tensor of shape {found}.", nameof(images));
        if (shape[1] != expected.Channels || shape[2] != expected.Height || shape[3] != expected.Width)
            throw new ArgumentException($"{attack}: the classifier takes images [N, {expected.Channels}, {expected.Height}, {expected.Width}]; found {found}.", nameof(images));
        if (shape[0] == 0)
            throw new ArgumentException($"{attack}: the batch is empty (images {found}).", nameof(images));
        if (images.dtype != ScalarType.Float32)
            throw new ArgumentException($"{attack}: expected float32 images; found {images.dtype}.", nameof(images));
        if (!images.device.IsSame(classifier.Device))
            throw new ArgumentException($"{attack}: the images are on {images.device} but the classifier is on {classifier.Device}.", nameof(images));

        var labelShape = labels.shape;
        if (labels.dtype != ScalarType.Int64 || labelShape.Length != 1 || labelShape[0] != shape[0])
            throw new ArgumentException($"{attack}: expected int64 labels [{shape[0]}] (one class index per image); found {labels.dtype} [{string.Join(", ", labelShape)}].", nameof(labels));
        if (!labels.device.IsSame(classifier.Device))
            throw new ArgumentException($"{attack}: the labels are on {labels.device} but the classifier is on {classifier.Device}.", nameof(labels));

        using var scope = torch.NewDisposeScope();
        long lowest = labels.min().item<long>(), highest = labels.max().item<long>();
        if (lowest < 0 || highest >= classifier.ClassCount)
            throw new ArgumentException($"{attack}: labels must be class indices in [0, {classifier.ClassCount}); found values from {lowest} to {highest}.", nameof(labels));
        // min/max propagate NaN, so one comparison pair also rejects non-finite pixels.
        double darkest = images.min().ToDouble(), brightest = images.max().ToDouble();
        if (!(darkest >= 0 && brightest <= 1))
            throw new ArgumentException($"{attack}: pixel values must be finite and in [0, 1]; found values from {darkest} to {brightest}.", nameof(images));
    }

    public static double Positive(double value, string name, string attack) =>
        double.IsFinite(value) && value > 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{attack}: {name} must be a finite number > 0.");

    public static double NonNegative(double value, string name, string attack) =>
        double.IsFinite(value) && value >= 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{attack}: {name} must be a finite number ≥ 0.");

    public static int AtLeastOne(int value, string name, string attack) =>
        value >= 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"{attack}: {name} must be at least 1.");

    public static AttackNorm Defined(AttackNorm norm, string attack) =>
        Enum.IsDefined(norm) ? norm : throw new ArgumentOutOfRangeException(nameof(norm), norm, $"{attack}: unknown norm {norm}.");
}

using MLDefense.Data;

namespace MLDefense.Classifiers;

/// <summary>
/// A purifier followed by a classifier, seen as one differentiable model: logits = f(purify(x)). When purify is computed
/// inside the autograd graph, an attack on this model is a white-box attack on the defended classifier (it knows the
/// classifier and the defense); every attack that takes an <see cref="IDifferentiableClassifier"/> runs through it
/// unchanged. AE-GAN's white-box paths are <see cref="Defenses.AeGanWhiteBoxClassifier"/>.
/// </summary>
/// <remarks>
/// The purifier must map [N, C, H, W] images on <see cref="Device"/> to images of the same shape there, without disposing
/// its input; the wrapper frees its output after classifying it. It must be deterministic in evaluation (no dropout,
/// fixed batch-norm statistics) for the attack's gradients to describe the deployed defense. The wrapper owns neither
/// the classifier nor the purifier. It exposes no feature map.
/// </remarks>
public class PurifiedClassifier : IDifferentiableClassifier
{
    private readonly IDifferentiableClassifier classifier;
    private readonly Func<Tensor, Tensor> purify;

    /// <summary>Wraps <paramref name="classifier"/> after <paramref name="purify"/>.</summary>
    public PurifiedClassifier(IDifferentiableClassifier classifier, Func<Tensor, Tensor> purify)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(purify);
        this.classifier = classifier;
        this.purify = purify;
    }

    /// <inheritdoc />
    public Device Device => classifier.Device;

    /// <inheritdoc />
    public ImageShape InputShape => classifier.InputShape;

    /// <inheritdoc />
    public int ClassCount => classifier.ClassCount;

    /// <inheritdoc />
    public IReadOnlyList<int>? FeatureMapShape => null;

    /// <summary>f(purify(x)) [N, K], differentiable as far as purify is (grad mode permitting).</summary>
    /// <exception cref="InvalidOperationException">The purifier returned images of another shape.</exception>
    public Tensor Logits(Tensor images)
    {
        using var purified = purify(images) ?? throw new InvalidOperationException("The purifier returned no images.");
        if (!purified.shape.SequenceEqual(images.shape))
            throw new InvalidOperationException($"The purifier returned images [{string.Join(", ", purified.shape)}] for inputs [{string.Join(", ", images.shape)}].");
        return classifier.Logits(purified);
    }

    /// <summary>Not supported: the wrapper exposes no feature map.</summary>
    public Tensor FeatureMap(Tensor images) => throw new NotSupportedException("A purified classifier exposes no feature map.");
}

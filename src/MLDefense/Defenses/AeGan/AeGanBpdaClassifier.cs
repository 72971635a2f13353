using MLDefense.Data;
using MLDefense.Classifiers;

namespace MLDefense.Defenses;

/// <summary>
/// The AE-GAN+sr purifier followed by a classifier, as one differentiable model for a defense-aware attack: logits =
/// f(purify(x)), where the forward pass is the purifier's real output (Alg. 2, search included) and the backward pass
/// treats the latent search as the identity (BPDA, Athalye, Carlini and Wagner, "Obfuscated Gradients Give a False
/// Sense of Security", ICML 2018, Sec. 4.1), i.e. differentiates f(G(F(x))) — see
/// <see cref="AeGanTransformer.PurifyStraightThrough"/>. Any attack that takes an <see cref="IDifferentiableClassifier"/>
/// runs on it unchanged.
/// </summary>
/// <remarks>
/// Both models must be in evaluation mode (a fitted transformer and a trained classifier are), so that each image's
/// gradient is independent of the rest of its batch. The wrapper owns neither model. It exposes no feature map.
/// </remarks>
public sealed class AeGanBpdaClassifier : IDifferentiableClassifier
{
    private readonly AeGanTransformer purifier;
    private readonly IDifferentiableClassifier classifier;

    /// <summary>Wraps <paramref name="purifier"/> and <paramref name="classifier"/>.</summary>
    /// <exception cref="ArgumentException">They take different image shapes or live on different devices.</exception>
    public AeGanBpdaClassifier(AeGanTransformer purifier, IDifferentiableClassifier classifier)
    {
        ArgumentNullException.ThrowIfNull(purifier);
        ArgumentNullException.ThrowIfNull(classifier);
        if (purifier.InputShape != classifier.InputShape)
            throw new ArgumentException($"The purifier was trained on {purifier.InputShape} images but the classifier takes {classifier.InputShape}.", nameof(classifier));
        if (!purifier.Device.IsSame(classifier.Device))
            throw new ArgumentException($"The purifier is on {purifier.Device} but the classifier is on {classifier.Device}.", nameof(classifier));
        this.purifier = purifier;
        this.classifier = classifier;
    }

    /// <inheritdoc />
    public Device Device => classifier.Device;

    /// <inheritdoc />
    public ImageShape InputShape => classifier.InputShape;

    /// <inheritdoc />
    public int ClassCount => classifier.ClassCount;

    /// <inheritdoc />
    public IReadOnlyList<int>? FeatureMapShape => null;

    /// <summary>f(purify(x)) [N, K], with the BPDA gradient described on the class.</summary>
    public Tensor Logits(Tensor images)
    {
        using var purified = purifier.PurifyStraightThrough(images);
        return classifier.Logits(purified);
    }

    /// <summary>Not supported: the wrapper exposes no feature map.</summary>
    public Tensor FeatureMap(Tensor images) => throw new NotSupportedException("The AE-GAN BPDA wrapper exposes no feature map.");
}

using MLDefense.Data;
using MLDefense.Classifiers;

namespace MLDefense.Defenses;

/// <summary>What a white-box attack on an AE-GAN-based purifier differentiates (<see cref="AeGanWhiteBoxClassifier"/>).</summary>
public enum AeGanWhiteBoxPath
{
    /// <summary>f(G(F(x))): the plain reconstruction, no search — a white-box attack on MagNet-style purification (Table 1's MagNet column), and the cheaper attack on AE-GAN+sr.</summary>
    Reconstruction,

    /// <summary>f(Alg. 2(x)): F, the detector's choice and the L-step encoder-assisted search unrolled (<see cref="AeGanTransformer.PurifyUnrolled"/>).</summary>
    Search,

    /// <summary>f(Defense-GAN-style search(x)): R random starts × L momentum steps unrolled (<see cref="AeGanTransformer.DefenseGanSearch"/> with <c>unrolled: true</c>).</summary>
    DefenseGanSearch,
}

/// <summary>
/// An AE-GAN purifier followed by a classifier, as one differentiable model for a white-box attack — one that knows the
/// classifier and the defense (AE-GAN+sr, Sec. 3.1): logits = f(purify(x)), where purify's forward value is the purifier's
/// own output and its gradient is the exact one of that computation, every step of a latent search included, as in
/// Defense-GAN's official white-box evaluation (<c>whitebox.py</c> builds the reconstruction into the model before the
/// attack, and <c>reconstruct(..., back_prop=True)</c> keeps its gradient-descent loop in the graph). Any attack that
/// takes an <see cref="IDifferentiableClassifier"/> (FGSM, PGD, CW-L2, ...) runs through it unchanged. Contrast
/// <see cref="AeGanBpdaClassifier"/>, which treats the search as the identity on the way back.
/// </summary>
/// <remarks>
/// <para>The paths (<see cref="AeGanWhiteBoxPath"/>): <see cref="AeGanWhiteBoxClassifier.ThroughReconstruction"/> differentiates
/// f(G(F(x))); <see cref="AeGanWhiteBoxClassifier.ThroughSearch"/> f(Alg. 2(x)) with the L = <see cref="AeGanOptions.SearchSteps"/>
/// steps unrolled; <see cref="AeGanWhiteBoxClassifier.ThroughDefenseGanSearch"/> the Defense-GAN-style search with its R·L
/// steps unrolled. Through a search, the gradient needs G's second derivatives (each step's ∇_z ‖G(z) − x‖² is itself
/// differentiated), so one input gradient costs several times the search's forward work, and the graph of every step
/// is held until the attack's backward pass: memory grows with the batch size times L (times R). Attack small batches.</para>
/// <para>Both models must be in evaluation mode (a fitted transformer and a trained classifier are), so each image's
/// gradient is independent of its batch. The wrapper owns neither model. It exposes no feature map.</para>
/// </remarks>
public sealed class AeGanWhiteBoxClassifier : PurifiedClassifier
{
    private AeGanWhiteBoxClassifier(AeGanTransformer purifier, IDifferentiableClassifier classifier, AeGanWhiteBoxPath path, Func<Tensor, Tensor> purify)
        : base(Checked(purifier, classifier), purify) => Path = path;

    private static IDifferentiableClassifier Checked(AeGanTransformer purifier, IDifferentiableClassifier classifier)
    {
        ArgumentNullException.ThrowIfNull(purifier);
        ArgumentNullException.ThrowIfNull(classifier);
        if (purifier.InputShape != classifier.InputShape)
            throw new ArgumentException($"The purifier was trained on {purifier.InputShape} images but the classifier takes {classifier.InputShape}.", nameof(classifier));
        if (!purifier.Device.IsSame(classifier.Device))
            throw new ArgumentException($"The purifier is on {purifier.Device} but the classifier is on {classifier.Device}.", nameof(classifier));
        return classifier;
    }

    /// <summary>f(G(F(x))), differentiated through F and G (<see cref="AeGanTransformer.ReconstructDifferentiable"/>).</summary>
    /// <exception cref="ArgumentException">The models take different image shapes or live on different devices.</exception>
    public static AeGanWhiteBoxClassifier ThroughReconstruction(AeGanTransformer purifier, IDifferentiableClassifier classifier) =>
        new(purifier, classifier, AeGanWhiteBoxPath.Reconstruction, images => purifier.ReconstructDifferentiable(images));

    /// <summary>
    /// f(Alg. 2(x)) with the purifier's own search settings (policy, L, η, halving), differentiated through F, the search's
    /// unrolled steps and G (<see cref="AeGanTransformer.PurifyUnrolled"/>); its forward value is <see cref="AeGanTransformer.Purify"/>'s.
    /// </summary>
    /// <exception cref="ArgumentException">The models take different image shapes or live on different devices.</exception>
    public static AeGanWhiteBoxClassifier ThroughSearch(AeGanTransformer purifier, IDifferentiableClassifier classifier) =>
        new(purifier, classifier, AeGanWhiteBoxPath.Search, images => purifier.PurifyUnrolled(images));

    /// <summary>
    /// f(Defense-GAN-style search(x)) with <paramref name="restarts"/> random starts and <paramref name="iterations"/> momentum
    /// steps each, all unrolled (<see cref="AeGanTransformer.DefenseGanSearch"/>). The starts come from <paramref name="seed"/>
    /// on every call, so the attack's iterations see one fixed draw; pass another seed than the evaluation's for starts the
    /// attacker does not know, as in Defense-GAN's white-box code, where each run of the graph draws its own.
    /// </summary>
    /// <exception cref="ArgumentException">The models take different image shapes or live on different devices.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="restarts"/> &lt; 1 or <paramref name="iterations"/> &lt; 0.</exception>
    public static AeGanWhiteBoxClassifier ThroughDefenseGanSearch(AeGanTransformer purifier, IDifferentiableClassifier classifier, int restarts = 10,
                                                                  int iterations = 200, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(restarts, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(iterations);
        return new(purifier, classifier, AeGanWhiteBoxPath.DefenseGanSearch,
                   images => purifier.DefenseGanSearch(images, restarts, iterations, seed, unrolled: true));
    }

    /// <summary>What the attack differentiates.</summary>
    public AeGanWhiteBoxPath Path { get; }
}

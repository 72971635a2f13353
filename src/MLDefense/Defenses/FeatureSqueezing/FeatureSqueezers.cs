using MLDefense.Classifiers;

namespace MLDefense.Defenses;

/// <summary>
/// The squeezers and the score of Feature Squeezing (Xu, Evans and Qi, NDSS 2018), as tensor functions: bit-depth reduction
/// (Sec. 4.1), median smoothing (Sec. 4.2) and the joint detector's score (Sec. 5.1), the largest L1 distance between the
/// classifier's softmax on x and on each squeezed version of x.
/// </summary>
public static class FeatureSqueezers
{
    /// <summary>Bit-depth reduction to <paramref name="bits"/> bits per value: round(x·(2^b − 1)) / (2^b − 1) (round half to even, as NumPy's <c>rint</c> Xu et al. use).</summary>
    /// <param name="images">Images [N, C, H, W] in [0, 1].</param>
    /// <param name="bits">The bit depth, 1 to 8.</param>
    public static Tensor ReduceBitDepth(Tensor images, int bits)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfLessThan(bits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bits, 8);
        double levels = (1 << bits) - 1;
        using var scaled = images * levels;
        using var rounded = scaled.round();
        return rounded / levels;
    }

    /// <summary>
    /// Median smoothing with a k×k window per channel, as SciPy's <c>median_filter(size=k)</c>: the window covers offsets
    /// −⌊k/2⌋ … k − 1 − ⌊k/2⌋ around each pixel and the value taken is the sorted window's element ⌊k²/2⌋ (the upper middle for
    /// even k); borders repeat the edge pixel.
    /// </summary>
    /// <param name="images">Images [N, C, H, W].</param>
    /// <param name="window">k ≥ 1 (1 returns a copy).</param>
    public static Tensor MedianSmooth(Tensor images, int window)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        if (images.dim() != 4) throw new ArgumentException($"Expected images [N, C, H, W]; found [{string.Join(", ", images.shape)}].", nameof(images));
        if (window == 1) return images.clone();
        using var scope = torch.NewDisposeScope();
        long before = window / 2, after = window - 1 - window / 2;
        var padded = nn.functional.pad(images, [before, after, before, after], PaddingModes.Replicate);
        var s = images.shape;
        var patches = padded.unfold(2, window, 1).unfold(3, window, 1).reshape(s[0], s[1], s[2], s[3], window * window);
        var (sorted, _) = patches.sort(-1);
        return sorted.select(-1, window * window / 2).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The joint detector's score (Xu et al., Sec. 5.1): max over the squeezers of ‖softmax(f(x)) − softmax(f(squeeze(x)))‖₁, in [0, 2],
    /// computed without autograd. [N] float32 on the classifier's device.
    /// </summary>
    /// <param name="classifier">The classifier f.</param>
    /// <param name="images">Images [N, C, H, W] of the classifier's input shape, on its device.</param>
    /// <param name="bitDepth">The bit depth of the bit-depth squeezer; 0 = none.</param>
    /// <param name="medianWindow">The median window's side; 0 = none.</param>
    public static Tensor Score(IDifferentiableClassifier classifier, Tensor images, int bitDepth, int medianWindow)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(images);
        if (bitDepth == 0 && medianWindow == 0) throw new ArgumentException("Feature Squeezing needs at least one squeezer (a bit depth or a median window).");
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var original = classifier.Logits(images).softmax(1);
        Tensor? score = null;
        foreach (var squeezed in Squeezed(images, bitDepth, medianWindow))
        {
            var distance = (original - classifier.Logits(squeezed).softmax(1)).abs().sum(1);
            score = score is null ? distance : torch.maximum(score, distance);
        }
        return score!.MoveToOuterDisposeScope();
    }

    private static IEnumerable<Tensor> Squeezed(Tensor images, int bitDepth, int medianWindow)
    {
        if (bitDepth > 0) yield return ReduceBitDepth(images, bitDepth);
        if (medianWindow > 0) yield return MedianSmooth(images, medianWindow);
    }
}

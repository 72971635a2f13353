using System.Text.Json.Serialization;

namespace MLDefense.Defenses;

/// <summary>
/// Options of the Feature Squeezing detector (Xu, Evans and Qi, "Feature Squeezing: Detecting Adversarial Examples in Deep
/// Neural Networks", NDSS 2018, Sec. 3–5), MixDefense's detection baseline "FS" (Yang et al., MixDefense, Sec. 5.1). See
/// <see cref="FeatureSqueezingEstimator"/> for the score.
/// </summary>
public sealed record FeatureSqueezingOptions
{
    /// <summary>The image column read: float vector [C, H, W] of the classifier's input shape, values in [0, 1]. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; init; } = "Image";

    /// <summary>The float score column added: the largest L1 distance between the prediction on x and on a squeezed x (in [0, 2]). Default <c>FeatureSqueezingScore</c>.</summary>
    public string ScoreColumnName { get; init; } = "FeatureSqueezingScore";

    /// <summary>The boolean column added: true when the score is above the calibrated threshold. Default <c>FeatureSqueezingFlag</c>.</summary>
    public string FlagColumnName { get; init; } = "FeatureSqueezingFlag";

    /// <summary>
    /// The bit depth b of the bit-depth-reduction squeezer, x ↦ round(x·(2^b − 1)) / (2^b − 1) (Xu et al., Sec. 4.1); 0 = no such
    /// squeezer; null (the default) = Xu et al.'s choice for the image type: 1 bit for single-channel images (their MNIST detector)
    /// and 5 bits for colour ones (their CIFAR-10 and ImageNet detectors, Table 5).
    /// </summary>
    public int? BitDepth { get; init; }

    /// <summary>
    /// The side k of the median-smoothing squeezer's k×k window (Xu et al., Sec. 4.2); 0 = no such squeezer. Default 2, the 2×2
    /// window of all three of Xu et al.'s joint detectors (Table 5). Even windows follow SciPy's <c>median_filter</c>, which Xu et al.
    /// use: the window covers offsets −⌊k/2⌋ … k − 1 − ⌊k/2⌋ and the median of an even count is its upper middle value; the border is
    /// padded by repeating the edge (for the one-pixel padding of k ≤ 3 this equals SciPy's <c>reflect</c> mode).
    /// </summary>
    public int MedianWindow { get; init; } = 2;

    /// <summary>
    /// The fraction of clean training images the calibrated threshold may flag. Default 0.05: Xu et al. choose the threshold that
    /// flags 5% of legitimate examples (Sec. 5.1), and MixDefense's authors drop 5% of benign images per sub-detector.
    /// </summary>
    public double TargetFalsePositiveRate { get; init; } = 0.05;

    /// <summary>Receives (images scored, images in the data when known) as Fit scores the clean images. Not saved. Default null.</summary>
    [JsonIgnore]
    public IProgress<(long Scored, long? Total)>? Progress { get; init; }

    /// <summary>Stops Fit between batches: it throws <see cref="OperationCanceledException"/>. Not saved.</summary>
    [JsonIgnore]
    public CancellationToken CancellationToken { get; init; }

    /// <summary>The bit depth used for images of <paramref name="channels"/> channels (see <see cref="BitDepth"/>).</summary>
    public int BitDepthFor(int channels) => BitDepth ?? (channels == 1 ? 1 : 5);
}

using MLDefense.Classifiers;

namespace MLDefense.Defenses;

public sealed partial class DefensesCatalog
{
    /// <summary>
    /// The Feature Squeezing detector (Xu et al., NDSS 2018) with its defaults (1-bit depth for grey images, 5-bit for colour ones, 2×2
    /// median smoothing, threshold at 5% of the clean training images): adds a Single score, the largest L1 distance between the
    /// classifier's softmax on x and on each squeezed x, and a Boolean flag. It holds <paramref name="classifier"/>'s weights (saved with
    /// it). See <see cref="FeatureSqueezingEstimator"/>.
    /// </summary>
    /// <param name="classifier">The protected classifier (MLDefense's image classifier; its weights are shared, not copied, and saved with the detector).</param>
    /// <param name="imageColumnName">The image column: Single [C, H, W] in [0, 1] of the classifier's input shape.</param>
    /// <param name="scoreColumnName">The score column added.</param>
    /// <param name="flagColumnName">The flag column added.</param>
    /// <param name="targetFalsePositiveRate">The fraction of clean training images the threshold may flag (default 5%).</param>
    public FeatureSqueezingEstimator FeatureSqueezing(ImageClassifierTransformer classifier, string imageColumnName = "Image",
        string scoreColumnName = "FeatureSqueezingScore", string flagColumnName = "FeatureSqueezingFlag", double targetFalsePositiveRate = 0.05) =>
        FeatureSqueezing(classifier, new FeatureSqueezingOptions
        {
            ImageColumnName = imageColumnName,
            ScoreColumnName = scoreColumnName,
            FlagColumnName = flagColumnName,
            TargetFalsePositiveRate = targetFalsePositiveRate,
        });

    /// <summary>The Feature Squeezing detector with every setting of <see cref="FeatureSqueezingOptions"/>. See <see cref="FeatureSqueezingEstimator"/>.</summary>
    public FeatureSqueezingEstimator FeatureSqueezing(ImageClassifierTransformer classifier, FeatureSqueezingOptions options) => new(Environment, options, classifier);
}

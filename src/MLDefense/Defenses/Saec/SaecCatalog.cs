using MLDefense.Data;

namespace MLDefense.Defenses;

public sealed partial class DefensesCatalog
{
    /// <summary>
    /// The SAEC detector with default settings (p = 8, KV filter, 11 bins on [−0.0165, 0.0165) for colour images and 21 on
    /// [−0.105, 0.105) for grey ones, uniform-noise report at ±8/255): adds a Single score (higher = more adversarial) and
    /// a Boolean flag whose threshold Fit calibrates on the clean training images. See <see cref="SaecEstimator"/>.
    /// </summary>
    /// <param name="imageColumnName">The image column: Single [C, H, W] in [0, 1], as <c>ExtractPixels(..., scaleImage: 1f / 255)</c> makes.</param>
    /// <param name="scoreColumnName">The score column added.</param>
    /// <param name="flagColumnName">The flag column added.</param>
    /// <param name="targetFalsePositiveRate">The fraction of clean training images the threshold may flag (default 1%).</param>
    public SaecEstimator Saec(string imageColumnName = "Image", string scoreColumnName = "SaecScore", string flagColumnName = "SaecFlag",
        double targetFalsePositiveRate = 0.01) =>
        Saec(new SaecOptions
        {
            ImageColumnName = imageColumnName,
            ScoreColumnName = scoreColumnName,
            FlagColumnName = flagColumnName,
            TargetFalsePositiveRate = targetFalsePositiveRate,
        });

    /// <summary>The SAEC detector with every setting of <see cref="SaecOptions"/>. See <see cref="SaecEstimator"/>.</summary>
    public SaecEstimator Saec(SaecOptions options) => new(Environment, options);
}

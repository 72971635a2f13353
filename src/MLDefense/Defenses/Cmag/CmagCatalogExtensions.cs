namespace MLDefense.Defenses;

public sealed partial class DefensesCatalog
{
    /// <summary>
    /// The CMAG detector with the paper's settings (Han, Li, Xia, Sec. 3 and 4.1: μ = 0.5, Adam 1e-3, batch 2000, T = 1/1000, Alg. 2's
    /// thresholds): reads the image, the target classifier's feature map and its probabilities, and adds <c>CmagSsim</c>,
    /// <c>CmagL2</c>, <c>CmagScore</c> (Single) and <c>CmagFlag</c> (Boolean). See <see cref="CmagEstimator"/>.
    /// </summary>
    /// <param name="imageColumnName">The image column: Single [C, H, W] in [0, 1], as <c>ExtractPixels(..., scaleImage: 1f / 255)</c> makes.</param>
    /// <param name="featureMapColumnName">The classifier's feature map: Single [C′, H′, W′] (MLDefense's image classifier with <c>FeatureMapColumnName</c> set).</param>
    /// <param name="probabilitiesColumnName">The classifier's probabilities: Single [K] (its <c>Score</c>).</param>
    /// <param name="reconstructionColumnName">When set, also adds GR's reconstruction x′ under this name (an image column of the input's type).</param>
    public CmagEstimator Cmag(string imageColumnName = "Image", string featureMapColumnName = "FeatureMap", string probabilitiesColumnName = "Score",
        string? reconstructionColumnName = null) =>
        Cmag(new CmagOptions
        {
            ImageColumnName = imageColumnName,
            FeatureMapColumnName = featureMapColumnName,
            ProbabilitiesColumnName = probabilitiesColumnName,
            ReconstructionColumnName = reconstructionColumnName,
        });

    /// <summary>The CMAG detector with every setting of <see cref="CmagOptions"/>. See <see cref="CmagEstimator"/>.</summary>
    public CmagEstimator Cmag(CmagOptions options) => new(Environment, options);
}

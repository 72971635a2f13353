namespace MLDefense.Defenses;

public sealed partial class DefensesCatalog
{
    /// <summary>
    /// ContraNet, MixDefense's SP-defense layer (Yang et al., Sec. 4), with its default settings: reads the image, the true label (Fit
    /// only) and the target classifier's <c>Score</c>, and adds <c>ContraNetScore</c> (Single) and <c>ContraNetFlag</c> (Boolean). See
    /// <see cref="ContraNetEstimator"/>.
    /// </summary>
    /// <param name="imageColumnName">The image column: Single [C, H, W] in [0, 1], as <c>ExtractPixels(..., scaleImage: 1f / 255)</c> makes.</param>
    /// <param name="labelColumnName">The true class (a key or Int32 0..K−1), read by Fit only.</param>
    /// <param name="scoreColumnName">The classifier's probabilities: Single [K] (its <c>Score</c>); only the argmax is used.</param>
    /// <param name="reconstructionColumnName">When set, also adds x′ = G(E(x), y′) under this name (an image column of the input's type).</param>
    public ContraNetEstimator ContraNet(string imageColumnName = "Image", string labelColumnName = "Label", string scoreColumnName = "Score",
        string? reconstructionColumnName = null) =>
        ContraNet(new ContraNetOptions
        {
            ImageColumnName = imageColumnName,
            LabelColumnName = labelColumnName,
            ScoreColumnName = scoreColumnName,
            ReconstructionColumnName = reconstructionColumnName,
        });

    /// <summary>ContraNet with every setting of <see cref="ContraNetOptions"/>. See <see cref="ContraNetEstimator"/>.</summary>
    public ContraNetEstimator ContraNet(ContraNetOptions options) => new(Environment, options);
}

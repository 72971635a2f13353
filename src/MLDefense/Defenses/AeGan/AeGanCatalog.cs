using MLDefense.Data;

namespace MLDefense.Defenses;

public sealed partial class DefensesCatalog
{
    /// <summary>
    /// The AE-GAN+sr purifier with the paper's defaults (Table 4/6: latent 128, Adam 2e-4, batch 100, 60 epochs; L = 15
    /// search steps for flagged images; L1 score calibrated to a 5% false-positive rate on the clean training images).
    /// Adds the purified image (the input's type), the reconstruction-error score and the flag. See <see cref="AeGanEstimator"/>.
    /// </summary>
    /// <param name="imageColumnName">The image column: Single [C, H, W] in [0, 1], as <c>ExtractPixels(..., scaleImage: 1f / 255)</c> makes.</param>
    /// <param name="outputColumnName">The purified image column added.</param>
    /// <param name="scoreColumnName">The score column added.</param>
    /// <param name="flagColumnName">The flag column added.</param>
    public AeGanEstimator AeGanPurifier(string imageColumnName = "Image", string outputColumnName = "Purified",
        string scoreColumnName = "AeGanScore", string flagColumnName = "AeGanFlag") =>
        AeGanPurifier(new AeGanOptions
        {
            ImageColumnName = imageColumnName,
            OutputColumnName = outputColumnName,
            ScoreColumnName = scoreColumnName,
            FlagColumnName = flagColumnName,
        });

    /// <summary>The AE-GAN+sr purifier with every setting of <see cref="AeGanOptions"/>. See <see cref="AeGanEstimator"/>.</summary>
    public AeGanEstimator AeGanPurifier(AeGanOptions options) => new(Environment, options);
}

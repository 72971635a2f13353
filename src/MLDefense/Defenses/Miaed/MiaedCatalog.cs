using MLDefense.Data;

namespace MLDefense.Defenses;

public sealed partial class DefensesCatalog
{
    /// <summary>
    /// The MIAED detector with the paper's settings (Sec. 4.1): adds a Single score JS(p, q) (higher = more adversarial)
    /// and a Boolean flag whose threshold Fit calibrates on clean training rows held out from training. Fit needs the
    /// image, the label and the target model's probabilities; Transform needs the image and the probabilities. See
    /// <see cref="MiaedEstimator"/>.
    /// </summary>
    /// <param name="imageColumnName">The image column: Single [C, H, W] in [0, 1], as <c>ExtractPixels(..., scaleImage: 1f / 255)</c> makes.</param>
    /// <param name="probabilitiesColumnName">The target model's probabilities: a Single vector [K], e.g. a multiclass trainer's <c>Score</c>.</param>
    /// <param name="labelColumnName">The class label (Fit only): a key from <c>MapValueToKey</c>, or Int32 0..K−1.</param>
    /// <param name="scoreColumnName">The score column added.</param>
    /// <param name="flagColumnName">The flag column added.</param>
    public MiaedEstimator Miaed(string imageColumnName = "Image", string probabilitiesColumnName = "Score", string labelColumnName = "Label",
        string scoreColumnName = "MiaedScore", string flagColumnName = "MiaedFlag") =>
        Miaed(new MiaedOptions
        {
            ImageColumnName = imageColumnName,
            ProbabilitiesColumnName = probabilitiesColumnName,
            LabelColumnName = labelColumnName,
            ScoreColumnName = scoreColumnName,
            FlagColumnName = flagColumnName,
        });

    /// <summary>The MIAED detector with every setting of <see cref="MiaedOptions"/>. See <see cref="MiaedEstimator"/>.</summary>
    public MiaedEstimator Miaed(MiaedOptions options) => new(Environment, options);
}

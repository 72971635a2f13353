using Microsoft.ML.Data;

namespace MLDefense.Samples;

/// <summary>
/// What the defended model says about one image: the classifier's answer on the purified image, and each defense's
/// score and flag. A score is continuous (higher = more likely adversarial); a flag is the score above the threshold
/// each detector calibrated on clean training images.
/// </summary>
public class ModelOutput
{
    /// <summary>
    /// The predicted class (classifier A on the purified image) as an ML.NET key: 1 + the class index; its names are the
    /// column's key values (<see cref="DefendedClassifier.ClassNames"/>). <see cref="PredictedIndex"/> gives the index.
    /// </summary>
    [ColumnName("PredictedLabel")]
    public uint PredictedLabel { get; set; }

    /// <summary>Classifier A's softmax probabilities for the 10 classes, on the purified image (slot k is class index k).</summary>
    [ColumnName("Score")]
    public float[] Score { get; set; } = [];

    /// <summary>SAEC's score (MixDefense's statistical layer, on the input image).</summary>
    [ColumnName("SaecScore")]
    public float SaecScore { get; set; }

    /// <summary>Whether SAEC flags the input image.</summary>
    [ColumnName("SaecFlag")]
    public bool SaecFlag { get; set; }

    /// <summary>AE-GAN+sr's reconstruction error of the input image.</summary>
    [ColumnName("AeGanScore")]
    public float AeGanScore { get; set; }

    /// <summary>Whether AE-GAN+sr flags the input image (it then purified it with its latent search).</summary>
    [ColumnName("AeGanFlag")]
    public bool AeGanFlag { get; set; }

    /// <summary>MIAED's divergence between classifier A and its simple network, on the purified image.</summary>
    [ColumnName("MiaedScore")]
    public float MiaedScore { get; set; }

    /// <summary>Whether MIAED flags the purified image.</summary>
    [ColumnName("MiaedFlag")]
    public bool MiaedFlag { get; set; }

    /// <summary>The purified image the classifier saw (same layout as <see cref="ModelInput.Image"/>).</summary>
    [ColumnName("Purified")]
    public float[] Purified { get; set; } = [];

    /// <summary>The predicted class index 0–9 (<see cref="PredictedLabel"/> − 1).</summary>
    [NoColumn]
    public int PredictedIndex => (int)PredictedLabel - 1;

    /// <summary>True when any of the three defenses flags the image.</summary>
    [NoColumn]
    public bool IsAdversarial => SaecFlag || AeGanFlag || MiaedFlag;
}

namespace MLDefense.Defenses;

/// <summary>
/// What <see cref="SaecEstimator.Fit(Microsoft.ML.IDataView)"/> measured on its training images (Yang et al., MixDefense, Sec. 5.3): the
/// threshold calibrated on the clean scores, and how well that detector separates the same images with uniform noise
/// added — the paper's adversarial-example-free stand-in for attacks. Saved with the model.
/// </summary>
public sealed record SaecCalibrationReport : IFittedImageDefense
{
    /// <summary>The decision threshold: an image is flagged when its score is &gt; this value (<see cref="Evaluation.ThresholdCalibration.IsFlagged"/>).</summary>
    public float Threshold { get; init; }

    /// <summary>The image shape the threshold was calibrated for (scores of other sizes are not comparable).</summary>
    public int Channels { get; init; }
    /// <summary>See <see cref="Channels"/>.</summary>
    public int Height { get; init; }
    /// <summary>See <see cref="Channels"/>.</summary>
    public int Width { get; init; }

    /// <summary>The number of clean training images scored.</summary>
    public int TrainingImageCount { get; init; }

    /// <summary>The false-positive rate asked for (<see cref="SaecOptions.TargetFalsePositiveRate"/>).</summary>
    public double TargetFalsePositiveRate { get; init; }

    /// <summary>The fraction of clean training images the threshold flags (≤ the target; below it when scores tie).</summary>
    public double TrainingFalsePositiveRate { get; init; }

    /// <summary>The amplitude a of the uniform noise U[−a, a] added to each value (0 = no noise report).</summary>
    public double NoiseAmplitude { get; init; }

    /// <summary>The seed of the noise.</summary>
    public int NoiseSeed { get; init; }

    /// <summary>ROC AUC of noisy versus clean training images (1 = perfect separation, 0.5 = chance); null without noise.</summary>
    public double? NoiseAuc { get; init; }

    /// <summary>The fraction of noisy training images flagged at the threshold; null without noise.</summary>
    public double? NoiseDetectionRate { get; init; }

    /// <summary>The median score of the clean training images.</summary>
    public float CleanMedianScore { get; init; }

    /// <summary>The median score of the noisy training images; null without noise.</summary>
    public float? NoiseMedianScore { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"threshold {Threshold:G6} on {TrainingImageCount} clean {Channels}x{Height}x{Width} images: FPR {TrainingFalsePositiveRate:P2} (target {TargetFalsePositiveRate:P2})" +
        (NoiseAuc is { } auc
            ? $"; uniform noise ±{NoiseAmplitude * 255:G4}/255: AUC {auc:F4}, detection rate {NoiseDetectionRate:P2}, median score {NoiseMedianScore:G4} vs clean {CleanMedianScore:G4}"
            : "; no noise report (NoiseAmplitude 0)");
}

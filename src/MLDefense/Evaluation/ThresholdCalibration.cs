namespace MLDefense.Evaluation;

/// <summary>
/// The one rule by which every MLDefense detector turns its continuous score into a flag, and the calibration of
/// its threshold on clean data — shared by the defenses (calibrated in <c>Fit</c>, as DESIGN.md asks) and by the
/// evaluation protocols, so that a detector's flag and the metrics computed about it always agree.
/// </summary>
/// <remarks>
/// <para>Rule: an input is flagged as adversarial when its score is <b>strictly greater</b> than the threshold
/// (<see cref="IsFlagged"/>). Scores are "higher = more adversarial" throughout.</para>
/// <para>Calibration (<see cref="ForFalsePositiveRate"/>) is the empirical (1 − α) quantile of the clean scores: with n
/// clean scores and target false-positive rate α, at most k = ⌊α·n⌋ of them may be flagged, so the threshold is the
/// (n − k)-th smallest clean score. Ties: clean scores equal to the threshold are not flagged, so when several clean
/// scores tie at the quantile the achieved false-positive rate is <i>below</i> α rather than above it — the
/// calibration never exceeds its target on the data it was calibrated on. With distinct scores it flags exactly k.
/// MixDefense (Sec. 5.3) and MIAED (Sec. 4.1) both fix their detectors' operating points on clean data in this way;
/// neither paper spells out a tie rule, so this one is ours.</para>
/// </remarks>
public static class ThresholdCalibration
{
    /// <summary>Whether a score is flagged as adversarial at a threshold: <c>score &gt; threshold</c>.</summary>
    public static bool IsFlagged(double score, double threshold) => score > threshold;

    /// <summary>
    /// The threshold at which at most ⌊<paramref name="targetFalsePositiveRate"/> · n⌋ of the n clean scores are flagged
    /// (see the class remarks for the quantile and tie rules). A target of 0 gives the largest clean score (nothing
    /// clean is flagged); a target of 1 gives −∞ (everything is flagged).
    /// </summary>
    /// <param name="cleanScores">Detector scores of clean (natural) inputs; at least one, none NaN.</param>
    /// <param name="targetFalsePositiveRate">The share of clean inputs that may be flagged, in [0, 1].</param>
    public static double ForFalsePositiveRate(ReadOnlySpan<float> cleanScores, double targetFalsePositiveRate)
    {
        if (cleanScores.IsEmpty) throw new ArgumentException("Calibrating a threshold needs at least one clean score.", nameof(cleanScores));
        if (!(targetFalsePositiveRate >= 0 && targetFalsePositiveRate <= 1))
            throw new ArgumentOutOfRangeException(nameof(targetFalsePositiveRate), targetFalsePositiveRate, "The target false-positive rate must lie in [0, 1].");
        var sorted = cleanScores.ToArray();
        if (Array.Exists(sorted, float.IsNaN)) throw new ArgumentException("A clean score is NaN; the detector produced an undefined score.", nameof(cleanScores));
        Array.Sort(sorted);

        int n = sorted.Length;
        // The tiny slack keeps products such as 0.29 · 100 = 28.999999999999996 from losing one allowed false positive.
        long allowed = (long)Math.Floor(targetFalsePositiveRate * n + 1e-9);
        if (allowed >= n) return double.NegativeInfinity;
        return sorted[n - 1 - allowed];
    }

    /// <summary>The share of <paramref name="cleanScores"/> flagged at <paramref name="threshold"/> (the achieved false-positive rate).</summary>
    public static double FalsePositiveRate(ReadOnlySpan<float> cleanScores, double threshold) => FlaggedFraction(cleanScores, threshold);

    /// <summary>The share of <paramref name="scores"/> flagged at <paramref name="threshold"/> (a false-positive rate on clean scores, a detection rate on adversarial ones).</summary>
    public static double FlaggedFraction(ReadOnlySpan<float> scores, double threshold)
    {
        if (scores.IsEmpty) throw new ArgumentException("The flagged fraction of no scores is undefined.", nameof(scores));
        int flagged = 0;
        foreach (var score in scores)
            if (IsFlagged(score, threshold)) flagged++;
        return flagged / (double)scores.Length;
    }
}

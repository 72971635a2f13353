namespace MLDefense.Defenses;

/// <summary>
/// Calibrates a detector's decision threshold on scores of clean data to a target false-positive rate
/// (DESIGN.md, "Defenses": every detector's threshold is calibrated in Fit on clean data unless the paper fixes the rule).
/// </summary>
/// <remarks>
/// <para>The decision rule shared by every detector: an input is flagged as adversarial when its score is
/// <b>strictly greater</b> than the threshold (scores are "higher = more adversarial").</para>
/// <para>Quantile and tie rule: with n clean scores and target rate α, let k = ⌊α·n⌋. The threshold is the
/// (k + 1)-th largest clean score, i.e. the empirical (1 − α) quantile taken from above. At most k clean scores
/// lie strictly above it, so the false-positive rate on the calibration scores is at most α, and exactly k/n when
/// no other score ties with the threshold; ties at the threshold are never flagged, so they only lower the rate.
/// α = 0 gives the largest clean score (no calibration score flagged). On fresh clean data the rate is α only in
/// expectation; the error of the empirical quantile shrinks like √(α(1 − α)/n), so a 1% target wants at least
/// several hundred scores.</para>
/// </remarks>
public static class DetectorThreshold
{
    /// <summary>Computes the threshold (see the class remarks for the quantile and tie rule).</summary>
    /// <param name="cleanScores">Scores of clean inputs; at least one, all finite.</param>
    /// <param name="targetFalsePositiveRate">α in [0, 1): the largest fraction of the clean scores that may lie above the threshold.</param>
    /// <returns>The threshold: flag an input when its score is &gt; this value.</returns>
    /// <exception cref="ArgumentException">No scores, or a score that is NaN or infinite.</exception>
    /// <exception cref="ArgumentOutOfRangeException">α outside [0, 1).</exception>
    public static float Calibrate(IReadOnlyList<float> cleanScores, double targetFalsePositiveRate)
    {
        ArgumentNullException.ThrowIfNull(cleanScores);
        CheckRate(targetFalsePositiveRate, nameof(targetFalsePositiveRate));
        if (cleanScores.Count == 0) throw new ArgumentException("Calibrating a threshold needs at least one clean score.", nameof(cleanScores));
        var sorted = new float[cleanScores.Count];
        for (int i = 0; i < sorted.Length; i++)
        {
            float s = cleanScores[i];
            if (!float.IsFinite(s)) throw new ArgumentException($"Clean score {i} is {s}; scores must be finite to calibrate a threshold.", nameof(cleanScores));
            sorted[i] = s;
        }
        Array.Sort(sorted);
        // Largest k = ⌊α·n⌋; the small epsilon keeps e.g. 0.01·300 = 3 from becoming 2.9999999 → 2.
        int allowedAbove = (int)Math.Floor(targetFalsePositiveRate * sorted.Length + 1e-9);
        allowedAbove = Math.Min(allowedAbove, sorted.Length - 1);
        return sorted[sorted.Length - 1 - allowedAbove];
    }

    /// <summary>The fraction of <paramref name="scores"/> flagged by <paramref name="threshold"/> (score &gt; threshold); 0 for no scores.</summary>
    public static double FlaggedFraction(IReadOnlyList<float> scores, float threshold)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Count == 0) return 0;
        int flagged = 0;
        for (int i = 0; i < scores.Count; i++)
            if (scores[i] > threshold) flagged++;
        return flagged / (double)scores.Count;
    }

    internal static void CheckRate(double rate, string name)
    {
        if (!(rate >= 0 && rate < 1))
            throw new ArgumentOutOfRangeException(name, rate, "A target false-positive rate must be in [0, 1).");
    }
}

namespace MLDefense.Evaluation;

/// <summary>
/// The confusion matrix of a detector at one threshold, adversarial = positive, and the rates the papers report
/// from it (MIAED Sec. 4.1 / Table 7: recall, precision, F1, specificity, accuracy; MixDefense Sec. 5.1: TPR, FPR).
/// </summary>
/// <remarks>A rate whose denominator is zero (e.g. precision when nothing is flagged) is <see cref="double.NaN"/>:
/// it is undefined, and reporting 0 or 1 instead would invent a result. JSON writes it as null, Markdown as "—".</remarks>
/// <param name="TruePositives">Adversarial inputs flagged.</param>
/// <param name="FalsePositives">Clean inputs flagged.</param>
/// <param name="TrueNegatives">Clean inputs not flagged.</param>
/// <param name="FalseNegatives">Adversarial inputs not flagged.</param>
public readonly record struct ConfusionCounts(long TruePositives, long FalsePositives, long TrueNegatives, long FalseNegatives)
{
    /// <summary>Adversarial inputs (TP + FN).</summary>
    public long Positives => TruePositives + FalseNegatives;
    /// <summary>Clean inputs (TN + FP).</summary>
    public long Negatives => TrueNegatives + FalsePositives;
    /// <summary>All inputs.</summary>
    public long Total => Positives + Negatives;

    /// <summary>Recall = true-positive rate = TP / (TP + FN).</summary>
    public double Recall => Ratio(TruePositives, Positives);
    /// <summary>Precision = TP / (TP + FP).</summary>
    public double Precision => Ratio(TruePositives, TruePositives + FalsePositives);
    /// <summary>F1 = 2 · precision · recall / (precision + recall); 0 when both are 0.</summary>
    public double F1
    {
        get
        {
            double p = Precision, r = Recall;
            if (double.IsNaN(p) || double.IsNaN(r)) return double.NaN;
            return p + r == 0 ? 0 : 2 * p * r / (p + r);
        }
    }
    /// <summary>Specificity = true-negative rate = TN / (TN + FP).</summary>
    public double Specificity => Ratio(TrueNegatives, Negatives);
    /// <summary>Accuracy = (TP + TN) / all.</summary>
    public double Accuracy => Ratio(TruePositives + TrueNegatives, Total);
    /// <summary>False-positive rate = FP / (FP + TN) = 1 − specificity.</summary>
    public double FalsePositiveRate => Ratio(FalsePositives, Negatives);

    /// <summary>Counts the detector's outcomes: input i is flagged when <c>scores[i] &gt; threshold</c> (<see cref="ThresholdCalibration.IsFlagged"/>).</summary>
    /// <param name="scores">One score per input, higher = more adversarial.</param>
    /// <param name="isAdversarial">The ground truth, one per input.</param>
    /// <param name="threshold">The detector's threshold.</param>
    public static ConfusionCounts Count(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAdversarial, double threshold)
    {
        DetectionInputs.Check(scores, isAdversarial);
        long tp = 0, fp = 0, tn = 0, fn = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            bool flagged = ThresholdCalibration.IsFlagged(scores[i], threshold);
            if (isAdversarial[i]) { if (flagged) tp++; else fn++; }
            else if (flagged) fp++;
            else tn++;
        }
        return new(tp, fp, tn, fn);
    }

    private static double Ratio(long numerator, long denominator) => denominator == 0 ? double.NaN : numerator / (double)denominator;
}

/// <summary>One operating point of a ROC curve: flagging <c>score &gt; Threshold</c> gives these rates.</summary>
/// <param name="Threshold">The threshold (−∞ for the point that flags everything).</param>
/// <param name="FalsePositiveRate">The share of clean inputs flagged.</param>
/// <param name="TruePositiveRate">The share of adversarial inputs flagged.</param>
public readonly record struct RocPoint(double Threshold, double FalsePositiveRate, double TruePositiveRate);

/// <summary>
/// The empirical ROC curve of a detector (adversarial = positive) and its area — the threshold-free comparison AE-GAN
/// (Sec. 4) makes for its reconstruction error and that MIAED and MixDefense tables complement with AUC.
/// </summary>
/// <remarks>
/// The points are the operating points of every distinct threshold, from "flag nothing" (0, 0) — threshold = the
/// largest score — to "flag everything" (1, 1) — threshold −∞ —, in order of increasing FPR and TPR. Inputs with
/// equal scores cannot be separated by any threshold, so they enter the curve together: a tie between positives and
/// negatives is one diagonal step, which the trapezoidal rule credits one half — exactly the Mann–Whitney
/// probability P(score⁺ &gt; score⁻) + ½ P(score⁺ = score⁻). With no positives or no negatives the curve is undefined:
/// <see cref="Points"/> is empty and <see cref="Auc"/> is NaN.
/// </remarks>
public sealed class RocCurve
{
    private RocCurve(IReadOnlyList<RocPoint> points, double auc) => (Points, Auc) = (points, auc);

    /// <summary>The operating points, (0, 0) first and (1, 1) last (see the remarks).</summary>
    public IReadOnlyList<RocPoint> Points { get; }

    /// <summary>The area under the curve by the trapezoidal rule (ties credited one half); NaN when undefined.</summary>
    public double Auc { get; }

    /// <summary>The AUC of telling <paramref name="positives"/> (adversarial) from <paramref name="negatives"/> (clean) by score.</summary>
    public static double AucOf(ReadOnlySpan<float> negatives, ReadOnlySpan<float> positives)
    {
        var scores = new float[negatives.Length + positives.Length];
        negatives.CopyTo(scores);
        positives.CopyTo(scores.AsSpan(negatives.Length));
        var isAdversarial = new bool[scores.Length];
        isAdversarial.AsSpan(negatives.Length).Fill(true);
        return Compute(scores, isAdversarial).Auc;
    }

    /// <summary>Computes the curve of <paramref name="scores"/> against <paramref name="isAdversarial"/>.</summary>
    public static RocCurve Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAdversarial)
    {
        DetectionInputs.Check(scores, isAdversarial);
        int positives = 0;
        foreach (var a in isAdversarial) if (a) positives++;
        int negatives = scores.Length - positives;
        if (positives == 0 || negatives == 0) return new([], double.NaN);

        var order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var keys = scores.ToArray();
        Array.Sort(keys, order);   // ascending; walked from the end so the threshold descends

        var points = new List<RocPoint> { new(keys[^1], 0, 0) };
        int truePositives = 0, falsePositives = 0;
        double area = 0;
        for (int end = keys.Length; end > 0;)
        {
            int start = end - 1;
            while (start > 0 && keys[start - 1] == keys[end - 1]) start--;
            for (int i = start; i < end; i++)
                if (isAdversarial[order[i]]) truePositives++; else falsePositives++;
            // Having flagged every input with a score ≥ keys[start], the threshold reproducing this point under
            // "score > threshold" is the next lower distinct score, or −∞ when none is left.
            double threshold = start > 0 ? keys[start - 1] : double.NegativeInfinity;
            var point = new RocPoint(threshold, falsePositives / (double)negatives, truePositives / (double)positives);
            var previous = points[^1];
            area += (point.FalsePositiveRate - previous.FalsePositiveRate) * (point.TruePositiveRate + previous.TruePositiveRate) / 2;
            points.Add(point);
            end = start;
        }
        return new(points, area);
    }

    /// <summary>
    /// The operating point with the highest TPR whose FPR does not exceed <paramref name="maxFalsePositiveRate"/> (the
    /// highest threshold among equals); null when the curve is undefined. Empirical points only, no interpolation.
    /// </summary>
    public RocPoint? BestTruePositiveRateAt(double maxFalsePositiveRate)
    {
        RocPoint? best = null;
        foreach (var point in Points)
            if (point.FalsePositiveRate <= maxFalsePositiveRate && (best is null || point.TruePositiveRate > best.Value.TruePositiveRate))
                best = point;
        return best;
    }
}

/// <summary>
/// Everything the papers report about a detector on one labelled set: the confusion counts and rates at its threshold,
/// the ROC curve and AUC, and the TPR at FPR 1% and 5% with the thresholds that achieve them.
/// </summary>
/// <param name="Threshold">The threshold the counts were taken at (flag = score &gt; threshold).</param>
/// <param name="Counts">The confusion counts at <paramref name="Threshold"/>.</param>
/// <param name="Roc">The ROC curve.</param>
public sealed record DetectionMetrics(double Threshold, ConfusionCounts Counts, RocCurve Roc)
{
    /// <summary>The target FPRs the papers read TPR at.</summary>
    public const double OnePercent = 0.01, FivePercent = 0.05;

    /// <summary>Recall (TPR) at the threshold.</summary>
    public double Recall => Counts.Recall;
    /// <summary>Precision at the threshold.</summary>
    public double Precision => Counts.Precision;
    /// <summary>F1 at the threshold.</summary>
    public double F1 => Counts.F1;
    /// <summary>Specificity (TNR) at the threshold.</summary>
    public double Specificity => Counts.Specificity;
    /// <summary>Accuracy at the threshold.</summary>
    public double Accuracy => Counts.Accuracy;
    /// <summary>False-positive rate at the threshold.</summary>
    public double FalsePositiveRate => Counts.FalsePositiveRate;
    /// <summary>Area under the ROC curve.</summary>
    public double Auc => Roc.Auc;
    /// <summary>The best operating point with FPR ≤ 1% (null when the curve is undefined).</summary>
    public RocPoint? AtFalsePositiveRate1Percent => Roc.BestTruePositiveRateAt(OnePercent);
    /// <summary>The best operating point with FPR ≤ 5% (null when the curve is undefined).</summary>
    public RocPoint? AtFalsePositiveRate5Percent => Roc.BestTruePositiveRateAt(FivePercent);

    /// <summary>Computes every metric of the scores against the ground truth at a threshold.</summary>
    /// <param name="scores">One score per input, higher = more adversarial; none NaN.</param>
    /// <param name="isAdversarial">The ground truth, one per input.</param>
    /// <param name="threshold">The detector's threshold (for example from <see cref="ThresholdCalibration.ForFalsePositiveRate"/>).</param>
    public static DetectionMetrics Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAdversarial, double threshold) =>
        new(threshold, ConfusionCounts.Count(scores, isAdversarial, threshold), RocCurve.Compute(scores, isAdversarial));
}

internal static class DetectionInputs
{
    public static void Check(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAdversarial)
    {
        if (scores.Length != isAdversarial.Length)
            throw new ArgumentException($"There are {scores.Length} scores but {isAdversarial.Length} ground-truth labels; they must pair up.");
        for (int i = 0; i < scores.Length; i++)
            if (float.IsNaN(scores[i])) throw new ArgumentException($"Score {i} is NaN; the detector produced an undefined score.", nameof(scores));
    }
}

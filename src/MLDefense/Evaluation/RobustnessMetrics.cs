namespace MLDefense.Evaluation;

/// <summary>
/// The counts behind MixDefense's accuracy of a robust classifier (Yang et al., MixDefense, Sec. 5.1, Eq. 8): a
/// classifier guarded by a detector handles an adversarial example well when the detector rejects it or, if it slips
/// through, the classifier still gets it right.
/// </summary>
/// <remarks>
/// Exactly what is counted: each adversarial example counts once, as <see cref="Detected"/> when the detector flags it
/// (whatever the classifier says about it), otherwise as <see cref="CorrectlyClassifiedUndetected"/> when the classifier
/// predicts its true label, otherwise not at all. Counting correct classifications among the undetected only keeps an
/// example that is both flagged and correctly classified from counting twice (Eq. 8 read literally could exceed 1).
/// </remarks>
/// <param name="AdversarialExamples">The adversarial examples evaluated (#AEs).</param>
/// <param name="Detected">Those the detector flags.</param>
/// <param name="CorrectlyClassifiedUndetected">Those not flagged whose prediction is the true label.</param>
public readonly record struct RobustClassifierCounts(long AdversarialExamples, long Detected, long CorrectlyClassifiedUndetected)
{
    /// <summary>Acc_RC = (#detected + #correctly classified among the undetected) / #AEs; NaN without AEs.</summary>
    public double Accuracy => AdversarialExamples == 0 ? double.NaN : (Detected + CorrectlyClassifiedUndetected) / (double)AdversarialExamples;
}

/// <summary>Accuracy metrics of classifiers under attack: clean accuracy, adversarial accuracy, and MixDefense's Acc_RC.</summary>
public static class RobustnessMetrics
{
    /// <summary>
    /// The share of predictions equal to the labels — clean accuracy on clean inputs, adversarial accuracy on adversarial
    /// ones (MIAED Table 5, AE-GAN Table 1); NaN for no inputs.
    /// </summary>
    public static double Accuracy(ReadOnlySpan<int> predicted, ReadOnlySpan<int> labels)
    {
        CheckPairs(predicted.Length, labels.Length);
        if (labels.IsEmpty) return double.NaN;
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
            if (predicted[i] == labels[i]) correct++;
        return correct / (double)labels.Length;
    }

    /// <summary>Counts MixDefense's Eq. 8 over a set of adversarial examples (see <see cref="RobustClassifierCounts"/>).</summary>
    /// <param name="detected">Whether the detector flags each adversarial example.</param>
    /// <param name="predicted">The classifier's prediction for each adversarial example.</param>
    /// <param name="labels">The true label of each (that of the clean image it was made from).</param>
    public static RobustClassifierCounts RobustClassifierAccuracy(ReadOnlySpan<bool> detected, ReadOnlySpan<int> predicted, ReadOnlySpan<int> labels)
    {
        CheckPairs(predicted.Length, labels.Length);
        if (detected.Length != labels.Length)
            throw new ArgumentException($"There are {detected.Length} detection flags for {labels.Length} adversarial examples; they must pair up.");
        long flagged = 0, correctUndetected = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            if (detected[i]) flagged++;
            else if (predicted[i] == labels[i]) correctUndetected++;
        }
        return new(labels.Length, flagged, correctUndetected);
    }

    private static void CheckPairs(int predicted, int labels)
    {
        if (predicted != labels) throw new ArgumentException($"There are {predicted} predictions for {labels} labels; they must pair up.");
    }
}

namespace MLDefense.Defenses;

/// <summary>How well a detector's scores separate clean inputs from suspect ones (adversarial, or noise standing in for them).</summary>
public static class DetectorSeparation
{
    /// <summary>
    /// The area under the ROC curve of "suspect scores higher than clean scores": the probability that a random
    /// suspect input outscores a random clean one, ties counting one half (the Mann–Whitney U statistic / (n₀·n₁)).
    /// 1 is perfect separation, 0.5 chance. O((n₀ + n₁) log(n₀ + n₁)).
    /// </summary>
    /// <exception cref="ArgumentException">Either list is empty or holds NaN.</exception>
    public static double RocAuc(IReadOnlyList<float> cleanScores, IReadOnlyList<float> suspectScores)
    {
        ArgumentNullException.ThrowIfNull(cleanScores);
        ArgumentNullException.ThrowIfNull(suspectScores);
        if (cleanScores.Count == 0 || suspectScores.Count == 0)
            throw new ArgumentException("The ROC AUC needs at least one clean and one suspect score.");
        var all = new (float Score, bool Suspect)[cleanScores.Count + suspectScores.Count];
        for (int i = 0; i < cleanScores.Count; i++) all[i] = (cleanScores[i], false);
        for (int i = 0; i < suspectScores.Count; i++) all[cleanScores.Count + i] = (suspectScores[i], true);
        if (all.Any(a => float.IsNaN(a.Score))) throw new ArgumentException("The ROC AUC is undefined for NaN scores.");
        Array.Sort(all, (a, b) => a.Score.CompareTo(b.Score));

        // Sum of the (mid-)ranks of the suspect scores; tied runs share their average rank.
        double suspectRankSum = 0;
        for (int start = 0; start < all.Length;)
        {
            int end = start;
            while (end + 1 < all.Length && all[end + 1].Score == all[start].Score) end++;
            double midRank = (start + end) / 2.0 + 1;
            for (int i = start; i <= end; i++)
                if (all[i].Suspect) suspectRankSum += midRank;
            start = end + 1;
        }
        double n1 = suspectScores.Count, n0 = cleanScores.Count;
        return (suspectRankSum - n1 * (n1 + 1) / 2) / (n0 * n1);
    }
}

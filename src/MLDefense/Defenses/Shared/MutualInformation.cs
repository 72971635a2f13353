using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Defenses;

/// <summary>
/// The Jensen–Shannon mutual-information estimator of Deep InfoMax (Hjelm et al., "Learning Deep Representations by
/// Mutual Information Estimation and Maximization", ICLR 2019, Eq. 4), as MIAED uses it for its global and local MI
/// terms (Gao et al., Sec. 3.1, Eq. 9 and 10), and the negative sampling that feeds it.
/// </summary>
/// <remarks>
/// For a discriminator T scoring pairs, Î_JSD = E_P[−sp(−T(x, y))] − E_{P×P̃}[sp(T(x', y))], sp(z) = log(1 + eᶻ):
/// positives are pairs drawn from the joint distribution (a latent with the feature map of the same image), negatives
/// from the product of the marginals (a latent with another image's feature map). sp(−T) = −log σ(T), so the estimator
/// is the (negated) binary cross-entropy of a classifier of positives against negatives whose sigmoid is implicit: the
/// discriminators therefore output the raw score T, and the "sigmoid" of Gao et al.'s Table 4 lives here.
/// </remarks>
public static class MutualInformation
{
    /// <summary>
    /// Î_JSD from the discriminator's scores of positive and negative pairs (any shapes; each is averaged). Higher =
    /// more mutual information: it is at most 0 (positives and negatives told apart perfectly) and −log 4 ≈ −1.386 for a
    /// discriminator that outputs 0 (tells nothing); (Î_JSD + log 4)/2 lower-bounds the Jensen–Shannon divergence between
    /// the joint and the product of marginals. Returns a scalar tensor the caller owns.
    /// </summary>
    public static Tensor JensenShannonEstimate(Tensor positiveScores, Tensor negativeScores)
    {
        ArgumentNullException.ThrowIfNull(positiveScores);
        ArgumentNullException.ThrowIfNull(negativeScores);
        using var scope = torch.NewDisposeScope();
        var estimate = (-F.softplus(-positiveScores)).mean() - F.softplus(negativeScores).mean();
        return estimate.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Pairs every sample with another sample of the batch for negative pairs: the batch rolled by one along the first
    /// dimension (row i gets row i + 1, the last gets the first). A roll, unlike a random permutation, never pairs a
    /// sample with itself, so every "negative" really is one (for a batch of at least two).
    /// </summary>
    public static Tensor RollBatch(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        long n = batch.size(0);
        if (n < 2) throw new ArgumentException($"Negative pairs need a batch of at least 2 samples; found {n}.", nameof(batch));
        using var head = batch.narrow(0, 1, n - 1);
        using var tail = batch.narrow(0, 0, 1);
        return torch.cat([head, tail], 0);
    }
}

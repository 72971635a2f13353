namespace MLDefense.Defenses;

/// <summary>
/// MIAED's comparison of two class distributions (Gao et al., Sec. 3.2, Fig. 4): the target model's softmax
/// probabilities p and the simple network's q, computed from the MI-trained latent of the same input.
/// </summary>
/// <remarks>
/// <para>The paper compares the two distributions without naming a divergence; the official code compares only their
/// argmax. MIAED's score is the Jensen–Shannon divergence
/// JS(p, q) = ½·KL(p ‖ m) + ½·KL(q ‖ m), m = ½(p + q), in nats, in [0, ln 2].</para>
/// <para>Why JS and not KL or symmetric KL: a softmax saturates, so p or q often holds (numerically) zero probabilities
/// where the other does not; KL then explodes to ~1/ε and the score would measure float underflow, not disagreement.
/// JS stays finite (m is never zero where p or q is not), is symmetric — neither network is the "reference" — and is
/// bounded, so thresholds are comparable across datasets. It also matches the estimator family MIAED trains with.</para>
/// <para>Clean inputs: the classifier and the simple network agree (low JS). Adversarial inputs move the classifier's
/// distribution, while the MI-trained latent keeps the image's true class (high JS).</para>
/// </remarks>
public static class MiaedScoring
{
    /// <summary>JS(p, q) per row: [N, K] probabilities × 2 → [N] float32 (0·log 0 taken as 0).</summary>
    public static Tensor JensenShannonDivergence(Tensor p, Tensor q)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(q);
        if (p.dim() != 2 || !p.shape.SequenceEqual(q.shape))
            throw new ArgumentException($"Expected two probability matrices [N, K] of one shape; found [{string.Join(", ", p.shape)}] and [{string.Join(", ", q.shape)}].");
        using var scope = torch.NewDisposeScope();
        // float64: the terms of nearly identical distributions cancel to ~1e-9, below float32's resolution near ln 2.
        var p64 = p.to(ScalarType.Float64).clamp(0, 1);
        var q64 = q.to(ScalarType.Float64).clamp(0, 1);
        var logM = ((p64 + q64) * 0.5).clamp(1e-300).log();
        var klP = (p64 * (p64.clamp(1e-300).log() - logM)).sum(1);
        var klQ = (q64 * (q64.clamp(1e-300).log() - logM)).sum(1);
        return (0.5 * (klP + klQ)).clamp(0).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}

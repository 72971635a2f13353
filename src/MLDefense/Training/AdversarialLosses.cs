using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Training;

/// <summary>
/// The training examples and losses of the adversarial-training methods (see <see cref="AdversarialTrainingMethod"/>),
/// on a raw network: what <see cref="AdversarialTrainingLoop"/> runs every mini-batch.
/// </summary>
internal static class AdversarialLosses
{
    /// <summary>
    /// The training examples x̃ for a batch, detached, in the caller's dispose scope: L∞ PGD (Madry et al., Eq. 2) of
    /// <paramref name="steps"/> signed-gradient steps, each projected onto the ε-ball around <paramref name="images"/> and
    /// clipped to [0, 1]. For <see cref="AdversarialTrainingMethod.Trades"/> the ascended loss is KL(f(x) ‖ f(x̃)) (TRADES,
    /// Alg. 1) from x + 0.001·𝒩(0, I); otherwise the cross-entropy, from a uniform point of the ball when
    /// <paramref name="randomStart"/> (else from x). The network runs in evaluation mode (no dropout) while crafting, as
    /// the authors' code does; its mode is restored.
    /// </summary>
    public static Tensor Craft(Module<Tensor, Tensor> network, Tensor images, Tensor labels, AdversarialTrainingMethod method, double epsilon,
        double stepSize, int steps, bool randomStart, CancellationToken token)
    {
        bool wasTraining = network.training;
        network.eval();
        try
        {
            using var scope = torch.NewDisposeScope();
            var low = images.sub(epsilon).clamp(min: 0.0);
            var high = images.add(epsilon).clamp(max: 1.0);
            Tensor? cleanProbabilities = null;
            Tensor adversarial;
            if (method == AdversarialTrainingMethod.Trades)
            {
                using (torch.no_grad()) cleanProbabilities = F.softmax(network.forward(images), 1).detach();
                adversarial = images.add(torch.randn_like(images).mul(0.001)).clamp(0.0, 1.0);
            }
            else
            {
                adversarial = randomStart ? images.add(torch.rand_like(images).mul(2 * epsilon).sub(epsilon)).clamp(0.0, 1.0) : images.clone();
            }
            for (int t = 0; t < steps; t++)
            {
                token.ThrowIfCancellationRequested();
                using var step = torch.NewDisposeScope();
                var input = adversarial.detach().requires_grad_(true);
                using var enabled = torch.enable_grad();
                var logits = network.forward(input);
                var loss = cleanProbabilities is not null
                    ? KullbackLeibler(cleanProbabilities, F.log_softmax(logits, 1)).sum()
                    : F.cross_entropy(logits, labels, reduction: Reduction.Sum);
                var gradient = torch.autograd.grad([loss], [input])[0];
                var moved = input.detach().add(gradient.sign().mul(stepSize));
                var next = torch.minimum(torch.maximum(moved, low), high).MoveToOuterDisposeScope();
                adversarial.Dispose();
                adversarial = next;
            }
            return adversarial.detach().MoveToOuterDisposeScope();
        }
        finally
        {
            network.train(wasTraining);
        }
    }

    /// <summary>
    /// KL(p ‖ q) per row, Σ_k p_k·(log p_k − log q_k), from probabilities p and log-probabilities log q (as PyTorch's
    /// <c>kl_div(log q, p)</c> before its reduction; a zero p_k contributes 0).
    /// </summary>
    public static Tensor KullbackLeibler(Tensor p, Tensor logQ)
    {
        using var scope = torch.NewDisposeScope();
        var logP = torch.log(p.clamp(min: 1e-30));
        return torch.where(p.gt(0), p.mul(logP.sub(logQ)), torch.zeros_like(p)).sum(1).MoveToOuterDisposeScope();
    }

    /// <summary>Whether the method's loss reads f(x) (TRADES and MART do; standard AT reads only f(x̃)).</summary>
    public static bool NeedsCleanLogits(AdversarialTrainingMethod method) => method != AdversarialTrainingMethod.StandardAT;

    /// <summary>
    /// The method's loss (a scalar, the batch mean), from the logits of the clean and adversarial images (the clean ones
    /// may be null for standard AT):
    /// standard AT: CE(f(x̃), y) (Madry et al.; Zhou et al.'s L_adv under Eq. 9);
    /// TRADES: CE(f(x), y) + β·(1/n)·Σ KL(f(x) ‖ f(x̃)) (Zhang et al., Eq. 5);
    /// MART: (1/n)·Σ [BCE(f(x̃), y) + β·KL(f(x) ‖ f(x̃))·(1 − f_y(x))] (Wang et al., Eq. 10), with MART's code's guards
    /// (log(1.0001 − p + 10⁻¹²), probabilities + 10⁻¹² inside logarithms, 1.0000001 − f_y(x)).
    /// </summary>
    public static Tensor Loss(AdversarialTrainingMethod method, Tensor? cleanLogits, Tensor adversarialLogits, Tensor labels, double beta)
    {
        using var scope = torch.NewDisposeScope();
        long n = labels.size(0);
        Tensor loss;
        switch (method)
        {
            case AdversarialTrainingMethod.StandardAT:
                loss = F.cross_entropy(adversarialLogits, labels);
                break;
            case AdversarialTrainingMethod.Trades:
            {
                var clean = cleanLogits ?? throw new ArgumentNullException(nameof(cleanLogits));
                var kl = KullbackLeibler(F.softmax(clean, 1), F.log_softmax(adversarialLogits, 1)).sum().div(n);
                loss = F.cross_entropy(clean, labels).add(kl.mul(beta));
                break;
            }
            case AdversarialTrainingMethod.Mart:
            {
                var clean = cleanLogits ?? throw new ArgumentNullException(nameof(cleanLogits));
                var adversarialProbabilities = F.softmax(adversarialLogits, 1);
                // The most probable wrong class of each adversarial example.
                var (_, top) = adversarialProbabilities.topk(2, dim: 1);
                var first = top.select(1, 0);
                var wrong = torch.where(first.eq(labels), top.select(1, 1), first);
                var boosted = F.cross_entropy(adversarialLogits, labels)
                    .add(F.nll_loss(torch.log(adversarialProbabilities.neg().add(1.0001).add(1e-12)), wrong));
                var cleanProbabilities = F.softmax(clean, 1);
                var trueProbability = cleanProbabilities.gather(1, labels.unsqueeze(1)).squeeze(1);
                var kl = cleanProbabilities.mul(torch.log(cleanProbabilities.add(1e-12)).sub(torch.log(adversarialProbabilities.add(1e-12)))).sum(1);
                var robust = kl.mul(trueProbability.neg().add(1.0000001)).mean();
                loss = boosted.add(robust.mul(beta));
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown adversarial-training method.");
        }
        return loss.MoveToOuterDisposeScope();
    }
}

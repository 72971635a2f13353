namespace MLDefense.Defenses;

/// <summary>
/// The WGAN-GP gradient penalty (Gulrajani et al., "Improved Training of Wasserstein GANs", 2017, Eq. 3), used by
/// MIAED's prior-matching critic (Gao et al., Sec. 3.1, Eq. 11) and reusable by any critic.
/// </summary>
/// <remarks>
/// penalty = E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²] with x̂ = u·real + (1 − u)·fake and u ~ U[0, 1] drawn once per sample. The
/// input gradient is taken with <c>torch.autograd.grad(create_graph: true)</c>, so the penalty is itself
/// differentiable w.r.t. the critic's weights (double backward) — without that the critic would not learn from it.
/// </remarks>
public static class GradientPenalty
{
    /// <summary>The weight λ Gulrajani et al. use for the penalty in every experiment (10).</summary>
    public const double DefaultWeight = 10;

    /// <summary>
    /// The penalty at points interpolated between <paramref name="real"/> and <paramref name="fake"/> with fresh
    /// uniform weights (torch's generator). Returns a scalar tensor the caller owns.
    /// </summary>
    /// <param name="critic">The critic: [N, ...] → [N, 1] or [N].</param>
    /// <param name="real">Samples of the target distribution [N, ...].</param>
    /// <param name="fake">Samples of the generated distribution, same shape (detached or not; the penalty does not need its graph).</param>
    public static Tensor Compute(Func<Tensor, Tensor> critic, Tensor real, Tensor fake)
    {
        ArgumentNullException.ThrowIfNull(real);
        ArgumentNullException.ThrowIfNull(fake);
        var mixShape = new long[real.dim()];
        Array.Fill(mixShape, 1L);
        mixShape[0] = real.size(0);
        using var mix = torch.rand(mixShape, real.dtype, real.device);
        return AtMixture(critic, real, fake, mix);
    }

    /// <summary>
    /// The penalty at x̂ = mix·real + (1 − mix)·fake for given mixing weights (broadcast against the samples):
    /// deterministic, for tests and for callers that draw their own weights.
    /// </summary>
    public static Tensor AtMixture(Func<Tensor, Tensor> critic, Tensor real, Tensor fake, Tensor mix)
    {
        ArgumentNullException.ThrowIfNull(critic);
        ArgumentNullException.ThrowIfNull(real);
        ArgumentNullException.ThrowIfNull(fake);
        ArgumentNullException.ThrowIfNull(mix);
        if (!real.shape.SequenceEqual(fake.shape))
            throw new ArgumentException($"The gradient penalty needs real and fake samples of one shape; found [{string.Join(", ", real.shape)}] and [{string.Join(", ", fake.shape)}].");
        using var scope = torch.NewDisposeScope();
        // Detached so that the penalty's gradient reaches only the critic, never the generator that made the samples.
        var interpolated = (mix * real.detach() + (1 - mix) * fake.detach()).detach().requires_grad_();
        var scores = critic(interpolated);
        var gradient = torch.autograd.grad([scores], [interpolated], [torch.ones_like(scores)], retain_graph: true, create_graph: true)[0]
            ?? throw new InvalidOperationException("The critic's output does not depend on its input; no gradient penalty can be computed.");
        var penalty = (torch.linalg.vector_norm(gradient.flatten(1), 2, [1]) - 1).square().mean();
        return penalty.MoveToOuterDisposeScope();
    }
}

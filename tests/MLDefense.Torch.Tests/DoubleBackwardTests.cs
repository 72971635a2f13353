using MLDefense.Torch.Modules;
using F = MLDefense.Torch.torch.nn.functional;

namespace MLDefense.Torch.Tests;

/// <summary>
/// Double backward through the WGAN-GP gradient penalty (MIAED's critic loss): penalty = mean((‖∂D(x̂)/∂x̂‖₂ − 1)²) on
/// x̂ = α·real + (1 − α)·fake, computed with <c>torch.autograd.grad(create_graph: true)</c> and differentiated again
/// w.r.t. the critic's weights. Values from PyTorch in fixtures/golden_wgan_gp.safetensors (see make_golden.py).
/// </summary>
[TestClass]
public sealed class DoubleBackwardTests
{
    private const double Lambda = 10;
    // named_parameters() order of the critic, and the fixture's names for them.
    private static readonly (string Module, string Fixture)[] Weights = [("0.weight", "w0"), ("0.bias", "b0"), ("2.weight", "w1"), ("2.bias", "b1")];

    /// <summary>Linear(4, 8) → LeakyReLU(0.2) or Tanh → Linear(8, 1), in float64, with the fixture's weights.</summary>
    private static Sequential Critic(GoldenFixture g, string kind)
    {
        var net = torch.nn.Sequential(torch.nn.Linear(4, 8), kind == "leaky" ? torch.nn.LeakyReLU(0.2) : torch.nn.Tanh(), torch.nn.Linear(8, 1));
        net.to(ScalarType.Float64);
        net.load_state_dict(Weights.ToDictionary(w => w.Module, w => g[$"{kind}.{w.Fixture}"]));
        return net;
    }

    private static Tensor GradientPenalty(Func<Tensor, Tensor> critic, Tensor real, Tensor fake, Tensor alpha)
    {
        var xhat = alpha * real + (1 - alpha) * fake;
        if (!xhat.requires_grad) xhat.requires_grad = true;
        var d = critic(xhat);
        var grad = torch.autograd.grad([d], [xhat], [torch.ones_like(d)], create_graph: true)[0]!;
        Assert.IsTrue(grad.requires_grad, "create_graph: the gradient must itself be differentiable");
        return (grad.norm(2, [1]) - 1).pow(2).mean();
    }

    [TestMethod]
    [DataRow("leaky")]
    [DataRow("tanh")]
    public void PenaltyAndItsWeightGradientsMatchPyTorch(string kind)
    {
        using var g = new GoldenFixture("wgan_gp");
        using var scope = torch.NewDisposeScope();
        using var critic = Critic(g, kind);
        var parameters = critic.named_parameters().ToList();
        CollectionAssert.AreEqual(Weights.Select(w => w.Module).ToList(), parameters.Select(p => p.name).ToList());

        var fake = g["fake"].clone().requires_grad_();
        var penalty = GradientPenalty(critic.forward, g["real"], fake, g["alpha"]);
        Approx.AssertClose(penalty, g[$"{kind}.penalty"], $"{kind}: penalty");
        Assert.IsTrue(penalty.item<double>() > 1e-3, $"{kind}: a near-zero penalty would make the comparison weak");

        var grads = torch.autograd.grad([penalty], [.. parameters.Select(p => p.parameter), fake], allow_unused: true);
        for (int i = 0; i < Weights.Length; i++)
        {
            var expected = g[$"{kind}.penalty.grad.{Weights[i].Fixture}"];
            if (grads[i] is { } actual) Approx.AssertClose(actual, expected, $"{kind}: d penalty / d {Weights[i].Module}");
            else Assert.IsTrue(Approx.Values(expected).All(v => v == 0), $"{kind}: {Weights[i].Module} unused here but PyTorch has a gradient");
        }
        // The output bias shifts D but not ∂D/∂x: no gradient. The other weights must have one.
        Assert.IsTrue(grads[3] is null || Approx.Values(grads[3]!).All(v => v == 0), $"{kind}: the output bias cannot affect the penalty");
        Assert.IsTrue(Approx.Values(grads[2]!).Any(v => Math.Abs(v) > 1e-3), $"{kind}: the output weight's gradient must be non-trivial");
        Approx.AssertClose(grads[4]!, g[$"{kind}.penalty.grad.fake"], $"{kind}: d penalty / d fake");
    }

    [TestMethod]
    [DataRow("leaky")]
    [DataRow("tanh")]
    public void CriticLossBackwardMatchesPyTorch(string kind)
    {
        using var g = new GoldenFixture("wgan_gp");
        using var scope = torch.NewDisposeScope();
        using var critic = Critic(g, kind);
        var (real, fake) = (g["real"], g["fake"]);
        var loss = critic.forward(fake).mean() - critic.forward(real).mean() + Lambda * GradientPenalty(critic.forward, real, fake, g["alpha"]);
        loss.backward();
        Approx.AssertClose(loss, g[$"{kind}.loss"], $"{kind}: critic loss");
        foreach (var ((name, p), w) in critic.named_parameters().Zip(Weights))
            Approx.AssertClose(p.grad ?? throw new AssertFailedException($"{kind}: {name} has no gradient"), g[$"{kind}.loss.grad.{w.Fixture}"], $"{kind}: d loss / d {name}");
    }

    /// <summary>The second-order gradient against central differences of the penalty itself (no PyTorch involved).</summary>
    [TestMethod]
    public void PenaltyWeightGradientMatchesFiniteDifferences()
    {
        using var g = new GoldenFixture("wgan_gp");
        using var scope = torch.NewDisposeScope();
        var (real, fake, alpha) = (g["real"], g["fake"], g["alpha"]);
        int n = GradCheck.Check("WGAN-GP penalty (tanh critic)",
            t => GradientPenalty(x => F.linear(F.tanh(F.linear(x, t[0], t[1])), t[2], t[3]), real, fake, alpha),
            [g["tanh.w0"], g["tanh.b0"], g["tanh.w1"], g["tanh.b1"]], [0, 1, 2]);
        Assert.AreEqual(8 * 4 + 8 + 8, n);
    }
}

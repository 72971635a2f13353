using MLDefense.Defenses;
using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Tests;

/// <summary>The shared loss pieces MIAED trains with: the WGAN-GP gradient penalty (Eq. 11) and the Jensen–Shannon MI estimator (Eq. 9, 10).</summary>
[TestClass]
public sealed class MiaedLossTests
{
    [TestMethod]
    public void GradientPenaltyOfALinearCriticEqualsTheHandComputedValueAndGradient()
    {
        // D(x) = w·x + b has ∇ₓD = w everywhere, so penalty = (‖w‖ − 1)² and ∂penalty/∂w = 2(‖w‖ − 1)·w/‖w‖.
        using var scope = torch.NewDisposeScope();
        double[] w = [0.5, -1.5, 2.0];
        var weight = torch.tensor(w, [1, 3]).requires_grad_();
        var bias = torch.tensor(new double[] { 0.3 }, [1]).requires_grad_();
        torch.manual_seed(3);
        var real = torch.randn([5, 3], ScalarType.Float64);
        var fake = torch.randn([5, 3], ScalarType.Float64);
        var penalty = GradientPenalty.Compute(x => F.linear(x, weight, bias), real, fake);

        double norm = Math.Sqrt(w.Sum(v => v * v));
        Assert.AreEqual((norm - 1) * (norm - 1), penalty.ToDouble(), 1e-12);
        var grads = torch.autograd.grad([penalty], [weight, bias], allow_unused: true);
        var gradW = grads[0]!.data<double>().ToArray();
        for (int i = 0; i < 3; i++) Assert.AreEqual(2 * (norm - 1) * w[i] / norm, gradW[i], 1e-12, $"∂penalty/∂w[{i}]");
        // TorchSharp returns an empty tensor (no handle) for an unused input.
        Assert.IsTrue(grads[1] is null || grads[1].IsInvalid || grads[1].data<double>().ToArray()[0] == 0, "the bias does not change ∇ₓD");
    }

    [TestMethod]
    public void GradientPenaltyMatchesAutogradAtAFixedMixtureAndReachesEveryHiddenWeight()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        using var critic = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1));
        var real = torch.randn([8, 4]);
        var fake = torch.randn([8, 4]);
        var mix = torch.rand([8, 1]);
        var penalty = GradientPenalty.AtMixture(critic.forward, real, fake, mix);

        // The same value computed independently, one sample at a time: ∇ₓD for tanh is W₂·diag(1 − tanh²(W₁x + b₁))·W₁.
        var w1 = critic.named_parameters().First(p => p.name == "0.weight").parameter.detach();
        var b1 = critic.named_parameters().First(p => p.name == "0.bias").parameter.detach();
        var w2 = critic.named_parameters().First(p => p.name == "2.weight").parameter.detach();
        var x = mix * real + (1 - mix) * fake;
        var h = F.linear(x, w1, b1).tanh();
        var gradients = ((1 - h.square()) * w2).matmul(w1); // [8, 4]
        double expected = (torch.linalg.vector_norm(gradients, 2, [1]) - 1).square().mean().item<float>();
        Assert.AreEqual(expected, penalty.item<float>(), 1e-5);

        penalty.backward();
        foreach (var (name, parameter) in critic.named_parameters())
        {
            var grad = parameter.grad;
            bool nonZero = grad is not null && grad.abs().sum().item<float>() > 1e-6;
            if (name == "2.bias") Assert.IsFalse(nonZero, "the output bias cannot affect the penalty");
            else Assert.IsTrue(nonZero, $"double backward must reach {name}");
        }
    }

    [TestMethod]
    public void JensenShannonEstimateIsHigherForMatchedThanForShuffledPairsAfterTraining()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(11);
        // y = x + small noise: matched pairs carry much information, the rolled batch none.
        var x = torch.randn([256, 4]);
        var y = x + 0.1 * torch.randn([256, 4]);
        using var discriminator = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1));
        using var optimizer = torch.optim.Adam(discriminator.parameters(), 1e-2);
        double initial = 0;
        for (int step = 0; step < 60; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            var positive = discriminator.forward(torch.cat([x, y], 1));
            var negative = discriminator.forward(torch.cat([x, MutualInformation.RollBatch(y)], 1));
            var estimate = MutualInformation.JensenShannonEstimate(positive, negative);
            if (step == 0) initial = estimate.item<float>();
            optimizer.zero_grad();
            (-estimate).backward();
            optimizer.step();
        }
        using var _ = torch.no_grad();
        var matched = discriminator.forward(torch.cat([x, y], 1));
        var shuffled = discriminator.forward(torch.cat([x, MutualInformation.RollBatch(y)], 1));
        double final = MutualInformation.JensenShannonEstimate(matched, shuffled).item<float>();
        Console.WriteLine($"Î_JSD: {initial:F4} before, {final:F4} after 60 steps (range (−∞, 0], chance −log 4 = {-Math.Log(4):F4})");
        Assert.IsTrue(final > initial + 0.3, $"training raised the estimate ({initial} → {final})");
        Assert.IsTrue(final <= 1e-6, "Î_JSD is at most 0");
        Assert.IsTrue(matched.mean().item<float>() > shuffled.mean().item<float>() + 1, "matched pairs score higher than shuffled ones");
    }

    [TestMethod]
    public void JensenShannonEstimateIsMinusLog4WhenTheScoresTellNothingAndRollNeverPairsARowWithItself()
    {
        using var scope = torch.NewDisposeScope();
        var zeros = torch.zeros([10, 1]);
        Assert.AreEqual(-2 * Math.Log(2), MutualInformation.JensenShannonEstimate(zeros, zeros).item<float>(), 1e-6,
            "T ≡ 0 gives −sp(0) − sp(0) = −log 4, the estimator's value for a discriminator that tells nothing");
        var rows = torch.arange(5, ScalarType.Float32).unsqueeze(1);
        var rolled = MutualInformation.RollBatch(rows).data<float>().ToArray();
        CollectionAssert.AreEqual(new float[] { 1, 2, 3, 4, 0 }, rolled);
        Assert.Throws<ArgumentException>(() => MutualInformation.RollBatch(torch.zeros([1, 3])));
    }
}

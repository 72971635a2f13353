using MLDefense.Defenses;
using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Tests;

/// <summary>SSIM (Wang et al. 2004; CMAG Eq. 6–10) as CMAG's losses and detector compute it.</summary>
[TestClass]
public sealed class SsimTests
{
    [TestMethod]
    public void IdenticalImagesScoreOneAndNoiseLowersTheIndex()
    {
        torch.manual_seed(5);
        using var x = torch.rand([4, 3, 16, 16]);
        using var noisy = (x + 0.2 * torch.randn([4, 3, 16, 16])).clamp(0, 1);
        foreach (var window in new[] { SsimWindow.Gaussian, SsimWindow.Global })
        {
            using var same = Ssim.Compute(x, x, window);
            using var lower = Ssim.Compute(x, noisy, window);
            foreach (var v in same.data<float>().ToArray()) Assert.AreEqual(1.0, v, 1e-5, $"{window}: SSIM(x, x)");
            foreach (var v in lower.data<float>().ToArray()) Assert.IsTrue(v < 0.9, $"{window}: SSIM(x, x + noise) = {v}");
        }
    }

    [TestMethod]
    public void TheGlobalFormIsEquationsSixToTen()
    {
        // Eq. 10 with α = β = γ = 1, c₃ = c₂/2, statistics over the whole image with 1/(N − 1), computed here by hand in double.
        torch.manual_seed(2);
        using var a = torch.rand([1, 1, 5, 7]);
        using var b = torch.rand([1, 1, 5, 7]);
        var x = a.data<float>().ToArray().Select(v => (double)v).ToArray();
        var y = b.data<float>().ToArray().Select(v => (double)v).ToArray();
        int n = x.Length;
        double mx = x.Average(), my = y.Average();
        double vx = x.Sum(v => (v - mx) * (v - mx)) / (n - 1), vy = y.Sum(v => (v - my) * (v - my)) / (n - 1);
        double cov = x.Zip(y, (p, q) => (p - mx) * (q - my)).Sum() / (n - 1);
        double sx = Math.Sqrt(vx), sy = Math.Sqrt(vy), c3 = Ssim.C2 / 2;
        double l = (2 * mx * my + Ssim.C1) / (mx * mx + my * my + Ssim.C1);
        double c = (2 * sx * sy + Ssim.C2) / (vx + vy + Ssim.C2);
        double s = (cov + c3) / (sx * sy + c3);
        using var computed = Ssim.Compute(a, b, SsimWindow.Global);
        Assert.AreEqual(l * c * s, computed.item<float>(), 1e-5);
    }

    [TestMethod]
    public void TheSeparableGaussianWindowEqualsTheTwoDimensionalOne()
    {
        torch.manual_seed(3);
        using var x = torch.rand([2, 3, 20, 18]);
        using var y = torch.rand([2, 3, 20, 18]);
        using var computed = Ssim.Compute(x, y, SsimWindow.Gaussian);
        // The reference: the 11×11 window as one 2-D kernel.
        var g = Enumerable.Range(0, 11).Select(i => Math.Exp(-Math.Pow(i - 5, 2) / (2 * 1.5 * 1.5))).ToArray();
        double total = g.Sum();
        var kernel2d = new float[121];
        for (int i = 0; i < 11; i++) for (int j = 0; j < 11; j++) kernel2d[i * 11 + j] = (float)(g[i] / total * g[j] / total);
        using var kernel = torch.tensor(kernel2d, [1, 1, 11, 11]).expand(3, 1, 11, 11).contiguous();
        Tensor Blur(Tensor t) => F.conv2d(t, kernel, groups: 3);
        using var scope = torch.NewDisposeScope();
        var mx = Blur(x); var my = Blur(y);
        var vx = Blur(x * x) - mx * mx; var vy = Blur(y * y) - my * my; var cxy = Blur(x * y) - mx * my;
        var map = (2 * mx * my + Ssim.C1) * (2 * cxy + Ssim.C2) / ((mx * mx + my * my + Ssim.C1) * (vx + vy + Ssim.C2));
        var expected = map.flatten(1).mean([1]).data<float>().ToArray();
        var actual = computed.data<float>().ToArray();
        for (int i = 0; i < 2; i++) Assert.AreEqual(expected[i], actual[i], 1e-5, $"image {i}");
    }
}

using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Defenses;

/// <summary>How <see cref="Ssim"/> gathers its statistics.</summary>
public enum SsimWindow
{
    /// <summary>
    /// Wang et al.'s SSIM index (IEEE TIP 2004, Sec. III.C, the mean SSIM "MSSIM"): the statistics of Eq. 6–8 taken under an
    /// 11×11 Gaussian window of σ = 1.5 at every position where it fits (no padding), per channel, and the SSIM map averaged over
    /// positions and channels. Needs H, W ≥ 11. CMAG's default: see <see cref="CmagOptions.SsimWindow"/>.
    /// </summary>
    Gaussian,

    /// <summary>
    /// One window, the whole image: μ, σ² and σ_xy over all N = C·H·W values of each image, as CMAG's Eq. 6–8 print them
    /// (unbiased, 1/(N − 1)), without Wang et al.'s local window.
    /// </summary>
    Global,
}

/// <summary>
/// The structural similarity index (Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to
/// structural similarity", IEEE TIP 13(4), 2004 — CMAG's Ref. [33]) of image pairs, differentiable, on images in [0, 1].
/// </summary>
/// <remarks>
/// <para>SSIM = L·C·S (CMAG Eq. 10 with α = β = γ = 1) with L = (2μ_xμ_y + c₁)/(μ_x² + μ_y² + c₁),
/// C = (2σ_xσ_y + c₂)/(σ_x² + σ_y² + c₂), S = (σ_xy + c₃)/(σ_xσ_y + c₃) (Eq. 9), and Wang et al.'s constants for a
/// dynamic range of 1: c₁ = (0.01)², c₂ = (0.03)², c₃ = c₂/2 — with which C·S = (2σ_xy + c₂)/(σ_x² + σ_y² + c₂), the form
/// computed here (no square roots, so the gradient is defined everywhere). Eq. 9 as printed has 2σ_xy in S's numerator; that
/// would let S reach 2, against the paper's own statement that L, C, S ∈ (0, 1], so Wang et al.'s S is used. Eq. 7 as printed
/// puts the square root inside the sum; the unbiased standard deviation √(Σ(x − μ)²/(N − 1)) it describes is used.</para>
/// </remarks>
public static class Ssim
{
    /// <summary>c₁ = (0.01·L)² with dynamic range L = 1.</summary>
    public const double C1 = 1e-4;

    /// <summary>c₂ = (0.03·L)² with dynamic range L = 1 (c₃ = c₂/2).</summary>
    public const double C2 = 9e-4;

    /// <summary>The side of the <see cref="SsimWindow.Gaussian"/> window.</summary>
    public const int GaussianWindowSize = 11;

    /// <summary>The standard deviation of the <see cref="SsimWindow.Gaussian"/> window.</summary>
    public const double GaussianSigma = 1.5;

    /// <summary>SSIM(x, y) per image: [N] for images [N, C, H, W] of equal shape. Returns a tensor the caller owns.</summary>
    public static Tensor Compute(Tensor x, Tensor y, SsimWindow window = SsimWindow.Gaussian)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.dim() != 4 || !x.shape.SequenceEqual(y.shape))
            throw new ArgumentException($"SSIM compares images [N, C, H, W] of one shape; found [{string.Join(", ", x.shape)}] and [{string.Join(", ", y.shape)}].");
        using var scope = torch.NewDisposeScope();
        var result = window == SsimWindow.Global ? Global(x, y) : Gaussian(x, y);
        return result.MoveToOuterDisposeScope();
    }

    private static Tensor Global(Tensor x, Tensor y)
    {
        var a = x.flatten(1);
        var b = y.flatten(1);
        long n = a.size(1);
        if (n < 2) throw new ArgumentException("SSIM needs at least 2 values per image.");
        var muA = a.mean([1], keepdim: true);
        var muB = b.mean([1], keepdim: true);
        var da = a - muA;
        var db = b - muB;
        var varA = da.square().sum([1]) / (n - 1);
        var varB = db.square().sum([1]) / (n - 1);
        var cov = (da * db).sum([1]) / (n - 1);
        muA = muA.squeeze(1);
        muB = muB.squeeze(1);
        var luminance = (2 * muA * muB + C1) / (muA.square() + muB.square() + C1);
        var contrastStructure = (2 * cov + C2) / (varA + varB + C2);
        return luminance * contrastStructure;
    }

    private static Tensor Gaussian(Tensor x, Tensor y)
    {
        long channels = x.size(1);
        if (x.size(2) < GaussianWindowSize || x.size(3) < GaussianWindowSize)
            throw new ArgumentException($"The Gaussian SSIM window is {GaussianWindowSize}×{GaussianWindowSize}; the images are {x.size(2)}×{x.size(3)}.");
        var coordinates = torch.arange(GaussianWindowSize, ScalarType.Float32, x.device) - (GaussianWindowSize - 1) / 2.0;
        var g = (-coordinates.square() / (2 * GaussianSigma * GaussianSigma)).exp();
        g = g / g.sum();
        // The 2-D Gaussian window is the outer product of the 1-D one: blurring by columns, then by rows, is the same filter in
        // 2·11 instead of 11² multiplications per value.
        g = g.to(x.dtype);
        var vertical = g.reshape(1, 1, GaussianWindowSize, 1).expand(channels, 1, GaussianWindowSize, 1).contiguous();
        var horizontal = g.reshape(1, 1, 1, GaussianWindowSize).expand(channels, 1, 1, GaussianWindowSize).contiguous();
        Tensor Blur(Tensor t) => F.conv2d(F.conv2d(t, vertical, groups: channels), horizontal, groups: channels);
        var muX = Blur(x);
        var muY = Blur(y);
        var varX = Blur(x * x) - muX.square();
        var varY = Blur(y * y) - muY.square();
        var cov = Blur(x * y) - muX * muY;
        var map = (2 * muX * muY + C1) * (2 * cov + C2) / ((muX.square() + muY.square() + C1) * (varX + varY + C2));
        return map.flatten(1).mean([1]);
    }
}

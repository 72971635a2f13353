using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Defenses;

/// <summary>
/// The tensor computations of SAEC (Yang et al., MixDefense, Sec. 3), each on whole batches [N, C, H, W] on the
/// tensors' device: the pseudo-saturation map (Eq. 1), the high-pass residual, the histogram noise level (Eq. 2) and
/// the score. <see cref="SaecTransformer"/> uses them; they are public so that benchmarks and tests can score tensors
/// directly. Every method returns a new tensor the caller owns and frees its temporaries itself.
/// </summary>
public static class SaecScoring
{
    /// <summary>
    /// Eq. 1, the pseudo-saturation map x_stau = (Σ_c |x_c − x_mean|^p)^(1/p), with x_mean the per-pixel mean over
    /// the channels: the p-norm of each pixel's deviation from grey (p = 8 makes it close to the largest deviation).
    /// </summary>
    /// <param name="images">[N, C, H, W] float images.</param>
    /// <param name="exponent">p ≥ 1. The absolute value makes Eq. 1's (·)^p well defined for any p; for the paper's even p it changes nothing.</param>
    /// <param name="greyscalePolicy">For C = 1 the map of Eq. 1 is identically 0; <see cref="SaecGreyscalePolicy.UseImage"/> returns the image instead.</param>
    /// <returns>[N, 1, H, W] float32.</returns>
    /// <remarks>
    /// Numerical care: the powers are taken in float64. A deviation d ≤ 1 gives d^8, which in float32 would lose
    /// precision (subnormal) for d below about 2e-5 and become 0 below about 4e-6, erasing real, small colour noise
    /// before the 1/p root could bring it back to pixel scale; float64 keeps d^8 normal down to d ≈ 1e-38, and smaller
    /// deviations change the map by less than that. The root returns values to the scale of the pixels, so the map is
    /// returned in float32. For p = 2^m (the paper's 8) the power and the root are m squarings and m square roots,
    /// several times faster than the general pow and as accurate.
    /// </remarks>
    public static Tensor PseudoSaturationMap(Tensor images, double exponent = 8, SaecGreyscalePolicy greyscalePolicy = SaecGreyscalePolicy.UseImage)
    {
        CheckImages(images);
        if (!(exponent >= 1) || !double.IsFinite(exponent))
            throw new ArgumentOutOfRangeException(nameof(exponent), exponent, "The pseudo-saturation exponent p must be a finite number ≥ 1.");
        if (images.size(1) == 1)
        {
            return greyscalePolicy == SaecGreyscalePolicy.UseImage
                ? images.to(ScalarType.Float32, images.device, copy: true)
                : throw new ArgumentException("The pseudo-saturation map (Eq. 1) of a single-channel image is identically zero; use SaecGreyscalePolicy.UseImage to score grey images.", nameof(images));
        }
        using var scope = torch.NewDisposeScope();
        var pixels = images.to(ScalarType.Float64);
        var deviation = pixels - pixels.mean([1], keepdim: true);
        Tensor map;
        if (PowerOfTwoExponent(exponent) is int squarings and > 0)
        {
            // p = 2^m (the paper's 8): m squarings and m square roots are several times faster than the general pow.
            var powered = deviation;
            for (int i = 0; i < squarings; i++) powered = powered.square();
            map = powered.sum(1, keepdim: true);
            for (int i = 0; i < squarings; i++) map = map.sqrt();
        }
        else
        {
            map = deviation.abs().pow(exponent).sum(1, keepdim: true).pow(1 / exponent);
        }
        return map.to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>m when p = 2^m for an integer m ≥ 0, else null.</summary>
    private static int? PowerOfTwoExponent(double exponent)
    {
        for (int m = 0; m <= 10; m++)
            if (exponent == (1 << m)) return m;
        return null;
    }

    /// <summary>The kernel of a residual filter as a [1, 1, k, k] float32 tensor on a device (values in the remarks of <see cref="SaecResidualFilter"/>).</summary>
    public static Tensor ResidualKernel(SaecResidualFilter filter, Device? device = null)
    {
        var (values, scale) = KernelValues(filter);
        int size = (int)Math.Round(Math.Sqrt(values.Length));
        return torch.tensor(Array.ConvertAll(values, v => (float)(v / scale)), [1, 1, size, size], device: device);
    }

    /// <summary>The side length k of a residual filter's kernel.</summary>
    public static int KernelSize(SaecResidualFilter filter) => (int)Math.Round(Math.Sqrt(KernelValues(filter).Values.Length));

    private static (double[] Values, double Scale) KernelValues(SaecResidualFilter filter) => filter switch
    {
        SaecResidualFilter.KV5x5 => ([
            -1, 2, -2, 2, -1,
            2, -6, 8, -6, 2,
            -2, 8, -12, 8, -2,
            2, -6, 8, -6, 2,
            -1, 2, -2, 2, -1,
        ], 12),
        SaecResidualFilter.Square3x3 => ([
            -1, 2, -1,
            2, -4, 2,
            -1, 2, -1,
        ], 4),
        _ => throw new ArgumentOutOfRangeException(nameof(filter), filter, "Unknown SAEC residual filter."),
    };

    /// <summary>
    /// The high-pass residual of a map: a "valid" convolution (no padding) with the filter's kernel, so that no
    /// artificial border enters the histogram. [N, 1, H, W] → [N, 1, H − k + 1, W − k + 1], float32.
    /// </summary>
    public static Tensor Residuals(Tensor map, SaecResidualFilter filter)
    {
        ArgumentNullException.ThrowIfNull(map);
        var s = map.shape;
        int k = KernelSize(filter);
        if (s.Length != 4 || s[1] != 1 || s[2] < k || s[3] < k)
            throw new ArgumentException($"Expected a map [N, 1, H, W] with H, W ≥ {k} for the {filter} filter; found [{string.Join(", ", s)}].", nameof(map));
        using var kernel = ResidualKernel(filter, map.device);
        using var input = map.dtype == ScalarType.Float32 ? map.alias() : map.to(ScalarType.Float32);
        return F.conv2d(input, kernel);
    }

    /// <summary>
    /// Eq. 2, the noise level of each image: the variance of the histogram H of its residuals over
    /// <paramref name="binCount"/> equal bins on [<paramref name="minimum"/>, <paramref name="maximum"/>).
    /// </summary>
    /// <param name="residuals">[N, ...] residuals; every value after the first dimension belongs to one image.</param>
    /// <param name="binCount">L ≥ 2.</param>
    /// <param name="minimum">The lower end of the range.</param>
    /// <param name="maximum">The upper end (exclusive), above <paramref name="minimum"/>.</param>
    /// <returns>[N] float64: the population variance (1/L)·Σ_l (h_l − h̄)² of the bin frequencies h_l = count_l / M.</returns>
    /// <remarks>
    /// Bin l holds the residuals r with e_l ≤ r &lt; e_(l+1), e_l = minimum + l·(maximum − minimum)/L; residuals
    /// outside the range are counted in no bin (but still in M, the number of residuals per image). Frequencies
    /// instead of raw counts make the number independent of the image size; for one image shape the variance of the
    /// counts is M² times this, so the ranking of images — all a threshold or a ROC curve uses — is that of Eq. 2.
    /// The bins are counted by comparing every residual with every edge (cumulative counts, then differences):
    /// exact, deterministic, and the same on every device. Cost: N·M·(L + 1) comparisons.
    /// </remarks>
    public static Tensor NoiseLevel(Tensor residuals, int binCount, double minimum, double maximum)
    {
        using var frequencies = BinFrequencies(residuals, binCount, minimum, maximum);
        return frequencies.var([1], unbiased: false);
    }

    /// <summary>[N, L] float64: the bin frequencies h_l = count_l / M of <see cref="NoiseLevel"/> (its remarks say how they are counted).</summary>
    private static Tensor BinFrequencies(Tensor residuals, int binCount, double minimum, double maximum)
    {
        ArgumentNullException.ThrowIfNull(residuals);
        CheckHistogram(binCount, minimum, maximum);
        if (residuals.dim() < 2 || residuals.numel() == 0)
            throw new ArgumentException($"Expected residuals [N, ...] with at least one value per image; found [{string.Join(", ", residuals.shape)}].", nameof(residuals));
        using var scope = torch.NewDisposeScope();
        var values = residuals.flatten(1);
        long perImage = values.size(1);
        var edges = new float[binCount + 1];
        for (int l = 0; l <= binCount; l++) edges[l] = (float)(minimum + (maximum - minimum) * l / binCount);
        edges[binCount] = (float)maximum;
        var edgeTensor = torch.tensor(edges, [1, binCount + 1, 1], device: residuals.device);
        // below[n, l] = number of residuals of image n under edge l; a bin's count is the difference of two neighbours.
        // Summing the comparisons as floats is several times faster than summing bools (which libtorch widens to int64)
        // and exact while counts stay below 2^24; float64 takes over beyond that (images of more than 16 megapixels).
        var countType = perImage < (1 << 24) ? ScalarType.Float32 : ScalarType.Float64;
        var below = values.to(ScalarType.Float32).unsqueeze(1).lt(edgeTensor).to(countType).sum(2);
        var counts = below.narrow(1, 1, binCount) - below.narrow(1, 0, binCount);
        return (counts.to(ScalarType.Float64) / perImage).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The largest value <see cref="NoiseLevel"/> can take with L bins: (L − 1)/L², reached when every residual falls
    /// in one bin. The score divides by it.
    /// </summary>
    public static double MaximumNoiseLevel(int binCount) => (binCount - 1) / ((double)binCount * binCount);

    /// <summary>
    /// The SAEC score of each image, s = 1 − V / V_max with V the noise level of Eq. 2 and V_max =
    /// <see cref="MaximumNoiseLevel"/>: in [0, 1], higher = more adversarial.
    /// </summary>
    /// <param name="images">[N, C, H, W] images (values normally in [0, 1]).</param>
    /// <param name="options">The map, filter and histogram settings (the column names and Fit settings are ignored).</param>
    /// <returns>[N] float32 on the images' device.</returns>
    /// <remarks>
    /// Sign convention: a clean image is smooth in saturation, so its residuals pile up in the central bins — a peaked
    /// histogram whose bin frequencies vary a lot (high V). Noise and adversarial perturbations change the channels
    /// independently, so the residuals spread over many bins or out of the range — a flat or empty histogram (low V).
    /// The score therefore decreases with V; the affine form keeps it in [0, 1] (0 = every residual in one bin,
    /// 1 = a perfectly flat or empty histogram) and orders images exactly as −V does.
    /// </remarks>
    public static Tensor Scores(Tensor images, SaecOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var scope = torch.NewDisposeScope();
        var map = PseudoSaturationMap(images, options.SaturationExponent, options.GreyscalePolicy);
        var residuals = Residuals(map, options.ResidualFilter);
        var (binCount, minimum, maximum) = options.HistogramFor((int)images.size(1));
        var h = BinFrequencies(residuals, binCount, minimum, maximum);
        // V/V_max written out: V = Σh²/L − (Σh)²/L² and V_max = (L − 1)/L² give V/V_max = (L·Σh² − (Σh)²)/(L − 1).
        // This form is exact where it matters — one full bin gives (L − 1)/(L − 1), a score of exactly 0 — where
        // dividing two rounded variances gives ±3e-16; the clamp removes the rounding left elsewhere.
        double bins = binCount;
        var ratio = (h.square().sum(1) * bins - h.sum(1).square()) / (bins - 1);
        var scores = (1.0 - ratio).clamp(0, 1).to(ScalarType.Float32);
        return scores.MoveToOuterDisposeScope();
    }

    internal static void CheckHistogram(int binCount, double minimum, double maximum)
    {
        if (binCount < 2) throw new ArgumentOutOfRangeException(nameof(binCount), binCount, "The SAEC histogram needs at least 2 bins.");
        if (!double.IsFinite(minimum) || !double.IsFinite(maximum) || !(minimum < maximum))
            throw new ArgumentException($"The SAEC histogram range [{minimum}, {maximum}) must be finite and non-empty.");
    }

    private static void CheckImages(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4) throw new ArgumentException($"Expected images [N, C, H, W]; found [{string.Join(", ", images.shape)}].", nameof(images));
    }
}

namespace MLDefense.Defenses;

/// <summary>The steganalysis high-pass residual filter SAEC applies to the pseudo-saturation map (Yang et al., MixDefense, Sec. 3).</summary>
/// <remarks>
/// The paper does not name its kernel. Both choices come from the spatial rich model (SRM) of Fridrich and
/// Kodovský, "Rich Models for Steganalysis of Digital Images" (IEEE TIFS 2012), whose residuals predict a pixel from
/// its neighbours so that smooth image content cancels and only noise is left. Both kernels sum to zero (a constant
/// map gives a zero residual) and are symmetric, so convolution and cross-correlation agree.
/// </remarks>
public enum SaecResidualFilter
{
    /// <summary>
    /// The 5×5 "KV" kernel (SRM "SQUARE 5×5"), (1/12)·[[−1, 2, −2, 2, −1], [2, −6, 8, −6, 2], [−2, 8, −12, 8, −2],
    /// [2, −6, 8, −6, 2], [−1, 2, −2, 2, −1]]. The default: it is the most widely used single steganalysis
    /// pre-filter (the fixed first layer of Qian et al.'s and Xu et al.'s CNN steganalysers). Like SQUARE 3×3 it
    /// cancels every polynomial of total degree ≤ 3, but it predicts each value from 24 neighbours instead of 8,
    /// so textured content leaves less residual beside the noise it is meant to expose.
    /// </summary>
    KV5x5,

    /// <summary>
    /// The 3×3 second-order "SQUARE 3×3" kernel, (1/4)·[[−1, 2, −1], [2, −4, 2], [−1, 2, −1]]: cheaper and with a
    /// smaller border loss (1 pixel instead of 2), for very small images.
    /// </summary>
    Square3x3,
}

/// <summary>What SAEC does with single-channel (grey) images, whose pseudo-saturation map (Eq. 1) is identically zero.</summary>
public enum SaecGreyscalePolicy
{
    /// <summary>
    /// Use the image itself as the map (the default): the residual then measures the noise of the intensities, the
    /// classical steganalysis setting. Without it every grey image would score the same and nothing would be detected.
    /// </summary>
    UseImage,

    /// <summary>Reject single-channel image columns (GetOutputSchema and Fit throw): for pipelines that must run SAEC exactly as published.</summary>
    Reject,
}

/// <summary>
/// Options of the SAEC detector (Yang et al., "MixDefense: A Defense-in-Depth Framework for Adversarial Example
/// Detection Based on Statistical and Semantic Analysis", Sec. 3 "LP-Defense" and Sec. 5.3). See
/// <see cref="SaecEstimator"/> for the equations.
/// </summary>
public sealed record SaecOptions
{
    /// <summary>The image column read: float vector [C, H, W] with an image shape, values in [0, 1]. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; init; } = "Image";

    /// <summary>The float score column added (higher = more adversarial, in [0, 1]). Default <c>SaecScore</c>.</summary>
    public string ScoreColumnName { get; init; } = "SaecScore";

    /// <summary>The boolean column added: true when the score is above the calibrated threshold. Default <c>SaecFlag</c>.</summary>
    public string FlagColumnName { get; init; } = "SaecFlag";

    /// <summary>
    /// The fraction of clean training images the calibrated threshold may flag. Default 0.01: the paper wants this
    /// first layer to cause few "overkills" of clean inputs (Sec. 5.3), leaving small perturbations to the second layer.
    /// </summary>
    public double TargetFalsePositiveRate { get; init; } = 0.01;

    /// <summary>The exponent p of the pseudo-saturation map, Eq. 1. Default 8, the paper's value; any p ≥ 1 is accepted.</summary>
    public double SaturationExponent { get; init; } = 8;

    /// <summary>The high-pass residual filter applied to the map. Default <see cref="SaecResidualFilter.KV5x5"/>.</summary>
    public SaecResidualFilter ResidualFilter { get; init; } = SaecResidualFilter.KV5x5;

    /// <summary>
    /// L, the number of histogram bins of Eq. 2; null (the default) takes the map's default from
    /// <see cref="HistogramFor"/>: 11 bins of width 0.003 for the saturation maps of colour images, 21 of width 0.01 for
    /// the intensity maps of grey images (<see cref="SaecGreyscalePolicy.UseImage"/>). The paper gives no values.
    /// <para>Colour: chosen on training images only — the first 600 of the CIFAR-10 subset's training split, attacked
    /// through a C2 trained for 20 epochs, the threshold fitted on the other 3 400 at 1% false positives — as the setting
    /// whose worse Acc_Detector over FGSM and BIM (10 steps of ε/4) at ε = 8/255 was highest: 0.990 / 0.990 at 11 bins on
    /// ±0.0165, against 0.996 / 0.956 for 21 bins on ±0.105 (widths 0.003–0.005 on ranges of about ±0.014 to ±0.0275 all
    /// scored 0.983–0.990; ranges of ±0.05 and wider lost BIM to 0.94–0.97, whatever the width; the SQUARE 3×3 filter was
    /// worse everywhere). Why a narrow range works: BIM leaves many values below ε, whose residuals stay near zero; the
    /// residuals that FGSM and BIM push out of the range leave the histogram, which flattens what remains.</para>
    /// <para>Grey: an intensity map has far larger clean residuals (edges, texture) than a saturation map, and the
    /// narrow colour range lets them fall out of the histogram as well: on Fashion-MNIST (FGSM through classifier A,
    /// 400 training images) TPR at ε = 0.3 fell from 0.30 with ±0.105 to 0.15 with ±0.0165. So grey images keep 21 bins
    /// on ±0.105, chosen on random sign noise on CIFAR-10 images earlier (widths 0.002–0.01 gave AUC ≥ 0.999 for
    /// ±4/255…16/255; at width 0.01 the range mattered little), which detect MNIST's L∞ examples at ε ≥ 0.1 almost
    /// without error.</para>
    /// </summary>
    public int? HistogramBinCount { get; init; }

    /// <summary>
    /// The lower end of the histogram range; null (the default) takes the map's (<see cref="HistogramFor"/>: −0.0165
    /// for colour, −0.105 for grey). Residuals outside [minimum, maximum) are not counted: large noise then empties the
    /// histogram, which lowers the variance of Eq. 2 further, keeping the score monotone in the noise level (clamping
    /// them into the end bins would instead make heavy noise look peaked again).
    /// </summary>
    public double? HistogramMinimum { get; init; }

    /// <summary>
    /// The upper end of the histogram range; null (the default) takes the map's (<see cref="HistogramFor"/>: 0.0165 for
    /// colour, 0.105 for grey). The defaults are symmetric around 0 with an odd bin count, so the central bin holds the
    /// exact zeros of flat regions. Residuals beyond the range are dropped, so larger perturbations keep raising the
    /// score (see <see cref="HistogramMinimum"/>).
    /// </summary>
    public double? HistogramMaximum { get; init; }

    /// <summary>
    /// The histogram used for images of <paramref name="channels"/> channels: <see cref="HistogramBinCount"/>,
    /// <see cref="HistogramMinimum"/> and <see cref="HistogramMaximum"/> where set, else the defaults of the map — for
    /// colour images (the saturation map of Eq. 1) 11 bins on [−0.0165, 0.0165), for grey images (the image itself)
    /// 21 bins on [−0.105, 0.105).
    /// </summary>
    public (int BinCount, double Minimum, double Maximum) HistogramFor(int channels) => channels == 1
        ? (HistogramBinCount ?? 21, HistogramMinimum ?? -0.105, HistogramMaximum ?? 0.105)
        : (HistogramBinCount ?? 11, HistogramMinimum ?? -0.0165, HistogramMaximum ?? 0.0165);

    /// <summary>
    /// Fit (Sec. 5.3) perturbs each training image by independent uniform noise in [−a, a] per value (then clips to
    /// [0, 1]) to report how well the calibrated detector separates noisy images from clean ones. Default 8/255,
    /// the budget at which the paper's LP-Defense targets are stated. Set 0 to skip the noise report.
    /// </summary>
    public double NoiseAmplitude { get; init; } = 8.0 / 255;

    /// <summary>What to do with single-channel images (Eq. 1's map is zero for them). Default <see cref="SaecGreyscalePolicy.UseImage"/>.</summary>
    public SaecGreyscalePolicy GreyscalePolicy { get; init; } = SaecGreyscalePolicy.UseImage;

    /// <summary>The seed of the uniform noise of Fit; null draws one from the MLContext's seed.</summary>
    public int? Seed { get; init; }
}

using MLDefense.Defenses;

namespace MLDefense.Benchmarks;

/// <summary>One row of Table 1: an attack, a purification method, and the classifier's accuracy after it.</summary>
/// <param name="Dataset">The dataset.</param>
/// <param name="Attack">The attack (<c>FGSM</c>, <c>PGD</c>, <c>CW-L2</c>, <c>BPDA-PGD</c>).</param>
/// <param name="Method"><c>none</c>, <c>magnet</c>, <c>defensegan</c> or <c>aegan</c>.</param>
/// <param name="Accuracy">The classifier's accuracy on the purified adversarial examples.</param>
/// <param name="CleanAccuracy">Its accuracy on the purified clean images.</param>
/// <param name="UndefendedAccuracy">Its accuracy on the adversarial examples themselves.</param>
/// <param name="UndefendedCleanAccuracy">Its accuracy on the clean images themselves.</param>
/// <param name="MsPerImage">The method's wall time per image (clean and adversarial alike).</param>
/// <param name="SearchSteps">Gradient steps on ‖G(z) − x‖² per searched image: aegan L, defensegan R·L, others 0.</param>
/// <param name="SearchedFraction">The share of the method's inputs (clean and adversarial) that were searched.</param>
/// <param name="Images">The test images of the row.</param>
/// <param name="Target">
/// The accuracy this row is graded against, or null (<see cref="AeGanBenchmark.Target"/>): for AE-GAN+sr's white-box rows the
/// issue's bars (Table 1's white-box row), for its gray-box rows the paper's gray-box figures.
/// </param>
public sealed record AeGanBenchmarkRow(string Dataset, string Attack, string Method, double Accuracy, double CleanAccuracy, double UndefendedAccuracy,
                                       double UndefendedCleanAccuracy, double MsPerImage, int SearchSteps, double SearchedFraction, int Images, double? Target)
{
    /// <summary>Whether the accuracy reaches the target; null without one.</summary>
    public bool? MeetsTarget => Target is double t ? Accuracy >= t : null;

    /// <summary>
    /// The threat model (AE-GAN Sec. 3.1): <see cref="AeGanBenchmark.GrayBox"/> (default) — the attack is computed on classifier A
    /// alone — or <see cref="AeGanBenchmark.WhiteBox"/> — it differentiates through the defense (<see cref="AttackThrough"/>).
    /// </summary>
    public string Threat { get; init; } = AeGanBenchmark.GrayBox;

    /// <summary>
    /// What the attack differentiated: <c>classifier</c> (A alone, the gray-box rows), <c>reconstruction</c> (A∘G∘F),
    /// <c>search</c> (A after Alg. 2 with its L steps unrolled), <c>defensegan-search</c> (A after the Defense-GAN-style search,
    /// R·L steps unrolled), <c>bpda</c> (A after Alg. 2, the search's backward pass treated as the identity).
    /// </summary>
    public string AttackThrough { get; init; } = "classifier";

    /// <summary>The attack's own wall time per image (crafting the adversarial examples), or null where it was not timed (the curve's replayed attacks).</summary>
    public double? AttackMsPerImage { get; init; }
}

/// <summary>How well the reconstruction error separates FGSM's successful adversarial examples from their clean images.</summary>
/// <param name="Epsilon">FGSM's L∞ budget.</param>
/// <param name="Auc">The ROC AUC.</param>
/// <param name="TprAtFpr5Percent">The best TPR at FPR ≤ 5%.</param>
/// <param name="Tpr">The TPR at the calibrated threshold.</param>
/// <param name="Fpr">The FPR at the calibrated threshold (on the paired clean images).</param>
/// <param name="Pairs">Successful AEs (each paired with its clean image).</param>
public sealed record AeGanDetectionRow(double Epsilon, double Auc, double TprAtFpr5Percent, double Tpr, double Fpr, long Pairs);

/// <summary>
/// What the encoder-assisted search does to the distance it minimises, on the first test images: the mean per image of
/// ‖G(z_t) − x‖² (summed over the values) before each of the L steps and after the last, for clean images and for their
/// FGSM ε = 0.3 adversarial examples, with the purifier's step size.
/// </summary>
/// <param name="Images">Images traced.</param>
/// <param name="StepSize">η, the initial step size.</param>
/// <param name="Clean">L + 1 values for the clean images.</param>
/// <param name="Fgsm">L + 1 values for their FGSM ε = 0.3 AEs.</param>
public sealed record AeGanSearchTrace(int Images, double StepSize, IReadOnlyList<double> Clean, IReadOnlyList<double> Fgsm)
{
    /// <summary>The share of the clean images' distance the search removed: 1 − last / first.</summary>
    public double CleanReduction => 1 - Clean[^1] / Clean[0];

    /// <summary>The share of the AEs' distance the search removed.</summary>
    public double FgsmReduction => 1 - Fgsm[^1] / Fgsm[0];
}

/// <summary>
/// The cost of one search per searched image: AE-GAN+sr's (F, then L steps from F(x); timed on the search trace's clean
/// images and AEs, every image searched) against the Defense-GAN-style one (R·L steps from random starts; the mean
/// ms per image of its Table 1 rows, where every image is searched). A search's work does not depend on the image.
/// </summary>
/// <param name="AeGanImages">Images AE-GAN+sr's search was timed on.</param>
/// <param name="AeGanMsPerImage">AE-GAN+sr's search, per image.</param>
/// <param name="DefenseGanImages">Images the Defense-GAN-style search was timed on.</param>
/// <param name="DefenseGanMsPerImage">The Defense-GAN-style search, per image.</param>
public sealed record AeGanSearchCost(int AeGanImages, double AeGanMsPerImage, int DefenseGanImages, double DefenseGanMsPerImage)
{
    /// <summary>How many times cheaper AE-GAN+sr's search is.</summary>
    public double Speedup => DefenseGanMsPerImage / AeGanMsPerImage;
}

/// <summary>The outcome of one dataset of the benchmark.</summary>
/// <param name="Case">The case run.</param>
/// <param name="Classifier">The classifier's zip, or how it was trained for this run.</param>
/// <param name="ClassifierAccuracy">Its accuracy on the clean test images.</param>
/// <param name="ClassifierTrainSeconds">Seconds of its training (0 when loaded).</param>
/// <param name="PurifierOptions">The options AE-GAN was trained with (epochs, width w, λ, latent k...).</param>
/// <param name="PurifierTrainImages">AE-GAN's training images.</param>
/// <param name="PurifierTrainSeconds">Seconds of AE-GAN's Fit.</param>
/// <param name="PurifierLosses">AE-GAN's losses at the end of its last epoch.</param>
/// <param name="Calibration">What AE-GAN's Fit calibrated.</param>
/// <param name="CleanTestFlaggedFraction">The share of the clean test images the detector flags.</param>
/// <param name="SearchStepSize">η, the search's initial step size.</param>
/// <param name="Trace">What the search does to ‖G(z) − x‖².</param>
/// <param name="Cost">The search costs compared.</param>
/// <param name="Rows">Table 1: one gray-box row per attack and method, then the BPDA row, then the white-box rows (when asked).</param>
/// <param name="Detection">Detection by reconstruction error for FGSM ε = 0.1, 0.2, 0.3.</param>
public sealed record AeGanBenchmarkCaseResult(AeGanBenchmarkCase Case, string Classifier, double ClassifierAccuracy, double ClassifierTrainSeconds,
                                              AeGanOptions PurifierOptions, int PurifierTrainImages, double PurifierTrainSeconds,
                                              AeGanTrainingProgress? PurifierLosses, AeGanCalibration Calibration, double CleanTestFlaggedFraction,
                                              double SearchStepSize, AeGanSearchTrace Trace, AeGanSearchCost? Cost, IReadOnlyList<AeGanBenchmarkRow> Rows,
                                              IReadOnlyList<AeGanDetectionRow> Detection)
{
    /// <summary>Whether AE-GAN+sr's clean accuracy is within <see cref="AeGanBenchmark.CleanAccuracyTolerance"/> of the undefended classifier's (over the gray-box rows).</summary>
    public bool CleanAccuracyWithinTolerance => Rows.Where(r => r.Method == "aegan" && r.Threat == AeGanBenchmark.GrayBox)
        .All(r => r.UndefendedCleanAccuracy - r.CleanAccuracy <= AeGanBenchmark.CleanAccuracyTolerance + 1e-12);

    /// <summary>The purifier's learning curve (<see cref="AeGanBenchmarkOptions.CurveEpochs"/>), by epoch; empty without one.</summary>
    public IReadOnlyList<LearningCurvePoint<AeGanBenchmarkRow>> Curve { get; init; } = [];

    /// <summary>The purifier's zip (full path) when it was loaded, or null when it was trained for this run.</summary>
    public string? PurifierSource { get; init; }

    /// <summary>Classifier A's zip (full path) when it was loaded, or null when it was trained for this run.</summary>
    public string? ClassifierSource { get; init; }

    /// <summary>
    /// Whether AE-GAN+sr is at least as accurate as the Defense-GAN-style search on every gray-box attack, compared on the
    /// images both purified (<see cref="AeGanBenchmarkCase.DefenseGanImages"/>); null when the search did not run.
    /// </summary>
    public bool? AtLeastAsAccurateAsDefenseGan { get; init; }
}

/// <summary>The outcome of <see cref="AeGanBenchmark.Run"/>.</summary>
/// <param name="Threads">libtorch's intra-op threads.</param>
/// <param name="Device">Where it ran.</param>
/// <param name="TorchVersion">The libtorch version.</param>
/// <param name="Seed">The seed.</param>
/// <param name="CarliniWagnerSettings">CW-L2's settings, in words.</param>
/// <param name="TotalSeconds">Wall-clock seconds of the whole run.</param>
/// <param name="Cases">One result per dataset, in order.</param>
public sealed record AeGanBenchmarkResult(int Threads, string Device, string TorchVersion, int Seed, string CarliniWagnerSettings, double TotalSeconds,
                                          IReadOnlyList<AeGanBenchmarkCaseResult> Cases) : IBenchmarkRun
{
    /// <summary>Every case's Table 1 rows, in order.</summary>
    public IReadOnlyList<AeGanBenchmarkRow> Rows => Cases.SelectMany(c => c.Rows).ToList();
}

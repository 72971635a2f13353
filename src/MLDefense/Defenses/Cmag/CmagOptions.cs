using System.Text.Json.Serialization;

namespace MLDefense.Defenses;

/// <summary>Which rule turns CMAG's reconstruction errors into a flag.</summary>
public enum CmagDetectionRule
{
    /// <summary>
    /// The paper's (Alg. 2, Sec. 3.4): Thr_SSIM = the smallest SSIM(x, x′) and Thr_L2 = the largest ‖x − x′‖₂ over the clean
    /// images the reconstructors trained on; x is flagged when SSIM(x, x′) &lt; Thr_SSIM or ‖x − x′‖₂ &gt; Thr_L2. By construction it
    /// flags none of those training images, and an unknown share of new clean ones (<see cref="CmagModelInfo.PaperRuleCalibrationFalsePositiveRate"/>
    /// estimates it on held-out rows). The default, because the paper fixes it.
    /// </summary>
    PaperExtremes,

    /// <summary>
    /// The project's rule (DESIGN.md, "Defenses"): flag when <see cref="CmagTransformer"/>'s score exceeds a threshold calibrated on
    /// clean rows held out from training (<see cref="CmagOptions.CalibrationFraction"/>) to flag at most
    /// <see cref="CmagOptions.TargetFalsePositiveRate"/> of them.
    /// </summary>
    CalibratedFalsePositiveRate,
}

/// <summary>
/// Options of the CMAG detector (Han, Li, Xia, "A Cascade Model-Aware Generative Adversarial Example Detection Method",
/// Tsinghua Science and Technology 26(6), 2021, Sec. 3 and 4.1). See <see cref="CmagEstimator"/> for the equations and the
/// networks. Defaults are the paper's where it gives one (μ = 0.5, Adam 1e-3, batch 2000 for training and 200 for testing);
/// where it gives none the choice is marked.
/// </summary>
public sealed record CmagOptions
{
    /// <summary>The image column: Single vector [C, H, W] in [0, 1], as <c>ExtractPixels(..., scaleImage: 1f / 255)</c> makes. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; init; } = "Image";

    /// <summary>
    /// The target classifier's last convolutional feature map f_fm(x): a Single vector [C′, H′, W′], as MLDefense's image
    /// classifier emits it with <see cref="Classifiers.ImageClassifierOptions.FeatureMapColumnName"/>. Default <c>FeatureMap</c>.
    /// </summary>
    public string FeatureMapColumnName { get; init; } = "FeatureMap";

    /// <summary>The target classifier's softmax probabilities softmax(f(x)), a Single vector [K] (the classifier's <c>Score</c>). Default <c>Score</c>.</summary>
    public string ProbabilitiesColumnName { get; init; } = "Score";

    /// <summary>The output column SSIM(x, x′) (Single). Default <c>CmagSsim</c>.</summary>
    public string SsimColumnName { get; init; } = "CmagSsim";

    /// <summary>The output column ‖x − x′‖₂ (Single, Eq. 3). Default <c>CmagL2</c>.</summary>
    public string L2ColumnName { get; init; } = "CmagL2";

    /// <summary>The output score (Single, higher = more adversarial; see <see cref="CmagTransformer"/>). Default <c>CmagScore</c>.</summary>
    public string ScoreColumnName { get; init; } = "CmagScore";

    /// <summary>The output flag (Boolean). Default <c>CmagFlag</c>.</summary>
    public string FlagColumnName { get; init; } = "CmagFlag";

    /// <summary>
    /// When set, the transformer also emits GR's reconstruction x′ — "what the model sees" (Sec. 3.3) — under this name, an image
    /// column of the input's type (Single [C, H, W]). Default null (not emitted).
    /// </summary>
    public string? ReconstructionColumnName { get; init; }

    /// <summary>
    /// T of the distillation softmax (Eq. 5) LR reads: softmax(z/T), computed from the probabilities column as
    /// softmax(log p / T) (equal, since log softmax(z) differs from z by a constant per row). Default 1/1000, the value
    /// Sec. 3.2 uses: a small T makes the top class dominate (0.491 vs 0.490 becomes about 1 vs 0), which is what lets LR map
    /// a clean image and its adversarial example to the prototypes of their (different) predicted classes. Must be positive.
    /// </summary>
    public double Temperature { get; init; } = 1e-3;

    /// <summary>μ_fmr of Eq. 12: the weight of the squared-error term (1 − μ weighs 1 − SSIM). Default 0.5 (Sec. 4.1).</summary>
    public double FmrMu { get; init; } = 0.5;

    /// <summary>μ_lr of Eq. 13. Default 0.5 (Sec. 4.1).</summary>
    public double LrMu { get; init; } = 0.5;

    /// <summary>μ_gr of Eq. 14. Default 0.5 (Sec. 4.1).</summary>
    public double GrMu { get; init; } = 0.5;

    /// <summary>
    /// How SSIM gathers its statistics, in the losses (Eq. 12–14) and the detector (Alg. 2). Default <see cref="SsimWindow.Gaussian"/>:
    /// the SSIM index of the paper's Ref. [33] (Wang et al.), whose Sec. III.C takes Eq. 6–10's statistics under an 11×11 Gaussian
    /// window and averages the map — Eq. 6–10 restate those statistics without the window. <see cref="SsimWindow.Global"/> takes
    /// them over the whole image, as Eq. 6–8 print them; measured on a short training (the FGSM test of <c>CmagMLNetTests</c>, 12
    /// epochs per stage on 450 MNIST images, calibrated rule at 10% FPR), the global form flagged 42% of FGSM ε = 0.3 examples where
    /// the windowed one flagged 73%, at the same clean rate (15–16%): a whole-image mean and variance barely see sign noise spread
    /// over the background. The Gaussian window needs images of at least 11×11 (Fit says so otherwise).
    /// </summary>
    public SsimWindow SsimWindow { get; init; } = SsimWindow.Gaussian;

    /// <summary>Channels of FMR's convolutions (see <see cref="CmagEstimator"/>). Default 32 (the paper gives no layer tables).</summary>
    public int FmrChannels { get; init; } = 32;

    /// <summary>Units of LR's two hidden layers. Default 512 (the paper gives no layer tables).</summary>
    public int LrHiddenUnits { get; init; } = 512;

    /// <summary>Channels of GR's first convolution (its middle one has twice as many). Default 32 (the paper gives no layer tables).</summary>
    public int GrChannels { get; init; } = 32;

    /// <summary>Epochs of the first stage of Alg. 1 (FMR and LR, each on its own loss). Default 50 (the paper gives none).</summary>
    public int ReconstructorEpochs { get; init; } = 50;

    /// <summary>Epochs of the second stage (GR on h = FMR ⊗ LR with FMR and LR frozen, Alg. 1). Default 50 (the paper gives none).</summary>
    public int GlobalReconstructorEpochs { get; init; } = 50;

    /// <summary>Images per training step. Default 2000 (Sec. 4.1).</summary>
    public int BatchSize { get; init; } = 2000;

    /// <summary>Images per inference batch (Transform, and the thresholds' pass in Fit). Default 200 (Sec. 4.1's testing batch).</summary>
    public int InferenceBatchSize { get; init; } = 200;

    /// <summary>Adam's learning rate for FMR, LR and GR. Default 1e-3 (Sec. 4.1).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>The flag rule. Default <see cref="CmagDetectionRule.PaperExtremes"/> (Alg. 2).</summary>
    public CmagDetectionRule DetectionRule { get; init; } = CmagDetectionRule.PaperExtremes;

    /// <summary>
    /// With <see cref="CmagDetectionRule.CalibratedFalsePositiveRate"/>: the share of the held-out clean rows the threshold may flag.
    /// Default 0.01. Must be in [0, 1). (Both rules are computed and reported in <see cref="CmagModelInfo"/> whichever flags.)
    /// </summary>
    public double TargetFalsePositiveRate { get; init; } = 0.01;

    /// <summary>
    /// The share of Fit's rows held out before anything trains: the reconstructors never see them, the paper's thresholds are not
    /// taken on them, and the calibrated threshold is (and both rules' false-positive rates on new clean images are estimated on
    /// them). Default 0.1; drawn at random with the seed; at least one row. Must be in (0, 0.5].
    /// </summary>
    public double CalibrationFraction { get; init; } = 0.1;

    /// <summary>
    /// A file in which Fit keeps its training state at the end of every epoch of either stage — the three networks, their Adam
    /// states and the CPU random generator — and from which it resumes when the file exists, ending bit for bit where an
    /// uninterrupted Fit would (on the CPU). Fit refuses a checkpoint of another run, naming what differs, and deletes the file
    /// once fitted. Not saved with the model. Default null (no checkpoint).
    /// </summary>
    [JsonIgnore]
    public string? CheckpointPath { get; init; }

    /// <summary>The seed of initialisation, shuffling and the calibration split; null draws one from the context.</summary>
    public int? Seed { get; init; }

    /// <summary>Receives training progress (not saved). Default null.</summary>
    [JsonIgnore]
    public IProgress<CmagTrainingProgress>? Progress { get; init; }

    /// <summary>Stops Fit with <see cref="OperationCanceledException"/> (not saved).</summary>
    [JsonIgnore]
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>The stage of Alg. 1 a progress report belongs to.</summary>
public enum CmagTrainingStage
{
    /// <summary>FMR (Eq. 12) and LR (Eq. 13), each on its own loss, the classifier frozen.</summary>
    Reconstructors,
    /// <summary>GR (Eq. 14) on h = FMR(f_fm(x)) ⊗ LR(softmax(f(x)/T)), FMR and LR frozen.</summary>
    GlobalReconstructor,
}

/// <summary>A progress report of CMAG's Fit; losses are means over the epoch's batches so far (Eq. 12–14 with 1 − SSIM).</summary>
/// <param name="Stage">The stage of Alg. 1.</param>
/// <param name="Epoch">The current epoch of the stage, 1-based.</param>
/// <param name="Epochs">Epochs of the stage.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="BatchesPerEpoch">Batches per epoch.</param>
/// <param name="FmrLoss">Eq. 12 (first stage), else null.</param>
/// <param name="LrLoss">Eq. 13 (first stage), else null.</param>
/// <param name="GrLoss">Eq. 14 (second stage), else null.</param>
/// <param name="Elapsed">Time since Fit started training.</param>
/// <param name="EpochCompleted">True for the report at the end of an epoch.</param>
public sealed record CmagTrainingProgress(CmagTrainingStage Stage, int Epoch, int Epochs, int Batch, int BatchesPerEpoch,
    double? FmrLoss, double? LrLoss, double? GrLoss, TimeSpan Elapsed, bool EpochCompleted)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Stage} epoch {Epoch}/{Epochs} batch {Batch}/{BatchesPerEpoch}:" +
        (FmrLoss is { } f ? $" FMR loss {f:F4}" : "") + (LrLoss is { } l ? $", LR loss {l:F4}" : "") + (GrLoss is { } g ? $" GR loss {g:F4}" : "") +
        $", {Elapsed.TotalSeconds:F1} s elapsed";
}

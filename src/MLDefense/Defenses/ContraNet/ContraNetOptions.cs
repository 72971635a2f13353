using System.Text.Json.Serialization;

namespace MLDefense.Defenses;

/// <summary>Which triplets of Eq. 6 the metric model learns from in a batch (Sec. 4.2: "hard sample miner").</summary>
public enum ContraNetTripletMining
{
    /// <summary>
    /// Semi-hard triplets (Schroff et al., FaceNet, 2015): d(a, p) &lt; d(a, n) &lt; d(a, p) + margin — the authors' code mines these
    /// (pytorch-metric-learning's TripletMarginMiner, "semihard"). A batch with none falls back to every triplet with a positive loss.
    /// </summary>
    SemiHard,
    /// <summary>Hard triplets: d(a, n) ≤ d(a, p) (falls back as <see cref="SemiHard"/> does).</summary>
    Hard,
    /// <summary>Every valid triplet with a positive loss.</summary>
    All,
}

/// <summary>How ContraNet turns its measurements into a score and a flag.</summary>
public enum ContraNetDetectionRule
{
    /// <summary>
    /// Sec. 4's detector: score = d(M(x), M(x′)), the deep metric distance between the input and its reconstruction under the predicted
    /// label; flag = score &gt; a threshold calibrated on held-out clean rows to <see cref="ContraNetOptions.TargetFalsePositiveRate"/>.
    /// The default.
    /// </summary>
    MetricDistance,
    /// <summary>
    /// The authors' code's final detector adds sub-detectors, each dropping a share of benign images, and flags when any does. This rule
    /// combines the metric distance with SSIM(x, x′): each sub-detector has its own threshold at the target rate on the held-out rows,
    /// the score is max(d / t_d, (1 − SSIM) / t_s) and the flag is score &gt; 1 (either sub-detector fires). The authors' third
    /// sub-detector (a second discriminator on x − x′) is not built.
    /// </summary>
    MetricOrSsim,
}

/// <summary>
/// Options of ContraNet, the SP-defense layer of MixDefense (Yang et al., "MixDefense: A Defense-in-Depth Framework for Adversarial
/// Example Detection Based on Statistical and Semantic Analysis", Sec. 4, Fig. 3–4, Alg. 1, Eq. 3–6). See <see cref="ContraNetEstimator"/>
/// for the networks, the training and where it departs from the paper and the authors' code (cure-lab/ContraNet). Defaults are the
/// paper's or the authors' code's where one exists and is practical on a CPU; the widths are CPU-sized and say so.
/// </summary>
public sealed record ContraNetOptions
{
    /// <summary>The image column: Single vector [C, H, W] in [0, 1], as <c>ExtractPixels(..., scaleImage: 1f / 255)</c> makes. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; init; } = "Image";

    /// <summary>The true class, read by Fit only (the cGAN is conditioned on it, the triplets are built from it): a key (MapValueToKey) or Int32 0..K−1. Default <c>Label</c>.</summary>
    public string LabelColumnName { get; init; } = "Label";

    /// <summary>
    /// The target classifier's class probabilities (a Single vector [K], its <c>Score</c>): y′ = argmax is the label x′ is reconstructed
    /// under (Fig. 3, stage 1). Only the argmax is read — the classifier stays a black box, as the paper requires. Default <c>Score</c>.
    /// </summary>
    public string ScoreColumnName { get; init; } = "Score";

    /// <summary>The output score (Single, higher = more adversarial). Default <c>ContraNetScore</c>.</summary>
    public string OutputScoreColumnName { get; init; } = "ContraNetScore";

    /// <summary>The output flag (Boolean). Default <c>ContraNetFlag</c>.</summary>
    public string FlagColumnName { get; init; } = "ContraNetFlag";

    /// <summary>When set, the transformer also emits x′ = G(E(x), y′) under this name, an image column of the input's type. Default null (not emitted).</summary>
    public string? ReconstructionColumnName { get; init; }

    /// <summary>z's length. Default 80 (the authors' code: z_dim = 80).</summary>
    public int LatentSize { get; init; } = 80;

    /// <summary>
    /// The generator's (and encoder's) base width w: its blocks have 4w, 2w, w channels. Default 32 — CPU-sized; StudioGAN's CIFAR big
    /// ResNet the authors use has 96 (and self-attention, not built here).
    /// </summary>
    public int GeneratorWidth { get; init; } = 32;

    /// <summary>The discriminator's base width (blocks of w, 2w, 2w channels). Default 32 — CPU-sized (StudioGAN's: 96).</summary>
    public int DiscriminatorWidth { get; init; } = 32;

    /// <summary>The metric model's base width (w, 2w, 4w channels). Default 32 (a small CNN in place of the authors' MobileNetV2).</summary>
    public int MetricWidth { get; init; } = 32;

    /// <summary>The metric embedding's length. Default 12 (the authors' code: feature_num = 12).</summary>
    public int EmbeddingSize { get; init; } = 12;

    /// <summary>Epochs of Alg. 1 (passes over the training rows, one discriminator step per batch). Default 100 (the paper gives iterations only; the authors run 200k generator steps on a GPU).</summary>
    public int GanEpochs { get; init; } = 100;

    /// <summary>Discriminator steps per generator-and-encoder step (k of Alg. 1). Default 3 (the authors' code).</summary>
    public int DiscriminatorStepsPerGeneratorStep { get; init; } = 3;

    /// <summary>Images per cGAN step. Default 128 (the authors' code).</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Adam's learning rate for G, E and D. Default 2e-4 (the authors' code; β = (0.5, 0.999)).</summary>
    public double GanLearningRate { get; init; } = 2e-4;

    /// <summary>Weight of mean((x′ − x)²) in Dist (Alg. 1). Default 1 (the authors' code).</summary>
    public double L2Weight { get; init; } = 1;

    /// <summary>Weight of −log SSIM(x′, x) in Dist (Alg. 1). Default 5 (the authors' code).</summary>
    public double SsimWeight { get; init; } = 5;

    /// <summary>Weight of mean|x′ − x| in Dist. Default 0: the paper's Dist is "L2 and SSIM"; the authors' code adds this L1 term with weight 1.</summary>
    public double L1Weight { get; init; }

    /// <summary>
    /// Weight of the KL term of Eq. 3 in E's loss, ½·mean over the batch and the latent dimensions of σ² + μ² − 1 − log σ². Default 1
    /// (the authors' code). Alg. 1 prints the sum over the J latent dimensions without the ½, which is this term with weight 2·J.
    /// Measured on short CPU trainings (README, ContraNet): with weight 1 the generator ignores its label; 8 makes it start using it;
    /// 2·J = 64 starves z (held-out SSIM 0.27).
    /// </summary>
    public double KlWeight { get; init; } = 1;

    /// <summary>Weight of the adversarial term of Eq. 4 in G's loss. Default 1 (the authors' code).</summary>
    public double AdversarialWeight { get; init; } = 1;

    /// <summary>DiffAugment ("color,translation,cutout") on every image the discriminator sees. Default true (the authors' code).</summary>
    public bool DiffAugment { get; init; } = true;

    /// <summary>
    /// How SSIM gathers its statistics (in Dist, and in <see cref="ContraNetDetectionRule.MetricOrSsim"/>). Default
    /// <see cref="SsimWindow.Gaussian"/> (the 11×11 window of the authors' pytorch_ssim); images smaller than 11×11 need <see cref="SsimWindow.Global"/>.
    /// </summary>
    public SsimWindow SsimWindow { get; init; } = SsimWindow.Gaussian;

    /// <summary>Epochs of the metric model (Sec. 4.2), G and E frozen. Default 100 (the authors' code).</summary>
    public int MetricEpochs { get; init; } = 100;

    /// <summary>Anchors per metric step. Default 128.</summary>
    public int MetricBatchSize { get; init; } = 128;

    /// <summary>SGD's learning rate for the metric model. Default 0.06 (the authors' code).</summary>
    public double MetricLearningRate { get; init; } = 0.06;

    /// <summary>SGD's momentum for the metric model. Default 0.9.</summary>
    public double MetricMomentum { get; init; } = 0.9;

    /// <summary>The margin of Eq. 6. Default 0.7 (the authors' code).</summary>
    public double TripletMargin { get; init; } = 0.7;

    /// <summary>
    /// Negatives per anchor: reconstructions G(E(x), y) under that many wrong labels y ≠ y_true, drawn at random per anchor and epoch.
    /// Default null: all K − 1 ("all possible triplet combinations", Sec. 4.2). Must be in [1, K − 1] when set.
    /// </summary>
    public int? NegativesPerAnchor { get; init; }

    /// <summary>Which triplets the loss keeps. Default <see cref="ContraNetTripletMining.SemiHard"/> (the authors' miner).</summary>
    public ContraNetTripletMining TripletMining { get; init; } = ContraNetTripletMining.SemiHard;

    /// <summary>
    /// Fewer training images than this in some class fails Fit, naming the class: the generator must learn every class it may be
    /// conditioned on, and the triplet miner needs anchors of every class. Default 10. Must be ≥ 2.
    /// </summary>
    public int MinimumImagesPerClass { get; init; } = 10;

    /// <summary>The flag rule. Default <see cref="ContraNetDetectionRule.MetricDistance"/> (Sec. 4).</summary>
    public ContraNetDetectionRule DetectionRule { get; init; } = ContraNetDetectionRule.MetricDistance;

    /// <summary>
    /// The share of the held-out clean rows each sub-detector's threshold may flag. Default 0.05 — the authors drop 5% of benign images
    /// per sub-detector (12% cumulative over their three). Must be in [0, 1).
    /// </summary>
    public double TargetFalsePositiveRate { get; init; } = 0.05;

    /// <summary>
    /// The share of Fit's rows held out before anything trains; the thresholds are calibrated on them (with the classifier's predicted
    /// labels, as Transform sees clean images). Default 0.1; drawn at random with the seed; at least one row. Must be in (0, 0.5].
    /// </summary>
    public double CalibrationFraction { get; init; } = 0.1;

    /// <summary>Images per inference batch (Transform, calibration). Default 256.</summary>
    public int InferenceBatchSize { get; init; } = 256;

    /// <summary>
    /// A file in which Fit keeps its state at the end of every epoch of either stage — the four networks, their optimisers and the CPU
    /// random generator — and from which it resumes when the file exists, ending bit for bit where an uninterrupted Fit would (on the
    /// CPU). Fit refuses a checkpoint of another run, naming what differs, and deletes it once fitted. Not saved. Default null.
    /// </summary>
    [JsonIgnore]
    public string? CheckpointPath { get; init; }

    /// <summary>The seed of initialisation, sampling, augmentation, shuffling and the calibration split; null draws one from the context.</summary>
    public int? Seed { get; init; }

    /// <summary>Receives training progress (not saved).</summary>
    [JsonIgnore]
    public IProgress<ContraNetTrainingProgress>? Progress { get; init; }

    /// <summary>Stops Fit with <see cref="OperationCanceledException"/> (not saved).</summary>
    [JsonIgnore]
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>The stage of ContraNet's Fit a progress report belongs to.</summary>
public enum ContraNetTrainingStage
{
    /// <summary>Alg. 1: the revised cGAN (E, G, D).</summary>
    ConditionalGan,
    /// <summary>Sec. 4.2: the deep metric model on triplets, E and G frozen.</summary>
    MetricModel,
}

/// <summary>A progress report of ContraNet's Fit; losses are means over the epoch's steps so far.</summary>
/// <param name="Stage">The stage.</param>
/// <param name="Epoch">The current epoch of the stage, 1-based.</param>
/// <param name="Epochs">Epochs of the stage.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="BatchesPerEpoch">Batches per epoch.</param>
/// <param name="DiscriminatorLoss">Eq. 5 (hinge), cGAN stage.</param>
/// <param name="GeneratorLoss">The adversarial term of Eq. 4 (hinge), cGAN stage.</param>
/// <param name="DistanceLoss">Dist(G(E(x), y), x), cGAN stage.</param>
/// <param name="KlLoss">Eq. 3's KL term, cGAN stage.</param>
/// <param name="TripletLoss">Eq. 6 over the mined triplets, metric stage.</param>
/// <param name="Elapsed">Time since training started.</param>
/// <param name="EpochCompleted">True for the report at the end of an epoch.</param>
public sealed record ContraNetTrainingProgress(ContraNetTrainingStage Stage, int Epoch, int Epochs, int Batch, int BatchesPerEpoch,
    double? DiscriminatorLoss, double? GeneratorLoss, double? DistanceLoss, double? KlLoss, double? TripletLoss, TimeSpan Elapsed, bool EpochCompleted)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Stage} epoch {Epoch}/{Epochs} batch {Batch}/{BatchesPerEpoch}:" +
        (DiscriminatorLoss is { } d ? $" D {d:F4}" : "") + (GeneratorLoss is { } g ? $", G adv {g:F4}" : "") +
        (DistanceLoss is { } r ? $", Dist {r:F4}" : "") + (KlLoss is { } k ? $", KL {k:F4}" : "") + (TripletLoss is { } t ? $" triplet {t:F4}" : "") +
        $", {Elapsed.TotalSeconds:F1} s elapsed";
}

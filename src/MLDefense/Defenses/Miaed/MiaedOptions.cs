using System.Text.Json.Serialization;

namespace MLDefense.Defenses;

/// <summary>How MIAED turns the comparison of the two class distributions into a flag (Gao et al., Sec. 3.2).</summary>
public enum MiaedDetectionRule
{
    /// <summary>
    /// Flag when the divergence score exceeds the threshold calibrated on held-out clean training rows to
    /// <see cref="MiaedOptions.TargetFalsePositiveRate"/> (the default): the paper compares the two distributions.
    /// </summary>
    Divergence,

    /// <summary>
    /// Flag when the target model's and the simple network's most probable classes differ, as the official code does.
    /// The score column still carries the divergence (for ROC curves); the calibrated threshold is not used for the flag.
    /// </summary>
    ArgmaxMismatch,
}

/// <summary>
/// Options of the MIAED detector (Gao et al., "Detecting Adversarial Examples on Deep Neural Networks with Mutual
/// Information Neural Estimation", Sec. 3 and 4.1). See <see cref="MiaedEstimator"/> for the equations. Defaults are
/// the paper's (Sec. 4.1); where the paper gives no value the official code's is used and marked so.
/// </summary>
public sealed record MiaedOptions
{
    /// <summary>The image column: float vector [C, H, W] with an image shape, values in [0, 1]. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; init; } = "Image";

    /// <summary>The target model's softmax probabilities, float vector [K] (the image classifier's <c>Score</c>). Default <c>Score</c>.</summary>
    public string ProbabilitiesColumnName { get; init; } = "Score";

    /// <summary>The Int32 class label (Fit only: it trains the simple network). Default <c>Label</c>.</summary>
    public string LabelColumnName { get; init; } = "Label";

    /// <summary>The float score column added (higher = more adversarial). Default <c>MiaedScore</c>.</summary>
    public string ScoreColumnName { get; init; } = "MiaedScore";

    /// <summary>The boolean flag column added. Default <c>MiaedFlag</c>.</summary>
    public string FlagColumnName { get; init; } = "MiaedFlag";

    /// <summary>The number of classes K; null (default) takes the length of the probabilities column.</summary>
    public int? ClassCount { get; init; }

    /// <summary>The flag rule. Default <see cref="MiaedDetectionRule.Divergence"/>.</summary>
    public MiaedDetectionRule DetectionRule { get; init; } = MiaedDetectionRule.Divergence;

    /// <summary>
    /// The fraction of clean images the calibrated threshold may flag, measured on the calibration rows
    /// (<see cref="CalibrationFraction"/>). Default 0.02, i.e. a specificity of 0.98, the level MIAED's Table 7 results are
    /// held to. Must be in [0, 1).
    /// </summary>
    public double TargetFalsePositiveRate { get; init; } = 0.02;

    /// <summary>
    /// The share of the training rows held out, before anything trains, to calibrate the threshold on: neither the
    /// autoencoder nor the simple network sees them. Default 0.1. The rows are drawn at random with <see cref="Seed"/>;
    /// at least one is held out. Must be in (0, 0.5]. Why: calibrated on the rows it was trained on, the simple network
    /// agrees with the target model more often than on new data, and the false-positive rate on new clean data runs
    /// above the target; on held-out rows the calibration is an unbiased estimate of that rate.
    /// </summary>
    public double CalibrationFraction { get; init; } = 0.1;

    /// <summary>
    /// B, the channels of the encoder's first two 3×3 convolutions (the next two have 2B; the decoder mirrors them): Gao et
    /// al.'s Table 3, whose MNIST column has B = 16 and CIFAR-10 column B = 32. Null (default) takes Table 3's width for
    /// the image: 16 for single-channel images, 32 otherwise.
    /// </summary>
    public int? BaseChannels { get; init; }

    /// <summary>The latent size d. Default 64 (Sec. 3.1).</summary>
    public int LatentDimension { get; init; } = 64;

    /// <summary>The hidden width of the global, local and prior discriminators. Default 256 (Table 4: 256-256-1).</summary>
    public int DiscriminatorHiddenUnits { get; init; } = 256;

    /// <summary>Whether the global MI term (Eq. 9) is trained. Default true. All three switches off = the paper's "CAED" ablation.</summary>
    public bool UseGlobalMi { get; init; } = true;

    /// <summary>Whether the local MI term (Eq. 10) is trained. Default true.</summary>
    public bool UseLocalMi { get; init; } = true;

    /// <summary>Whether prior matching (Eq. 11) is trained. Default true.</summary>
    public bool UsePriorMatching { get; init; } = true;

    /// <summary>α, the weight of the global MI term in Eq. 12. Default 0.01 (Sec. 4.1).</summary>
    public double GlobalMiWeight { get; init; } = 0.01;

    /// <summary>β, the weight of the local MI term in Eq. 12. Default 0.01 (Sec. 4.1).</summary>
    public double LocalMiWeight { get; init; } = 0.01;

    /// <summary>γ, the weight of prior matching in Eq. 12. Default 0.001 (Sec. 4.1).</summary>
    public double PriorWeight { get; init; } = 0.001;

    /// <summary>ε, the weight of the reconstruction stream (Eq. 13) in Eq. 15. Default 1 (Sec. 4.1; the official code uses 10).</summary>
    public double ReconstructionWeight { get; init; } = 1;

    /// <summary>δ, the weight of the noisy-latent stream (Eq. 14) in Eq. 15. Default 1 (Sec. 4.1).</summary>
    public double NoiseReconstructionWeight { get; init; } = 1;

    /// <summary>σ of the Gaussian latent noise ξ of Eq. 14. Default 0.1 (the paper gives none; the official code's value).</summary>
    public double LatentNoiseStandardDeviation { get; init; } = 0.1;

    /// <summary>The standard deviation of the Gaussian prior N(0, σ²I) of Eq. 11. Default 1 (the paper gives none; the official code uses 5).</summary>
    public double PriorStandardDeviation { get; init; } = 1;

    /// <summary>λ, the weight of the WGAN-GP gradient penalty of the prior critic. Default 10 (Gulrajani et al.).</summary>
    public double GradientPenaltyWeight { get; init; } = GradientPenalty.DefaultWeight;

    /// <summary>Epochs of autoencoder training. Default 100 (Sec. 4.1).</summary>
    public int Epochs { get; init; } = 100;

    /// <summary>Images per step (autoencoder and simple network). Default 128 (Sec. 4.1).</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Adam's learning rate for every network. Default 1e-4 (Sec. 4.1).</summary>
    public double LearningRate { get; init; } = 1e-4;

    /// <summary>Adam's β₁. Default 0.5 (Sec. 4.1).</summary>
    public double AdamBeta1 { get; init; } = 0.5;

    /// <summary>Adam's β₂. Default 0.999 (Sec. 4.1).</summary>
    public double AdamBeta2 { get; init; } = 0.999;

    /// <summary>The simple network's hidden layers. Default [1024, 512] (Table 4).</summary>
    public int[] SimpleNetworkHiddenUnits { get; init; } = [1024, 512];

    /// <summary>The simple network's dropout probability. Default 0.5 (Table 4).</summary>
    public double SimpleNetworkDropout { get; init; } = 0.5;

    /// <summary>Epochs of simple-network training on the frozen latents. Default 20 (the paper gives none; the latents are precomputed, so epochs are cheap).</summary>
    public int SimpleNetworkEpochs { get; init; } = 20;

    /// <summary>Adam's learning rate for the simple network. Default 1e-3 (the paper gives none).</summary>
    public double SimpleNetworkLearningRate { get; init; } = 1e-3;

    /// <summary>
    /// Labelled images (the <see cref="ImageColumnName"/> and <see cref="LabelColumnName"/> columns, the training images'
    /// shape) on which the simple network's training is steered and stopped — the official code's model selection, which
    /// the paper does not describe. Given, the simple network trains for up to <see cref="SimpleNetworkEpochs"/> epochs;
    /// after each its cross-entropy on these images' latents (inference mode) is measured, Adam's learning rate is halved
    /// after <see cref="SelectionLearningRatePatience"/> epochs without an improvement of at least 10⁻⁴, training stops after
    /// <see cref="SelectionStoppingPatience"/> epochs without a new best, and the weights of the best epoch are kept (Keras'
    /// <c>ReduceLROnPlateau(factor 0.5, patience 3)</c> and <c>EarlyStopping(patience 20, restore_best_weights)</c>, as
    /// the official <c>train_classifier</c>, which runs up to 100 epochs). The official code selects on the FGSM examples
    /// of the MNIST <b>test</b> set, crafted on another classifier, with their true labels — adversarial examples (the paper's
    /// premise is that MIAED needs none) and the test set (a leak). Pass images that are neither test images nor Fit's own
    /// rows to measure what the selection does without the leak (<c>mldefense bench miaed --selection-fgsm</c>). Not saved
    /// with the model; <see cref="MiaedModelInfo.SimpleNetworkSelectedEpoch"/> records the epoch kept. Default null: the
    /// paper's reading, <see cref="SimpleNetworkEpochs"/> fixed epochs on clean latents.
    /// </summary>
    [JsonIgnore]
    public Microsoft.ML.IDataView? SimpleNetworkSelectionData { get; init; }

    /// <summary>With <see cref="SimpleNetworkSelectionData"/>: epochs without a new best selection loss after which the simple network stops (the official code's 20).</summary>
    public const int SelectionStoppingPatience = 20;

    /// <summary>With <see cref="SimpleNetworkSelectionData"/>: epochs without an improvement after which Adam's learning rate is halved (the official code's 3).</summary>
    public const int SelectionLearningRatePatience = 3;

    /// <summary>
    /// A file in which Fit keeps the MI dual autoencoder's training state at the end of every epoch — its networks, both
    /// optimisers, the random generators (the CPU's and, on a GPU, the device's) — and from which it resumes when the file
    /// exists: a Fit stopped by cancellation, a crash or a power cut goes on after its last completed autoencoder epoch and
    /// ends with the same detector, bit for bit, as an uninterrupted Fit (the simple network, minutes on frozen latents,
    /// is trained again). Fit refuses a checkpoint of another run (other settings, seed, device or training images), naming
    /// what differs, and deletes the file once it has fitted the detector (unless <see cref="KeepCheckpoint"/>). Not saved with the model. Default null: no
    /// checkpoint (the paper's 100 epochs on MNIST take hours on two CPU cores, see <c>bench engine</c>).
    /// </summary>
    [JsonIgnore]
    public string? CheckpointPath { get; init; }

    /// <summary>
    /// Whether Fit leaves its checkpoint (<see cref="CheckpointPath"/>) in place once it has fitted the model, instead of
    /// deleting it. Kept, a later Fit with more <see cref="Epochs"/> and otherwise the same settings, seed and data
    /// continues the training where this one ended, and ends where one uninterrupted Fit of as many epochs would: the
    /// epochs do not shape the steps (a constant Adam learning rate), so they are not among the settings a checkpoint must
    /// match. This is how accuracy against epochs is measured (<c>mldefense bench miaed --curve</c>). Not saved. Default false.
    /// </summary>
    [JsonIgnore]
    public bool KeepCheckpoint { get; init; }

    /// <summary>The seed of initialisation, shuffling, noise and prior samples; null draws one from the context.</summary>
    public int? Seed { get; init; }

    /// <summary>Receives training progress (not saved). Default null.</summary>
    [JsonIgnore]
    public IProgress<MiaedTrainingProgress>? Progress { get; init; }

    /// <summary>Stops Fit with <see cref="OperationCanceledException"/> (not saved).</summary>
    [JsonIgnore]
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>The stage of MIAED's Fit a progress report belongs to.</summary>
public enum MiaedTrainingStage
{
    /// <summary>The MI dual autoencoder (Eq. 15).</summary>
    Autoencoder,
    /// <summary>The simple network on the frozen latents (Sec. 3.2).</summary>
    SimpleNetwork,
}

/// <summary>
/// A progress report of MIAED's Fit. Loss terms are means over the epoch's batches so far; a term that is switched off
/// (an ablation) is null. MI values are the Jensen–Shannon estimates Î (higher = more information); the total is
/// Eq. 15 (minimised).
/// </summary>
/// <param name="Stage">Which network is training.</param>
/// <param name="Epoch">The current epoch, 1-based.</param>
/// <param name="Epochs">Epochs of this stage.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="BatchesPerEpoch">Batches per epoch.</param>
/// <param name="TotalLoss">Eq. 15 (autoencoder) or the cross-entropy (simple network).</param>
/// <param name="GlobalMi">Î of Eq. 9, or null.</param>
/// <param name="LocalMi">Î of Eq. 10, or null.</param>
/// <param name="PriorLoss">The encoder's prior-matching loss −E[D(E(x))] (Eq. 11), or null.</param>
/// <param name="CriticLoss">The prior critic's WGAN-GP loss, or null.</param>
/// <param name="Reconstruction">Eq. 13, or null for the simple network.</param>
/// <param name="NoiseReconstruction">Eq. 14, or null for the simple network.</param>
/// <param name="Accuracy">The simple network's training accuracy, or null for the autoencoder.</param>
/// <param name="Elapsed">Time since this stage started.</param>
/// <param name="EstimatedRemaining">The estimated time to the end of this stage.</param>
/// <param name="EpochCompleted">True for the report at the end of an epoch.</param>
/// <param name="SelectionLoss">The simple network's cross-entropy on the selection latents after this epoch (<see cref="MiaedOptions.SimpleNetworkSelectionData"/>), or null.</param>
public sealed record MiaedTrainingProgress(MiaedTrainingStage Stage, int Epoch, int Epochs, int Batch, int BatchesPerEpoch,
    double TotalLoss, double? GlobalMi, double? LocalMi, double? PriorLoss, double? CriticLoss, double? Reconstruction,
    double? NoiseReconstruction, double? Accuracy, TimeSpan Elapsed, TimeSpan EstimatedRemaining, bool EpochCompleted, double? SelectionLoss = null)
{
    /// <inheritdoc />
    public override string ToString()
    {
        static string Term(string name, double? value) => value is { } v ? $", {name} {v:F4}" : "";
        return $"{Stage} epoch {Epoch}/{Epochs} batch {Batch}/{BatchesPerEpoch}: loss {TotalLoss:F4}" +
            Term("global MI", GlobalMi) + Term("local MI", LocalMi) + Term("prior", PriorLoss) + Term("critic", CriticLoss) +
            Term("reconstruction", Reconstruction) + Term("noisy reconstruction", NoiseReconstruction) +
            (Accuracy is { } a ? $", accuracy {a:P2}" : "") + Term("selection loss", SelectionLoss) + $", {Elapsed.TotalSeconds:F1} s elapsed, ETA {EstimatedRemaining.TotalSeconds:F0} s";
    }
}

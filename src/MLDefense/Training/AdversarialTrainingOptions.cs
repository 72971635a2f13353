using MLDefense.Classifiers;

namespace MLDefense.Training;

/// <summary>The adversarial-training loss (Zhou et al., Table 1's baselines; each is also NAMID's L_adv in Eq. 9).</summary>
public enum AdversarialTrainingMethod
{
    /// <summary>
    /// Standard adversarial training (Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks",
    /// ICLR 2018, Eq. 2.1): the cross-entropy of the PGD examples x̃, which maximise the cross-entropy in the ε-ball.
    /// </summary>
    StandardAT,

    /// <summary>
    /// TRADES (Zhang et al., "Theoretically Principled Trade-off between Robustness and Accuracy", ICML 2019, Eq. 5):
    /// CE(f(x), y) + β·KL(f(x) ‖ f(x̃)), with x̃ found by PGD on the KL term itself (TRADES' Alg. 1, from
    /// x + 0.001·𝒩(0, I) as TRADES' code starts, since the KL's gradient vanishes at x̃ = x).
    /// </summary>
    Trades,

    /// <summary>
    /// MART (Wang et al., "Improving Adversarial Robustness Requires Revisiting Misclassified Examples", ICLR 2020,
    /// Eq. 10): BCE(f(x̃), y) + β·KL(f(x) ‖ f(x̃))·(1 − f_y(x)), where BCE = −log f_y(x̃) − log(1 − max_{k≠y} f_k(x̃)) is
    /// the boosted cross-entropy, and x̃ the cross-entropy PGD examples.
    /// </summary>
    Mart,
}

/// <summary>
/// Options of <see cref="AdversarialTrainingEstimator"/>: the classifier to train (as <see cref="ImageClassifierOptions"/>
/// names it), the PGD examples crafted every mini-batch, the loss, and the schedule. Defaults are Zhou et al.'s
/// defense settings (Sec. 4.1): PGD-10 with ε = 8/255 and step ε/4, SGD with momentum 0.9, weight decay 2×10⁻⁴,
/// batch 1024 and learning rate 0.1 divided by 10 at epochs 75 and 90, 100 epochs.
/// </summary>
/// <remarks>
/// The authors' code (dwDavidxd/MIAT, <c>train_MIAT.py</c>) departs from the text: it crafts with a step of 0.007 from
/// x + 0.001·𝒩(0, I) (its <c>--num-steps</c> says 10, while its evaluation hard-codes 40 steps of 0.007) and uses batch 256.
/// Those are reachable here through <see cref="Steps"/>, <see cref="StepSize"/>, <see cref="RandomStart"/> and
/// <see cref="BatchSize"/>; the defaults follow the paper's text.
/// </remarks>
public class AdversarialTrainingOptions
{
    /// <summary>The label column: a key (MapValueToKey) or Int32 classes 0..K−1. Default <c>Label</c>.</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The image column: Single [C, H, W] in [0, 1]. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; set; } = "Image";

    /// <summary>The probabilities column the trained classifier adds. Default <c>Score</c>.</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>The predicted-class column the trained classifier adds. Default <c>PredictedLabel</c>.</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>When set, the classifier also emits its last convolutional feature map under this name. Default null.</summary>
    public string? FeatureMapColumnName { get; set; }

    /// <summary>The built-in network. Default <see cref="ClassifierArchitecture.MnistC1"/> (the paper's ResNet-18 is not built in).</summary>
    public ClassifierArchitecture Architecture { get; set; } = ClassifierArchitecture.MnistC1;

    /// <summary>A custom network registered with <see cref="ImageClassifierEstimator.RegisterCustomModule"/> (saved by name). Default null.</summary>
    public string? CustomModuleName { get; set; }

    /// <summary>The number of classes K; null takes the label key's count, else the largest label + 1.</summary>
    public int? ClassCount { get; set; }

    /// <summary>The adversarial-training loss. Default <see cref="AdversarialTrainingMethod.StandardAT"/>.</summary>
    public AdversarialTrainingMethod Method { get; set; } = AdversarialTrainingMethod.StandardAT;

    /// <summary>The L∞ budget ε of the training examples, in (0, 1]. Default 8/255 (Sec. 4.1).</summary>
    public double Epsilon { get; set; } = 8.0 / 255;

    /// <summary>The PGD step size; null (default) takes ε/4 (Sec. 4.1). The authors' code uses 0.007.</summary>
    public double? StepSize { get; set; }

    /// <summary>PGD steps per training example. Default 10 (PGD-10, Sec. 4.1). Must be ≥ 1.</summary>
    public int Steps { get; set; } = 10;

    /// <summary>
    /// Whether the cross-entropy PGD starts from a uniform point of the ε-ball (Madry et al.). Default true. TRADES' KL
    /// attack always starts from x + 0.001·𝒩(0, I), as TRADES' code does.
    /// </summary>
    public bool RandomStart { get; set; } = true;

    /// <summary>β, the weight of TRADES' and MART's KL terms. Default 6 (the value both papers use on CIFAR-10). Must be ≥ 0.</summary>
    public double Beta { get; set; } = 6.0;

    /// <summary>Passes over the training data. Default 100 (Sec. 4.1). Must be ≥ 1.</summary>
    public int Epochs { get; set; } = 100;

    /// <summary>Images per step. Default 1024 (Sec. 4.1; the authors' code uses 256). Must be ≥ 1.</summary>
    public int BatchSize { get; set; } = 1024;

    /// <summary>SGD's initial learning rate. Default 0.1. Must be positive.</summary>
    public double LearningRate { get; set; } = 0.1;

    /// <summary>SGD momentum. Default 0.9. Must be in [0, 1).</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>Weight decay (SGD's <c>weight_decay</c>). Default 2×10⁻⁴. Must be ≥ 0.</summary>
    public double WeightDecay { get; set; } = 2e-4;

    /// <summary>
    /// The epochs after which the learning rate is multiplied by <see cref="LearningRateGamma"/> (PyTorch's MultiStepLR).
    /// Default [75, 90] (Sec. 4.1). Each must be ≥ 1.
    /// </summary>
    public int[] LearningRateMilestones { get; set; } = [75, 90];

    /// <summary>The factor applied at each milestone. Default 0.1. Must be positive.</summary>
    public double LearningRateGamma { get; set; } = 0.1;

    /// <summary>The seed of initialisation, shuffling and the attacks' random starts; null = drawn from the context.</summary>
    public int? Seed { get; set; }

    /// <summary>
    /// Receives progress during each epoch and at its end: <see cref="ClassifierTrainingProgress.Loss"/> is the method's
    /// whole loss (with NAMID's α·L_mi), <see cref="ClassifierTrainingProgress.TrainAccuracy"/> the accuracy on the
    /// adversarial training examples. Default null.
    /// </summary>
    public IProgress<ClassifierTrainingProgress>? Progress { get; set; }

    /// <summary>Stops training (Fit throws <see cref="OperationCanceledException"/> and frees what it built).</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>
    /// A file for the state at the end of every epoch: a Fit stopped by cancellation or a crash resumes after the last
    /// completed epoch and ends bit for bit as an uninterrupted one (on the CPU). Deleted when Fit completes. Default null.
    /// </summary>
    public string? CheckpointPath { get; set; }

    /// <summary>The option-type name that starts error messages.</summary>
    private protected virtual string OptionsName => nameof(AdversarialTrainingOptions);

    internal string Name => OptionsName;

    /// <summary>Checks every option; throws <see cref="ArgumentOutOfRangeException"/> naming it.</summary>
    internal virtual void Check()
    {
        var rules = new Defenses.OptionRules(OptionsName);
        rules.Require(Enum.IsDefined(Method), nameof(Method), Method, "must be StandardAT, Trades or Mart");
        rules.Require(Epsilon > 0 && Epsilon <= 1, nameof(Epsilon), Epsilon, "must be in (0, 1] (pixels are in [0, 1])");
        rules.Require(StepSize is null || (StepSize > 0 && double.IsFinite(StepSize.Value)), nameof(StepSize), StepSize, "must be positive (or null for ε/4)");
        rules.Require(Steps >= 1, nameof(Steps), Steps, "must be at least 1");
        rules.Require(Beta >= 0 && double.IsFinite(Beta), nameof(Beta), Beta, "must be ≥ 0");
        rules.Require(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        rules.Require(BatchSize >= 2, nameof(BatchSize), BatchSize, "must be at least 2");
        rules.Require(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be positive");
        rules.Require(Momentum is >= 0 and < 1, nameof(Momentum), Momentum, "must be in [0, 1)");
        rules.Require(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must be ≥ 0");
        rules.Require(LearningRateMilestones is not null && LearningRateMilestones.All(m => m >= 1), nameof(LearningRateMilestones),
            LearningRateMilestones is null ? null : string.Join(", ", LearningRateMilestones), "must be epochs ≥ 1");
        rules.Require(LearningRateGamma > 0, nameof(LearningRateGamma), LearningRateGamma, "must be positive");
        rules.Require(ClassCount is null or >= 2, nameof(ClassCount), ClassCount, "must be at least 2");
        rules.Require(CheckpointPath is null || !string.IsNullOrWhiteSpace(CheckpointPath), nameof(CheckpointPath), CheckpointPath, "must be a file path (or null for no checkpoint)");
    }

    /// <summary>The PGD step size used: <see cref="StepSize"/>, or ε/4.</summary>
    public double Step => StepSize ?? Epsilon / 4;

    /// <summary>The image-classifier options that build, read and wrap the network (its own loop is replaced).</summary>
    internal ImageClassifierOptions ClassifierOptions(int seed) => new()
    {
        LabelColumnName = LabelColumnName, ImageColumnName = ImageColumnName, ScoreColumnName = ScoreColumnName,
        PredictedLabelColumnName = PredictedLabelColumnName, FeatureMapColumnName = FeatureMapColumnName,
        Architecture = Architecture, CustomModuleName = CustomModuleName, ClassCount = ClassCount, Seed = seed,
        CancellationToken = CancellationToken,
    };

    /// <summary>The learning rate of a 1-based epoch: the initial rate times γ per milestone already passed (MultiStepLR).</summary>
    public double LearningRateAt(int epoch) =>
        LearningRate * Math.Pow(LearningRateGamma, LearningRateMilestones.Count(m => m < epoch));
}

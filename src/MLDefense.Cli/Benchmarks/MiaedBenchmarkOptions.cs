using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Defenses;
using MLDefense.Evaluation;
using MLDefense.Classifiers;

namespace MLDefense.Benchmarks;

/// <summary>One dataset of the MIAED benchmark: the target classifier, the attacks' budget, and how much data to use.</summary>
/// <param name="Dataset">A name of <see cref="KnownDatasets.Names"/>.</param>
/// <param name="Architecture">The target classifier.</param>
/// <param name="Epsilon">The L∞ budget of FGSM, BIM, PGD and MIM, in [0, 1] pixel units.</param>
/// <param name="ClassifierEpochs">Passes of classifier training when no trained model is given; null = the architecture's default.</param>
/// <param name="TrainImages">The first this-many training images (the classifier, when trained here, and MIAED); null = all.</param>
/// <param name="TestImages">The first this-many test images, evaluated under the protocol; null = all.</param>
public sealed record MiaedBenchmarkCase(string Dataset, ClassifierArchitecture Architecture, double Epsilon, int? ClassifierEpochs = null,
                                        int? TrainImages = null, int? TestImages = null)
{
    /// <summary><c>dataset/architecture</c> (e.g. <c>mnist/c1</c>).</summary>
    public string Key => $"{Dataset}/{ClassifierTraining.ShortName(Architecture)}";
}

/// <summary>A detector variant of MIAED's ablation (Table 10): which of Eq. 12's three terms are trained.</summary>
/// <param name="Name">The variant's name in the rows (<c>full</c>, <c>caed</c>, <c>caed+global-mi</c>, ...).</param>
/// <param name="GlobalMi">Whether the global MI term (Eq. 9) is trained.</param>
/// <param name="LocalMi">Whether the local MI term (Eq. 10) is trained.</param>
/// <param name="PriorMatching">Whether prior matching (Eq. 11) is trained.</param>
public sealed record MiaedVariant(string Name, bool GlobalMi, bool LocalMi, bool PriorMatching)
{
    /// <summary>Every term on: the full MIAED.</summary>
    public static MiaedVariant Full { get; } = new("full", true, true, true);

    /// <summary>Every term off: the plain dual autoencoder, the paper's "CAED".</summary>
    public static MiaedVariant Caed { get; } = new("caed", false, false, false);

    /// <summary>CAED plus the global MI term only.</summary>
    public static MiaedVariant CaedGlobalMi { get; } = new("caed+global-mi", true, false, false);

    /// <summary>CAED plus the local MI term only.</summary>
    public static MiaedVariant CaedLocalMi { get; } = new("caed+local-mi", false, true, false);

    /// <summary>CAED plus prior matching only.</summary>
    public static MiaedVariant CaedPrior { get; } = new("caed+prior", false, false, true);

    /// <summary>The options of this variant: <paramref name="template"/> with the three switches set.</summary>
    public MiaedOptions Apply(MiaedOptions template) =>
        template with { UseGlobalMi = GlobalMi, UseLocalMi = LocalMi, UsePriorMatching = PriorMatching };
}

/// <summary>Settings of <see cref="MiaedBenchmark.Run"/>; <see cref="Full"/> and <see cref="Quick"/> are the CLI's presets.</summary>
public sealed record MiaedBenchmarkOptions
{
    /// <summary>The datasets, run in order. Default: <see cref="MiaedBenchmark.FullCases"/>.</summary>
    public IReadOnlyList<MiaedBenchmarkCase> Cases { get; init; } = MiaedBenchmark.FullCases;

    /// <summary>
    /// The detector's settings for every case and variant (the benchmark sets the seed, the ablation switches, progress
    /// and cancellation). Default: <see cref="MiaedOptions"/>' defaults, the paper's (Sec. 4.1).
    /// </summary>
    public MiaedOptions Detector { get; init; } = new();

    /// <summary>
    /// The variants besides the full model that the ablation (Table 10) fits and evaluates against FGSM on
    /// <see cref="AblationDataset"/>; the full model's row is the main run's. Default: CAED and CAED with each term alone.
    /// Empty: no ablation.
    /// </summary>
    public IReadOnlyList<MiaedVariant> AblationVariants { get; init; } =
        [MiaedVariant.Caed, MiaedVariant.CaedGlobalMi, MiaedVariant.CaedLocalMi, MiaedVariant.CaedPrior];

    /// <summary>The dataset the ablation runs on (when it is among the cases). Default <c>mnist</c> (Table 10).</summary>
    public string AblationDataset { get; init; } = KnownDatasets.Mnist;

    /// <summary>Iterations of BIM, PGD and MIM. Default 50 (the official code's).</summary>
    public int Iterations { get; init; } = 50;

    /// <summary>CW-L2's budget. Default <see cref="CarliniWagnerBudget.Full"/>, as <c>bench attacks</c>.</summary>
    public CarliniWagnerBudget CarliniWagner { get; init; } = CarliniWagnerBudget.Full;

    /// <summary>Trained classifiers by case key (<see cref="MiaedBenchmarkCase.Key"/>): model zips from <c>mldefense train-classifier</c>; cases without one train theirs.</summary>
    public IReadOnlyDictionary<string, string> ModelPaths { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Second classifiers by case key: model zips from <c>mldefense train-classifier</c>, trained apart from the target model
    /// (another architecture or seed). Each adds the baseline row <see cref="MiaedBenchmark.SecondOpinionVariant"/> to every
    /// attack: flag an image where the target model's and the second classifier's most probable classes differ — MIAED's
    /// argmax rule with an independent classifier in place of the simple network on the MI-trained latent. On the same kept
    /// images it measures what MIAED's latent adds over any second model: how often a transferred adversarial example fools
    /// an independent network into the target model's wrong class. Default: none.
    /// </summary>
    public IReadOnlyDictionary<string, string> SecondOpinionPaths { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Classifiers by case key whose FGSM examples (the case's ε, true labels) select the full model's simple network
    /// (<see cref="MiaedOptions.SimpleNetworkSelectionData"/>: the official code's early stopping and learning-rate halving,
    /// up to the detector's <see cref="MiaedOptions.SimpleNetworkEpochs"/>). The official code crafts them on another
    /// classifier from the <b>test</b> set; here they come from the <see cref="SelectionImages"/> training images that
    /// follow the case's first <see cref="MiaedBenchmarkCase.TrainImages"/> — images neither MIAED nor the evaluation
    /// uses — so the selection is measured without the test-set leak. The classifier may be the target model itself or
    /// another. The ablation's variants are not selected (Table 10 compares the autoencoders). Default: none (the paper's
    /// fixed simple-network epochs).
    /// </summary>
    public IReadOnlyDictionary<string, string> SelectionFgsmPaths { get; init; } = new Dictionary<string, string>();

    /// <summary>How many training images after the case's own give the selection's FGSM examples (<see cref="SelectionFgsmPaths"/>). Default 10 000 (the official code selects on the 10,000 MNIST test images).</summary>
    public int SelectionImages { get; init; } = 10_000;

    /// <summary>
    /// A folder of fitted detectors, one zip per case and variant (<see cref="MiaedBenchmark.DetectorFileName"/>, e.g.
    /// <c>miaed-mnist-full.zip</c>): a detector whose zip is there is loaded instead of fitted, any other is fitted and
    /// saved there (the folder is created). So a long training (the paper's 100 epochs) is kept, an interrupted run
    /// resumes — with the detectors already fitted, and inside the one that was training, after its last completed epoch
    /// (a <c>miaed-DATASET-VARIANT.checkpoint</c> kept there while it trains, <see cref="MiaedOptions.CheckpointPath"/>) —
    /// and the protocol can be rerun on the same detectors. A loaded detector keeps the settings it was fitted
    /// with (its <see cref="MiaedTransformer.Options"/>, reported per detector), not <see cref="Detector"/>'s. Null
    /// (default): every detector is fitted and nothing is saved.
    /// </summary>
    public string? DetectorDirectory { get; init; }

    /// <summary>
    /// The autoencoder epochs at which the full model is probed on its way to the detector's <see cref="MiaedOptions.Epochs"/>
    /// (a learning curve: accuracy under each attack against epochs). At each, the full model is fitted to that many epochs —
    /// continuing the previous probe's training through its kept checkpoint (<see cref="MiaedOptions.KeepCheckpoint"/>), so the
    /// curve costs one training plus a calibration and an evaluation per probe — and evaluated against every attack on the first
    /// <see cref="CurveTestImages"/> test images; the final detector is probed too. The probes are kept in
    /// <c>miaed-DATASET-full.curve.json</c> in <see cref="DetectorDirectory"/> (required), so an interrupted run does not
    /// repeat them. Empty (default): no curve.
    /// </summary>
    public IReadOnlyList<int> CurveEpochs { get; init; } = [];

    /// <summary>The first this-many test images each probe of the curve is evaluated on. Default 1 000.</summary>
    public int CurveTestImages { get; init; } = 1000;

    /// <summary>Images per attack and scoring batch. Default 256.</summary>
    public int BatchSize { get; init; } = ProtocolSupport.DefaultBatchSize;

    /// <summary>The dataset root (see <see cref="KnownDatasets.Resolve"/>); null searches the default places.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The seed of training, of the noisy set, of PGD's random start and of everything random. Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Where everything runs. Default <see cref="ComputeDevice.Auto"/>.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    /// <summary>
    /// The full run: <see cref="MiaedBenchmark.FullCases"/>, MIAED with the paper's settings (100 epochs), the full ablation.
    /// Days on a CPU; meant for a GPU.
    /// </summary>
    public static MiaedBenchmarkOptions Full => new();

    /// <summary>
    /// The quick run, sized for about 10–15 minutes on two CPU cores (with a trained C1 given): MNIST with C1 only (<see cref="MiaedBenchmark.QuickCases"/>),
    /// MIAED shortened, with a narrower simple network (<see cref="MiaedBenchmark.QuickDetector"/>), the ablation reduced to the full model
    /// against CAED, CW-L2 with <see cref="CarliniWagnerBudget.Quick"/>.
    /// </summary>
    public static MiaedBenchmarkOptions Quick => new()
    {
        Cases = MiaedBenchmark.QuickCases,
        Detector = MiaedBenchmark.QuickDetector,
        AblationVariants = [MiaedVariant.Caed],
        CarliniWagner = CarliniWagnerBudget.Quick,
    };

    internal void Validate()
    {
        if (Cases.Count == 0) throw new ArgumentException("The benchmark has no cases to run.");
        foreach (var c in Cases)
        {
            if (ClassifierTraining.Incompatibility(c.Dataset, c.Architecture) is { } why) throw new ArgumentException($"Benchmark case {c.Key}: {why}");
            if (!(c.Epsilon > 0 && c.Epsilon <= 1)) throw new ArgumentOutOfRangeException(nameof(Cases), c.Epsilon, $"Benchmark case {c.Key}: ε must be in (0, 1].");
            if (c.TrainImages is < MiaedEstimator.MinimumTrainingImages)
                throw new ArgumentOutOfRangeException(nameof(Cases), c.TrainImages, $"Benchmark case {c.Key}: MIAED needs at least {MiaedEstimator.MinimumTrainingImages} training images.");
            if (c.TestImages is < 1) throw new ArgumentOutOfRangeException(nameof(Cases), c.TestImages, $"Benchmark case {c.Key}: TestImages must be at least 1.");
            if (c.ClassifierEpochs is < 1) throw new ArgumentOutOfRangeException(nameof(Cases), c.ClassifierEpochs, $"Benchmark case {c.Key}: ClassifierEpochs must be at least 1.");
        }
        if (Cases.Select(c => c.Key).Distinct().Count() != Cases.Count) throw new ArgumentException("The benchmark lists a case twice.");
        foreach (var key in ModelPaths.Keys)
            if (!Cases.Any(c => c.Key == key))
                throw new ArgumentException($"A classifier is given for {key}, which is not among the cases run ({string.Join(", ", Cases.Select(c => c.Key))}).");
        foreach (var (key, path) in ModelPaths)
            if (!File.Exists(path)) throw new FileNotFoundException($"The classifier for {key}, {path}, does not exist.", path);
        foreach (var (key, path) in SecondOpinionPaths)
        {
            if (!Cases.Any(c => c.Key == key))
                throw new ArgumentException($"A second classifier is given for {key}, which is not among the cases run ({string.Join(", ", Cases.Select(c => c.Key))}).");
            if (!File.Exists(path)) throw new FileNotFoundException($"The second classifier for {key}, {path}, does not exist.", path);
        }
        foreach (var (key, path) in SelectionFgsmPaths)
        {
            var c = Cases.FirstOrDefault(c => c.Key == key)
                ?? throw new ArgumentException($"A selection classifier is given for {key}, which is not among the cases run ({string.Join(", ", Cases.Select(c => c.Key))}).");
            if (!File.Exists(path)) throw new FileNotFoundException($"The selection classifier for {key}, {path}, does not exist.", path);
            if (c.TrainImages is null)
                throw new ArgumentException($"Benchmark case {key} trains on all training images, so none are left to select the simple network on: give it fewer training images (--train-images).");
        }
        if (SelectionImages < 1) throw new ArgumentOutOfRangeException(nameof(SelectionImages), SelectionImages, "SelectionImages must be at least 1.");
        if (AblationVariants.Select(v => v.Name).Append(MiaedVariant.Full.Name).Distinct().Count() != AblationVariants.Count + 1)
            throw new ArgumentException("The ablation variants need distinct names other than 'full'.");
        if (DetectorDirectory is { } folder && File.Exists(folder)) throw new ArgumentException($"The detector folder {folder} is a file.");
        if (LearningCurves.Problem(CurveEpochs, Detector.Epochs, DetectorDirectory, CurveTestImages, nameof(DetectorDirectory)) is { } curve)
            throw new ArgumentException($"{nameof(CurveEpochs)}: {curve}");
        if (Iterations < 1) throw new ArgumentOutOfRangeException(nameof(Iterations), Iterations, "Iterations must be at least 1.");
        CarliniWagner.Validate();
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        MiaedEstimator.CheckOptions(Detector);
    }
}

/// <summary>Where <see cref="MiaedBenchmark.Run"/> stands.</summary>
/// <param name="CaseIndex">The 0-based index of the running case.</param>
/// <param name="CaseCount">The number of cases.</param>
/// <param name="Case">The running case.</param>
/// <param name="Stage">What runs: <c>load</c>, <c>classifier</c>, <c>miaed</c> (or <c>miaed caed</c>, ... in the ablation), or an attack's name.</param>
/// <param name="Detail">More about the stage (epoch and loss, images done), or empty.</param>
/// <param name="Fraction">The share of the stage done, in [0, 1].</param>
public sealed record MiaedBenchmarkProgress(int CaseIndex, int CaseCount, MiaedBenchmarkCase Case, string Stage, string Detail, double Fraction);

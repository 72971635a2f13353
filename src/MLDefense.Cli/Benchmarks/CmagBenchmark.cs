using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLDefense.Attacks;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Defenses;
using MLDefense.Evaluation;

namespace MLDefense.Benchmarks;

/// <summary>One dataset of the CMAG benchmark.</summary>
/// <param name="Dataset"><c>mnist</c>, <c>fashion-mnist</c> or <c>gtsrb-subset</c> (served at 32×32).</param>
/// <param name="Architecture">The target classifier (C1 for the 28×28 datasets, C2 for GTSRB's 3×32×32).</param>
/// <param name="TrainImages">Training images (classifier and CMAG; CMAG holds out 10% of them for calibration); null = all.</param>
/// <param name="TestImages">Test images attacked (and the held-out clean test images of the clean FPR); null = all.</param>
/// <param name="ClassifierEpochs">Classifier epochs; null = the architecture's default.</param>
/// <param name="CmagEpochs">Epochs of each stage of Alg. 1; null = CMAG's default (50).</param>
/// <param name="CmagBatchSize">CMAG's training batch; null = the paper's 2000.</param>
/// <param name="BaselineEpochs">Epochs of the autoencoder MagNet and Defense-GAN share (AE-GAN's F and G, <see cref="AeGanEstimator"/>); null = AE-GAN's 60.</param>
/// <param name="BaselineWidth">Its base channel width; null = AE-GAN's 64.</param>
/// <param name="BaselineLearningRate">Its Adam learning rate; null = AE-GAN's 2e-4.</param>
/// <param name="BaselineBatchSize">Its minibatch; null = AE-GAN's 100.</param>
/// <param name="DefenseGanRestarts">R, the Defense-GAN search's random starts; null = Defense-GAN's 10.</param>
/// <param name="DefenseGanIterations">L, its gradient steps; null = Defense-GAN's 200.</param>
/// <param name="DefenseGanTestImages">Defense-GAN scores the first this-many test images (clean and attacked); null = all of them.</param>
/// <param name="DefenseGanThresholdImages">
/// Defense-GAN's Alg. 2 thresholds come from the first this-many of the training rows (its calibrated threshold from all the held-out rows);
/// null = all of them.
/// </param>
public sealed record CmagBenchmarkCase(string Dataset, ClassifierArchitecture Architecture, int? TrainImages = null, int? TestImages = null,
    int? ClassifierEpochs = null, int? CmagEpochs = null, int? CmagBatchSize = null, int? BaselineEpochs = null, int? BaselineWidth = null,
    double? BaselineLearningRate = null, int? BaselineBatchSize = null, int? DefenseGanRestarts = null, int? DefenseGanIterations = null,
    int? DefenseGanTestImages = null, int? DefenseGanThresholdImages = null);

/// <summary>Settings of <see cref="CmagBenchmark.Run"/>.</summary>
public sealed record CmagBenchmarkOptions
{
    /// <summary>The datasets, in order. Default <see cref="CmagBenchmark.FullCases"/>.</summary>
    public IReadOnlyList<CmagBenchmarkCase> Cases { get; init; } = CmagBenchmark.FullCases;
    /// <summary>The dataset root; null searches the default places.</summary>
    public string? DataDirectory { get; init; }
    /// <summary>The seed of everything random. Default 1.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Where everything runs. Default <see cref="ComputeDevice.Auto"/>.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;
    /// <summary>FGSM's λ (L∞ budgets, Tables 3–5). Default 0.1, 0.2, 0.3.</summary>
    public IReadOnlyList<double> FgsmIntensities { get; init; } = [0.1, 0.2, 0.3];
    /// <summary>CW-L2's confidences κ (Tables 3–5). Default 9, 19, 29.</summary>
    public IReadOnlyList<double> CwConfidences { get; init; } = [9, 19, 29];
    /// <summary>CW-L2's search budget (its κ comes from <see cref="CwConfidences"/>). Default <see cref="CmagBenchmark.FullCwBudget"/>.</summary>
    public CarliniWagnerBudget CwBudget { get; init; } = CmagBenchmark.FullCwBudget;
    /// <summary>
    /// The weights w of the defense-aware PGD (<see cref="CmagBenchmark.AdaptivePgd"/>): it ascends CE(f(x), y) − w·s(x), s CMAG's score.
    /// Default 1 and 10. Empty: no adaptive attack.
    /// </summary>
    public IReadOnlyList<double> AdaptiveWeights { get; init; } = [1, 10];
    /// <summary>The adaptive PGD's L∞ budget. Default 0.3 (FGSM's largest λ).</summary>
    public double AdaptiveEpsilon { get; init; } = 0.3;
    /// <summary>The adaptive PGD's steps (of ε/10 each, from the clean image). Default 20.</summary>
    public int AdaptiveSteps { get; init; } = 20;
    /// <summary>CW-L2's Adam learning rate. Default 0.01 (Carlini and Wagner's).</summary>
    public double CwLearningRate { get; init; } = 0.01;
    /// <summary>Images per attack batch. Default 200 (Sec. 4.1's testing batch).</summary>
    public int AttackBatchSize { get; init; } = 200;
    /// <summary>
    /// The paper's comparisons run beside CMAG on the same examples (<see cref="CmagBenchmark.AvailableBaselines"/>: <c>magnet</c>,
    /// <c>defensegan</c>). Default both; empty: CMAG alone.
    /// </summary>
    public IReadOnlyList<string> Baselines { get; init; } = CmagBenchmark.AvailableBaselines;
    /// <summary>Test images shown in each case's image grid (<see cref="CmagBenchmarkCaseResult.Examples"/>). Default 8; 0: no grid.</summary>
    public int ExampleImages { get; init; } = 8;
}

/// <summary>Where <see cref="CmagBenchmark.Run"/> stands.</summary>
/// <param name="Case">The running case.</param>
/// <param name="Stage">load, classifier, cmag, clean, or the attack and intensity.</param>
/// <param name="Detail">More about the stage, or empty.</param>
/// <param name="Fraction">The share of the stage done.</param>
public sealed record CmagBenchmarkProgress(CmagBenchmarkCase Case, string Stage, string Detail, double Fraction);

/// <summary>
/// One row of Tables 3–7 for one rule: detection on the balanced pairs (each successful adversarial example with its clean image).
/// </summary>
/// <param name="Dataset">The dataset.</param>
/// <param name="Attack"><c>FGSM</c> or <c>CW-L2</c>.</param>
/// <param name="Intensity">λ or κ.</param>
/// <param name="Method"><c>cmag</c>, <c>magnet</c> or <c>defensegan</c> (see <see cref="CmagBenchmark"/>'s remarks).</param>
/// <param name="Rule"><c>paper</c> (Alg. 2's training-set extremes) or <c>calibrated</c> (the target-FPR threshold on held-out clean rows).</param>
/// <param name="DetectionAccuracy">Accuracy on the balanced pairs.</param>
/// <param name="Tpr">The share of the successful adversarial examples flagged (what Tables 3–5 call detection accuracy, read on adversarial examples only).</param>
/// <param name="Fpr">The share of their clean images flagged.</param>
/// <param name="Auc">AUC of the score on the pairs.</param>
/// <param name="MeanSsim">Mean SSIM(x, x′) of the adversarial examples (Table 6).</param>
/// <param name="MeanL2">Mean ‖x − x′‖₂ of the adversarial examples (Table 7).</param>
/// <param name="Pairs">Successful adversarial examples.</param>
/// <param name="Attacked">Test images attacked.</param>
public sealed record CmagBenchmarkRow(string Dataset, string Attack, double Intensity, string Method, string Rule, double DetectionAccuracy, double Tpr,
    double Fpr, double Auc, double MeanSsim, double MeanL2, int Pairs, int Attacked);

/// <summary>The clean false-positive rate on all the test images (the paper does not report it), with Table 6–7's clean means.</summary>
/// <param name="Dataset">The dataset.</param>
/// <param name="Method"><c>cmag</c>, <c>magnet</c> or <c>defensegan</c>.</param>
/// <param name="Rule">As in <see cref="CmagBenchmarkRow"/>.</param>
/// <param name="CleanFpr">The share of the clean test images flagged.</param>
/// <param name="MeanSsim">Mean SSIM(x, x′) of the clean test images.</param>
/// <param name="MeanL2">Mean ‖x − x′‖₂ of the clean test images (Table 7's "legitimate").</param>
/// <param name="Images">Clean test images.</param>
public sealed record CmagCleanRow(string Dataset, string Method, string Rule, double CleanFpr, double MeanSsim, double MeanL2, int Images);

/// <summary>
/// A baseline detector of one case, as fitted: the reconstruction-error thresholds CMAG's rules give it (Alg. 2 on its training
/// reconstructions, and the target-FPR threshold on the held-out rows CMAG holds out), and what it cost.
/// </summary>
/// <param name="Method"><c>magnet</c> or <c>defensegan</c>.</param>
/// <param name="Settings">How it was configured, in words.</param>
/// <param name="SsimThreshold">Thr_SSIM: the smallest SSIM(x, x′) over <paramref name="ThresholdImages"/> training rows.</param>
/// <param name="L2Threshold">Thr_L2: the largest ‖x − x′‖₂ over them.</param>
/// <param name="CalibratedThreshold">The score threshold flagging at most the target share of the held-out rows.</param>
/// <param name="ThresholdImages">Training rows reconstructed for Alg. 2's thresholds.</param>
/// <param name="CalibrationImages">Held-out rows reconstructed for the calibrated threshold.</param>
/// <param name="PaperRuleHeldOutFpr">The share of the held-out rows Alg. 2's rule flags.</param>
/// <param name="CalibratedRuleHeldOutFpr">The share of the held-out rows the calibrated rule flags.</param>
/// <param name="TrainingMeanSsim">Mean SSIM(x, x′) of those training rows.</param>
/// <param name="TrainingMeanL2">Mean ‖x − x′‖₂ of those training rows.</param>
/// <param name="TestImagesScored">Test images it scores (the first ones; attacked ones of the same indices).</param>
/// <param name="TrainSeconds">Training the autoencoder (shared by both baselines), wall clock.</param>
/// <param name="ThresholdSeconds">Reconstructing the training and held-out rows for the thresholds, wall clock.</param>
public sealed record CmagBaselineResult(string Method, string Settings, float SsimThreshold, float L2Threshold, float CalibratedThreshold,
    int ThresholdImages, int CalibrationImages, double PaperRuleHeldOutFpr, double CalibratedRuleHeldOutFpr, double TrainingMeanSsim,
    double TrainingMeanL2, int TestImagesScored, double TrainSeconds, double ThresholdSeconds);

/// <summary>
/// A few test images of one case with what each method reconstructs from them — "what the model sees" (Sec. 3.3, Fig. 3): rows
/// of the clean images, then CMAG's x′ and the baselines' reconstructions of them, then the same for an FGSM and a CW-L2 attack.
/// </summary>
/// <param name="Shape">The image shape.</param>
/// <param name="TestIndices">The test images shown (attacked successfully by both attacks where enough were).</param>
/// <param name="RowNames">What each row shows, top to bottom.</param>
/// <param name="Rows">The images of each row, CHW floats in [0, 1].</param>
public sealed record CmagExamples(ImageShape Shape, IReadOnlyList<int> TestIndices, IReadOnlyList<string> RowNames, IReadOnlyList<IReadOnlyList<float[]>> Rows);

/// <summary>One case's outcome.</summary>
/// <param name="Case">The case.</param>
/// <param name="TrainImages">Training images read.</param>
/// <param name="TestImages">Test images read.</param>
/// <param name="ClassifierAccuracy">Clean test accuracy of the classifier.</param>
/// <param name="ClassifierSeconds">Classifier training, wall clock.</param>
/// <param name="CmagSeconds">CMAG's Fit, wall clock.</param>
/// <param name="ReconstructorEpochSeconds">Mean seconds of a first-stage epoch (FMR and LR).</param>
/// <param name="GlobalReconstructorEpochSeconds">Mean seconds of a second-stage epoch (GR).</param>
/// <param name="CmagEpochs">Epochs of each stage.</param>
/// <param name="CmagBatchSize">CMAG's training batch.</param>
/// <param name="Info">What CMAG's Fit recorded (both rules' thresholds and held-out rates).</param>
/// <param name="Rows">Detection rows.</param>
/// <param name="CleanRows">Clean FPR rows.</param>
/// <param name="Baselines">The baselines' thresholds and costs (empty when none ran).</param>
/// <param name="Examples">The image grid's images, or null (<see cref="CmagBenchmarkOptions.ExampleImages"/> = 0).</param>
public sealed record CmagBenchmarkCaseResult(CmagBenchmarkCase Case, int TrainImages, int TestImages, double ClassifierAccuracy, double ClassifierSeconds,
    double CmagSeconds, double ReconstructorEpochSeconds, double GlobalReconstructorEpochSeconds, int CmagEpochs, int CmagBatchSize, CmagModelInfo Info,
    IReadOnlyList<CmagBenchmarkRow> Rows, IReadOnlyList<CmagCleanRow> CleanRows, IReadOnlyList<CmagBaselineResult> Baselines, CmagExamples? Examples);

/// <summary>The outcome of <see cref="CmagBenchmark.Run"/>.</summary>
public sealed record CmagBenchmarkResult(int Threads, string Device, string TorchVersion, int Seed, double TotalSeconds, string CwBudget,
    IReadOnlyList<CmagBenchmarkCaseResult> Cases) : IBenchmarkRun;

/// <summary>
/// Issue 25's CMAG benchmark (Han, Li, Xia, Sec. 4, Tables 3–7): the target classifier and CMAG (through ML.NET: the classifier's
/// FeatureMap and Score columns feed <c>ml.Transforms.Defenses.Cmag</c>) fitted on clean training images, then FGSM at λ ∈ {0.1, 0.2, 0.3}
/// and CW-L2 at κ ∈ {9, 19, 29} on the test images; detection is measured on balanced pairs (each successful adversarial example with
/// its clean image), under Alg. 2's rule and under the calibrated rule, and the clean false-positive rate on all the test images — for
/// CMAG and, on the same examples, for the paper's comparisons MagNet and Defense-GAN.
/// </summary>
/// <remarks>
/// <para><b>The baselines</b> (Tables 3–5's MagNet and Defense GAN) are the AE-GAN issue's implementations, one autoencoder for both:
/// AE-GAN's encoder F and decoder G (<see cref="AeGanEstimator"/> with its search off) fitted on the same clean training rows CMAG
/// trains on — the rows CMAG holds out (<see cref="CmagOptions.CalibrationFraction"/>, the same seeded split) are held out here too.
/// <c>magnet</c> reconstructs x′ = G(F(x)) (MagNet's reconstruction, Meng and Chen 2017, with AE-GAN's networks: MagNet's own
/// autoencoders are smaller and trained without the GAN term). <c>defensegan</c> reconstructs x′ = G(z*), z* the best of R random starts
/// after L steps of gradient descent on ‖G(z) − x‖² (<see cref="AeGanTransformer.DefenseGanSearch"/>: Defense-GAN's R = 10, L = 200 and
/// step schedule, on the same G). Both are scored exactly as CMAG is — SSIM(x, x′) and ‖x − x′‖₂, Alg. 2's thresholds (the smallest SSIM
/// and the largest L2 over training reconstructions), the score max((1 − SSIM)/(1 − Thr_SSIM), L2/Thr_L2) and its threshold calibrated to
/// 1% of the held-out rows — so each row compares the reconstructors under one detector; the CMAG paper describes MagNet's detector as
/// the L2 reconstruction error, which the score contains. Defense-GAN's search costs R·L generator steps per image, so a case may limit it
/// to the first test images (<see cref="CmagBenchmarkCase.DefenseGanTestImages"/>; its rows then pair only those) and Alg. 2's thresholds
/// to the first training rows (<see cref="CmagBenchmarkCase.DefenseGanThresholdImages"/>). The defense-aware PGD rows are CMAG's only
/// (that attack is aimed at CMAG's score).</para>
/// <para>Besides the paper's attacks, the issue's defense-aware attack runs (<see cref="AdaptivePgd"/>, rows <c>PGD-adaptive</c> whose intensity is
/// the weight w of CMAG's score in its loss). CW-L2's κ is the margin on logits its objective asks for; an image counts as attacked
/// successfully when its prediction changes (the protocol's rule), whatever margin the search reached. Each case also keeps a few test
/// images with every method's reconstruction of them, clean and attacked (<see cref="CmagExamples"/>), for the report's image grid.</para>
/// </remarks>
public static class CmagBenchmark
{
    /// <summary>
    /// CW-L2's budget in the full run: 5 binary-search steps × 1 000 iterations (<see cref="CarliniWagnerBudget.Full"/>'s) from c = 100 rather
    /// than 1: the confidences 9–29 ask for a logit margin that a small c does not buy within the budget. Measured on 40 MNIST test images,
    /// 1 step × 500 iterations: against C1 trained 2 epochs on 1,000 images, c = 1 and c = 10 reached κ = 9 on none or few images and
    /// c = 100 on 18 of 40, none at κ 19 or 29; against C1 trained 10 epochs on 3,000 images (larger logits), c = 100 succeeded on 36, 36
    /// and 32 of 40 at κ 9, 19, 29.
    /// </summary>
    public static CarliniWagnerBudget FullCwBudget { get; } = new(5, 1_000, 100);

    /// <summary>CW-L2's budget in the quick run: 1 step × 500 iterations from c = 100 (see <see cref="FullCwBudget"/>).</summary>
    public static CarliniWagnerBudget QuickCwBudget { get; } = new(1, 500, 100);

    /// <summary>The target detection accuracy on every cell (Tables 3–5: the paper reports 1.00).</summary>
    public const double TargetAccuracy = 0.99;

    /// <summary>The paper's comparisons this benchmark can run beside CMAG: <c>magnet</c> and <c>defensegan</c>.</summary>
    public static IReadOnlyList<string> AvailableBaselines { get; } = ["magnet", "defensegan"];

    /// <summary>
    /// The paper's datasets at full size, with the paper's CMAG settings; the baselines' autoencoder with AE-GAN's (60 epochs, width 64,
    /// Adam 2e-4, batch 100), Defense-GAN's search with its own R = 10, L = 200 on the first 1,000 test images, its Alg. 2 thresholds from
    /// the first 5,000 training rows (every row would cost 54,000 × 2,000 generator steps). Sized for a GPU.
    /// </summary>
    public static IReadOnlyList<CmagBenchmarkCase> FullCases { get; } =
    [
        new("mnist", ClassifierArchitecture.MnistC1, DefenseGanTestImages: 1_000, DefenseGanThresholdImages: 5_000),
        new("fashion-mnist", ClassifierArchitecture.MnistC1, DefenseGanTestImages: 1_000, DefenseGanThresholdImages: 5_000),
        new(GtsrbDatasetCatalog.FolderName, ClassifierArchitecture.CifarC2, DefenseGanTestImages: 1_000, DefenseGanThresholdImages: 5_000),
    ];

    /// <summary>
    /// The quick run's default: MNIST only, 5,000 training and 200 test images, C1 for its 10 epochs (CW-L2's high confidences need its logits),
    /// 20 CMAG epochs per stage at batch 100 (the paper's batch of 2000 would give 3 steps an epoch on 4,500 images); the baselines'
    /// autoencoder 4 epochs at width 16 (Adam 1e-3, batch 50, as <c>bench mixdefense --quick</c>'s MagNet), Defense-GAN's search with
    /// R = 2, L = 25 (settings within those Defense-GAN itself tried) on the first 100 test images, its Alg. 2 thresholds from the first
    /// 500 training rows. The other datasets' quick versions are in <see cref="QuickPresets"/>.
    /// </summary>
    public static IReadOnlyList<CmagBenchmarkCase> QuickCases { get; } = [QuickVersion(FullCases[0])];

    /// <summary>
    /// Every dataset of <see cref="FullCases"/> shortened as <see cref="QuickCases"/>' MNIST (the same sizes, epochs and baseline settings;
    /// the GTSRB subset keeps C2), for <c>bench cmag --quick --only DATASET</c>.
    /// </summary>
    public static IReadOnlyList<CmagBenchmarkCase> QuickPresets { get; } = [.. FullCases.Select(QuickVersion)];

    private static CmagBenchmarkCase QuickVersion(CmagBenchmarkCase full) => full with
    {
        TrainImages = 5000, TestImages = 200, ClassifierEpochs = 10, CmagEpochs = 20, CmagBatchSize = 100, BaselineEpochs = 4, BaselineWidth = 16,
        BaselineLearningRate = 1e-3, BaselineBatchSize = 50, DefenseGanRestarts = 2, DefenseGanIterations = 25, DefenseGanTestImages = 100,
        DefenseGanThresholdImages = 500,
    };

    private static string N(int? value, string otherwise) => value?.ToString(CultureInfo.InvariantCulture) ?? otherwise;

    /// <summary>What a set of cases shortens, in words.</summary>
    public static string Describe(IEnumerable<CmagBenchmarkCase> cases) => string.Join("; ", cases.Select(c =>
        $"{c.Dataset}: {N(c.TrainImages, "all")} train / {N(c.TestImages, "all")} test images, " +
        $"classifier {N(c.ClassifierEpochs, "default")} epochs, CMAG {N(c.CmagEpochs, "50")} + {N(c.CmagEpochs, "50")} epochs at batch {N(c.CmagBatchSize, "2000")}, " +
        $"MagNet/Defense-GAN autoencoder {N(c.BaselineEpochs, "60")} epochs at width {N(c.BaselineWidth, "64")}, " +
        $"Defense-GAN R {N(c.DefenseGanRestarts, "10")} x L {N(c.DefenseGanIterations, "200")} on {N(c.DefenseGanTestImages, "all")} test images " +
        $"(Alg. 2 thresholds from {N(c.DefenseGanThresholdImages, "all")} training rows)"));

    /// <summary>Whether a row meets the target (≥ 0.99 detection accuracy on the pairs).</summary>
    public static bool MeetsTarget(CmagBenchmarkRow row) => row.DetectionAccuracy >= TargetAccuracy;

    /// <summary>Runs the cases in order.</summary>
    /// <exception cref="ArgumentException">An unknown baseline, or a negative example count.</exception>
    public static CmagBenchmarkResult Run(CmagBenchmarkOptions options, IProgress<CmagBenchmarkProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.CwBudget.Validate();
        var unknown = options.Baselines.Where(b => !AvailableBaselines.Contains(b)).ToArray();
        if (unknown.Length > 0)
            throw new ArgumentException($"Baselines: {string.Join(", ", unknown)} is not one of {string.Join(", ", AvailableBaselines)}.", nameof(options));
        if (options.ExampleImages < 0) throw new ArgumentOutOfRangeException(nameof(options), options.ExampleImages, "ExampleImages must be ≥ 0.");
        var clock = Stopwatch.StartNew();
        var results = options.Cases.Select(c => RunCase(c, options, progress, cancellationToken)).ToList();
        return new CmagBenchmarkResult(Runtime.Threads, Runtime.DeviceName(options.Device), Runtime.TorchVersion, options.Seed, clock.Elapsed.TotalSeconds,
            options.CwBudget.Describe().Replace(", κ 0", "").Replace("lr 0.01", $"lr {options.CwLearningRate.ToString(CultureInfo.InvariantCulture)}"), results);
    }

    private static IDataView Load(MLContext ml, string dataset, bool train, string? directory) =>
        dataset == GtsrbDatasetCatalog.FolderName
            ? ml.Data.LoadGtsrbSubset(train, directory is null ? null : Path.Combine(directory, GtsrbDatasetCatalog.FolderName))
            : ml.Data.LoadKnownDataset(dataset, train, directory);

    /// <summary>A detector under test: how it reconstructs images, its Alg. 2 thresholds and calibrated threshold, and how many test images it scores.</summary>
    private sealed record Detector(string Method, Func<Tensor, Tensor> Reconstruct, float SsimThreshold, float L2Threshold, double CalibratedThreshold, int Scored);

    private static CmagBenchmarkCaseResult RunCase(CmagBenchmarkCase c, CmagBenchmarkOptions options, IProgress<CmagBenchmarkProgress>? progress, CancellationToken token)
    {
        void Report(string stage, string detail, double fraction) => progress?.Report(new(c, stage, detail, fraction));
        var ml = Runtime.CreateMLContext(options.Seed, options.Device);
        Report("load", "", 0);
        // Shuffled with the seed before taking a subset: GTSRB's files are ordered by class.
        IDataView Take(bool train, int? count)
        {
            var view = Load(ml, c.Dataset, train, options.DataDirectory);
            return count is { } n ? ml.Data.TakeRows(ml.Data.ShuffleRows(view, options.Seed), n) : view;
        }
        var train = ml.Data.Cache(Take(true, c.TrainImages));
        var test = ml.Data.Cache(Take(false, c.TestImages));

        var watch = Stopwatch.StartNew();
        using var classifier = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            Architecture = c.Architecture, Epochs = c.ClassifierEpochs, Seed = options.Seed, FeatureMapColumnName = "FeatureMap",
            Progress = new InlineProgress<ClassifierTrainingProgress>(p => Report("classifier", p.ToString(), (p.Epoch - 1 + p.Batch / (double)p.BatchesPerEpoch) / p.Epochs)),
            CancellationToken = token,
        }).Fit(train);
        double classifierSeconds = watch.Elapsed.TotalSeconds;

        var cmagDefaults = new CmagOptions();
        int epochs = c.CmagEpochs ?? cmagDefaults.ReconstructorEpochs;
        int batch = c.CmagBatchSize ?? cmagDefaults.BatchSize;
        var epochEnds = new List<(CmagTrainingStage Stage, double Seconds)>();
        watch.Restart();
        using var cmag = ml.Transforms.Defenses.Cmag(new CmagOptions
        {
            ReconstructorEpochs = epochs, GlobalReconstructorEpochs = epochs, BatchSize = batch, Seed = options.Seed, CancellationToken = token,
            Progress = new InlineProgress<CmagTrainingProgress>(p =>
            {
                if (p.EpochCompleted) epochEnds.Add((p.Stage, p.Elapsed.TotalSeconds));
                int done = (p.Stage == CmagTrainingStage.GlobalReconstructor ? epochs : 0) + p.Epoch - 1;
                Report("cmag", p.ToString(), (done + p.Batch / (double)p.BatchesPerEpoch) / (2.0 * epochs));
            }),
        }).Fit(classifier.Transform(train));
        double cmagSeconds = watch.Elapsed.TotalSeconds;
        var firstStage = epochEnds.Where(e => e.Stage == CmagTrainingStage.Reconstructors).Select(e => e.Seconds).ToList();
        var secondStage = epochEnds.Where(e => e.Stage == CmagTrainingStage.GlobalReconstructor).Select(e => e.Seconds).ToList();
        double firstEpoch = firstStage.Count > 0 ? firstStage[^1] / firstStage.Count : double.NaN;
        double secondEpoch = secondStage.Count > 0 ? (secondStage[^1] - (firstStage.Count > 0 ? firstStage[^1] : 0)) / secondStage.Count : double.NaN;

        // The test images as tensors on the classifier's device: the attacks work there.
        var (pixels, labels) = ReadImages(test, token);
        var shape = classifier.InputShape;
        int n = labels.Length;
        using var images = torch.tensor(pixels, [n, shape.Channels, shape.Height, shape.Width], device: classifier.Device);
        using var labelTensor = torch.tensor(Array.ConvertAll(labels, l => (long)l), [n], device: classifier.Device);

        using var disposables = new Disposables();
        var (detectors, baselineResults) = FitBaselines(ml, c, options, train, n, shape, cmag.Options.SsimWindow, classifier.Device, disposables, Report, token);

        Report("clean", "", 0);
        var clean = Evaluate(classifier, cmag, images, options.AttackBatchSize);
        double accuracy = Enumerable.Range(0, n).Count(i => clean.Predictions[i] == labels[i]) / (double)n;
        var rules = new[] { ("paper", 1.0), ("calibrated", (double)cmag.Info.CalibratedThreshold) };
        var cleanScores = clean.Measurement.Scores;
        var cleanRows = rules.Select(r => new CmagCleanRow(c.Dataset, "cmag", r.Item1, ThresholdCalibration.FlaggedFraction(cleanScores, r.Item2),
            clean.Measurement.Ssim.Average(), clean.Measurement.L2.Average(), n)).ToList();
        var cleanBaseline = new Dictionary<string, BaselineMeasurement>();
        foreach (var d in detectors)
        {
            Report("clean", $"{d.Method} on {d.Scored} images", 0);
            var m = MeasureBaseline(d, images, options.AttackBatchSize, cmag.Options.SsimWindow);
            cleanBaseline[d.Method] = m;
            foreach (var (rule, threshold) in new[] { ("paper", 1.0), ("calibrated", d.CalibratedThreshold) })
                cleanRows.Add(new CmagCleanRow(c.Dataset, d.Method, rule, ThresholdCalibration.FlaggedFraction(m.Scores, threshold), m.Ssim.Average(), m.L2.Average(), d.Scored));
        }

        var rows = new List<CmagBenchmarkRow>();
        var attacks = options.FgsmIntensities.Select(l => ("FGSM", l, (IAdversarialAttack)new FastGradientAttack(new FastGradientOptions { Epsilon = l })))
            .Concat(options.CwConfidences.Select(k => ("CW-L2", k, (IAdversarialAttack)new CarliniWagnerL2Attack(new CarliniWagnerL2Options
            {
                Confidence = k, BinarySearchSteps = options.CwBudget.BinarySearchSteps, MaxIterations = options.CwBudget.Iterations,
                InitialConstant = options.CwBudget.InitialConstant, LearningRate = options.CwLearningRate,
            })))).ToList();
        var generators = attacks.Select(a => (a.Item1, a.Item2, (Func<Tensor, Tensor, Tensor>)((x, y) => a.Item3.Generate(classifier, x, y, token))))
            .Concat(options.AdaptiveWeights.Select(w => ("PGD-adaptive", w, (Func<Tensor, Tensor, Tensor>)((x, y) =>
                AdaptivePgd(classifier, cmag, x, y, options.AdaptiveEpsilon, options.AdaptiveSteps, w, token))))).ToList();
        // The image grid shows the strongest FGSM and the middle CW-L2 confidence (Fig. 2's λ 0.3 and κ 19 with the paper's settings).
        var shown = new List<(string Attack, double Intensity)>();
        if (options.FgsmIntensities.Count > 0) shown.Add(("FGSM", options.FgsmIntensities.Max()));
        if (options.CwConfidences.Count > 0) shown.Add(("CW-L2", options.CwConfidences.Order().ElementAt(options.CwConfidences.Count / 2)));
        var kept = new Dictionary<(string, double), (float[] Pixels, int[] Predictions)>();
        foreach (var (name, intensity, generate) in generators)
        {
            string stage = $"{name} {intensity.ToString(CultureInfo.InvariantCulture)}";
            var adversarial = new float[(long)n * shape.Size];
            for (int start = 0; start < n; start += options.AttackBatchSize)
            {
                token.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                int count = Math.Min(options.AttackBatchSize, n - start);
                var generated = generate(images.narrow(0, start, count), labelTensor.narrow(0, start, count));
                generated.cpu().contiguous().data<float>().CopyTo(adversarial.AsSpan(start * shape.Size, count * shape.Size));
                Report(stage, $"{start + count}/{n} images", (start + count) / (double)n);
            }
            using var adversarialImages = torch.tensor(adversarial, [n, shape.Channels, shape.Height, shape.Width], device: classifier.Device);
            var attacked = Evaluate(classifier, cmag, adversarialImages, options.AttackBatchSize);
            var pairs = Enumerable.Range(0, n).Where(i => clean.Predictions[i] == labels[i] && attacked.Predictions[i] != labels[i]).ToList();
            if (shown.Contains((name, intensity))) kept[(name, intensity)] = (adversarial, attacked.Predictions);
            foreach (var (rule, threshold) in rules)
                rows.Add(Row(c.Dataset, name, intensity, "cmag", rule, pairs, cleanScores, attacked.Measurement, threshold, n));
            if (name == "PGD-adaptive") continue;
            foreach (var d in detectors)
            {
                Report(stage, $"{d.Method} on {d.Scored} images", 1);
                var m = MeasureBaseline(d, adversarialImages, options.AttackBatchSize, cmag.Options.SsimWindow);
                var scoredPairs = pairs.Where(i => i < d.Scored).ToList();
                foreach (var (rule, threshold) in new[] { ("paper", 1.0), ("calibrated", d.CalibratedThreshold) })
                    rows.Add(Row(c.Dataset, name, intensity, d.Method, rule, scoredPairs, cleanBaseline[d.Method].Scores, m.AsCmag(), threshold, d.Scored));
            }
        }
        var examples = options.ExampleImages == 0 ? null
            : Examples(classifier, cmag, detectors, images, labels, clean.Predictions, shown, kept, options.ExampleImages);
        return new CmagBenchmarkCaseResult(c, CountRows(train), n, accuracy, classifierSeconds, cmagSeconds, firstEpoch, secondEpoch, epochs, batch,
            cmag.Info, rows, cleanRows, baselineResults, examples);
    }

    private static CmagBenchmarkRow Row(string dataset, string attack, double intensity, string method, string rule, List<int> pairs, float[] cleanScores,
        CmagMeasurement attacked, double threshold, int attackedImages)
    {
        var d = BalancedPairs.Metrics(pairs, cleanScores, attacked.Scores, threshold);
        return new CmagBenchmarkRow(dataset, attack, intensity, method, rule, d.Accuracy, d.Recall, d.FalsePositiveRate, d.Auc,
            pairs.Count > 0 ? pairs.Average(i => attacked.Ssim[i]) : double.NaN,
            pairs.Count > 0 ? pairs.Average(i => attacked.L2[i]) : double.NaN, pairs.Count, attackedImages);
    }

    /// <summary>Tensors and transformers a case holds until it ends.</summary>
    private sealed class Disposables : IDisposable
    {
        private readonly List<IDisposable> items = [];
        public T Add<T>(T item) where T : IDisposable { items.Add(item); return item; }
        public void Dispose() { foreach (var item in items) item.Dispose(); }
    }

    /// <summary>A baseline's SSIM(x, x′), ‖x − x′‖₂ and CMAG-form scores of the first <see cref="Detector.Scored"/> images.</summary>
    private sealed record BaselineMeasurement(float[] Ssim, float[] L2, float[] Scores)
    {
        public CmagMeasurement AsCmag() => new(Ssim, L2, Scores, []);
    }

    /// <summary>
    /// Trains the autoencoder MagNet and Defense-GAN share on CMAG's training rows (the same seeded hold-out) and gives each baseline CMAG's
    /// two thresholds: Alg. 2's over its training reconstructions and the target-FPR one over the held-out rows' scores.
    /// </summary>
    private static (List<Detector>, List<CmagBaselineResult>) FitBaselines(MLContext ml, CmagBenchmarkCase c, CmagBenchmarkOptions options, IDataView train,
        int testImages, ImageShape shape, SsimWindow window, Device device, Disposables disposables, Action<string, string, double> report, CancellationToken token)
    {
        var detectors = new List<Detector>();
        var results = new List<CmagBaselineResult>();
        if (options.Baselines.Count == 0) return (detectors, results);
        var (trainPixels, _) = ReadImages(train, token);
        int rowCount = trainPixels.Length / shape.Size;
        var cmagDefaults = new CmagOptions();
        // CMAG's own split (CmagEstimator.FitCore): the same rows train the reconstructors and the same rows are held out.
        var (trainRows, calibrationRows) = MiaedEstimator.SplitCalibration(rowCount, cmagDefaults.CalibrationFraction, options.Seed);
        var trainSet = Select(trainPixels, trainRows, shape.Size);
        var calibrationSet = Select(trainPixels, calibrationRows, shape.Size);
        var aeganDefaults = new AeGanOptions();
        int width = c.BaselineWidth ?? aeganDefaults.BaseChannels, epochs = c.BaselineEpochs ?? aeganDefaults.Epochs;
        double rate = c.BaselineLearningRate ?? aeganDefaults.LearningRate;
        int batch = c.BaselineBatchSize ?? aeganDefaults.BatchSize;
        var watch = Stopwatch.StartNew();
        var autoencoder = disposables.Add(ml.Transforms.Defenses.AeGanPurifier(new AeGanOptions
        {
            Epochs = epochs, BaseChannels = width, LearningRate = rate, BatchSize = batch, SearchPolicy = AeGanSearchPolicy.Never, Seed = options.Seed,
            CancellationToken = token,
            Progress = new InlineProgress<AeGanTrainingProgress>(p => report("magnet/defensegan autoencoder", $"epoch {p.Epoch}/{p.Epochs} · reconstruction {p.ReconstructionLoss:F4}",
                p.Epochs * p.BatchesPerEpoch == 0 ? 0 : ((p.Epoch - 1) * (double)p.BatchesPerEpoch + p.Batch) / ((double)p.Epochs * p.BatchesPerEpoch))),
        }).Fit(ImageRecordsDataView.ImagesOnly(shape, trainSet)));
        double trainSeconds = watch.Elapsed.TotalSeconds;
        string network = $"AE-GAN F and G (Sec. 3.3, search off), width {width}, k {aeganDefaults.LatentDimension}, {epochs} epochs, Adam {rate.ToString(CultureInfo.InvariantCulture)}, " +
                         $"batch {batch}, on {trainRows.Length} training rows";
        using var trainTensor = torch.tensor(trainSet, [trainRows.Length, shape.Channels, shape.Height, shape.Width], device: device);
        using var calibrationTensor = torch.tensor(calibrationSet, [calibrationRows.Length, shape.Channels, shape.Height, shape.Width], device: device);
        int restarts = c.DefenseGanRestarts ?? 10, iterations = c.DefenseGanIterations ?? 200;
        foreach (var method in options.Baselines)
        {
            watch.Restart();
            bool search = method == "defensegan";
            Func<Tensor, Tensor> reconstruct = search
                ? x => autoencoder.DefenseGanSearch(x, restarts, iterations, options.Seed)
                : autoencoder.MagNetReconstruct;
            int thresholdRows = search ? Math.Min(trainRows.Length, c.DefenseGanThresholdImages ?? int.MaxValue) : trainRows.Length;
            report($"{method} thresholds", $"{thresholdRows} training and {calibrationRows.Length} held-out rows", 0);
            var probe = new Detector(method, reconstruct, 0, 0, 0, thresholdRows);
            var (ssim, l2) = Reconstruct(probe, trainTensor, options.AttackBatchSize, window);
            float ssimThreshold = ssim.Min(), l2Threshold = l2.Max();
            var (heldOutSsim, heldOutL2) = Reconstruct(probe with { Scored = calibrationRows.Length }, calibrationTensor, options.AttackBatchSize, window);
            var heldOutScores = CmagTransformer.Scores(heldOutSsim, heldOutL2, ssimThreshold, l2Threshold);
            double calibrated = ThresholdCalibration.ForFalsePositiveRate(heldOutScores, cmagDefaults.TargetFalsePositiveRate);
            int scored = search ? Math.Min(testImages, c.DefenseGanTestImages ?? testImages) : testImages;
            detectors.Add(new Detector(method, reconstruct, ssimThreshold, l2Threshold, calibrated, scored));
            string settings = search
                ? $"x' = G(z*), the best of R {restarts} random starts after L {iterations} momentum steps on ||G(z) - x||^2 (Defense-GAN's search); {network}"
                : $"x' = G(F(x)) (MagNet's reconstruction); {network}";
            results.Add(new CmagBaselineResult(method, settings, ssimThreshold, l2Threshold, (float)calibrated, thresholdRows, calibrationRows.Length,
                ThresholdCalibration.FlaggedFraction(heldOutScores, 1.0), ThresholdCalibration.FlaggedFraction(heldOutScores, calibrated), ssim.Average(), l2.Average(),
                scored, trainSeconds, watch.Elapsed.TotalSeconds));
        }
        return (detectors, results);
    }

    private static float[] Select(float[] pixels, int[] rows, int size)
    {
        var selected = new float[(long)rows.Length * size];
        for (int i = 0; i < rows.Length; i++) Array.Copy(pixels, (long)rows[i] * size, selected, (long)i * size, size);
        return selected;
    }

    /// <summary>SSIM(x, x′) and ‖x − x′‖₂ of the first <see cref="Detector.Scored"/> images (at most all), a batch at a time.</summary>
    private static (float[] Ssim, float[] L2) Reconstruct(Detector detector, Tensor images, int batchSize, SsimWindow window)
    {
        int n = (int)Math.Min(images.size(0), detector.Scored);
        var ssim = new float[n];
        var l2 = new float[n];
        for (int start = 0; start < n; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            int count = Math.Min(batchSize, n - start);
            var x = images.narrow(0, start, count);
            var reconstruction = detector.Reconstruct(x);   // Defense-GAN's search needs autograd: no no_grad around it
            using var _ = torch.no_grad();
            Ssim.Compute(reconstruction, x, window).cpu().data<float>().CopyTo(ssim.AsSpan(start, count));
            CmagNetworks.L2(x, reconstruction).cpu().data<float>().CopyTo(l2.AsSpan(start, count));
        }
        return (ssim, l2);
    }

    private static BaselineMeasurement MeasureBaseline(Detector detector, Tensor images, int batchSize, SsimWindow window)
    {
        var (ssim, l2) = Reconstruct(detector, images, batchSize, window);
        return new(ssim, l2, CmagTransformer.Scores(ssim, l2, detector.SsimThreshold, detector.L2Threshold));
    }

    /// <summary>
    /// The image grid's rows: for the clean images and each shown attack, the images, CMAG's x′ and each baseline's reconstruction. The images are the
    /// first test images that the classifier gets right and every shown attack fools, topped up with the first others when there are too few.
    /// </summary>
    private static CmagExamples Examples(ImageClassifierTransformer classifier, CmagTransformer cmag, List<Detector> detectors, Tensor images, int[] labels,
        int[] cleanPredictions, List<(string Attack, double Intensity)> shown, Dictionary<(string, double), (float[] Pixels, int[] Predictions)> kept, int count)
    {
        var shape = classifier.InputShape;
        int n = labels.Length;
        bool Fooled(int i) => cleanPredictions[i] == labels[i] && shown.All(a => kept.TryGetValue(a, out var k) && k.Predictions[i] != labels[i]);
        var chosen = Enumerable.Range(0, n).Where(Fooled).Concat(Enumerable.Range(0, n).Where(i => !Fooled(i))).Take(count).ToArray();
        var names = new List<string>();
        var rows = new List<IReadOnlyList<float[]>>();
        using var index = torch.tensor(Array.ConvertAll(chosen, i => (long)i), device: images.device);
        void AddSet(string name, Tensor x)
        {
            using var scope = torch.NewDisposeScope();
            names.Add(name);
            rows.Add(Reporting.ImageGrid.ImagesOf(x, out _));
            Tensor cmagReconstruction;
            using (torch.no_grad()) cmagReconstruction = cmag.Reconstruct(classifier.FeatureMap(x), classifier.Logits(x).softmax(1));
            names.Add($"{name}: CMAG x'");
            rows.Add(Reporting.ImageGrid.ImagesOf(cmagReconstruction, out _));
            foreach (var d in detectors)
            {
                names.Add($"{name}: {(d.Method == "magnet" ? "MagNet" : "Defense-GAN")} x'");
                rows.Add(Reporting.ImageGrid.ImagesOf(d.Reconstruct(x), out _));
            }
        }
        AddSet("clean", images.index_select(0, index));
        foreach (var attack in shown)
        {
            if (!kept.TryGetValue(attack, out var k)) continue;
            using var all = torch.tensor(k.Pixels, [n, shape.Channels, shape.Height, shape.Width], device: images.device);
            AddSet($"{attack.Attack} {(attack.Attack == "FGSM" ? "λ" : "κ")} {attack.Intensity.ToString(CultureInfo.InvariantCulture)}", all.index_select(0, index));
        }
        return new CmagExamples(shape, chosen, names, rows);
    }

    private static int CountRows(IDataView view)
    {
        if (view.GetRowCount() is { } known) return (int)known;
        int count = 0;
        using var cursor = view.GetRowCursor([]);
        while (cursor.MoveNext()) count++;
        return count;
    }

    /// <summary>
    /// The issue's defense-aware attack: L∞ PGD from the clean image, <paramref name="steps"/> signed-gradient steps of ε/10, each ascending
    /// Σ CE(f(x), y) − w·s(x) with s(x) = max((1 − SSIM(x, x′))/(1 − Thr_SSIM), ‖x − x′‖₂/Thr_L2) and x′ = GR(FMR(f_fm(x)) ⊗ LR(softmax(f(x)/T))),
    /// differentiated end to end (classifier → FMR/LR → GR → SSIM/L2), projected onto the ε-ball and [0, 1]. The row's intensity is w.
    /// </summary>
    internal static Tensor AdaptivePgd(ImageClassifierTransformer classifier, CmagTransformer cmag, Tensor images, Tensor labels, double epsilon, int steps,
        double weight, CancellationToken token)
    {
        var x = images.detach().clone();
        float ssimDenominator = MathF.Max(1f - cmag.Info.SsimThreshold, 1e-12f), l2Denominator = MathF.Max(cmag.Info.L2Threshold, 1e-12f);
        for (int step = 0; step < steps; step++)
        {
            token.ThrowIfCancellationRequested();
            Tensor next;
            using (torch.NewDisposeScope())
            {
                var current = x.detach().requires_grad_(true);
                var logits = classifier.Logits(current);
                var reconstruction = cmag.Reconstruct(classifier.FeatureMap(current), logits.softmax(1));
                var ssim = Ssim.Compute(reconstruction, current, cmag.Options.SsimWindow);
                var l2 = CmagNetworks.L2(current, reconstruction);
                var score = torch.maximum((1 - ssim) / ssimDenominator, l2 / l2Denominator);
                var loss = TorchSharp.torch.nn.functional.cross_entropy(logits, labels, reduction: TorchSharp.torch.nn.Reduction.Sum) - weight * score.sum();
                var gradient = torch.autograd.grad([loss], [current])[0];
                next = torch.minimum(torch.maximum(current.detach() + epsilon / 10 * gradient.sign(), images - epsilon), images + epsilon).clamp(0, 1)
                    .MoveToOuterDisposeScope();
            }
            x.Dispose();
            x = next;
        }
        return x;
    }

    private sealed record Evaluated(int[] Predictions, CmagMeasurement Measurement);

    /// <summary>The classifier's predictions and CMAG's measurement of images, batch by batch, as the ML.NET pipeline computes them.</summary>
    private static Evaluated Evaluate(ImageClassifierTransformer classifier, CmagTransformer cmag, Tensor images, int batchSize)
    {
        int n = (int)images.size(0);
        var predictions = new int[n];
        var ssim = new float[n];
        var l2 = new float[n];
        using var _ = torch.no_grad();
        for (int start = 0; start < n; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            int count = Math.Min(batchSize, n - start);
            var x = images.narrow(0, start, count);
            var featureMaps = classifier.FeatureMap(x);
            var logits = classifier.Logits(x);
            var m = cmag.Measure(x, featureMaps, logits.softmax(1));
            var predicted = logits.argmax(1).cpu().data<long>().ToArray();
            for (int i = 0; i < count; i++) predictions[start + i] = (int)predicted[i];
            m.Ssim.CopyTo(ssim, start);
            m.L2.CopyTo(l2, start);
        }
        return new(predictions, cmag.Decide(ssim, l2));
    }

    private static (float[] Pixels, int[] Labels) ReadImages(IDataView view, CancellationToken token)
    {
        var pixels = new List<float>();
        var labels = new List<int>();
        foreach (var batch in Data.DataViewBatches.Read(view, ["Image", "Label"], 4096, token))
        {
            pixels.AddRange(batch.Get<float>("Image"));
            labels.AddRange(Data.LabelColumns.Classes(batch, "Label", Data.LabelKind.Key));
        }
        return ([.. pixels], [.. labels]);
    }
}

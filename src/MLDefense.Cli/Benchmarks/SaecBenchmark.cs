using System.Diagnostics;
using MLDefense.Attacks;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Defenses;
using MLDefense.Evaluation;
using MLDefense.Classifiers;

namespace MLDefense.Benchmarks;

/// <summary>One dataset of the SAEC benchmark: the target classifier, how much of it to train, and the budgets to sweep.</summary>
/// <param name="Dataset">A name of <see cref="KnownDatasets.Names"/>.</param>
/// <param name="Architecture">The target classifier.</param>
/// <param name="LinfBudgets">The L∞ budgets of FGSM and BIM, in [0, 1] pixel units.</param>
/// <param name="L2Budgets">The L2 budgets of FGM and BIM (see <see cref="SaecBenchmark.MatchingL2Budget"/>).</param>
/// <param name="Epochs">Passes of classifier training; null = the architecture's default.</param>
/// <param name="TrainImages">The first this-many training images (classifier and SAEC); null = all.</param>
/// <param name="TestImages">The first this-many test images attacked; null = all.</param>
public sealed record SaecBenchmarkCase(string Dataset, ClassifierArchitecture Architecture, IReadOnlyList<double> LinfBudgets,
                                       IReadOnlyList<double> L2Budgets, int? Epochs = null, int? TrainImages = null, int? TestImages = null)
{
    /// <summary><c>dataset/architecture</c> (e.g. <c>cifar10-subset/c2</c>).</summary>
    public string Key => $"{Dataset}/{ClassifierTraining.ShortName(Architecture)}";
}

/// <summary>Settings of <see cref="SaecBenchmark.Run"/>.</summary>
public sealed record SaecBenchmarkOptions
{
    /// <summary>The datasets, run in order. Default: <see cref="SaecBenchmark.FullCases"/>.</summary>
    public IReadOnlyList<SaecBenchmarkCase> Cases { get; init; } = SaecBenchmark.FullCases;

    /// <summary>The dataset root (see <see cref="KnownDatasets.Resolve"/>); null searches the default places.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The seed of training, of SAEC's noise and of everything random. Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Where everything runs. Default <see cref="ComputeDevice.Auto"/>.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    /// <summary>BIM's iterations under both norms (its step is ε / 4, so ε is reachable in 4 steps and the rest refine). Default 10.</summary>
    public int BimIterations { get; init; } = 10;
}

/// <summary>Where <see cref="SaecBenchmark.Run"/> stands.</summary>
/// <param name="CaseIndex">The 0-based index of the running case.</param>
/// <param name="CaseCount">The number of cases.</param>
/// <param name="Case">The running case.</param>
/// <param name="Stage">What runs: <c>load</c>, <c>train</c>, <c>saec</c>, <c>speed</c>, or an attack sweep (<c>FGSM linf</c>, ...).</param>
/// <param name="Detail">More about the stage (the trainer's epoch and loss, the budget attacked), or empty.</param>
/// <param name="Fraction">The share of the stage done, in [0, 1].</param>
public sealed record SaecBenchmarkProgress(int CaseIndex, int CaseCount, SaecBenchmarkCase Case, string Stage, string Detail, double Fraction);

/// <summary>The outcome of one case of the SAEC benchmark.</summary>
/// <param name="Case">The case run.</param>
/// <param name="Epochs">The classifier's training epochs.</param>
/// <param name="TrainImages">The training images (classifier and SAEC's calibration).</param>
/// <param name="TestImages">The test images attacked.</param>
/// <param name="ClassifierAccuracy">The classifier's accuracy on the clean test images.</param>
/// <param name="TrainSeconds">Wall-clock seconds of classifier training.</param>
/// <param name="Calibration">What SAEC's Fit reported (threshold, training FPR, uniform-noise separation).</param>
/// <param name="CleanFalsePositiveRate">The share of all clean test images SAEC flags.</param>
/// <param name="ScoringImagesPerSecond">SAEC's scoring speed on the test images (median of repeated passes).</param>
/// <param name="Rows">One row per attack, norm and budget.</param>
public sealed record SaecBenchmarkCaseResult(SaecBenchmarkCase Case, int Epochs, int TrainImages, int TestImages, double ClassifierAccuracy,
                                             double TrainSeconds, SaecCalibrationReport Calibration, double CleanFalsePositiveRate,
                                             double ScoringImagesPerSecond, IReadOnlyList<MixDefenseRow> Rows);

/// <summary>The outcome of <see cref="SaecBenchmark.Run"/>.</summary>
/// <param name="Threads">libtorch's intra-op threads.</param>
/// <param name="Device">Where it ran.</param>
/// <param name="TorchVersion">The libtorch version.</param>
/// <param name="Seed">The seed.</param>
/// <param name="TotalSeconds">Wall-clock seconds of the whole run.</param>
/// <param name="Cases">One result per case, in order.</param>
public sealed record SaecBenchmarkResult(int Threads, string Device, string TorchVersion, int Seed, double TotalSeconds,
                                         IReadOnlyList<SaecBenchmarkCaseResult> Cases) : IBenchmarkRun
{
    /// <summary>Every case's rows, in order.</summary>
    public IReadOnlyList<MixDefenseRow> Rows => Cases.SelectMany(c => c.Rows).ToList();
}

/// <summary>
/// Issue 5's SAEC benchmark: MixDefense's protocol (Yang et al., Sec. 5.1: half clean images, half successful adversarial
/// examples of correctly classified ones) for the SAEC layer over a sweep of budgets — FGSM and BIM under L∞, FGM and BIM
/// under L2 — on the CIFAR-10 subset with C2 and on MNIST with C1. SAEC is fitted with its defaults (target FPR 1%) on the
/// clean training images the classifier trained on. Target (Sec. 5.3, Fig. 7): Acc_Detector ≥ 0.97 on the CIFAR-10 subset
/// for L∞ FGSM and BIM at ε ≥ 8/255, with clean FPR ≤ 5%; small budgets are expected to escape (the paper's second layer
/// covers them).
/// </summary>
/// <remarks>
/// <para>L2 budgets: the paper sweeps L∞ only in Fig. 7, so the L2 sweep is this project's choice:
/// ε₂ = ε∞ · √(C·H·W) / 2 for each L∞ budget (<see cref="MatchingL2Budget"/>). ε∞·√(C·H·W) is the L2 length of FGSM's
/// full-sign step; half of it keeps the L2 attacks comparable without letting them exceed the L∞ attacks' energy.</para>
/// <para>BIM: <see cref="SaecBenchmarkOptions.BimIterations"/> steps of ε / 4 under either norm, projected onto the ε-ball.</para>
/// </remarks>
public static class SaecBenchmark
{
    /// <summary>The target Acc_Detector (CIFAR-10 subset, L∞ FGSM and BIM, ε ≥ 8/255).</summary>
    public const double TargetAccuracy = 0.97;

    /// <summary>The largest clean false-positive rate the target allows.</summary>
    public const double TargetFalsePositiveRate = 0.05;

    /// <summary>The smallest L∞ budget the target applies to.</summary>
    public const double TargetMinimumEpsilon = 8.0 / 255;

    /// <summary>The CIFAR-10 L∞ sweep of Fig. 7: {1, 2, 4, 6, 8, 12, 16}/255.</summary>
    public static IReadOnlyList<double> CifarLinfBudgets { get; } = new[] { 1, 2, 4, 6, 8, 12, 16 }.Select(e => e / 255.0).ToArray();

    /// <summary>MNIST's usual L∞ budgets: 0.1, 0.2, 0.3.</summary>
    public static IReadOnlyList<double> MnistLinfBudgets { get; } = [0.1, 0.2, 0.3];

    /// <summary>The L2 budget matched to an L∞ budget on images of <paramref name="shape"/>: ε∞ · √(C·H·W) / 2 (see the class remarks).</summary>
    public static double MatchingL2Budget(double linfBudget, ImageShape shape) => linfBudget * Math.Sqrt(shape.Size) / 2;

    private static IReadOnlyList<double> MatchingL2Budgets(IReadOnlyList<double> linf, string dataset)
    {
        var shape = ClassifierTraining.DatasetImageShape(dataset);
        return linf.Select(e => MatchingL2Budget(e, shape)).ToArray();
    }

    /// <summary>
    /// The full run: C2 with its default training on all 4 000 CIFAR-10-subset training images, attacked on all 1 000 test
    /// images; C1 with its default training on all 60 000 MNIST training images, attacked on the first 2 000 test images.
    /// </summary>
    public static IReadOnlyList<SaecBenchmarkCase> FullCases { get; } =
    [
        new(KnownDatasets.Cifar10Subset, ClassifierArchitecture.CifarC2, CifarLinfBudgets, MatchingL2Budgets(CifarLinfBudgets, KnownDatasets.Cifar10Subset)),
        new(KnownDatasets.Mnist, ClassifierArchitecture.MnistC1, MnistLinfBudgets, MatchingL2Budgets(MnistLinfBudgets, KnownDatasets.Mnist), TestImages: 2_000),
    ];

    /// <summary>
    /// The quick run: C2 for 4 epochs on all 4 000 CIFAR training images, attacked on the first 500 test images; C1 for
    /// 2 epochs on the first 8 000 MNIST training images (as the classifier benchmark's quick run), attacked on the first
    /// 500 test images. Same budgets as the full run.
    /// </summary>
    public static IReadOnlyList<SaecBenchmarkCase> QuickCases { get; } =
    [
        FullCases[0] with { Epochs = 4, TestImages = 500 },
        FullCases[1] with { Epochs = 2, TrainImages = 8_000, TestImages = 500 },
    ];

    /// <summary>How cases depart from the architectures' full training and the full splits, in words.</summary>
    public static string Describe(IEnumerable<SaecBenchmarkCase> cases) => string.Join("; ", cases.Select(c =>
    {
        int fullEpochs = ClassifierArchitectures.TrainingDefaults(c.Architecture).Epochs;
        string epochs = c.Epochs is int e && e != fullEpochs ? $"{e} of {fullEpochs} epochs" : $"{fullEpochs} epochs";
        string train = c.TrainImages is int t ? $"first {t} training images" : "all training images";
        string test = c.TestImages is int n ? $"first {n} test images" : "all test images";
        return $"{c.Key}: {epochs}, {train}, {test}";
    }));

    /// <summary>Whether a row is one the target applies to (CIFAR-10 subset, L∞ FGSM or BIM, ε ≥ 8/255).</summary>
    public static bool HasTarget(MixDefenseRow row) =>
        row.Dataset == KnownDatasets.Cifar10Subset && row.Norm == "linf" && row.Attack is "FGSM" or "BIM"
        && row.Epsilon >= TargetMinimumEpsilon - 1e-9;

    /// <summary>Whether a row meets the target (Acc_Detector ≥ 0.97 and FPR ≤ 5%); null when no target applies.</summary>
    public static bool? MeetsTarget(MixDefenseRow row) =>
        HasTarget(row) ? row.AccDetector >= TargetAccuracy && row.Fpr <= TargetFalsePositiveRate : null;

    /// <summary>Runs the cases in order (see the class summary).</summary>
    /// <param name="options">What to run.</param>
    /// <param name="progress">Told at every stage, batch and epoch, on the calling thread.</param>
    /// <param name="cancellationToken">Stops the run (throws <see cref="OperationCanceledException"/>).</param>
    public static SaecBenchmarkResult Run(SaecBenchmarkOptions options, IProgress<SaecBenchmarkProgress>? progress = null,
                                          CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Cases.Count == 0) throw new ArgumentException("The benchmark has no cases to run.", nameof(options));
        if (options.BimIterations < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BimIterations, "BimIterations must be at least 1.");
        foreach (var c in options.Cases)
        {
            if (ClassifierTraining.Incompatibility(c.Dataset, c.Architecture) is { } why)
                throw new ArgumentException($"Benchmark case {c.Key}: {why}", nameof(options));
            if (c.LinfBudgets.Count + c.L2Budgets.Count == 0)
                throw new ArgumentException($"Benchmark case {c.Key} has no budgets to sweep.", nameof(options));
        }

        var clock = Stopwatch.StartNew();
        var results = BenchmarkCases.RunInOrder(options.Cases, progress,
            (index, count, c, stage, detail, fraction) => new SaecBenchmarkProgress(index, count, c, stage, detail, fraction),
            (c, report) => RunCase(c, options, report, cancellationToken));
        return new SaecBenchmarkResult(Runtime.Threads, Runtime.DeviceName(options.Device), Runtime.TorchVersion, options.Seed,
                                       clock.Elapsed.TotalSeconds, results);
    }

    private static SaecBenchmarkCaseResult RunCase(SaecBenchmarkCase c, SaecBenchmarkOptions options, Action<string, string, double> report,
                                                   CancellationToken cancellationToken)
    {
        report("load", "", 0);
        var ml = Runtime.CreateMLContext(options.Seed, options.Device);
        var (train, test) = ClassifierTraining.LoadSplits(ml, c.Dataset, options.DataDirectory, c.TrainImages, c.TestImages);
        cancellationToken.ThrowIfCancellationRequested();
        report("load", "", 1);

        var request = new ClassifierTrainingRequest { Dataset = c.Dataset, Architecture = c.Architecture, Epochs = c.Epochs, Seed = options.Seed };
        var trainingProgress = new InlineProgress<ClassifierTrainingStatus>(s => report(
            s.Stage == ClassifierTrainingStage.Training ? "train" : "classify",
            s.Training is { } t ? $"epoch {t.Epoch}/{t.Epochs} · loss {t.Loss:F4}" : "", s.Fraction));
        var (classifier, training) = ClassifierTraining.Run(ml, request, train, test, trainingProgress, cancellationToken);
        using (classifier)
        {
            report("saec", "fitting on the clean training images", 0);
            var saec = ml.Transforms.Defenses.Saec(new SaecOptions { Seed = options.Seed }).Fit(train);
            report("saec", saec.Calibration.ToString(), 1);

            using var testImages = LabelledImages.Load(test, classifier.Device);
            var (images, labels) = (testImages.Images, testImages.Labels);
            var detector = new EvaluatedDetector("SAEC", batch => TensorData.ToArray(saec.Score(batch)), saec.Threshold);

            double imagesPerSecond = MeasureScoringSpeed(saec, images, report);

            var rows = new List<MixDefenseRow>();
            var sweeps = new (string Name, AttackNorm Norm, IReadOnlyList<double> Budgets, Func<double, IAdversarialAttack> Make)[]
            {
                ("FGSM", AttackNorm.Linf, c.LinfBudgets, e => new FastGradientAttack(new() { Epsilon = e, Norm = AttackNorm.Linf })),
                ("BIM", AttackNorm.Linf, c.LinfBudgets, e => Bim(e, AttackNorm.Linf, options.BimIterations)),
                ("FGM", AttackNorm.L2, c.L2Budgets, e => new FastGradientAttack(new() { Epsilon = e, Norm = AttackNorm.L2 })),
                ("BIM", AttackNorm.L2, c.L2Budgets, e => Bim(e, AttackNorm.L2, options.BimIterations)),
            };
            float[]? cleanScores = null;
            foreach (var sweep in sweeps.Where(s => s.Budgets.Count > 0))
            {
                string stage = $"{sweep.Name} {(sweep.Norm == AttackNorm.Linf ? "linf" : "l2")}";
                var sweepProgress = new InlineProgress<EvaluationProgress>(p =>
                    report(stage, p.Stage, p.ImagesTotal == 0 ? 1 : (double)p.ImagesDone / p.ImagesTotal));
                var result = MixDefenseProtocol.Run(classifier, sweep.Make, sweep.Budgets, images, labels, detector,
                                                    new() { Dataset = c.Dataset }, sweepProgress, cancellationToken);
                rows.AddRange(result.Rows);
                cleanScores ??= result.CleanScores.ToArray();
            }
            double cleanFalsePositiveRate = cleanScores!.Count(s => ThresholdCalibration.IsFlagged(s, saec.Threshold)) / (double)cleanScores!.Length;
            return new SaecBenchmarkCaseResult(c, training.Epochs, training.TrainImages, training.TestImages, training.TestAccuracy,
                                               training.TrainSeconds, saec.Calibration, cleanFalsePositiveRate, imagesPerSecond, rows);
        }
    }

    private static BasicIterativeAttack Bim(double epsilon, AttackNorm norm, int iterations) =>
        new(new() { Epsilon = epsilon, StepSize = epsilon / 4, Iterations = iterations, Norm = norm });

    /// <summary>Images/s of <see cref="SaecTransformer.Score"/> on the test images: the median of 5 timed passes after a warm-up pass.</summary>
    private static double MeasureScoringSpeed(SaecTransformer saec, Tensor images, Action<string, string, double> report)
    {
        const int passes = 5;
        var rates = new List<double>();
        for (int pass = -1; pass < passes; pass++)
        {
            using var scope = torch.NewDisposeScope();
            var clock = Stopwatch.StartNew();
            // Copying the scores to the host waits for the device, so the time covers the whole computation.
            _ = TensorData.ToArray(saec.Score(images));
            if (pass >= 0) rates.Add(images.shape[0] / clock.Elapsed.TotalSeconds);
            report("speed", "", (pass + 2) / (double)(passes + 1));
        }
        rates.Sort();
        return rates[passes / 2];
    }
}

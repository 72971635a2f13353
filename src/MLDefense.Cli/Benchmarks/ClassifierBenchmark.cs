using System.Diagnostics;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Classifiers;

namespace MLDefense.Benchmarks;

/// <summary>One case of the classifier benchmark: an architecture trained on a dataset, and how much of it.</summary>
/// <param name="Dataset">A name of <see cref="KnownDatasets.Names"/>.</param>
/// <param name="Architecture">The network.</param>
/// <param name="Epochs">Passes over the training images; null = the architecture's paper default.</param>
/// <param name="TrainImages">The first this-many training images; null = all.</param>
/// <param name="TestImages">The first this-many test images; null = all.</param>
/// <param name="TargetAccuracy">The test accuracy the full run must reach (from the papers), or null when none is set.</param>
public sealed record ClassifierBenchmarkCase(string Dataset, ClassifierArchitecture Architecture, int? Epochs = null,
                                             int? TrainImages = null, int? TestImages = null, double? TargetAccuracy = null)
{
    /// <summary><c>dataset/architecture</c>, as the CLI's <c>--only</c> names a case (e.g. <c>mnist/c1</c>).</summary>
    public string Key => $"{Dataset}/{ClassifierTraining.ShortName(Architecture)}";
}

/// <summary>Settings of <see cref="ClassifierBenchmark.Run"/>.</summary>
public sealed record ClassifierBenchmarkOptions
{
    /// <summary>The cases, run in order. Default: <see cref="ClassifierBenchmark.FullCases"/>.</summary>
    public IReadOnlyList<ClassifierBenchmarkCase> Cases { get; init; } = ClassifierBenchmark.FullCases;

    /// <summary>The dataset root (see <see cref="KnownDatasets.Resolve"/>); null searches the default places.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The seed of every case's initialisation and shuffling (the same for each case, so cases repeat alone). Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Where the cases train: see <see cref="ComputeDevice"/>. Default <see cref="ComputeDevice.Auto"/>.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;
}

/// <summary>Where <see cref="ClassifierBenchmark.Run"/> stands.</summary>
/// <param name="CaseIndex">The 0-based index of the running case.</param>
/// <param name="CaseCount">The number of cases.</param>
/// <param name="Case">The running case.</param>
/// <param name="Status">Where the case stands.</param>
public sealed record ClassifierBenchmarkProgress(int CaseIndex, int CaseCount, ClassifierBenchmarkCase Case, ClassifierTrainingStatus Status);

/// <summary>One row of the benchmark's results.</summary>
/// <param name="Case">The case run.</param>
/// <param name="Epochs">The epochs run.</param>
/// <param name="TrainImages">The training images used.</param>
/// <param name="TestImages">The test images accuracy was measured on.</param>
/// <param name="TestAccuracy">The share of test images classified correctly.</param>
/// <param name="TrainSeconds">Wall-clock seconds of training.</param>
/// <param name="EvaluateSeconds">Wall-clock seconds of the test pass.</param>
public sealed record ClassifierBenchmarkRow(ClassifierBenchmarkCase Case, int Epochs, int TrainImages, int TestImages,
                                            double TestAccuracy, double TrainSeconds, double EvaluateSeconds)
{
    /// <summary>Whether the accuracy reaches the case's target; null when the case has none.</summary>
    public bool? MeetsTarget => Case.TargetAccuracy is double target ? TestAccuracy >= target : null;
}

/// <summary>The outcome of <see cref="ClassifierBenchmark.Run"/>.</summary>
/// <param name="Threads">libtorch's intra-op threads during the run.</param>
/// <param name="Device">Where the cases trained.</param>
/// <param name="TorchVersion">The libtorch version.</param>
/// <param name="Seed">The seed of every case.</param>
/// <param name="TotalSeconds">Wall-clock seconds of the whole run, reading the datasets included.</param>
/// <param name="Rows">One row per case, in the order run.</param>
public sealed record ClassifierBenchmarkResult(int Threads, string Device, string TorchVersion, int Seed, double TotalSeconds,
                                               IReadOnlyList<ClassifierBenchmarkRow> Rows) : IBenchmarkRun;

/// <summary>
/// The pipeline issue's classifier benchmark: trains the papers' target classifiers — MIAED's C1 on MNIST and on
/// Fashion-MNIST, Defense-GAN's classifier A on both, and the CIFAR-10 network C2 on the CIFAR-10 subset — and measures
/// test accuracy and training time. Targets (full run): C1 on MNIST ≥ 0.990 (MIAED reports 0.993), A on MNIST ≥ 0.990
/// and on Fashion-MNIST ≥ 0.91 (AE-GAN reports 0.990 / 0.918).
/// </summary>
public static class ClassifierBenchmark
{
    /// <summary>The target of C1 and of A on MNIST.</summary>
    public const double MnistTarget = 0.990;

    /// <summary>The target of A on Fashion-MNIST.</summary>
    public const double FashionMnistTarget = 0.91;

    /// <summary>
    /// The full run: every architecture with its paper's training settings (C1 and A: 10 epochs, C2: 50) on all the
    /// training images, accuracy on all the test images.
    /// </summary>
    public static IReadOnlyList<ClassifierBenchmarkCase> FullCases { get; } =
    [
        new(KnownDatasets.Mnist, ClassifierArchitecture.MnistC1, TargetAccuracy: MnistTarget),
        new(KnownDatasets.FashionMnist, ClassifierArchitecture.MnistC1),
        new(KnownDatasets.Mnist, ClassifierArchitecture.DefenseGanA, TargetAccuracy: MnistTarget),
        new(KnownDatasets.FashionMnist, ClassifierArchitecture.DefenseGanA, TargetAccuracy: FashionMnistTarget),
        new(KnownDatasets.Cifar10Subset, ClassifierArchitecture.CifarC2),
    ];

    /// <summary>
    /// The quick run, sized to finish within 10 minutes on two CPU cores shared with other work (about 5 minutes when
    /// only one core is free): the same cases with fewer epochs on the first images of each training split — C1: 2 epochs
    /// on 8 000 images; A: 1 epoch on 5 000; C2: 2 epochs on 3 000 — and accuracy on the first 2 000 test images (all
    /// 1 000 of the CIFAR-10 subset); see <see cref="QuickShortens"/>. The full run's targets are kept for reference; a
    /// quick run is not expected to meet them.
    /// </summary>
    public static IReadOnlyList<ClassifierBenchmarkCase> QuickCases { get; } =
    [
        new(KnownDatasets.Mnist, ClassifierArchitecture.MnistC1, Epochs: 2, TrainImages: 8_000, TestImages: 2_000, TargetAccuracy: MnistTarget),
        new(KnownDatasets.FashionMnist, ClassifierArchitecture.MnistC1, Epochs: 2, TrainImages: 8_000, TestImages: 2_000),
        new(KnownDatasets.Mnist, ClassifierArchitecture.DefenseGanA, Epochs: 1, TrainImages: 5_000, TestImages: 2_000, TargetAccuracy: MnistTarget),
        new(KnownDatasets.FashionMnist, ClassifierArchitecture.DefenseGanA, Epochs: 1, TrainImages: 5_000, TestImages: 2_000, TargetAccuracy: FashionMnistTarget),
        new(KnownDatasets.Cifar10Subset, ClassifierArchitecture.CifarC2, Epochs: 2, TrainImages: 3_000),
    ];

    /// <summary>What <see cref="QuickCases"/> shortens relative to <see cref="FullCases"/>, in words (for tables and JSON).</summary>
    public static string QuickShortens { get; } = Describe(QuickCases);

    /// <summary>Describes how each case departs from the full run: epochs and image counts (e.g. <c>mnist/c1: 2 of 10 epochs, 20000 of all training images</c>).</summary>
    public static string Describe(IEnumerable<ClassifierBenchmarkCase> cases) => string.Join("; ", cases.Select(c =>
    {
        int fullEpochs = ClassifierArchitectures.TrainingDefaults(c.Architecture).Epochs;
        var parts = new List<string>
        {
            c.Epochs is int e && e != fullEpochs ? $"{e} of {fullEpochs} epochs" : $"{fullEpochs} epochs",
            c.TrainImages is int train ? $"first {train} training images" : "all training images",
            c.TestImages is int test ? $"first {test} test images" : "all test images",
        };
        return $"{c.Key}: {string.Join(", ", parts)}";
    }));

    /// <summary>The cases of <paramref name="cases"/> whose <see cref="ClassifierBenchmarkCase.Key"/> is in <paramref name="keys"/> (case-insensitive), in their order.</summary>
    /// <exception cref="ArgumentException">A key names no case; the message lists the keys there are.</exception>
    public static IReadOnlyList<ClassifierBenchmarkCase> Select(IReadOnlyList<ClassifierBenchmarkCase> cases, IReadOnlyCollection<string> keys)
    {
        var unknown = keys.Where(k => !cases.Any(c => string.Equals(c.Key, k.Trim(), StringComparison.OrdinalIgnoreCase))).ToArray();
        if (unknown.Length > 0)
            throw new ArgumentException($"No benchmark case {string.Join(", ", unknown)}; the cases are {string.Join(", ", cases.Select(c => c.Key))}.", nameof(keys));
        return cases.Where(c => keys.Any(k => string.Equals(c.Key, k.Trim(), StringComparison.OrdinalIgnoreCase))).ToArray();
    }

    /// <summary>Runs the cases in order; each dataset is read once and shared by the cases that use it.</summary>
    /// <param name="options">What to run.</param>
    /// <param name="progress">Told as each case loads, trains and evaluates, on the calling thread.</param>
    /// <param name="cancellationToken">Stops the run (throws <see cref="OperationCanceledException"/>).</param>
    public static ClassifierBenchmarkResult Run(ClassifierBenchmarkOptions options, IProgress<ClassifierBenchmarkProgress>? progress = null,
                                                CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Cases.Count == 0) throw new ArgumentException("The benchmark has no cases to run.", nameof(options));
        foreach (var c in options.Cases)
            if (ClassifierTraining.Incompatibility(c.Dataset, c.Architecture) is { } why)
                throw new ArgumentException($"Benchmark case {c.Key}: {why}", nameof(options));

        var clock = Stopwatch.StartNew();
        var splits = new Dictionary<(string Dataset, bool Train), IDataView>();
        var rows = new List<ClassifierBenchmarkRow>();
        for (int index = 0; index < options.Cases.Count; index++)
        {
            var c = options.Cases[index];
            var caseProgress = progress is null ? null : new InlineProgress<ClassifierTrainingStatus>(s =>
                progress.Report(new ClassifierBenchmarkProgress(index, options.Cases.Count, c, s)));
            caseProgress?.Report(new(ClassifierTrainingStage.Loading, 0, null));

            // A fresh context per case, seeded alike, so that a case filtered out with --only cannot change another's numbers.
            var ml = Runtime.CreateMLContext(options.Seed, options.Device);
            var train = ClassifierTraining.Slice(ml, Split(c.Dataset, train: true), c.TrainImages);
            var test = ClassifierTraining.Slice(ml, Split(c.Dataset, train: false), c.TestImages);
            cancellationToken.ThrowIfCancellationRequested();
            caseProgress?.Report(new(ClassifierTrainingStage.Loading, 1, null));

            var request = new ClassifierTrainingRequest { Dataset = c.Dataset, Architecture = c.Architecture, Epochs = c.Epochs, Seed = options.Seed };
            var (model, result) = ClassifierTraining.Run(ml, request, train, test, caseProgress, cancellationToken);
            model.Dispose();
            rows.Add(new ClassifierBenchmarkRow(c, result.Epochs, result.TrainImages, result.TestImages, result.TestAccuracy,
                                                result.TrainSeconds, result.EvaluateSeconds));
        }
        return new ClassifierBenchmarkResult(Runtime.Threads, Runtime.DeviceName(options.Device), Runtime.TorchVersion, options.Seed,
                                             clock.Elapsed.TotalSeconds, rows);

        IDataView Split(string dataset, bool train)
        {
            if (!splits.TryGetValue((dataset, train), out var view))
                splits[(dataset, train)] = view = new MLContext().Data.LoadKnownDataset(dataset, train, options.DataDirectory);
            return view;
        }
    }
}

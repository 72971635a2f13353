using System.Diagnostics;
using Microsoft.ML;
using MLDefense.Attacks;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Evaluation;
using MLDefense.Training;

namespace MLDefense.Benchmarks;

/// <summary>One dataset of the NAMID benchmark: the classifier, the data sizes and the training budget every method shares.</summary>
/// <param name="Dataset"><c>fashion-mnist</c>, <c>gtsrb-subset</c> (43 classes, served at 32×32) or <c>cifar10-subset</c>.</param>
/// <param name="Architecture">The classifier every method trains.</param>
/// <param name="TrainImages">The first N training images.</param>
/// <param name="TestImages">The first N test images the attacks run on.</param>
/// <param name="Epochs">Epochs of every method (the paper: 100).</param>
/// <param name="Epsilon">The L∞ budget of training and of PGD-40.</param>
/// <param name="L2Epsilon">The L2 budget of PGD-L2 (the paper: 0.5 on CIFAR-10).</param>
public sealed record NamidBenchmarkCase(string Dataset, ClassifierArchitecture Architecture, int TrainImages, int TestImages, int Epochs, double Epsilon, double L2Epsilon);

/// <summary>One row: a method's accuracy under an attack, over seeds.</summary>
public sealed record NamidBenchmarkRow(string Dataset, string Method, string Attack, double MeanAccuracy, double Std, int Seeds);

/// <summary>The benchmark's result.</summary>
public sealed record NamidBenchmarkResult(IReadOnlyList<NamidBenchmarkRow> Rows, double StandardAtSecondsPerEpoch, int TrainImages, double PaperScaleHoursEstimate,
    double TotalSeconds, IReadOnlyList<string> Notes);

/// <summary>
/// <c>mldefense bench namid</c> (issue 26): Standard AT, TRADES, MART and NAMID on each of their losses (and Fig. 5's
/// ablations) on equal footing — the same architecture, data, seed, epochs and PGD-10 training budget — evaluated by
/// natural accuracy, L∞ PGD-40 (step ε/4), CW-L2 (20 iterations of step 0.01, as Sec. 4.1), L2 PGD-40 and L∞ APGD-CE
/// (Croce and Hein 2020, 100 iterations, one run: AutoAttack's first attack; the rest of AutoAttack is not in the project).
/// </summary>
public static class NamidBenchmark
{
    /// <summary>
    /// Methods in the JSON's names and the options that make them. The NAMID rows use NamidOptions' default λ term
    /// (<see cref="NamidLambdaTerm.Sigmoid"/>); the <c>_as_printed</c> rows use Eq. 8 as printed (which collapses here).
    /// </summary>
    public static readonly (string Name, AdversarialTrainingMethod Loss, bool Namid, bool Natural, bool Adversarial, double Lambda, NamidLambdaTerm Term)[] Methods =
    [
        ("standard_at", AdversarialTrainingMethod.StandardAT, false, true, true, 0.1, NamidLambdaTerm.Sigmoid),
        ("namid", AdversarialTrainingMethod.StandardAT, true, true, true, 0.1, NamidLambdaTerm.Sigmoid),
        ("trades", AdversarialTrainingMethod.Trades, false, true, true, 0.1, NamidLambdaTerm.Sigmoid),
        ("namid_t", AdversarialTrainingMethod.Trades, true, true, true, 0.1, NamidLambdaTerm.Sigmoid),
        ("mart", AdversarialTrainingMethod.Mart, false, true, true, 0.1, NamidLambdaTerm.Sigmoid),
        ("namid_m", AdversarialTrainingMethod.Mart, true, true, true, 0.1, NamidLambdaTerm.Sigmoid),
        ("namid_no_adversarial_mi", AdversarialTrainingMethod.StandardAT, true, true, false, 0.1, NamidLambdaTerm.Sigmoid),
        ("namid_no_natural_mi", AdversarialTrainingMethod.StandardAT, true, false, true, 0.1, NamidLambdaTerm.Sigmoid),
        ("namid_lambda0", AdversarialTrainingMethod.StandardAT, true, true, true, 0.0, NamidLambdaTerm.Sigmoid),
        ("namid_t_lambda0", AdversarialTrainingMethod.Trades, true, true, true, 0.0, NamidLambdaTerm.Sigmoid),
        ("namid_m_lambda0", AdversarialTrainingMethod.Mart, true, true, true, 0.0, NamidLambdaTerm.Sigmoid),
        ("namid_as_printed", AdversarialTrainingMethod.StandardAT, true, true, true, 0.1, NamidLambdaTerm.AsPrinted),
        ("namid_t_as_printed", AdversarialTrainingMethod.Trades, true, true, true, 0.1, NamidLambdaTerm.AsPrinted),
        ("namid_m_as_printed", AdversarialTrainingMethod.Mart, true, true, true, 0.1, NamidLambdaTerm.AsPrinted),
    ];

    /// <summary>
    /// The quick run's cases (1 seed unless <c>--seeds</c> says otherwise): Fashion-MNIST with C1 (2000 training and 500 test images, 5 epochs, ε = 0.1), and, when
    /// named (<see cref="QuickDefault"/> is Fashion-MNIST alone), the GTSRB and CIFAR-10 subsets with C2 (2000 / 500, 5 epochs, 8/255).
    /// </summary>
    public static readonly NamidBenchmarkCase[] QuickCases =
    [
        new(KnownDatasets.FashionMnist, ClassifierArchitecture.MnistC1, 2000, 500, 5, 0.1, 1.0),
        new(GtsrbDatasetCatalog.FolderName, ClassifierArchitecture.CifarC2, 2000, 500, 5, 8.0 / 255, 0.5),
        new(KnownDatasets.Cifar10Subset, ClassifierArchitecture.CifarC2, 2000, 500, 5, 8.0 / 255, 0.5),
    ];

    /// <summary>The datasets <c>--quick</c> runs unless <c>--only</c> names others.</summary>
    public static readonly IReadOnlyList<string> QuickDefault = [KnownDatasets.FashionMnist];

    /// <summary>
    /// The full CPU protocol's cases (3 seeds each), the three datasets: Fashion-MNIST with C1, the GTSRB subset
    /// (4000 training and 1000 test images of a seeded shuffle, as its files are ordered by class) and the CIFAR-10 subset with C2.
    /// </summary>
    public static readonly NamidBenchmarkCase[] FullCases =
    [
        new(KnownDatasets.FashionMnist, ClassifierArchitecture.MnistC1, 10000, 1000, 20, 0.1, 1.0),
        new(GtsrbDatasetCatalog.FolderName, ClassifierArchitecture.CifarC2, 4000, 1000, 30, 8.0 / 255, 0.5),
        new(KnownDatasets.Cifar10Subset, ClassifierArchitecture.CifarC2, 4000, 1000, 30, 8.0 / 255, 0.5),
    ];

    /// <summary>The evaluation's attacks in the JSON's names, in order.</summary>
    public static readonly IReadOnlyList<string> Attacks = ["none", "pgd40", "cw_l2", "pgd_l2", "apgd_ce"];

    /// <summary>ResNet-18 on 32×32 (≈ 0.56 GMAC) over MnistC1 on 28×28 (≈ 2.75 MMAC): the FLOP ratio the paper-scale estimate uses.</summary>
    public const double ResNet18OverC1Flops = 0.56e9 / 2.75e6;

    /// <summary>Runs the cases; <paramref name="methods"/> limits the methods (null: all).</summary>
    public static NamidBenchmarkResult Run(IReadOnlyList<NamidBenchmarkCase> cases, int seeds, int firstSeed, string? dataDirectory, ComputeDevice device,
        Action<string> report, CancellationToken token, IReadOnlyCollection<string>? methods = null)
    {
        var clock = Stopwatch.StartNew();
        var rows = new List<NamidBenchmarkRow>();
        double secondsPerEpoch = double.NaN;
        int timedImages = 0;
        var notes = new List<string>
        {
            "apgd_ce: APGD-CE (Croce & Hein 2020, Alg. 1), L-inf at the training epsilon, 100 iterations, one run - AutoAttack's first attack; the rest of AutoAttack (APGD-T, FAB-T, Square) is not in the project, so there are no AA rows.",
            "NAMID's MI estimators are trained once per dataset and seed on that seed's standard_at model (h_θ0 = a standard-AT model, as the paper) and shared by every NAMID variant.",
            "cw_l2: CW-L2 with 20 iterations of step 0.01, one binary-search step from c = 1 (Sec. 4.1's budget); accuracy counts every example it leaves correctly classified.",
        };
        foreach (var c in cases)
        {
            var results = new Dictionary<(string Method, string Attack), List<double>>();
            for (int s = 0; s < seeds; s++)
            {
                int seed = firstSeed + s;
                var ml = Runtime.CreateMLContext(seed, device);
                var train = ml.Data.Cache(Load(ml, c.Dataset, train: true, dataDirectory, c.TrainImages, firstSeed));
                var testView = Load(ml, c.Dataset, train: false, dataDirectory, c.TestImages, firstSeed);
                NamidMiEstimators? estimators = null;
                ImageClassifierTransformer? standardAt = null;
                try
                {
                    foreach (var m in Methods.Where(m => methods is null || methods.Contains(m.Name)).OrderBy(m => m.Namid))
                    {
                        token.ThrowIfCancellationRequested();
                        report($"{c.Dataset} seed {seed}: training {m.Name}");
                        var options = m.Namid ? new NamidOptions { Lambda = m.Lambda, LambdaTerm = m.Term, UseNaturalMi = m.Natural, UseAdversarialMi = m.Adversarial } : new AdversarialTrainingOptions();
                        options.Method = m.Loss;
                        options.Architecture = c.Architecture;
                        options.Epsilon = c.Epsilon;
                        options.Epochs = c.Epochs;
                        options.BatchSize = 64;
                        options.LearningRate = 0.02;
                        options.LearningRateMilestones = [(int)Math.Round(c.Epochs * 0.75), (int)Math.Round(c.Epochs * 0.9)];
                        options.Seed = seed;
                        options.CancellationToken = token;
                        var watch = Stopwatch.StartNew();
                        ImageClassifierTransformer model;
                        if (options is NamidOptions namid)
                        {
                            if (estimators is null)
                            {
                                // h_θ0: this seed's standard_at model (trained with the same settings), or one trained here.
                                using var trainedTarget = standardAt is null ? new AdversarialTrainingEstimator(ml, TargetOptions(options)).Fit(train) : null;
                                var target = standardAt ?? trainedTarget!;
                                var estimatorOptions = new NamidOptions { Epsilon = c.Epsilon, Seed = seed, EstimatorHiddenSize = 512, EstimatorEpochs = 5, EstimatorBatchSize = 400, CancellationToken = token };
                                estimators = new NamidEstimator(ml, estimatorOptions).FitMiEstimators(train, target);
                                notes.Add($"{c.Dataset} seed {seed}: Eq. 6 selected {estimators.SelectedSamples} of {c.TrainImages} training images for the MI estimators (hidden size 512, 5 epochs).");
                            }
                            namid.MiEstimators = estimators;
                            model = new NamidEstimator(ml, namid).Fit(train);
                        }
                        else
                        {
                            model = new AdversarialTrainingEstimator(ml, options).Fit(train);
                        }
                        if (m.Name == "standard_at" && double.IsNaN(secondsPerEpoch))
                        {
                            secondsPerEpoch = watch.Elapsed.TotalSeconds / c.Epochs;
                            timedImages = c.TrainImages;
                        }
                        if (m.Name == "standard_at") standardAt = model;
                        using (m.Name == "standard_at" ? null : model)
                        {
                            report($"{c.Dataset} seed {seed}: attacking {m.Name}");
                            using var test = LabelledImages.Load(ml, testView, c.TestImages, model.Device);
                            foreach (var (attack, accuracy) in Evaluate(model, test, c, seed, token))
                            {
                                if (!results.TryGetValue((m.Name, attack), out var list)) results[(m.Name, attack)] = list = [];
                                list.Add(accuracy);
                            }
                        }
                    }
                }
                finally
                {
                    estimators?.Dispose();
                    standardAt?.Dispose();
                }
            }
            foreach (var ((method, attack), values) in results)
            {
                double mean = values.Average();
                double std = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
                rows.Add(new NamidBenchmarkRow(c.Dataset, method, attack, mean, std, values.Count));
            }
        }
        // Paper scale: ResNet-18, 50,000 CIFAR-10 images, 100 epochs of PGD-10, from the measured standard-AT epoch of C1 scaled by FLOPs.
        double perImageEpoch = secondsPerEpoch / timedImages;
        double hours = perImageEpoch * ResNet18OverC1Flops * 50_000 * 100 / 3600;
        return new NamidBenchmarkResult(rows, secondsPerEpoch, timedImages, hours, clock.Elapsed.TotalSeconds, notes);
    }

    /// <summary>
    /// The first <paramref name="count"/> images of a split. GTSRB's files are ordered by class, so it is shuffled first (with
    /// the run's first seed: every seed and method sees the same images), as bench cmag and bench mixdefense take it.
    /// </summary>
    private static IDataView Load(MLContext ml, string dataset, bool train, string? dataDirectory, int count, int shuffleSeed)
    {
        if (dataset != GtsrbDatasetCatalog.FolderName) return ml.Data.TakeRows(ml.Data.LoadKnownDataset(dataset, train, dataDirectory), count);
        var gtsrb = ml.Data.LoadGtsrbSubset(train, dataDirectory is null ? null : Path.Combine(dataDirectory, GtsrbDatasetCatalog.FolderName));
        return ml.Data.TakeRows(ml.Data.ShuffleRows(gtsrb, shuffleSeed), count);
    }

    private static AdversarialTrainingOptions TargetOptions(AdversarialTrainingOptions o) => new()
    {
        Architecture = o.Architecture, Epsilon = o.Epsilon, Epochs = o.Epochs, BatchSize = o.BatchSize, LearningRate = o.LearningRate,
        LearningRateMilestones = o.LearningRateMilestones, Seed = o.Seed, CancellationToken = o.CancellationToken,
    };

    private static IEnumerable<(string Attack, double Accuracy)> Evaluate(ImageClassifierTransformer model, LabelledImages test, NamidBenchmarkCase c, int seed,
        CancellationToken token)
    {
        var attacks = new (string Name, IAdversarialAttack? Attack)[]
        {
            ("none", null),
            ("pgd40", new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = c.Epsilon, StepSize = c.Epsilon / 4, Iterations = 40 })),
            ("cw_l2", new CarliniWagnerL2Attack(new CarliniWagnerL2Options { MaxIterations = 20, LearningRate = 0.01, BinarySearchSteps = 1, InitialConstant = 1 })),
            ("pgd_l2", new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = c.L2Epsilon, StepSize = c.L2Epsilon / 4, Iterations = 40, Norm = AttackNorm.L2 })),
            ("apgd_ce", new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Epsilon = c.Epsilon, Iterations = 100 })),
        };
        foreach (var (name, attack) in attacks)
        {
            torch.manual_seed(seed);
            long correct = 0;
            for (long start = 0; start < test.Count; start += 250)
            {
                token.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                long count = Math.Min(250, test.Count - start);
                var x = test.Images.narrow(0, start, count);
                var y = test.Labels.narrow(0, start, count);
                var input = attack is null ? x : attack.Generate(model, x, y, token);
                using var _ = torch.no_grad();
                correct += model.Logits(input).argmax(1).eq(y).sum().item<long>();
            }
            yield return (name, correct / (double)test.Count);
        }
    }
}

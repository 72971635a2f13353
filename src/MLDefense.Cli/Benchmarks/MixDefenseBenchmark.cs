using System.Diagnostics;
using Microsoft.ML;
using MLDefense.Attacks;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Defenses;
using MLDefense.Evaluation;

namespace MLDefense.Benchmarks;

/// <summary>
/// Issue 24's MixDefense benchmark (Yang et al., MixDefense, Sec. 5.1–5.2, Fig. 5–7 and 9): on MNIST (C1), the GTSRB subset (C2) and the
/// CIFAR-10 subset (C2), the detectors — SAEC (layer 1), Feature Squeezing, a MagNet-style autoencoder, and the cascade of SAEC with a
/// post-classifier detector — are fitted once per dataset on clean training images (one threshold per dataset for every attack), then
/// judged on the <b>same</b> adversarial examples: FGSM and BIM under L∞, FGM and BIM under L2 over budget sweeps, CW-L2 and DeepFool (L2)
/// called once and sorted by perturbation size. Metrics (Eq. 7–8): Acc_Detector on each successful AE paired with its clean image (half
/// clean, half AEs), TPR, FPR and AUC on that set, Acc_RC over all AEs of the point; a point with fewer successful AEs than
/// <see cref="MixDefenseBenchmarkOptions.MinimumPairs"/> (100, as the paper) is dropped. Clean rows give each method's accuracy on clean test
/// images through the whole pipeline (a flagged image counts as rejected, not correct; method <c>none</c> is the classifier alone).
/// </summary>
/// <remarks>
/// <para><b>Methods.</b> <c>saec</c>: <see cref="SaecEstimator"/> (target FPR 1%). <c>fs</c>: <see cref="FeatureSqueezingEstimator"/> (Xu et
/// al.'s 1-bit/5-bit depth and 2×2 median, 5%). <c>magnet</c>: MagNet's detector-and-reformer idea (Meng and Chen, CCS 2017) on the
/// autoencoder the project has — AE-GAN's encoder F and decoder G (<see cref="AeGanEstimator"/>, search off), the L1 reconstruction error
/// as detector score (5%), and G(F(x)) as the reformed image the classifier sees for Acc_RC and clean accuracy (MagNet's own
/// autoencoders are smaller and trained without the GAN term). <c>saec+fs</c>: the cascade of Fig. 1 with Feature Squeezing standing in
/// for ContraNet — flagged when either layer flags (<see cref="MixDefenseCascadeTransformer"/>'s rule), scored max over layers of
/// (score − threshold) for the AUC. <c>contranet</c>: <see cref="ContraNetEstimator"/> (5%), its label y' the classifier's argmax.
/// <c>mixdefense</c>: the cascade of Fig. 1, SAEC then ContraNet.</para>
/// <para><b>Budgets.</b> As <c>bench saec</c>: L2 budgets ε₂ = ε∞·√(C·H·W)/2 of the L∞ ones (<see cref="SaecBenchmark.MatchingL2Budget"/>);
/// BIM takes <see cref="MixDefenseBenchmarkOptions.BimIterations"/> steps of ε/4. CW-L2 and DeepFool have no budget: their AEs are sorted
/// by ‖x′ − x‖₂ and cut into at most <see cref="MixDefenseBenchmarkOptions.MaximumBins"/> bins of equally many successful AEs (at least
/// <see cref="MixDefenseBenchmarkOptions.MinimumPairs"/> each); a bin's ε is its largest L2, and its Acc_RC counts every AE (successful or not)
/// whose L2 lies in the bin.</para>
/// <para><b>Classifiers.</b> The paper's are a LeNet for MNIST (98.6%), ResNet-34 for GTSRB (97.8%) and DenseNet-169 for CIFAR-10 (94.3%);
/// the project has no ResNet or DenseNet, so GTSRB and CIFAR use C2 (the Carlini–Wagner CIFAR network), as <c>bench cmag</c> does for GTSRB.</para>
/// <para><b>Adaptive attacks</b> (<see cref="MixDefenseBenchmarkOptions.Adaptive"/>, Sec. 6): at each L∞ budget, PGD from the clean image (no random start,
/// <see cref="MixDefenseBenchmarkOptions.AdaptiveIterations"/> steps of 2.5ε/steps) as the non-adaptive reference, then <see cref="ContraNetInputAttack"/>
/// (Fig. 12, from that PGD), <see cref="ContraNetLatentAttack"/> on PGD's AEs (Fig. 13: FGSM on z at ε_z = 0.3, and an unconstrained run), and
/// <see cref="ContraNetBpdaAttack"/>; the same metrics as the other rows plus the attack's success rate on the classifier, in
/// <see cref="MixDefenseBenchmarkCaseResult.AdaptiveRows"/>. The attacks aim at ContraNet only: SAEC has no gradient (Sec. 6), so the cascade rows show
/// what layer 1 still catches of them.</para>
/// </remarks>
public static class MixDefenseBenchmark
{
    /// <summary>The methods this build can evaluate.</summary>
    public static IReadOnlyList<string> AvailableMethods { get; } = ["saec", "fs", "magnet", "contranet", "saec+fs", "mixdefense"];

    /// <summary>The default method set: all available ones.</summary>
    public static IReadOnlyList<string> DefaultMethods { get; } = AvailableMethods;

    /// <summary>The cascades: a method flagged when any of its layers flags — <c>mixdefense</c> (Fig. 1: SAEC, then ContraNet) and <c>saec+fs</c> (FS in ContraNet's place).</summary>
    public static IReadOnlyDictionary<string, string[]> Cascades { get; } = new Dictionary<string, string[]>
    {
        ["saec+fs"] = ["saec", "fs"],
        ["mixdefense"] = ["saec", "contranet"],
    };

    /// <summary>MNIST's L∞ budgets: 0.05, 0.1, 0.2, 0.3.</summary>
    public static IReadOnlyList<double> MnistLinfBudgets { get; } = [0.05, 0.1, 0.2, 0.3];

    /// <summary>The 3×32×32 datasets' L∞ budgets: {1, 2, 4, 8, 16}/255.</summary>
    public static IReadOnlyList<double> ColourLinfBudgets { get; } = new[] { 1, 2, 4, 8, 16 }.Select(e => e / 255.0).ToArray();

    private static IReadOnlyList<double> L2Of(IReadOnlyList<double> linf, ImageShape shape) => linf.Select(e => SaecBenchmark.MatchingL2Budget(e, shape)).ToArray();

    private static readonly ImageShape Grey = new(1, 28, 28), Colour = new(3, 32, 32);

    /// <summary>The full run: every dataset at full size (CIFAR-10 subset: 4,000 / 1,000), 1,000 test images attacked, classifiers and AE at their defaults.</summary>
    public static IReadOnlyList<MixDefenseBenchmarkCase> FullCases { get; } =
    [
        new(KnownDatasets.Mnist, ClassifierArchitecture.MnistC1, MnistLinfBudgets, L2Of(MnistLinfBudgets, Grey), TestImages: 1_000),
        new(GtsrbDatasetCatalog.FolderName, ClassifierArchitecture.CifarC2, ColourLinfBudgets, L2Of(ColourLinfBudgets, Colour), TestImages: 1_000),
        new(KnownDatasets.Cifar10Subset, ClassifierArchitecture.CifarC2, ColourLinfBudgets, L2Of(ColourLinfBudgets, Colour), TestImages: 1_000),
    ];

    private static readonly double[] QuickMnist = [0.1, 0.2, 0.3], QuickColour = [2 / 255.0, 8 / 255.0, 16 / 255.0];

    /// <summary>
    /// ContraNet's settings for the quick run's few hundred generator steps: the README's short-training settings (its ContraNet
    /// section, runs 4–5) — KL weight 8 instead of the authors' 1 and Adam 1e-3 instead of 2e-4 for E, G and D. With the
    /// authors' values a short training gives a generator that ignores its label (wrong-label AUC 0.49–0.50 on held-out clean
    /// rows), so the detector's score is plain reconstruction distance and ranks FGSM's examples below clean images (AUC
    /// 0.22–0.53 in the first quick run); the stronger KL term starves z of the class and the faster rate lets the conditional
    /// batch norms' per-class gains move within the run. The full run keeps the authors' values.
    /// </summary>
    public static ContraNetOptions QuickContraNet { get; } = new() { KlWeight = 8, GanLearningRate = 1e-3 };

    /// <summary>The quick run: three budgets per sweep, short trainings, a few hundred test images (see <see cref="MixDefenseBenchmarkCase.Describe"/>).</summary>
    public static IReadOnlyList<MixDefenseBenchmarkCase> QuickCases { get; } =
    [
        new(KnownDatasets.Mnist, ClassifierArchitecture.MnistC1, QuickMnist, L2Of(QuickMnist, Grey), ClassifierEpochs: 2, TrainImages: 8_000, TestImages: 400,
            BudgetFreeImages: 200, MagNetEpochs: 4, MagNetWidth: 16, MagNetLearningRate: 1e-3, MagNetBatchSize: 50, MagNetTrainImages: 3_000,
            ContraNetEpochs: 5, ContraNetWidth: 16, ContraNet: QuickContraNet),
        new(GtsrbDatasetCatalog.FolderName, ClassifierArchitecture.CifarC2, QuickColour, L2Of(QuickColour, Colour), ClassifierEpochs: 4, TrainImages: 5_000,
            TestImages: 400, BudgetFreeImages: 200, MagNetEpochs: 4, MagNetWidth: 16, MagNetLearningRate: 1e-3, MagNetBatchSize: 50, MagNetTrainImages: 3_000,
            ContraNetEpochs: 5, ContraNetWidth: 16, ContraNet: QuickContraNet),
        new(KnownDatasets.Cifar10Subset, ClassifierArchitecture.CifarC2, QuickColour, L2Of(QuickColour, Colour), ClassifierEpochs: 5, TestImages: 400,
            BudgetFreeImages: 200, MagNetEpochs: 4, MagNetWidth: 16, MagNetLearningRate: 1e-3, MagNetBatchSize: 50, MagNetTrainImages: 3_000,
            ContraNetEpochs: 5, ContraNetWidth: 16, ContraNet: QuickContraNet),
    ];

    /// <summary>The quick run's CW-L2 budget: 1 binary-search step × 200 iterations from c = 10 (a larger c buys success within fewer iterations).</summary>
    public static CarliniWagnerBudget QuickCarliniWagner { get; } = new(1, 200, 10);

    /// <summary>The quick run's iterations of PGD, the cGAN-input refinement and BPDA (<see cref="MixDefenseBenchmarkOptions.AdaptiveIterations"/>): 20.</summary>
    public const int QuickAdaptiveIterations = 20;

    /// <summary>The quick run's smallest point: 50 successful AEs (the paper's 100 would drop most points of a 400-image run on weak classifiers).</summary>
    public const int QuickMinimumPairs = 50;

    /// <summary>The image shape of a dataset the benchmark knows.</summary>
    public static ImageShape ImageShape(string dataset) =>
        dataset == GtsrbDatasetCatalog.FolderName ? Colour : ClassifierTraining.DatasetImageShape(dataset);

    /// <summary>Runs the cases in order (see the class summary).</summary>
    public static MixDefenseBenchmarkResult Run(MixDefenseBenchmarkOptions options, IProgress<MixDefenseBenchmarkProgress>? progress = null,
                                                CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var clock = Stopwatch.StartNew();
        var results = BenchmarkCases.RunInOrder(options.Cases, progress,
            (index, count, c, stage, detail, fraction) => new MixDefenseBenchmarkProgress(index, count, c, stage, detail, fraction),
            (c, report) => RunCase(c, options, report, cancellationToken));
        return new MixDefenseBenchmarkResult(Runtime.Threads, Runtime.DeviceName(options.Device), Runtime.TorchVersion, options.Seed, clock.Elapsed.TotalSeconds,
            options.CarliniWagner.Describe(), options.MinimumPairs, options.Methods, results);
    }

    /// <summary>A detector layer as the benchmark scores it: a batched score, its threshold, and for MagNet the reformer the classifier reads through.</summary>
    public sealed record Layer(string Name, Func<Tensor, float[]> Score, double Threshold, Func<Tensor, Tensor>? Reform = null);

    private static (IDataView Train, IDataView Test) Load(MLContext ml, MixDefenseBenchmarkCase c, MixDefenseBenchmarkOptions options)
    {
        if (c.Dataset != GtsrbDatasetCatalog.FolderName)
            return ClassifierTraining.LoadSplits(ml, c.Dataset, options.DataDirectory, c.TrainImages, c.TestImages);
        // GTSRB's files are ordered by class: a seeded shuffle before taking a subset (as bench cmag).
        string? folder = options.DataDirectory is null ? null : Path.Combine(options.DataDirectory, GtsrbDatasetCatalog.FolderName);
        IDataView Take(bool train, int? count)
        {
            var view = ml.Data.ShuffleRows(ml.Data.LoadGtsrbSubset(train, folder), options.Seed);
            return count is int n ? ml.Data.TakeRows(view, n) : view;
        }
        return (Take(true, c.TrainImages), Take(false, c.TestImages));
    }

    private static MixDefenseBenchmarkCaseResult RunCase(MixDefenseBenchmarkCase c, MixDefenseBenchmarkOptions options, Action<string, string, double> report,
                                                         CancellationToken token)
    {
        report("load", "", 0);
        var ml = Runtime.CreateMLContext(options.Seed, options.Device);
        var (trainView, testView) = Load(ml, c, options);
        var train = ml.Data.Cache(trainView);
        report("load", "", 1);

        var seconds = new Dictionary<string, double>();
        var watch = Stopwatch.StartNew();
        ImageClassifierTransformer classifier;
        int epochs;
        string source;
        if (options.ClassifierPaths.TryGetValue(c.Dataset, out var path))
        {
            classifier = AttackEvaluation.FindClassifier(ml.Model.Load(path, out _));
            epochs = 0;
            source = path;
        }
        else
        {
            var request = new ClassifierTrainingRequest { Dataset = c.Dataset, Architecture = c.Architecture, Epochs = c.ClassifierEpochs, Seed = options.Seed };
            var trainingProgress = new InlineProgress<ClassifierTrainingStatus>(s => report(s.Stage == ClassifierTrainingStage.Training ? "train" : "classify",
                s.Training is { } t ? $"epoch {t.Epoch}/{t.Epochs} · loss {t.Loss:F4}" : "", s.Fraction));
            (classifier, var training) = ClassifierTraining.Run(ml, request, train, testView, trainingProgress, token);
            epochs = training.Epochs;
            source = "trained here";
        }
        seconds["classifier"] = watch.Elapsed.TotalSeconds;
        using (classifier)
        {
            if (classifier.InputShape != ImageShape(c.Dataset))
                throw new ArgumentException($"The classifier for {c.Dataset} ({source}) takes {classifier.InputShape} images; {c.Dataset} has {ImageShape(c.Dataset)}.");
            int trainCount = checked((int)ClassifierTraining.CountRows(train));

            var layerNames = options.Methods.SelectMany(m => Cascades.TryGetValue(m, out var parts) ? parts : [m]).Distinct().ToList();
            var layers = new Dictionary<string, Layer>();
            var disposables = new List<IDisposable>();
            try
            {
                foreach (var name in layerNames)
                {
                    watch.Restart();
                    report(name, "fitting on the clean training images", 0);
                    layers[name] = FitLayer(name, ml, classifier, train, c, options, disposables, (detail, f) => report(name, detail, f), token);
                    seconds[name] = watch.Elapsed.TotalSeconds;
                    report(name, $"threshold {layers[name].Threshold:G4}", 1);
                }
                var methods = options.Methods.Select(m => Cascades.TryGetValue(m, out var parts) ? Cascade(m, parts.Select(p => layers[p]).ToArray()) : layers[m]).ToList();

                using var test = LabelledImages.Load(testView, classifier.Device);
                var labels = ProtocolSupport.CheckInputs(classifier, test.Images, test.Labels, options.BatchSize);
                var evaluation = new Evaluation(c, classifier, methods, test, labels, options, report, token);
                watch.Restart();
                evaluation.Run();
                seconds["attacks"] = watch.Elapsed.TotalSeconds;
                if (options.Adaptive)
                {
                    watch.Restart();
                    var contranet = disposables.OfType<ContraNetTransformer>().Single();
                    evaluation.RunAdaptive(contranet, layers, options.AdaptiveBudgets ?? c.LinfBudgets);
                    seconds["adaptive"] = watch.Elapsed.TotalSeconds;
                }
                return new MixDefenseBenchmarkCaseResult(c, source, epochs, trainCount, test.Count, evaluation.ClassifierAccuracy,
                    methods.ToDictionary(m => m.Name, m => m.Threshold), evaluation.CleanFalsePositiveRates, seconds,
                    evaluation.Rows, evaluation.CleanRows, evaluation.Points, evaluation.Dropped, evaluation.AdaptiveRows,
                    disposables.OfType<ContraNetTransformer>().SingleOrDefault()?.Info);
            }
            finally
            {
                foreach (var d in disposables) d.Dispose();
            }
        }
    }

    /// <summary>Fits one detector layer on the clean training images.</summary>
    private static Layer FitLayer(string name, MLContext ml, ImageClassifierTransformer classifier, IDataView train, MixDefenseBenchmarkCase c,
                                  MixDefenseBenchmarkOptions options, List<IDisposable> disposables, Action<string, double> report, CancellationToken token)
    {
        switch (name)
        {
            case "saec":
            {
                var saec = ml.Transforms.Defenses.Saec(new SaecOptions { Seed = options.Seed, TargetFalsePositiveRate = options.SaecFalsePositiveRate }).Fit(train);
                return new Layer(name, images => TensorData.ToArray(saec.Score(images)), saec.Threshold);
            }
            case "fs":
            {
                var fs = ml.Transforms.Defenses.FeatureSqueezing(classifier, new FeatureSqueezingOptions
                {
                    TargetFalsePositiveRate = options.DetectorFalsePositiveRate, CancellationToken = token,
                    Progress = new InlineProgress<(long Scored, long? Total)>(p => report($"{p.Scored} clean images scored", p.Total is long t && t > 0 ? p.Scored / (double)t : 0)),
                }).Fit(train);
                disposables.Add(fs);
                return new Layer(name, images => TensorData.ToArray(fs.Score(images)), fs.Threshold);
            }
            case "magnet":
            {
                var magnet = ml.Transforms.Defenses.AeGanPurifier(new AeGanOptions
                {
                    Epochs = c.MagNetEpochs ?? new AeGanOptions().Epochs,
                    BaseChannels = c.MagNetWidth ?? new AeGanOptions().BaseChannels,
                    LearningRate = c.MagNetLearningRate ?? new AeGanOptions().LearningRate,
                    BatchSize = c.MagNetBatchSize ?? new AeGanOptions().BatchSize,
                    SearchPolicy = AeGanSearchPolicy.Never,
                    TargetFalsePositiveRate = options.DetectorFalsePositiveRate,
                    Seed = options.Seed,
                    CancellationToken = token,
                    Progress = new InlineProgress<AeGanTrainingProgress>(p => report($"epoch {p.Epoch}/{p.Epochs} · reconstruction {p.ReconstructionLoss:F4}",
                        p.Epochs * p.BatchesPerEpoch == 0 ? 0 : ((p.Epoch - 1) * (double)p.BatchesPerEpoch + p.Batch) / ((double)p.Epochs * p.BatchesPerEpoch))),
                }).Fit(c.MagNetTrainImages is int n ? ml.Data.TakeRows(train, n) : train);
                disposables.Add(magnet);
                return new Layer(name, images => TensorData.ToArray(magnet.ReconstructionError(images)), magnet.Threshold, magnet.MagNetReconstruct);
            }
            case "contranet":
            {
                // ContraNet reads the classifier's Score column at Fit (its labels y' at inference are the classifier's argmax, Sec. 4.3).
                var defaults = c.ContraNet ?? new ContraNetOptions();
                var contranet = ml.Transforms.Defenses.ContraNet(defaults with
                {
                    ScoreColumnName = classifier.ScoreColumnName,
                    GanEpochs = c.ContraNetEpochs ?? defaults.GanEpochs, MetricEpochs = c.ContraNetEpochs ?? defaults.MetricEpochs,
                    GeneratorWidth = c.ContraNetWidth ?? defaults.GeneratorWidth, DiscriminatorWidth = c.ContraNetWidth ?? defaults.DiscriminatorWidth,
                    MetricWidth = c.ContraNetWidth ?? defaults.MetricWidth,
                    TargetFalsePositiveRate = options.DetectorFalsePositiveRate, Seed = options.Seed, CancellationToken = token,
                    Progress = new InlineProgress<ContraNetTrainingProgress>(p => report(p.ToString(), 0)),
                }).Fit(classifier.Transform(train));
                disposables.Add(contranet);
                return new Layer(name, images =>
                {
                    using var scope = torch.NewDisposeScope();
                    Tensor predicted;
                    using (torch.no_grad()) predicted = classifier.Logits(images).argmax(1);
                    return TensorData.ToArray(contranet.Score(images, predicted));
                }, contranet.Threshold);
            }
            default:
                throw new ArgumentException($"Method '{name}' is not available in this build; available: {string.Join(", ", AvailableMethods)}.");
        }
    }

    /// <summary>
    /// A layer scored through a fitted ML.NET chain and its score column: each batch of images becomes a data view with an <c>Image</c> column,
    /// goes through <paramref name="chain"/>, and <paramref name="scoreColumnName"/> is read back (<see cref="EvaluatedDetector.FromTransformer"/>).
    /// This is how ContraNet joins once merged — it reads the classifier's <c>Score</c> column, so its chain starts with the classifier:
    /// <c>ColumnLayer("contranet", classifier.AsEstimator("Image").Append(ml.Transforms.Defenses.ContraNet(...)).Fit(train), "ContraNetScore", threshold)</c>.
    /// </summary>
    public static Layer ColumnLayer(string name, ITransformer chain, string scoreColumnName, double threshold, string imageColumnName = "Image") =>
        new(name, EvaluatedDetector.FromTransformer(name, chain, scoreColumnName, threshold, imageColumnName).Score, threshold);

    /// <summary>A cascade: flagged when any layer flags; its score max over layers of (score − threshold), threshold 0.</summary>
    public static Layer Cascade(string name, IReadOnlyList<Layer> layers) => new(name, images =>
    {
        var combined = new float[images.shape[0]];
        Array.Fill(combined, float.NegativeInfinity);
        foreach (var layer in layers)
        {
            var scores = layer.Score(images);
            for (int i = 0; i < combined.Length; i++) combined[i] = Math.Max(combined[i], (float)(scores[i] - layer.Threshold));
        }
        return combined;
    }, 0);

    /// <summary>The bins of CW-L2's and DeepFool's successful AEs sorted by L2: (start, end) ranges into the sorted order, at least <paramref name="minimum"/> each.</summary>
    public static IReadOnlyList<(int Start, int End)> Bins(int successes, int minimum, int maximumBins)
    {
        int count = Math.Min(maximumBins, successes / minimum);
        return Enumerable.Range(0, count).Select(b => (b * successes / count, (b + 1) * successes / count)).ToList();
    }

    /// <summary>The names of Sec. 6's adaptive attacks in the rows, after the non-adaptive <c>PGD</c> they are compared with.</summary>
    public static IReadOnlyList<string> AdaptiveAttackNames { get; } =
        [ContraNetInputAttack.AttackName, ContraNetLatentAttack.AttackName, ContraNetLatentAttack.AttackName + "-free", ContraNetBpdaAttack.AttackName];

    /// <summary>The evaluation of one case: clean pass, then every attack on the same images, every method on the same AEs.</summary>
    private sealed class Evaluation(MixDefenseBenchmarkCase c, ImageClassifierTransformer classifier, IReadOnlyList<Layer> methods, LabelledImages test,
                                    int[] labels, MixDefenseBenchmarkOptions options, Action<string, string, double> report, CancellationToken token)
    {
        public List<MixDefenseBenchmarkRow> Rows { get; } = [];
        public List<MixDefenseCleanRow> CleanRows { get; } = [];
        public List<MixDefensePointInfo> Points { get; } = [];
        public List<MixDefensePointInfo> Dropped { get; } = [];
        public List<MixDefenseAdaptiveRow> AdaptiveRows { get; } = [];
        public Dictionary<string, double> CleanFalsePositiveRates { get; } = [];
        public double ClassifierAccuracy { get; private set; }

        private Pass clean = null!;

        /// <summary>What one pass over a set of images gives: the classifier's classes, each method's scores and classes (reformed for MagNet), and L2 perturbations.</summary>
        private sealed record Pass(int[] Predictions, float[][] Scores, int[][] MethodPredictions, float[]? L2);

        public void Run()
        {
            int n = labels.Length;
            clean = Score("clean", n, null);
            ClassifierAccuracy = RobustnessMetrics.Accuracy(clean.Predictions, labels);
            CleanRows.Add(new(c.Dataset, "none", ClassifierAccuracy));
            for (int m = 0; m < methods.Count; m++)
            {
                int correct = 0, flagged = 0;
                for (int i = 0; i < n; i++)
                {
                    bool flag = ThresholdCalibration.IsFlagged(clean.Scores[m][i], methods[m].Threshold);
                    if (flag) flagged++;
                    else if (clean.MethodPredictions[m][i] == labels[i]) correct++;
                }
                CleanRows.Add(new(c.Dataset, methods[m].Name, correct / (double)n));
                CleanFalsePositiveRates[methods[m].Name] = flagged / (double)n;
            }

            var sweeps = new (string Name, AttackNorm Norm, IReadOnlyList<double> Budgets, Func<double, IAdversarialAttack> Make)[]
            {
                ("FGSM", AttackNorm.Linf, c.LinfBudgets, e => new FastGradientAttack(new() { Epsilon = e, Norm = AttackNorm.Linf })),
                ("BIM", AttackNorm.Linf, c.LinfBudgets, e => Bim(e, AttackNorm.Linf)),
                ("FGM", AttackNorm.L2, c.L2Budgets, e => new FastGradientAttack(new() { Epsilon = e, Norm = AttackNorm.L2 })),
                ("BIM", AttackNorm.L2, c.L2Budgets, e => Bim(e, AttackNorm.L2)),
            };
            foreach (var sweep in sweeps)
                foreach (var epsilon in sweep.Budgets)
                {
                    var attack = sweep.Make(epsilon);
                    var pass = Score($"{sweep.Name} {ProtocolSupport.NormName(sweep.Norm)} ε {epsilon:G3}", n, attack);
                    Evaluate(attack.Name, ProtocolSupport.NormName(sweep.Norm), epsilon, pass, Enumerable.Range(0, n).ToList());
                }

            int budgetFree = Math.Min(n, c.BudgetFreeImages ?? n);
            foreach (var attack in new IAdversarialAttack[] { options.CarliniWagner.CreateAttack(), new DeepFoolAttack(new() { Norm = AttackNorm.L2 }) })
            {
                var pass = Score($"{attack.Name} (sorted by L2)", budgetFree, attack);
                var successes = Enumerable.Range(0, budgetFree).Where(i => BalancedPairs.Successful(clean.Predictions[i], pass.Predictions[i], labels[i]))
                                          .OrderBy(i => pass.L2![i]).ToList();
                var bins = Bins(successes.Count, options.MinimumPairs, options.MaximumBins);
                if (bins.Count == 0)
                {
                    Dropped.Add(new(c.Dataset, attack.Name, "l2", successes.Count == 0 ? 0 : pass.L2![successes[^1]], successes.Count, budgetFree,
                                    Enumerable.Range(0, budgetFree).Count(i => pass.Predictions[i] == labels[i]) / (double)budgetFree));
                    continue;
                }
                double lower = 0;
                for (int b = 0; b < bins.Count; b++)
                {
                    var (start, end) = bins[b];
                    double upper = pass.L2![successes[end - 1]];
                    bool first = b == 0;
                    var inBin = Enumerable.Range(0, budgetFree).Where(i => (first ? pass.L2[i] >= 0 : pass.L2[i] > lower) && pass.L2[i] <= upper).ToList();
                    Evaluate(attack.Name, "l2", upper, pass, inBin, successes.GetRange(start, end - start));
                    lower = upper;
                }
            }
        }

        /// <summary>
        /// Sec. 6 at each L∞ budget: PGD from the clean image (the non-adaptive reference and the start of the cGAN-input attack), the cGAN-input attack
        /// (Fig. 12), the latent attacks on PGD's AEs (Fig. 13: FGSM on z at <see cref="MixDefenseBenchmarkOptions.LatentEpsilon"/>, and unconstrained),
        /// and BPDA through the argmax. Every method scores the image-space AEs; the latent attacks change only ContraNet's reconstruction, so they give
        /// rows for <c>contranet</c> and the cascades that contain it (the other layers see PGD's AE).
        /// </summary>
        public void RunAdaptive(ContraNetTransformer contranet, IReadOnlyDictionary<string, Layer> layers, IReadOnlyList<double> budgets)
        {
            int n = labels.Length, steps = options.AdaptiveIterations;
            var latentMethods = Enumerable.Range(0, methods.Count).Where(m => methods[m].Name == "contranet"
                || (Cascades.TryGetValue(methods[m].Name, out var parts) && parts.Contains("contranet"))).ToList();
            // The layers a latent row's cascade needs besides ContraNet (they score PGD's AE as it is).
            var otherLayers = latentMethods.SelectMany(m => Cascades.TryGetValue(methods[m].Name, out var parts) ? parts : []).Where(p => p != "contranet").Distinct().ToList();
            foreach (var epsilon in budgets)
            {
                double step = 2.5 * epsilon / steps;
                var pgd = new ProjectedGradientDescentAttack(new() { Epsilon = epsilon, StepSize = step, Iterations = steps, RandomStart = false });
                var latentAttacks = new List<(string Name, double? Epsilon, ContraNetLatentAttack Attack)>
                {
                    (ContraNetLatentAttack.AttackName, options.LatentEpsilon, new ContraNetLatentAttack(contranet, new() { Epsilon = options.LatentEpsilon })),
                };
                if (options.LatentFreeIterations > 0)
                    latentAttacks.Add((ContraNetLatentAttack.AttackName + "-free", null, new ContraNetLatentAttack(contranet,
                        new() { Epsilon = null, StepSize = options.LatentFreeStepSize, Iterations = options.LatentFreeIterations })));

                // PGD and, on its AEs, the latent attacks: ContraNet's score replaced by d(M(x), M(G(z, y′))), y′ the classifier's class for the AE.
                var pgdPass = NewPass(n, true);
                var latentPasses = latentAttacks.Select(_ => NewPass(n, true)).ToList();
                foreach (var (start, length) in ProtocolSupport.Batches(n, options.BatchSize))
                {
                    token.ThrowIfCancellationRequested();
                    using var scope = torch.NewDisposeScope();
                    var images = test.Images.narrow(0, start, length);
                    var x = ProtocolSupport.Attack(pgd, classifier, images, test.Labels.narrow(0, start, length), token);
                    Fill(pgdPass, start, images, x);
                    var layerScores = otherLayers.ToDictionary(name => name, name => layers[name].Score(x));
                    Tensor predicted;
                    using (torch.no_grad()) predicted = classifier.Logits(x).argmax(1);
                    for (int a = 0; a < latentAttacks.Count; a++)
                    {
                        var latent = latentAttacks[a].Attack.Run(x, predicted, token);
                        pgdPass.Predictions.AsSpan(start, length).CopyTo(latentPasses[a].Predictions.AsSpan(start));
                        foreach (int m in latentMethods)
                        {
                            var parts = Cascades.TryGetValue(methods[m].Name, out var p) ? p : [methods[m].Name];
                            for (int i = 0; i < length; i++)
                                latentPasses[a].Scores[m][start + i] = parts.Length == 1 ? latent.Scores[i]
                                    : parts.Max(part => part == "contranet" ? (float)(latent.Scores[i] - layers[part].Threshold) : (float)(layerScores[part][i] - layers[part].Threshold));
                            pgdPass.MethodPredictions[m].AsSpan(start, length).CopyTo(latentPasses[a].MethodPredictions[m].AsSpan(start));
                        }
                    }
                    report($"adaptive ε {epsilon:G3}", $"PGD and latent attacks {start + length}/{n} images", (start + length) / (double)n);
                }
                EvaluateAdaptive("PGD", epsilon, pgdPass, null, null);
                var input = Score($"{ContraNetInputAttack.AttackName} ε {epsilon:G3}", n,
                    new ContraNetInputAttack(contranet, new() { Epsilon = epsilon, StepSize = step, Iterations = steps }));
                EvaluateAdaptive(ContraNetInputAttack.AttackName, epsilon, input, null, null);
                for (int a = 0; a < latentAttacks.Count; a++)
                    EvaluateAdaptive(latentAttacks[a].Name, epsilon, latentPasses[a], latentMethods, latentAttacks[a].Epsilon);
                var bpda = Score($"{ContraNetBpdaAttack.AttackName} ε {epsilon:G3}", n,
                    new ContraNetBpdaAttack(contranet, new() { Epsilon = epsilon, StepSize = step, Iterations = steps, ScoreWeight = options.AdaptiveScoreWeight }));
                EvaluateAdaptive(ContraNetBpdaAttack.AttackName, epsilon, bpda, null, null);
            }
        }

        private Pass NewPass(int count, bool withL2) =>
            new(new int[count], methods.Select(_ => new float[count]).ToArray(), methods.Select(_ => new int[count]).ToArray(), withL2 ? new float[count] : null);

        /// <summary>Fills <paramref name="pass"/> at <paramref name="start"/> with the classifier's classes and every method's scores for the AEs <paramref name="x"/> of <paramref name="images"/>.</summary>
        private void Fill(Pass pass, int start, Tensor images, Tensor x)
        {
            var plain = ProtocolSupport.Predict(classifier, x);
            plain.CopyTo(pass.Predictions, start);
            if (pass.L2 is not null)
            {
                using var _ = torch.no_grad();
                TensorData.ToArray((x - images).flatten(1).norm(1)).CopyTo(pass.L2, start);
            }
            for (int m = 0; m < methods.Count; m++)
            {
                methods[m].Score(x).CopyTo(pass.Scores[m], start);
                if (methods[m].Reform is { } reform)
                {
                    using var _ = torch.no_grad();
                    ProtocolSupport.Predict(classifier, reform(x)).CopyTo(pass.MethodPredictions[m], start);
                }
                else plain.CopyTo(pass.MethodPredictions[m], start);
            }
        }

        /// <summary>An adaptive point: the rows of <see cref="Evaluate"/> for <paramref name="only"/> (default: every method), with the attack's success rate and mean scores.</summary>
        private void EvaluateAdaptive(string attack, double epsilon, Pass pass, IReadOnlyList<int>? only, double? latentEpsilon)
        {
            var set = Enumerable.Range(0, labels.Length).ToList();
            var pairs = set.Where(i => BalancedPairs.Successful(clean.Predictions[i], pass.Predictions[i], labels[i])).ToList();
            int correct = set.Count(i => clean.Predictions[i] == labels[i]);
            if (pairs.Count < options.MinimumPairs)
            {
                Dropped.Add(new(c.Dataset, attack, "linf", epsilon, pairs.Count, set.Count, set.Count(i => pass.Predictions[i] == labels[i]) / (double)set.Count));
                return;
            }
            foreach (int m in only ?? Enumerable.Range(0, methods.Count).ToList())
            {
                var detection = BalancedPairs.Metrics(pairs, clean.Scores[m], pass.Scores[m], methods[m].Threshold);
                int handled = set.Count(i => ThresholdCalibration.IsFlagged(pass.Scores[m][i], methods[m].Threshold) || pass.MethodPredictions[m][i] == labels[i]);
                int evaded = pairs.Count(i => !ThresholdCalibration.IsFlagged(pass.Scores[m][i], methods[m].Threshold));
                AdaptiveRows.Add(new(c.Dataset, attack, "linf", epsilon, methods[m].Name, detection.Accuracy, handled / (double)set.Count, detection.Recall,
                    detection.FalsePositiveRate, detection.Auc, correct == 0 ? 0 : pairs.Count / (double)correct, correct == 0 ? 0 : evaded / (double)correct,
                    pairs.Count, set.Count,
                    pairs.Average(i => (double)pass.Scores[m][i]), pairs.Average(i => (double)clean.Scores[m][i]), latentEpsilon));
            }
        }

        private BasicIterativeAttack Bim(double epsilon, AttackNorm norm) =>
            new(new() { Epsilon = epsilon, StepSize = epsilon / 4, Iterations = options.BimIterations, Norm = norm });

        /// <summary>The classifier's classes and every method's scores on the first <paramref name="count"/> test images, attacked by <paramref name="attack"/> (none: clean).</summary>
        private Pass Score(string stage, int count, IAdversarialAttack? attack)
        {
            var pass = NewPass(count, attack is not null);
            foreach (var (start, length) in ProtocolSupport.Batches(count, options.BatchSize))
            {
                token.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                var images = test.Images.narrow(0, start, length);
                var x = attack is null ? images : ProtocolSupport.Attack(attack, classifier, images, test.Labels.narrow(0, start, length), token);
                Fill(pass, start, images, x);
                report(stage, $"{start + length}/{count} images", (start + length) / (double)count);
            }
            return pass;
        }

        /// <summary>
        /// One point: Acc_Detector, TPR, FPR, AUC on <paramref name="pairs"/> (successful AEs, default: all of <paramref name="set"/>'s) with their clean
        /// images; Acc_RC over every AE of <paramref name="set"/>. Dropped below the minimum number of pairs.
        /// </summary>
        private void Evaluate(string attack, string norm, double epsilon, Pass pass, List<int> set, List<int>? pairs = null)
        {
            pairs ??= set.Where(i => BalancedPairs.Successful(clean.Predictions[i], pass.Predictions[i], labels[i])).ToList();
            double adversarialAccuracy = set.Count(i => pass.Predictions[i] == labels[i]) / (double)set.Count;
            var info = new MixDefensePointInfo(c.Dataset, attack, norm, epsilon, pairs.Count, set.Count, adversarialAccuracy);
            if (pairs.Count < options.MinimumPairs)
            {
                Dropped.Add(info);
                return;
            }
            Points.Add(info);
            for (int m = 0; m < methods.Count; m++)
            {
                var detection = BalancedPairs.Metrics(pairs, clean.Scores[m], pass.Scores[m], methods[m].Threshold);
                int handled = set.Count(i => ThresholdCalibration.IsFlagged(pass.Scores[m][i], methods[m].Threshold) || pass.MethodPredictions[m][i] == labels[i]);
                Rows.Add(new(c.Dataset, attack, norm, epsilon, methods[m].Name, detection.Accuracy, handled / (double)set.Count, detection.Recall,
                             detection.FalsePositiveRate, detection.Auc));
            }
        }
    }
}

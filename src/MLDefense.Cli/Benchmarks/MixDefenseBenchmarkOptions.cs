using System.Globalization;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Defenses;

namespace MLDefense.Benchmarks;

/// <summary>One dataset of the MixDefense benchmark: the target classifier, how much to train, the budgets to sweep.</summary>
/// <param name="Dataset"><c>mnist</c>, <c>gtsrb-subset</c> (served at 32×32) or <c>cifar10-subset</c>.</param>
/// <param name="Architecture">The target classifier (C1 for MNIST, C2 for the 3×32×32 datasets).</param>
/// <param name="LinfBudgets">The L∞ budgets of FGSM and BIM, in [0, 1] pixel units.</param>
/// <param name="L2Budgets">The L2 budgets of FGM and BIM.</param>
/// <param name="ClassifierEpochs">Classifier epochs; null = the architecture's default.</param>
/// <param name="TrainImages">Training images (classifier and every detector's fit); null = all. GTSRB's are drawn after a seeded shuffle (its files are ordered by class).</param>
/// <param name="TestImages">Test images attacked by the budgeted attacks; null = all (GTSRB: shuffled too).</param>
/// <param name="BudgetFreeImages">The first this-many of them attacked by CW-L2 and DeepFool; null = all of <paramref name="TestImages"/>.</param>
/// <param name="MagNetEpochs">Epochs of the MagNet-style autoencoder (AE-GAN's F and G); null = AE-GAN's 60.</param>
/// <param name="MagNetWidth">Its base channel width; null = AE-GAN's 64.</param>
/// <param name="MagNetLearningRate">Its Adam learning rate; null = AE-GAN's 2e-4.</param>
/// <param name="MagNetBatchSize">Its minibatch; null = AE-GAN's 100.</param>
/// <param name="MagNetTrainImages">It trains (and calibrates) on the first this-many training images; null = all of them.</param>
/// <param name="ContraNetEpochs">ContraNet's cGAN epochs and its metric model's; null = <see cref="ContraNetOptions"/>' defaults (the authors' 100 each).</param>
/// <param name="ContraNetWidth">ContraNet's generator, discriminator and metric-model widths; null = <see cref="ContraNetOptions"/>' default (32).</param>
/// <param name="ContraNet">
/// ContraNet's options to start from (e.g. the README's short-training settings: a faster Adam rate, a stronger KL term); null = <see cref="ContraNetOptions"/>'
/// defaults. <paramref name="ContraNetEpochs"/> and <paramref name="ContraNetWidth"/> override its epochs and widths when set; the benchmark sets the score
/// column, the target FPR, the seed, progress and cancellation.
/// </param>
public sealed record MixDefenseBenchmarkCase(string Dataset, ClassifierArchitecture Architecture, IReadOnlyList<double> LinfBudgets, IReadOnlyList<double> L2Budgets,
    int? ClassifierEpochs = null, int? TrainImages = null, int? TestImages = null, int? BudgetFreeImages = null, int? MagNetEpochs = null, int? MagNetWidth = null,
    double? MagNetLearningRate = null, int? MagNetBatchSize = null, int? MagNetTrainImages = null, int? ContraNetEpochs = null, int? ContraNetWidth = null,
    ContraNetOptions? ContraNet = null)
{
    /// <summary>Its shape in words, for "--quick shortens".</summary>
    public string Describe()
    {
        static string N(int? n) => n?.ToString(CultureInfo.InvariantCulture) ?? "all";
        int epochs = ClassifierEpochs ?? ClassifierArchitectures.TrainingDefaults(Architecture).Epochs;
        return $"{Dataset}: {ClassifierTraining.ShortName(Architecture)} {epochs} epochs on {N(TrainImages)} training images, {N(TestImages)} test images " +
               $"({N(BudgetFreeImages ?? TestImages)} for CW-L2/DeepFool), MagNet autoencoder {MagNetEpochs ?? 60} epochs on {N(MagNetTrainImages ?? TrainImages)} images at width {MagNetWidth ?? 64} " +
               $"(Adam {(MagNetLearningRate ?? 2e-4).ToString(CultureInfo.InvariantCulture)}, batch {MagNetBatchSize ?? 100}), " +
               $"ContraNet {ContraNetEpochs ?? (ContraNet ?? new ContraNetOptions()).GanEpochs} cGAN + {ContraNetEpochs ?? (ContraNet ?? new ContraNetOptions()).MetricEpochs} metric epochs " +
               $"at width {ContraNetWidth ?? (ContraNet ?? new ContraNetOptions()).GeneratorWidth}" + ContraNetDepartures();
    }

    /// <summary>Where <see cref="ContraNet"/> departs from the authors' KL weight and learning rate, in words (empty when it does not).</summary>
    private string ContraNetDepartures()
    {
        var authors = new ContraNetOptions();
        var o = ContraNet ?? authors;
        var parts = new List<string>();
        if (o.KlWeight != authors.KlWeight) parts.Add(string.Create(CultureInfo.InvariantCulture, $"KL weight {o.KlWeight:G3} instead of {authors.KlWeight:G3}"));
        if (o.GanLearningRate != authors.GanLearningRate) parts.Add(string.Create(CultureInfo.InvariantCulture, $"cGAN Adam {o.GanLearningRate:G3} instead of {authors.GanLearningRate:G3}"));
        return parts.Count == 0 ? "" : " (" + string.Join(", ", parts) + ")";
    }
}

/// <summary>Settings of <see cref="MixDefenseBenchmark.Run"/>.</summary>
public sealed record MixDefenseBenchmarkOptions
{
    /// <summary>The datasets, in order. Default <see cref="MixDefenseBenchmark.FullCases"/>.</summary>
    public IReadOnlyList<MixDefenseBenchmarkCase> Cases { get; init; } = MixDefenseBenchmark.FullCases;

    /// <summary>The detectors evaluated (names of <see cref="MixDefenseBenchmark.AvailableMethods"/>), on the same adversarial examples. Default <see cref="MixDefenseBenchmark.DefaultMethods"/>.</summary>
    public IReadOnlyList<string> Methods { get; init; } = MixDefenseBenchmark.DefaultMethods;

    /// <summary>The dataset root; null searches the default places.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The seed of everything random. Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Where everything runs. Default <see cref="ComputeDevice.Auto"/>.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    /// <summary>BIM's iterations under both norms (step ε / 4). Default 10 (as <c>bench saec</c>).</summary>
    public int BimIterations { get; init; } = 10;

    /// <summary>CW-L2's budget. Default <see cref="CarliniWagnerBudget.Full"/>.</summary>
    public CarliniWagnerBudget CarliniWagner { get; init; } = CarliniWagnerBudget.Full;

    /// <summary>
    /// A point (a budget, or a perturbation bin of CW-L2 and DeepFool) is dropped when fewer successful adversarial examples exist. Default 100:
    /// "once the collected AE number is less than 100, we will simply crop the corresponding perturbation budgets" (Sec. 5.2).
    /// </summary>
    public int MinimumPairs { get; init; } = 100;

    /// <summary>The most perturbation bins CW-L2's and DeepFool's examples are sorted into (each of at least <see cref="MinimumPairs"/> successful ones). Default 5.</summary>
    public int MaximumBins { get; init; } = 5;

    /// <summary>SAEC's target false-positive rate. Default 0.01 (its own default, as <c>bench saec</c>).</summary>
    public double SaecFalsePositiveRate { get; init; } = 0.01;

    /// <summary>Feature Squeezing's and MagNet's target false-positive rate. Default 0.05 (Xu et al.'s; MixDefense's authors drop 5% per sub-detector).</summary>
    public double DetectorFalsePositiveRate { get; init; } = 0.05;

    /// <summary>Classifier zips to use instead of training, by dataset (from <c>mldefense train-classifier</c> or an earlier run); missing datasets are trained.</summary>
    public IReadOnlyDictionary<string, string> ClassifierPaths { get; init; } = new Dictionary<string, string>();

    /// <summary>Images per attack and scoring batch. Default 200.</summary>
    public int BatchSize { get; init; } = 200;

    /// <summary>
    /// Also run Sec. 6's adaptive attacks on ContraNet (<see cref="MixDefenseBenchmark.AdaptiveAttackNames"/>) at <see cref="AdaptiveBudgets"/>, with
    /// the non-adaptive PGD they start from as the reference; rows of their own (<see cref="MixDefenseBenchmarkCaseResult.AdaptiveRows"/>). Needs
    /// <c>contranet</c> or <c>mixdefense</c> among the methods. Default false.
    /// </summary>
    public bool Adaptive { get; init; }

    /// <summary>The adaptive attacks' L∞ image budgets; null (default) = each case's L∞ budgets.</summary>
    public IReadOnlyList<double>? AdaptiveBudgets { get; init; }

    /// <summary>
    /// Iterations of PGD, of the cGAN-input attack's refinement and of the BPDA attack; the step is 2.5·ε / iterations (Madry et al.'s rule).
    /// Default 40 (Madry et al.'s MNIST PGD).
    /// </summary>
    public int AdaptiveIterations { get; init; } = 40;

    /// <summary>The BPDA attack's weight w of the detector's score (in units of its threshold) against the cross-entropy. Default 1 (<see cref="ContraNetBpdaOptions.ScoreWeight"/>).</summary>
    public double AdaptiveScoreWeight { get; init; } = 1;

    /// <summary>The latent attack's L∞ budget on z for the paper's row (Fig. 13's FGSM, one step of ε). Default 0.3, the largest of Fig. 13.</summary>
    public double LatentEpsilon { get; init; } = 0.3;

    /// <summary>
    /// Steps of the unconstrained latent attack's row (<c>adaptive-latent-free</c>: signed steps of <see cref="LatentFreeStepSize"/> with no bound on z,
    /// the freedom of Fig. 13's caption). Default 100; 0 skips the row.
    /// </summary>
    public int LatentFreeIterations { get; init; } = 100;

    /// <summary>The step on z of the unconstrained latent attack. Default 0.05.</summary>
    public double LatentFreeStepSize { get; init; } = 0.05;

    internal void Validate()
    {
        if (Cases.Count == 0) throw new ArgumentException("The benchmark has no cases to run.");
        if (Methods.Count == 0) throw new ArgumentException("The benchmark has no methods to evaluate.");
        var unknown = Methods.Where(m => !MixDefenseBenchmark.AvailableMethods.Contains(m)).ToArray();
        if (unknown.Length > 0)
            throw new ArgumentException($"Unknown method(s) {string.Join(", ", unknown)}; available: {string.Join(", ", MixDefenseBenchmark.AvailableMethods)}" +
                ".");
        if (BimIterations < 1) throw new ArgumentOutOfRangeException(nameof(BimIterations), BimIterations, "BimIterations must be at least 1.");
        if (MinimumPairs < 1) throw new ArgumentOutOfRangeException(nameof(MinimumPairs), MinimumPairs, "MinimumPairs must be at least 1.");
        if (MaximumBins < 1) throw new ArgumentOutOfRangeException(nameof(MaximumBins), MaximumBins, "MaximumBins must be at least 1.");
        CarliniWagner.Validate();
        if (Adaptive && !Methods.Contains("contranet") && !Methods.Contains("mixdefense"))
            throw new ArgumentException("Adaptive: Sec. 6's attacks are on ContraNet; add contranet or mixdefense to the methods.");
        if (AdaptiveIterations < 1) throw new ArgumentOutOfRangeException(nameof(AdaptiveIterations), AdaptiveIterations, "AdaptiveIterations must be at least 1.");
        if (!(AdaptiveScoreWeight >= 0) || double.IsInfinity(AdaptiveScoreWeight))
            throw new ArgumentOutOfRangeException(nameof(AdaptiveScoreWeight), AdaptiveScoreWeight, "AdaptiveScoreWeight must be a finite number ≥ 0.");
        if (!(LatentEpsilon > 0) || double.IsInfinity(LatentEpsilon))
            throw new ArgumentOutOfRangeException(nameof(LatentEpsilon), LatentEpsilon, "LatentEpsilon must be a finite number > 0.");
        if (LatentFreeIterations < 0) throw new ArgumentOutOfRangeException(nameof(LatentFreeIterations), LatentFreeIterations, "LatentFreeIterations must be ≥ 0.");
        if (!(LatentFreeStepSize > 0) || double.IsInfinity(LatentFreeStepSize))
            throw new ArgumentOutOfRangeException(nameof(LatentFreeStepSize), LatentFreeStepSize, "LatentFreeStepSize must be a finite number > 0.");
        if (AdaptiveBudgets is { } budgets && (budgets.Count == 0 || budgets.Any(e => !(e > 0) || double.IsInfinity(e))))
            throw new ArgumentException("AdaptiveBudgets: give at least one budget, each a finite number > 0.");
        foreach (var c in Cases)
        {
            if (MixDefenseBenchmark.ImageShape(c.Dataset) != ClassifierArchitectures.InputShape(c.Architecture))
                throw new ArgumentException($"Case {c.Dataset}: {ClassifierTraining.ShortName(c.Architecture)} takes {ClassifierArchitectures.InputShape(c.Architecture)} images.");
            if (c.LinfBudgets.Concat(c.L2Budgets).Any(e => !(e > 0) || double.IsInfinity(e)))
                throw new ArgumentException($"Case {c.Dataset}: every budget must be a finite number > 0.");
        }
    }
}

/// <summary>Where <see cref="MixDefenseBenchmark.Run"/> stands.</summary>
public sealed record MixDefenseBenchmarkProgress(int CaseIndex, int CaseCount, MixDefenseBenchmarkCase Case, string Stage, string Detail, double Fraction);

using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Defenses;
using MLDefense.Classifiers;

namespace MLDefense.Benchmarks;

/// <summary>One dataset of the AE-GAN benchmark: how much of classifier A and of the purifier to train, and how many images to evaluate.</summary>
/// <param name="Dataset"><see cref="KnownDatasets.Mnist"/> or <see cref="KnownDatasets.FashionMnist"/>.</param>
/// <param name="ClassifierEpochs">Classifier A's epochs; null = its default (10).</param>
/// <param name="ClassifierTrainImages">Classifier A's training images (the first ones); null = all.</param>
/// <param name="PurifierEpochs">AE-GAN's epochs; null = its default (60, Table 4).</param>
/// <param name="PurifierTrainImages">AE-GAN's training images (the first ones); null = all.</param>
/// <param name="PurifierBaseChannels">AE-GAN's channel width w; null = its default (64, Table 6).</param>
/// <param name="PurifierLearningRate">AE-GAN's Adam learning rate; null = its default (2e-4, Table 4).</param>
/// <param name="PurifierBatchSize">AE-GAN's minibatch size; null = its default (100, Table 4).</param>
/// <param name="TestImages">The first this-many test images are attacked and purified by none, magnet and aegan.</param>
/// <param name="DefenseGanImages">The first this-many of them are also purified by the Defense-GAN-style search (the costliest method).</param>
/// <param name="BpdaImages">The first this-many test images are attacked through the purifier (BPDA-PGD).</param>
/// <param name="PurifierReconstructionWeight">AE-GAN's λ (<see cref="AeGanOptions.ReconstructionWeight"/>); null = its default (1, Eq. 5).</param>
/// <param name="PurifierLatentDimension">AE-GAN's latent dimension k; null = its default (128, Table 4).</param>
/// <param name="PurifierNoiseBound">AE-GAN's noise-regularisation bound b (<see cref="AeGanOptions.NoiseBound"/>); null = its default (0.3).</param>
/// <param name="WhiteBoxImages">
/// With <see cref="AeGanBenchmarkOptions.WhiteBox"/>, the first this-many test images are attacked through the defense: through
/// G∘F (judged by magnet and aegan) and through Alg. 2 with its search unrolled (judged by aegan).
/// </param>
/// <param name="WhiteBoxDefenseGanImages">
/// With <see cref="AeGanBenchmarkOptions.WhiteBox"/>, the first this-many test images are attacked through the Defense-GAN-style
/// search with its R·L steps unrolled (judged by defensegan); 0 skips it.
/// </param>
public sealed record AeGanBenchmarkCase(string Dataset, int? ClassifierEpochs, int? ClassifierTrainImages, int? PurifierEpochs,
                                        int? PurifierTrainImages, int? PurifierBaseChannels, double? PurifierLearningRate, int? PurifierBatchSize,
                                        int TestImages, int DefenseGanImages, int BpdaImages,
                                        double? PurifierReconstructionWeight = null, int? PurifierLatentDimension = null,
                                        double? PurifierNoiseBound = null, int WhiteBoxImages = 0, int WhiteBoxDefenseGanImages = 0);

/// <summary>Settings of <see cref="AeGanBenchmark.Run"/>; <see cref="Full"/> and <see cref="Quick"/> are the CLI's presets.</summary>
public sealed record AeGanBenchmarkOptions
{
    /// <summary>The datasets, run in order.</summary>
    public IReadOnlyList<AeGanBenchmarkCase> Cases { get; init; } = AeGanBenchmark.FullCases;

    /// <summary>
    /// Trained classifier-A zips (from <c>mldefense train-classifier --architecture a</c>) by dataset name; a dataset
    /// without one trains A first, as its case says.
    /// </summary>
    public IReadOnlyDictionary<string, string> ModelPaths { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Trained AE-GAN zips (a model holding an <see cref="AeGanTransformer"/>, e.g. one this benchmark saved to
    /// <see cref="PurifierSaveDirectory"/>) by dataset name, used instead of training one; the benchmark's search settings
    /// replace the saved ones. A dataset without one trains AE-GAN as its case says.
    /// </summary>
    public IReadOnlyDictionary<string, string> PurifierPaths { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Where each purifier trained by the run is saved, as <c>aegan-DATASET.zip</c> (the folder is created), so that a long
    /// training can be evaluated again with <see cref="PurifierPaths"/>; null saves nothing. While it trains, the purifier
    /// keeps a checkpoint there too (<c>aegan-DATASET.checkpoint</c>, <see cref="AeGanOptions.CheckpointPath"/>), so that
    /// an interrupted run, started again with the same options, resumes after its last completed epoch (its training
    /// seconds then count the resumed part only); the checkpoint is deleted once the purifier is fitted.
    /// </summary>
    public string? PurifierSaveDirectory { get; init; }

    /// <summary>
    /// The epochs at which each purifier the run trains is probed on its way to its last epoch (a learning curve: accuracy
    /// under each white-box attack against epochs). At each, AE-GAN is fitted to that many epochs — continuing the previous
    /// probe's training through its kept checkpoint (<see cref="AeGanOptions.KeepCheckpoint"/>), so the curve costs one training
    /// plus a calibration and an evaluation per probe — and none, magnet and aegan are evaluated against FGSM, PGD and CW-L2
    /// on the first <see cref="CurveTestImages"/> test images; the final purifier is probed too. The probes are kept in
    /// <c>aegan-DATASET.curve.json</c> in <see cref="PurifierSaveDirectory"/> (required), so an interrupted run does not
    /// repeat them; the checkpoint stays there too, so a later run with more epochs extends the curve. Cases whose purifier
    /// is given (<see cref="PurifierPaths"/>) have no curve. Empty (default): no curve.
    /// </summary>
    public IReadOnlyList<int> CurveEpochs { get; init; } = [];

    /// <summary>The first this-many test images each probe of the curve is evaluated on. Default 1 000.</summary>
    public int CurveTestImages { get; init; } = 1000;

    /// <summary>L, the purifier's search steps for flagged images. Default 15 (the paper's AE-GAN+sr setting).</summary>
    public int SearchSteps { get; init; } = 15;

    /// <summary>η, the purifier's initial search step size; null = <see cref="AeGanOptions.SearchStepSize"/>'s default.</summary>
    public double? SearchStepSize { get; init; }

    /// <summary>R, the Defense-GAN-style search's random starts. Default 10 (Defense-GAN's).</summary>
    public int DefenseGanRestarts { get; init; } = 10;

    /// <summary>L, the Defense-GAN-style search's iterations. Default 200 (Defense-GAN's).</summary>
    public int DefenseGanIterations { get; init; } = 200;

    /// <summary>PGD's iterations (L∞ ε = 0.3, step 0.01, random start; for the white-box and the BPDA rows). Default 40 (Madry et al.).</summary>
    public int PgdIterations { get; init; } = 40;

    /// <summary>
    /// Whether to add the paper's white-box rows (Sec. 3.1: the attacker knows the classifier and the defense; Table 1's
    /// white-box rows): FGSM, PGD and CW-L2 differentiated through the defense, as Defense-GAN's official white-box
    /// evaluation does (its reconstruction built into the attacked model, <c>back_prop=True</c> over the GD loop) —
    /// through G∘F (<see cref="AeGanWhiteBoxClassifier.ThroughReconstruction"/>, rows magnet and aegan), through Alg. 2
    /// with the L search steps unrolled (<see cref="AeGanWhiteBoxClassifier.ThroughSearch"/>, row aegan), with the attacks of
    /// <see cref="WhiteBoxAttacks"/> on the first <see cref="AeGanBenchmarkCase.WhiteBoxImages"/> test images, and through the Defense-GAN-style search with its R·L
    /// steps unrolled (<see cref="AeGanWhiteBoxClassifier.ThroughDefenseGanSearch"/>, row defensegan) with the attacks of
    /// <see cref="WhiteBoxDefenseGanAttacks"/> on the first <see cref="AeGanBenchmarkCase.WhiteBoxDefenseGanImages"/>.
    /// Rows carry <c>threat</c> <c>white-box</c>. Default false.
    /// </summary>
    public bool WhiteBox { get; init; }

    /// <summary>The attacks run through G∘F and through the unrolled AE-GAN+sr search (of FGSM, PGD, CW-L2). Default all three.</summary>
    public IReadOnlyList<string> WhiteBoxAttacks { get; init; } = AeGanBenchmark.Attacks;

    /// <summary>
    /// The attacks run through the unrolled Defense-GAN-style search (of FGSM, PGD, CW-L2). Default FGSM only: each of its
    /// input gradients differentiates R·L = 2 000 steps of G twice, so PGD costs its iterations times as much and CW-L2 its
    /// binary-search steps × iterations times as much.
    /// </summary>
    public IReadOnlyList<string> WhiteBoxDefenseGanAttacks { get; init; } = ["FGSM"];

    /// <summary>
    /// Images per batch of the attacks through the unrolled Defense-GAN-style search, whose graph holds R·L steps of G per
    /// image until the backward pass. Default 2.
    /// </summary>
    public int WhiteBoxDefenseGanBatchSize { get; init; } = 2;

    /// <summary>CW-L2's budget. Default <see cref="CarliniWagnerBudget.Full"/>, as <c>bench attacks</c>.</summary>
    public CarliniWagnerBudget CarliniWagner { get; init; } = CarliniWagnerBudget.Full;

    /// <summary>Images per batch of the attacks and the purifiers. Default 100.</summary>
    public int BatchSize { get; init; } = 100;

    /// <summary>The dataset root (see <see cref="KnownDatasets.Resolve"/>); null searches the default places.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The seed of training, PGD's random start and the Defense-GAN-style search's starts. Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Where everything runs. Default <see cref="ComputeDevice.Auto"/>.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    /// <summary>
    /// The full run: classifier A with its defaults (10 epochs) and AE-GAN with Table 4's (60 epochs, w = 64, k = 128) on
    /// all 60 000 training images; the first 10 000 test images (all) for none, magnet and aegan, the first 1 000 for the
    /// Defense-GAN-style search and for BPDA; CW-L2 with <see cref="CarliniWagnerBudget.Full"/>. Sized for a GPU.
    /// </summary>
    public static AeGanBenchmarkOptions Full => new();

    /// <summary>The quick run, sized for two CPU cores (see <see cref="AeGanBenchmark.QuickCases"/>); CW-L2 with <see cref="CarliniWagnerBudget.Quick"/>, as <c>bench attacks --quick</c>.</summary>
    public static AeGanBenchmarkOptions Quick => new()
    {
        Cases = AeGanBenchmark.QuickCases, CarliniWagner = CarliniWagnerBudget.Quick,
    };

    internal void Validate()
    {
        if (Cases.Count == 0) throw new ArgumentException("The benchmark has no cases to run.");
        foreach (var c in Cases)
        {
            if (ClassifierTraining.Incompatibility(c.Dataset, ClassifierArchitecture.DefenseGanA) is { } why)
                throw new ArgumentException($"Benchmark case {c.Dataset}: {why}");
            if (c.TestImages < 1 || c.DefenseGanImages < 0 || c.BpdaImages < 0 || c.WhiteBoxImages < 0 || c.WhiteBoxDefenseGanImages < 0)
                throw new ArgumentOutOfRangeException(nameof(Cases), $"Benchmark case {c.Dataset}: image counts must be positive.");
            if (!PurifierPaths.ContainsKey(c.Dataset) &&
                LearningCurves.Problem(CurveEpochs, c.PurifierEpochs ?? new AeGanOptions().Epochs, PurifierSaveDirectory, CurveTestImages, nameof(PurifierSaveDirectory)) is { } curve)
                throw new ArgumentException($"{nameof(CurveEpochs)} (case {c.Dataset}): {curve}");
        }
        CheckPaths(ModelPaths, "model");
        CheckPaths(PurifierPaths, "purifier");
        if (SearchSteps < 0 || DefenseGanRestarts < 1 || DefenseGanIterations < 0 || PgdIterations < 1 || BatchSize < 1 || SearchStepSize is < 0 or double.NaN
            || WhiteBoxDefenseGanBatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(SearchSteps), "Step counts, restarts and the batch sizes must be positive.");
        if (WhiteBoxAttacks.FirstOrDefault(a => !AeGanBenchmark.Attacks.Contains(a)) is { } unknownAttack)
            throw new ArgumentException($"{nameof(WhiteBoxAttacks)}: '{unknownAttack}' is not one of {string.Join(", ", AeGanBenchmark.Attacks)}.");
        if (WhiteBoxDefenseGanAttacks.FirstOrDefault(a => !AeGanBenchmark.Attacks.Contains(a)) is { } unknown)
            throw new ArgumentException($"{nameof(WhiteBoxDefenseGanAttacks)}: '{unknown}' is not one of {string.Join(", ", AeGanBenchmark.Attacks)}.");
        CarliniWagner.Validate();
    }

    private void CheckPaths(IReadOnlyDictionary<string, string> paths, string what)
    {
        foreach (var (dataset, path) in paths)
        {
            if (!Cases.Any(c => c.Dataset == dataset)) throw new ArgumentException($"A {what} was given for {dataset}, which the benchmark does not run.");
            if (!File.Exists(path)) throw new FileNotFoundException($"The {what} {path} does not exist.", path);
        }
    }
}

/// <summary>Where <see cref="AeGanBenchmark.Run"/> stands.</summary>
/// <param name="CaseIndex">The 0-based index of the running case.</param>
/// <param name="CaseCount">The number of cases.</param>
/// <param name="Dataset">The running case's dataset.</param>
/// <param name="Stage">What runs: <c>load</c>, <c>train A</c>, <c>train AE-GAN</c>, <c>search</c>, an attack's name, <c>BPDA</c>.</param>
/// <param name="Detail">More about the stage, or empty.</param>
/// <param name="Fraction">The share of the stage done, in [0, 1].</param>
public sealed record AeGanBenchmarkProgress(int CaseIndex, int CaseCount, string Dataset, string Stage, string Detail, double Fraction);

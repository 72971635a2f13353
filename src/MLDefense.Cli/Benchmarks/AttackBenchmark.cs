using System.Diagnostics;
using System.Globalization;
using MLDefense.Attacks;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Evaluation;
using MLDefense.Classifiers;

namespace MLDefense.Benchmarks;

/// <summary>Settings of <see cref="AttackBenchmark.Run"/>; <see cref="Full"/> and <see cref="Quick"/> are the CLI's presets.</summary>
public sealed record AttackBenchmarkOptions
{
    /// <summary>The first this-many MNIST test images are attacked. Default 10 000 (all).</summary>
    public int TestImages { get; init; } = 10_000;

    /// <summary>
    /// A trained C1 MNIST classifier (a zip from <c>mldefense train-classifier</c>); null trains one first with
    /// <see cref="FallbackTrainingEpochs"/> epochs on the first <see cref="FallbackTrainingImages"/> training images.
    /// </summary>
    public string? ModelPath { get; init; }

    /// <summary>Epochs of the classifier trained when there is no <see cref="ModelPath"/>. Default 1 (of the paper's 10), to stay short.</summary>
    public int FallbackTrainingEpochs { get; init; } = 1;

    /// <summary>Training images of the classifier trained when there is no <see cref="ModelPath"/>; null = all 60 000. Default 10 000.</summary>
    public int? FallbackTrainingImages { get; init; } = 10_000;

    /// <summary>CW-L2's budget. Default <see cref="CarliniWagnerBudget.Full"/>.</summary>
    public CarliniWagnerBudget CarliniWagner { get; init; } = CarliniWagnerBudget.Full;

    /// <summary>Images per attack batch. Default 256.</summary>
    public int BatchSize { get; init; } = ProtocolSupport.DefaultBatchSize;

    /// <summary>Images of the speed row's batch (the first test images). Default 128.</summary>
    public int SpeedBatchSize { get; init; } = 128;

    /// <summary>Timed rounds per engine of the speed row (alternating); medians are reported. Default 7.</summary>
    public int SpeedRounds { get; init; } = 7;

    /// <summary>PGD-40 attacks of the batch per timed round. Default 2.</summary>
    public int SpeedAttacksPerRound { get; init; } = 2;

    /// <summary>The dataset root (see <see cref="KnownDatasets.Resolve"/>); null searches the default places.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Seed of PGD's random start and of the fallback training. Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Where the attacks run. Default <see cref="ComputeDevice.Auto"/>.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    /// <summary>The PyTorch side of the speed row (<c>attacks_reference.py</c>); null measures MLDefense alone.</summary>
    public string? PyTorchScript { get; init; }

    /// <summary>The interpreter that runs the script (Debian's, with python3-torch).</summary>
    public string PythonExecutable { get; init; } = "/usr/bin/python3";

    /// <summary>The full run: all 10 000 test images.</summary>
    public static AttackBenchmarkOptions Full => new();

    /// <summary>
    /// The quick run, sized for two shared CPU cores: the first 1 000 test images; CW-L2 with
    /// <see cref="CarliniWagnerBudget.Quick"/>; the speed row on 64 images, 3 rounds of one attack per engine.
    /// </summary>
    public static AttackBenchmarkOptions Quick => new()
    {
        TestImages = 1_000, CarliniWagner = CarliniWagnerBudget.Quick,
        SpeedBatchSize = 64, SpeedRounds = 3, SpeedAttacksPerRound = 1,
    };

    internal void Validate()
    {
        if (TestImages < 1) throw new ArgumentOutOfRangeException(nameof(TestImages), TestImages, "TestImages must be at least 1.");
        if (BatchSize < 1 || SpeedBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), "Batch sizes must be at least 1.");
        if (SpeedRounds < 1 || SpeedAttacksPerRound < 1) throw new ArgumentOutOfRangeException(nameof(SpeedRounds), "Speed rounds and attacks per round must be at least 1.");
        if (ModelPath is not null && !File.Exists(ModelPath)) throw new FileNotFoundException($"The model {ModelPath} does not exist.", ModelPath);
        CarliniWagner.Validate();
    }
}

/// <summary>One attack of the benchmark, with the issue's target for its adversarial accuracy.</summary>
/// <param name="Result">What the attack did.</param>
/// <param name="Target">The highest adversarial accuracy the issue accepts (MIAED Table 5's C1 figures, with a margin).</param>
public sealed record AttackBenchmarkRow(AttackEvaluationResult Result, double Target)
{
    /// <summary>Whether the adversarial accuracy is at most the target.</summary>
    public bool MeetsTarget => Result.AdversarialAccuracy <= Target;
}

/// <summary>The speed row: PGD-40 (L∞, ε 0.3, step 0.01, no random start) on one batch, MLDefense against PyTorch on the same weights and images.</summary>
/// <param name="BatchSize">Images per attack.</param>
/// <param name="MLDefenseImagesPerSecond">MLDefense's median over its rounds.</param>
/// <param name="PyTorchImagesPerSecond">PyTorch's median, or null when it could not run.</param>
/// <param name="MLDefenseRounds">MLDefense's images/s per round.</param>
/// <param name="PyTorchRounds">PyTorch's images/s per round.</param>
/// <param name="PyTorchVersion">torch.__version__, or null.</param>
/// <param name="PyTorchUnavailable">Why PyTorch did not run, or null.</param>
public sealed record AttackSpeedRow(int BatchSize, double MLDefenseImagesPerSecond, double? PyTorchImagesPerSecond, IReadOnlyList<double> MLDefenseRounds,
                                    IReadOnlyList<double> PyTorchRounds, string? PyTorchVersion, string? PyTorchUnavailable)
{
    /// <summary>The target of the ratio.</summary>
    public const double TargetRatio = 0.9;

    /// <summary>MLDefense / PyTorch, or null without PyTorch.</summary>
    public double? Ratio => PyTorchImagesPerSecond is double p && p > 0 ? MLDefenseImagesPerSecond / p : null;
}

/// <summary>Where <see cref="AttackBenchmark.Run"/> stands.</summary>
/// <param name="Step">The running step (<c>train</c>, an attack's name, <c>speed</c>).</param>
/// <param name="Message">What it is doing.</param>
/// <param name="Fraction">The share of the step done, in [0, 1].</param>
public sealed record AttackBenchmarkProgress(string Step, string Message, double Fraction);

/// <summary>The outcome of <see cref="AttackBenchmark.Run"/>.</summary>
/// <param name="Model">The model file attacked, or a description of the classifier trained for the run.</param>
/// <param name="TestImages">Images attacked per row.</param>
/// <param name="Threads">libtorch's intra-op threads (PyTorch's too).</param>
/// <param name="Device">Where the attacks ran.</param>
/// <param name="TorchVersion">The libtorch version.</param>
/// <param name="CarliniWagnerSettings">CW-L2's settings, in words.</param>
/// <param name="TotalSeconds">Wall-clock seconds of the whole run.</param>
/// <param name="Rows">One row per attack.</param>
/// <param name="Speed">The speed row.</param>
public sealed record AttackBenchmarkResult(string Model, int TestImages, int Threads, string Device, string TorchVersion, string CarliniWagnerSettings,
                                           double TotalSeconds, IReadOnlyList<AttackBenchmarkRow> Rows, AttackSpeedRow Speed);

/// <summary>
/// The attacks issue's benchmark on MIAED's C1 MNIST classifier: FGSM ε = 0.3; BIM, PGD and MIM (L∞, ε = 0.3, 40
/// iterations, step 0.01); CW-L2 (κ = 0); DeepFool L2 — clean and adversarial accuracy, mean L2 and L∞ perturbation,
/// images/s — against the targets (MIAED Table 5 reports C1 accuracy 0.297 under FGSM, 0.0 under BIM/PGD/MIM, 0.032
/// under CW-L2): FGSM ≤ 0.35, BIM/PGD/MIM ≤ 0.01, CW-L2 ≤ 0.05, DeepFool ≤ 0.05. Plus the speed of PGD-40 against
/// PyTorch 1.13 (<c>attacks_reference.py</c>) on the same weights, images and thread count: target ratio ≥ 0.9.
/// </summary>
public static class AttackBenchmark
{
    /// <summary>The file name of the PyTorch side, copied next to the binaries.</summary>
    public const string PyTorchScriptName = "attacks_reference.py";

    private const double Epsilon = 0.3, StepSize = 0.01;
    private const int Iterations = 40;

    /// <summary>Runs the benchmark.</summary>
    /// <param name="options">What to run.</param>
    /// <param name="progress">Told as each step advances, on the calling thread.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    public static AttackBenchmarkResult Run(AttackBenchmarkOptions options, IProgress<AttackBenchmarkProgress>? progress = null,
                                            CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var clock = Stopwatch.StartNew();
        var ml = Runtime.CreateMLContext(options.Seed, options.Device);
        var (classifier, model) = LoadOrTrain(ml, options, progress, cancellationToken);
        using (classifier)
        {
            if (classifier.InputShape != new ImageShape(1, 28, 28))
                throw new ArgumentException($"The attack benchmark needs an MNIST classifier (1×28×28 images); {model} takes {classifier.InputShape}.");
            using var test = LabelledImages.Load(ml, ml.Data.LoadKnownDataset(KnownDatasets.Mnist, train: false, options.DataDirectory), options.TestImages,
                                                 classifier.Device);
            torch.manual_seed((long)options.Seed);

            var rows = new List<AttackBenchmarkRow>();
            foreach (var (attack, target) in Cases(options))
            {
                var step = AttackTitle(attack);
                var attackProgress = progress is null ? null : new InlineProgress<EvaluationProgress>(p =>
                    progress.Report(new(step, $"{p.ImagesDone}/{p.ImagesTotal} images", p.Fraction)));
                progress?.Report(new(step, "starting", 0));
                rows.Add(new(AttackEvaluation.Run(classifier, attack, test, options.BatchSize, progress: attackProgress, cancellationToken: cancellationToken), target));
            }

            var speed = MeasureSpeed(classifier, test, options, progress, cancellationToken);
            return new(model, test.Count, Runtime.Threads, classifier.Device.ToString(), Runtime.TorchVersion, options.CarliniWagner.Describe(), clock.Elapsed.TotalSeconds, rows, speed);
        }
    }

    /// <summary>A row's title: the attack's name with its norm and budget (e.g. <c>PGD L∞ ε=0.3</c>).</summary>
    public static string AttackTitleOf(AttackEvaluationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return Title(result.Attack, result.Norm == "linf", result.Epsilon);
    }

    private static string AttackTitle(IAdversarialAttack attack) => Title(attack.Name, attack.Norm == AttackNorm.Linf, AttackFactory.Epsilon(attack));

    private static string Title(string name, bool linf, double? epsilon) =>
        $"{name} {(linf ? "L∞" : "L2")}" + (epsilon is double e ? $" ε={e.ToString("G3", CultureInfo.InvariantCulture)}" : "");

    private static IEnumerable<(IAdversarialAttack Attack, double Target)> Cases(AttackBenchmarkOptions options)
    {
        yield return (new FastGradientAttack(new FastGradientOptions { Epsilon = Epsilon }), 0.35);
        yield return (new BasicIterativeAttack(new BasicIterativeOptions { Epsilon = Epsilon, StepSize = StepSize, Iterations = Iterations }), 0.01);
        yield return (new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = Epsilon, StepSize = StepSize, Iterations = Iterations }), 0.01);
        yield return (new MomentumIterativeAttack(new MomentumIterativeOptions { Epsilon = Epsilon, StepSize = StepSize, Iterations = Iterations }), 0.01);
        yield return (options.CarliniWagner.CreateAttack(), 0.05);
        yield return (new DeepFoolAttack(new DeepFoolOptions { Norm = AttackNorm.L2 }), 0.05);
    }

    private static (ImageClassifierTransformer Classifier, string Model) LoadOrTrain(MLContext ml, AttackBenchmarkOptions options,
        IProgress<AttackBenchmarkProgress>? progress, CancellationToken cancellationToken)
    {
        if (options.ModelPath is { } path)
        {
            progress?.Report(new("load model", Path.GetFileName(path), 0));
            var classifier = AttackEvaluation.FindClassifier(ml.Model.Load(path, out _));
            progress?.Report(new("load model", Path.GetFileName(path), 1));
            return (classifier, Path.GetFullPath(path));
        }
        var request = new ClassifierTrainingRequest
        {
            Dataset = KnownDatasets.Mnist, Architecture = ClassifierArchitecture.MnistC1, Epochs = options.FallbackTrainingEpochs,
            TrainImages = options.FallbackTrainingImages, TestImages = 1, DataDirectory = options.DataDirectory, Seed = options.Seed,
        };
        var trainingProgress = progress is null ? null : new InlineProgress<ClassifierTrainingStatus>(s =>
            progress.Report(new("train C1", s.Stage.ToString().ToLowerInvariant(), s.Stage == ClassifierTrainingStage.Training ? s.Fraction : 0)));
        var (model, _, result) = ClassifierTraining.Run(ml, request, trainingProgress, cancellationToken);
        var images = options.FallbackTrainingImages is int n ? $"the first {n}" : "all";
        return (model, $"C1 trained for this run: {result.Epochs} of 10 epochs on {images} MNIST training images");
    }

    private static AttackSpeedRow MeasureSpeed(ImageClassifierTransformer classifier, LabelledImages test, AttackBenchmarkOptions options,
                                               IProgress<AttackBenchmarkProgress>? progress, CancellationToken cancellationToken)
    {
        const string step = "speed: PGD-40";
        int batch = Math.Min(options.SpeedBatchSize, test.Count);
        // No random start: the reference implements PGD from the clean image, and both engines must do the same work.
        var pgd = new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions
        {
            Epsilon = Epsilon, StepSize = StepSize, Iterations = Iterations, RandomStart = false,
        });
        using var imagesView = test.Images.narrow(0, 0, batch);
        using var labelsView = test.Labels.narrow(0, 0, batch);
        using var images = imagesView.contiguous();
        using var labels = labelsView.contiguous();

        var folder = Directory.CreateTempSubdirectory("mldefense-attack-bench-");
        PyTorchReference? pytorch = null;
        string? unavailable = null;
        try
        {
            if (options.PyTorchScript is null) unavailable = "no PyTorch script was given.";
            else if (classifier.Device.type != DeviceType.CPU) unavailable = "the PyTorch reference runs on the CPU only; run with --device cpu to compare.";
            else
            {
                progress?.Report(new(step, "starting PyTorch", 0));
                var weights = Path.Combine(folder.FullName, "classifier.safetensors");
                var inputs = Path.Combine(folder.FullName, "inputs.safetensors");
                var state = classifier.Network.state_dict();
                // TorchSharp's state_dict holds the module's own tensors: nothing to dispose.
                Safetensors.Save(state, weights);
                using (var cpuImages = images.cpu())
                using (var cpuLabels = labels.cpu())
                    Safetensors.Save(new Dictionary<string, Tensor> { ["images"] = cpuImages, ["labels"] = cpuLabels }, inputs);
                (pytorch, unavailable) = PyTorchReference.TryStart(options.PythonExecutable, options.PyTorchScript, Runtime.Threads,
                    ["serve", "--weights", weights, "--inputs", inputs, "--threads", Runtime.Threads.ToString(CultureInfo.InvariantCulture),
                     "--epsilon", Epsilon.ToString(CultureInfo.InvariantCulture), "--step-size", StepSize.ToString(CultureInfo.InvariantCulture),
                     "--iterations", Iterations.ToString(CultureInfo.InvariantCulture)]);
            }

            // Warm-up on both sides (oneDNN primitives, allocator), then rounds alternate so that load from other work hits both alike.
            Attack();
            pytorch?.RunRound("pgd", 1, 0);
            var ours = new List<double>();
            var theirs = new List<double>();
            for (int round = 0; round < options.SpeedRounds; round++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < options.SpeedAttacksPerRound; i++) Attack();
                ours.Add(batch * options.SpeedAttacksPerRound / clock.Elapsed.TotalSeconds);
                if (pytorch is not null) theirs.Add(pytorch.RunRound("pgd", 0, options.SpeedAttacksPerRound));
                progress?.Report(new(step, $"round {round + 1}/{options.SpeedRounds}", (round + 1.0) / options.SpeedRounds));
            }
            return new(batch, EngineBenchmark.Median(ours), theirs.Count > 0 ? EngineBenchmark.Median(theirs) : null, ours, theirs,
                       pytorch?.Version, unavailable);
        }
        finally
        {
            pytorch?.Dispose();
            folder.Delete(recursive: true);
        }

        void Attack()
        {
            using var adversarial = pgd.Generate(classifier, images, labels, cancellationToken);
        }
    }
}

using System.Diagnostics;
using MLDefense.Classifiers;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Defenses;
using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Benchmarks;

/// <summary>The workloads of the engine benchmark; <see cref="EngineBenchmark.CaseName"/> gives their JSON names.</summary>
public enum EngineBenchmarkCase
{
    /// <summary><c>train_step</c>: forward, cross-entropy, zero_grad, backward, Adam step.</summary>
    TrainStep,
    /// <summary>
    /// <c>input_gradient</c>: the inner loop of FGSM/PGD — the input with requires_grad, forward in eval mode,
    /// cross-entropy, <c>torch.autograd.grad</c> w.r.t. the input, then x ← clamp(x + ε·sign(∇x), 0, 1).
    /// </summary>
    InputGradient,
    /// <summary>
    /// <c>classifier_a_train_step</c>: <see cref="TrainStep"/>'s step (forward, cross-entropy, zero_grad, backward, Adam step) on
    /// Defense-GAN's classifier A (<see cref="Classifiers.ClassifierArchitecture.DefenseGanA"/>, the classifier AE-GAN's experiments
    /// attack), in training mode (its two dropouts active), built by <see cref="Classifiers.ClassifierArchitectures.Create"/> as training builds it.
    /// </summary>
    ClassifierATrainStep,
    /// <summary>
    /// <c>aegan_train_step</c>: one minibatch of AE-GAN's training (Alg. 1: the D step, then the F and G step with the
    /// noise regularisation) on Table 6's networks at Table 4's settings, the code <see cref="Defenses.AeGanEstimator"/> trains with.
    /// </summary>
    AeGanTrainStep,
    /// <summary>
    /// <c>aegan_purify</c>: AE-GAN+sr's inference (Alg. 2) on a batch with the latent search on every image: F(x), G(F(x)),
    /// the L1 score, L = 15 safeguarded steps from F(x), G(z_L) — <see cref="Defenses.AeGanTransformer.Purify"/>.
    /// </summary>
    AeGanPurify,
    /// <summary>
    /// <c>miaed_train_step</c>: one step of MIAED's MI dual autoencoder (Eq. 15 and the prior critic's WGAN-GP step) at the
    /// paper's sizes, <see cref="Defenses.MiaedAutoencoder.TrainStep"/>, the code <see cref="Defenses.MiaedEstimator"/> trains with.
    /// </summary>
    MiaedTrainStep,
}

/// <summary>Settings of <see cref="EngineBenchmark.Run"/>; <see cref="Full"/> and <see cref="Quick"/> are the CLI's presets.</summary>
public sealed record EngineBenchmarkOptions
{
    /// <summary>Intra-op threads, set on both engines (default: the processor count).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Where the workloads run: <c>cpu</c> (default), <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Timed rounds per engine and case; the reported figure is their median.</summary>
    public int Rounds { get; init; } = 15;

    /// <summary>Timed steps per round.</summary>
    public int StepsPerRound { get; init; } = 25;

    /// <summary>Untimed steps before each round (the caches and allocator of one engine are cold after the other's round).</summary>
    public int WarmupStepsPerRound { get; init; } = 2;

    /// <summary>Untimed steps before the first round of each case (JIT, oneDNN primitive caches, Adam's state).</summary>
    public int InitialWarmupSteps { get; init; } = 5;

    /// <summary>
    /// Timed rounds of the defense cases (<c>aegan_*</c>, <c>miaed_*</c>), each one step after one untimed step before the first round: a
    /// step there is a whole training minibatch or a batch's purification (0.5–25 s on two CPU cores), so
    /// <see cref="StepsPerRound"/> and <see cref="WarmupStepsPerRound"/>, sized for C1's milliseconds, do not apply.
    /// </summary>
    public int DefenseRounds { get; init; } = 5;

    /// <summary>
    /// Timed 1024² products per round of the matmul peak, after at most one untimed one (PyTorch 1.13's reference BLAS takes
    /// 0.6 s a product on two cores, so <see cref="StepsPerRound"/> would take minutes).
    /// </summary>
    public int PeakMultipliesPerRound { get; init; } = 5;

    /// <summary>The cases to run, in <see cref="EngineBenchmarkCase"/> order whatever the order given (default: all).</summary>
    public IReadOnlyList<EngineBenchmarkCase> Cases { get; init; } = Enum.GetValues<EngineBenchmarkCase>();

    /// <summary>Seed of the initial weights and of the random batch (the same on both engines).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>The PyTorch twin of the workloads (<c>bench_engine.py</c>); null runs MLDefense alone.</summary>
    public string? PyTorchScript { get; init; }

    /// <summary>The interpreter that runs the script: Debian's, into which <c>apt-get install python3-torch</c> installs torch.</summary>
    public string PythonExecutable { get; init; } = "/usr/bin/python3";

    /// <summary>
    /// The full run: 15 rounds of 5 products for the matmul peak, 15 rounds of 25 steps per C1 case and engine (8 for
    /// classifier A), 5 rounds of one step per defense case (12 minutes on two shared CPU cores, 2026-12-02; most of it
    /// PyTorch's AE-GAN purification, 30–45 s a batch, and classifier A, 0.5 s a step).
    /// </summary>
    public static EngineBenchmarkOptions Full => new();

    /// <summary>A short run: 5 rounds of 10 steps per C1 case and engine, 2 rounds of one step per defense case.</summary>
    public static EngineBenchmarkOptions Quick => new() { Rounds = 5, StepsPerRound = 10, WarmupStepsPerRound = 1, InitialWarmupSteps = 3, DefenseRounds = 2, PeakMultipliesPerRound = 3 };

    internal Device Validate()
    {
        if (Threads < 1) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be at least 1.");
        if (Rounds < 1) throw new ArgumentOutOfRangeException(nameof(Rounds), Rounds, "Rounds must be at least 1.");
        if (DefenseRounds < 1) throw new ArgumentOutOfRangeException(nameof(DefenseRounds), DefenseRounds, "DefenseRounds must be at least 1.");
        if (StepsPerRound < 1) throw new ArgumentOutOfRangeException(nameof(StepsPerRound), StepsPerRound, "StepsPerRound must be at least 1.");
        if (PeakMultipliesPerRound < 1) throw new ArgumentOutOfRangeException(nameof(PeakMultipliesPerRound), PeakMultipliesPerRound, "PeakMultipliesPerRound must be at least 1.");
        if (Cases is null || Cases.Count == 0) throw new ArgumentException("Cases must name at least one case.", nameof(Cases));
        if (Cases.Any(c => !Enum.IsDefined(c))) throw new ArgumentOutOfRangeException(nameof(Cases), "Cases holds an unknown case.");
        if (WarmupStepsPerRound < 0 || InitialWarmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(WarmupStepsPerRound), "Warm-up step counts cannot be negative.");
        return torch.device(Device);
    }
}

/// <summary>One case of the benchmark: the median images/s of each engine, and MLDefense / PyTorch.</summary>
/// <param name="Case">The case's JSON name (<see cref="EngineBenchmark.CaseName"/>).</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="Rounds">Timed rounds per engine.</param>
/// <param name="StepsPerRound">Timed steps per round.</param>
/// <param name="MLDefenseImagesPerSecond">MLDefense's median over the rounds.</param>
/// <param name="PyTorchImagesPerSecond">PyTorch's median over the rounds, or null when PyTorch could not run.</param>
/// <param name="MLDefenseRounds">MLDefense's images/s in each round.</param>
/// <param name="PyTorchRounds">PyTorch's images/s in each round (empty when PyTorch could not run).</param>
/// <param name="FlopsPerImage">The matmul-class FLOPs of one step per image, counted analytically (<see cref="EngineFlops.PerImage"/>).</param>
/// <param name="PeakGflops">The machine's matmul peak measured in the same run (<see cref="EngineMatmulPeak.PeakGflops"/>).</param>
public sealed record EngineBenchmarkRow(string Case, int BatchSize, int Rounds, int StepsPerRound, double MLDefenseImagesPerSecond, double? PyTorchImagesPerSecond,
                                        IReadOnlyList<double> MLDefenseRounds, IReadOnlyList<double> PyTorchRounds, double FlopsPerImage, double PeakGflops)
{
    /// <summary>MLDefense / PyTorch (above 1: MLDefense is faster), or null without PyTorch.</summary>
    public double? Ratio => PyTorchImagesPerSecond is double p && p > 0 ? MLDefenseImagesPerSecond / p : null;

    /// <summary>MLDefense's achieved GFLOP/s at its median rate: images/s × <see cref="FlopsPerImage"/> / 10⁹.</summary>
    public double MLDefenseGflops => MLDefenseImagesPerSecond * FlopsPerImage / 1e9;

    /// <summary>PyTorch's achieved GFLOP/s at its median rate, or null without PyTorch.</summary>
    public double? PyTorchGflops => PyTorchImagesPerSecond * FlopsPerImage / 1e9;

    /// <summary><see cref="MLDefenseGflops"/> / <see cref="PeakGflops"/>.</summary>
    public double MLDefenseFractionOfPeak => MLDefenseGflops / PeakGflops;

    /// <summary><see cref="PyTorchGflops"/> / <see cref="PeakGflops"/>, or null without PyTorch.</summary>
    public double? PyTorchFractionOfPeak => PyTorchGflops / PeakGflops;
}

/// <summary>
/// The machine's matmul peak, the roof of the roofline: float32 <see cref="EngineBenchmark.PeakMatmulSize"/>² by
/// <see cref="EngineBenchmark.PeakMatmulSize"/>² products at the benchmark's thread count, 2n³ FLOPs each, timed on each
/// engine in alternating rounds like a case (<see cref="EngineBenchmarkOptions.Rounds"/> rounds of
/// <see cref="EngineBenchmarkOptions.PeakMultipliesPerRound"/> products).
/// </summary>
/// <param name="Size">n, the matrices' side.</param>
/// <param name="Rounds">Timed rounds per engine.</param>
/// <param name="MultipliesPerRound">Timed products per round.</param>
/// <param name="MLDefenseGflops">MLDefense's (libtorch 2.10's) median GFLOP/s over the rounds.</param>
/// <param name="PyTorchGflops">PyTorch's median, or null when PyTorch could not run.</param>
/// <param name="MLDefenseRounds">MLDefense's GFLOP/s in each round.</param>
/// <param name="PyTorchRounds">PyTorch's GFLOP/s in each round (empty when PyTorch could not run).</param>
public sealed record EngineMatmulPeak(int Size, int Rounds, int MultipliesPerRound, double MLDefenseGflops, double? PyTorchGflops,
                                      IReadOnlyList<double> MLDefenseRounds, IReadOnlyList<double> PyTorchRounds)
{
    /// <summary>The peak the cases are measured against: the higher of the two engines' medians (one machine, the better BLAS).</summary>
    public double PeakGflops => Math.Max(MLDefenseGflops, PyTorchGflops ?? 0);
}

/// <summary>Where <see cref="EngineBenchmark.Run"/> stands.</summary>
/// <param name="Message">What it is doing now.</param>
/// <param name="Fraction">The share of the timed rounds done, in [0, 1].</param>
public readonly record struct EngineBenchmarkProgress(string Message, double Fraction);

/// <summary>The outcome of <see cref="EngineBenchmark.Run"/>.</summary>
/// <param name="Threads">Intra-op threads of both engines.</param>
/// <param name="Device">The device.</param>
/// <param name="TorchVersion">The libtorch version TorchSharp runs on.</param>
/// <param name="PyTorchVersion">PyTorch's version, or null when it could not run.</param>
/// <param name="PyTorchUnavailable">Why PyTorch could not run (and how to fix it), or null.</param>
/// <param name="MatmulPeak">The machine's matmul peak, measured first.</param>
/// <param name="Rows">One row per case, in <see cref="EngineBenchmarkCase"/> order.</param>
public sealed record EngineBenchmarkResult(int Threads, string Device, string TorchVersion, string? PyTorchVersion, string? PyTorchUnavailable,
                                           EngineMatmulPeak MatmulPeak, IReadOnlyList<EngineBenchmarkRow> Rows)
{
    /// <summary>
    /// What every ratio compares, to be printed beside it: MLDefense's libtorch against the PyTorch that ran, and whether
    /// that one is older (Debian's python3-torch 1.13.1 reports torch.__version__ 1.13.0a0).
    /// </summary>
    public string RatioNote
    {
        get
        {
            if (PyTorchVersion is null) return "ratio = MLDefense ÷ PyTorch (PyTorch did not run)";
            var relation = (ParseVersion(PyTorchVersion), ParseVersion(TorchVersion)) switch
            {
                (Version p, Version m) when p < m => "an older libtorch than",
                (Version p, Version m) when p > m => "a newer libtorch than",
                (Version, Version) => "the same libtorch version as",
                _ => "another libtorch than",
            };
            return $"ratio = MLDefense ÷ PyTorch; PyTorch {PyTorchVersion} (python3-torch) runs {relation} MLDefense's {TorchVersion}";
        }
    }

    /// <summary>How the GFLOP/s figures are counted, to be printed beside them.</summary>
    public const string FlopsNote =
        "GFLOP/s = images/s × the FLOPs per image of the step's convolutions, transposed convolutions and linear layers (forward and backward, "
      + "counted analytically at 2 per multiply–accumulate; normalisation, activations, losses and the optimiser not counted); "
      + "% of peak against the faster engine's median 1024² float32 matmul rate (2·1024³ FLOPs) in the same run";

    private static Version? ParseVersion(string text)
    {
        var digits = new string(text.TakeWhile(ch => char.IsDigit(ch) || ch == '.').ToArray()).Trim('.');
        // Major.minor.patch only, a missing part 0: 2.10.0 and 2.10.0.0 are one version.
        return Version.TryParse(digits.Contains('.', StringComparison.Ordinal) ? digits : digits + ".0", out var v)
            ? new Version(v.Major, v.Minor, Math.Max(v.Build, 0)) : null;
    }
}

/// <summary>
/// Measures the speed of MLDefense's engine (TorchSharp on libtorch 2.10) against Debian's PyTorch 1.13.1 — an older libtorch — in the cases of
/// <see cref="EngineBenchmarkCase"/>: MIAED's MNIST classifier C1 (Conv2d(1,32,3)+ReLU, MaxPool 2, Conv2d(32,64,3)+ReLU,
/// MaxPool 2, Flatten, Linear(1600,200)+ReLU, Linear(200,10)), Adam lr 1e-3, batches of 128 random 28×28×1 images; Defense-GAN's
/// classifier A (Conv2d(1,64,5,pad 2)+ReLU, Conv2d(64,64,5,stride 2)+ReLU, Flatten, Dropout 0.25, Linear(9216,128)+ReLU,
/// Dropout 0.5, Linear(128,10)) in the same training step; and
/// AE-GAN+sr's training step and purification with Table 6's networks at the library's defaults (width 64, latent 128,
/// Adam 2e-4 with β₁ 0.5, noise σ fixed at half the bound, 0.15, so that both engines do the same work), batches of 100
/// (Table 4) random 28×28×1 images; and MIAED's training step with Table 3's MNIST networks at the library's defaults
/// (3×3 convolutions 16, 16, 32, 32 with two max poolings, FC 64; latent 64, discriminators 256, Adam 1e-4), batches of
/// 128 (Sec. 4.1).
/// </summary>
/// <remarks>
/// Rounds alternate between the engines (MLDefense, PyTorch, MLDefense, PyTorch...) so that drifts of the machine
/// (other load, frequency scaling) touch both alike; each round runs a few untimed steps then a fixed number of timed
/// ones (the defense cases: see <see cref="EngineBenchmarkOptions.DefenseRounds"/>), and the medians over the rounds are reported. PyTorch runs <c>bench_engine.py</c> (the same model, initialisation,
/// data and steps) in one long-lived interpreter that runs a round per request, so no round pays its start-up.
/// Before the cases, the same alternating rounds time 1024² float32 matrix products on both engines: the machine's matmul
/// peak (<see cref="EngineMatmulPeak"/>), against which each case's achieved GFLOP/s (<see cref="EngineFlops"/>) is set.
/// </remarks>
public static class EngineBenchmark
{
    /// <summary>Images per step of the C1 cases.</summary>
    public const int BatchSize = 128;

    /// <summary>Images per step of the AE-GAN cases (Table 4's minibatch).</summary>
    public const int AeGanBatchSize = 100;

    /// <summary>The side of the square float32 matrices whose product measures the matmul peak (<see cref="EngineMatmulPeak"/>).</summary>
    public const int PeakMatmulSize = 1024;

    /// <summary>The name of the matmul-peak measurement in <c>bench_engine.py</c>'s protocol (not a case).</summary>
    internal const string PeakCaseName = "matmul_peak";

    /// <summary>The FGSM/PGD step size of <see cref="EngineBenchmarkCase.InputGradient"/>.</summary>
    public const double Epsilon = 8.0 / 255;

    /// <summary>The case a JSON name (<see cref="CaseName"/>) stands for, or null for an unknown name.</summary>
    public static EngineBenchmarkCase? ParseCase(string name) =>
        Enum.GetValues<EngineBenchmarkCase>().Cast<EngineBenchmarkCase?>().FirstOrDefault(c => CaseName(c!.Value) == name);

    /// <summary>The JSON name of a case (the same in <c>bench_engine.py</c>).</summary>
    public static string CaseName(EngineBenchmarkCase c) => c switch
    {
        EngineBenchmarkCase.TrainStep => "train_step",
        EngineBenchmarkCase.InputGradient => "input_gradient",
        EngineBenchmarkCase.ClassifierATrainStep => "classifier_a_train_step",
        EngineBenchmarkCase.AeGanTrainStep => "aegan_train_step",
        EngineBenchmarkCase.AeGanPurify => "aegan_purify",
        EngineBenchmarkCase.MiaedTrainStep => "miaed_train_step",
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    /// <summary>Runs every case on both engines (PyTorch only when <see cref="EngineBenchmarkOptions.PyTorchScript"/> is set and it starts).</summary>
    /// <param name="options">What to run.</param>
    /// <param name="progress">Told before each phase, on the calling thread.</param>
    /// <param name="cancellationToken">Checked between rounds.</param>
    public static EngineBenchmarkResult Run(EngineBenchmarkOptions options, IProgress<EngineBenchmarkProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var device = options.Validate();
        if (device.type == DeviceType.CUDA && !torch.cuda.is_available())
            throw new InvalidOperationException("The loaded libtorch has no CUDA device; use the CPU (or build with -p:MLDefenseTorchBackend=cuda, a CUDA TorchSharp package).");
        torch.set_num_threads(options.Threads);
        if (torch.get_num_threads() != options.Threads)
            throw new InvalidOperationException($"libtorch runs {torch.get_num_threads()} threads where {options.Threads} were asked for.");

        PyTorchReference? pytorch = null;
        string? unavailable = null;
        EngineMatmulPeak peak;
        if (options.PyTorchScript is null) unavailable = "PyTorch was not asked for.";
        else
        {
            progress?.Report(new($"starting PyTorch ({options.PythonExecutable} {Path.GetFileName(options.PyTorchScript)})", 0));
            (pytorch, unavailable) = PyTorchReference.TryStart(options, device);
        }

        try
        {
            var rows = new List<EngineBenchmarkRow>();
            var cases = options.Cases.Distinct().Order().ToArray();
            var peakPlan = new RoundPlan(Math.Min(options.InitialWarmupSteps, 1), options.Rounds, Math.Min(options.WarmupStepsPerRound, 1), options.PeakMultipliesPerRound);
            int done = 0, total = peakPlan.Rounds + cases.Sum(c => Plan(c, options).Rounds);

            // The roof first: the same alternating rounds as a case, on products of PeakMatmulSize² matrices.
            using (var matmul = new MatmulWorkload(device, options.Seed))
            {
                var (ours, theirs) = Measure(matmul, PeakCaseName, "matmul peak", peakPlan, pytorch, progress, ref done, total, cancellationToken);
                double gflops = EngineFlops.Matmul(PeakMatmulSize) / 1e9;
                var oursGflops = ours.Select(r => r * gflops).ToArray();
                var theirsGflops = theirs.Select(r => r * gflops).ToArray();
                peak = new EngineMatmulPeak(PeakMatmulSize, peakPlan.Rounds, peakPlan.Steps, Median(oursGflops),
                                            theirs.Count > 0 ? Median(theirsGflops) : null, oursGflops, theirsGflops);
            }

            foreach (var c in cases)
            {
                var plan = Plan(c, options);
                using var workload = CreateWorkload(c, device, options.Seed);
                string name = CaseName(c);
                var (ours, theirs) = Measure(workload, name, name, plan, pytorch, progress, ref done, total, cancellationToken);
                rows.Add(new EngineBenchmarkRow(name, workload.BatchSize, plan.Rounds, plan.Steps, Median(ours),
                                                theirs.Count > 0 ? Median(theirs) : null, ours, theirs, EngineFlops.PerImage(c), peak.PeakGflops));
            }
            progress?.Report(new("done", 1));
            return new EngineBenchmarkResult(options.Threads, device.ToString(), torch.__version__, pytorch?.Version, unavailable, peak, rows);
        }
        finally
        {
            pytorch?.Dispose();
        }
    }

    /// <summary>How a case is timed: untimed steps before the first round, then rounds of untimed and timed steps.</summary>
    private readonly record struct RoundPlan(int InitialWarmup, int Rounds, int Warmup, int Steps);

    private static RoundPlan Plan(EngineBenchmarkCase c, EngineBenchmarkOptions options) => c switch
    {
        EngineBenchmarkCase.TrainStep or EngineBenchmarkCase.InputGradient =>
            new(options.InitialWarmupSteps, options.Rounds, options.WarmupStepsPerRound, options.StepsPerRound),
        // A's step costs six times C1's (100 against 16 MFLOP an image), so a third of the steps keeps its rounds near C1's length.
        EngineBenchmarkCase.ClassifierATrainStep =>
            new(options.InitialWarmupSteps, options.Rounds, options.WarmupStepsPerRound, Math.Max(1, options.StepsPerRound / 3)),
        _ => new(Math.Min(options.InitialWarmupSteps, 1), options.DefenseRounds, 0, 1),
    };

    /// <summary>Warms a workload up on both engines, then times its rounds alternately (MLDefense, PyTorch, ...); images/s per round.</summary>
    private static (List<double> Ours, List<double> Theirs) Measure(Workload workload, string name, string label, RoundPlan plan, PyTorchReference? pytorch,
        IProgress<EngineBenchmarkProgress>? progress, ref int done, int total, CancellationToken cancellationToken)
    {
        progress?.Report(new($"{label}: warming up", (double)done / total));
        workload.RunSteps(plan.InitialWarmup);
        pytorch?.RunRound(name, plan.InitialWarmup, 1);

        var ours = new List<double>();
        var theirs = new List<double>();
        for (int round = 1; round <= plan.Rounds; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new($"{label}: round {round}/{plan.Rounds}", (double)done / total));
            ours.Add(TimeRound(workload, plan));
            if (pytorch is not null) theirs.Add(pytorch.RunRound(name, plan.Warmup, plan.Steps));
            done++;
        }
        return (ours, theirs);
    }

    private static double TimeRound(Workload workload, RoundPlan plan)
    {
        workload.RunSteps(plan.Warmup);
        var clock = Stopwatch.StartNew();
        workload.RunSteps(plan.Steps);
        return plan.Steps * (double)workload.BatchSize / clock.Elapsed.TotalSeconds;
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static Workload CreateWorkload(EngineBenchmarkCase c, Device device, ulong seed) => c switch
    {
        EngineBenchmarkCase.TrainStep => new TrainStepWorkload(device, seed, MnistC1),
        EngineBenchmarkCase.ClassifierATrainStep => new TrainStepWorkload(device, seed, ClassifierA),
        EngineBenchmarkCase.InputGradient => new InputGradientWorkload(device, seed),
        EngineBenchmarkCase.AeGanTrainStep => new AeGanTrainStepWorkload(device, seed),
        EngineBenchmarkCase.AeGanPurify => new AeGanPurifyWorkload(device, seed),
        EngineBenchmarkCase.MiaedTrainStep => new MiaedTrainStepWorkload(device, seed),
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    /// <summary>MIAED's MNIST classifier C1, as <c>mnist_c1()</c> in bench_engine.py.</summary>
    internal static Sequential MnistC1() => TensorCensus.Record(torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64 * 5 * 5, 200), torch.nn.ReLU(),
        torch.nn.Linear(200, 10)));

    /// <summary>Defense-GAN's classifier A for 28×28×1 images and 10 classes, as <c>classifier_a()</c> in bench_engine.py.</summary>
    internal static Module<Tensor, Tensor> ClassifierA() =>
        ClassifierArchitectures.Create(ClassifierArchitecture.DefenseGanA, new ImageShape(1, 28, 28), 10);

    /// <summary>A batch and the networks that work on it; one step of work per <see cref="Step"/>, its temporaries freed by a dispose scope.</summary>
    private abstract class Workload(Device device, int batchSize) : IDisposable
    {
        protected readonly Device device = device;

        public int BatchSize { get; } = batchSize;

        /// <summary>A tensor drawn on the CPU (so that both engines draw the same values) moved to the device.</summary>
        protected Tensor ToDevice(Tensor t)
        {
            if (device.type != DeviceType.CUDA) return t;
            using (t) return t.to(device);
        }

        protected abstract void Step();

        public void RunSteps(int steps)
        {
            for (int i = 0; i < steps; i++)
            {
                using var scope = torch.NewDisposeScope();
                Step();
            }
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
        }

        public abstract void Dispose();
    }

    /// <summary>A classifier (C1 or A) and a labelled batch of 128.</summary>
    private abstract class ClassifierWorkload : Workload
    {
        protected readonly Module<Tensor, Tensor> model;
        protected readonly Tensor labels;

        // The same draws, in the same order, as the Python twin: weights, then images, then labels, all on the CPU.
        protected ClassifierWorkload(Device device, ulong seed, Func<Module<Tensor, Tensor>> create, out Tensor images) : base(device, EngineBenchmark.BatchSize)
        {
            torch.manual_seed((long)seed);
            model = create();
            model.to(device);
            images = ToDevice(torch.rand([EngineBenchmark.BatchSize, 1, 28, 28]));
            labels = ToDevice(torch.randint(0, 10, [EngineBenchmark.BatchSize]));
        }

        public override void Dispose()
        {
            model.Dispose();
            labels.Dispose();
        }
    }

    private sealed class TrainStepWorkload : ClassifierWorkload
    {
        private readonly Tensor images;
        private readonly OptimizerHelper optimizer;

        public TrainStepWorkload(Device device, ulong seed, Func<Module<Tensor, Tensor>> create) : base(device, seed, create, out var x)
        {
            images = x;
            model.train();
            optimizer = torch.optim.Adam(model.parameters(), lr: 1e-3);
        }

        protected override void Step()
        {
            var loss = F.cross_entropy(model.forward(images), labels);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }

        public override void Dispose()
        {
            optimizer.Dispose();
            images.Dispose();
            base.Dispose();
        }
    }

    private sealed class InputGradientWorkload : ClassifierWorkload
    {
        private readonly Tensor adversarial;

        public InputGradientWorkload(Device device, ulong seed) : base(device, seed, MnistC1, out var x)
        {
            adversarial = x;
            model.eval();
        }

        protected override void Step()
        {
            var x = adversarial.detach().requires_grad_();
            var loss = F.cross_entropy(model.forward(x), labels);
            var grad = torch.autograd.grad([loss], [x])[0];
            using var _ = torch.no_grad();
            adversarial.copy_((x.detach() + grad.sign() * Epsilon).clamp(0, 1));
        }

        public override void Dispose()
        {
            adversarial.Dispose();
            base.Dispose();
        }
    }

    /// <summary>Two random float32 PeakMatmulSize² matrices; a step multiplies them (<see cref="Workload.BatchSize"/> 1: a rate is products/s).</summary>
    private sealed class MatmulWorkload : Workload
    {
        private readonly Tensor a, b;

        // As the Python twin: a, then b, on the CPU.
        public MatmulWorkload(Device device, ulong seed) : base(device, 1)
        {
            torch.manual_seed((long)seed);
            a = ToDevice(torch.rand([PeakMatmulSize, PeakMatmulSize]));
            b = ToDevice(torch.rand([PeakMatmulSize, PeakMatmulSize]));
        }

        protected override void Step() => a.matmul(b);

        public override void Dispose()
        {
            a.Dispose();
            b.Dispose();
        }
    }

    /// <summary>Table 4's and 6's settings: the library's defaults.</summary>
    internal static readonly AeGanOptions AeGanPaper = new();

    internal static readonly ImageShape AeGanImage = new(1, 28, 28);

    private sealed class AeGanTrainStepWorkload : Workload
    {
        private readonly AeGanEncoder encoder;
        private readonly AeGanGenerator generator;
        private readonly AeGanDiscriminator discriminator;
        private readonly AeGanTrainingStep step;
        private readonly Tensor images;

        // Weights (F, G, D), then images, as the Python twin.
        public AeGanTrainStepWorkload(Device device, ulong seed) : base(device, AeGanBatchSize)
        {
            torch.manual_seed((long)seed);
            using var networks = new PendingNetworks();
            (encoder, generator) = AeGanTransformer.CreateNetworks(networks, AeGanPaper, AeGanImage, device);
            discriminator = networks.Add(new AeGanDiscriminator(AeGanImage, AeGanPaper.BaseChannels));
            discriminator.to(device);
            foreach (var network in new Module[] { encoder, generator, discriminator }) network.train();
            images = ToDevice(torch.rand([AeGanBatchSize, 1, 28, 28]));
            step = new AeGanTrainingStep(encoder, generator, discriminator, AeGanPaper);
            networks.HandOver(this);
        }

        protected override void Step() => step.Run(images, AeGanPaper.NoiseBound / 2);

        public override void Dispose()
        {
            step.Dispose();
            images.Dispose();
            encoder.Dispose();
            generator.Dispose();
            discriminator.Dispose();
        }
    }

    private sealed class AeGanPurifyWorkload : Workload
    {
        private readonly AeGanTransformer purifier;
        private readonly Tensor images;

        // Weights (F, G), then images, as the Python twin; untrained weights do the same work as trained ones, since every
        // search step costs the same whether it is taken or not.
        public AeGanPurifyWorkload(Device device, ulong seed) : base(device, AeGanBatchSize)
        {
            torch.manual_seed((long)seed);
            using var networks = new PendingNetworks();
            var (encoder, generator) = AeGanTransformer.CreateNetworks(networks, AeGanPaper, AeGanImage, device);
            var calibration = new AeGanCalibration { Channels = 1, Height = 28, Width = 28 };
            purifier = networks.HandOver(new AeGanTransformer(AeGanPaper with { SearchPolicy = AeGanSearchPolicy.Always }, calibration, encoder, generator, device));
            images = ToDevice(torch.rand([AeGanBatchSize, 1, 28, 28]));
        }

        protected override void Step() => purifier.Purify(images);

        public override void Dispose()
        {
            purifier.Dispose();
            images.Dispose();
        }
    }

    private sealed class MiaedTrainStepWorkload : Workload
    {
        private readonly MiaedAutoencoder autoencoder;
        private readonly Tensor images;

        // Weights (E, G, the global and local MI discriminators, the prior critic), then images, as the Python twin.
        public MiaedTrainStepWorkload(Device device, ulong seed) : base(device, new MiaedOptions().BatchSize)
        {
            torch.manual_seed((long)seed);
            autoencoder = new MiaedAutoencoder(new MiaedOptions(), new ImageShape(1, 28, 28), device);
            images = ToDevice(torch.rand([BatchSize, 1, 28, 28]));
        }

        protected override void Step() => autoencoder.TrainStep(images);

        public override void Dispose()
        {
            autoencoder.Dispose();
            images.Dispose();
        }
    }
}

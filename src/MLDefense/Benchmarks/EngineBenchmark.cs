using System.Diagnostics;
using MLDefense.Legacy;
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

    /// <summary>The cases to run, in <see cref="EngineBenchmarkCase"/> order whatever the order given (default: all).</summary>
    public IReadOnlyList<EngineBenchmarkCase> Cases { get; init; } = Enum.GetValues<EngineBenchmarkCase>();

    /// <summary>Seed of the initial weights and of the random batch (the same on both engines).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>The PyTorch twin of the workloads (<c>bench_engine.py</c>); null runs MLDefense alone.</summary>
    public string? PyTorchScript { get; init; }

    /// <summary>The interpreter that runs the script: Debian's, into which <c>apt-get install python3-torch</c> installs torch.</summary>
    public string PythonExecutable { get; init; } = "/usr/bin/python3";

    /// <summary>
    /// The full run: 15 rounds of 25 steps per C1 case and engine, 5 rounds of one step per defense case (7 minutes on two
    /// CPU cores, most of it PyTorch's AE-GAN purification, 27 s a batch).
    /// </summary>
    public static EngineBenchmarkOptions Full => new();

    /// <summary>A short run: 5 rounds of 10 steps per C1 case and engine, 2 rounds of one step per defense case.</summary>
    public static EngineBenchmarkOptions Quick => new() { Rounds = 5, StepsPerRound = 10, WarmupStepsPerRound = 1, InitialWarmupSteps = 3, DefenseRounds = 2 };

    internal Device Validate()
    {
        if (Threads < 1) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be at least 1.");
        if (Rounds < 1) throw new ArgumentOutOfRangeException(nameof(Rounds), Rounds, "Rounds must be at least 1.");
        if (DefenseRounds < 1) throw new ArgumentOutOfRangeException(nameof(DefenseRounds), DefenseRounds, "DefenseRounds must be at least 1.");
        if (StepsPerRound < 1) throw new ArgumentOutOfRangeException(nameof(StepsPerRound), StepsPerRound, "StepsPerRound must be at least 1.");
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
public sealed record EngineBenchmarkRow(string Case, int BatchSize, int Rounds, int StepsPerRound, double MLDefenseImagesPerSecond, double? PyTorchImagesPerSecond,
                                        IReadOnlyList<double> MLDefenseRounds, IReadOnlyList<double> PyTorchRounds)
{
    /// <summary>MLDefense / PyTorch (above 1: MLDefense is faster), or null without PyTorch.</summary>
    public double? Ratio => PyTorchImagesPerSecond is double p && p > 0 ? MLDefenseImagesPerSecond / p : null;
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
/// <param name="Rows">One row per case, in <see cref="EngineBenchmarkCase"/> order.</param>
public sealed record EngineBenchmarkResult(int Threads, string Device, string TorchVersion, string? PyTorchVersion, string? PyTorchUnavailable,
                                           IReadOnlyList<EngineBenchmarkRow> Rows);

/// <summary>
/// Measures the speed of MLDefense's engine (TorchSharp on libtorch 2.10) against Debian's PyTorch 1.13.1 — an older libtorch — in the cases of
/// <see cref="EngineBenchmarkCase"/>: MIAED's MNIST classifier C1 (Conv2d(1,32,3)+ReLU, MaxPool 2, Conv2d(32,64,3)+ReLU,
/// MaxPool 2, Flatten, Linear(1600,200)+ReLU, Linear(200,10)), Adam lr 1e-3, batches of 128 random 28×28×1 images; and
/// AE-GAN+sr's training step and purification with Table 6's networks at the library's defaults (width 64, latent 128,
/// Adam 2e-4 with β₁ 0.5, noise σ fixed at half the bound, 0.15, so that both engines do the same work), batches of 100
/// (Table 4) random 28×28×1 images; and MIAED's training step with Table 3's MNIST networks at the library's defaults
/// (base 64, encoder FC 1024, latent 64, discriminators 256, Adam 1e-4), batches of 128 (Sec. 4.1).
/// </summary>
/// <remarks>
/// Rounds alternate between the engines (MLDefense, PyTorch, MLDefense, PyTorch...) so that drifts of the machine
/// (other load, frequency scaling) touch both alike; each round runs a few untimed steps then a fixed number of timed
/// ones (the defense cases: see <see cref="EngineBenchmarkOptions.DefenseRounds"/>), and the medians over the rounds are reported. PyTorch runs <c>bench_engine.py</c> (the same model, initialisation,
/// data and steps) in one long-lived interpreter that runs a round per request, so no round pays its start-up.
/// </remarks>
public static class EngineBenchmark
{
    /// <summary>Images per step of the C1 cases.</summary>
    public const int BatchSize = 128;

    /// <summary>Images per step of the AE-GAN cases (Table 4's minibatch).</summary>
    public const int AeGanBatchSize = 100;

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
            int done = 0, total = cases.Sum(c => Plan(c, options).Rounds);
            foreach (var c in cases)
            {
                var plan = Plan(c, options);
                using var workload = CreateWorkload(c, device, options.Seed);
                string name = CaseName(c);
                progress?.Report(new($"{name}: warming up", (double)done / total));
                workload.RunSteps(plan.InitialWarmup);
                pytorch?.RunRound(name, plan.InitialWarmup, 1);

                var ours = new List<double>();
                var theirs = new List<double>();
                for (int round = 1; round <= plan.Rounds; round++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    progress?.Report(new($"{name}: round {round}/{plan.Rounds}", (double)done / total));
                    ours.Add(TimeRound(workload, plan));
                    if (pytorch is not null) theirs.Add(pytorch.RunRound(name, plan.Warmup, plan.Steps));
                    done++;
                }
                rows.Add(new EngineBenchmarkRow(name, workload.BatchSize, plan.Rounds, plan.Steps, Median(ours),
                                                theirs.Count > 0 ? Median(theirs) : null, ours, theirs));
            }
            progress?.Report(new("done", 1));
            return new EngineBenchmarkResult(options.Threads, device.ToString(), torch.__version__, pytorch?.Version, unavailable, rows);
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
        _ => new(Math.Min(options.InitialWarmupSteps, 1), options.DefenseRounds, 0, 1),
    };

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
        EngineBenchmarkCase.TrainStep => new TrainStepWorkload(device, seed),
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

    /// <summary>C1 and a labelled batch of 128.</summary>
    private abstract class C1Workload : Workload
    {
        protected readonly Sequential model;
        protected readonly Tensor labels;

        // The same draws, in the same order, as the Python twin: weights, then images, then labels, all on the CPU.
        protected C1Workload(Device device, ulong seed, out Tensor images) : base(device, EngineBenchmark.BatchSize)
        {
            torch.manual_seed((long)seed);
            model = MnistC1();
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

    private sealed class TrainStepWorkload : C1Workload
    {
        private readonly Tensor images;
        private readonly OptimizerHelper optimizer;

        public TrainStepWorkload(Device device, ulong seed) : base(device, seed, out var x)
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

    private sealed class InputGradientWorkload : C1Workload
    {
        private readonly Tensor adversarial;

        public InputGradientWorkload(Device device, ulong seed) : base(device, seed, out var x)
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

    /// <summary>Table 4's and 6's settings: the library's defaults.</summary>
    private static readonly AeGanOptions AeGanPaper = new();

    private static readonly ImageShape AeGanImage = new(1, 28, 28);

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

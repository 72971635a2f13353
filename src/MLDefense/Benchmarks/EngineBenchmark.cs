using System.Diagnostics;
using MLDefense.Torch;
using MLDefense.Torch.Modules;
using MLDefense.Torch.Optim;
using F = MLDefense.Torch.torch.nn.functional;

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

    /// <summary>Seed of the initial weights and of the random batch (the same on both engines).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>The PyTorch twin of the workloads (<c>bench_engine.py</c>); null runs MLDefense alone.</summary>
    public string? PyTorchScript { get; init; }

    /// <summary>The interpreter that runs the script: Debian's, into which <c>apt-get install python3-torch</c> installs torch.</summary>
    public string PythonExecutable { get; init; } = "/usr/bin/python3";

    /// <summary>The full run (about 3 minutes on two cores): 15 rounds of 25 steps per case and engine.</summary>
    public static EngineBenchmarkOptions Full => new();

    /// <summary>A short run (under a minute on two cores): 5 rounds of 10 steps per case and engine.</summary>
    public static EngineBenchmarkOptions Quick => new() { Rounds = 5, StepsPerRound = 10, WarmupStepsPerRound = 1, InitialWarmupSteps = 3 };

    internal Device Validate()
    {
        if (Threads < 1) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be at least 1.");
        if (Rounds < 1) throw new ArgumentOutOfRangeException(nameof(Rounds), Rounds, "Rounds must be at least 1.");
        if (StepsPerRound < 1) throw new ArgumentOutOfRangeException(nameof(StepsPerRound), StepsPerRound, "StepsPerRound must be at least 1.");
        if (WarmupStepsPerRound < 0 || InitialWarmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(WarmupStepsPerRound), "Warm-up step counts cannot be negative.");
        return Torch.Device.Parse(Device);
    }
}

/// <summary>One case of the benchmark: the median images/s of each engine, and MLDefense / PyTorch.</summary>
/// <param name="Case">The case's JSON name (<c>train_step</c>, <c>input_gradient</c>).</param>
/// <param name="MLDefenseImagesPerSecond">MLDefense's median over the rounds.</param>
/// <param name="PyTorchImagesPerSecond">PyTorch's median over the rounds, or null when PyTorch could not run.</param>
/// <param name="MLDefenseRounds">MLDefense's images/s in each round.</param>
/// <param name="PyTorchRounds">PyTorch's images/s in each round (empty when PyTorch could not run).</param>
public sealed record EngineBenchmarkRow(string Case, double MLDefenseImagesPerSecond, double? PyTorchImagesPerSecond,
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
/// <param name="TorchVersion">The libtorch version MLDefense's shim was built against.</param>
/// <param name="PyTorchVersion">PyTorch's version, or null when it could not run.</param>
/// <param name="PyTorchUnavailable">Why PyTorch could not run (and how to fix it), or null.</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="Rounds">Timed rounds per engine and case.</param>
/// <param name="StepsPerRound">Timed steps per round.</param>
/// <param name="Rows">One row per case, in <see cref="EngineBenchmarkCase"/> order.</param>
public sealed record EngineBenchmarkResult(int Threads, string Device, string TorchVersion, string? PyTorchVersion, string? PyTorchUnavailable,
                                           int BatchSize, int Rounds, int StepsPerRound, IReadOnlyList<EngineBenchmarkRow> Rows);

/// <summary>
/// Measures the speed of MLDefense's libtorch binding against PyTorch on the same libtorch: MIAED's MNIST
/// classifier C1 (Conv2d(1,32,3)+ReLU, MaxPool 2, Conv2d(32,64,3)+ReLU, MaxPool 2, Flatten, Linear(1600,200)+ReLU,
/// Linear(200,10)), Adam lr 1e-3, batches of 128 random 28×28×1 images, in the cases of <see cref="EngineBenchmarkCase"/>.
/// </summary>
/// <remarks>
/// Rounds alternate between the engines (MLDefense, PyTorch, MLDefense, PyTorch...) so that drifts of the machine
/// (other load, frequency scaling) touch both alike; each round runs a few untimed steps then a fixed number of timed
/// ones, and the medians over the rounds are reported. PyTorch runs <c>bench_engine.py</c> (the same model, initialisation,
/// data and steps) in one long-lived interpreter that runs a round per request, so no round pays its start-up.
/// </remarks>
public static class EngineBenchmark
{
    /// <summary>Images per step.</summary>
    public const int BatchSize = 128;

    /// <summary>The FGSM/PGD step size of <see cref="EngineBenchmarkCase.InputGradient"/>.</summary>
    public const double Epsilon = 8.0 / 255;

    /// <summary>The JSON name of a case (the same in <c>bench_engine.py</c>).</summary>
    public static string CaseName(EngineBenchmarkCase c) => c switch
    {
        EngineBenchmarkCase.TrainStep => "train_step",
        EngineBenchmarkCase.InputGradient => "input_gradient",
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    /// <summary>Runs every case on both engines (PyTorch only when <see cref="EngineBenchmarkOptions.PyTorchScript"/> is set and it starts).</summary>
    /// <param name="options">What to run.</param>
    /// <param name="progress">Told before each phase, on the calling thread.</param>
    /// <param name="cancellationToken">Checked between rounds.</param>
    public static EngineBenchmarkResult Run(EngineBenchmarkOptions options, IProgress<EngineBenchmarkProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var device = options.Validate();
        if (device.IsCuda && !torch.cuda.is_available())
            throw new InvalidOperationException("The loaded libtorch has no CUDA device; use the CPU (or build the shim against a CUDA libtorch with LIBTORCH_DIR).");
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
            var cases = Enum.GetValues<EngineBenchmarkCase>();
            int done = 0, total = cases.Length * options.Rounds;
            foreach (var c in cases)
            {
                using var workload = CreateWorkload(c, device, options.Seed);
                string name = CaseName(c);
                progress?.Report(new($"{name}: warming up", (double)done / total));
                workload.RunSteps(options.InitialWarmupSteps);
                pytorch?.RunRound(name, options.InitialWarmupSteps, 1);

                var ours = new List<double>();
                var theirs = new List<double>();
                for (int round = 1; round <= options.Rounds; round++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    progress?.Report(new($"{name}: round {round}/{options.Rounds}", (double)done / total));
                    ours.Add(TimeRound(workload, options));
                    if (pytorch is not null) theirs.Add(pytorch.RunRound(name, options.WarmupStepsPerRound, options.StepsPerRound));
                    done++;
                }
                rows.Add(new EngineBenchmarkRow(name, Median(ours), theirs.Count > 0 ? Median(theirs) : null, ours, theirs));
            }
            progress?.Report(new("done", 1));
            return new EngineBenchmarkResult(options.Threads, device.ToString(), torch.version, pytorch?.Version, unavailable,
                                             BatchSize, options.Rounds, options.StepsPerRound, rows);
        }
        finally
        {
            pytorch?.Dispose();
        }
    }

    private static double TimeRound(Workload workload, EngineBenchmarkOptions options)
    {
        workload.RunSteps(options.WarmupStepsPerRound);
        var clock = Stopwatch.StartNew();
        workload.RunSteps(options.StepsPerRound);
        return options.StepsPerRound * (double)BatchSize / clock.Elapsed.TotalSeconds;
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
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    /// <summary>MIAED's MNIST classifier C1, as <c>mnist_c1()</c> in bench_engine.py.</summary>
    internal static Sequential MnistC1() => torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64 * 5 * 5, 200), torch.nn.ReLU(),
        torch.nn.Linear(200, 10));

    /// <summary>A model and a batch; one step of work per <see cref="Step"/>, its temporaries freed by a dispose scope.</summary>
    private abstract class Workload : IDisposable
    {
        protected readonly Device device;
        protected readonly Sequential model;
        protected readonly Tensor labels;

        // The same draws, in the same order, as the Python twin: weights, then images, then labels, all on the CPU.
        protected Workload(Device device, ulong seed, out Tensor images)
        {
            this.device = device;
            torch.manual_seed(seed);
            model = MnistC1();
            model.to(device);
            images = ToDevice(torch.rand([BatchSize, 1, 28, 28]));
            labels = ToDevice(torch.randint(0, 10, [BatchSize]));
        }

        private Tensor ToDevice(Tensor t)
        {
            if (!device.IsCuda) return t;
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
            if (device.IsCuda) torch.cuda.synchronize();
        }

        public virtual void Dispose()
        {
            model.Dispose();
            labels.Dispose();
        }
    }

    private sealed class TrainStepWorkload : Workload
    {
        private readonly Tensor images;
        private readonly Optimizer optimizer;

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

    private sealed class InputGradientWorkload : Workload
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
            var grad = torch.autograd.grad(loss, x);
            using var _ = torch.no_grad();
            adversarial.copy_((x.detach() + grad.sign() * Epsilon).clamp(0, 1));
        }

        public override void Dispose()
        {
            adversarial.Dispose();
            base.Dispose();
        }
    }
}

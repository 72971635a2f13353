namespace MLDefense.Torch.Optim;

/// <summary>
/// A learning-rate schedule: call <see cref="step"/> once per epoch (after the optimiser's steps), as in PyTorch.
/// Rates follow PyTorch's closed forms, computed from the optimiser's initial rate.
/// </summary>
public abstract class LRScheduler
{
    /// <summary>The optimiser whose rate is set.</summary>
    protected Optimizer Optimizer { get; }
    /// <summary>Epochs stepped so far.</summary>
    public int last_epoch { get; private set; }

    /// <summary>Binds the schedule to an optimiser.</summary>
    protected LRScheduler(Optimizer optimizer) => Optimizer = optimizer;

    /// <summary>The rate for an epoch.</summary>
    protected abstract double RateAt(int epoch, double baseRate);

    /// <summary>Advances one epoch and sets the new rate.</summary>
    public void step()
    {
        last_epoch++;
        Optimizer.LearningRate = RateAt(last_epoch, Optimizer.InitialLearningRate);
    }

    /// <summary>The current rate.</summary>
    public double get_last_lr() => Optimizer.LearningRate;
}

/// <summary>lr = base·γ^⌊epoch / step_size⌋.</summary>
public sealed class StepLR : LRScheduler
{
    private readonly int stepSize;
    private readonly double gamma;
    /// <summary>Creates the schedule.</summary>
    public StepLR(Optimizer optimizer, int step_size, double gamma = 0.1) : base(optimizer)
    {
        if (step_size < 1) throw new ArgumentOutOfRangeException(nameof(step_size), "StepLR: step_size must be ≥ 1");
        (stepSize, this.gamma) = (step_size, gamma);
    }
    /// <inheritdoc />
    protected override double RateAt(int epoch, double baseRate) => baseRate * Math.Pow(gamma, epoch / stepSize);
}

/// <summary>lr = base·γ^(number of milestones ≤ epoch).</summary>
public sealed class MultiStepLR : LRScheduler
{
    private readonly int[] milestones;
    private readonly double gamma;
    /// <summary>Creates the schedule.</summary>
    public MultiStepLR(Optimizer optimizer, IEnumerable<int> milestones, double gamma = 0.1) : base(optimizer)
    {
        this.milestones = milestones.OrderBy(m => m).ToArray();
        this.gamma = gamma;
    }
    /// <inheritdoc />
    protected override double RateAt(int epoch, double baseRate) => baseRate * Math.Pow(gamma, milestones.Count(m => m <= epoch));
}

/// <summary>lr = η_min + (base − η_min)(1 + cos(π·epoch / T_max)) / 2.</summary>
public sealed class CosineAnnealingLR : LRScheduler
{
    private readonly int tMax;
    private readonly double etaMin;
    /// <summary>Creates the schedule.</summary>
    public CosineAnnealingLR(Optimizer optimizer, int T_max, double eta_min = 0) : base(optimizer)
    {
        if (T_max < 1) throw new ArgumentOutOfRangeException(nameof(T_max), "CosineAnnealingLR: T_max must be ≥ 1");
        (tMax, etaMin) = (T_max, eta_min);
    }
    /// <inheritdoc />
    protected override double RateAt(int epoch, double baseRate) => etaMin + (baseRate - etaMin) * (1 + Math.Cos(Math.PI * epoch / tMax)) / 2;
}

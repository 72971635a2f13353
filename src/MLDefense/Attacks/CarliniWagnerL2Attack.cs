using MLDefense.Data;
using MLDefense.Classifiers;

namespace MLDefense.Attacks;

/// <summary>Options of <see cref="CarliniWagnerL2Attack"/>. Defaults are Carlini and Wagner's (their reference code's constants).</summary>
public sealed class CarliniWagnerL2Options
{
    /// <summary>
    /// The confidence κ: how far the best other logit must exceed the true one (or the target's exceed the rest) before the
    /// objective stops pushing. Default 0. Must be ≥ 0.
    /// </summary>
    public double Confidence { get; set; }

    /// <summary>The initial trade-off constant c of the binary search. Default 1e-3. Must be &gt; 0.</summary>
    public double InitialConstant { get; set; } = 1e-3;

    /// <summary>The number of binary-search steps over c. Default 9. Must be ≥ 1.</summary>
    public int BinarySearchSteps { get; set; } = 9;

    /// <summary>
    /// Adam iterations per binary-search step. Default 10 000 (the paper's); evaluations commonly use 1 000 and the
    /// project's benchmark fewer. Must be ≥ 1.
    /// </summary>
    public int MaxIterations { get; set; } = 10_000;

    /// <summary>Adam's learning rate. Default 0.01. Must be &gt; 0.</summary>
    public double LearningRate { get; set; } = 0.01;

    /// <summary>
    /// Whether a binary-search step stops once the total loss has not fallen by 0.01% over the last tenth of
    /// <see cref="MaxIterations"/> (checked every tenth). Default true.
    /// </summary>
    public bool AbortEarly { get; set; } = true;

    /// <summary>When true the labels are target classes (f uses max_{i≠t} Z_i − Z_t). Default false.</summary>
    public bool Targeted { get; set; }
}

/// <summary>
/// The Carlini–Wagner L2 attack (Carlini and Wagner, "Towards Evaluating the Robustness of Neural Networks", IEEE S&amp;P 2017,
/// Sec. V.A). With the change of variables x' = ½(tanh(w) + 1), which keeps x' in [0, 1] (Sec. IV.B, "change of variables"),
/// it minimises ‖x' − x‖²₂ + c·f(x') with Adam, where f(x') = max(Z(x')_y − max_{i≠y} Z(x')_i + κ, 0) untargeted, or
/// max(max_{i≠t} Z(x')_i − Z(x')_t + κ, 0) targeted (objective f₆ of Sec. IV.A with the confidence κ of Sec. V.A,
/// shifted by κ so that f ≥ 0, as in the authors' code), Z being the logits. A binary search
/// over c per image (halving towards the smallest c that succeeded, ×10 while none has) runs
/// <see cref="CarliniWagnerL2Options.BinarySearchSteps"/> optimisations, each from w₀ = atanh(0.999999·(2x − 1)) with a
/// fresh Adam. The result is, per image, the successful x' of smallest L2 distance seen at any iteration; an image never
/// attacked successfully is returned unchanged.
/// </summary>
/// <remarks>
/// Success at an iterate means max_{i≠y} Z_i − Z_y &gt; κ (untargeted) or Z_t − max_{i≠t} Z_i &gt; κ (targeted). The distance
/// is measured to the clean image x itself (the reference code measures it to tanh's reconstruction of x, which differs
/// by about 1e-6 per pixel). Norm reports <see cref="AttackNorm.L2"/>; there is no fixed budget.
/// </remarks>
public sealed class CarliniWagnerL2Attack : AdversarialAttack
{
    // The reference code's "no upper bound yet" sentinel and the factor that keeps atanh finite at pixels of 0 and 1.
    private const double NoUpperBound = 1e10;
    private const double AtanhMargin = 0.999999;

    /// <summary>Creates the attack; the options are checked and copied.</summary>
    public CarliniWagnerL2Attack(CarliniWagnerL2Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Confidence = AttackInputs.NonNegative(options.Confidence, "confidence", Name);
        InitialConstant = AttackInputs.Positive(options.InitialConstant, "initialConstant", Name);
        BinarySearchSteps = AttackInputs.AtLeastOne(options.BinarySearchSteps, "binarySearchSteps", Name);
        MaxIterations = AttackInputs.AtLeastOne(options.MaxIterations, "maxIterations", Name);
        LearningRate = AttackInputs.Positive(options.LearningRate, "learningRate", Name);
        AbortEarly = options.AbortEarly;
        Targeted = options.Targeted;
    }

    /// <summary>κ.</summary>
    public double Confidence { get; }
    /// <summary>The initial c.</summary>
    public double InitialConstant { get; }
    /// <summary>The number of binary-search steps.</summary>
    public int BinarySearchSteps { get; }
    /// <summary>Adam iterations per step.</summary>
    public int MaxIterations { get; }
    /// <summary>Adam's learning rate.</summary>
    public double LearningRate { get; }
    /// <summary>Whether a step stops once the loss stalls.</summary>
    public bool AbortEarly { get; }

    /// <inheritdoc />
    public override string Name => "CW-L2";
    /// <inheritdoc />
    public override AttackNorm Norm => AttackNorm.L2;
    /// <inheritdoc />
    public override bool Targeted { get; }

    private protected override Tensor GenerateCore(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken)
    {
        int n = (int)images.size(0);
        var device = images.device;
        var lower = new double[n];
        var upper = Enumerable.Repeat(NoUpperBound, n).ToArray();
        var constants = Enumerable.Repeat(InitialConstant, n).ToArray();

        var bestSquaredDistance = torch.full([n], double.PositiveInfinity, device: device);
        var best = images.clone();
        var labelMask = torch.nn.functional.one_hot(labels, classifier.ClassCount).to(ScalarType.Bool);
        var labelIndex = labels.unsqueeze(1);
        var z = images.mul(2).sub(1).mul(AtanhMargin);
        var wStart = z.add(1).div(1.0 - z).log().mul(0.5); // atanh(z) = ½·ln((1 + z)/(1 − z))
        int checkEvery = Math.Max(MaxIterations / 10, 1);

        for (int searchStep = 0; searchStep < BinarySearchSteps; searchStep++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var stepScope = torch.NewDisposeScope();
            var w = TensorCensus.Record(new Parameter(wStart.clone()));   // Adam optimises parameters; this one is the attack's variable, not a model's
            using var adam = torch.optim.Adam([w], lr: LearningRate);
            var c = torch.tensor(Array.ConvertAll(constants, v => (float)v), [n], device: device);
            var succeededAtThisC = torch.zeros([n], ScalarType.Bool, device);
            double previousLoss = double.PositiveInfinity;

            for (int iteration = 0; iteration < MaxIterations; iteration++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var iterationScope = torch.NewDisposeScope();
                var adversarial = w.tanh().add(1).div(2);
                var squaredDistance = adversarial.sub(images).square().flatten(1).sum(1);
                var logits = classifier.Logits(adversarial);
                var real = logits.gather(1, labelIndex).squeeze(1);
                var other = logits.masked_fill(labelMask, double.NegativeInfinity).max(1).values;
                var margin = Targeted ? other.sub(real) : real.sub(other);
                var loss = squaredDistance.add(c.mul(margin.add(Confidence).clamp(min: 0.0))).sum();
                adam.zero_grad();
                loss.backward();
                adam.step();

                using (torch.no_grad())
                {
                    var success = (Targeted ? real.sub(other) : other.sub(real)).gt(Confidence);
                    succeededAtThisC.copy_(succeededAtThisC.logical_or(success));
                    var improved = success.logical_and(squaredDistance.lt(bestSquaredDistance));
                    bestSquaredDistance.copy_(torch.where(improved, squaredDistance, bestSquaredDistance));
                    best.copy_(torch.where(improved.reshape(-1, 1, 1, 1), adversarial, best));
                }

                if (AbortEarly && iteration % checkEvery == 0)
                {
                    double current = loss.ToDouble();
                    if (current > previousLoss * 0.9999) break;
                    previousLoss = current;
                }
            }

            var succeeded = succeededAtThisC.cpu().data<bool>().ToArray();
            for (int i = 0; i < n; i++)
            {
                if (succeeded[i])
                {
                    upper[i] = Math.Min(upper[i], constants[i]);
                    constants[i] = (lower[i] + upper[i]) / 2;
                }
                else
                {
                    lower[i] = Math.Max(lower[i], constants[i]);
                    constants[i] = upper[i] < NoUpperBound / 10 ? (lower[i] + upper[i]) / 2 : constants[i] * 10;
                }
            }
        }
        return best;
    }
}

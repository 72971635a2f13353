using MLDefense.Classifiers;
using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Attacks;

/// <summary>Options of <see cref="AutoProjectedGradientAttack"/> (APGD-CE).</summary>
public sealed class AutoProjectedGradientOptions
{
    /// <summary>
    /// The budget ε (L∞: per pixel; L2: the perturbation's length). Default 8/255, the CIFAR-10 L∞ budget of Croce and
    /// Hein's evaluation. Must be &gt; 0.
    /// </summary>
    public double Epsilon { get; set; } = 8.0 / 255;

    /// <summary>N_iter, the iterations of a run (Alg. 1). Default 100 (Croce and Hein; AutoAttack's APGD-CE). Must be ≥ 1.</summary>
    public int Iterations { get; set; } = 100;

    /// <summary>The norm of the budget and of the step. Default <see cref="AttackNorm.Linf"/>.</summary>
    public AttackNorm Norm { get; set; } = AttackNorm.Linf;

    /// <summary>α, the momentum weight of Alg. 1's update of x⁽ᵏ⁺¹⁾. Default 0.75 (the paper's). Must be in [0, 1].</summary>
    public double Momentum { get; set; } = 0.75;

    /// <summary>ρ of Condition 1: the step is halved at a checkpoint where the loss rose in fewer than ρ of the steps since the
    /// previous one. Default 0.75 (the paper's). Must be in (0, 1].</summary>
    public double Rho { get; set; } = 0.75;

    /// <summary>
    /// Whether each run starts from a random point of the ε-ball's surface (L∞: x + ε·t/‖t‖∞ with t uniform in [−1, 1]
    /// per pixel; L2: x + ε·t/‖t‖₂ with t Gaussian; clipped to [0, 1], as the authors' implementation), rather than from the
    /// clean image. Default true.
    /// </summary>
    public bool RandomStart { get; set; } = true;

    /// <summary>
    /// Independent runs; later runs attack only the images no earlier run fooled, and each image keeps the best run (a
    /// success, else the highest loss). Default 1 (AutoAttack's standard APGD-CE). Must be ≥ 1.
    /// </summary>
    public int Restarts { get; set; } = 1;
}

/// <summary>
/// APGD-CE, Auto-PGD on the cross-entropy (Croce and Hein, "Reliable evaluation of adversarial robustness with an
/// ensemble of diverse parameter-free attacks", ICML 2020, Sec. 3, Algorithm 1): untargeted, L∞ or L2. From x⁽⁰⁾ and
/// x⁽¹⁾ = P_S(x⁽⁰⁾ + η⁽⁰⁾·∇f(x⁽⁰⁾)) it steps z⁽ᵏ⁺¹⁾ = P_S(x⁽ᵏ⁾ + η⁽ᵏ⁾·∇f(x⁽ᵏ⁾)) and
/// x⁽ᵏ⁺¹⁾ = P_S(x⁽ᵏ⁾ + α·(z⁽ᵏ⁺¹⁾ − x⁽ᵏ⁾) + (1 − α)·(x⁽ᵏ⁾ − x⁽ᵏ⁻¹⁾)) (momentum α = 0.75), keeps the best point x_max,
/// and, at the checkpoints w_j, halves η and restarts from x_max where Condition 1 (the loss rose in fewer than
/// ρ·(w_j − w_{j−1}) of the steps since w_{j−1}) or Condition 2 (η was not halved at w_{j−1} and f_max has not grown since)
/// holds. f is each image's cross-entropy; the step follows sign(∇f) (L∞) or ∇f/‖∇f‖₂ (L2); η⁽⁰⁾ = 2ε; P_S projects onto
/// the ε-ball and clips to [0, 1]. Checkpoints: w_j = ⌈p_j·N_iter⌉ with p₀ = 0, p₁ = 0.22,
/// p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06). Every image has its own η and checkpoint decisions.
/// </summary>
/// <remarks>
/// <para>Written from the paper's description. Where it leaves a detail open this follows its Algorithm 1 literally:
/// the first checkpoint's Condition 2 compares with iteration 0 (η⁽⁰⁾ was not halved, f_max⁽⁰⁾ = f(x⁽⁰⁾)); Condition 1
/// counts the steps i = w_{j−1} … w_j − 1, comparing each new iterate with the one before it (x_max after a restart). A
/// run costs N_iter + 1 forward passes and N_iter gradients. The result is, per image, the last misclassified iterate
/// where one was misclassified (so an image fooled at any iteration stays fooled, as the authors' implementation
/// counts it), else x_max, the output of Algorithm 1.</para>
/// <para>Random draws come from libtorch's global generator (seed it with <c>torch.manual_seed</c>).</para>
/// </remarks>
public sealed class AutoProjectedGradientAttack : AdversarialAttack
{
    /// <summary>Creates the attack; the options are checked (ε &gt; 0, iterations ≥ 1, α in [0, 1], ρ in (0, 1], restarts ≥ 1) and copied.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the message names it).</exception>
    public AutoProjectedGradientAttack(AutoProjectedGradientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Norm = AttackInputs.Defined(options.Norm, Name);
        Epsilon = AttackInputs.Positive(options.Epsilon, "epsilon", Name);
        Iterations = AttackInputs.AtLeastOne(options.Iterations, "iterations", Name);
        Restarts = AttackInputs.AtLeastOne(options.Restarts, "restarts", Name);
        Momentum = options.Momentum is >= 0 and <= 1 ? options.Momentum
            : throw new ArgumentOutOfRangeException("momentum", options.Momentum, $"{Name}: momentum must be in [0, 1] (the paper's α = 0.75).");
        Rho = options.Rho is > 0 and <= 1 ? options.Rho
            : throw new ArgumentOutOfRangeException("rho", options.Rho, $"{Name}: rho must be in (0, 1] (the paper's ρ = 0.75).");
        RandomStart = options.RandomStart;
        Checkpoints = CheckpointsFor(Iterations);
    }

    /// <summary>ε.</summary>
    public double Epsilon { get; }
    /// <summary>N_iter.</summary>
    public int Iterations { get; }
    /// <summary>α.</summary>
    public double Momentum { get; }
    /// <summary>ρ.</summary>
    public double Rho { get; }
    /// <summary>The number of runs.</summary>
    public int Restarts { get; }
    /// <summary>Whether runs start at a random point of the ε-ball's surface.</summary>
    public bool RandomStart { get; }
    /// <summary>The checkpoints w₁, w₂, … (iterations in [1, N_iter − 1]) where the step size may be halved.</summary>
    public IReadOnlyList<int> Checkpoints { get; }

    /// <inheritdoc />
    public override string Name => "APGD-CE";
    /// <inheritdoc />
    public override AttackNorm Norm { get; }
    /// <inheritdoc />
    public override bool Targeted => false;

    /// <summary>
    /// The checkpoints of Alg. 1 for <paramref name="iterations"/>: w_j = ⌈p_j·N_iter⌉ with p₀ = 0, p₁ = 0.22 and
    /// p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), those in [1, N_iter − 1] (N_iter = 100: 22, 41, 57, 70, 80, 87, 93, 99).
    /// </summary>
    public static IReadOnlyList<int> CheckpointsFor(int iterations)
    {
        var result = new List<int>();
        double previous = 0, current = 0.22;
        while (current <= 1 + 1e-9)
        {
            // The small tolerance keeps ⌈0.22·100⌉ at 22 despite binary rounding.
            int w = (int)Math.Ceiling(current * iterations - 1e-9);
            if (w >= 1 && w < iterations && (result.Count == 0 || w > result[^1])) result.Add(w);
            (previous, current) = (current, current + Math.Max(current - previous - 0.03, 0.06));
        }
        return result;
    }

    private protected override Tensor GenerateCore(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken)
    {
        var (best, fooled, score) = Run(classifier, images, labels, cancellationToken);
        for (int restart = 1; restart < Restarts; restart++)
        {
            using var scope = torch.NewDisposeScope();
            var open = fooled.logical_not().nonzero().flatten();
            if (open.size(0) == 0) break;
            var (candidate, succeeded, loss) = Run(classifier, images.index_select(0, open), labels.index_select(0, open), cancellationToken);
            // A success beats a failure; between failures, the higher loss wins.
            var better = succeeded.logical_or(loss.gt(score.index_select(0, open)));
            var kept = open.masked_select(better);
            best.index_copy_(0, kept, candidate.index_select(0, better.nonzero().flatten()));
            score.index_copy_(0, kept, loss.masked_select(better));
            fooled.index_copy_(0, kept, succeeded.masked_select(better));
        }
        return best;
    }

    /// <summary>One run of Alg. 1: the adversarial images, whether each was misclassified at some iterate, and f_max.</summary>
    private (Tensor Adversarial, Tensor Fooled, Tensor BestLoss) Run(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken token)
    {
        using var scope = torch.NewDisposeScope();
        long n = images.size(0);
        var device = images.device;
        Tensor? low = null, high = null;
        if (Norm == AttackNorm.Linf) (low, high) = (images.sub(Epsilon), images.add(Epsilon));
        Tensor Project(Tensor v)
        {
            if (Norm == AttackNorm.Linf) return torch.minimum(torch.maximum(v, low!), high!).clamp(0.0, 1.0);
            var delta = v.sub(images);
            var shrink = AttackMath.PerImageNorm(delta, 2).reciprocal().mul(Epsilon).clamp(max: 1.0);
            return images.add(delta.mul(shrink)).clamp(0.0, 1.0);
        }
        Tensor Direction(Tensor gradient) => Norm == AttackNorm.Linf ? gradient.sign() : gradient.div(AttackMath.PerImageNorm(gradient, 2));
        static Tensor Rows(Tensor mask) => mask.reshape(-1, 1, 1, 1);

        token.ThrowIfCancellationRequested();
        var x = RandomStart ? StartPoint(images) : images.clone();
        var (loss, grad, wrong) = Evaluate(classifier, x, labels, withGradient: true);
        var prev = x.clone();
        var best = x.clone();
        var bestGrad = grad!.clone();
        var bestLoss = loss.clone();
        var lastFooled = x.clone();
        var fooled = wrong.clone();
        var step = torch.full([n, 1, 1, 1], 2 * Epsilon, device: device);   // η⁽⁰⁾ = 2ε
        var rises = torch.zeros([n], ScalarType.Int64, device: device);      // steps with f(x⁽ⁱ⁺¹⁾) > f(x⁽ⁱ⁾) since the last checkpoint
        var halvedAtLast = torch.zeros([n], ScalarType.Bool, device: device);
        var bestAtLast = loss.clone();                                         // f_max at the last checkpoint (f(x⁽⁰⁾) at w₀ = 0)
        var checkpoints = new HashSet<int>(Checkpoints);
        int lastCheckpoint = 0;

        for (int k = 0; k < Iterations; k++)
        {
            token.ThrowIfCancellationRequested();
            using var iteration = torch.NewDisposeScope();
            // k = 0 is x⁽¹⁾ = z⁽¹⁾ (no momentum yet); then α = Momentum.
            double a = k == 0 ? 1.0 : Momentum;
            var z = Project(x.add(Direction(grad!).mul(step)));
            var next = Project(x.add(z.sub(x).mul(a)).add(x.sub(prev).mul(1 - a)));
            bool last = k == Iterations - 1;
            var (f, g, w) = Evaluate(classifier, next, labels, withGradient: !last);
            var rose = f.gt(loss);
            var improved = f.gt(bestLoss);
            best.copy_(torch.where(Rows(improved), next, best));
            if (!last) bestGrad.copy_(torch.where(Rows(improved), g!, bestGrad));
            bestLoss.copy_(torch.maximum(f, bestLoss));
            lastFooled.copy_(torch.where(Rows(w), next, lastFooled));
            fooled.logical_or_(w);
            prev.copy_(x);
            x.copy_(next);
            loss.copy_(f);
            if (!last) grad!.copy_(g!);

            if (checkpoints.Contains(k))
            {
                // Condition 1: the loss rose in fewer than ρ·(w_j − w_{j−1}) of the steps i = w_{j−1} … w_j − 1.
                var fewRises = rises.to_type(ScalarType.Float64).lt(Rho * (k - lastCheckpoint));
                // Condition 2: η was not halved at w_{j−1} and f_max did not grow since.
                var stalled = halvedAtLast.logical_not().logical_and(bestLoss.le(bestAtLast));
                var halve = fewRises.logical_or(stalled);
                step.copy_(torch.where(Rows(halve), step.div(2), step));
                x.copy_(torch.where(Rows(halve), best, x));
                if (!last) grad!.copy_(torch.where(Rows(halve), bestGrad, grad!));
                loss.copy_(torch.where(halve, bestLoss, loss));
                halvedAtLast.copy_(halve);
                bestAtLast.copy_(bestLoss);
                // This step (i = w_j) opens the next window.
                rises.copy_(rose.to_type(ScalarType.Int64));
                lastCheckpoint = k;
            }
            else
            {
                rises.add_(rose.to_type(ScalarType.Int64));
            }
        }
        var result = torch.where(Rows(fooled), lastFooled, best);
        return (result.MoveToOuterDisposeScope(), fooled.MoveToOuterDisposeScope(), bestLoss.MoveToOuterDisposeScope());
    }

    /// <summary>Each image's cross-entropy, the gradient of their sum (when asked) and whether each is misclassified.</summary>
    private static (Tensor Loss, Tensor? Gradient, Tensor Wrong) Evaluate(IDifferentiableClassifier classifier, Tensor x, Tensor labels, bool withGradient)
    {
        if (!withGradient)
        {
            using var _ = torch.no_grad();
            var plain = classifier.Logits(x);
            return (F.cross_entropy(plain, labels, reduction: Reduction.None), null, plain.argmax(1).ne(labels));
        }
        var input = x.detach().requires_grad_();
        var logits = classifier.Logits(input);
        var loss = F.cross_entropy(logits, labels, reduction: Reduction.None);
        var gradient = torch.autograd.grad([loss.sum()], [input])[0];
        return (loss.detach(), gradient, logits.detach().argmax(1).ne(labels));
    }

    private Tensor StartPoint(Tensor images)
    {
        Tensor delta;
        if (Norm == AttackNorm.Linf)
        {
            var t = torch.rand_like(images).mul(2).sub(1);
            delta = t.div(AttackMath.PerImageNorm(t, double.PositiveInfinity)).mul(Epsilon);
        }
        else
        {
            var t = torch.randn_like(images);
            delta = t.div(AttackMath.PerImageNorm(t, 2)).mul(Epsilon);
        }
        return images.add(delta).clamp(0.0, 1.0);
    }
}

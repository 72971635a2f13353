using MLDefense.Attacks;
using MLDefense.Classifiers;
using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Defenses;

// The adaptive attacks of MixDefense's Sec. 6 on ContraNet. They live with ContraNet, not in Attacks/, because they differentiate through
// its encoder, generator and metric model (ContraNetTransformer.Networks, internal); Attacks/ stays below the defenses and knows none of
// them (DESIGN.md, layers). They follow the shape of PGD (Attacks/IterativeAttacks.cs) and share its projection and step.

/// <summary>
/// The budget and steps of the two image-space adaptive attacks on ContraNet (<see cref="ContraNetInputAttack"/>, <see cref="ContraNetBpdaAttack"/>),
/// in PGD's terms (<see cref="ProjectedGradientDescentOptions"/>); each attack's options add its own weight.
/// </summary>
public abstract class ContraNetImageAttackOptions
{
    private protected ContraNetImageAttackOptions() { }

    /// <summary>The image budget ε (L∞: per pixel; L2: the perturbation's length). Default 0.3 (MNIST, as PGD's). Must be &gt; 0.</summary>
    public double Epsilon { get; set; } = 0.3;

    /// <summary>The step size α. Default 0.01 (PGD's, Madry et al. MNIST). Must be &gt; 0.</summary>
    public double StepSize { get; set; } = 0.01;

    /// <summary>The number of iterations. Default 40 (PGD's). Must be ≥ 1.</summary>
    public int Iterations { get; set; } = 40;

    /// <summary>The norm of the budget and of the steps. Default <see cref="AttackNorm.Linf"/>.</summary>
    public AttackNorm Norm { get; set; } = AttackNorm.Linf;
}

/// <summary>
/// Options of <see cref="ContraNetInputAttack"/> (Sec. 6, Fig. 12). ε, α and the iterations are those of each of its two stages (the PGD start,
/// then the cGAN-input refinement); the L∞ default is the paper's (Fig. 12 uses FGSM L∞).
/// </summary>
public sealed class ContraNetInputAttackOptions : ContraNetImageAttackOptions
{
    /// <summary>
    /// c, the weight of the hinge max(0, max_{j≠y′} Z_j − Z_{y′}) that keeps the classifier at y′ while the reconstruction error falls.
    /// Default 1 (it is zero while the classifier says y′, so it only pulls back iterates that lost y′). Must be ≥ 0.
    /// </summary>
    public double ClassifierWeight { get; set; } = 1;
}

/// <summary>
/// The frame of the two image-space adaptive attacks on ContraNet (<see cref="ContraNetInputAttack"/>, <see cref="ContraNetBpdaAttack"/>): the
/// detector they differentiate through, their checked budget and steps, and PGD's projected step (Attacks/IterativeAttacks.cs) in the ε-ball around
/// the clean images. Untargeted: the labels are the true classes.
/// </summary>
public abstract class ContraNetImageAttack : AdversarialAttack
{
    /// <summary>Checks and copies the shared options; <paramref name="name"/> names the attack in their errors.</summary>
    private protected ContraNetImageAttack(string name, ContraNetTransformer contranet, ContraNetImageAttackOptions options)
    {
        ArgumentNullException.ThrowIfNull(contranet);
        ArgumentNullException.ThrowIfNull(options);
        Name = name;
        Detector = contranet;
        Norm = AttackInputs.Defined(options.Norm, name);
        Epsilon = AttackInputs.Positive(options.Epsilon, "epsilon", name);
        StepSize = AttackInputs.Positive(options.StepSize, "stepSize", name);
        Iterations = AttackInputs.AtLeastOne(options.Iterations, "iterations", name);
    }

    /// <summary>ε.</summary>
    public double Epsilon { get; }
    /// <summary>α.</summary>
    public double StepSize { get; }
    /// <summary>The number of iterations (of each stage, for <see cref="ContraNetInputAttack"/>).</summary>
    public int Iterations { get; }

    /// <inheritdoc />
    public sealed override string Name { get; }
    /// <inheritdoc />
    public sealed override AttackNorm Norm { get; }
    /// <inheritdoc />
    public sealed override bool Targeted => false;

    /// <summary>The ContraNet the attack goes through.</summary>
    private protected ContraNetTransformer Detector { get; }

    /// <summary>The checks made before any work: the classifier takes ContraNet's images, has its classes and is on its device.</summary>
    private protected void CheckCompatible(IDifferentiableClassifier classifier)
    {
        if (Detector.InputShape != classifier.InputShape)
            throw new ArgumentException($"{Name}: ContraNet was fitted on {Detector.InputShape} images but the classifier takes {classifier.InputShape}.", nameof(classifier));
        if (Detector.ClassCount != classifier.ClassCount)
            throw new ArgumentException($"{Name}: ContraNet was fitted on {Detector.ClassCount} classes but the classifier has {classifier.ClassCount}.", nameof(classifier));
        if (!Detector.Device.IsSame(classifier.Device))
            throw new ArgumentException($"{Name}: ContraNet is on {Detector.Device} but the classifier is on {classifier.Device}.", nameof(classifier));
    }

    /// <summary>The L∞ ball's per-pixel bounds around <paramref name="images"/> (null, null under L2).</summary>
    private protected (Tensor? Low, Tensor? High) Bounds(Tensor images) =>
        Norm == AttackNorm.Linf ? (images.sub(Epsilon), images.add(Epsilon)) : (null, null);

    /// <summary>
    /// PGD's step from <paramref name="input"/>: α along the norm's step direction of <paramref name="gradient"/> (against it when
    /// <paramref name="descend"/>), projected onto the ε-ball around <paramref name="images"/> (<see cref="Bounds"/>) and into [0, 1].
    /// </summary>
    private protected Tensor Step(Tensor input, Tensor gradient, bool descend, Tensor images, Tensor? low, Tensor? high)
    {
        var step = AttackMath.StepDirection(gradient, Norm).mul(StepSize);
        var moved = descend ? input.detach().sub(step) : input.detach().add(step);
        return AttackMath.Project(moved, images, low, high, Norm, Epsilon).clamp(0.0, 1.0);
    }
}

/// <summary>
/// The adaptive attack on the cGAN's input (MixDefense, Sec. 6, Fig. 12): an adversarial example whose reconstruction x′ = G(μ(x̃), y′) is
/// optimised to look like the adversarial example itself, so that ContraNet finds no contradiction — "we generate AEs under a given
/// perturbation budget in such a manner that the reconstructed image is optimized to be similar to the corresponding AE whenever possible".
/// Name <c>adaptive-cgan-input</c>. Untargeted: the labels are the true classes.
/// </summary>
/// <remarks>
/// <para>Stage 1 is the non-adaptive attack: PGD from the clean image (no random start; <see cref="ContraNetImageAttackOptions.Iterations"/>
/// steps of α in the ε-ball, exactly <see cref="ProjectedGradientDescentAttack"/> with <c>RandomStart = false</c>). Its AE fixes y′, the
/// classifier's argmax, which is the label ContraNet reconstructs under. Stage 2 starts there and, in the same ε-ball around the clean image,
/// descends Σ_i mean((G(μ(x̃_i), y′_i) − x̃_i)²) + c·max(0, max_{j≠y′} Z_j(x̃_i) − Z_{y′}(x̃_i)) — Alg. 1's L2 Dist between the reconstruction and
/// the AE, differentiated through the encoder and the generator (and through both of Dist's arguments), plus a hinge that keeps the
/// classifier fooled. Each image keeps the iterate (the start included) of lowest reconstruction error among those the classifier still
/// labels y′, so the result is never less adversarial than the PGD start. Images the PGD start does not fool are returned as it left them.</para>
/// <para>Departure: the paper names a targeted FGSM following its Ref. [68] (Kos et al.'s attack on generative models) without giving the
/// objective; this is its iterative form with the AE as its own target, which is at least as strong as a single signed step.</para>
/// </remarks>
public sealed class ContraNetInputAttack : ContraNetImageAttack
{
    /// <summary>The attack's name in tables and JSON.</summary>
    public const string AttackName = "adaptive-cgan-input";

    /// <summary>Creates the attack on <paramref name="contranet"/>; the options are checked and copied.</summary>
    public ContraNetInputAttack(ContraNetTransformer contranet, ContraNetInputAttackOptions options) : base(AttackName, contranet, options) =>
        ClassifierWeight = AttackInputs.NonNegative(options.ClassifierWeight, "classifierWeight", Name);

    /// <summary>c.</summary>
    public double ClassifierWeight { get; }

    /// <summary>Per image mean((G(μ(x), y) − x)²), [N]: the objective stage 2 lowers (differentiable).</summary>
    public Tensor ReconstructionError(Tensor images, Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        var reconstruction = Detector.Reconstruct(images, labels);
        return (reconstruction - images).square().mean([1, 2, 3]).MoveToOuterDisposeScope();
    }

    private protected override Tensor GenerateCore(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken)
    {
        CheckCompatible(classifier);
        var start = IterativeGradient.Run(classifier, images, labels, images.clone(), Norm, Epsilon, StepSize, Iterations, targeted: false, decayFactor: null,
            cancellationToken);
        Tensor target, fooled;
        using (torch.no_grad())
        {
            target = classifier.Logits(start).argmax(1);
            fooled = target.ne(labels);
        }
        var targetMask = F.one_hot(target, classifier.ClassCount).to(ScalarType.Bool);
        var (low, high) = Bounds(images);
        var best = start.clone();
        var bestError = torch.full([images.size(0)], double.PositiveInfinity, device: images.device);

        void Record(Tensor x, Tensor logits, Tensor error)
        {
            using var scope = torch.NewDisposeScope();
            using var _ = torch.no_grad();
            var better = logits.argmax(1).eq(target).logical_and(fooled).logical_and(error.lt(bestError));
            best.copy_(torch.where(better.reshape(-1, 1, 1, 1), x, best));
            bestError.copy_(torch.where(better, error, bestError));
        }

        var adversarial = start;
        for (int t = 0; t < Iterations; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var step = torch.NewDisposeScope();
            var input = adversarial.detach().requires_grad_();
            var logits = classifier.Logits(input);
            var error = ReconstructionError(input, target);
            Record(input.detach(), logits.detach(), error.detach());
            var other = logits.masked_fill(targetMask, double.NegativeInfinity).max(1).values;
            var hinge = F.relu(other - logits.gather(1, target.unsqueeze(1)).squeeze(1));
            var loss = (error + hinge * ClassifierWeight).sum();
            var gradient = torch.autograd.grad([loss], [input])[0];
            adversarial = AttackMath.Replace(adversarial, Step(input, gradient, descend: true, images, low, high));
        }
        using (torch.no_grad())
        using (var scope = torch.NewDisposeScope())
            Record(adversarial, classifier.Logits(adversarial), ReconstructionError(adversarial, target));
        return best;
    }
}

/// <summary>Options of <see cref="ContraNetBpdaAttack"/>.</summary>
public sealed class ContraNetBpdaOptions : ContraNetImageAttackOptions
{
    /// <summary>
    /// w, the weight of the detector's score (in units of its threshold) against the classifier's cross-entropy. Default 1: one threshold's
    /// worth of score weighs as much as one nat of cross-entropy. Must be ≥ 0 (0 is PGD from the clean image).
    /// </summary>
    public double ScoreWeight { get; set; } = 1;

    /// <summary>Whether the run starts at a uniformly random point of the ε-ball (as PGD's random start). Default false (the clean image).</summary>
    public bool RandomStart { get; set; }
}

/// <summary>
/// The end-to-end attack on the classifier and ContraNet together — the one MixDefense's Sec. 6 calls impractical "because ... the only connection in
/// between (i.e., the predicted label y) is produced by a non-differentiable argmax operator" — made practical with BPDA (Athalye, Carlini and Wagner,
/// "Obfuscated Gradients Give a False Sense of Security", ICML 2018, Sec. 4.1): PGD ascending
/// Σ_i CE(f(x_i), y_i) − w·s(x_i)/t, s(x) = d(M(x), M(G(μ(x), y′(x)))) the detector's score under its rule, t its threshold, y′(x) = argmax f(x).
/// Name <c>adaptive-bpda</c>. Untargeted: the labels are the true classes.
/// </summary>
/// <remarks>
/// <para>The argmax is approximated by the identity on the backward pass (the straight-through estimator): the label is
/// ŷ = onehot(argmax p) + (p − stopgrad(p)), p = softmax(f(x)), which is exactly the one-hot label in the forward pass — so s(x) is the detector's real
/// score — while its gradient flows into p, and through it into the classifier. ContraNet's conditional batch norms take such class weights
/// (<see cref="ContraNetTransformer.Reconstruct"/>). The gradient therefore has two paths: through E, G and M at the fixed label, and through the label
/// into the classifier (<see cref="DetectorScore"/>).</para>
/// <para>Each image keeps its best iterate (the start included): fooled and not flagged beats fooled and flagged, which beats not fooled; among
/// fooled iterates the lower score wins, among the rest the higher cross-entropy.</para>
/// </remarks>
public sealed class ContraNetBpdaAttack : ContraNetImageAttack
{
    /// <summary>The attack's name in tables and JSON.</summary>
    public const string AttackName = "adaptive-bpda";

    /// <summary>Creates the attack on <paramref name="contranet"/>; the options are checked and copied.</summary>
    public ContraNetBpdaAttack(ContraNetTransformer contranet, ContraNetBpdaOptions options) : base(AttackName, contranet, options)
    {
        ScoreWeight = AttackInputs.NonNegative(options.ScoreWeight, "scoreWeight", Name);
        RandomStart = options.RandomStart;
    }

    /// <summary>w.</summary>
    public double ScoreWeight { get; }
    /// <summary>Whether the run starts at a random point of the ε-ball.</summary>
    public bool RandomStart { get; }

    /// <summary>t, the score's unit: the detector's threshold (1 where it is not a positive number).</summary>
    private double Unit => Detector.Threshold is > 0 and var t && float.IsFinite(t) ? t : 1.0;

    /// <summary>
    /// s(x) [N] with BPDA's straight-through label: in the forward pass exactly the detector's score under y′ = argmax f(x); in the backward pass
    /// the argmax is the identity on softmax(f(x)), so the gradient also flows through the label into the classifier.
    /// </summary>
    public Tensor DetectorScore(IDifferentiableClassifier classifier, Tensor images)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        CheckCompatible(classifier);
        DefenseColumns.CheckImageTensor(images, Detector.InputShape, "the shape ContraNet was fitted on");
        using var scope = torch.NewDisposeScope();
        return StraightThroughScore(classifier.Logits(images), images).MoveToOuterDisposeScope();
    }

    /// <summary>The objective the attack ascends, per image [N]: CE(f(x), y) − w·s(x)/t, with <see cref="DetectorScore"/>'s s (differentiable; images in [0, 1], labels the true classes).</summary>
    public Tensor Objective(IDifferentiableClassifier classifier, Tensor images, Tensor labels)
    {
        AttackInputs.Validate(Name, classifier, images, labels);
        CheckCompatible(classifier);
        using var scope = torch.NewDisposeScope();
        var logits = classifier.Logits(images);
        return Objective(logits, StraightThroughScore(logits, images), labels).MoveToOuterDisposeScope();
    }

    private Tensor StraightThroughScore(Tensor logits, Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        var probabilities = logits.softmax(1);
        var hard = F.one_hot(probabilities.argmax(1), probabilities.size(1)).to(probabilities.dtype);
        // p − stopgrad(p) is exactly 0 forward, so the label is exactly one-hot; backward it is the identity on p.
        var label = hard + (probabilities - probabilities.detach());
        return Detector.ScoreOf(images, Detector.Networks.Reconstruct(images, label)).MoveToOuterDisposeScope();
    }

    private Tensor Objective(Tensor logits, Tensor score, Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        var ce = F.cross_entropy(logits, labels, reduction: Reduction.None);
        return (ce - score * (ScoreWeight / Unit)).MoveToOuterDisposeScope();
    }

    private protected override Tensor GenerateCore(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken)
    {
        CheckCompatible(classifier);
        var (low, high) = Bounds(images);
        var adversarial = RandomStart ? RandomPoint(images, low, high) : images.clone();
        long n = images.size(0);
        var best = adversarial.clone();
        // Rank: 2 fooled and unflagged, 1 fooled and flagged, 0 not fooled; within a rank, key (−score when fooled, CE otherwise) higher wins.
        var bestRank = torch.full([n], -1L, ScalarType.Int64, device: images.device);
        var bestKey = torch.full([n], double.NegativeInfinity, device: images.device);
        double threshold = Detector.Threshold;

        void Record(Tensor x, Tensor logits, Tensor score)
        {
            using var scope = torch.NewDisposeScope();
            using var _ = torch.no_grad();
            var fooled = logits.argmax(1).ne(labels);
            var flagged = score.gt(threshold);
            var rank = fooled.to(ScalarType.Int64) + fooled.logical_and(flagged.logical_not()).to(ScalarType.Int64);
            var key = torch.where(fooled, score.neg(), F.cross_entropy(logits, labels, reduction: Reduction.None));
            var better = rank.gt(bestRank).logical_or(rank.eq(bestRank).logical_and(key.gt(bestKey)));
            best.copy_(torch.where(better.reshape(-1, 1, 1, 1), x, best));
            bestRank.copy_(torch.where(better, rank, bestRank));
            bestKey.copy_(torch.where(better, key, bestKey));
        }

        for (int t = 0; t < Iterations; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var step = torch.NewDisposeScope();
            var input = adversarial.detach().requires_grad_();
            var logits = classifier.Logits(input);
            var score = StraightThroughScore(logits, input);
            Record(input.detach(), logits.detach(), score.detach());
            var objective = Objective(logits, score, labels).sum();
            var gradient = torch.autograd.grad([objective], [input])[0];
            adversarial = AttackMath.Replace(adversarial, Step(input, gradient, descend: false, images, low, high));
        }
        using (torch.no_grad())
        using (var scope = torch.NewDisposeScope())
        {
            var logits = classifier.Logits(adversarial);
            Record(adversarial, logits, StraightThroughScore(logits, adversarial));
        }
        return best;
    }

    private Tensor RandomPoint(Tensor images, Tensor? low, Tensor? high)
    {
        using var scope = torch.NewDisposeScope();
        Tensor start;
        if (Norm == AttackNorm.Linf) start = torch.minimum(torch.maximum(images.add(torch.rand_like(images).mul(2 * Epsilon).sub(Epsilon)), low!), high!);
        else
        {
            var direction = torch.randn_like(images);
            long d = images.numel() / images.size(0);
            var radius = torch.rand([images.size(0), 1, 1, 1], device: images.device).pow(1.0 / d).mul(Epsilon);
            start = images.add(direction.div(AttackMath.PerImageNorm(direction, 2)).mul(radius));
        }
        return start.clamp(0.0, 1.0).MoveToOuterDisposeScope();
    }
}

/// <summary>Options of <see cref="ContraNetLatentAttack"/> (Sec. 6, Fig. 13).</summary>
public sealed class ContraNetLatentAttackOptions
{
    /// <summary>
    /// The L∞ budget on z around the encoder's μ(x). Default 0.3, the largest of Fig. 13's FGSM strengths (0.05 to 0.3). Null leaves z
    /// unconstrained (Fig. 13's caption: "modify the latent vector z without constrain"). Must be &gt; 0 when set.
    /// </summary>
    public double? Epsilon { get; set; } = 0.3;

    /// <summary>The step size on z; null (default) takes ε, so that one iteration is Fig. 13's FGSM. Required when <see cref="Epsilon"/> is null. Must be &gt; 0.</summary>
    public double? StepSize { get; set; }

    /// <summary>Signed-gradient steps on z. Default 1 (FGSM, as Fig. 13). Must be ≥ 1.</summary>
    public int Iterations { get; set; } = 1;
}

/// <summary>What <see cref="ContraNetLatentAttack.Run"/> found, per image (flat arrays, row-major).</summary>
/// <param name="StartLatents">μ(x) [N·Z], where the attack starts.</param>
/// <param name="Latents">The attack's z [N·Z].</param>
/// <param name="StartError">mean((G(μ(x), y′) − x)²) [N]: ContraNet's own reconstruction error under y′.</param>
/// <param name="Error">mean((G(z, y′) − x)²) [N]: the objective the attack lowered.</param>
/// <param name="StartScores">The detector's score of x against G(μ(x), y′) [N] — what ContraNet itself computes.</param>
/// <param name="Scores">The detector's score of x against G(z, y′) [N]: d(M(x), M(G(z, y′))) under its rule.</param>
/// <param name="Flags">Scores &gt; the detector's threshold [N].</param>
public sealed record ContraNetLatentAttackResult(float[] StartLatents, float[] Latents, float[] StartError, float[] Error, float[] StartScores, float[] Scores,
    bool[] Flags);

/// <summary>
/// The attack on the latent vector (MixDefense, Sec. 6, Fig. 13): the attacker bypasses the encoder and sets z directly, "seek[ing] a z that can yield a
/// reconstructed image that is similar to the AE" under the fixed condition y′ (the label the classifier gave the AE). Sec. 6's footnote: not possible in
/// practice ("AE attacks can only modify the inputs"); the paper calls it "the strongest possible adaptive attack for ContraNet" and uses it to argue that
/// G(z, y′) stays an image of class y′ whatever z is. Name <c>adaptive-latent</c>.
/// </summary>
/// <remarks>
/// From z₀ = μ(x), <see cref="ContraNetLatentAttackOptions.Iterations"/> steps z ← z − α·sign(∇_z Σ mean((G(z, y′) − x)²)), projected onto
/// ‖z − μ(x)‖∞ ≤ ε when ε is set; one step of α = ε is Fig. 13's FGSM. With more steps each image keeps the iterate of lowest error (the start
/// excluded). The result is what the metric model makes of it: d(M(x), M(G(z, y′))) and the flag, against the detector's own threshold.
/// </remarks>
public sealed class ContraNetLatentAttack
{
    /// <summary>The attack's name in tables and JSON.</summary>
    public const string AttackName = "adaptive-latent";

    private readonly ContraNetTransformer contranet;

    /// <summary>Creates the attack on <paramref name="contranet"/>; the options are checked and copied.</summary>
    public ContraNetLatentAttack(ContraNetTransformer contranet, ContraNetLatentAttackOptions options)
    {
        ArgumentNullException.ThrowIfNull(contranet);
        ArgumentNullException.ThrowIfNull(options);
        this.contranet = contranet;
        Epsilon = options.Epsilon is { } e ? AttackInputs.Positive(e, "epsilon", AttackName) : null;
        StepSize = options.StepSize is { } s ? AttackInputs.Positive(s, "stepSize", AttackName)
            : Epsilon ?? throw new ArgumentException($"{AttackName}: an unconstrained latent attack (epsilon null) needs a stepSize.", nameof(options));
        Iterations = AttackInputs.AtLeastOne(options.Iterations, "iterations", AttackName);
    }

    /// <summary>The L∞ budget on z (null: unconstrained).</summary>
    public double? Epsilon { get; }
    /// <summary>α.</summary>
    public double StepSize { get; }
    /// <summary>The number of steps.</summary>
    public int Iterations { get; }

    /// <summary>
    /// Attacks the latents of <paramref name="images"/> [N, C, H, W] (on ContraNet's device) under the conditions <paramref name="labels"/> (Int64 [N], y′:
    /// the classifier's classes for the images) and reports the detector's verdict on G(z, y′).
    /// </summary>
    /// <exception cref="ArgumentException">The images are not of ContraNet's shape, or the labels are not one class index per image.</exception>
    public ContraNetLatentAttackResult Run(Tensor images, Tensor labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        DefenseColumns.CheckImageTensor(images, contranet.InputShape, "the shape ContraNet was fitted on");
        if (labels.dim() != 1 || labels.size(0) != images.size(0) || labels.dtype != ScalarType.Int64)
            throw new ArgumentException($"{AttackName}: expected one class index per image, Int64 [{images.size(0)}]; found {labels.dtype} [{string.Join(", ", labels.shape)}].", nameof(labels));
        if (!images.device.IsSame(contranet.Device) || !labels.device.IsSame(contranet.Device))
            throw new ArgumentException($"{AttackName}: the images and labels must be on ContraNet's device {contranet.Device}.", nameof(images));
        cancellationToken.ThrowIfCancellationRequested();
        var networks = contranet.Networks;
        using var scope = torch.NewDisposeScope();
        using var gradients = torch.enable_grad();
        var x = images.detach();
        Tensor start;
        using (torch.no_grad())
        {
            var (mean, logVariance) = networks.Encoder.forward(x);
            logVariance.Dispose();
            start = mean;
        }
        Tensor Error(Tensor z) => (networks.Generator.forward(z, labels) - x).square().mean([1, 2, 3]);

        var best = start.clone();
        var bestError = torch.full([x.size(0)], double.PositiveInfinity, device: x.device);
        var latent = start.clone();
        for (int t = 0; t <= Iterations; t++)
        {
            using var step = torch.NewDisposeScope();
            var input = latent.detach().requires_grad_();
            var error = Error(input);
            if (t > 0)
            {
                using var _ = torch.no_grad();
                var better = error.detach().lt(bestError);
                best.copy_(torch.where(better.unsqueeze(1), input.detach(), best));
                bestError.copy_(torch.where(better, error.detach(), bestError));
            }
            if (t == Iterations) break;
            cancellationToken.ThrowIfCancellationRequested();
            var gradient = torch.autograd.grad([error.sum()], [input])[0];
            var moved = input.detach() - gradient.sign() * StepSize;
            if (Epsilon is { } e) moved = torch.minimum(torch.maximum(moved, start - e), start + e);
            latent = AttackMath.Replace(latent, moved);
        }

        using var noGrad = torch.no_grad();
        var startReconstruction = networks.Generator.forward(start, labels);
        var reconstruction = networks.Generator.forward(best, labels);
        var startScores = TensorData.ToArray(contranet.ScoreOf(x, startReconstruction));
        var scores = TensorData.ToArray(contranet.ScoreOf(x, reconstruction));
        return new ContraNetLatentAttackResult(TensorData.ToArray(start.contiguous()), TensorData.ToArray(best.contiguous()),
            TensorData.ToArray((startReconstruction - x).square().mean([1, 2, 3])), TensorData.ToArray(bestError), startScores, scores,
            DefenseInference.Flags(scores, contranet.Threshold));
    }
}

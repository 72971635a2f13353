using MLDefense.Attacks;

namespace MLDefense.Tests;

/// <summary>
/// Properties every attack must have, on the fixture classifier (a small C1 trained on MNIST) and 64 MNIST test images:
/// it lowers accuracy, respects its budget, stays in [0, 1], returns a detached tensor, frees every temporary,
/// and stops when cancelled. Iteration counts are cut down to keep the tests fast.
/// </summary>
[TestClass]
public sealed class AttackTests
{
    private static ModuleClassifier classifier = null!;
    private static Tensor images = null!, labels = null!;
    private static double cleanAccuracy;

    [ClassInitialize]
    public static void Load(TestContext _)
    {
        classifier = AttackFixtures.LoadClassifier();
        (images, labels) = AttackFixtures.LoadInputs();
        cleanAccuracy = Accuracy(images, labels);
    }

    [ClassCleanup]
    public static void Free()
    {
        classifier.Dispose();
        images.Dispose();
        labels.Dispose();
    }

    /// <summary>The attacks with a budget, their norm's ε, and the accuracy they must at least bring the model down to.</summary>
    public static IEnumerable<object[]> BudgetedAttacks() =>
    [
        ["FGSM", 0.2, 0.5],
        ["FGM", 2.0, 0.6],
        ["BIM-Linf", 0.2, 0.2],
        ["BIM-L2", 2.0, 0.3],
        ["PGD-Linf", 0.2, 0.2],
        ["PGD-L2", 2.0, 0.3],
        ["MIM", 0.2, 0.2],
        ["APGD-Linf", 0.2, 0.2],
        ["APGD-L2", 2.0, 0.3],
    ];

    private static AdversarialAttack Create(string name, double epsilon) => name switch
    {
        "FGSM" => new FastGradientAttack(new FastGradientOptions { Epsilon = epsilon }),
        "FGM" => new FastGradientAttack(new FastGradientOptions { Epsilon = epsilon, Norm = AttackNorm.L2 }),
        "BIM-Linf" => new BasicIterativeAttack(new BasicIterativeOptions { Epsilon = epsilon, StepSize = epsilon / 5, Iterations = 10 }),
        "BIM-L2" => new BasicIterativeAttack(new BasicIterativeOptions { Epsilon = epsilon, StepSize = epsilon / 5, Iterations = 10, Norm = AttackNorm.L2 }),
        "PGD-Linf" => new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = epsilon, StepSize = epsilon / 5, Iterations = 10 }),
        "PGD-L2" => new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = epsilon, StepSize = epsilon / 5, Iterations = 10, Norm = AttackNorm.L2, Restarts = 2 }),
        "MIM" => new MomentumIterativeAttack(new MomentumIterativeOptions { Epsilon = epsilon, Iterations = 10 }),
        "APGD-Linf" => new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Epsilon = epsilon, Iterations = 10 }),
        "APGD-L2" => new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Epsilon = epsilon, Iterations = 10, Norm = AttackNorm.L2 }),
        "CW-L2" => new CarliniWagnerL2Attack(new CarliniWagnerL2Options { InitialConstant = 1, BinarySearchSteps = 3, MaxIterations = 50, LearningRate = 0.05 }),
        "DeepFool-L2" => new DeepFoolAttack(new DeepFoolOptions()),
        "DeepFool-Linf" => new DeepFoolAttack(new DeepFoolOptions { Norm = AttackNorm.Linf }),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [TestMethod]
    [DynamicData(nameof(BudgetedAttacks))]
    public void BudgetedAttackLowersAccuracyWithinItsBudgetAndRange(string name, double epsilon, double maxAccuracy)
    {
        var attack = Create(name, epsilon);
        using var adversarial = attack.Generate(classifier, images, labels);

        CollectionAssert.AreEqual(images.shape, adversarial.shape);
        Assert.IsFalse(adversarial.requires_grad, "the result is detached");
        AssertInUnitRange(adversarial, name);
        using (var scope = torch.NewDisposeScope())
        {
            var delta = adversarial.sub(images).flatten(1);
            if (attack.Norm == AttackNorm.Linf)
                Assert.IsTrue(delta.abs().max().ToDouble() <= epsilon + 1e-6, $"{name}: ‖δ‖∞ = {delta.abs().max().ToDouble()} > ε = {epsilon}");
            else
                Assert.IsTrue(torch.linalg.vector_norm(delta, 2, [1]).max().ToDouble() <= epsilon + 1e-4, $"{name}: max ‖δ‖₂ = {torch.linalg.vector_norm(delta, 2, [1]).max().ToDouble()} > ε = {epsilon}");
        }
        double accuracy = Accuracy(adversarial, labels);
        Assert.IsTrue(accuracy <= maxAccuracy && accuracy < cleanAccuracy - 0.3,
            $"{name}: accuracy {accuracy:P1} under attack (clean {cleanAccuracy:P1}); expected at most {maxAccuracy:P0}");
    }

    [TestMethod]
    [DataRow("CW-L2", 0.2)]
    [DataRow("DeepFool-L2", 0.1)]
    [DataRow("DeepFool-Linf", 0.1)]
    public void MinimalPerturbationAttackFoolsTheModelInRange(string name, double maxAccuracy)
    {
        var attack = Create(name, 1);
        using var adversarial = attack.Generate(classifier, images, labels);
        AssertInUnitRange(adversarial, name);
        Assert.IsFalse(adversarial.requires_grad);
        double accuracy = Accuracy(adversarial, labels);
        Assert.IsTrue(accuracy <= maxAccuracy, $"{name}: accuracy {accuracy:P1} under attack (clean {cleanAccuracy:P1})");

        // Minimal-perturbation attacks should need far less than a change of every pixel: a mean L2 well below √784·0.3.
        using var scope = torch.NewDisposeScope();
        double meanL2 = torch.linalg.vector_norm(adversarial.sub(images).flatten(1), 2, [1]).mean().ToDouble();
        Assert.IsTrue(meanL2 < 3.0, $"{name}: mean L2 {meanL2:F2}");
    }

    [TestMethod]
    public void DeepFoolLeavesMisclassifiedImagesUnchanged()
    {
        using var scope = torch.NewDisposeScope();
        var wrongLabels = NextClass(labels);
        var adversarial = new DeepFoolAttack(new DeepFoolOptions()).Generate(classifier, images, wrongLabels);
        var correctlyClassified = classifier.Logits(images).argmax(1).eq(labels);
        // Images the model puts in their true class are "misclassified" with respect to wrongLabels: nothing to do.
        var moved = adversarial.sub(images).abs().flatten(1).max(1).values.gt(0);
        Assert.AreEqual(0L, moved.logical_and(correctlyClassified).sum().item<long>());
    }

    [TestMethod]
    [DataRow("FGSM", 0.3)]
    [DataRow("PGD", 0.8)]
    [DataRow("CW-L2", 0.5)]
    public void TargetedAttackHitsTheTargetFarMoreThanChance(string name, double minHitRate)
    {
        using var scope = torch.NewDisposeScope();
        var targets = NextClass(labels);
        IAdversarialAttack attack = name switch
        {
            "FGSM" => new FastGradientAttack(new FastGradientOptions { Epsilon = 0.3, Targeted = true }),
            "PGD" => new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = 0.3, StepSize = 0.05, Iterations = 15, Targeted = true }),
            _ => new CarliniWagnerL2Attack(new CarliniWagnerL2Options { InitialConstant = 1, BinarySearchSteps = 3, MaxIterations = 50, LearningRate = 0.05, Targeted = true }),
        };
        Assert.IsTrue(((AdversarialAttack)attack).Targeted);
        var adversarial = attack.Generate(classifier, images, targets);
        double cleanHits = Accuracy(images, targets), hits = Accuracy(adversarial, targets);
        Assert.IsTrue(hits >= minHitRate && hits > cleanHits + 0.2, $"{name}: target hit rate {hits:P1} (clean {cleanHits:P1}, chance 10%)");
    }

    [TestMethod]
    public void PgdRandomStartDrawsFromTheGeneratorAndRestartsKeepSuccesses()
    {
        var single = new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = 0.1, StepSize = 0.02, Iterations = 3 });
        var restarted = new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = 0.1, StepSize = 0.02, Iterations = 3, Restarts = 4 });
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        var first = single.Generate(classifier, images, labels);
        torch.manual_seed(5);
        var again = single.Generate(classifier, images, labels);
        var other = single.Generate(classifier, images, labels);
        Assert.AreEqual(0.0, first.sub(again).abs().max().ToDouble(), "same seed, same start");
        Assert.IsTrue(first.sub(other).abs().max().ToDouble() > 0, "a new draw, a new start");

        torch.manual_seed(5);
        var best = restarted.Generate(classifier, images, labels);
        Assert.IsTrue(Accuracy(best, labels) <= Accuracy(first, labels), "restarts keep every success of the first run (the same first draw)");
        Assert.IsTrue(best.sub(images).abs().max().ToDouble() <= 0.1 + 1e-6);
    }

    /// <summary>
    /// APGD-CE against PGD of as many steps (PGD's usual step ε/4, both from a random start, the same seed): at budgets
    /// where PGD leaves part of the batch correct, APGD's adaptive step and momentum leave no more of it correct and reach
    /// a cross-entropy at least as high on average.
    /// </summary>
    [TestMethod]
    [DataRow(AttackNorm.Linf, 0.08)]
    [DataRow(AttackNorm.L2, 1.0)]
    public void ApgdIsAtLeastAsStrongAsPgdOfEqualSteps(AttackNorm norm, double epsilon)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var pgd = new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = epsilon, StepSize = epsilon / 4, Iterations = 20, Norm = norm })
            .Generate(classifier, images, labels);
        torch.manual_seed(3);
        var apgd = new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Epsilon = epsilon, Iterations = 20, Norm = norm }).Generate(classifier, images, labels);
        double pgdAccuracy = Accuracy(pgd, labels), apgdAccuracy = Accuracy(apgd, labels);
        Assert.IsTrue(pgdAccuracy > 0.05, $"{norm} ε = {epsilon}: PGD-20 leaves {pgdAccuracy:P1} correct; the budget must leave room to compare");
        Assert.IsTrue(apgdAccuracy <= pgdAccuracy, $"{norm} ε = {epsilon}: APGD-CE-20 accuracy {apgdAccuracy:P1}, PGD-20 {pgdAccuracy:P1}");
        double pgdLoss = MeanLoss(pgd), apgdLoss = MeanLoss(apgd);
        Assert.IsTrue(apgdLoss >= pgdLoss, $"{norm} ε = {epsilon}: mean cross-entropy APGD-CE {apgdLoss:F3}, PGD {pgdLoss:F3}");
        var delta = apgd.sub(images).flatten(1);
        double size = norm == AttackNorm.Linf ? delta.abs().max().ToDouble() : torch.linalg.vector_norm(delta, 2, [1]).max().ToDouble();
        Assert.IsTrue(size <= epsilon + (norm == AttackNorm.Linf ? 1e-6 : 1e-4), $"{norm}: perturbation {size} > ε = {epsilon}");
        AssertInUnitRange(apgd, "APGD-CE");
    }

    [TestMethod]
    public void ApgdIsDeterministicUnderASeedAndItsFirstStepIsFgsm()
    {
        using var scope = torch.NewDisposeScope();
        var attack = new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Epsilon = 0.1, Iterations = 8, Restarts = 2 });
        torch.manual_seed(9);
        var first = attack.Generate(classifier, images, labels);
        torch.manual_seed(9);
        var again = attack.Generate(classifier, images, labels);
        Assert.AreEqual(0.0, first.sub(again).abs().max().ToDouble(), "same seed, same result");

        // x⁽¹⁾ = P_S(x⁽⁰⁾ + 2ε·sign ∇f(x⁽⁰⁾)) from the clean image is FGSM at ε: one iteration gives FGSM's image wherever FGSM fools the model.
        var oneStep = new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Epsilon = 0.15, Iterations = 1, RandomStart = false }).Generate(classifier, images, labels);
        var fgsm = new FastGradientAttack(new FastGradientOptions { Epsilon = 0.15 }).Generate(classifier, images, labels);
        Tensor fooled;
        using (torch.no_grad()) fooled = classifier.Logits(fgsm).argmax(1).ne(labels);
        Assert.IsTrue(fooled.sum().item<long>() > 0, "FGSM fools some images at ε = 0.15");
        var difference = oneStep.sub(fgsm).abs().flatten(1).max(1).values.masked_select(fooled);
        Assert.AreEqual(0.0, difference.max().ToDouble(), "APGD's first step is FGSM's");
    }

    [TestMethod]
    public void ApgdCheckpointsAndBadOptionsFollowThePaper()
    {
        CollectionAssert.AreEqual(new[] { 22, 41, 57, 70, 80, 87, 93, 99 }, AutoProjectedGradientAttack.CheckpointsFor(100).ToArray(), "w_j = ⌈p_j·100⌉");
        foreach (int n in new[] { 1, 2, 5, 10, 40, 1000 })
        {
            var w = AutoProjectedGradientAttack.CheckpointsFor(n);
            Assert.IsTrue(w.All(k => k >= 1 && k < n) && w.Zip(w.Skip(1)).All(p => p.First < p.Second), $"N_iter = {n}: checkpoints {string.Join(", ", w)}");
        }
        var defaults = new AutoProjectedGradientAttack(new AutoProjectedGradientOptions());
        Assert.AreEqual((8.0 / 255, 100, 0.75, 0.75, 1, AttackNorm.Linf, "APGD-CE", false),
            (defaults.Epsilon, defaults.Iterations, defaults.Momentum, defaults.Rho, defaults.Restarts, defaults.Norm, defaults.Name, defaults.Targeted));
    }

    [TestMethod]
    public void AttacksWorkInsideNoGradAndFreeEveryTemporary()
    {
        string[] names = ["FGSM", "FGM", "BIM-Linf", "BIM-L2", "PGD-Linf", "PGD-L2", "MIM", "APGD-Linf", "APGD-L2", "CW-L2", "DeepFool-L2", "DeepFool-Linf"];
        using var few = images.narrow(0, 0, 8);
        using var fewLabels = labels.narrow(0, 0, 8);
        // Warm-up: one run of each so lazily created native state is not counted as a leak.
        foreach (var name in names) Create(name, 0.2).Generate(classifier, few, fewLabels).Dispose();

        long before = LiveTensors.Count();
        foreach (var name in names)
        {
            using var noGrad = torch.no_grad(); // as a pipeline's Transform would call it
            Create(name, 0.2).Generate(classifier, few, fewLabels).Dispose();
        }
        Assert.AreEqual(before, LiveTensors.Count(), "live native tensors before and after");
    }

    [TestMethod]
    public void ResultJoinsTheCallersDisposeScope()
    {
        long before = LiveTensors.Count();
        Tensor adversarial;
        using (torch.NewDisposeScope())
        {
            adversarial = new FastGradientAttack(new FastGradientOptions { Epsilon = 0.1 }).Generate(classifier, images, labels);
            Assert.IsFalse(adversarial.IsInvalid);
        }
        Assert.IsTrue(adversarial.IsInvalid, "the caller's scope owns the result");
        Assert.AreEqual(before, LiveTensors.Count());
    }

    [TestMethod]
    [DataRow("BIM-Linf")]
    [DataRow("PGD-L2")]
    [DataRow("MIM")]
    [DataRow("APGD-Linf")]
    [DataRow("CW-L2")]
    [DataRow("DeepFool-L2")]
    public void CancellationStopsBetweenIterationsAndFreesEverything(string name)
    {
        var attack = Create(name, 0.2);
        using var few = images.narrow(0, 0, 8);
        using var fewLabels = labels.narrow(0, 0, 8);
        attack.Generate(classifier, few, fewLabels).Dispose(); // warm-up (see above)
        long before = LiveTensors.Count();

        using var cancellation = new CancellationTokenSource();
        int cancelAt = classifier.Calls + 3;
        classifier.OnLogits = call => { if (call == cancelAt) cancellation.Cancel(); };
        try
        {
            Assert.ThrowsExactly<OperationCanceledException>(() => attack.Generate(classifier, few, fewLabels, cancellation.Token));
        }
        finally
        {
            classifier.OnLogits = null;
        }
        Assert.AreEqual(cancelAt, classifier.Calls, $"{name}: the model is not called again once cancelled");
        Assert.AreEqual(before, LiveTensors.Count(), $"{name}: live native tensors after cancellation");

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsExactly<OperationCanceledException>(() => attack.Generate(classifier, few, fewLabels, cancelled.Token));
    }

    private static double MeanLoss(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return torch.nn.functional.cross_entropy(classifier.Logits(input), labels).ToDouble();
    }

    /// <summary>(y + 1) mod 10: a class other than the true one.</summary>
    private static Tensor NextClass(Tensor y) => torch.where(y.eq(9), torch.zeros_like(y), y.add(1));

    internal static double Accuracy(Tensor input, Tensor expected)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return classifier.Logits(input).argmax(1).eq(expected).to(ScalarType.Float32).mean().ToDouble();
    }

    private static void AssertInUnitRange(Tensor t, string name)
    {
        using var scope = torch.NewDisposeScope();
        double low = t.min().ToDouble(), high = t.max().ToDouble();
        Assert.IsTrue(low >= 0 && high <= 1, $"{name}: values from {low} to {high}");
    }
}

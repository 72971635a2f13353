using Microsoft.ML;
using MLDefense.Attacks;
using MLDefense.Classifiers;
using MLDefense.Defenses;

namespace MLDefense.Tests;

/// <summary>
/// MixDefense Sec. 6's adaptive attacks on ContraNet, on a small ContraNet (2 + 1 epochs on 600 MNIST images) behind the 3-epoch C1 of
/// <see cref="ContraNetTests"/>: each stays within its budget, lowers (or raises) its own objective from where it starts, and BPDA's gradient
/// through the argmax is wired — non-zero through the label and equal to a finite difference of the straight-through surrogate.
/// </summary>
[TestClass]
public sealed class ContraNetAdaptiveAttackTests
{
    // Fitted once, before the tests (ClassInitialize), so that no test's time includes the Fit. (A Fit inside a test's dispose scope would
    // also be fine now: FitInsideDisposeScopeTests.)
    private static readonly Lazy<ContraNetTransformer> Detector = new(() =>
    {
        var (ml, _, trainRows, _) = ContraNetTests.Fixture.Value;
        return ml.Transforms.Defenses.ContraNet(ContraNetTests.Tiny with { GanEpochs = 2, MetricEpochs = 1 }).Fit(ml.Data.LoadFromEnumerable(trainRows));
    });

    [ClassCleanup]
    public static void Cleanup()
    {
        if (Detector.IsValueCreated) Detector.Value.Dispose();
    }

    private static (ImageClassifierTransformer Classifier, ContraNetTransformer ContraNet, Tensor Images, Tensor Labels) Inputs(int count)
    {
        var (_, classifier, _, testRows) = ContraNetTests.Fixture.Value;
        var rows = testRows.Take(count).ToArray();
        var images = torch.tensor(rows.SelectMany(r => r.Image).ToArray(), [count, 1, 28, 28]);
        var labels = torch.tensor(rows.Select(r => (long)r.Label).ToArray(), [count]);
        return (classifier, Detector.Value, images, labels);
    }

    private static Tensor Predict(IDifferentiableClassifier classifier, Tensor images)
    {
        using var _ = torch.no_grad();
        using var logits = classifier.Logits(images);
        return logits.argmax(1);
    }

    private static float[] Values(Tensor t) => t.detach().cpu().contiguous().data<float>().ToArray();

    [ClassInitialize]
    public static void Fit(TestContext context) => _ = Detector.Value;

    [TestMethod]
    public void TheCganInputAttackStaysInItsBudgetAndPullsTheReconstructionTowardTheAdversarialExample()
    {
        using var scope = torch.NewDisposeScope();
        var (classifier, contranet, images, labels) = Inputs(32);
        const double epsilon = 0.2, step = 0.02;
        const int iterations = 10;
        var attack = new ContraNetInputAttack(contranet, new() { Epsilon = epsilon, StepSize = step, Iterations = iterations });
        var start = new ProjectedGradientDescentAttack(new() { Epsilon = epsilon, StepSize = step, Iterations = iterations, RandomStart = false })
            .Generate(classifier, images, labels);
        var result = attack.Generate(classifier, images, labels);

        Assert.IsTrue((result - images).abs().max().ToSingle() <= epsilon + 1e-6, "within the L∞ budget");
        Assert.IsTrue(result.min().ToSingle() >= 0 && result.max().ToSingle() <= 1, "a [0, 1] image");

        var target = Predict(classifier, start);
        var fooled = target.ne(labels).cpu().data<bool>().ToArray();
        Assert.IsTrue(fooled.Count(f => f) >= 16, $"PGD at ε {epsilon} fools most of the C1's test images ({fooled.Count(f => f)} of 32)");
        var resultClasses = Predict(classifier, result).cpu().data<long>().ToArray();
        var targetClasses = target.cpu().data<long>().ToArray();
        float[] before, after;
        using (torch.no_grad())
        {
            before = Values(attack.ReconstructionError(start, target));
            after = Values(attack.ReconstructionError(result, target));
        }
        int lower = 0;
        for (int i = 0; i < fooled.Length; i++)
        {
            if (!fooled[i])
            {
                CollectionAssert.AreEqual(Values(start[i]), Values(result[i]), $"image {i}: not fooled by PGD, returned as PGD left it");
                continue;
            }
            Assert.AreEqual(targetClasses[i], resultClasses[i], $"image {i}: the classifier still says y′");
            Assert.IsTrue(after[i] <= before[i], $"image {i}: the reconstruction error never rises ({before[i]} → {after[i]})");
            if (after[i] < before[i]) lower++;
        }
        int total = fooled.Count(f => f);
        double meanBefore = Enumerable.Range(0, 32).Where(i => fooled[i]).Average(i => before[i]);
        double meanAfter = Enumerable.Range(0, 32).Where(i => fooled[i]).Average(i => after[i]);
        Assert.IsTrue(lower >= 0.8 * total, $"the error falls on {lower} of {total} AEs");
        Assert.IsTrue(meanAfter < 0.9 * meanBefore, $"mean ‖G(μ(x̃), y′) − x̃‖² falls from {meanBefore:G4} to {meanAfter:G4}");

        // The L2 form projects onto the L2 ball.
        var l2 = new ContraNetInputAttack(contranet, new() { Epsilon = 2.0, StepSize = 0.5, Iterations = 3, Norm = AttackNorm.L2 }).Generate(classifier, images, labels);
        var lengths = Values(torch.linalg.vector_norm(l2 - images, 2, [1, 2, 3]));
        Assert.IsTrue(lengths.All(v => v <= 2.0 + 1e-4), $"within the L2 budget: max {lengths.Max()}");
    }

    [TestMethod]
    public void TheLatentAttackStaysInItsBudgetAndLowersTheReconstructionError()
    {
        using var scope = torch.NewDisposeScope();
        var (classifier, contranet, images, labels) = Inputs(32);
        var adversarial = new ProjectedGradientDescentAttack(new() { Epsilon = 0.2, StepSize = 0.02, Iterations = 10, RandomStart = false })
            .Generate(classifier, images, labels);
        var predicted = Predict(classifier, adversarial);

        // Fig. 13: one FGSM step of ε on z.
        // Fig. 13's FGSM strengths run from 0.05 to 0.3; a signed step is a descent step where the error is near linear in z, so the test
        // asks the smallest to lower the error and the largest to stay within its budget.
        foreach (double epsilon in new[] { 0.05, 0.3 })
        {
            var step = new ContraNetLatentAttack(contranet, new() { Epsilon = epsilon }).Run(adversarial, predicted);
            for (int j = 0; j < step.Latents.Length; j++)
            {
                double moved = Math.Abs(step.Latents[j] - step.StartLatents[j]);
                Assert.IsTrue(moved <= epsilon + 1e-5, $"ε_z {epsilon}: z[{j}] moved {moved}");
                Assert.IsTrue(moved < 1e-6 || Math.Abs(moved - epsilon) < 1e-5, $"ε_z {epsilon}: z[{j}]: an FGSM step moves each coordinate by 0 or ε, found {moved}");
            }
        }
        var fgsm = new ContraNetLatentAttack(contranet, new() { Epsilon = 0.05 }).Run(adversarial, predicted);
        Assert.IsTrue(fgsm.Error.Average() < fgsm.StartError.Average(), $"one step of 0.05 lowers the mean error {fgsm.StartError.Average():G4} → {fgsm.Error.Average():G4}");

        // Iterated and unconstrained: every image ends below where it started.
        var free = new ContraNetLatentAttack(contranet, new() { Epsilon = null, StepSize = 0.05, Iterations = 20 }).Run(adversarial, predicted);
        for (int i = 0; i < 32; i++) Assert.IsTrue(free.Error[i] < free.StartError[i], $"image {i}: {free.StartError[i]} → {free.Error[i]}");
        Assert.IsTrue(free.Error.Average() < fgsm.Error.Average(), "twenty free steps get closer than one bounded one");

        // The verdict is the detector's own: the start scores are ContraNet's score, the flags its rule.
        float[] detectorScores;
        using (torch.no_grad()) detectorScores = Values(contranet.Score(adversarial, predicted));
        for (int i = 0; i < 32; i++)
        {
            Assert.AreEqual(detectorScores[i], free.StartScores[i], 1e-5, $"image {i}: the start is ContraNet's own reconstruction");
            Assert.AreEqual(free.Scores[i] > contranet.Threshold, free.Flags[i], $"image {i}: flag = score > threshold");
        }

        Assert.ThrowsExactly<ArgumentException>(() => new ContraNetLatentAttack(contranet, new() { Epsilon = null }), "an unconstrained attack needs a step");
        var wrong = Assert.ThrowsExactly<ArgumentException>(() => new ContraNetLatentAttack(contranet, new()).Run(adversarial, predicted.to(ScalarType.Int32)));
        StringAssert.Contains(wrong.Message, "Int64");
    }

    [TestMethod]
    public void TheBpdaAttackStaysInItsBudgetAndRaisesItsObjective()
    {
        using var scope = torch.NewDisposeScope();
        var (classifier, contranet, images, labels) = Inputs(32);
        const double epsilon = 0.2;
        var attack = new ContraNetBpdaAttack(contranet, new() { Epsilon = epsilon, StepSize = 0.02, Iterations = 10 });
        var result = attack.Generate(classifier, images, labels);
        Assert.IsTrue((result - images).abs().max().ToSingle() <= epsilon + 1e-6, "within the L∞ budget");
        Assert.IsTrue(result.min().ToSingle() >= 0 && result.max().ToSingle() <= 1, "a [0, 1] image");

        float[] before, after;
        using (torch.no_grad())
        {
            before = Values(attack.Objective(classifier, images, labels));
            after = Values(attack.Objective(classifier, result, labels));
        }
        Assert.IsTrue(after.Average() > before.Average() + 1, $"mean CE − w·s/t rises from {before.Average():F3} to {after.Average():F3}");
        Assert.IsTrue(Enumerable.Range(0, 32).Count(i => after[i] > before[i]) >= 28, "it rises on nearly every image");
        var fooled = Predict(classifier, result).ne(labels).sum().ToInt64();
        Assert.IsTrue(fooled >= 16, $"the classifier is fooled on {fooled} of 32");

        var mismatched = Assert.ThrowsExactly<ArgumentException>(() => attack.Generate(new WrongShape(classifier), images, labels));
        StringAssert.Contains(mismatched.Message, "adaptive-bpda");
    }

    /// <summary>A classifier with one class more than ContraNet was fitted on.</summary>
    private sealed class WrongShape(IDifferentiableClassifier inner) : IDifferentiableClassifier
    {
        public Device Device => inner.Device;
        public MLDefense.Data.ImageShape InputShape => inner.InputShape;
        public int ClassCount => inner.ClassCount + 1;
        public IReadOnlyList<int>? FeatureMapShape => null;
        public Tensor Logits(Tensor images)
        {
            using var logits = inner.Logits(images);
            return torch.nn.functional.pad(logits, [0, 1]);
        }
        public Tensor FeatureMap(Tensor images) => throw new NotSupportedException();
    }

    [TestMethod]
    public void TheBpdaGradientFlowsThroughTheArgmaxAndMatchesAFiniteDifference()
    {
        using var scope = torch.NewDisposeScope();
        var (classifier, contranet, images, _) = Inputs(4);
        var attack = new ContraNetBpdaAttack(contranet, new());
        // MNIST's exactly-zero backgrounds make exact ties in the metric model's max-pooling, where the score has kinks (autograd takes
        // one side, a central difference the mean of both): the check runs at a point just off them, every pixel inside (0, 1).
        torch.manual_seed(5);
        var x0 = (images * 0.98 + 0.01 + torch.rand_like(images) * 0.005).detach();
        Tensor hard, p0;
        using (torch.no_grad())
        {
            p0 = classifier.Logits(x0).softmax(1);
            hard = torch.nn.functional.one_hot(p0.argmax(1), 10).to(ScalarType.Float32);
        }
        var predicted = p0.argmax(1);

        // Forward: exactly the detector's score under its argmax.
        var input = x0.clone().requires_grad_();
        var score = attack.DetectorScore(classifier, input);
        float[] detector;
        using (torch.no_grad()) detector = Values(contranet.Score(x0, predicted));
        CollectionAssert.AreEqual(detector, Values(score), "the straight-through label is exactly one-hot in the forward pass");

        var gradient = torch.autograd.grad([score.sum()], [input])[0];
        double total = gradient.norm().ToDouble();
        Assert.IsTrue(total > 1e-3, $"the score's input gradient is non-zero: ‖∇‖ = {total}");

        // BPDA's gradient is the derivative of the surrogate φ(x) = Σ s(x, onehot(y′₀) + softmax f(x) − softmax f(x₀)): central differences
        // along the gradient and along a random direction.
        double Surrogate(Tensor x)
        {
            using var inner = torch.NewDisposeScope();
            using var _ = torch.no_grad();
            var weights = hard + classifier.Logits(x).softmax(1) - p0;
            return contranet.Score(x, weights).sum().ToDouble();
        }
        torch.manual_seed(7);
        foreach (var (name, direction) in new[] { ("the gradient", gradient), ("a random direction", torch.randn_like(x0)) })
        {
            var v = direction / direction.norm();
            double analytic = (gradient * v).sum().ToDouble();
            const double delta = 1e-3;
            double numeric = (Surrogate(x0 + v * delta) - Surrogate(x0 - v * delta)) / (2 * delta);
            Assert.AreEqual(analytic, numeric, 0.05 * Math.Abs(analytic) + 3e-4, $"along {name}: autograd {analytic:G6}, finite difference {numeric:G6}");
        }

        // The path through the label, on its own: s(x₀, onehot + softmax f(x) − stopgrad) differentiated in x. It is what the full gradient
        // adds to the fixed-label one, and it is the chain rule's Jᵀ_softmax · ∂s/∂w, with ∂s/∂w (through the conditional batch norms) checked
        // by a finite difference in the class weights. (Its size is small here: a generator trained for two epochs barely uses its label.)
        var fixedInput = x0.clone().requires_grad_();
        var fixedGradient = torch.autograd.grad([contranet.Score(fixedInput, predicted).sum()], [fixedInput])[0];
        var labelInput = x0.clone().requires_grad_();
        var probabilities = classifier.Logits(labelInput).softmax(1);
        var labelGradient = torch.autograd.grad([contranet.Score(x0, hard + (probabilities - probabilities.detach())).sum()], [labelInput])[0];
        double throughLabel = labelGradient.norm().ToDouble();
        Assert.IsTrue(throughLabel > 0, "the gradient reaches the classifier through the label");
        double mismatch = (gradient - fixedGradient - labelGradient).norm().ToDouble();
        Assert.IsTrue(mismatch <= 1e-5 * total + 0.05 * throughLabel, $"∇ = ∇_fixed + ∇_label: mismatch {mismatch:G3} (‖∇‖ {total:G3}, ‖∇_label‖ {throughLabel:G3})");

        var weightsInput = hard.clone().requires_grad_();
        var weightGradient = torch.autograd.grad([contranet.Score(x0, weightsInput).sum()], [weightsInput])[0];
        var u = torch.randn_like(hard);
        u = u / u.norm();
        double weightAnalytic = (weightGradient * u).sum().ToDouble();
        double WeightSurrogate(Tensor w)
        {
            using var _ = torch.no_grad();
            using var s = contranet.Score(x0, w).sum();
            return s.ToDouble();
        }
        const double weightDelta = 0.05;
        double weightNumeric = (WeightSurrogate(hard + u * weightDelta) - WeightSurrogate(hard - u * weightDelta)) / (2 * weightDelta);
        Assert.IsTrue(weightGradient.norm().ToDouble() > 0, "the score depends on the class weights");
        Assert.AreEqual(weightAnalytic, weightNumeric, 0.05 * Math.Abs(weightAnalytic) + 1e-6, $"∂s/∂w: autograd {weightAnalytic:G6}, finite difference {weightNumeric:G6}");
        var chainInput = x0.clone().requires_grad_();
        var chain = torch.autograd.grad([classifier.Logits(chainInput).softmax(1).mul(weightGradient.detach()).sum()], [chainInput])[0];
        double chainMismatch = (chain - labelGradient).norm().ToDouble();
        Assert.IsTrue(chainMismatch <= 1e-3 * throughLabel + 1e-12, $"∇_label = Jᵀ_softmax · ∂s/∂w: mismatch {chainMismatch:G3} of {throughLabel:G3}");
    }
}

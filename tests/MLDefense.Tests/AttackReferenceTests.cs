using MLDefense.Attacks;

namespace MLDefense.Tests;

/// <summary>
/// MLDefense's attacks against the independent PyTorch implementation (attacks_reference.py) on the same weights and
/// inputs: FGSM and PGD must give the same images except at a tiny fraction of pixels (sign ties where the gradient is
/// ~0; the reference is stored as float16, so "same" means within 2e-3), CW-L2 the same success rate and mean L2 within 5%.
/// </summary>
[TestClass]
public sealed class AttackReferenceTests
{
    private const double PixelTolerance = 2e-3;
    private const double MaxMismatchedFraction = 0.005;

    private static ModuleClassifier classifier = null!;
    private static Tensor images = null!, labels = null!;
    private static Dictionary<string, Tensor> reference = null!;
    private static Dictionary<string, string> metadata = null!;
    private static int previousThreads;

    [ClassInitialize]
    public static void Load(TestContext _)
    {
        classifier = AttackFixtures.LoadClassifier();
        (images, labels) = AttackFixtures.LoadInputs();
        (reference, metadata) = AttackFixtures.LoadReference();
        // The reference ran single-threaded; the same thread count keeps libtorch's reductions in the same order.
        previousThreads = torch.get_num_threads();
        torch.set_num_threads((int)metadata.Number("threads"));
    }

    [ClassCleanup]
    public static void Free()
    {
        torch.set_num_threads(previousThreads);
        classifier.Dispose();
        images.Dispose();
        labels.Dispose();
        foreach (var t in reference.Values) t.Dispose();
    }

    [TestMethod]
    public void FgsmMatchesPyTorch()
    {
        var attack = new FastGradientAttack(new FastGradientOptions { Epsilon = metadata.Number("fgsm_epsilon") });
        using var adversarial = attack.Generate(classifier, images, labels);
        AssertSameImages(adversarial, reference["fgsm"], "FGSM");
    }

    [TestMethod]
    public void PgdWithoutRandomStartMatchesPyTorch()
    {
        var attack = new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions
        {
            Epsilon = metadata.Number("pgd_epsilon"), StepSize = metadata.Number("pgd_step_size"),
            Iterations = (int)metadata.Number("pgd_iterations"), RandomStart = false,
        });
        using var adversarial = attack.Generate(classifier, images, labels);
        AssertSameImages(adversarial, reference["pgd"], "PGD");
    }

    [TestMethod]
    public void CarliniWagnerL2AgreesWithPyTorchOnSuccessRateAndMeanL2()
    {
        var attack = new CarliniWagnerL2Attack(new CarliniWagnerL2Options
        {
            Confidence = metadata.Number("cw_confidence"), InitialConstant = metadata.Number("cw_initial_const"),
            BinarySearchSteps = (int)metadata.Number("cw_binary_search_steps"), MaxIterations = (int)metadata.Number("cw_max_iterations"),
            LearningRate = metadata.Number("cw_learning_rate"), AbortEarly = metadata["cw_abort_early"] == "True",
        });
        using var adversarial = attack.Generate(classifier, images, labels);
        var (successRate, meanL2) = SuccessAndMeanL2(adversarial);
        double referenceSuccess = metadata.Number("cw_success_rate"), referenceL2 = metadata.Number("cw_mean_l2");
        Console.WriteLine($"CW-L2 success {successRate:F4} (PyTorch {referenceSuccess:F4}), mean L2 {meanL2:F4} (PyTorch {referenceL2:F4})");

        Assert.IsTrue(referenceSuccess > 0.2, "the fixture exercises CW (some images succeed)");
        Assert.AreEqual(referenceSuccess, successRate, 0.05 * referenceSuccess, "success rate within 5%");
        Assert.AreEqual(referenceL2, meanL2, 0.05 * referenceL2, "mean L2 of the successful images within 5%");

        // The stored reference images tell the same story when scored by this side's model.
        var (storedSuccess, storedL2) = SuccessAndMeanL2(reference["cw"]);
        Assert.AreEqual(referenceSuccess, storedSuccess, 0.02, "the same model scores the reference's images alike");
        Assert.AreEqual(referenceL2, storedL2, 0.01 * referenceL2);
    }

    [TestMethod]
    public void TheFixtureClassifierIsTheOnePyTorchAttacked()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        double accuracy = classifier.Logits(images).argmax(1).eq(labels).to(ScalarType.Float32).mean().ToDouble();
        Assert.AreEqual(metadata.Number("clean_accuracy"), accuracy, 1e-9);
    }

    private static (double SuccessRate, double MeanL2) SuccessAndMeanL2(Tensor adversarial)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var success = classifier.Logits(adversarial).argmax(1).ne(labels);
        var distances = torch.linalg.vector_norm(adversarial.sub(images).flatten(1), 2, [1]);
        double successes = success.sum().item<long>();
        double meanL2 = successes == 0 ? 0 : distances.masked_select(success).mean().ToDouble();
        return (successes / images.size(0), meanL2);
    }

    private static void AssertSameImages(Tensor actual, Tensor expected, string attack)
    {
        using var scope = torch.NewDisposeScope();
        var mismatched = actual.sub(expected).abs().gt(PixelTolerance).sum().item<long>();
        double fraction = mismatched / (double)actual.numel();
        Console.WriteLine($"{attack}: {mismatched} of {actual.numel()} pixels differ from PyTorch's ({fraction:P3})");
        Assert.IsTrue(fraction <= MaxMismatchedFraction, $"{attack}: {fraction:P3} of the pixels differ from PyTorch's by more than {PixelTolerance}");
    }
}

using MLDefense.Attacks;
using MLDefense.Benchmarks;
using MLDefense.Data;

namespace MLDefense.Tests.Benchmarks;

[TestClass]
public sealed class ReplayedAttackTests
{
    [TestMethod]
    public void ARepeatedCallReturnsTheFirstExamplesAndLeavesTheGeneratorWhereTheFirstDid()
    {
        var classifier = EvaluationFixture.Classifier;
        var (images, labels) = EvaluationFixture.TestSet(14, 31);
        using var _ = images;
        using var __ = labels;
        using var first = images.narrow(0, 0, 20);
        using var second = images.narrow(0, 20, 20);
        using var firstLabels = labels.narrow(0, 0, 20);
        using var secondLabels = labels.narrow(0, 20, 20);
        // PGD with a random start draws from the CPU generator: what a replay must give back.
        var pgd = new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = 0.3, StepSize = 0.05, Iterations = 3 });

        torch.manual_seed(5);
        using var plain1 = pgd.Generate(classifier, first, firstLabels);
        using var plain2 = pgd.Generate(classifier, second, secondLabels);
        using var plainAfter = torch.get_rng_state();

        using var replayed = new ReplayedAttack(pgd);
        for (int run = 0; run < 2; run++)
        {
            torch.manual_seed(5);
            using var r1 = replayed.Generate(classifier, first, firstLabels);
            using var r2 = replayed.Generate(classifier, second, secondLabels);
            using var after = torch.get_rng_state();
            CollectionAssert.AreEqual(plain1.data<float>().ToArray(), r1.data<float>().ToArray(), $"run {run}: the first batch's examples");
            CollectionAssert.AreEqual(plain2.data<float>().ToArray(), r2.data<float>().ToArray(), $"run {run}: the second batch's, drawn after the first");
            CollectionAssert.AreEqual(plainAfter.data<byte>().ToArray(), after.data<byte>().ToArray(), $"run {run}: the generator ends where the attack left it");
        }
        Assert.AreEqual(2, replayed.Replays, "the second run is answered from memory");

        torch.manual_seed(6);
        using var otherStart = replayed.Generate(classifier, first, firstLabels);
        Assert.AreEqual(2, replayed.Replays, "another generator state is another call");
        CollectionAssert.AreNotEqual(plain1.data<float>().ToArray(), otherStart.data<float>().ToArray(), "another random start");
        Assert.AreEqual("PGD", replayed.Name);
        Assert.AreEqual(pgd.Norm, replayed.Norm);
        using var other = new ModuleClassifier(AttackFixtures.SmallC1(10), new ImageShape(1, 28, 28), 10);
        Assert.Throws<InvalidOperationException>(() => replayed.Generate(other, first, firstLabels), "a replay belongs to one classifier");
    }
}

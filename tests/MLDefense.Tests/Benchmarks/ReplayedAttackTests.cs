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

    [TestMethod]
    public void AFolderAnswersALaterRunAndNeverAnotherClassifierOrBudget()
    {
        var classifier = EvaluationFixture.Classifier;
        var (images, labels) = EvaluationFixture.TestSet(14, 31);
        using var _ = images;
        using var __ = labels;
        using var batch = images.narrow(0, 0, 12);
        using var batchLabels = labels.narrow(0, 0, 12);
        var pgd = new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = 0.3, StepSize = 0.05, Iterations = 3 });
        string directory = Path.Combine(Path.GetTempPath(), "mldefense-replays-" + Guid.NewGuid().ToString("N"));
        try
        {
            torch.manual_seed(5);
            using var plain = pgd.Generate(classifier, batch, batchLabels);
            using var plainAfter = torch.get_rng_state();

            using (var firstRun = new ReplayedAttack(pgd, directory, "ε 0.3"))
            {
                torch.manual_seed(5);
                using var made = firstRun.Generate(classifier, batch, batchLabels);
                Assert.AreEqual(0, firstRun.Replays, "the first run makes the examples");
            }
            Assert.AreEqual(1, Directory.GetFiles(directory, "replay-PGD-*.safetensors").Length, "the call is kept as one file");

            using (var laterRun = new ReplayedAttack(pgd, directory, "ε 0.3"))
            {
                torch.manual_seed(5);
                using var replayed = laterRun.Generate(classifier, batch, batchLabels);
                using var after = torch.get_rng_state();
                Assert.AreEqual(1, laterRun.ReplaysFromDisk, "a later run reads the folder");
                CollectionAssert.AreEqual(plain.data<float>().ToArray(), replayed.data<float>().ToArray(), "the kept examples, bit for bit");
                CollectionAssert.AreEqual(plainAfter.data<byte>().ToArray(), after.data<byte>().ToArray(), "the generator where the attack left it");
            }

            using (var otherBudget = new ReplayedAttack(pgd, directory, "ε 0.1"))
            {
                torch.manual_seed(5);
                using var made = otherBudget.Generate(classifier, batch, batchLabels);
                Assert.AreEqual(0, otherBudget.Replays, "other settings are another file");
            }
            using (var otherClassifier = new ReplayedAttack(pgd, directory, "ε 0.3"))
            {
                using var other = new ModuleClassifier(AttackFixtures.SmallC1(10), new ImageShape(1, 28, 28), 10);
                torch.manual_seed(5);
                using var made = otherClassifier.Generate(other, batch, batchLabels);
                Assert.AreEqual(0, otherClassifier.Replays, "another classifier's logits are another file");
            }
            Assert.AreEqual(3, Directory.GetFiles(directory, "replay-PGD-*.safetensors").Length);
            Assert.AreEqual(0, Directory.GetFiles(directory, "*.tmp").Length, "no half-written file is left");
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }
}

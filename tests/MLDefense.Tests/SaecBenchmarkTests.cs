using MLDefense.Benchmarks;
using MLDefense.Data;
using MLDefense.Classifiers;

namespace MLDefense.Tests;

[TestClass]
public sealed class SaecBenchmarkTests
{
    private static string data = "";

    [ClassInitialize]
    public static void CreateData(TestContext _)
    {
        data = Directory.CreateTempSubdirectory("mldefense-bench-saec-").FullName;
        SyntheticIdx.Write(Path.Combine(data, KnownDatasets.Mnist), trainRows: 120, testRows: 40, seed: 7);
    }

    [ClassCleanup]
    public static void DeleteData() => Directory.Delete(data, recursive: true);

    [TestMethod]
    public void TinyRunGivesOneWellFormedRowPerAttackAndNormAndReportsEveryStage()
    {
        Runtime.Configure(1);
        long tensorsBefore = LiveTensors.Count();
        var reports = new List<SaecBenchmarkProgress>();
        var tiny = new SaecBenchmarkCase(KnownDatasets.Mnist, ClassifierArchitecture.MnistC1, LinfBudgets: [0.3], L2Budgets: [3.0], Epochs: 1);
        var options = new SaecBenchmarkOptions { Cases = [tiny], DataDirectory = data, Seed = 3, Device = ComputeDevice.Cpu, BimIterations = 2 };

        var result = SaecBenchmark.Run(options, new InlineProgress<SaecBenchmarkProgress>(reports.Add));

        Assert.AreEqual(tensorsBefore, LiveTensors.Count(), "the classifier, the test tensors and every batch are freed");
        var c = result.Cases.Single();
        Assert.AreEqual((1, 120, 40), (c.Epochs, c.TrainImages, c.TestImages));
        Assert.IsTrue(c.ClassifierAccuracy is >= 0 and <= 1);
        Assert.IsTrue(c.CleanFalsePositiveRate is >= 0 and <= 1);
        Assert.IsTrue(c.ScoringImagesPerSecond > 0);
        Assert.AreEqual(120, c.Calibration.TrainingImageCount, "SAEC is fitted on the classifier's training images");

        CollectionAssert.AreEqual(new[] { "FGSM linf 0.3", "BIM linf 0.3", "FGM l2 3", "BIM l2 3" },
                                  result.Rows.Select(r => $"{r.Attack} {r.Norm} {r.Epsilon}").ToArray());
        foreach (var row in result.Rows)
        {
            Assert.AreEqual(KnownDatasets.Mnist, row.Dataset);
            Assert.AreEqual(40, row.Evaluated);
            Assert.IsTrue(row.Pairs is >= 0 and <= 40);
            if (row.Pairs == 0) continue;
            foreach (double rate in new[] { row.AccDetector, row.AccRc, row.Tpr, row.Fpr, row.Auc })
                Assert.IsTrue(rate is >= 0 and <= 1, $"{row.Attack} {row.Norm}: {rate}");
            Assert.AreEqual((row.Tpr + 1 - row.Fpr) / 2, row.AccDetector, 1e-9, "a balanced set: accuracy is the mean of TPR and TNR");
            Assert.IsNull(SaecBenchmark.MeetsTarget(row), "MNIST rows carry no target");
        }

        var stages = reports.Select(r => r.Stage).Distinct().ToArray();
        CollectionAssert.IsSubsetOf(new[] { "load", "train", "saec", "speed", "FGSM linf", "BIM linf", "FGM l2", "BIM l2" }, stages);
        Assert.AreEqual(1.0, reports[^1].Fraction);
    }

    [TestMethod]
    public void TargetAppliesToCifarLinfFgsmAndBimFromEightOver255()
    {
        MixDefenseRowFor("cifar10-subset", "FGSM", "linf", 8.0 / 255, acc: 0.98, fpr: 0.02, expected: true);
        MixDefenseRowFor("cifar10-subset", "BIM", "linf", 16.0 / 255, acc: 0.96, fpr: 0.02, expected: false);
        MixDefenseRowFor("cifar10-subset", "BIM", "linf", 12.0 / 255, acc: 0.99, fpr: 0.06, expected: false);
        MixDefenseRowFor("cifar10-subset", "FGSM", "linf", 6.0 / 255, acc: 0.99, fpr: 0.0, expected: null);
        MixDefenseRowFor("cifar10-subset", "FGM", "l2", 1.0, acc: 0.99, fpr: 0.0, expected: null);
        MixDefenseRowFor("mnist", "FGSM", "linf", 0.3, acc: 0.99, fpr: 0.0, expected: null);
    }

    private static void MixDefenseRowFor(string dataset, string attack, string norm, double epsilon, double acc, double fpr, bool? expected)
    {
        var row = new MLDefense.Evaluation.MixDefenseRow(dataset, attack, norm, epsilon, acc, 0, 0, fpr, 0, 0, 10, 10, 1, 0, 1);
        Assert.AreEqual(expected, SaecBenchmark.MeetsTarget(row), $"{dataset} {attack} {norm} {epsilon}");
    }

    [TestMethod]
    public void SweepsMatchTheIssueAndQuickSaysWhatItShortens()
    {
        var cifar = SaecBenchmark.FullCases[0];
        Assert.AreEqual("cifar10-subset/c2", cifar.Key);
        CollectionAssert.AreEqual(new[] { 1, 2, 4, 6, 8, 12, 16 }, cifar.LinfBudgets.Select(e => (int)Math.Round(e * 255)).ToArray());
        Assert.AreEqual(8.0 / 255 * Math.Sqrt(3 * 32 * 32) / 2, cifar.L2Budgets[4], 1e-12, "L2 budgets match the L-inf ones");
        CollectionAssert.AreEqual(new[] { 0.1, 0.2, 0.3 }, SaecBenchmark.FullCases[1].LinfBudgets.ToArray());
        Assert.IsNull(cifar.TrainImages, "C2 and SAEC train on all 4 000 subset images");

        string shortens = SaecBenchmark.Describe(SaecBenchmark.QuickCases);
        foreach (var c in SaecBenchmark.QuickCases)
            StringAssert.Contains(shortens, $"{c.Key}: {c.Epochs} of {ClassifierArchitectures.TrainingDefaults(c.Architecture).Epochs} epochs");
    }
}

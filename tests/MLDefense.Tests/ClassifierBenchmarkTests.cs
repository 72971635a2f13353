using MLDefense.Benchmarks;
using MLDefense.Data;
using MLDefense.Classifiers;

namespace MLDefense.Tests;

[TestClass]
public sealed class ClassifierBenchmarkTests
{
    private static string data = "";

    [ClassInitialize]
    public static void CreateData(TestContext _)
    {
        data = Directory.CreateTempSubdirectory("mldefense-bench-").FullName;
        SyntheticIdx.Write(Path.Combine(data, KnownDatasets.Mnist), trainRows: 160, testRows: 48, seed: 3);
        SyntheticIdx.Write(Path.Combine(data, KnownDatasets.FashionMnist), trainRows: 160, testRows: 48, seed: 4);
    }

    [ClassCleanup]
    public static void DeleteData() => Directory.Delete(data, recursive: true);

    private static ClassifierBenchmarkOptions Tiny(params ClassifierBenchmarkCase[] cases) => new()
    {
        Cases = cases, DataDirectory = data, Seed = 5, Device = ComputeDevice.Cpu,
    };

    [TestMethod]
    public void TinyRunProducesWellFormedRowsAndReportsEveryStage()
    {
        Runtime.Configure(1);
        long tensorsBefore = LiveTensors.Count();
        var reports = new List<ClassifierBenchmarkProgress>();
        var options = Tiny(
            new(KnownDatasets.Mnist, ClassifierArchitecture.MnistC1, Epochs: 2, TrainImages: 100, TestImages: 40, TargetAccuracy: ClassifierBenchmark.MnistTarget),
            new(KnownDatasets.FashionMnist, ClassifierArchitecture.DefenseGanA, Epochs: 1, TrainImages: 64));

        var result = ClassifierBenchmark.Run(options, new InlineProgress<ClassifierBenchmarkProgress>(reports.Add));

        Assert.AreEqual(tensorsBefore, LiveTensors.Count(), "every case's model and tensors are freed");
        Assert.AreEqual(2, result.Rows.Count);
        var (c1, a) = (result.Rows[0], result.Rows[1]);
        Assert.AreEqual("mnist/c1", c1.Case.Key);
        Assert.AreEqual((2, 100, 40), (c1.Epochs, c1.TrainImages, c1.TestImages));
        Assert.AreEqual("fashion-mnist/a", a.Case.Key);
        Assert.AreEqual((1, 64, 48), (a.Epochs, a.TrainImages, a.TestImages), "no test cap: all 48 test images");
        foreach (var row in result.Rows)
        {
            Assert.IsTrue(row.TestAccuracy is >= 0 and <= 1);
            Assert.IsTrue(row.TrainSeconds > 0 && row.EvaluateSeconds > 0);
        }
        Assert.AreEqual(c1.TestAccuracy >= ClassifierBenchmark.MnistTarget, c1.MeetsTarget);
        Assert.IsNull(a.MeetsTarget, "no target, no verdict");
        Assert.AreEqual((1, "cpu", 5), (result.Threads, result.Device, result.Seed));
        Assert.IsTrue(result.TotalSeconds >= c1.TrainSeconds + a.TrainSeconds);

        foreach (int caseIndex in new[] { 0, 1 })
        {
            var stages = reports.Where(r => r.CaseIndex == caseIndex).Select(r => r.Status.Stage).Distinct().ToArray();
            CollectionAssert.AreEqual(new[] { ClassifierTrainingStage.Loading, ClassifierTrainingStage.Training, ClassifierTrainingStage.Evaluating }, stages);
        }
        Assert.IsTrue(reports.Any(r => r.Status.Training is { EpochCompleted: true, Epoch: 2 } && r.CaseIndex == 0), "epoch ends are reported");
        Assert.AreEqual(1.0, reports[^1].Status.Fraction);
    }

    [TestMethod]
    public void SameSeedSameNumbers()
    {
        Runtime.Configure(1);
        var options = Tiny(new ClassifierBenchmarkCase(KnownDatasets.Mnist, ClassifierArchitecture.MnistC1, Epochs: 1, TrainImages: 64, TestImages: 48));

        double first = ClassifierBenchmark.Run(options).Rows[0].TestAccuracy;
        double second = ClassifierBenchmark.Run(options).Rows[0].TestAccuracy;

        Assert.AreEqual(first, second);
    }

    [TestMethod]
    public void SelectFiltersByKeyInTheBenchmarksOrder()
    {
        var selected = ClassifierBenchmark.Select(ClassifierBenchmark.FullCases, ["CIFAR10-subset/C2", "mnist/c1"]);
        CollectionAssert.AreEqual(new[] { "mnist/c1", "cifar10-subset/c2" }, selected.Select(c => c.Key).ToArray());

        var error = Assert.ThrowsExactly<ArgumentException>(() => ClassifierBenchmark.Select(ClassifierBenchmark.FullCases, ["mnist/c2"]));
        StringAssert.Contains(error.Message, "mnist/c2");
        StringAssert.Contains(error.Message, "fashion-mnist/a", "the message lists the cases there are");
    }

    [TestMethod]
    public void FullRunUsesThePapersSettingsAndTargets()
    {
        CollectionAssert.AreEqual(new[] { "mnist/c1", "fashion-mnist/c1", "mnist/a", "fashion-mnist/a", "cifar10-subset/c2" },
                                  ClassifierBenchmark.FullCases.Select(c => c.Key).ToArray());
        Assert.IsTrue(ClassifierBenchmark.FullCases.All(c => c.Epochs is null && c.TrainImages is null && c.TestImages is null),
                      "the full run takes the architectures' paper defaults on all the data");
        var targets = ClassifierBenchmark.FullCases.Where(c => c.TargetAccuracy is not null).ToDictionary(c => c.Key, c => c.TargetAccuracy);
        Assert.AreEqual(3, targets.Count);
        Assert.AreEqual(0.990, targets["mnist/c1"]);
        Assert.AreEqual(0.990, targets["mnist/a"]);
        Assert.AreEqual(0.91, targets["fashion-mnist/a"]);
    }

    [TestMethod]
    public void QuickRunShortensEveryCaseAndSaysHow()
    {
        CollectionAssert.AreEqual(ClassifierBenchmark.FullCases.Select(c => c.Key).ToArray(), ClassifierBenchmark.QuickCases.Select(c => c.Key).ToArray());
        foreach (var c in ClassifierBenchmark.QuickCases)
        {
            int fullEpochs = ClassifierArchitectures.TrainingDefaults(c.Architecture).Epochs;
            Assert.IsTrue(c.Epochs < fullEpochs, $"{c.Key} runs fewer epochs");
            Assert.IsNotNull(c.TrainImages, $"{c.Key} trains on a slice");
            StringAssert.Contains(ClassifierBenchmark.QuickShortens, $"{c.Key}: {c.Epochs} of {fullEpochs} epochs, first {c.TrainImages} training images");
        }
    }

    [TestMethod]
    public void IncompatibleCaseIsRejectedBeforeAnyWork()
    {
        var options = Tiny(new ClassifierBenchmarkCase(KnownDatasets.Mnist, ClassifierArchitecture.CifarC2));
        var reports = new List<ClassifierBenchmarkProgress>();

        var error = Assert.ThrowsExactly<ArgumentException>(() => ClassifierBenchmark.Run(options, new InlineProgress<ClassifierBenchmarkProgress>(reports.Add)));

        StringAssert.Contains(error.Message, "mnist/c2");
        Assert.AreEqual(0, reports.Count);
    }
}

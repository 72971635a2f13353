using MLDefense.Benchmarks;
using MLDefense.Data;

namespace MLDefense.Tests.Benchmarks;

[TestClass]
public sealed class AttackBenchmarkTests
{
    private static string temp = "";
    private static string data = "";
    private static string model = "";

    [ClassInitialize]
    public static void TrainTinyModel(TestContext _)
    {
        temp = Directory.CreateTempSubdirectory("mldefense-attack-bench-").FullName;
        data = Path.Combine(temp, "data");
        SyntheticIdx.Write(Path.Combine(data, KnownDatasets.Mnist), trainRows: 96, testRows: 24, seed: 4);
        model = Path.Combine(temp, "tiny.zip");
        CliRunner.TrainTinyClassifier(data, model);
    }

    [ClassCleanup]
    public static void DeleteTemp() => Directory.Delete(temp, recursive: true);

    private static AttackBenchmarkOptions Tiny => new()
    {
        TestImages = 12, ModelPath = model, DataDirectory = data, Device = ComputeDevice.Cpu, BatchSize = 8,
        CarliniWagner = new CarliniWagnerBudget(1, 3, 1), SpeedBatchSize = 4, SpeedRounds = 2, SpeedAttacksPerRound = 1,
        PyTorchScript = Path.Combine(AppContext.BaseDirectory, AttackBenchmark.PyTorchScriptName),
    };

    [TestMethod]
    public void TinyRunGivesOneWellFormedRowPerAttackAndASpeedRow()
    {
        var previousThreads = Runtime.Threads;
        Runtime.Configure(1);
        try
        {
            long before = LiveTensors.Count();
            var result = AttackBenchmark.Run(Tiny);
            Assert.AreEqual(before, LiveTensors.Count(), "every tensor of the run is freed");

            CollectionAssert.AreEqual(new[] { "FGSM", "BIM", "PGD", "MIM", "CW-L2", "DeepFool" }, result.Rows.Select(r => r.Result.Attack).ToArray());
            CollectionAssert.AreEqual(new[] { 0.35, 0.01, 0.01, 0.01, 0.05, 0.05 }, result.Rows.Select(r => r.Target).ToArray());
            foreach (var row in result.Rows)
            {
                var r = row.Result;
                Assert.AreEqual(12, r.Images);
                Assert.IsTrue(r.CleanAccuracy is >= 0 and <= 1 && r.AdversarialAccuracy is >= 0 and <= 1, r.ToString());
                Assert.IsTrue(r.MeanL2 >= r.MeanLinf && r.MeanLinf >= 0, r.ToString());
                Assert.IsTrue(r.ImagesPerSecond > 0);
                Assert.AreEqual(row.MeetsTarget, r.AdversarialAccuracy <= row.Target);
            }
            foreach (var row in result.Rows.Take(4))
            {
                Assert.AreEqual("linf", row.Result.Norm);
                Assert.AreEqual(0.3, row.Result.Epsilon);
                Assert.IsTrue(row.Result.MeanLinf <= 0.3 + 1e-6);
            }
            Assert.IsNull(result.Rows[4].Result.Epsilon, "CW-L2 has no budget");
            Assert.AreEqual("l2", result.Rows[5].Result.Norm);

            Assert.AreEqual(4, result.Speed.BatchSize);
            Assert.AreEqual(2, result.Speed.MLDefenseRounds.Count);
            Assert.IsTrue(result.Speed.MLDefenseImagesPerSecond > 0);
            if (result.Speed.PyTorchUnavailable is null)
            {
                Assert.AreEqual(2, result.Speed.PyTorchRounds.Count);
                Assert.IsTrue(result.Speed.Ratio > 0);
            }
            else Assert.IsNull(result.Speed.Ratio);
        }
        finally
        {
            Runtime.Configure(previousThreads);
        }
    }

    [TestMethod]
    public void MissingScriptIsReportedNotThrown()
    {
        var result = AttackBenchmark.Run(Tiny with { TestImages = 2, PyTorchScript = "/nonexistent/attacks_reference.py", SpeedRounds = 1 });
        StringAssert.Contains(result.Speed.PyTorchUnavailable, "missing");
        Assert.IsNull(result.Speed.Ratio);
    }

    [TestMethod]
    public void RejectsBadOptions()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => AttackBenchmark.Run(Tiny with { TestImages = 0 }));
        Assert.ThrowsExactly<FileNotFoundException>(() => AttackBenchmark.Run(Tiny with { ModelPath = Path.Combine(temp, "missing.zip") }));
    }
}

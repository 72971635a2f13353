using MLDefense.Benchmarks;

namespace MLDefense.Tests.Benchmarks;

[TestClass]
public sealed class EngineBenchmarkTests
{
    private static readonly EngineBenchmarkOptions Tiny = new()
    {
        Threads = 1, Rounds = 2, StepsPerRound = 1, WarmupStepsPerRound = 0, InitialWarmupSteps = 1, PyTorchScript = null,
    };

    [TestMethod]
    public void RunsEveryCaseWithoutLeakingTensors()
    {
        long before = torch.LiveNativeTensors;
        var reports = new List<EngineBenchmarkProgress>();

        var result = EngineBenchmark.Run(Tiny, new Recorder(reports));

        Assert.AreEqual(before, torch.LiveNativeTensors, "every tensor of the workloads is freed");
        CollectionAssert.AreEqual(new[] { "train_step", "input_gradient" }, result.Rows.Select(r => r.Case).ToArray());
        foreach (var row in result.Rows)
        {
            Assert.IsTrue(row.MLDefenseImagesPerSecond > 0);
            Assert.AreEqual(2, row.MLDefenseRounds.Count);
            Assert.IsNull(row.PyTorchImagesPerSecond);
            Assert.IsNull(row.Ratio);
        }
        Assert.IsNotNull(result.PyTorchUnavailable);
        Assert.AreEqual(1.0, reports[^1].Fraction);
    }

    [TestMethod]
    public void MissingScriptIsReportedNotThrown()
    {
        var result = EngineBenchmark.Run(Tiny with { Rounds = 1, PyTorchScript = "/nonexistent/bench_engine.py" });
        StringAssert.Contains(result.PyTorchUnavailable, "missing");
        Assert.IsTrue(result.Rows.All(r => r.Ratio is null));
    }

    [TestMethod]
    public void RejectsBadOptions()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => EngineBenchmark.Run(Tiny with { Threads = 0 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => EngineBenchmark.Run(Tiny with { StepsPerRound = 0 }));
    }

    private sealed class Recorder(List<EngineBenchmarkProgress> reports) : IProgress<EngineBenchmarkProgress>
    {
        public void Report(EngineBenchmarkProgress value) => reports.Add(value);
    }
}

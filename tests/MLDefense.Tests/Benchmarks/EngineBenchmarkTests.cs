using MLDefense.Benchmarks;

namespace MLDefense.Tests.Benchmarks;

[TestClass]
public sealed class EngineBenchmarkTests
{
    private static readonly EngineBenchmarkOptions Tiny = new()
    {
        Threads = 1, Rounds = 3, StepsPerRound = 2, WarmupStepsPerRound = 0, InitialWarmupSteps = 0, DefenseRounds = 1, PeakMultipliesPerRound = 2, PyTorchScript = null,
    };

    [TestMethod]
    public void RunsEveryCaseWithoutLeakingTensors()
    {
        long before = LiveTensors.Count();
        var reports = new List<EngineBenchmarkProgress>();

        var result = EngineBenchmark.Run(Tiny, new Recorder(reports));

        Assert.AreEqual(before, LiveTensors.Count(), "every tensor of the workloads is freed");
        CollectionAssert.AreEqual(new[] { "train_step", "input_gradient", "classifier_a_train_step", "aegan_train_step", "aegan_purify", "miaed_train_step" }, result.Rows.Select(r => r.Case).ToArray());
        foreach (var row in result.Rows)
        {
            bool defense = row.Case is "aegan_train_step" or "aegan_purify" or "miaed_train_step";
            Assert.AreEqual(row.Case.StartsWith("aegan_", StringComparison.Ordinal) ? 100 : 128, row.BatchSize, row.Case);
            Assert.AreEqual(defense ? 1 : 3, row.Rounds, row.Case);
            Assert.AreEqual(defense || row.Case == "classifier_a_train_step" ? 1 : 2, row.StepsPerRound, row.Case);
            Assert.AreEqual(row.Rounds, row.MLDefenseRounds.Count, row.Case);
            Assert.IsTrue(row.MLDefenseRounds.All(rate => rate > 0), row.Case);
            Assert.IsTrue(row.MLDefenseImagesPerSecond >= row.MLDefenseRounds.Min() && row.MLDefenseImagesPerSecond <= row.MLDefenseRounds.Max(), row.Case);
            Assert.IsNull(row.PyTorchImagesPerSecond);
            Assert.IsNull(row.Ratio);
            Assert.AreEqual(EngineFlops.PerImage(EngineBenchmark.ParseCase(row.Case)!.Value), row.FlopsPerImage, row.Case);
            Assert.AreEqual(row.MLDefenseImagesPerSecond * row.FlopsPerImage / 1e9, row.MLDefenseGflops, 1e-9 * row.MLDefenseGflops, row.Case);
            Assert.AreEqual(row.MLDefenseGflops / result.MatmulPeak.PeakGflops, row.MLDefenseFractionOfPeak, 1e-12, row.Case);
            Assert.IsNull(row.PyTorchGflops);
        }
        var peak = result.MatmulPeak;
        Assert.AreEqual(EngineBenchmark.PeakMatmulSize, peak.Size);
        Assert.AreEqual(3, peak.Rounds);
        Assert.AreEqual(2, peak.MultipliesPerRound);
        Assert.AreEqual(3, peak.MLDefenseRounds.Count);
        Assert.IsTrue(peak.MLDefenseGflops > 0);
        Assert.IsNull(peak.PyTorchGflops);
        Assert.AreEqual(peak.MLDefenseGflops, peak.PeakGflops, "without PyTorch the peak is MLDefense's");
        Assert.IsNotNull(result.PyTorchUnavailable);
        Assert.AreEqual(1.0, reports[^1].Fraction);
    }

    [TestMethod]
    public void MissingScriptIsReportedNotThrown()
    {
        var result = EngineBenchmark.Run(Tiny with { Rounds = 1, Cases = [EngineBenchmarkCase.TrainStep], PyTorchScript = "/nonexistent/bench_engine.py" });
        StringAssert.Contains(result.PyTorchUnavailable, "missing");
        Assert.IsTrue(result.Rows.All(r => r.Ratio is null));
    }

    [TestMethod]
    public void RejectsBadOptions()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => EngineBenchmark.Run(Tiny with { Threads = 0 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => EngineBenchmark.Run(Tiny with { StepsPerRound = 0 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => EngineBenchmark.Run(Tiny with { DefenseRounds = 0 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => EngineBenchmark.Run(Tiny with { PeakMultipliesPerRound = 0 }));
        Assert.ThrowsExactly<ArgumentException>(() => EngineBenchmark.Run(Tiny with { Cases = [] }));
    }

    [TestMethod]
    public void RunsTheChosenCasesInTheirOrder()
    {
        var result = EngineBenchmark.Run(Tiny with { Cases = [EngineBenchmarkCase.InputGradient, EngineBenchmarkCase.TrainStep, EngineBenchmarkCase.InputGradient] });
        CollectionAssert.AreEqual(new[] { "train_step", "input_gradient" }, result.Rows.Select(r => r.Case).ToArray());
        Assert.AreEqual(EngineBenchmarkCase.AeGanPurify, EngineBenchmark.ParseCase("aegan_purify"));
        Assert.IsNull(EngineBenchmark.ParseCase("aegan"));
    }

    [TestMethod]
    public void TheRatioNoteSaysWhichLibtorchIsOlder()
    {
        var peak = new EngineMatmulPeak(1024, 1, 1, 80, 4, [80], [4]);
        var result = new EngineBenchmarkResult(2, "cpu", "2.10.0.0", "1.13.0a0", null, peak, []);
        StringAssert.Contains(result.RatioNote, "1.13.0a0 (python3-torch) runs an older libtorch than MLDefense's 2.10.0.0");
        Assert.AreEqual(80, peak.PeakGflops, "the faster engine's median");
        StringAssert.Contains((result with { PyTorchVersion = "2.10.0" }).RatioNote, "the same libtorch version");
        StringAssert.Contains((result with { PyTorchVersion = null }).RatioNote, "did not run");
    }

    private sealed class Recorder(List<EngineBenchmarkProgress> reports) : IProgress<EngineBenchmarkProgress>
    {
        public void Report(EngineBenchmarkProgress value) => reports.Add(value);
    }
}

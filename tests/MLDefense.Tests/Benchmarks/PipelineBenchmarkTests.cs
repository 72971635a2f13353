using MLDefense.Benchmarks;

namespace MLDefense.Tests.Benchmarks;

/// <summary><c>bench pipeline</c> on a handful of images: it runs both paths and the prediction engine (the timings themselves belong to the command).</summary>
[TestClass]
public sealed class PipelineBenchmarkTests
{
    [TestMethod]
    public void TimesBothPathsAndThePredictionEngine()
    {
        var result = PipelineBenchmark.Run(new PipelineBenchmarkOptions { Images = 64, FitImages = 100, Rounds = 2, Predictions = 3, Device = ComputeDevice.Cpu });
        Assert.AreEqual(64, result.Images);
        Assert.AreEqual(2, result.PipelineSeconds.Count);
        Assert.AreEqual(2, result.DirectSeconds.Count);
        Assert.AreEqual(3, result.PredictionMilliseconds.Count, "five warm-up calls are not counted");
        Assert.IsTrue(result.PipelineSeconds.Concat(result.DirectSeconds).All(s => s > 0) && double.IsFinite(result.Ratio));
        Assert.AreEqual("cpu", result.Device);
    }
}

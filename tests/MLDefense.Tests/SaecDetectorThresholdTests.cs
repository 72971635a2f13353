using MLDefense.Defenses;

namespace MLDefense.Tests;

/// <summary>The shared clean-data threshold calibration and separation measure (Defenses/Shared) that SAEC uses.</summary>
[TestClass]
public sealed class SaecDetectorThresholdTests
{
    [TestMethod]
    public void ThresholdIsTheKPlusFirstLargestScore()
    {
        var scores = Enumerable.Range(1, 100).Select(i => (float)i).Reverse().ToArray();
        Assert.AreEqual(95f, DetectorThreshold.Calibrate(scores, 0.05), "k = 5: five scores (96..100) lie above");
        Assert.AreEqual(0.05, DetectorThreshold.FlaggedFraction(scores, 95f));
        Assert.AreEqual(100f, DetectorThreshold.Calibrate(scores, 0), "α = 0: nothing flagged");
        Assert.AreEqual(99f, DetectorThreshold.Calibrate(scores, 0.0199), "k = ⌊1.99⌋ = 1");
        Assert.AreEqual(71f, DetectorThreshold.Calibrate(scores, 0.29), "0.29·100 is 28.999…96 in binary; k must still be 29");
    }

    [TestMethod]
    public void TiesAtTheThresholdAreNotFlagged()
    {
        float[] scores = [1, 2, 2, 2, 2];
        float threshold = DetectorThreshold.Calibrate(scores, 0.2);
        Assert.AreEqual(2f, threshold);
        Assert.AreEqual(0, DetectorThreshold.FlaggedFraction(scores, threshold), "the rate stays ≤ the target; ties only lower it");
    }

    [TestMethod]
    public void BadCalibrationInputIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectorThreshold.Calibrate([1f, 2f], 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectorThreshold.Calibrate([1f, 2f], double.NaN));
        Assert.Throws<ArgumentException>(() => DetectorThreshold.Calibrate(Array.Empty<float>(), 0.01));
        var ex = Assert.Throws<ArgumentException>(() => DetectorThreshold.Calibrate([1f, float.NaN], 0.01));
        StringAssert.Contains(ex.Message, "finite");
    }

    [TestMethod]
    public void RocAucCountsTiesAsHalf()
    {
        Assert.AreEqual(1.0, DetectorSeparation.RocAuc([0f, 1f], [2f, 3f]));
        Assert.AreEqual(0.0, DetectorSeparation.RocAuc([2f, 3f], [0f, 1f]));
        Assert.AreEqual(0.5, DetectorSeparation.RocAuc([1f, 1f], [1f, 1f]));
        // Pairs (clean, suspect): (0,1) win, (0,2) win, (2,1) loss, (2,2) tie → 2.5 / 4.
        Assert.AreEqual(0.625, DetectorSeparation.RocAuc([0f, 2f], [1f, 2f]));
    }
}

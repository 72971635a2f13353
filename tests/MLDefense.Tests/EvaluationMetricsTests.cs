using MLDefense.Evaluation;

namespace MLDefense.Tests;

[TestClass]
public sealed class EvaluationMetricsTests
{
    // Six inputs, worked out by hand. Sorted by score: 0.9+ 0.8+ 0.7− 0.6+ 0.3− 0.1−.
    private static readonly float[] SixScores = [0.9f, 0.3f, 0.8f, 0.1f, 0.7f, 0.6f];
    private static readonly bool[] SixTruth = [true, false, true, false, false, true];

    [TestMethod]
    public void SixSampleExampleGivesTheHandComputedCountsAndRates()
    {
        var metrics = DetectionMetrics.Compute(SixScores, SixTruth, threshold: 0.5);

        Assert.AreEqual(new ConfusionCounts(TruePositives: 3, FalsePositives: 1, TrueNegatives: 2, FalseNegatives: 0), metrics.Counts);
        Assert.AreEqual(1.0, metrics.Recall, 1e-12);
        Assert.AreEqual(0.75, metrics.Precision, 1e-12);
        Assert.AreEqual(2 * 0.75 / 1.75, metrics.F1, 1e-12);
        Assert.AreEqual(2.0 / 3, metrics.Specificity, 1e-12);
        Assert.AreEqual(5.0 / 6, metrics.Accuracy, 1e-12);
        Assert.AreEqual(1.0 / 3, metrics.FalsePositiveRate, 1e-12);
        Assert.AreEqual(0.5, metrics.Threshold);
        Assert.AreEqual(8.0 / 9, metrics.Auc, 1e-12, "8 of the 9 (positive, negative) pairs are ordered correctly");
    }

    [TestMethod]
    public void ThresholdIsStrict()
    {
        // 0.7 is a clean score: at threshold 0.7 it is not flagged, just above 0.6 the positive 0.6 is not flagged either.
        var atSeven = ConfusionCounts.Count(SixScores, SixTruth, 0.7);
        Assert.AreEqual(new ConfusionCounts(2, 0, 3, 1), atSeven);
        Assert.IsFalse(ThresholdCalibration.IsFlagged(0.7, 0.7));
        Assert.IsTrue(ThresholdCalibration.IsFlagged(0.70001, 0.7));
    }

    [TestMethod]
    public void RocCurveOfTheSixSamplesRunsFromZeroToOneThroughEveryDistinctThreshold()
    {
        var roc = RocCurve.Compute(SixScores, SixTruth);
        var expected = new RocPoint[]
        {
            new(0.9, 0, 0), new(0.8, 0, 1.0 / 3), new(0.7, 0, 2.0 / 3), new(0.6, 1.0 / 3, 2.0 / 3),
            new(0.3, 1.0 / 3, 1), new(0.1, 2.0 / 3, 1), new(double.NegativeInfinity, 1, 1),
        };
        Assert.AreEqual(expected.Length, roc.Points.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.AreEqual(expected[i].Threshold, roc.Points[i].Threshold, 1e-6, $"point {i}");
            Assert.AreEqual(expected[i].FalsePositiveRate, roc.Points[i].FalsePositiveRate, 1e-12, $"point {i}");
            Assert.AreEqual(expected[i].TruePositiveRate, roc.Points[i].TruePositiveRate, 1e-12, $"point {i}");
            // Each point is what its threshold really gives.
            var counts = ConfusionCounts.Count(SixScores, SixTruth, roc.Points[i].Threshold);
            Assert.AreEqual(roc.Points[i].TruePositiveRate, counts.Recall, 1e-12);
            Assert.AreEqual(roc.Points[i].FalsePositiveRate, counts.FalsePositiveRate, 1e-12);
        }
    }

    [TestMethod]
    public void TruePositiveRateAtFalsePositiveRateIsTheBestEmpiricalPointWithinTheBudget()
    {
        var roc = RocCurve.Compute(SixScores, SixTruth);
        var atZero = roc.BestTruePositiveRateAt(0);
        Assert.AreEqual(2.0 / 3, atZero!.Value.TruePositiveRate, 1e-12);
        Assert.AreEqual(0.7, atZero.Value.Threshold, 1e-6);

        var atOneThird = roc.BestTruePositiveRateAt(0.34);
        Assert.AreEqual(1.0, atOneThird!.Value.TruePositiveRate);
        Assert.AreEqual(0.3, atOneThird.Value.Threshold, 1e-6, "the highest threshold reaching TPR 1");
        Assert.AreEqual(1.0 / 3, atOneThird.Value.FalsePositiveRate, 1e-12);

        var metrics = DetectionMetrics.Compute(SixScores, SixTruth, 0.5);
        Assert.AreEqual(atZero, metrics.AtFalsePositiveRate1Percent, "with 3 negatives, FPR ≤ 1% means FPR 0");
        Assert.AreEqual(atZero, metrics.AtFalsePositiveRate5Percent);
    }

    [TestMethod]
    public void TprAtOneAndFivePercentOnALargeSample()
    {
        // 1000 negatives 0..999 and 1000 positives 500..1499: FPR ≤ 1% allows 10 negatives (scores 990..999) to be flagged.
        var scores = Enumerable.Range(0, 1000).Select(i => (float)i).Concat(Enumerable.Range(500, 1000).Select(i => (float)i + 0.5f)).ToArray();
        var truth = Enumerable.Repeat(false, 1000).Concat(Enumerable.Repeat(true, 1000)).ToArray();
        var metrics = DetectionMetrics.Compute(scores, truth, 999);

        var at1 = metrics.AtFalsePositiveRate1Percent!.Value;
        Assert.AreEqual(0.01, at1.FalsePositiveRate, 1e-12);
        Assert.AreEqual(989, at1.Threshold, "flag > 989: negatives 990..999");
        Assert.AreEqual(1 - 489.0 / 1000, at1.TruePositiveRate, 1e-12, "positives 989.5 and above");
        var at5 = metrics.AtFalsePositiveRate5Percent!.Value;
        Assert.AreEqual(0.05, at5.FalsePositiveRate, 1e-12);
        Assert.AreEqual(949, at5.Threshold);
    }

    [TestMethod]
    public void AucOfPerfectInvertedAndRandomScores()
    {
        var truth = Enumerable.Range(0, 200).Select(i => i % 2 == 0).ToArray();
        var perfect = truth.Select((t, i) => t ? 10f + i : i / 1000f).ToArray();
        var inverted = perfect.Select(s => -s).ToArray();
        Assert.AreEqual(1.0, RocCurve.Compute(perfect, truth).Auc, 1e-12);
        Assert.AreEqual(0.0, RocCurve.Compute(inverted, truth).Auc, 1e-12);

        var random = new Random(7);
        var bigTruth = Enumerable.Range(0, 20000).Select(_ => random.Next(2) == 0).ToArray();
        var noise = bigTruth.Select(_ => (float)random.NextDouble()).ToArray();
        Assert.AreEqual(0.5, RocCurve.Compute(noise, bigTruth).Auc, 0.02);
    }

    [TestMethod]
    public void TiedScoresFormOneDiagonalStepCreditedOneHalf()
    {
        var allTied = RocCurve.Compute([0.5f, 0.5f, 0.5f, 0.5f], [true, false, true, false]);
        Assert.AreEqual(0.5, allTied.Auc, 1e-12);
        Assert.AreEqual(2, allTied.Points.Count, "one step from (0, 0) to (1, 1)");
        Assert.AreEqual(new RocPoint(double.NegativeInfinity, 1, 1), allTied.Points[1]);

        // Positives {1, 0.5}, negatives {0.5, 0}: 3 ordered pairs and 1 tie → (3 + 0.5) / 4.
        Assert.AreEqual(0.875, RocCurve.Compute([1f, 0.5f, 0.5f, 0f], [true, true, false, false]).Auc, 1e-12);
    }

    [TestMethod]
    public void AucEqualsTheMannWhitneyStatisticWithManyTies()
    {
        var random = new Random(3);
        var scores = Enumerable.Range(0, 300).Select(_ => (float)random.Next(6)).ToArray();
        var truth = scores.Select(s => random.NextDouble() < 0.3 + s / 10).ToArray();
        double wins = 0, pairs = 0;
        for (int i = 0; i < scores.Length; i++)
            for (int j = 0; j < scores.Length; j++)
                if (truth[i] && !truth[j])
                {
                    pairs++;
                    wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
                }
        var roc = RocCurve.Compute(scores, truth);
        Assert.AreEqual(wins / pairs, roc.Auc, 1e-9);
        Assert.AreEqual(7, roc.Points.Count, "six distinct scores give seven points");
    }

    [TestMethod]
    public void UndefinedRatesAreNaNNotInventedNumbers()
    {
        var nothingFlagged = DetectionMetrics.Compute([0.1f, 0.2f], [true, false], threshold: 1);
        Assert.IsTrue(double.IsNaN(nothingFlagged.Precision));
        Assert.IsTrue(double.IsNaN(nothingFlagged.F1));
        Assert.AreEqual(0, nothingFlagged.Recall);

        var onlyNegatives = DetectionMetrics.Compute([0.1f, 0.2f], [false, false], threshold: 0.15);
        Assert.IsTrue(double.IsNaN(onlyNegatives.Auc));
        Assert.IsTrue(double.IsNaN(onlyNegatives.Recall));
        Assert.AreEqual(0, onlyNegatives.Roc.Points.Count);
        Assert.IsNull(onlyNegatives.AtFalsePositiveRate5Percent);
        Assert.AreEqual(0.5, onlyNegatives.Specificity);
    }

    [TestMethod]
    public void BadInputsAreRejected()
    {
        Assert.ThrowsExactly<ArgumentException>(() => DetectionMetrics.Compute([0.1f], [true, false], 0));
        var ex = Assert.ThrowsExactly<ArgumentException>(() => RocCurve.Compute([0.1f, float.NaN], [true, false]));
        StringAssert.Contains(ex.Message, "NaN");
        Assert.ThrowsExactly<ArgumentException>(() => ThresholdCalibration.ForFalsePositiveRate([], 0.05));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdCalibration.ForFalsePositiveRate([1f], 1.5));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdCalibration.ForFalsePositiveRate([1f], double.NaN));
        Assert.ThrowsExactly<ArgumentException>(() => ThresholdCalibration.ForFalsePositiveRate([1f, float.NaN], 0.1));
    }

    [TestMethod]
    [DataRow(0.01)]
    [DataRow(0.05)]
    [DataRow(0.1)]
    public void CalibratedThresholdHitsTheTargetFalsePositiveRate(double target)
    {
        var random = new Random(11);
        float Gaussian() => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        var calibration = Enumerable.Range(0, 100_000).Select(_ => Gaussian()).ToArray();
        var heldOut = Enumerable.Range(0, 100_000).Select(_ => Gaussian()).ToArray();

        double threshold = ThresholdCalibration.ForFalsePositiveRate(calibration, target);

        double achieved = ThresholdCalibration.FalsePositiveRate(calibration, threshold);
        Assert.IsTrue(achieved <= target, $"never above the target on its own data: {achieved} > {target}");
        Assert.AreEqual(target, achieved, 2e-5, "continuous scores: exactly ⌊αn⌋ flagged");
        Assert.AreEqual(target, ThresholdCalibration.FalsePositiveRate(heldOut, threshold), 0.004, "and about α on fresh clean data");
    }

    [TestMethod]
    public void CalibrationTiesStayBelowTheTarget()
    {
        float[] clean = [1, 2, 2, 2, 3];
        // α = 0.4 allows 2 false positives; the 3rd largest score is 2, tied three times: only the 3 is flagged.
        double threshold = ThresholdCalibration.ForFalsePositiveRate(clean, 0.4);
        Assert.AreEqual(2, threshold);
        Assert.AreEqual(0.2, ThresholdCalibration.FalsePositiveRate(clean, threshold), 1e-12);

        Assert.AreEqual(3, ThresholdCalibration.ForFalsePositiveRate(clean, 0), "α = 0: the largest clean score, nothing flagged");
        Assert.AreEqual(double.NegativeInfinity, ThresholdCalibration.ForFalsePositiveRate(clean, 1), "α = 1: everything flagged");
        var hundred = Enumerable.Range(0, 100).Select(i => (float)i).ToArray();
        Assert.AreEqual(70, ThresholdCalibration.ForFalsePositiveRate(hundred, 0.29), "0.29 · 100 = 28.999999999999996 still allows 29 false positives");
        Assert.AreEqual(0.29, ThresholdCalibration.FalsePositiveRate(hundred, 70), 1e-12);
    }

    [TestMethod]
    public void AccuraciesAndTheRobustClassifierAccuracyOfAConstructedCase()
    {
        Assert.AreEqual(0.75, RobustnessMetrics.Accuracy([1, 2, 3, 0], [1, 2, 3, 3]), 1e-12);
        Assert.IsTrue(double.IsNaN(RobustnessMetrics.Accuracy([], [])));

        // AE 0: detected (wrong class). AE 1: detected and also classified right — counted once, as detected.
        // AE 2: undetected, right. AE 3: undetected, wrong. AE 4: undetected, right.
        var counts = RobustnessMetrics.RobustClassifierAccuracy([true, true, false, false, false], [0, 1, 1, 2, 0], [1, 1, 1, 1, 0]);
        Assert.AreEqual(new RobustClassifierCounts(5, 2, 2), counts);
        Assert.AreEqual(0.8, counts.Accuracy, 1e-12);
        Assert.IsTrue(double.IsNaN(new RobustClassifierCounts(0, 0, 0).Accuracy));
        Assert.ThrowsExactly<ArgumentException>(() => RobustnessMetrics.RobustClassifierAccuracy([true], [0, 1], [0, 1]));
    }
}

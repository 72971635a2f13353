using MLDefense.Defenses;

namespace MLDefense.Tests;

/// <summary>The tensor pieces of SAEC (Eq. 1, the residual filters, Eq. 2 and the score) on hand-made inputs.</summary>
[TestClass]
public sealed class SaecScoringTests
{
    [TestMethod]
    public void PseudoSaturationMapMatchesEquationOneOnA2x2RgbImage()
    {
        // Pixels (R, G, B), row-major: their per-pixel means are 0.5, 0.5, 1/3 and 0.4.
        (float R, float G, float B)[] pixels = [(0.9f, 0.3f, 0.3f), (0.5f, 0.5f, 0.5f), (1f, 0f, 0f), (0.2f, 0.6f, 0.4f)];
        var chw = new float[12];
        for (int i = 0; i < 4; i++) (chw[i], chw[4 + i], chw[8 + i]) = pixels[i];
        using var image = torch.tensor(chw, [1, 3, 2, 2]);

        using var map = SaecScoring.PseudoSaturationMap(image);

        CollectionAssert.AreEqual(new long[] { 1, 1, 2, 2 }, map.shape);
        double[] expected =
        [
            0.4 * Math.Pow(1 + 2 * Math.Pow(0.5, 8), 1.0 / 8), // deviations (0.4, −0.2, −0.2)
            0,                                                   // grey: no saturation
            Math.Pow(258, 1.0 / 8) / 3,                          // deviations (2/3, −1/3, −1/3)
            0.2 * Math.Pow(2, 1.0 / 8),                          // deviations (−0.2, 0.2, 0)
        ];
        var actual = map.data<float>().ToArray();
        for (int i = 0; i < 4; i++) Assert.AreEqual(expected[i], actual[i], 1e-6, $"pixel {i}");
        Assert.AreEqual(0.400389, actual[0], 1e-6, "the closed forms above, evaluated");
        Assert.AreEqual(0.667315, actual[2], 1e-6);
    }

    [TestMethod]
    public void PseudoSaturationMapKeepsTinyDeviationsThatFloat32PowersWouldFlushToZero()
    {
        // Deviations of 1e-6: d^8 = 1e-48 underflows float32, so a float32 computation would give exactly 0.
        using var image = torch.tensor(new float[] { 0.5f + 1e-6f, 0.5f, 0.5f - 1e-6f }, [1, 3, 1, 1]);
        using var map = SaecScoring.PseudoSaturationMap(image);
        float value = map.item<float>();
        Assert.IsTrue(value > 0.9e-6 && value < 1.3e-6, $"map {value}");
    }

    [TestMethod]
    public void GreyImagesUseTheImageAsTheMapOrAreRejected()
    {
        using var grey = torch.tensor(new float[] { 0.1f, 0.2f, 0.3f, 0.4f }, [1, 1, 2, 2]);
        using var map = SaecScoring.PseudoSaturationMap(grey);
        CollectionAssert.AreEqual(grey.data<float>().ToArray(), map.data<float>().ToArray());
        var ex = Assert.Throws<ArgumentException>(() => SaecScoring.PseudoSaturationMap(grey, 8, SaecGreyscalePolicy.Reject));
        StringAssert.Contains(ex.Message, "single-channel");
    }

    [TestMethod]
    public void ResidualFiltersGiveZeroOnAConstantMapAndMatchTheSrmKernels()
    {
        foreach (var filter in Enum.GetValues<SaecResidualFilter>())
        {
            using var constant = torch.full([2, 1, 9, 9], 0.37);
            using var residuals = SaecScoring.Residuals(constant, filter);
            int k = SaecScoring.KernelSize(filter);
            CollectionAssert.AreEqual(new long[] { 2, 1, 10 - k, 10 - k }, residuals.shape, "valid convolution: no padded border");
            Assert.IsTrue(residuals.data<float>().ToArray().All(r => Math.Abs(r) < 1e-6), $"{filter} on a constant map");
        }
        using var kv = SaecScoring.ResidualKernel(SaecResidualFilter.KV5x5);
        var values = kv.data<float>().ToArray();
        Assert.AreEqual(-1f, values[12], 1e-7, "KV centre −12/12");
        Assert.AreEqual(8f / 12, values[7], 1e-7);
        Assert.AreEqual(-1f / 12, values[0], 1e-7);
        using var square = SaecScoring.ResidualKernel(SaecResidualFilter.Square3x3);
        CollectionAssert.AreEqual(new[] { -0.25f, 0.5f, -0.25f, 0.5f, -1f, 0.5f, -0.25f, 0.5f, -0.25f }, square.data<float>().ToArray());
    }

    [TestMethod]
    public void ResidualFiltersRemoveLinearRamps()
    {
        var ramp = new float[8 * 8];
        for (int y = 0; y < 8; y++) for (int x = 0; x < 8; x++) ramp[y * 8 + x] = 0.01f * x + 0.02f * y;
        using var map = torch.tensor(ramp, [1, 1, 8, 8]);
        using var residuals = SaecScoring.Residuals(map, SaecResidualFilter.KV5x5);
        Assert.IsTrue(residuals.data<float>().ToArray().All(r => Math.Abs(r) < 1e-6));
    }

    [TestMethod]
    public void NoiseLevelIsTheVarianceOfTheBinFrequencies()
    {
        // Four bins on [0, 4): residuals 0.5, 0.5, 1.5, 3.5 and one outside the range → frequencies (2, 1, 0, 1)/5.
        using var residuals = torch.tensor(new float[] { 0.5f, 0.5f, 1.5f, 3.5f, 9f }, [1, 5]);
        using var level = SaecScoring.NoiseLevel(residuals, 4, 0, 4);
        double[] f = [0.4, 0.2, 0, 0.2];
        double mean = f.Average();
        Assert.AreEqual(f.Sum(v => (v - mean) * (v - mean)) / 4, level.ToDouble(), 1e-12);

        // Half-open bins: a value on an inner edge goes up, one on the upper end is outside.
        using var edges = torch.tensor(new float[] { 1f, 4f }, [1, 2]);
        using var edgeLevel = SaecScoring.NoiseLevel(edges, 4, 0, 4);
        double[] g = [0, 0.5, 0, 0];
        double gm = g.Average();
        Assert.AreEqual(g.Sum(v => (v - gm) * (v - gm)) / 4, edgeLevel.ToDouble(), 1e-12);
    }

    [TestMethod]
    public void ScoreIsZeroForAFlatSaturationAndGrowsWithNoise()
    {
        var options = new SaecOptions();
        using var flat = torch.full([1, 3, 16, 16], 0.5); // grey everywhere: every residual is 0, in the central bin
        using var flatScore = SaecScoring.Scores(flat, options);
        Assert.AreEqual(0f, flatScore.item<float>(), "the score is clamped to [0, 1], not −2e-16");

        var random = new Random(3);
        float previous = flatScore.item<float>();
        // ±1/255 stays inside the central bin (the small-perturbation blind spot the paper reports); from ±4/255 on the score rises.
        foreach (double amplitude in new[] { 4 / 255.0, 8 / 255.0, 16 / 255.0, 0.5 })
        {
            var values = new float[3 * 16 * 16];
            for (int i = 0; i < values.Length; i++) values[i] = (float)Math.Clamp(0.5 + (2 * random.NextDouble() - 1) * amplitude, 0, 1);
            using var noisy = torch.tensor(values, [1, 3, 16, 16]);
            using var score = SaecScoring.Scores(noisy, options);
            float s = score.item<float>();
            Assert.IsTrue(s > previous && s <= 1, $"noise ±{amplitude * 255:F0}/255 scores {s}, not above {previous}");
            previous = s;
        }
    }
}

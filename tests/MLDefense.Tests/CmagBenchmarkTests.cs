using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Classifiers;
using MLDefense.Cli.Commands;
using MLDefense.Cli.Infrastructure;
using MLDefense.Reporting;

namespace MLDefense.Tests;

/// <summary><c>bench cmag</c> end to end on a tiny MNIST slice: MagNet and Defense-GAN on CMAG's examples, and the image grid the report shows.</summary>
[TestClass]
public sealed class CmagBenchmarkTests
{
    private const int TrainImages = 300, TestImages = 30, DefenseGanTest = 12, DefenseGanThreshold = 40, Shown = 4;

    private static readonly Lazy<CmagBenchmarkResult> Tiny = new(() => CmagBenchmark.Run(new CmagBenchmarkOptions
    {
        Cases =
        [
            new("mnist", ClassifierArchitecture.MnistC1, TrainImages: TrainImages, TestImages: TestImages, ClassifierEpochs: 2, CmagEpochs: 1, CmagBatchSize: 100,
                BaselineEpochs: 1, BaselineWidth: 8, BaselineLearningRate: 1e-3, BaselineBatchSize: 50, DefenseGanRestarts: 1, DefenseGanIterations: 3,
                DefenseGanTestImages: DefenseGanTest, DefenseGanThresholdImages: DefenseGanThreshold),
        ],
        FgsmIntensities = [0.3], CwConfidences = [0], CwBudget = new CarliniWagnerBudget(1, 30, 10), AdaptiveWeights = [1], AdaptiveSteps = 2,
        ExampleImages = Shown, Device = ComputeDevice.Cpu,
    }));

    [TestMethod]
    public void SelectPicksTheNamedDatasetsQuickPresetsAndRejectsUnknownNames()
    {
        CollectionAssert.AreEqual(new[] { "mnist" }, CmagBenchmark.QuickCases.Select(c => c.Dataset).ToArray(), "--quick alone runs MNIST");
        CollectionAssert.AreEqual(CmagBenchmark.FullCases.Select(c => c.Dataset).ToArray(), CmagBenchmark.QuickPresets.Select(c => c.Dataset).ToArray());
        Assert.AreEqual(CmagBenchmark.QuickCases[0], CmagBenchmark.QuickPresets[0], "MNIST's quick preset is --quick's");
        foreach (var (quick, full) in CmagBenchmark.QuickPresets.Zip(CmagBenchmark.FullCases))
        {
            Assert.AreEqual(full.Architecture, quick.Architecture, quick.Dataset);
            Assert.AreEqual(CmagBenchmark.QuickCases[0] with { Dataset = quick.Dataset, Architecture = quick.Architecture }, quick,
                $"{quick.Dataset}: the same shortening as MNIST's");
        }
        var picked = CommonOptions.SelectCases(CmagBenchmark.QuickPresets, c => c.Dataset, ["GTSRB-subset", "fashion-mnist"]);
        CollectionAssert.AreEqual(new[] { "fashion-mnist", "gtsrb-subset" }, picked.Select(c => c.Dataset).ToArray(), "in the cases' order, case-insensitive");
        Assert.AreEqual(ClassifierArchitecture.CifarC2, picked[1].Architecture);
        Assert.AreEqual(5000, picked[1].TrainImages);
        var error = Assert.ThrowsExactly<ArgumentException>(() => CommonOptions.SelectCases(CmagBenchmark.FullCases, c => c.Dataset, ["mnist", "cifar10-subset"]));
        StringAssert.Contains(error.Message, "cifar10-subset is not one of the datasets mnist, fashion-mnist, gtsrb-subset");
        Assert.ThrowsExactly<ArgumentException>(() => CommonOptions.SelectCases(CmagBenchmark.FullCases, c => c.Dataset, []));
    }

    [TestMethod]
    public void MagNetAndDefenseGanGetRowsOnCmagsExamplesWithCmagsTwoRules()
    {
        var c = Tiny.Value.Cases.Single();
        var byMethod = c.Rows.GroupBy(r => r.Method).ToDictionary(g => g.Key, g => g.ToList());
        CollectionAssert.AreEquivalent(new[] { "cmag", "magnet", "defensegan" }, byMethod.Keys.ToArray());
        foreach (var (attack, intensity) in new[] { ("FGSM", 0.3), ("CW-L2", 0.0) })
        {
            var cmag = byMethod["cmag"].Single(r => r.Attack == attack && r.Intensity == intensity && r.Rule == "paper");
            var magnet = byMethod["magnet"].Where(r => r.Attack == attack && r.Intensity == intensity).ToDictionary(r => r.Rule);
            var defensegan = byMethod["defensegan"].Where(r => r.Attack == attack && r.Intensity == intensity).ToDictionary(r => r.Rule);
            CollectionAssert.AreEquivalent(new[] { "paper", "calibrated" }, magnet.Keys.ToArray());
            CollectionAssert.AreEquivalent(new[] { "paper", "calibrated" }, defensegan.Keys.ToArray());
            // The same successful AEs: MagNet scores every test image, Defense-GAN the first DefenseGanTest of them.
            Assert.AreEqual(cmag.Pairs, magnet["paper"].Pairs, $"{attack}: MagNet pairs the same examples as CMAG");
            Assert.AreEqual(TestImages, magnet["paper"].Attacked);
            Assert.AreEqual(DefenseGanTest, defensegan["paper"].Attacked);
            Assert.IsTrue(defensegan["paper"].Pairs <= Math.Min(cmag.Pairs, DefenseGanTest), $"{attack}: Defense-GAN pairs a subset");
            foreach (var r in magnet.Values.Concat(defensegan.Values).Where(r => r.Pairs > 0))
            {
                foreach (var v in new[] { r.DetectionAccuracy, r.Tpr, r.Fpr, r.Auc, r.MeanSsim }) Assert.IsTrue(v is >= 0 and <= 1, $"{r}");
                Assert.IsTrue(r.MeanL2 > 0, $"{r}");
            }
        }
        Assert.IsFalse(byMethod["magnet"].Concat(byMethod["defensegan"]).Any(r => r.Attack == "PGD-adaptive"), "the defense-aware PGD is aimed at CMAG only");
        var clean = c.CleanRows.Select(r => (r.Method, r.Rule)).ToArray();
        foreach (var m in new[] { "cmag", "magnet", "defensegan" })
            foreach (var rule in new[] { "paper", "calibrated" }) CollectionAssert.Contains(clean, (m, rule));
        Assert.AreEqual(DefenseGanTest, c.CleanRows.First(r => r.Method == "defensegan").Images);
    }

    [TestMethod]
    public void TheBaselinesThresholdsComeFromCmagsTrainingRowsAndItsHeldOutRows()
    {
        var c = Tiny.Value.Cases.Single();
        var b = c.Baselines.ToDictionary(x => x.Method);
        CollectionAssert.AreEquivalent(new[] { "magnet", "defensegan" }, b.Keys.ToArray());
        Assert.AreEqual(c.Info.TrainingImageCount, b["magnet"].ThresholdImages, "MagNet's Alg. 2 thresholds over all of CMAG's training rows");
        Assert.AreEqual(DefenseGanThreshold, b["defensegan"].ThresholdImages, "Defense-GAN's over the first DefenseGanThresholdImages");
        foreach (var x in b.Values)
        {
            Assert.AreEqual(c.Info.CalibrationImageCount, x.CalibrationImages, $"{x.Method}: CMAG's held-out rows");
            Assert.IsTrue(x.SsimThreshold is > -1 and <= 1 && x.L2Threshold > 0, $"{x}");
            Assert.IsTrue(x.PaperRuleHeldOutFpr is >= 0 and <= 1 && x.CalibratedRuleHeldOutFpr is >= 0 and <= 0.5, $"{x}");
            Assert.IsTrue(x.TrainingMeanSsim >= x.SsimThreshold, "the smallest SSIM is at most the mean");
            StringAssert.Contains(x.Settings, "width 8");
        }
        StringAssert.Contains(b["defensegan"].Settings, "R 1 random starts after L 3");
    }

    [TestMethod]
    public void TheImageGridReachesTheReportBesideTheJson()
    {
        var result = Tiny.Value;
        var e = result.Cases.Single().Examples!;
        string[] sets = ["clean", "FGSM λ 0.3", "CW-L2 κ 0"];
        var expected = sets.SelectMany(s => new[] { s, $"{s}: CMAG x'", $"{s}: MagNet x'", $"{s}: Defense-GAN x'" }).ToArray();
        CollectionAssert.AreEqual(expected, e.RowNames.ToArray());
        Assert.AreEqual(expected.Length, e.Rows.Count);
        Assert.IsTrue(e.Rows.All(r => r.Count == Shown && r.All(image => image.Length == 28 * 28 && image.All(v => v is >= 0 and <= 1))));
        Assert.AreEqual(Shown, e.TestIndices.Distinct().Count());
        // The attacked rows hold other pixels than the clean ones, and CMAG's x' differs from its input.
        Assert.IsFalse(e.Rows[0][0].SequenceEqual(e.Rows[4][0]), "FGSM changed the image");
        Assert.IsFalse(e.Rows[0][0].SequenceEqual(e.Rows[1][0]), "x' is a reconstruction, not the input");

        string folder = Path.Combine(Path.GetTempPath(), $"cmag-grid-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            string json = Path.Combine(folder, "cmag.json");
            var grids = BenchCmagCommand.WriteImageGrids(result, json);
            var root = BenchCmagCommand.ToJson(result, quick: true);
            root["image_grids"] = new JsonArray(grids.Select(g => (JsonNode)g.ToJson(folder)).ToArray());
            File.WriteAllText(json, root.ToJsonString());
            Assert.IsTrue(File.Exists(Path.Combine(folder, "cmag-mnist.png")));

            var input = ReportInputs.Read(json);
            Assert.AreEqual(0, input.Problems.Count, string.Join("; ", input.Problems));
            var grid = input.ImageGrids.Single();
            CollectionAssert.AreEqual(expected, grid.Rows.ToArray());
            var image = BenchmarkReport.Section(input).Blocks.OfType<ImageBlock>().Single();
            Assert.AreEqual(expected.Length * 28 + (expected.Length - 1) * ImageGrid.DefaultGap, image.Height, "one row of the PNG per row name");
            Assert.AreEqual(Shown * 28 + (Shown - 1) * ImageGrid.DefaultGap, image.Width);
            var rowMethods = input.Rows.Select(r => (string)r["method"]!).Distinct().ToArray();
            CollectionAssert.AreEquivalent(new[] { "cmag", "magnet", "defensegan" }, rowMethods);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

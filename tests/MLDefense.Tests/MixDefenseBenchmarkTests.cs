using Microsoft.ML;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Classifiers;
using MLDefense.Reporting;
using static MLDefense.Tests.CliRunner;

namespace MLDefense.Tests;

/// <summary><c>bench mixdefense</c>: its perturbation bins, the cascade's rule, a tiny run end to end, its command line and its report charts.</summary>
[TestClass]
public sealed class MixDefenseBenchmarkTests
{
    [TestMethod]
    public void BinsHoldEquallyManySuccessfulExamplesAndAtLeastTheMinimum()
    {
        CollectionAssert.AreEqual(new[] { (0, 50), (50, 100), (100, 150), (150, 200), (200, 250) }, MixDefenseBenchmark.Bins(250, 50, 5).ToArray());
        CollectionAssert.AreEqual(new[] { (0, 60), (60, 120) }, MixDefenseBenchmark.Bins(120, 50, 5).ToArray());
        CollectionAssert.AreEqual(new[] { (0, 100), (100, 200), (200, 301) }, MixDefenseBenchmark.Bins(301, 100, 3).ToArray());
        Assert.AreEqual(0, MixDefenseBenchmark.Bins(99, 100, 5).Count, "fewer than the minimum: the point is dropped");
    }

    [TestMethod]
    public void TheCascadeFlagsWhenAnyLayerFlags()
    {
        var a = new MixDefenseBenchmark.Layer("a", _ => [0.1f, 0.9f, 0.1f, 0.9f], 0.5);
        var b = new MixDefenseBenchmark.Layer("b", _ => [1f, 1f, 3f, 3f], 2);
        var cascade = MixDefenseBenchmark.Cascade("a+b", [a, b]);
        using var images = torch.zeros(4, 1, 2, 2);
        var flags = cascade.Score(images).Select(s => s > cascade.Threshold).ToArray();
        CollectionAssert.AreEqual(new[] { false, true, true, true }, flags);
    }

    [TestMethod]
    public void AColumnLayerScoresThroughTheMLNetChainAsTheTensorApiDoes()
    {
        // The path ContraNet will take (classifier's columns → detector's score column), checked here with Feature Squeezing.
        var (ml, classifier, trainRows, testRows) = MLNet.FeatureSqueezingTests.Fixture.Value;
        using var fs = ml.Transforms.Defenses.FeatureSqueezing(classifier).Fit(ml.Data.LoadFromEnumerable(trainRows.Take(100)));
        var chain = classifier.AsEstimator("Image").Append(ml.Transforms.Defenses.FeatureSqueezing(classifier)).Fit(ml.Data.LoadFromEnumerable(trainRows.Take(100)));
        var layer = MixDefenseBenchmark.ColumnLayer("fs", chain, "FeatureSqueezingScore", fs.Threshold);
        using var images = torch.tensor(testRows.Take(20).SelectMany(r => r.Image).ToArray(), [20, 1, 28, 28]);
        using var direct = fs.Score(images);
        CollectionAssert.AreEqual(direct.data<float>().ToArray(), layer.Score(images));
        Assert.AreEqual(fs.Threshold, layer.Threshold);
    }

    [TestMethod]
    public void ATinyRunGivesEveryMethodARowAtEveryKeptPointOnTheSameExamples()
    {
        var options = new MixDefenseBenchmarkOptions
        {
            Cases = [new("mnist", ClassifierArchitecture.MnistC1, [0.3], [4.2], ClassifierEpochs: 2, TrainImages: 1000, TestImages: 80, BudgetFreeImages: 40)],
            Methods = ["saec", "fs", "saec+fs"],
            BimIterations = 2, MinimumPairs = 10, MaximumBins = 2, CarliniWagner = new CarliniWagnerBudget(1, 20, 10), BatchSize = 64,
            Device = ComputeDevice.Cpu,
        };
        var result = MixDefenseBenchmark.Run(options);
        var c = result.Cases.Single();
        Assert.IsTrue(c.Points.Count >= 4, $"the FGSM, BIM and FGM points of an 80-image run keep at least 10 pairs: kept {c.Points.Count}, dropped {c.Dropped.Count} (accuracy {c.ClassifierAccuracy})");
        foreach (var p in c.Points)
        {
            var rows = c.Rows.Where(r => r.Attack == p.Attack && r.Norm == p.Norm && r.Epsilon == p.Epsilon).ToDictionary(r => r.Method);
            CollectionAssert.AreEquivalent(new[] { "saec", "fs", "saec+fs" }, rows.Keys.ToArray(), $"{p.Attack} {p.Norm} {p.Epsilon}");
            foreach (var r in rows.Values)
                foreach (var v in new[] { r.AccDetector, r.AccRc, r.Tpr, r.Fpr, r.Auc }) Assert.IsTrue(v is >= 0 and <= 1, $"{r}");
            // The cascade flags whatever either layer flags, on the same examples.
            Assert.IsTrue(rows["saec+fs"].Tpr >= Math.Max(rows["saec"].Tpr, rows["fs"].Tpr) - 1e-12, $"{p.Attack} {p.Norm} {p.Epsilon}: cascade TPR");
            Assert.IsTrue(rows["saec+fs"].Fpr >= Math.Max(rows["saec"].Fpr, rows["fs"].Fpr) - 1e-12, $"{p.Attack} {p.Norm} {p.Epsilon}: cascade FPR");
            Assert.IsTrue(p.Pairs >= 10 && p.Pairs <= p.Attacked);
        }
        Assert.IsTrue(c.Dropped.All(d => d.Pairs < 10));
        var clean = c.CleanRows.ToDictionary(r => r.Method);
        Assert.AreEqual(c.ClassifierAccuracy, clean["none"].CleanAccuracy);
        Assert.IsTrue(clean["saec+fs"].CleanAccuracy <= Math.Min(clean["saec"].CleanAccuracy, clean["fs"].CleanAccuracy) + 1e-12, "the cascade rejects what either rejects");
        Assert.IsTrue(clean["fs"].CleanAccuracy <= clean["none"].CleanAccuracy);
        Assert.IsNull(c.ContraNet, "no ContraNet among the methods: nothing to report");
    }

    [TestMethod]
    public void ContraNetAndTheMixDefenseCascadeGetRowsOnTheSameExamples()
    {
        var options = new MixDefenseBenchmarkOptions
        {
            Cases = [new("mnist", ClassifierArchitecture.MnistC1, [0.3], [], ClassifierEpochs: 2, TrainImages: 600, TestImages: 60, BudgetFreeImages: 0,
                         ContraNetEpochs: 1, ContraNetWidth: 8)],
            Methods = ["saec", "contranet", "mixdefense"],
            BimIterations = 2, MinimumPairs = 10, MaximumBins = 1, CarliniWagner = new CarliniWagnerBudget(1, 5, 10), BatchSize = 64,
            Device = ComputeDevice.Cpu,
            Adaptive = true, AdaptiveIterations = 3, LatentFreeIterations = 5,
        };
        var c = MixDefenseBenchmark.Run(options).Cases.Single();
        Assert.IsTrue(c.Points.Count >= 1, $"kept {c.Points.Count}, dropped {c.Dropped.Count}");
        foreach (var p in c.Points)
        {
            var rows = c.Rows.Where(r => r.Attack == p.Attack && r.Norm == p.Norm && r.Epsilon == p.Epsilon).ToDictionary(r => r.Method);
            CollectionAssert.AreEquivalent(new[] { "saec", "contranet", "mixdefense" }, rows.Keys.ToArray());
            Assert.IsTrue(rows["mixdefense"].Tpr >= Math.Max(rows["saec"].Tpr, rows["contranet"].Tpr) - 1e-12, "the cascade flags what either layer flags");
            Assert.IsTrue(rows["contranet"].Auc is >= 0 and <= 1);
        }
        // What ContraNet learned on its held-out clean rows (600 rows, 10% held out), reported with the case.
        Assert.IsNotNull(c.ContraNet);
        Assert.AreEqual(60, c.ContraNet.CalibrationImageCount);
        Assert.IsTrue(c.ContraNet.WrongLabelAuc is >= 0 and <= 1, $"{c.ContraNet.WrongLabelAuc}");
        Assert.AreNotEqual(c.ContraNet.CalibrationTrueLabelMeanDistance, c.ContraNet.CalibrationWrongLabelMeanDistance);
        var clean = c.CleanRows.ToDictionary(r => r.Method);
        Assert.IsTrue(clean["mixdefense"].CleanAccuracy <= Math.Min(clean["saec"].CleanAccuracy, clean["contranet"].CleanAccuracy) + 1e-12);

        // Sec. 6: PGD and the adaptive attacks at the L∞ budget, rows of their own.
        var adaptive = c.AdaptiveRows.ToLookup(r => r.Attack);
        CollectionAssert.AreEquivalent(new[] { "PGD" }.Concat(MixDefenseBenchmark.AdaptiveAttackNames).ToArray(), adaptive.Select(g => g.Key).ToArray(),
            $"dropped: {string.Join(", ", c.Dropped.Select(d => $"{d.Attack} {d.Pairs}"))}");
        foreach (var name in new[] { "PGD", "adaptive-cgan-input", "adaptive-bpda" })
            CollectionAssert.AreEquivalent(new[] { "saec", "contranet", "mixdefense" }, adaptive[name].Select(r => r.Method).ToArray(), name);
        foreach (var name in new[] { "adaptive-latent", "adaptive-latent-free" })
            CollectionAssert.AreEquivalent(new[] { "contranet", "mixdefense" }, adaptive[name].Select(r => r.Method).ToArray(), $"{name}: only ContraNet's reconstruction changes");
        foreach (var r in c.AdaptiveRows)
        {
            foreach (var v in new[] { r.AccDetector, r.AccRc, r.Tpr, r.Fpr, r.Auc, r.AttackSuccessRate, r.EvasionRate }) Assert.IsTrue(v is >= 0 and <= 1, $"{r}");
            Assert.AreEqual(r.AttackSuccessRate * (1 - r.Tpr), r.EvasionRate, 1e-12, $"{r}: evaded = successful and not flagged");
            Assert.AreEqual(0.3, r.Epsilon);
            Assert.IsTrue(r.Pairs >= 10 && r.Pairs <= r.Attacked, $"{r}");
        }
        var pgd = adaptive["PGD"].ToDictionary(r => r.Method);
        foreach (var name in new[] { "adaptive-cgan-input", "adaptive-latent", "adaptive-latent-free" })
            foreach (var r in adaptive[name])
            {
                // The cGAN-input attack keeps every AE of its PGD start fooled; the latent attacks reconstruct PGD's own AEs.
                Assert.AreEqual(pgd[r.Method].AttackSuccessRate, r.AttackSuccessRate, $"{name} {r.Method}");
                Assert.AreEqual(pgd[r.Method].Fpr, r.Fpr, $"{name} {r.Method}: the same clean images");
            }
        Assert.AreEqual(0.3, adaptive["adaptive-latent"].First().LatentEpsilon);
        Assert.IsNull(adaptive["adaptive-latent-free"].First().LatentEpsilon);
        Assert.IsTrue(c.Seconds.ContainsKey("adaptive"));
    }

    [TestMethod]
    public void OptionsNameWhatIsMissing()
    {
        var adaptiveWithout = Assert.ThrowsExactly<ArgumentException>(() => MixDefenseBenchmark.Run(new MixDefenseBenchmarkOptions { Methods = ["saec", "fs"], Adaptive = true }));
        StringAssert.Contains(adaptiveWithout.Message, "contranet or mixdefense");
        var unknown = Assert.ThrowsExactly<ArgumentException>(() => MixDefenseBenchmark.Run(new MixDefenseBenchmarkOptions { Methods = ["contra-net"] }));
        StringAssert.Contains(unknown.Message, "contranet, saec+fs, mixdefense");
        Assert.ThrowsExactly<ArgumentException>(() => MixDefenseBenchmark.Run(new MixDefenseBenchmarkOptions { Methods = [] }));
        Assert.ThrowsExactly<ArgumentException>(() => MixDefenseBenchmark.Run(new MixDefenseBenchmarkOptions
        {
            Cases = [new("mnist", ClassifierArchitecture.CifarC2, [0.1], [])],
        }));
    }

    [TestMethod]
    public void HelpListsTheOptionsAndTheRowShape()
    {
        var (code, output, error) = Run("bench", "mixdefense", "--help");
        Assert.AreEqual(0, code, error);
        foreach (var option in new[] { "--quick", "--json <PATH>", "--methods", "--only", "--model", "--adaptive" }) StringAssert.Contains(output, option);
        foreach (var name in MixDefenseBenchmark.AdaptiveAttackNames) StringAssert.Contains(output, name);
        StringAssert.Contains(output, "\"attack_success_rate\"");
        StringAssert.Contains(output, "\"dataset\", \"attack\", \"norm\", \"epsilon\", \"method\", \"acc_detector\", \"acc_rc\", \"tpr\", \"fpr\", \"auc\"");
        StringAssert.Contains(output, "\"clean_accuracy\"");
        StringAssert.Contains(output, "ContraNet");
    }

    [TestMethod]
    public void BadArgumentsExitWithCode2AndOneLine()
    {
        string[][] cases =
        [
            ["bench", "mixdefense", "--methods", "contra-net"],
            ["bench", "mixdefense", "--methods", "saec,bogus"],
            ["bench", "mixdefense", "--only", "imagenet"],
            ["bench", "mixdefense", "--model", "mnist=/no/such/model.zip"],
            ["bench", "mixdefense", "--model", "svhn=x.zip"],
        ];
        foreach (var args in cases) AssertUsageError(Run(args), string.Join(' ', args));
    }

    [TestMethod]
    public void ReportDrawsOneLinePerMethodAndTheUndefendedClassifier()
    {
        JsonObject Row(string method, double epsilon, double acc) => new()
        {
            ["dataset"] = "cifar10-subset", ["attack"] = "FGSM", ["norm"] = "linf", ["epsilon"] = epsilon, ["method"] = method,
            ["acc_detector"] = acc, ["acc_rc"] = acc, ["tpr"] = acc, ["fpr"] = 0.05, ["auc"] = acc,
        };
        var rows = new List<JsonObject> { Row("saec", 2 / 255.0, 0.5), Row("saec", 8 / 255.0, 0.99), Row("fs", 2 / 255.0, 0.7), Row("fs", 8 / 255.0, 0.8) };
        var points = new JsonArray(new JsonObject { ["dataset"] = "cifar10-subset", ["attack"] = "FGSM", ["norm"] = "linf", ["epsilon"] = 2 / 255.0, ["adversarial_accuracy"] = 0.3 },
                                   new JsonObject { ["dataset"] = "cifar10-subset", ["attack"] = "FGSM", ["norm"] = "linf", ["epsilon"] = 8 / 255.0, ["adversarial_accuracy"] = 0.1 });
        var charts = BenchmarkCharts.MixDefenseMethods(rows, points).OfType<ChartBlock>().Select(b => (LineChart)b.Chart).ToList();
        Assert.AreEqual(2, charts.Count, "Acc_Detector and Acc_RC for the one dataset, attack and norm");
        CollectionAssert.AreEqual(new[] { "saec", "fs" }, charts[0].Series.Select(s => s.Name).ToArray());
        CollectionAssert.AreEqual(new[] { "none (classifier alone)", "saec", "fs" }, charts[1].Series.Select(s => s.Name).ToArray());
        CollectionAssert.AreEqual(new[] { 2.0, 8.0 }, charts[0].Series[0].Points.Select(p => Math.Round(p.X, 9)).ToArray(), "CIFAR L∞ budgets in 1/255");
        Assert.AreEqual(BenchmarkKind.MixDefenseMethods, ReportInputs.Classify(rows));
    }
}

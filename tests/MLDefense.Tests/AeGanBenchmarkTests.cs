using MLDefense.Attacks;
using MLDefense.Benchmarks;
using MLDefense.Data;
using MLDefense.Evaluation;
using MLDefense.Classifiers;

namespace MLDefense.Tests;

/// <summary>
/// The AE-GAN protocol with several purification methods on one set of adversarial examples, a defense-aware attacked
/// model, and the benchmark's presets and targets (the benchmark itself runs end to end in <see cref="CliAeganTests"/>).
/// </summary>
[TestClass]
public sealed class AeGanBenchmarkTests
{
    private static ImageClassifierTransformer Classifier => EvaluationFixture.Classifier;

    [TestMethod]
    public void MethodsShareOneAttackPerBatchAndALimitNarrowsTheirRows()
    {
        var (images, labels) = EvaluationFixture.TestSet(10, 21);
        using var _ = images;
        using var __ = labels;
        var attack = new TestFgsm(0.3);
        var y = EvaluationFixture.Labels(labels);
        AeGanMethod[] methods =
        [
            new("none", x => x.alias()),
            new("constant", x => torch.zeros_like(x)),
            new("none-first-7", x => x.alias(), ImageLimit: 7),
        ];

        var results = AeGanProtocol.Run(Classifier, attack, images, labels, methods, options: new() { Dataset = "patterns", BatchSize = 8 });

        Assert.AreEqual(4, attack.Calls, "30 images in batches of 8: four attacks, shared by the three methods");
        CollectionAssert.AreEqual(new[] { "none", "constant", "none-first-7" }, results.Select(r => r.Row.Method).ToArray());
        var none = results[0];
        Assert.AreEqual(none.Row.UndefendedAccuracy, none.Row.Accuracy, "the identity changes nothing");
        Assert.AreEqual(30, none.Row.Evaluated);
        Assert.IsTrue(none.Row.Accuracy < none.Row.CleanAccuracy, "the attack works");

        var limited = results[2];
        Assert.AreEqual(7, limited.Row.Evaluated);
        Assert.AreEqual(7, limited.PurifiedAdversarialPredictions.Count);
        CollectionAssert.AreEqual(none.PurifiedAdversarialPredictions.Take(7).ToArray(), limited.PurifiedAdversarialPredictions.ToArray(),
                                  "the same adversarial examples");
        double expected = Enumerable.Range(0, 7).Count(i => none.PurifiedAdversarialPredictions[i] == y[i]) / 7.0;
        Assert.AreEqual(expected, limited.Row.Accuracy, 1e-12);
        Assert.AreEqual(Enumerable.Range(0, 7).Count(i => none.PurifiedCleanPredictions[i] == y[i]) / 7.0, limited.Row.UndefendedCleanAccuracy, 1e-12);

        // The single-purifier overload is the same computation with one method.
        var single = AeGanProtocol.Run(Classifier, new TestFgsm(0.3), images, labels, x => torch.zeros_like(x), options: new() { Method = "constant", BatchSize = 8 });
        Assert.AreEqual(results[1].Row.Accuracy, single.Row.Accuracy);
        Assert.AreEqual(results[1].Row.CleanAccuracy, single.Row.CleanAccuracy);
    }

    [TestMethod]
    public void TheAttackedModelReceivesTheAttackWhileTheClassifierJudges()
    {
        var (images, labels) = EvaluationFixture.TestSet(6, 22);
        using var _ = images;
        using var __ = labels;
        // Attacking the negated logits climbs the true class's logit: the "adversarial" images become easier, not harder.
        var negated = new NegatedClassifier(Classifier);
        var helped = AeGanProtocol.Run(Classifier, new TestFgsm(0.3), images, labels, [new AeGanMethod("none", x => x.alias())],
                                       options: new() { AttackedModel = negated, AttackName = "helpful FGSM" })[0];
        var attacked = AeGanProtocol.Run(Classifier, new TestFgsm(0.3), images, labels, x => x.alias());

        Assert.IsTrue(negated.Calls > 0, "the attack differentiated through the attacked model");
        Assert.AreEqual("helpful FGSM", helped.Row.Attack);
        Assert.IsTrue(helped.Row.UndefendedAccuracy >= helped.Row.UndefendedCleanAccuracy, $"{helped.Row.UndefendedAccuracy} vs clean {helped.Row.UndefendedCleanAccuracy}");
        Assert.IsTrue(attacked.Row.UndefendedAccuracy < helped.Row.UndefendedAccuracy);
    }

    [TestMethod]
    public void BadMethodsFailBeforeAnyWork()
    {
        var (images, labels) = EvaluationFixture.TestSet(2, 23);
        using var _ = images;
        using var __ = labels;
        var attack = new TestFgsm(0.3);
        Assert.Throws<ArgumentException>(() => AeGanProtocol.Run(Classifier, attack, images, labels, Array.Empty<AeGanMethod>()));
        Assert.Throws<ArgumentOutOfRangeException>(() => AeGanProtocol.Run(Classifier, attack, images, labels, [new AeGanMethod("x", x => x.alias(), 0)]));
        var wrongShape = new NegatedClassifier(Classifier, new ImageShape(1, 32, 32));
        Assert.Throws<ArgumentException>(() => AeGanProtocol.Run(Classifier, attack, images, labels, [new AeGanMethod("x", x => x.alias())], options: new() { AttackedModel = wrongShape }));
        Assert.AreEqual(0, attack.Calls);
    }

    [TestMethod]
    public void QuickPresetSaysWhatItShortensAndRowsAreGradedByTheirThreat()
    {
        var quick = AeGanBenchmark.Describe(AeGanBenchmark.QuickCases);
        StringAssert.Contains(quick, "mnist: A 1 of 10 epochs on the first 10000 training images");
        StringAssert.Contains(quick, "AE-GAN 2 of 60 epochs at width 16 of 64 on the first 8000 training images, Adam 0.001 (not 0.0002), batch 50 (not 100)");
        StringAssert.Contains(quick, "fashion-mnist:");
        StringAssert.Contains(AeGanBenchmark.Describe(AeGanBenchmark.FullCases), "AE-GAN 60 epochs at width 64 on all training images");

        // White-box rows: the bars (Table 1's white-box row); gray-box rows: the paper's gray-box figures.
        Assert.AreEqual(0.97, AeGanBenchmark.Target(KnownDatasets.Mnist, "CW-L2", "aegan", AeGanBenchmark.WhiteBox));
        Assert.AreEqual(0.81, AeGanBenchmark.Target(KnownDatasets.FashionMnist, "PGD", "aegan", AeGanBenchmark.WhiteBox));
        Assert.AreEqual(0.76, AeGanBenchmark.Target(KnownDatasets.FashionMnist, "CW-L2", "aegan", AeGanBenchmark.WhiteBox));
        Assert.AreEqual(0.915, AeGanBenchmark.Target(KnownDatasets.Mnist, "CW-L2", "aegan"));
        Assert.AreEqual(0.882, AeGanBenchmark.Target(KnownDatasets.Mnist, "FGSM", "aegan", AeGanBenchmark.GrayBox));
        Assert.AreEqual(0.604, AeGanBenchmark.Target(KnownDatasets.FashionMnist, "FGSM", "aegan"));
        Assert.IsNull(AeGanBenchmark.Target(KnownDatasets.FashionMnist, "PGD", "aegan"), "the paper's Fashion-MNIST gray-box PGD is unreadable");
        Assert.IsNull(AeGanBenchmark.Target(KnownDatasets.Mnist, "FGSM", "magnet", AeGanBenchmark.WhiteBox), "targets apply to AE-GAN+sr only");
        Assert.IsNull(AeGanBenchmark.Target(KnownDatasets.Mnist, "FGSM", "magnet"), "targets apply to AE-GAN+sr only");
        Assert.IsNull(AeGanBenchmark.Target(KnownDatasets.Mnist, AeGanBenchmark.BpdaAttackName, "aegan", AeGanBenchmark.WhiteBox), "BPDA has no target");
        Assert.Throws<ArgumentOutOfRangeException>(() => AeGanBenchmark.Target(KnownDatasets.Mnist, "FGSM", "aegan", "black-box"));
        // Table 1's MagNet column: white 0.293 / 0.012 / 0.013 against gray 0.561 / 0.673 / 0.881 — the white row attacks through the reconstruction.
        Assert.AreEqual(0.293, AeGanBenchmark.PaperWhiteBox(KnownDatasets.Mnist, "FGSM", "magnet"));
        Assert.AreEqual(0.561, AeGanBenchmark.PaperGrayBox(KnownDatasets.Mnist, "FGSM", "magnet"));
        Assert.AreEqual(0.984, AeGanBenchmark.PaperWhiteBox(KnownDatasets.Mnist, "FGSM", "aegan"));
        Assert.AreEqual(0.852, AeGanBenchmark.PaperWhiteBox(KnownDatasets.FashionMnist, "PGD", "defensegan"));
        Assert.AreEqual(AeGanBenchmark.PaperWhiteBox(KnownDatasets.Mnist, "PGD", "none"), AeGanBenchmark.PaperGrayBox(KnownDatasets.Mnist, "PGD", "none"));

        var missing = AeGanBenchmarkOptions.Quick with { ModelPaths = new Dictionary<string, string> { [KnownDatasets.Mnist] = "/no/such/model.zip" } };
        Assert.Throws<FileNotFoundException>(() => AeGanBenchmark.Run(missing));
        var cifar = AeGanBenchmarkOptions.Quick with { Cases = [AeGanBenchmark.QuickCases[0] with { Dataset = KnownDatasets.Cifar10Subset }] };
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => AeGanBenchmark.Run(cifar)).Message, "takes 1x28x28 images");
    }

    [TestMethod]
    public void ALearningCurveProbesEachEpochOnceAndEndsWithThePurifierOfOneUninterruptedTraining()
    {
        string data = Directory.CreateTempSubdirectory("mldefense-aegan-curve-").FullName;
        try
        {
            SyntheticIdx.Write(Path.Combine(data, KnownDatasets.Mnist), trainRows: 200, testRows: 40, seed: 4);
            string folder = Path.Combine(data, "purifiers");
            var plain = new AeGanBenchmarkOptions
            {
                Cases = [new AeGanBenchmarkCase(KnownDatasets.Mnist, ClassifierEpochs: 2, ClassifierTrainImages: null, PurifierEpochs: 2, PurifierTrainImages: null,
                                                PurifierBaseChannels: 4, PurifierLearningRate: 1e-3, PurifierBatchSize: 50, TestImages: 40, DefenseGanImages: 0,
                                                BpdaImages: 0, PurifierLatentDimension: 8)],
                SearchSteps = 2, PgdIterations = 3, CarliniWagner = new CarliniWagnerBudget(1, 5, 0.1), DataDirectory = data, Device = ComputeDevice.Cpu,
            };
            var options = plain with { PurifierSaveDirectory = folder, CurveEpochs = [1], CurveTestImages = 20 };
            var uninterrupted = AeGanBenchmark.Run(plain).Cases.Single();
            var first = AeGanBenchmark.Run(options).Cases.Single();

            CollectionAssert.AreEqual(new[] { 1, 2 }, first.Curve.Select(p => p.Epoch).ToArray(), "the probe, then the final purifier");
            Assert.IsTrue(first.Curve.All(p => p.TestImages == 20 && p.Rows.Count == 9 && p.Rows.All(r => r.Images == 20)), "3 attacks x none, magnet, aegan on 20 images");
            CollectionAssert.AreEqual(new[] { "none", "magnet", "aegan" }, first.Curve[0].Rows.Take(3).Select(r => r.Method).ToArray());
            Assert.AreEqual(uninterrupted.Calibration.Threshold, first.Calibration.Threshold, "1 + 1 epochs give the 2-epoch purifier");
            CollectionAssert.AreEqual(uninterrupted.Rows.Select(r => r.Accuracy).ToArray(), first.Rows.Select(r => r.Accuracy).ToArray(),
                                      "the final purifier is evaluated on every test image, as without a curve");
            CollectionAssert.AreEquivalent(new[] { "aegan-mnist.zip", "aegan-mnist.checkpoint", "aegan-mnist.curve.json" },
                                           Directory.GetFiles(folder).Select(Path.GetFileName).ToArray());

            var stages = new List<string>();
            var second = AeGanBenchmark.Run(options, new InlineProgress<AeGanBenchmarkProgress>(p => stages.Add(p.Stage))).Cases.Single();
            CollectionAssert.AreEqual(first.Curve.SelectMany(p => p.Rows).ToArray(), second.Curve.SelectMany(p => p.Rows).ToArray(), "the kept probes are read back");
            Assert.IsFalse(stages.Any(s => s.StartsWith("curve epoch", StringComparison.Ordinal)), "nothing is probed again");
            Assert.AreEqual(first.Calibration.Threshold, second.Calibration.Threshold, "the final purifier is refitted from its kept checkpoint");
            StringAssert.Contains(Assert.Throws<ArgumentException>(() => AeGanBenchmark.Run(plain with { CurveEpochs = [1] })).Message, "PurifierSaveDirectory");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [TestMethod]
    public void WhiteBoxRowsAttackThroughTheDefenseAndAreGradedAgainstTheWhiteBoxBars()
    {
        string data = Directory.CreateTempSubdirectory("mldefense-aegan-whitebox-").FullName;
        try
        {
            SyntheticIdx.Write(Path.Combine(data, KnownDatasets.Mnist), trainRows: 200, testRows: 20, seed: 5);
            var options = new AeGanBenchmarkOptions
            {
                Cases = [new AeGanBenchmarkCase(KnownDatasets.Mnist, ClassifierEpochs: 2, ClassifierTrainImages: null, PurifierEpochs: 1, PurifierTrainImages: null,
                                                PurifierBaseChannels: 4, PurifierLearningRate: 1e-3, PurifierBatchSize: 50, TestImages: 12, DefenseGanImages: 0,
                                                BpdaImages: 0, PurifierLatentDimension: 8, WhiteBoxImages: 6, WhiteBoxDefenseGanImages: 3)],
                SearchSteps = 3, PgdIterations = 2, DefenseGanRestarts = 2, DefenseGanIterations = 3, CarliniWagner = new CarliniWagnerBudget(1, 3, 0.1),
                DataDirectory = data, Device = ComputeDevice.Cpu, WhiteBox = true, BatchSize = 4,
            };
            var result = AeGanBenchmark.Run(options).Cases.Single();

            var gray = result.Rows.Where(r => r.Threat == AeGanBenchmark.GrayBox).ToList();
            var white = result.Rows.Where(r => r.Threat == AeGanBenchmark.WhiteBox).ToList();
            Assert.AreEqual(9, gray.Count, "3 attacks x none, magnet, aegan on A alone");
            Assert.IsTrue(gray.All(r => r.AttackThrough == "classifier" && r.Images == 12));
            Assert.IsTrue(gray.Where(r => r.Method == "aegan").All(r => r.Target == AeGanBenchmark.PaperGrayBox(KnownDatasets.Mnist, r.Attack, "aegan")),
                          "gray-box rows are graded against the paper's gray-box row");
            var keys = white.Select(r => $"{r.Attack}/{r.AttackThrough}/{r.Method}").ToArray();
            var expected = AeGanBenchmark.Attacks.SelectMany(a => new[] { $"{a}/reconstruction/magnet", $"{a}/reconstruction/aegan", $"{a}/search/aegan" })
                .Append("FGSM/defensegan-search/defensegan").ToArray();
            CollectionAssert.AreEqual(expected, keys, "through G∘F (magnet, aegan), through the unrolled search (aegan), and FGSM through the Defense-GAN-style search");
            Assert.IsTrue(white.Where(r => r.AttackThrough != "defensegan-search").All(r => r.Images == 6));
            Assert.AreEqual(3, white.Single(r => r.AttackThrough == "defensegan-search").Images);
            Assert.IsTrue(white.Where(r => r.Method == "aegan").All(r => r.Target == 0.97), "white-box AE-GAN+sr rows carry the issue's bars");
            Assert.IsTrue(white.Where(r => r.Method != "aegan").All(r => r.Target is null));
            Assert.IsTrue(white.All(r => r.AttackMsPerImage > 0 && r.Accuracy is >= 0 and <= 1));
            Assert.IsTrue(white.Where(r => r.Method == "aegan").All(r => r.SearchSteps == 3));
            Assert.AreEqual(2 * 3, white.Single(r => r.Method == "defensegan").SearchSteps, "R·L");

            var plain = AeGanBenchmark.Run(options with { WhiteBox = false }).Cases.Single();
            Assert.IsFalse(plain.Rows.Any(r => r.Threat == AeGanBenchmark.WhiteBox), "no white-box rows unless asked");
            CollectionAssert.AreEqual(gray.Select(r => r.Accuracy).ToArray(), plain.Rows.Select(r => r.Accuracy).ToArray(), "the gray-box rows do not change");

            var fgsmOnly = AeGanBenchmark.Run(options with { WhiteBoxAttacks = ["FGSM"], Cases = [options.Cases[0] with { WhiteBoxDefenseGanImages = 0 }] }).Cases.Single();
            CollectionAssert.AreEqual(white.Where(r => r.Attack == "FGSM" && r.AttackThrough != "defensegan-search").Select(r => r.Accuracy).ToArray(),
                                      fgsmOnly.Rows.Where(r => r.Threat == AeGanBenchmark.WhiteBox).Select(r => r.Accuracy).ToArray(), "WhiteBoxAttacks narrows the rows");

            var bad = options with { WhiteBoxDefenseGanAttacks = ["BIM"] };
            StringAssert.Contains(Assert.Throws<ArgumentException>(() => AeGanBenchmark.Run(bad)).Message, "WhiteBoxDefenseGanAttacks");
            StringAssert.Contains(Assert.Throws<ArgumentException>(() => AeGanBenchmark.Run(options with { WhiteBoxAttacks = ["MIM"] })).Message, "WhiteBoxAttacks");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>Logits negated (optionally claiming another input shape), counting its calls.</summary>
    private sealed class NegatedClassifier(IDifferentiableClassifier inner, ImageShape? shape = null) : IDifferentiableClassifier
    {
        public int Calls { get; private set; }
        public Device Device => inner.Device;
        public ImageShape InputShape => shape ?? inner.InputShape;
        public int ClassCount => inner.ClassCount;
        public IReadOnlyList<int>? FeatureMapShape => null;
        public Tensor FeatureMap(Tensor images) => throw new NotSupportedException();

        public Tensor Logits(Tensor images)
        {
            Calls++;
            using var logits = inner.Logits(images);
            return -logits;
        }
    }
}

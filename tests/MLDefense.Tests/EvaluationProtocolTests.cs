using MLDefense.Attacks;
using MLDefense.Data;
using MLDefense.Tests.MLNet;
using MLDefense.Evaluation;
using MLDefense.Classifiers;

namespace MLDefense.Tests;

/// <summary>
/// A small classifier trained once for all protocol tests on synthetic 28×28 patterns (three classes, each a bright
/// region over faint noise), the test images it is evaluated on, and a textbook FGSM to attack it with.
/// </summary>
internal static class EvaluationFixture
{
    public const int Classes = 3;
    private static readonly Lazy<ImageClassifierTransformer> LazyClassifier = new(Train);

    public static ImageClassifierTransformer Classifier => LazyClassifier.Value;

    /// <summary>Test images (on the classifier's device) and their labels, <paramref name="perClass"/> per class.</summary>
    public static (Tensor Images, Tensor Labels) TestSet(int perClass, int seed)
    {
        var (pixels, labels) = Patterns(perClass, seed);
        var images = torch.tensor(pixels, [labels.Length, 1, 28, 28], device: Classifier.Device);
        var labelTensor = torch.tensor(Array.ConvertAll(labels, l => (long)l), [labels.Length], device: Classifier.Device);
        return (images, labelTensor);
    }

    public static int[] Labels(Tensor labels) => Array.ConvertAll(labels.cpu().data<long>().ToArray(), l => (int)l);

    private static ImageClassifierTransformer Train()
    {
        var (pixels, labels) = Patterns(perClass: 60, seed: 1);
        var data = TestViews.Labelled(pixels, labels, new ImageShape(1, 28, 28), Classes);
        var options = new ImageClassifierOptions { Architecture = ClassifierArchitecture.MnistC1, Epochs = 2, BatchSize = 16, Seed = 5 };
        return Microsoft.ML.ImageClassifierTrainerCatalog.ImageClassifier(new Microsoft.ML.MLContext(seed: 1).MulticlassClassification.Trainers, options).Fit(data);
    }

    /// <summary>Class 0 brightens the top-left quadrant, class 1 the bottom-right one, class 2 a centred square.</summary>
    private static (float[] Pixels, int[] Labels) Patterns(int perClass, int seed)
    {
        var random = new Random(seed);
        int rows = perClass * Classes;
        var pixels = new float[rows * 784];
        var labels = new int[rows];
        for (int row = 0; row < rows; row++)
        {
            int label = labels[row] = row % Classes;
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    bool inRegion = label switch
                    {
                        0 => x < 14 && y < 14,
                        1 => x >= 14 && y >= 14,
                        _ => x is >= 7 and < 21 && y is >= 7 and < 21,
                    };
                    pixels[row * 784 + y * 28 + x] = (float)(random.NextDouble() * 0.3 + (inRegion ? 0.6 : 0));
                }
        }
        return (pixels, labels);
    }
}

/// <summary>FGSM (Goodfellow et al.): one signed-gradient step of size ε on the cross-entropy, clipped to [0, 1].</summary>
internal sealed class TestFgsm(double epsilon) : IAdversarialAttack
{
    public string Name => "FGSM";
    public AttackNorm Norm => AttackNorm.Linf;
    public int Calls { get; private set; }

    public Tensor Generate(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken = default)
    {
        Calls++;
        using var scope = torch.NewDisposeScope();
        var input = images.detach().requires_grad_();
        var gradient = torch.autograd.grad([torch.nn.functional.cross_entropy(classifier.Logits(input), labels)], [input])[0];
        using var noGrad = torch.no_grad();
        return (images + gradient.sign() * epsilon).clamp(0, 1).MoveToOuterDisposeScope();
    }
}

/// <summary>A synchronous IProgress (Progress&lt;T&gt; posts to the thread pool, so reports would arrive late).</summary>
internal sealed class ProgressLog<T> : IProgress<T>
{
    public List<T> Reports { get; } = new();
    public void Report(T value) => Reports.Add(value);
}

[TestClass]
public sealed class EvaluationProtocolTests
{
    private static ImageClassifierTransformer Classifier => EvaluationFixture.Classifier;

    /// <summary>Scores each image by the class the classifier predicts: lets a test see exactly which images were scored.</summary>
    private static EvaluatedDetector PredictedClassDetector() =>
        new("predicted-class", images =>
        {
            using var noGrad = torch.no_grad();
            return Array.ConvertAll(Classifier.Logits(images).argmax(1).cpu().data<long>().ToArray(), p => (float)p);
        }, Threshold: 0.5);

    /// <summary>1 − the top softmax probability: adversarial examples sit nearer the decision boundary.</summary>
    private static EvaluatedDetector UncertaintyDetector(double threshold) =>
        new("uncertainty", images =>
        {
            using var noGrad = torch.no_grad();
            var top = Classifier.Logits(images).softmax(1).max(1).values;
            return (1 - top).cpu().data<float>().ToArray();
        }, threshold);

    /// <summary>Roughly half of the test images fall to FGSM at this ε, so the filters have both kinds to sort.</summary>
    private const double HalfwayEpsilon = 0.22;

    private static int[] Predict(Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return Array.ConvertAll(Classifier.Logits(images).argmax(1).cpu().data<long>().ToArray(), v => (int)v);
    }

    [TestMethod]
    public void MiaedKeepsExactlyTheImagesClassifiedRightCleanAndNoisyAndWrongWhenAttacked()
    {
        var (images, labels) = EvaluationFixture.TestSet(30, 2);
        var y = EvaluationFixture.Labels(labels);
        // σ = 0 makes the noisy set equal to the clean one, so the kept set can be predicted exactly from outside.
        var options = new MiaedProtocolOptions { Dataset = "patterns", NoiseStandardDeviation = 0, BatchSize = 32 };

        var result = MiaedProtocol.Run(Classifier, new TestFgsm(HalfwayEpsilon), images, labels, PredictedClassDetector(), options);

        var clean = Predict(images);
        var adversarial = Predict(new TestFgsm(HalfwayEpsilon).Generate(Classifier, images, labels));
        var expectedKept = Enumerable.Range(0, y.Length).Where(i => clean[i] == y[i] && adversarial[i] != y[i]).ToArray();
        CollectionAssert.AreEqual(expectedKept, result.Samples.Select(s => s.Index).ToArray());
        Assert.IsTrue(expectedKept.Length > 0 && expectedKept.Length < y.Length, $"the test needs both kinds; kept {expectedKept.Length} of {y.Length}");
        Assert.AreEqual(clean.Zip(y).Count(p => p.First == p.Second), result.Row.Candidates);
        Assert.AreEqual(y.Length, result.Row.Evaluated);
        Assert.AreEqual(expectedKept.Length, result.Row.Kept);
    }

    [TestMethod]
    public void MiaedScoresKeptCleanAndNoisyImagesTheClassifierGetsRightAndAdversarialOnesItGetsWrong()
    {
        var (images, labels) = EvaluationFixture.TestSet(30, 3);
        var options = new MiaedProtocolOptions { NoiseStandardDeviation = 0.3, BatchSize = 40, Seed = 1 };   // strong noise: some noisy images fail

        var result = MiaedProtocol.Run(Classifier, new TestFgsm(HalfwayEpsilon), images, labels, PredictedClassDetector(), options);

        Assert.IsTrue(result.Samples.Count > 0);
        foreach (var sample in result.Samples)
        {
            // The detector's "score" is the class the classifier gave the very image it was handed.
            Assert.AreEqual(sample.Label, (int)sample.CleanScore, $"clean image {sample.Index}");
            Assert.AreEqual(sample.Label, (int)sample.NoisyScore, $"noisy image {sample.Index}");
            Assert.AreEqual(sample.AdversarialPrediction, (int)sample.AdversarialScore, $"adversarial image {sample.Index}");
            Assert.AreNotEqual(sample.Label, sample.AdversarialPrediction, $"adversarial image {sample.Index}");
        }
        Assert.AreEqual(0.3, result.Row.NoiseSigma);
        Assert.AreEqual(MiaedProtocol.GreyNoiseStandardDeviation,
                        MiaedProtocol.Run(Classifier, new TestFgsm(HalfwayEpsilon), images.narrow(0, 0, 3), labels.narrow(0, 0, 3), PredictedClassDetector()).Row.NoiseSigma,
                        "σ defaults to 0.1 for one-channel images");
    }

    [TestMethod]
    public void MiaedCountsEveryAdversarialExampleTwice()
    {
        var (images, labels) = EvaluationFixture.TestSet(30, 4);
        var probe = UncertaintyDetector(0);
        double threshold = ThresholdCalibration.ForFalsePositiveRate(probe.Score(images), 0.2);
        var detector = probe with { Threshold = threshold };

        var result = MiaedProtocol.Run(Classifier, new TestFgsm(HalfwayEpsilon), images, labels, detector, new() { Seed = 2 });

        int kept = result.Samples.Count;
        var counts = result.Detection.Counts;
        Assert.AreEqual(2L * kept, counts.Positives);
        Assert.AreEqual(2L * kept, counts.Negatives, "clean + noisy");
        int flaggedAdversarial = result.Samples.Count(s => s.AdversarialScore > threshold);
        int flaggedNegatives = result.Samples.Count(s => s.CleanScore > threshold) + result.Samples.Count(s => s.NoisyScore > threshold);
        Assert.AreEqual(new ConfusionCounts(2L * flaggedAdversarial, flaggedNegatives, 2L * kept - flaggedNegatives, 2L * (kept - flaggedAdversarial)), counts);
        int flaggedClean = result.Samples.Count(s => s.CleanScore > threshold), flaggedNoisy = flaggedNegatives - flaggedClean;
        Assert.AreEqual(1 - flaggedClean / (double)kept, result.Row.CleanSpecificity, 1e-12, "the clean versions' share of the specificity");
        Assert.AreEqual(1 - flaggedNoisy / (double)kept, result.Row.NoisySpecificity, 1e-12, "the noisy versions' share");
        Assert.AreEqual(result.Row.Specificity, (result.Row.CleanSpecificity + result.Row.NoisySpecificity) / 2, 1e-12, "equal halves of the negatives");

        // Doubling does not move the ROC curve: the AUC is that of the undoubled set.
        var scores = result.Samples.Select(s => s.CleanScore).Concat(result.Samples.Select(s => s.NoisyScore)).Concat(result.Samples.Select(s => s.AdversarialScore)).ToArray();
        var truth = Enumerable.Repeat(false, 2 * kept).Concat(Enumerable.Repeat(true, kept)).ToArray();
        Assert.AreEqual(RocCurve.Compute(scores, truth).Auc, result.Row.Auc, 1e-12);
        Assert.IsTrue(result.Row.Auc > 0.8, $"AEs near the boundary are uncertain: AUC {result.Row.Auc}");
        Assert.AreEqual(result.Detection.Accuracy, result.Row.Accuracy);
        Assert.AreEqual(result.Detection.Precision, result.Row.Precision);
        Assert.AreEqual(threshold, result.Row.Threshold);
    }

    [TestMethod]
    public void MixDefenseBalancesSuccessfulAdversarialExamplesWithTheirCleanImagesAndCountsAccRc()
    {
        var (images, labels) = EvaluationFixture.TestSet(30, 5);
        var y = EvaluationFixture.Labels(labels);
        var detector = UncertaintyDetector(0.05);
        var asked = new List<double>();
        var progress = new ProgressLog<EvaluationProgress>();
        double[] budgets = [0.1, HalfwayEpsilon, 0.3];

        var result = MixDefenseProtocol.Run(Classifier, e => { asked.Add(e); return new TestFgsm(e); }, budgets, images, labels, detector,
                                            new() { Dataset = "patterns", BatchSize = 50 }, progress);

        CollectionAssert.AreEqual(budgets, asked);
        Assert.AreEqual(3, result.Points.Count);
        foreach (var point in result.Points)
        {
            var successful = Enumerable.Range(0, y.Length)
                .Where(i => result.CleanPredictions[i] == y[i] && point.AdversarialPredictions[i] != y[i]).ToArray();
            CollectionAssert.AreEqual(successful, point.PairIndices.ToArray(), $"ε = {point.Row.Epsilon}");
            Assert.AreEqual(successful.Length, point.Row.Pairs);
            Assert.AreEqual((long)successful.Length, point.Detection.Counts.Positives, "half successful AEs...");
            Assert.AreEqual((long)successful.Length, point.Detection.Counts.Negatives, "...half their clean images");

            var c = point.Detection.Counts;
            if (successful.Length > 0) Assert.AreEqual((c.TruePositives + c.TrueNegatives) / (2.0 * successful.Length), point.Row.AccDetector, 1e-12);
            else Assert.IsTrue(double.IsNaN(point.Row.AccDetector), "no AE, no detector accuracy");

            // Acc_RC over the AEs of all images: detected, or else classified right.
            int handled = Enumerable.Range(0, y.Length).Count(i => point.AdversarialScores[i] > detector.Threshold || point.AdversarialPredictions[i] == y[i]);
            Assert.AreEqual(handled / (double)y.Length, point.Row.AccRc, 1e-12);
            Assert.AreEqual((long)y.Length, point.RobustClassifier.AdversarialExamples);
            Assert.AreEqual("linf", point.Row.Norm);
        }
        Assert.AreEqual(0, result.Points[0].Row.Pairs, "ε = 0.1 fools nothing here");
        Assert.AreEqual(1.0, result.Points[0].Row.AccRc, "nothing fooled: every AE is still classified right");
        Assert.IsTrue(result.Points[2].Row.Pairs > result.Points[1].Row.Pairs, "a larger budget fools more");

        Assert.AreEqual(4 * 2, progress.Reports.Count, "two batches per pass, clean pass + three budgets");
        Assert.AreEqual(4L * y.Length, progress.Reports[^1].ImagesTotal);
        Assert.AreEqual(1.0, progress.Reports[^1].Fraction);
        Assert.IsTrue(progress.Reports.Zip(progress.Reports.Skip(1)).All(p => p.First.ImagesDone < p.Second.ImagesDone));
    }

    [TestMethod]
    public void CmagReportsDetectionAccuracyPerIntensity()
    {
        var (images, labels) = EvaluationFixture.TestSet(20, 6);
        var detector = UncertaintyDetector(0.05);
        AttackIntensity[] intensities = [new("ε = 0.22", new TestFgsm(HalfwayEpsilon)), new("ε = 0.3", new TestFgsm(0.3))];

        var result = CmagProtocol.Run(Classifier, intensities, images, labels, detector, new() { Dataset = "patterns" });

        CollectionAssert.AreEqual(new[] { "ε = 0.22", "ε = 0.3" }, result.Rows.Select(r => r.Intensity).ToArray());
        for (int k = 0; k < 2; k++)
        {
            var row = result.Rows[k];
            Assert.AreEqual(result.Detection[k].Recall, row.DetectionAccuracy, "the share of successful AEs flagged");
            Assert.AreEqual(result.Detection[k].Accuracy, row.BalancedAccuracy);
            Assert.AreEqual(result.Detection[k].Counts.Positives, (long)row.Successful);
            Assert.AreEqual(result.Detection[k].Counts.Negatives, (long)row.Successful);
            Assert.AreEqual("FGSM", row.Attack);
            Assert.AreEqual(60, row.Evaluated);
        }
        Assert.IsTrue(result.Rows[1].Successful >= result.Rows[0].Successful);
    }

    [TestMethod]
    public void AeGanMeasuresAccuracyAfterPurificationAndDetectionByReconstructionError()
    {
        var (images, labels) = EvaluationFixture.TestSet(20, 7);
        var attack = new TestFgsm(HalfwayEpsilon);

        var identity = AeGanProtocol.Run(Classifier, attack, images, labels, x => x.alias(), options: new() { Dataset = "patterns", Method = "none" });
        Assert.AreEqual(identity.Row.UndefendedAccuracy, identity.Row.Accuracy, "purifying with the identity changes nothing");
        Assert.AreEqual(identity.Row.UndefendedCleanAccuracy, identity.Row.CleanAccuracy);
        Assert.IsTrue(identity.Row.UndefendedAccuracy < 1 && identity.Row.UndefendedCleanAccuracy == 1);
        Assert.IsNull(identity.Detection);
        Assert.IsTrue(double.IsNaN(identity.Row.DetectionAuc));

        // A "purifier" that maps every image to the same one: accuracy = the share of that image's class.
        using var blank = torch.zeros([1, 1, 28, 28]);
        int blankClass = Predict(blank)[0];
        var y = EvaluationFixture.Labels(labels);
        var flattening = AeGanProtocol.Run(Classifier, attack, images, labels, x => torch.zeros_like(x), options: new() { Method = "constant" });
        Assert.AreEqual(y.Count(l => l == blankClass) / (double)y.Length, flattening.Row.Accuracy, 1e-12);
        Assert.IsTrue(flattening.PurifiedAdversarialPredictions.All(p => p == blankClass));

        // A 3×3 box blur as the "autoencoder": FGSM's ±ε speckle is far from smooth.
        Func<Tensor, Tensor> blur = x => torch.nn.functional.avg_pool2d(x, [3, 3], stride: [1, 1], padding: [1, 1]);
        var detector = new EvaluatedDetector("blur-error", ReconstructionErrorScores.MeanSquared(blur), 0.01);
        var withDetection = AeGanProtocol.Run(Classifier, attack, images, labels, blur, detector);
        Assert.IsNotNull(withDetection.Detection);
        int successful = Enumerable.Range(0, y.Length).Count(i => identity.PurifiedAdversarialPredictions[i] != y[i]);
        Assert.AreEqual((long)successful, withDetection.Detection.Counts.Positives);
        Assert.AreEqual((long)successful, withDetection.Detection.Counts.Negatives);
        Assert.IsTrue(withDetection.Row.DetectionAuc > 0.8, $"AUC {withDetection.Row.DetectionAuc}");
        Assert.IsTrue(withDetection.Row.MsPerImage >= 0);

        CollectionAssert.AreEqual(new float[3], ReconstructionErrorScores.MeanAbsolute(x => x.alias())(images.narrow(0, 0, 3)));
    }

    [TestMethod]
    public void DetectorTransformersPlugInThroughADataView()
    {
        var (images, _) = EvaluationFixture.TestSet(4, 8);
        // A plain ML.NET transformer (CustomMapping over the [1, 28, 28] image column) stands in for a fitted detector.
        var ml = new Microsoft.ML.MLContext(1);
        var scorer = Microsoft.ML.CustomMappingCatalog.CustomMapping<MeanPixelInput, MeanPixelOutput>(ml.Transforms, (row, output) => output.MeanScore = row.Image.Average(), contractName: null)
            .Fit(ml.Data.LoadFromEnumerable(Array.Empty<MeanPixelInput>()));
        var detector = EvaluatedDetector.FromTransformer("mean", scorer, "MeanScore", threshold: 0.3);

        var scores = detector.Score(images);

        using var expected = images.flatten(1).mean([1]).cpu();
        var direct = expected.data<float>().ToArray();
        Assert.AreEqual(12, scores.Length);
        for (int i = 0; i < scores.Length; i++) Assert.AreEqual(direct[i], scores[i], 1e-6);
    }

    [TestMethod]
    public void ProtocolsFreeEveryTensorTheyCreate()
    {
        var (images, labels) = EvaluationFixture.TestSet(10, 9);
        var detector = UncertaintyDetector(0.1);
        using (var firstImages = images.narrow(0, 0, 2))
        using (var firstLabels = labels.narrow(0, 0, 2))
            _ = MiaedProtocol.Run(Classifier, new TestFgsm(HalfwayEpsilon), firstImages, firstLabels, detector);   // warm-up
        long before = LiveTensors.Count();

        MiaedProtocol.Run(Classifier, new TestFgsm(HalfwayEpsilon), images, labels, detector, new() { BatchSize = 8 });
        MixDefenseProtocol.Run(Classifier, e => new TestFgsm(e), [0.3], images, labels, detector, new() { BatchSize = 8 });
        CmagProtocol.Run(Classifier, [new("0.3", new TestFgsm(0.3))], images, labels, detector);
        AeGanProtocol.Run(Classifier, new TestFgsm(0.3), images, labels, x => x * 0.5, detector);

        Assert.AreEqual(before, LiveTensors.Count());
    }

    [TestMethod]
    public void BadInputsFailBeforeAnyWork()
    {
        var (images, labels) = EvaluationFixture.TestSet(2, 10);
        var attack = new TestFgsm(0.3);
        var detector = PredictedClassDetector();

        using var wrongShape = torch.zeros([6, 3, 28, 28]);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => MiaedProtocol.Run(Classifier, attack, wrongShape, labels, detector)).Message, "[N, 1, 28, 28]");
        using var tooFewLabels = labels.narrow(0, 0, 5);
        Assert.ThrowsExactly<ArgumentException>(() => CmagProtocol.Run(Classifier, [new("x", attack)], images, tooFewLabels, detector));
        using var badLabels = torch.full([6], 7, ScalarType.Int64);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => AeGanProtocol.Run(Classifier, attack, images, badLabels, x => x)).Message, "3-class");
        Assert.ThrowsExactly<ArgumentException>(() => MixDefenseProtocol.Run(Classifier, e => attack, [], images, labels, detector));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MixDefenseProtocol.Run(Classifier, e => attack, [0], images, labels, detector));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MiaedProtocol.Run(Classifier, attack, images, labels, detector, new() { BatchSize = 0 }));
        Assert.AreEqual(0, attack.Calls, "nothing was attacked");

        var miscounting = new EvaluatedDetector("short", x => new float[1], 0);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidOperationException>(() => CmagProtocol.Run(Classifier, [new("x", attack)], images, labels, miscounting)).Message, "1 scores for 6 images");

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var untouched = new TestFgsm(0.3);
        Assert.ThrowsExactly<OperationCanceledException>(() => MiaedProtocol.Run(Classifier, untouched, images, labels, detector, cancellationToken: cancelled.Token));
        Assert.AreEqual(0, untouched.Calls);
    }

    /// <summary>The adapter test's detector reads this row (the image column)…</summary>
    private sealed class MeanPixelInput
    {
        [Microsoft.ML.Data.VectorType(1, 28, 28)]
        public float[] Image { get; set; } = [];
    }

    /// <summary>…and adds this one: the mean pixel of each image as its score.</summary>
    private sealed class MeanPixelOutput
    {
        public float MeanScore { get; set; }
    }
}

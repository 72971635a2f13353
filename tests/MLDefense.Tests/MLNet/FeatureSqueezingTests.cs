using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Attacks;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Defenses;

namespace MLDefense.Tests.MLNet;

/// <summary>
/// Feature Squeezing (Xu et al., NDSS 2018): the squeezers and the score against their definitions, the ML.NET workout with a
/// fresh-process load, bad input, and detection of FGSM examples on MNIST with a briefly trained C1.
/// </summary>
[TestClass]
public sealed class FeatureSqueezingTests
{
    internal sealed class DigitRow
    {
        [VectorType(1, 28, 28)]
        public float[] Image { get; set; } = [];
        /// <summary>The class 0..9 (the classifier takes Int32 class labels).</summary>
        public int Label { get; set; }
    }

    private sealed class ColourRow
    {
        [VectorType(3, 28, 28)]
        public float[] Image { get; set; } = [];
    }

    /// <summary>C1 trained 2 epochs on 600 MNIST images, with the first 600 training and 100 test rows materialised.</summary>
    internal static readonly Lazy<(MLContext Ml, ImageClassifierTransformer Classifier, DigitRow[] Train, DigitRow[] Test)> Fixture = new(() =>
    {
        var ml = new MLContext(seed: 1);
        DigitRow[] Rows(bool train, int count)
        {
            var view = TestViews.Known("mnist", train, count);
            var images = view.GetColumn<float[]>("Image").ToArray();
            var labels = TestViews.Classes(view);
            return images.Select((image, i) => new DigitRow { Image = image, Label = labels[i] }).ToArray();
        }
        var trainRows = Rows(true, 600);
        var classifier = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            Architecture = ClassifierArchitecture.MnistC1, Epochs = 2, BatchSize = 32, Seed = 3,
        }).Fit(ml.Data.LoadFromEnumerable(trainRows));
        return (ml, classifier, trainRows, Rows(false, 100));
    });

    [TestMethod]
    public void BitDepthReductionRoundsToTheLevelsOfTheDefinition()
    {
        float[] values = [0f, 0.2f, 0.49f, 0.5f, 0.51f, 0.8f, 1f, 0.0161f, 0.5161f];
        using var x = torch.tensor(values, [1, 1, 1, values.Length]);
        using var one = FeatureSqueezers.ReduceBitDepth(x, 1);
        // 1 bit: rint(x) — 0.5 rounds half to even (0), as NumPy's rint.
        CollectionAssert.AreEqual(new[] { 0f, 0f, 0f, 0f, 1f, 1f, 1f, 0f, 1f }, one.data<float>().ToArray());
        using var five = FeatureSqueezers.ReduceBitDepth(x, 5);
        var expected = values.Select(v => (float)(Math.Round(v * 31.0, MidpointRounding.ToEven) / 31.0)).ToArray();
        var actual = five.data<float>().ToArray();
        for (int i = 0; i < values.Length; i++) Assert.AreEqual(expected[i], actual[i], 1e-6f, $"value {values[i]}");
        Assert.AreEqual(32, Enumerable.Range(0, 1001).Select(i => i / 1000f).Select(v =>
        {
            using var t = FeatureSqueezers.ReduceBitDepth(torch.tensor(new[] { v }, [1, 1, 1, 1]), 5);
            return t.item<float>();
        }).Distinct().Count(), "5 bits leave 32 levels");
    }

    /// <summary>SciPy's median_filter(size=k, mode) written out: window offsets −⌊k/2⌋..k−1−⌊k/2⌋, edge repeated, sorted element ⌊k²/2⌋.</summary>
    private static float[] ReferenceMedian(float[] image, int channels, int height, int width, int k)
    {
        var result = new float[image.Length];
        int lo = -(k / 2);
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    var window = new List<float>();
                    for (int dy = lo; dy < lo + k; dy++)
                        for (int dx = lo; dx < lo + k; dx++)
                        {
                            int yy = Math.Clamp(y + dy, 0, height - 1), xx = Math.Clamp(x + dx, 0, width - 1);
                            window.Add(image[(c * height + yy) * width + xx]);
                        }
                    window.Sort();
                    result[(c * height + y) * width + x] = window[k * k / 2];
                }
        return result;
    }

    [TestMethod]
    [DataRow(2)]
    [DataRow(3)]
    public void MedianSmoothingMatchesTheWrittenOutFilter(int k)
    {
        var random = new Random(5);
        int n = 2, c = 3, h = 7, w = 6;
        var pixels = Enumerable.Range(0, n * c * h * w).Select(_ => random.NextSingle()).ToArray();
        using var images = torch.tensor(pixels, [n, c, h, w]);
        using var smoothed = FeatureSqueezers.MedianSmooth(images, k);
        CollectionAssert.AreEqual(new long[] { n, c, h, w }, smoothed.shape);
        var actual = smoothed.data<float>().ToArray();
        int size = c * h * w;
        for (int i = 0; i < n; i++)
            CollectionAssert.AreEqual(ReferenceMedian(pixels[(i * size)..((i + 1) * size)], c, h, w, k), actual[(i * size)..((i + 1) * size)], $"image {i}, k = {k}");
        // A 2x2 window around (y, x) covers y-1..y, x-1..x: a single bright pixel survives nowhere (upper median of 1 bright among 4 is dark).
        var dot = new float[h * w];
        dot[3 * w + 3] = 1;
        using var smoothDot = FeatureSqueezers.MedianSmooth(torch.tensor(dot, [1, 1, h, w]), 2);
        Assert.AreEqual(0f, smoothDot.max().item<float>(), "an isolated pixel is removed");
    }

    [TestMethod]
    public void ScoreIsTheLargestL1DistanceOfTheSoftmaxes()
    {
        var (_, classifier, train, _) = Fixture.Value;
        var pixels = train.Take(8).SelectMany(r => r.Image).ToArray();
        using var scope = torch.NewDisposeScope();
        var images = torch.tensor(pixels, [8, 1, 28, 28]);
        var score = FeatureSqueezers.Score(classifier, images, bitDepth: 1, medianWindow: 2).data<float>().ToArray();

        float[] Softmax(Tensor x)
        {
            using var _ = torch.no_grad();
            return classifier.Logits(x).softmax(1).data<float>().ToArray();
        }
        var p0 = Softmax(images);
        var p1 = Softmax(FeatureSqueezers.ReduceBitDepth(images, 1));
        var p2 = Softmax(FeatureSqueezers.MedianSmooth(images, 2));
        for (int i = 0; i < 8; i++)
        {
            double d1 = 0, d2 = 0;
            for (int k = 0; k < 10; k++)
            {
                d1 += Math.Abs(p0[i * 10 + k] - p1[i * 10 + k]);
                d2 += Math.Abs(p0[i * 10 + k] - p2[i * 10 + k]);
            }
            Assert.AreEqual(Math.Max(d1, d2), score[i], 1e-5, $"image {i}");
        }
        var onlyBits = FeatureSqueezers.Score(classifier, images, bitDepth: 1, medianWindow: 0).data<float>().ToArray();
        Assert.IsTrue(onlyBits.Zip(score).All(p => p.First <= p.Second + 1e-6f), "one squeezer's distance is at most the joint score");
        Assert.ThrowsExactly<ArgumentException>(() => FeatureSqueezers.Score(classifier, images, 0, 0));
    }

    [TestMethod]
    public void WorksOutOnRealMLNetIncludingAFreshProcess()
    {
        var (ml, classifier, trainRows, testRows) = Fixture.Value;
        var train = ml.Data.LoadFromEnumerable(trainRows.Take(300));
        var test = ml.Data.LoadFromEnumerable(testRows.Take(40));
        var scaled = ml.Data.LoadFromEnumerable(trainRows.Take(30).Select(r => new DigitRow { Image = r.Image.Select(p => p * 255).ToArray() }));
        var colour = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 30).Select(_ => new ColourRow { Image = new float[3 * 28 * 28] }));
        var few = ml.Data.LoadFromEnumerable(trainRows.Take(10));
        var (model, output) = MLNetWorkout.Run(ml, ml.Transforms.Defenses.FeatureSqueezing(classifier), train, test,
        [
            new("a missing image column", ml.Data.LoadFromEnumerable(new[] { new { Other = 1f } }), "'Image'"),
            new("pixels in 0-255", scaled, "scaleImage", SchemaProblem: false),
            new("colour images for a grey classifier", colour, "3 channels instead of 1", SchemaProblem: false),
            new("too few images to calibrate", few, "at least 20", SchemaProblem: false),
        ]);
        using (model)
        {
            Assert.AreEqual(1, model.Calibration.BitDepth, "grey images get Xu et al.'s 1-bit squeezer");
            Assert.AreEqual(2, model.Calibration.MedianWindow);
            Assert.IsTrue(model.Calibration.TrainingFalsePositiveRate <= 0.05, $"training FPR {model.Calibration.TrainingFalsePositiveRate}");
            var scores = output.GetColumn<float>("FeatureSqueezingScore").ToArray();
            CollectionAssert.AreEqual(scores.Select(s => s > model.Threshold).ToArray(), output.GetColumn<bool>("FeatureSqueezingFlag").ToArray());
            Assert.IsTrue(scores.All(s => s >= 0 && s <= 2), "L1 distances of two probability vectors lie in [0, 2]");

            // The tensor API gives the cursor's scores.
            using var images = torch.tensor(testRows.Take(40).SelectMany(r => r.Image).ToArray(), [40, 1, 28, 28]);
            using var direct = model.Score(images);
            CollectionAssert.AreEqual(scores, direct.data<float>().ToArray());
        }
    }

    [TestMethod]
    public void OptionsAreCheckedWhenTheEstimatorIsMade()
    {
        var (ml, classifier, _, _) = Fixture.Value;
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.Defenses.FeatureSqueezing(classifier, new FeatureSqueezingOptions { BitDepth = 9 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.Defenses.FeatureSqueezing(classifier, targetFalsePositiveRate: 1));
        var none = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.Defenses.FeatureSqueezing(classifier, new FeatureSqueezingOptions { BitDepth = 0, MedianWindow = 0 }));
        StringAssert.Contains(none.Message, "at least one squeezer");
        Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.Defenses.FeatureSqueezing(classifier, scoreColumnName: "X", flagColumnName: "X"));
    }

    [TestMethod]
    public void FitReportsProgressAndStopsWhenCancelled()
    {
        var (ml, classifier, trainRows, _) = Fixture.Value;
        var data = ml.Data.LoadFromEnumerable(trainRows.Take(300));
        var reports = new List<(long Scored, long? Total)>();
        using (ml.Transforms.Defenses.FeatureSqueezing(classifier, new FeatureSqueezingOptions { Progress = new Classifiers.ImageClassifierTestData.Recorder<(long, long?)>(reports.Add) }).Fit(data)) { }
        CollectionAssert.AreEqual(new long[] { 256, 300 }, reports.Select(r => r.Scored).ToArray(), "one report per batch of 256");
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.Transforms.Defenses.FeatureSqueezing(classifier, new FeatureSqueezingOptions { CancellationToken = cancel.Token }).Fit(data));
    }

    [TestMethod]
    public void FlagsFgsmExamplesFarMoreOftenThanCleanImages()
    {
        var (ml, classifier, trainRows, testRows) = Fixture.Value;
        using var model = ml.Transforms.Defenses.FeatureSqueezing(classifier).Fit(ml.Data.LoadFromEnumerable(trainRows));
        using var scope = torch.NewDisposeScope();
        var images = torch.tensor(testRows.SelectMany(r => r.Image).ToArray(), [testRows.Length, 1, 28, 28]);
        var labels = torch.tensor(testRows.Select(r => (long)r.Label).ToArray());
        var adversarial = new FastGradientAttack(new() { Epsilon = 0.3, Norm = AttackNorm.Linf }).Generate(classifier, images, labels);
        var clean = model.Score(images).data<float>().ToArray();
        var attacked = model.Score(adversarial).data<float>().ToArray();
        double cleanRate = clean.Count(s => s > model.Threshold) / (double)clean.Length;
        double attackedRate = attacked.Count(s => s > model.Threshold) / (double)attacked.Length;
        Assert.IsTrue(cleanRate <= 0.15, $"clean test FPR {cleanRate:P1}");
        Assert.IsTrue(attackedRate >= cleanRate + 0.3, $"FGSM eps 0.3 flagged {attackedRate:P1} vs clean {cleanRate:P1}");
    }
}

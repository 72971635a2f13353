using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Attacks;
using MLDefense.Classifiers;
using MLDefense.Defenses;
using MLDefense.Tests;

namespace MLDefense.Tests.MLNet;

/// <summary>
/// CMAG as a real ML.NET component behind MLDefense's image classifier (its FeatureMap and Score columns): the workout with a
/// fresh-process load, bad input at Fit and at Transform, damaged zips, Alg. 2's rule on the training images, detection of FGSM
/// examples, and a resumed checkpoint.
/// </summary>
[TestClass]
public sealed class CmagMLNetTests
{
    /// <summary>A classified MNIST row: the image, its label key, and what the C1 classifier made of it.</summary>
    internal sealed class ClassifiedRow
    {
        [VectorType(1, 28, 28)]
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }
        [VectorType(64, 11, 11)]
        public float[] FeatureMap { get; set; } = [];
        [VectorType(10)]
        public float[] Score { get; set; } = [];
    }

    private sealed class DigitRow
    {
        [VectorType(1, 28, 28)]
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }
    }

    /// <summary>Small networks, a few epochs: the whole class runs in seconds on two cores.</summary>
    internal static CmagOptions Tiny => new()
    {
        FmrChannels = 8, LrHiddenUnits = 64, GrChannels = 8, ReconstructorEpochs = 4, GlobalReconstructorEpochs = 4,
        BatchSize = 50, InferenceBatchSize = 64, Seed = 1,
    };

    private const int TrainRows = 500, TestRows = 100;

    /// <summary>C1 trained briefly on MNIST with a feature-map column, and its outputs on train and test images, materialised.</summary>
    private static readonly Lazy<(MLContext Ml, ImageClassifierTransformer Classifier, ClassifiedRow[] Train, ClassifiedRow[] Test)> Fixture = new(() =>
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.TakeRows(ml.Data.LoadKnownDataset("mnist", train: true), TrainRows);
        var test = ml.Data.TakeRows(ml.Data.LoadKnownDataset("mnist", train: false), TestRows);
        var classifier = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            Architecture = ClassifierArchitecture.MnistC1, Epochs = 3, BatchSize = 32, Seed = 3, FeatureMapColumnName = "FeatureMap",
        }).Fit(train);
        ClassifiedRow[] Classify(IDataView view) => ml.Data.CreateEnumerable<ClassifiedRow>(classifier.Transform(view), reuseRowObject: false).ToArray();
        return (ml, classifier, Classify(train), Classify(test));
    });

    private static IDataView View(MLContext ml, IEnumerable<ClassifiedRow> rows) => ml.Data.LoadFromEnumerable(rows);

    [TestMethod]
    public void WorksOutOnRealMLNetIncludingAFreshProcess()
    {
        var (ml, _, trainRows, testRows) = Fixture.Value;
        var train = View(ml, trainRows);
        var test = View(ml, testRows.Take(40));
        var scaled = View(ml, trainRows.Take(30).Select(r => new ClassifiedRow { Image = r.Image.Select(p => p * 255).ToArray(), FeatureMap = r.FeatureMap, Score = r.Score }));
        var (model, output) = MLNetWorkout.Run(ml, ml.Transforms.Defenses.Cmag(Tiny with { ReconstructionColumnName = "CmagReconstruction" }), train, test,
        [
            new("no feature-map column", ml.Transforms.DropColumns("FeatureMap").Fit(train).Transform(train), "ImageClassifierOptions.FeatureMapColumnName"),
            new("no probabilities column", ml.Transforms.DropColumns("Score").Fit(train).Transform(train), "'Score'"),
            new("pixels in 0-255", scaled, "scaleImage", SchemaProblem: false),
        ]);
        using (model)
        {
            Assert.AreEqual("Vector<Single, 1, 28, 28>", output.Schema["CmagReconstruction"].Type.ToString(), "the reconstruction is an image column of the input's type");
            var ssim = output.GetColumn<float>("CmagSsim").ToArray();
            var l2 = output.GetColumn<float>("CmagL2").ToArray();
            var scores = output.GetColumn<float>("CmagScore").ToArray();
            var flags = output.GetColumn<bool>("CmagFlag").ToArray();
            for (int i = 0; i < ssim.Length; i++)
            {
                Assert.IsTrue(ssim[i] is > -1 and <= 1 && l2[i] >= 0, $"row {i}: SSIM {ssim[i]}, L2 {l2[i]}");
                Assert.AreEqual(ssim[i] < model.Info.SsimThreshold || l2[i] > model.Info.L2Threshold, flags[i], $"row {i}: the flag is Alg. 2's rule");
                Assert.AreEqual(flags[i], scores[i] > 1, $"row {i}: score {scores[i]} > 1 exactly when Alg. 2 flags");
            }
            // The reconstruction column is the x′ the L2 column measures.
            var images = output.GetColumn<VBuffer<float>>("Image").Select(v => v.DenseValues().ToArray()).ToArray();
            var reconstructions = output.GetColumn<VBuffer<float>>("CmagReconstruction").Select(v => v.DenseValues().ToArray()).ToArray();
            for (int i = 0; i < 5; i++)
            {
                double norm = Math.Sqrt(images[i].Zip(reconstructions[i], (a, b) => (double)(a - b) * (a - b)).Sum());
                Assert.AreEqual(l2[i], norm, 1e-3, $"row {i}: L2 of the reconstruction column");
            }
            Assert.IsTrue(model.Info.CalibrationImageCount == 50 && model.Info.TrainingImageCount == 450, model.Info.ToString());
            Assert.IsTrue(model.Info.FmrLoss is > 0 and < 1 && model.Info.GrLoss is > 0 and < 1, model.Info.ToString());
        }
    }

    [TestMethod]
    public void TheFittedDetectorRejectsAnotherClassCountFeatureMapOrImageSize()
    {
        var (ml, _, trainRows, _) = Fixture.Value;
        using var model = ml.Transforms.Defenses.Cmag(Tiny with { ReconstructorEpochs = 1, GlobalReconstructorEpochs = 1 }).Fit(View(ml, trainRows.Take(100)));
        var fiveClasses = ml.Data.LoadFromEnumerable(trainRows.Take(3).Select(r => new FiveClassRow { Image = r.Image, FeatureMap = r.FeatureMap, Score = r.Score[..5] }));
        var error = Assert.ThrowsExactly<ArgumentException>(() => model.GetOutputSchema(fiveClasses.Schema));
        StringAssert.Contains(error.Message, "'Score'");
        StringAssert.Contains(error.Message, "fitted on 10 classes");
        error = Assert.ThrowsExactly<ArgumentException>(() => model.Transform(fiveClasses));
        StringAssert.Contains(error.Message, "fitted on 10 classes");

        var otherMap = ml.Data.LoadFromEnumerable(trainRows.Take(3).Select(r => new OtherMapRow { Image = r.Image, FeatureMap = r.FeatureMap[..(32 * 11 * 11)], Score = r.Score }));
        error = Assert.ThrowsExactly<ArgumentException>(() => model.GetOutputSchema(otherMap.Schema));
        StringAssert.Contains(error.Message, "'FeatureMap'");
        StringAssert.Contains(error.Message, "[64, 11, 11]");

        var otherSize = ml.Data.LoadFromEnumerable(trainRows.Take(3).Select(r => new OtherSizeRow { Image = new float[3 * 32 * 32], FeatureMap = r.FeatureMap, Score = r.Score }));
        error = Assert.ThrowsExactly<ArgumentException>(() => model.GetOutputSchema(otherSize.Schema));
        StringAssert.Contains(error.Message, "'Image'");
        StringAssert.Contains(error.Message, "1x28x28");
    }

    [TestMethod]
    public void AnMLNetTrainersOutputIsRejectedNamingWhatCmagNeeds()
    {
        var (ml, _, trainRows, _) = Fixture.Value;
        var digits = ml.Data.LoadFromEnumerable(trainRows.Take(100).Select(r => new DigitRow { Image = r.Image, Label = r.Label }));
        var lbfgs = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new Microsoft.ML.Trainers.LbfgsMaximumEntropyMulticlassTrainer.Options
            {
                LabelColumnName = "LabelKey", FeatureColumnName = "Image", MaximumNumberOfIterations = 5, NumberOfThreads = 1,
            })).Fit(digits).Transform(digits);
        var estimator = ml.Transforms.Defenses.Cmag(Tiny);
        var error = Assert.ThrowsExactly<ArgumentException>(() => estimator.GetOutputSchema(MLDefense.MLNet.SchemaShapes.From(lbfgs.Schema)));
        StringAssert.Contains(error.Message, "'FeatureMap'");
        StringAssert.Contains(error.Message, "ML.NET's own trainers emit no feature map");
        error = Assert.ThrowsExactly<ArgumentException>(() => estimator.Fit(lbfgs));
        StringAssert.Contains(error.Message, "FeatureMapColumnName");
    }

    [TestMethod]
    public void AlgorithmTwosThresholdsFlagNoTrainingImage()
    {
        // One image per inference batch, so Transform computes every row exactly as Fit did, whatever rows surround it.
        var (ml, _, trainRows, _) = Fixture.Value;
        var train = View(ml, trainRows);
        using var model = ml.Transforms.Defenses.Cmag(Tiny with { InferenceBatchSize = 1 }).Fit(train);
        var info = model.Info;
        Assert.AreEqual(0.0, info.PaperRuleTrainingFalsePositiveRate, "Alg. 2's rule flags none of the images its thresholds come from");
        var output = model.Transform(train);
        var ssim = output.GetColumn<float>("CmagSsim").ToArray();
        var l2 = output.GetColumn<float>("CmagL2").ToArray();
        int flagged = output.GetColumn<bool>("CmagFlag").Count(f => f);
        // The held-out rows are the only ones that may be flagged: the count over all Fit's rows is exactly theirs.
        int heldOutFlagged = (int)Math.Round(info.PaperRuleCalibrationFalsePositiveRate * info.CalibrationImageCount);
        Assert.AreEqual(heldOutFlagged, flagged, $"flags over all {ssim.Length} rows vs over the {info.CalibrationImageCount} held out ({info})");
        Assert.IsTrue(ssim.Contains(info.SsimThreshold) && l2.Contains(info.L2Threshold), "Thr_SSIM and Thr_L2 are values some training image reaches");
        Assert.IsTrue(heldOutFlagged < info.CalibrationImageCount, "the thresholds do not flag every new clean image");
    }

    [TestMethod]
    public void FlagsFgsmExamplesMoreOftenThanCleanImages()
    {
        var (ml, classifier, trainRows, testRows) = Fixture.Value;
        // The calibrated rule (10% of the held-out clean rows): after so short a training, Alg. 2's extremes sit on the worst training
        // reconstruction and flag almost nothing, clean or adversarial (measured: 0% and 0–6%).
        using var model = ml.Transforms.Defenses.Cmag(Tiny with
        {
            ReconstructorEpochs = 12, GlobalReconstructorEpochs = 12, FmrChannels = 16, GrChannels = 16, LrHiddenUnits = 128,
            DetectionRule = CmagDetectionRule.CalibratedFalsePositiveRate, TargetFalsePositiveRate = 0.1,
        }).Fit(View(ml, trainRows));
        float[] pixels = testRows.SelectMany(r => r.Image).ToArray();
        using var images = torch.tensor(pixels, [testRows.Length, 1, 28, 28]);
        using var labels = torch.tensor(testRows.Select(r => (long)r.Label - 1).ToArray(), [testRows.Length]);
        using var adversarial = new FastGradientAttack(new FastGradientOptions { Epsilon = 0.3 }).Generate(classifier, images, labels);
        var adversarialPixels = adversarial.contiguous().data<float>().ToArray();
        var adversarialRows = Enumerable.Range(0, testRows.Length).Select(i => new DigitRow { Image = adversarialPixels[(i * 784)..((i + 1) * 784)], Label = testRows[i].Label });

        var clean = model.Transform(View(ml, testRows));
        var attacked = model.Transform(classifier.Transform(ml.Data.LoadFromEnumerable(adversarialRows)));
        double cleanFlagged = clean.GetColumn<bool>("CmagFlag").Average(f => f ? 1.0 : 0.0);
        double attackedFlagged = attacked.GetColumn<bool>("CmagFlag").Average(f => f ? 1.0 : 0.0);
        double cleanL2 = clean.GetColumn<float>("CmagL2").Average(), attackedL2 = attacked.GetColumn<float>("CmagL2").Average();
        Assert.IsTrue(attackedFlagged >= cleanFlagged + 0.3, $"FGSM ε = 0.3 examples flagged {attackedFlagged:P0}, clean test images {cleanFlagged:P0} ({model.Info})");
        Assert.IsTrue(cleanFlagged <= 0.25, $"the calibrated rule (10% of held-out clean rows) flags {cleanFlagged:P0} of the clean test images");
        Assert.IsTrue(attackedL2 > cleanL2, $"Table 7's ordering: legitimate L2 {cleanL2:F3} below adversarial {attackedL2:F3}");
    }

    [TestMethod]
    public void DamagedModelsFailToLoadNamingTheProblem()
    {
        var (ml, _, trainRows, _) = Fixture.Value;
        var data = View(ml, trainRows.Take(100));
        using var model = ml.Transforms.Defenses.Cmag(Tiny with { ReconstructorEpochs = 1, GlobalReconstructorEpochs = 1 }).Fit(data);
        string folder = Directory.CreateTempSubdirectory("mldefense-cmag-").FullName;
        try
        {
            string zip = Path.Combine(folder, "cmag.zip");
            ml.Model.Save(model, data.Schema, zip);

            string flipped = DamagedModels.Rewrite(zip, "flipped", (name, bytes) =>
            {
                if (!name.EndsWith("gr.safetensors", StringComparison.Ordinal)) return null;
                var copy = bytes.ToArray();
                copy[^3] ^= 0x40;
                return copy;
            });
            var messages = DamagedModels.Messages(DamagedModels.LoadFails(flipped));
            StringAssert.Contains(messages, "CMAG detector");
            StringAssert.Contains(messages, "checksum");

            string impossible = DamagedModels.Rewrite(zip, "impossible", (name, bytes) => name.EndsWith("model.json", StringComparison.Ordinal)
                ? System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(bytes).Replace("\"ClassCount\": 10", "\"ClassCount\": 1")) : null);
            messages = DamagedModels.Messages(DamagedModels.LoadFails(impossible));
            StringAssert.Contains(messages, "class count 1");

            string badOption = DamagedModels.Rewrite(zip, "bad-option", (name, bytes) => name.EndsWith("options.json", StringComparison.Ordinal)
                ? System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(bytes).Replace("\"Temperature\": 0.001", "\"Temperature\": -1")) : null);
            messages = DamagedModels.Messages(DamagedModels.LoadFails(badOption));
            StringAssert.Contains(messages, "CmagOptions.Temperature");

            string emptied = DamagedModels.Rewrite(zip, "emptied", (name, bytes) => name.EndsWith("lr.safetensors", StringComparison.Ordinal) ? [] : null);
            messages = DamagedModels.Messages(DamagedModels.LoadFails(emptied));
            StringAssert.Contains(messages, "lr.safetensors");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed class CancelAfter(CancellationTokenSource source, int epochs) : IProgress<CmagTrainingProgress>
    {
        private int completed;
        public void Report(CmagTrainingProgress value)
        {
            if (value.EpochCompleted && ++completed == epochs) source.Cancel();
        }
    }

    [TestMethod]
    public void ACancelledFitResumesFromItsCheckpointBitForBit()
    {
        var (ml, _, trainRows, testRows) = Fixture.Value;
        var train = View(ml, trainRows.Take(200));
        var test = View(ml, testRows.Take(30));
        var options = Tiny with { ReconstructorEpochs = 2, GlobalReconstructorEpochs = 2 };
        float[] Ssim(CmagTransformer m) => m.Transform(test).GetColumn<float>("CmagSsim").ToArray();
        float[] uninterrupted;
        using (var model = ml.Transforms.Defenses.Cmag(options).Fit(train)) uninterrupted = Ssim(model);

        string folder = Directory.CreateTempSubdirectory("mldefense-cmag-checkpoint-").FullName;
        try
        {
            string path = Path.Combine(folder, "cmag.checkpoint");
            // Stopped after the first GR epoch (epoch 3 of 4), then resumed.
            using var stop = new CancellationTokenSource();
            Assert.ThrowsExactly<OperationCanceledException>(() => ml.Transforms.Defenses.Cmag(options with
            {
                CheckpointPath = path, Progress = new CancelAfter(stop, 3), CancellationToken = stop.Token,
            }).Fit(train));
            Assert.IsTrue(File.Exists(path), "the checkpoint of the last completed epoch stays");
            using var resumed = ml.Transforms.Defenses.Cmag(options with { CheckpointPath = path }).Fit(train);
            CollectionAssert.AreEqual(uninterrupted, Ssim(resumed), "a resumed Fit ends where an uninterrupted one does");
            Assert.IsFalse(File.Exists(path), "the checkpoint is deleted once fitted");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed class CmagOutput
    {
        public float CmagSsim { get; set; }
        public float CmagScore { get; set; }
        public bool CmagFlag { get; set; }
    }

    [TestMethod]
    public void PredictionEngineScoresOneRowAsTheDataViewDoes()
    {
        var (ml, _, trainRows, testRows) = Fixture.Value;
        using var model = ml.Transforms.Defenses.Cmag(Tiny with { ReconstructorEpochs = 1, GlobalReconstructorEpochs = 1, InferenceBatchSize = 1 })
            .Fit(View(ml, trainRows.Take(100)));
        var batch = ml.Data.CreateEnumerable<CmagOutput>(model.Transform(View(ml, testRows.Take(5))), reuseRowObject: false).ToArray();
        using var engine = ml.Model.CreatePredictionEngine<ClassifiedRow, CmagOutput>(model);
        for (int i = 0; i < 5; i++)
        {
            var one = engine.Predict(testRows[i]);
            Assert.AreEqual(batch[i].CmagSsim, one.CmagSsim, $"row {i}");
            Assert.AreEqual(batch[i].CmagScore, one.CmagScore, $"row {i}");
            Assert.AreEqual(batch[i].CmagFlag, one.CmagFlag, $"row {i}");
        }
    }

    [TestMethod]
    public void FitTransformAndACancelledFitLeaveNoTensorAlive()
    {
        var (ml, _, trainRows, testRows) = Fixture.Value;
        var train = View(ml, trainRows.Take(100));
        var test = View(ml, testRows.Take(10));
        var options = Tiny with { ReconstructorEpochs = 1, GlobalReconstructorEpochs = 1, ReconstructionColumnName = "CmagReconstruction" };
        long before = LiveTensors.Count();
        using (var model = ml.Transforms.Defenses.Cmag(options).Fit(train))
            Assert.AreEqual(10, model.Transform(test).GetColumn<float>("CmagScore").Count());
        Assert.AreEqual(before, LiveTensors.Count(), "Fit, Transform and Dispose free every tensor they made");
        using var stop = new CancellationTokenSource();
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.Transforms.Defenses.Cmag(options with
        {
            ReconstructorEpochs = 3, Progress = new CancelAfter(stop, 1), CancellationToken = stop.Token,
        }).Fit(train));
        Assert.AreEqual(before, LiveTensors.Count(), "a cancelled Fit frees every network and tensor it built");
    }

    private sealed class FiveClassRow
    {
        [VectorType(1, 28, 28)] public float[] Image { get; set; } = [];
        [VectorType(64, 11, 11)] public float[] FeatureMap { get; set; } = [];
        [VectorType(5)] public float[] Score { get; set; } = [];
    }

    private sealed class OtherMapRow
    {
        [VectorType(1, 28, 28)] public float[] Image { get; set; } = [];
        [VectorType(32, 11, 11)] public float[] FeatureMap { get; set; } = [];
        [VectorType(10)] public float[] Score { get; set; } = [];
    }

    private sealed class OtherSizeRow
    {
        [VectorType(3, 32, 32)] public float[] Image { get; set; } = [];
        [VectorType(64, 11, 11)] public float[] FeatureMap { get; set; } = [];
        [VectorType(10)] public float[] Score { get; set; } = [];
    }
}

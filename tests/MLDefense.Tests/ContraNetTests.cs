using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Classifiers;
using MLDefense.Defenses;
using MLDefense.Tests.MLNet;

namespace MLDefense.Tests;

/// <summary>
/// ContraNet (MixDefense's SP-defense layer) as a real ML.NET component behind MLDefense's image classifier: the workout with a fresh-process
/// load, bad input at Fit (too few images per class, labels the classifier never emits, a Score of the wrong length), what the cGAN and the
/// metric model learn (the held-out reconstruction improves, Dist and the triplet loss fall), a resumed checkpoint,
/// cancellation without leaked tensors, and the row-to-row mapper.
/// </summary>
[TestClass]
public sealed class ContraNetTests
{
    /// <summary>A classified MNIST row: the image, its class 0..9 (Int32), and the C1 classifier's probabilities.</summary>
    internal sealed class Row
    {
        [VectorType(1, 28, 28)]
        public float[] Image { get; set; } = [];
        public int Label { get; set; }
        [VectorType(10)]
        public float[] Score { get; set; } = [];
    }

    private sealed class ClassifierOutput
    {
        [VectorType(1, 28, 28)]
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }
        [VectorType(10)]
        public float[] Score { get; set; } = [];
    }

    /// <summary>Small networks, one epoch per stage: a Fit takes a few seconds on two cores.</summary>
    internal static ContraNetOptions Tiny => new()
    {
        LatentSize = 16, GeneratorWidth = 8, DiscriminatorWidth = 8, MetricWidth = 8, GanEpochs = 1, MetricEpochs = 1,
        BatchSize = 64, MetricBatchSize = 64, NegativesPerAnchor = 2, MinimumImagesPerClass = 2, InferenceBatchSize = 64, Seed = 1,
    };

    private const int TrainRows = 600, TestRows = 150;

    internal static readonly Lazy<(MLContext Ml, ImageClassifierTransformer Classifier, Row[] Train, Row[] Test)> Fixture = new(() =>
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.TakeRows(ml.Data.LoadKnownDataset("mnist", train: true), TrainRows);
        var test = ml.Data.TakeRows(ml.Data.LoadKnownDataset("mnist", train: false), TestRows);
        var classifier = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            Architecture = ClassifierArchitecture.MnistC1, Epochs = 3, BatchSize = 32, Seed = 3,
        }).Fit(train);
        // CreateEnumerable reads a key's raw value (class c is key c + 1).
        Row[] Classify(IDataView view) => ml.Data.CreateEnumerable<ClassifierOutput>(classifier.Transform(view), reuseRowObject: false)
            .Select(r => new Row { Image = r.Image, Label = (int)r.Label - 1, Score = r.Score }).ToArray();
        return (ml, classifier, Classify(train), Classify(test));
    });

    private static IDataView View(MLContext ml, IEnumerable<Row> rows) => ml.Data.LoadFromEnumerable(rows);

    private sealed class FiveScoreRow
    {
        [VectorType(1, 28, 28)] public float[] Image { get; set; } = [];
        public int Label { get; set; }
        [VectorType(5)] public float[] Score { get; set; } = [];
    }

    private sealed class KeyLabelRow
    {
        [VectorType(1, 28, 28)] public float[] Image { get; set; } = [];
        [KeyType(5)] public uint Label { get; set; }
        [VectorType(10)] public float[] Score { get; set; } = [];
    }

    [TestMethod]
    public void WorksOutOnRealMLNetIncludingAFreshProcess()
    {
        var (ml, _, trainRows, testRows) = Fixture.Value;
        var train = View(ml, trainRows);
        var test = View(ml, testRows.Take(40));
        var scaled = View(ml, trainRows.Take(60).Select(r => new Row { Image = r.Image.Select(p => p * 255).ToArray(), Label = r.Label, Score = r.Score }));
        var fewPerClass = View(ml, trainRows.Where(r => r.Label != 7).Concat(trainRows.Where(r => r.Label == 7).Take(1)));
        var outsideClasses = View(ml, trainRows.Take(100).Select((r, i) => new Row { Image = r.Image, Label = i == 17 ? 12 : r.Label, Score = r.Score }));
        var fiveScores = ml.Data.LoadFromEnumerable(trainRows.Take(100).Select(r => new FiveScoreRow { Image = r.Image, Label = r.Label, Score = r.Score[..5] }));
        var keyOfFive = ml.Data.LoadFromEnumerable(trainRows.Take(100).Select(r => new KeyLabelRow { Image = r.Image, Label = (uint)(r.Label % 5), Score = r.Score }));
        var (model, output) = MLNetWorkout.Run(ml, ml.Transforms.Defenses.ContraNet(Tiny with { ReconstructionColumnName = "Reconstruction" }), train, test,
        [
            new("no Score column", ml.Transforms.DropColumns("Score").Fit(train).Transform(train), "'Score'"),
            new("no label column", ml.Transforms.DropColumns("Label").Fit(train).Transform(train), "'Label'"),
            new("pixels in 0-255", scaled, "scaleImage", SchemaProblem: false),
            new("one image of class 7", fewPerClass, "class 7 has ", SchemaProblem: false),
            new("a label the classifier never emits", outsideClasses, "row 17 has class 12", SchemaProblem: false),
            new("a Score of 5 classes for labels of 10", fiveScores, "row", SchemaProblem: false),
            new("a key label of 5 classes for a Score of 10", keyOfFive, "key of 5 classes", SchemaProblem: false),
        ]);
        using (model)
        {
            Assert.AreEqual("Vector<Single, 1, 28, 28>", output.Schema["Reconstruction"].Type.ToString(), "the reconstruction is an image column of the input's type");
            var scores = output.GetColumn<float>("ContraNetScore").ToArray();
            var flags = output.GetColumn<bool>("ContraNetFlag").ToArray();
            for (int i = 0; i < scores.Length; i++)
            {
                Assert.IsTrue(scores[i] is >= 0 and <= 2.0001f, $"row {i}: the distance of unit embeddings is in [0, 2], found {scores[i]}");
                Assert.AreEqual(scores[i] > model.Threshold, flags[i], $"row {i}: flag = score > threshold");
            }
            var reconstructions = output.GetColumn<VBuffer<float>>("Reconstruction").Select(v => v.DenseValues().ToArray()).ToArray();
            Assert.IsTrue(reconstructions.All(r => r.Length == 784 && r.All(p => p is >= 0 and <= 1)), "x′ is a [0, 1] image");
            Assert.AreEqual(60, model.Info.CalibrationImageCount, model.Info.ToString());
            Assert.AreEqual(540, model.Info.TrainingImageCount, model.Info.ToString());
            Assert.IsTrue(model.Info.CalibrationFalsePositiveRate <= Tiny.TargetFalsePositiveRate, model.Info.ToString());
            Assert.IsTrue(double.IsFinite(model.Info.DistanceLoss) && double.IsFinite(model.Info.TripletLoss) && double.IsFinite(model.Info.DiscriminatorLoss), model.Info.ToString());
        }
    }

    [TestMethod]
    public void BadInputNamesTheColumnAndTheExpectation()
    {
        var (ml, _, trainRows, _) = Fixture.Value;
        var few = View(ml, trainRows.Take(100));
        var error = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.Defenses.ContraNet(Tiny with { MinimumImagesPerClass = 30 }).Fit(few));
        StringAssert.Contains(error.Message, "Column 'Label'");
        StringAssert.Contains(error.Message, "at least 30 training images of every one of the classifier's 10 classes");

        error = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.Defenses.ContraNet(Tiny with { NegativesPerAnchor = 10 }).Fit(few));
        StringAssert.Contains(error.Message, "NegativesPerAnchor");
        StringAssert.Contains(error.Message, "at most 9 wrong labels");

        var fiveScores = ml.Data.LoadFromEnumerable(trainRows.Take(100).Select(r => new FiveScoreRow { Image = r.Image, Label = r.Label, Score = r.Score[..5] }));
        error = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.Defenses.ContraNet(Tiny).Fit(fiveScores));
        StringAssert.Contains(error.Message, "Column 'Label'");
        StringAssert.Contains(error.Message, "column 'Score' has 5 classes");

        var optionError = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.Defenses.ContraNet(Tiny with { TripletMargin = 0 }));
        StringAssert.Contains(optionError.Message, "ContraNetOptions.TripletMargin");
    }

    [TestMethod]
    public void TheFittedDetectorRejectsAnotherClassCountOrImageSize()
    {
        var (ml, _, trainRows, _) = Fixture.Value;
        using var model = ml.Transforms.Defenses.ContraNet(Tiny).Fit(View(ml, trainRows.Take(200)));
        var fiveScores = ml.Data.LoadFromEnumerable(trainRows.Take(3).Select(r => new FiveScoreRow { Image = r.Image, Label = r.Label, Score = r.Score[..5] }));
        var error = Assert.ThrowsExactly<ArgumentException>(() => model.Transform(fiveScores));
        StringAssert.Contains(error.Message, "'Score'");
        StringAssert.Contains(error.Message, "fitted on 10 classes");
        // The label column is not needed at Transform.
        var noLabel = ml.Transforms.DropColumns("Label").Fit(View(ml, trainRows.Take(3))).Transform(View(ml, trainRows.Take(3)));
        Assert.AreEqual(3, model.Transform(noLabel).GetColumn<float>("ContraNetScore").Count());
    }

    private sealed class Recorder : IProgress<ContraNetTrainingProgress>
    {
        public List<ContraNetTrainingProgress> Epochs { get; } = [];
        public void Report(ContraNetTrainingProgress value)
        {
            if (value.EpochCompleted) Epochs.Add(value);
        }
    }

    [TestMethod]
    public void TrainingImprovesTheReconstructionAndTheTripletLoss()
    {
        // What each stage learns, measured on the held-out rows and the losses (detection of attacks needs far longer training than a
        // unit test has: see the README's ContraNet section for the measured numbers).
        var (ml, _, trainRows, _) = Fixture.Value;
        var train = View(ml, trainRows);
        var options = Tiny with { GeneratorWidth = 16, DiscriminatorWidth = 16, BatchSize = 32, MetricBatchSize = 32, DiscriminatorStepsPerGeneratorStep = 1 };
        using var untrained = ml.Transforms.Defenses.ContraNet(options with { GanEpochs = 0, MetricEpochs = 0 }).Fit(train);
        var progress = new Recorder();
        using var trained = ml.Transforms.Defenses.ContraNet(options with { GanEpochs = 4, MetricEpochs = 3, Progress = progress }).Fit(train);
        double before = untrained.Info.CalibrationTrueLabelMeanSsim, after = trained.Info.CalibrationTrueLabelMeanSsim;
        Assert.IsTrue(after > before + 0.1, $"Alg. 1 raises the held-out SSIM(x, G(μ(x), y)) from {before:F3} to {after:F3} ({trained.Info})");
        var gan = progress.Epochs.Where(p => p.Stage == ContraNetTrainingStage.ConditionalGan).ToArray();
        var metric = progress.Epochs.Where(p => p.Stage == ContraNetTrainingStage.MetricModel).ToArray();
        Assert.AreEqual(4, gan.Length);
        Assert.AreEqual(3, metric.Length);
        Assert.IsTrue(gan[^1].DistanceLoss < gan[0].DistanceLoss, $"Dist falls over Alg. 1: {string.Join(", ", gan.Select(p => p.DistanceLoss))}");
        Assert.IsTrue(metric[^1].TripletLoss < metric[0].TripletLoss, $"Eq. 6 falls over the metric epochs: {string.Join(", ", metric.Select(p => p.TripletLoss))}");
        Assert.IsTrue(metric.All(p => p.TripletLoss is > 0 and < 2.7), "a triplet loss of unit embeddings lies in (0, 2 + margin)");
    }

    private sealed class CancelAfter(CancellationTokenSource source, int epochs) : IProgress<ContraNetTrainingProgress>
    {
        private int completed;
        public void Report(ContraNetTrainingProgress value)
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
        var options = Tiny with { GanEpochs = 2, MetricEpochs = 2 };
        float[] Scores(ContraNetTransformer m) => m.Transform(test).GetColumn<float>("ContraNetScore").ToArray();
        float[] uninterrupted;
        using (var model = ml.Transforms.Defenses.ContraNet(options).Fit(train)) uninterrupted = Scores(model);

        string folder = Directory.CreateTempSubdirectory("mldefense-contranet-checkpoint-").FullName;
        try
        {
            foreach (int stopAfter in new[] { 1, 3 })
            {
                string path = Path.Combine(folder, $"contranet-{stopAfter}.checkpoint");
                // Stopped in the cGAN stage (after epoch 1) or in the metric stage (after its first epoch, epoch 3 of 4), then resumed.
                using var stop = new CancellationTokenSource();
                Assert.ThrowsExactly<OperationCanceledException>(() => ml.Transforms.Defenses.ContraNet(options with
                {
                    CheckpointPath = path, Progress = new CancelAfter(stop, stopAfter), CancellationToken = stop.Token,
                }).Fit(train));
                Assert.IsTrue(File.Exists(path), "the checkpoint of the last completed epoch stays");
                using var resumed = ml.Transforms.Defenses.ContraNet(options with { CheckpointPath = path }).Fit(train);
                CollectionAssert.AreEqual(uninterrupted, Scores(resumed), $"a Fit resumed after epoch {stopAfter} ends where an uninterrupted one does");
                Assert.IsFalse(File.Exists(path), "the checkpoint is deleted once fitted");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void FitTransformAndACancelledFitLeaveNoTensorAlive()
    {
        var (ml, _, trainRows, testRows) = Fixture.Value;
        var train = View(ml, trainRows.Take(100));
        var test = View(ml, testRows.Take(10));
        var options = Tiny with { ReconstructionColumnName = "Reconstruction" };
        long before = LiveTensors.Count();
        using (var model = ml.Transforms.Defenses.ContraNet(options).Fit(train))
            Assert.AreEqual(10, model.Transform(test).GetColumn<float>("ContraNetScore").Count());
        Assert.AreEqual(before, LiveTensors.Count(), "Fit, Transform and Dispose free every tensor they made");
        using var stop = new CancellationTokenSource();
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.Transforms.Defenses.ContraNet(options with
        {
            GanEpochs = 3, Progress = new CancelAfter(stop, 1), CancellationToken = stop.Token,
        }).Fit(train));
        Assert.AreEqual(before, LiveTensors.Count(), "a cancelled Fit frees every network and tensor it built");
    }

    private sealed class Output
    {
        public float ContraNetScore { get; set; }
        public bool ContraNetFlag { get; set; }
    }

    [TestMethod]
    public void PredictionEngineScoresOneRowAsTheDataViewDoes()
    {
        var (ml, _, trainRows, testRows) = Fixture.Value;
        using var model = ml.Transforms.Defenses.ContraNet(Tiny with { InferenceBatchSize = 1, DetectionRule = ContraNetDetectionRule.MetricOrSsim })
            .Fit(View(ml, trainRows.Take(200)));
        Assert.AreEqual(1f, model.Threshold, "MetricOrSsim flags when either sub-detector's normalised score exceeds 1");
        var batch = ml.Data.CreateEnumerable<Output>(model.Transform(View(ml, testRows.Take(5))), reuseRowObject: false).ToArray();
        using var engine = ml.Model.CreatePredictionEngine<Row, Output>(model);
        for (int i = 0; i < 5; i++)
        {
            var one = engine.Predict(testRows[i]);
            Assert.AreEqual(batch[i].ContraNetScore, one.ContraNetScore, $"row {i}");
            Assert.AreEqual(batch[i].ContraNetFlag, one.ContraNetFlag, $"row {i}");
        }
        // The tensor API scores as the column does.
        using var images = torch.tensor(testRows.Take(5).SelectMany(r => r.Image).ToArray(), [5, 1, 28, 28]);
        using var predicted = torch.tensor(testRows.Take(5).Select(r => (long)Array.IndexOf(r.Score, r.Score.Max())).ToArray(), [5]);
        using var _ = torch.no_grad();
        using var tensorScores = model.Score(images, predicted);
        var fromTensors = tensorScores.data<float>().ToArray();
        for (int i = 0; i < 5; i++) Assert.AreEqual(batch[i].ContraNetScore, fromTensors[i], 1e-5, $"row {i}: Score(images, labels)");
    }
}


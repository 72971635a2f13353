using System.Diagnostics;
using static MLDefense.Legacy.Tests.ImageClassifierTestData;
using MLDefense.Classifiers;

using MLDefense.Data;
namespace MLDefense.Legacy.Tests;

[TestClass]
public sealed class ImageClassifierTests
{
    [TestMethod]
    [DataRow(ClassifierArchitecture.MnistC1)]
    [DataRow(ClassifierArchitecture.DefenseGanA)]
    public void LearnsSeparablePatternsWellAboveChance(ClassifierArchitecture architecture)
    {
        var ml = new MLContext(1);
        var train = Patterns(rowsPerClass: 80, seed: 1);
        var test = Patterns(rowsPerClass: 40, seed: 2);
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(QuickOptions(architecture)).Fit(train);

        double accuracy = Accuracy(model.Transform(test));
        Assert.IsTrue(accuracy >= 0.9, $"{architecture}: test accuracy {accuracy:P1} on 3 separable classes (chance 33%)");
        Assert.AreEqual(3, model.ClassCount, "K inferred as the largest label + 1");
        Assert.AreEqual(architecture, model.Architecture);
    }

    [TestMethod]
    public void CifarC2LearnsColourPatterns()
    {
        var ml = new MLContext(1);
        var shape = new ImageShape(3, 32, 32);
        var options = QuickOptions(ClassifierArchitecture.CifarC2, epochs: 3);
        options.Optimizer = ClassifierOptimizer.Adam; // Carlini–Wagner's SGD needs more than a few steps
        options.LearningRate = 1e-3;
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(Patterns(40, 1, shape, classes: 2));
        double accuracy = Accuracy(model.Transform(Patterns(30, 2, shape, classes: 2)));
        Assert.IsTrue(accuracy >= 0.9, $"test accuracy {accuracy:P1} on 2 separable classes");
    }

    [TestMethod]
    [DataRow(ClassifierArchitecture.MnistC1, 1, 28, 64, 11, 11)]
    [DataRow(ClassifierArchitecture.CifarC2, 3, 32, 128, 10, 10)]
    [DataRow(ClassifierArchitecture.DefenseGanA, 1, 28, 64, 12, 12)]
    [DataRow(ClassifierArchitecture.DefenseGanB, 1, 28, 128, 1, 1)]
    [DataRow(ClassifierArchitecture.DefenseGanC, 1, 28, 64, 12, 12)]
    public void ArchitecturesTakeTheirShapeAndExposeTheDocumentedFeatureMap(ClassifierArchitecture architecture, int channels, int side, int c, int h, int w)
    {
        var shape = new ImageShape(channels, side, side);
        Assert.AreEqual(shape, ClassifierArchitectures.InputShape(architecture));
        using var network = ClassifierArchitectures.Create(architecture, shape, 7);
        network.eval();
        using var scope = torch.NewDisposeScope();
        var images = torch.rand([5, channels, side, side]);
        CollectionAssert.AreEqual(new long[] { 5, 7 }, network.forward(images).shape);
        CollectionAssert.AreEqual(new long[] { 5, c, h, w }, network.Features.forward(images).shape);
        CollectionAssert.AreEqual(new[] { c, h, w }, ClassifierArchitectures.FeatureMapShape(architecture).ToArray());

        var wrong = channels == 1 ? new ImageShape(3, 32, 32) : new ImageShape(1, 28, 28);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => ClassifierArchitectures.Create(architecture, wrong, 10));
        StringAssert.Contains(ex.Message, architecture.ToString());
        StringAssert.Contains(ex.Message, shape.ToString());
        StringAssert.Contains(ex.Message, wrong.ToString());
    }

    [TestMethod]
    public void FlatOverloadPassesItsSettings()
    {
        var ml = new MLContext(1);
        var data = Patterns(5, 1, new ImageShape(3, 32, 32), imageColumn: "Pixels");
        var estimator = ml.MulticlassClassification.Trainers.ImageClassifier(imageColumnName: "Pixels", architecture: ClassifierArchitecture.CifarC2, epochs: 1, batchSize: 8);
        var schema = estimator.GetOutputSchema(data.Schema);
        Assert.AreEqual(new VectorDataViewType(10), schema["Score"].Type, "without ClassCount or slot names, the estimator's schema assumes 10 classes");
        using var model = estimator.Fit(data);
        Assert.AreEqual(ClassifierArchitecture.CifarC2, model.Architecture);
        Assert.AreEqual("Pixels", model.ImageColumnName);
        Assert.AreEqual(1, model.TrainingHistory.Count);
        Assert.AreEqual(2, model.TrainingHistory[0].BatchesPerEpoch, "15 rows in batches of 8");
    }

    [TestMethod]
    public void OutputSchemaMatchesTheTransformedViewAndScoresAreProbabilities()
    {
        var ml = new MLContext(1);
        var data = Patterns(10, 1);
        var options = QuickOptions(epochs: 1);
        options.FeatureMapColumnName = "FeatureMap";
        options.ClassCount = 4;
        var estimator = ml.MulticlassClassification.Trainers.ImageClassifier(options);
        var estimated = estimator.GetOutputSchema(data.Schema);
        using var model = estimator.Fit(data);
        var output = model.Transform(data);

        Assert.IsTrue(model.GetOutputSchema(data.Schema).SameAs(output.Schema), "transformer schema = transformed schema");
        Assert.IsTrue(estimated.SameAs(output.Schema), "with ClassCount set, the estimator's schema is exact too");
        Assert.AreEqual(new VectorDataViewType(4), output.Schema["Score"].Type);
        Assert.AreEqual(NumberDataViewType.Int32, output.Schema["PredictedLabel"].Type);
        Assert.AreEqual(new VectorDataViewType(64, 11, 11), output.Schema["FeatureMap"].Type);

        // Read in batches of 7 so chunking and batch boundaries are exercised.
        foreach (var batch in output.GetBatches(7, ["Score", "PredictedLabel", "FeatureMap"]))
        {
            var scores = batch.Get<float>("Score");
            var predicted = batch.Get<int>("PredictedLabel");
            Assert.AreEqual(batch.RowCount * 64 * 11 * 11, batch.Get<float>("FeatureMap").Length);
            for (int row = 0; row < batch.RowCount; row++)
            {
                var p = scores.AsSpan(row * 4, 4).ToArray();
                Assert.AreEqual(1.0, p.Sum(), 1e-5, "softmax rows sum to 1");
                Assert.IsTrue(p.All(v => v >= 0));
                Assert.AreEqual(Array.IndexOf(p, p.Max()), predicted[row], "PredictedLabel is the argmax of Score");
            }
        }
    }

    [TestMethod]
    public void FeatureMapColumnEqualsTheDifferentiableFeatureMap()
    {
        var ml = new MLContext(1);
        var data = Patterns(4, 1);
        var options = QuickOptions(ClassifierArchitecture.DefenseGanA, epochs: 1);
        options.FeatureMapColumnName = "FeatureMap";
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(data);
        CollectionAssert.AreEqual(new[] { 64, 12, 12 }, model.FeatureMapShape!.ToArray());

        var batch = model.Transform(data).GetBatches(100, ["Image", "FeatureMap"]).Single();
        using var scope = torch.NewDisposeScope();
        var images = batch.ToTensor("Image", model.Device);
        var expected = model.FeatureMap(images).contiguous().data<float>().ToArray();
        var column = batch.Get<float>("FeatureMap");
        Assert.AreEqual(expected.Length, column.Length);
        for (int i = 0; i < column.Length; i++) Assert.AreEqual(expected[i], column[i], 1e-5);
    }

    [TestMethod]
    public void LogitsGradientIsNonZeroAndMatchesFiniteDifferences()
    {
        var ml = new MLContext(1);
        var data = Patterns(10, 1);
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(QuickOptions(epochs: 1)).Fit(data);
        IDifferentiableClassifier classifier = model;
        // Double precision makes a central difference accurate to ~1e-8, so the check is tight.
        model.Network.to(ScalarType.Float64);

        using var scope = torch.NewDisposeScope();
        var x = data.GetBatches(4, ["Image"]).First().ToTensor("Image", classifier.Device).to(ScalarType.Float64).requires_grad_();
        var target = torch.tensor(new long[] { 0, 1, 2, 0 }, [4]);
        var loss = torch.nn.functional.cross_entropy(classifier.Logits(x), target);
        var gradient = torch.autograd.grad([loss], [x])[0];
        double gradientNorm = gradient.norm().ToDouble();
        Assert.IsTrue(gradientNorm > 1e-6, $"input gradient norm {gradientNorm}");

        torch.manual_seed(5);
        var direction = torch.randn(x.shape, ScalarType.Float64);
        direction = direction / direction.norm();
        double analytic = (gradient * direction).sum().ToDouble();
        const double h = 1e-5;
        using (torch.no_grad())
        {
            var xd = x.detach();
            double plus = torch.nn.functional.cross_entropy(classifier.Logits(xd + direction * h), target).ToDouble();
            double minus = torch.nn.functional.cross_entropy(classifier.Logits(xd - direction * h), target).ToDouble();
            double numeric = (plus - minus) / (2 * h);
            Assert.AreEqual(analytic, numeric, 1e-6 + 1e-4 * Math.Abs(analytic), $"directional derivative: autograd {analytic}, finite difference {numeric}");
        }

        var ex = Assert.ThrowsExactly<ArgumentException>(() => classifier.Logits(torch.zeros([2, 3, 28, 28])));
        StringAssert.Contains(ex.Message, "[N, 1, 28, 28]");
    }

    [TestMethod]
    public void ReportsProgressEveryEpochWithValidationAccuracyAndLogs()
    {
        var ml = new MLContext(1);
        var logs = new List<string>();
        ml.Log += (_, e) => logs.Add(e.Message);
        var recorder = new Recorder<ClassifierTrainingProgress>();
        var options = QuickOptions(epochs: 3);
        options.ValidationFraction = 0.25;
        options.Progress = recorder;
        options.LearningRateSchedule = LearningRateSchedule.Step;
        options.LearningRateStepSize = 1;
        options.LearningRateGamma = 0.5;
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(Patterns(20, 1));

        var epochEnds = recorder.Reports.Where(r => r.EpochCompleted).ToList();
        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, epochEnds.Select(r => r.Epoch).ToArray());
        Assert.IsTrue(recorder.Reports.Count > epochEnds.Count, "reports within epochs too");
        Assert.IsTrue(epochEnds.All(r => r.ValidationAccuracy is >= 0 and <= 1 && r.Batch == r.BatchesPerEpoch && r.Epochs == 3));
        Assert.AreEqual(45 / 16 + 1, epochEnds[0].BatchesPerEpoch, "60 rows, a quarter held out, batches of 16");
        Assert.AreEqual(TimeSpan.Zero, epochEnds[^1].EstimatedRemaining);
        CollectionAssert.AreEqual(new[] { 1e-3, 5e-4, 2.5e-4 }, epochEnds.Select(r => Math.Round(r.LearningRate, 10)).ToArray(), "step schedule halves the rate each epoch");
        Assert.IsTrue(epochEnds[^1].ValidationAccuracy >= 0.9, $"validation accuracy {epochEnds[^1].ValidationAccuracy}");
        CollectionAssert.AreEqual(epochEnds, model.TrainingHistory.ToList());
        Assert.AreEqual(3, logs.Count(m => m.StartsWith("epoch ")), string.Join("\n", logs));
    }

    [TestMethod]
    public void CancellationThrowsPromptlyAndFreesEverything()
    {
        var ml = new MLContext(1);
        var data = Patterns(40, 1);
        using (ml.MulticlassClassification.Trainers.ImageClassifier(QuickOptions(epochs: 1)).Fit(data)) { } // warm up libtorch
        long liveBefore = LiveTensors.Count();

        using var cancellation = new CancellationTokenSource();
        var options = QuickOptions(epochs: 1000);
        options.CancellationToken = cancellation.Token;
        var clock = new Stopwatch();
        options.Progress = new Recorder<ClassifierTrainingProgress>(_ => { cancellation.Cancel(); clock.Start(); });
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(data));
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(2), $"stopped {clock.Elapsed} after the cancel");
        long liveAfter = LiveTensors.Count();
        Assert.AreEqual(liveBefore, liveAfter, $"no weights, optimiser state or data tensors left behind: {liveBefore} before, {liveAfter} after");

        options.Progress = null;
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(data), "already cancelled");
    }

    [TestMethod]
    public void SameSeedGivesIdenticalWeightsAndAnotherSeedDoesNot()
    {
        Dictionary<string, float[]> Weights(int seed)
        {
            var options = QuickOptions(ClassifierArchitecture.DefenseGanA, epochs: 1); // A has dropout: its masks must repeat too
            options.Seed = seed;
            options.ValidationFraction = 0.2;
            using var model = new MLContext().MulticlassClassification.Trainers.ImageClassifier(options).Fit(Patterns(10, 1));
            var state = model.Network.state_dict();
            // TorchSharp's state_dict holds the module's own tensors: nothing to dispose.
            return state.ToDictionary(p => p.Key, p => p.Value.contiguous().data<float>().ToArray());
        }

        var first = Weights(11);
        var second = Weights(11);
        var other = Weights(12);
        CollectionAssert.AreEquivalent(first.Keys, second.Keys);
        foreach (var (name, values) in first)
            CollectionAssert.AreEqual(values, second[name], $"{name} differs between two runs with the same seed");
        Assert.IsTrue(first.Any(p => !p.Value.SequenceEqual(other[p.Key])), "another seed gives other weights");

        // Without an explicit seed, the context's seed decides.
        float[] ContextSeeded(int contextSeed)
        {
            var options = QuickOptions(epochs: 1);
            options.Seed = null;
            using var model = new MLContext(contextSeed).MulticlassClassification.Trainers.ImageClassifier(options).Fit(Patterns(10, 1));
            return model.Transform(Patterns(2, 9)).GetBatches(100, ["Score"]).Single().Get<float>("Score");
        }
        CollectionAssert.AreEqual(ContextSeeded(4), ContextSeeded(4));
    }

    [TestMethod]
    public void AsEstimatorReusesTheWeightsOnAnotherColumn()
    {
        var ml = new MLContext(1);
        var data = Patterns(10, 1);
        var model = ml.MulticlassClassification.Trainers.ImageClassifier(QuickOptions(epochs: 1)).Fit(data);
        var scores = model.Transform(data).GetBatches(100, ["Score"]).Single().Get<float>("Score");

        var purified = Patterns(10, 1, imageColumn: "Purified");
        var estimator = model.AsEstimator(inputColumnName: "Purified");
        var reused = estimator.Fit(purified);
        model.Dispose(); // the reused transformer keeps the shared weights alive
        var output = reused.Transform(purified);
        Assert.IsTrue(estimator.GetOutputSchema(purified.Schema).SameAs(output.Schema));
        CollectionAssert.AreEqual(scores, output.GetBatches(100, ["Score"]).Single().Get<float>("Score"));
        Assert.AreEqual("Purified", reused.ImageColumnName);

        var ex = Assert.ThrowsExactly<ArgumentException>(() => reused.GetOutputSchema(data.Schema));
        StringAssert.Contains(ex.Message, "Column 'Purified'");
        reused.Dispose();
        Assert.ThrowsExactly<ObjectDisposedException>(() => reused.Network);
    }

    [TestMethod]
    public void CustomModuleTrainsAndNeedsANameToBeSaved()
    {
        var ml = new MLContext(1);
        var options = QuickOptions(epochs: 3);
        options.CustomModule = (shape, classes) => torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(shape.Size, 32), torch.nn.ReLU(), torch.nn.Linear(32, classes));
        options.ImageColumnName = "Small";
        var shape = new ImageShape(2, 6, 5); // any [C, H, W] goes with a custom module
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(Patterns(30, 1, shape, imageColumn: "Small"));
        Assert.IsTrue(Accuracy(model.Transform(Patterns(20, 2, shape, imageColumn: "Small"))) >= 0.9);
        Assert.IsNull(model.Architecture);
        Assert.IsNull(model.FeatureMapShape);
        Assert.ThrowsExactly<NotSupportedException>(() => model.FeatureMap(torch.zeros([1, 2, 6, 5])));
        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => SaveAndLoad(model, ml));
        Assert.IsInstanceOfType<NotSupportedException>(ex.InnerException);
        StringAssert.Contains(ex.Message, "RegisterCustomModule");

        options.FeatureMapColumnName = "FeatureMap";
        var noMap = Assert.ThrowsExactly<NotSupportedException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(Patterns(2, 1, shape, imageColumn: "Small")));
        StringAssert.Contains(noMap.Message, "FeatureMapClassifier");

        options.FeatureMapColumnName = null;
        options.CustomModule = (_, _) => torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(60, 5));
        var wrongOutput = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(Patterns(2, 1, shape, imageColumn: "Small")));
        StringAssert.Contains(wrongOutput.Message, "[N, 3] logits");
    }

    [TestMethod]
    public void SaveAndLoadGiveIdenticalOutputs()
    {
        var ml = new MLContext(1);
        var data = Patterns(10, 1);
        var options = QuickOptions(ClassifierArchitecture.DefenseGanB, epochs: 1);
        options.FeatureMapColumnName = "FeatureMap";
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(data);
        using var loaded = SaveAndLoad(model, ml);

        Assert.AreEqual(ClassifierArchitecture.DefenseGanB, loaded.Architecture);
        Assert.AreEqual(3, loaded.ClassCount);
        var expected = model.Transform(data).GetBatches(100, ["Score", "PredictedLabel", "FeatureMap"]).Single();
        var actual = loaded.Transform(data).GetBatches(100, ["Score", "PredictedLabel", "FeatureMap"]).Single();
        Assert.IsTrue(model.Transform(data).Schema.SameAs(loaded.Transform(data).Schema));
        foreach (var column in new[] { "Score", "FeatureMap" })
            CollectionAssert.AreEqual(expected.Get<float>(column), actual.Get<float>(column), $"{column} is bit-identical on the CPU");
        CollectionAssert.AreEqual(expected.Get<int>("PredictedLabel"), actual.Get<int>("PredictedLabel"));

        // A named custom module saves and loads through the registry.
        ImageClassifierEstimator.RegisterCustomModule("tests.tiny", (shape, classes) =>
            new FeatureMapClassifier(torch.nn.Sequential(torch.nn.Conv2d(shape.Channels, 4, 3), torch.nn.ReLU()),
                                     torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * (shape.Height - 2) * (shape.Width - 2), classes))));
        var custom = QuickOptions(epochs: 1);
        custom.CustomModuleName = "tests.tiny";
        using var customModel = ml.MulticlassClassification.Trainers.ImageClassifier(custom).Fit(data);
        using var customLoaded = SaveAndLoad(customModel, ml);
        CollectionAssert.AreEqual(customModel.Transform(data).GetBatches(100, ["Score"]).Single().Get<float>("Score"),
            customLoaded.Transform(data).GetBatches(100, ["Score"]).Single().Get<float>("Score"));
        CollectionAssert.AreEqual(new[] { 4, 26, 26 }, customLoaded.FeatureMapShape!.ToArray());
    }

    /// <summary>Saves into a model zip in memory and loads it back, through ml.Model.Save/Load.</summary>
    private static ImageClassifierTransformer SaveAndLoad(ImageClassifierTransformer model, MLContext ml)
    {
        using var buffer = new MemoryStream();
        var inputSchema = new DataViewSchema([new DataViewSchema.Column(model.ImageColumnName, model.InputShape.VectorType, new DataViewSchema.Annotations(model.InputShape))]);
        ml.Model.Save(model, inputSchema, buffer);
        buffer.Position = 0;
        return (ImageClassifierTransformer)ml.Model.Load(buffer, out _);
    }

    [TestMethod]
    public void ClassifierPassesTheWorkout()
    {
        var ml = new MLContext(1);
        var data = Patterns(10, 1);
        var noLabel = ml.Data.LoadFromEnumerable(new[] { new ImageOnly { Image = new float[28 * 28] } });
        // ClassCount makes the estimator's promised Score length exact before it has seen the labels.
        var options = QuickOptions(epochs: 1);
        options.ClassCount = 3;
        using var result = Workout.Run(ml, ml.MulticlassClassification.Trainers.ImageClassifier(options), data, Patterns(5, 2),
            [new BadInput("no label column", noLabel, "Label")]);
        Assert.AreEqual(3, result.Model.ClassCount);
    }

    public sealed class ImageOnly
    {
        [ImageType(1, 28, 28)] public float[] Image { get; set; } = [];
    }
}


/// <summary>Small synthetic image sets the image-classifier tests train on in seconds.</summary>
internal static class ImageClassifierTestData
{
    /// <summary>
    /// Separable classes over uniform noise in [0, 0.3]: class 0 brightens the left half, class 1 the right half,
    /// class 2 the top half (and class 3, when asked for, the bottom half).
    /// </summary>
    public static InMemoryDataView Patterns(int rowsPerClass, int seed, ImageShape? shape = null, int classes = 3, string imageColumn = "Image")
    {
        var s = shape ?? new ImageShape(1, 28, 28);
        var random = new Random(seed);
        int rows = rowsPerClass * classes;
        var pixels = new float[rows * s.Size];
        var labels = new int[rows];
        for (int row = 0; row < rows; row++)
        {
            int label = row % classes;
            labels[row] = label;
            for (int c = 0; c < s.Channels; c++)
                for (int y = 0; y < s.Height; y++)
                    for (int x = 0; x < s.Width; x++)
                    {
                        bool bright = label switch
                        {
                            0 => x < s.Width / 2,
                            1 => x >= s.Width / 2,
                            2 => y < s.Height / 2,
                            _ => y >= s.Height / 2,
                        };
                        pixels[row * s.Size + (c * s.Height + y) * s.Width + x] = (float)(random.NextDouble() * 0.3 + (bright ? 0.6 : 0));
                    }
        }
        return Create(pixels, labels, s, imageColumn);
    }

    public static InMemoryDataView Create(float[] pixels, int[] labels, ImageShape shape, string imageColumn = "Image") =>
        new(new DataViewSchema([
                new DataViewSchema.Column(imageColumn, shape.VectorType, new DataViewSchema.Annotations(shape)),
                new DataViewSchema.Column("Label", NumberDataViewType.Int32)]),
            [pixels, labels]);

    /// <summary>The fraction of rows whose PredictedLabel equals Label.</summary>
    public static double Accuracy(IDataView scored)
    {
        var batches = scored.GetBatches(1 << 20, ["Label", "PredictedLabel"]).ToList();
        var labels = batches.SelectMany(b => b.Get<int>("Label")).ToArray();
        var predicted = batches.SelectMany(b => b.Get<int>("PredictedLabel")).ToArray();
        return labels.Zip(predicted).Count(p => p.First == p.Second) / (double)labels.Length;
    }

    /// <summary>Fast settings for the tests: few epochs, small batches.</summary>
    public static ImageClassifierOptions QuickOptions(ClassifierArchitecture architecture = ClassifierArchitecture.MnistC1, int epochs = 2) => new()
    {
        Architecture = architecture,
        Epochs = epochs,
        BatchSize = 16,
        Seed = 3,
    };

    /// <summary>A synchronous IProgress (Progress&lt;T&gt; posts to the thread pool, so reports would arrive late).</summary>
    public sealed class Recorder<T>(Action<T>? onReport = null) : IProgress<T>
    {
        public List<T> Reports { get; } = new();
        public void Report(T value)
        {
            Reports.Add(value);
            onReport?.Invoke(value);
        }
    }
}

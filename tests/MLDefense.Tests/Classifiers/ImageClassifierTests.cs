using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Tests.MLNet;
using static MLDefense.Tests.Classifiers.ImageClassifierTestData;

namespace MLDefense.Tests.Classifiers;

[TestClass]
public sealed class ImageClassifierTests
{
    [TestMethod]
    [DataRow(ClassifierArchitecture.MnistC1)]
    [DataRow(ClassifierArchitecture.DefenseGanA)]
    public void LearnsSeparablePatternsWellAboveChance(ClassifierArchitecture architecture)
    {
        var ml = new MLContext(seed: 1);
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
        var ml = new MLContext(seed: 1);
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
        var ml = new MLContext(seed: 1);
        var data = Patterns(5, 1, new ImageShape(3, 32, 32), imageColumn: "Pixels");
        var estimator = ml.MulticlassClassification.Trainers.ImageClassifier(featureColumnName: "Pixels", architecture: ClassifierArchitecture.CifarC2, epochs: 1, batchSize: 8);
        var schema = estimator.GetOutputSchema(MLDefense.MLNet.SchemaShapes.From(data.Schema));
        Assert.IsTrue(schema.Any(c => c.Name == "Score" && c.Kind == SchemaShape.Column.VectorKind.Vector), "the estimator promises Score");
        using var model = estimator.Fit(data);
        Assert.AreEqual(ClassifierArchitecture.CifarC2, model.Architecture);
        Assert.AreEqual("Pixels", model.ImageColumnName);
        Assert.AreEqual(1, model.TrainingHistory.Count);
        Assert.AreEqual(2, model.TrainingHistory[0].BatchesPerEpoch, "15 rows in batches of 8");
    }

    [TestMethod]
    public void OutputSchemaMatchesTheTransformedViewAndScoresAreProbabilities()
    {
        var ml = new MLContext(seed: 1);
        var data = Patterns(10, 1);
        var options = QuickOptions(epochs: 1);
        options.FeatureMapColumnName = "FeatureMap";
        options.ClassCount = 4;
        var estimator = ml.MulticlassClassification.Trainers.ImageClassifier(options);
        var estimated = estimator.GetOutputSchema(MLDefense.MLNet.SchemaShapes.From(data.Schema));
        using var model = estimator.Fit(data);
        var output = model.Transform(data);

        MLNetWorkout.AssertSameColumns(model.GetOutputSchema(data.Schema), output.Schema, "transformer schema = transformed schema");
        foreach (var name in new[] { "Score", "PredictedLabel", "FeatureMap" })
            Assert.IsTrue(estimated.Any(c => c.Name == name), $"the estimator promises {name}");
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 4), output.Schema["Score"].Type);
        Assert.AreEqual(new KeyDataViewType(typeof(uint), 4), output.Schema["PredictedLabel"].Type);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 64, 11, 11), output.Schema["FeatureMap"].Type);

        var columns = TestViews.Read(output);
        var scores = columns.Floats("Score");
        var predicted = columns.Classes("PredictedLabel");
        Assert.AreEqual(columns.Rows * 64 * 11 * 11, columns.Floats("FeatureMap").Length);
        for (int row = 0; row < columns.Rows; row++)
        {
            var p = scores.AsSpan(row * 4, 4).ToArray();
            Assert.AreEqual(1.0, p.Sum(), 1e-5, "softmax rows sum to 1");
            Assert.IsTrue(p.All(v => v >= 0));
            Assert.AreEqual(Array.IndexOf(p, p.Max()), predicted[row], "PredictedLabel is the argmax of Score");
        }
    }

    [TestMethod]
    public void FeatureMapColumnEqualsTheDifferentiableFeatureMap()
    {
        var ml = new MLContext(seed: 1);
        var data = Patterns(4, 1);
        var options = QuickOptions(ClassifierArchitecture.DefenseGanA, epochs: 1);
        options.FeatureMapColumnName = "FeatureMap";
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(data);
        CollectionAssert.AreEqual(new[] { 64, 12, 12 }, model.FeatureMapShape!.ToArray());

        var columns = TestViews.Read(model.Transform(data));
        using var scope = torch.NewDisposeScope();
        var images = torch.tensor(columns.Floats("Image"), [columns.Rows, 1, 28, 28], device: model.Device);
        var expected = model.FeatureMap(images).contiguous().data<float>().ToArray();
        var column = columns.Floats("FeatureMap");
        Assert.AreEqual(expected.Length, column.Length);
        for (int i = 0; i < column.Length; i++) Assert.AreEqual(expected[i], column[i], 1e-5);
    }

    [TestMethod]
    public void LogitsGradientIsNonZeroAndMatchesFiniteDifferences()
    {
        var ml = new MLContext(seed: 1);
        var data = Patterns(10, 1);
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(QuickOptions(epochs: 1)).Fit(data);
        IDifferentiableClassifier classifier = model;
        // Double precision makes a central difference accurate to ~1e-8, so the check is tight.
        model.Network.to(ScalarType.Float64);

        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(TestViews.Floats(data, "Image").AsSpan(0, 4 * 784).ToArray(), [4, 1, 28, 28], device: classifier.Device).to(ScalarType.Float64).requires_grad_();
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
        var ml = new MLContext(seed: 1);
        var logs = new List<string>();
        ml.Log += (_, e) => logs.Add(e.RawMessage);
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
        var ml = new MLContext(seed: 1);
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
            using var model = new MLContext(seed: contextSeed).MulticlassClassification.Trainers.ImageClassifier(options).Fit(Patterns(10, 1));
            return TestViews.Floats(model.Transform(Patterns(2, 9)), "Score");
        }
        CollectionAssert.AreEqual(ContextSeeded(4), ContextSeeded(4));
    }

    [TestMethod]
    public void AsEstimatorReusesTheWeightsOnAnotherColumn()
    {
        var ml = new MLContext(seed: 1);
        var data = Patterns(10, 1);
        var model = ml.MulticlassClassification.Trainers.ImageClassifier(QuickOptions(epochs: 1)).Fit(data);
        var scores = TestViews.Floats(model.Transform(data), "Score");

        var purified = Patterns(10, 1, imageColumn: "Purified");
        var estimator = model.AsEstimator(inputColumnName: "Purified");
        var reused = estimator.Fit(purified);
        model.Dispose(); // the reused transformer keeps the shared weights alive
        var output = reused.Transform(purified);
        Assert.IsTrue(estimator.GetOutputSchema(MLDefense.MLNet.SchemaShapes.From(purified.Schema)).Any(c => c.Name == "Score"));
        CollectionAssert.AreEqual(scores, TestViews.Floats(output, "Score"));
        Assert.AreEqual("Purified", reused.ImageColumnName);

        var ex = Assert.ThrowsExactly<ArgumentException>(() => reused.GetOutputSchema(data.Schema));
        StringAssert.Contains(ex.Message, "Column 'Purified'");
        reused.Dispose();
        Assert.ThrowsExactly<ObjectDisposedException>(() => reused.Network);
    }

    [TestMethod]
    public void CustomModuleTrainsAndNeedsANameToBeSaved()
    {
        var ml = new MLContext(seed: 1);
        var options = QuickOptions(epochs: 3);
        options.CustomModule = (shape, classes) => torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(shape.Size, 32), torch.nn.ReLU(), torch.nn.Linear(32, classes));
        options.ImageColumnName = "Small";
        var shape = new ImageShape(2, 6, 5); // any [C, H, W] goes with a custom module
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(Patterns(30, 1, shape, imageColumn: "Small"));
        Assert.IsTrue(Accuracy(model.Transform(Patterns(20, 2, shape, imageColumn: "Small"))) >= 0.9);
        Assert.IsNull(model.Architecture);
        Assert.IsNull(model.FeatureMapShape);
        Assert.ThrowsExactly<NotSupportedException>(() => model.FeatureMap(torch.zeros([1, 2, 6, 5])));
        var ex = Assert.Throws<Exception>(() => SaveAndLoad(model, ml, Patterns(1, 1, shape, imageColumn: "Small").Schema));
        var reason = ex as NotSupportedException ?? ex.InnerException as NotSupportedException;
        Assert.IsNotNull(reason, $"saving says it is not supported; got {ex}");
        StringAssert.Contains(reason.Message, "RegisterCustomModule");

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
        var ml = new MLContext(seed: 1);
        var data = Patterns(10, 1);
        var options = QuickOptions(ClassifierArchitecture.DefenseGanB, epochs: 1);
        options.FeatureMapColumnName = "FeatureMap";
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(data);
        using var loaded = SaveAndLoad(model, ml, data.Schema);

        Assert.AreEqual(ClassifierArchitecture.DefenseGanB, loaded.Architecture);
        Assert.AreEqual(3, loaded.ClassCount);
        var expected = TestViews.Read(model.Transform(data));
        var actual = TestViews.Read(loaded.Transform(data));
        MLNetWorkout.AssertSameColumns(model.Transform(data).Schema, loaded.Transform(data).Schema, "saved and loaded");
        foreach (var column in new[] { "Score", "FeatureMap" })
            CollectionAssert.AreEqual(expected.Floats(column), actual.Floats(column), $"{column} is bit-identical on the CPU");
        CollectionAssert.AreEqual(expected.Classes("PredictedLabel"), actual.Classes("PredictedLabel"));

        // A named custom module saves and loads through the registry.
        ImageClassifierEstimator.RegisterCustomModule("tests.tiny", (shape, classes) =>
            new FeatureMapClassifier(torch.nn.Sequential(torch.nn.Conv2d(shape.Channels, 4, 3), torch.nn.ReLU()),
                                     torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * (shape.Height - 2) * (shape.Width - 2), classes))));
        var custom = QuickOptions(epochs: 1);
        custom.CustomModuleName = "tests.tiny";
        using var customModel = ml.MulticlassClassification.Trainers.ImageClassifier(custom).Fit(data);
        using var customLoaded = SaveAndLoad(customModel, ml, data.Schema);
        CollectionAssert.AreEqual(TestViews.Floats(customModel.Transform(data), "Score"), TestViews.Floats(customLoaded.Transform(data), "Score"));
        CollectionAssert.AreEqual(new[] { 4, 26, 26 }, customLoaded.FeatureMapShape!.ToArray());
    }

    /// <summary>Saves into a model zip in memory and loads it back, through ml.Model.Save/Load.</summary>
    private static ImageClassifierTransformer SaveAndLoad(ImageClassifierTransformer model, MLContext ml, DataViewSchema inputSchema)
    {
        using var buffer = new MemoryStream();
        ml.Model.Save(model, inputSchema, buffer);
        buffer.Position = 0;
        return (ImageClassifierTransformer)ml.Model.Load(buffer, out _);
    }
}

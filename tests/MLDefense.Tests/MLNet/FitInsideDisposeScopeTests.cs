using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Defenses;
using MLDefense.Training;
using static MLDefense.Tests.Training.AdversarialTrainingTestData;

namespace MLDefense.Tests.MLNet;

/// <summary>
/// Every MLDefense estimator whose Fit builds or holds TorchSharp networks, fitted inside a caller's <c>torch.NewDisposeScope()</c> — as an
/// ML.NET app may well do — must give a transformer that still works after that scope has ended: it transforms to the same outputs it gave
/// inside the scope, saves with <c>ml.Model.Save</c>, and loads with <c>ml.Model.Load</c> (itself inside a scope that then ends) to the same
/// outputs. A dispose scope frees every tensor created while it is open and not detached from it, so a network whose parameters or buffers
/// were made as plain tensors loses them with the caller's scope (first seen in ContraNet's spectral-norm and conditional batch-norm tensors).
/// </summary>
/// <remarks>
/// Not here: <c>ml.Transforms.Attacks.*</c> (AttackEstimator) and <c>ml.Transforms.Defenses.MixDefense</c> (the cascade combiner) train and
/// own no network — the first binds a classifier the caller owns and cannot be saved, the second combines two Boolean columns.
/// </remarks>
[TestClass]
public sealed class FitInsideDisposeScopeTests
{
    private static readonly ImageShape Shape = new(1, 28, 28);
    private const int Classes = 3;

    /// <summary>A classified row: the image, its class (a key of 3), and what the fixture's C1 classifier made of it.</summary>
    private sealed class ClassifiedRow
    {
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }
        public float[] Score { get; set; } = [];
        public float[] FeatureMap { get; set; } = [];
    }

    /// <summary>
    /// C1 trained one epoch (outside any scope) on the tests' synthetic patterns, with a feature-map column for CMAG, and its outputs on
    /// 60 training and 12 test images, materialised: the input of the defenses that read a classifier's columns.
    /// </summary>
    private static readonly Lazy<(MLContext Ml, ImageClassifierTransformer Classifier, IDataView Train, IDataView Test)> Fixture = new(() =>
    {
        var ml = new MLContext(seed: 1);
        var options = Classifiers.ImageClassifierTestData.QuickOptions(epochs: 1);
        options.FeatureMapColumnName = "FeatureMap";
        var classifier = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(Classifiers.ImageClassifierTestData.Patterns(20, 1));
        IDataView Classify(IDataView view)
        {
            var columns = TestViews.Read(classifier.Transform(view));
            var (images, labels, scores, maps) = (columns.Floats("Image"), columns.Classes("Label"), columns.Floats("Score"), columns.Floats("FeatureMap"));
            var map = classifier.FeatureMapShape!;
            var mapShape = new ImageShape(map[0], map[1], map[2]);
            var definition = SchemaDefinition.Create(typeof(ClassifiedRow));
            definition[nameof(ClassifiedRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Shape.Channels, Shape.Height, Shape.Width);
            definition[nameof(ClassifiedRow.Label)].ColumnType = new KeyDataViewType(typeof(uint), Classes);
            definition[nameof(ClassifiedRow.Score)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Classes);
            definition[nameof(ClassifiedRow.FeatureMap)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, mapShape.Channels, mapShape.Height, mapShape.Width);
            // LoadFromEnumerable takes a key's values 0-based (see TestViews.Labelled).
            var rows = labels.Select((label, i) => new ClassifiedRow
            {
                Image = images.AsSpan(i * Shape.Size, Shape.Size).ToArray(), Label = (uint)label,
                Score = scores.AsSpan(i * Classes, Classes).ToArray(), FeatureMap = maps.AsSpan(i * mapShape.Size, mapShape.Size).ToArray(),
            }).ToArray();
            return ml.Data.LoadFromEnumerable(rows, definition);
        }
        return (ml, classifier, Classify(Classifiers.ImageClassifierTestData.Patterns(20, 2)), Classify(Classifiers.ImageClassifierTestData.Patterns(4, 3)));
    });

    [ClassCleanup]
    public static void Free()
    {
        if (Fixture.IsValueCreated) Fixture.Value.Classifier.Dispose();
    }

    /// <summary>The estimator of each case, with the smallest options its own workout test uses, and its training and test data.</summary>
    private static (MLContext Ml, IEstimator<ITransformer> Estimator, IDataView Train, IDataView Test) Case(string name)
    {
        var (ml, classifier, train, test) = Fixture.Value;
        return name switch
        {
            "ImageClassifier" => (ml, ml.MulticlassClassification.Trainers.ImageClassifier(Classifiers.ImageClassifierTestData.QuickOptions(epochs: 1)), train, test),
            "PretrainedImageClassifier" => (ml, classifier.AsEstimator("Image", scoreColumnName: "Score2", predictedLabelColumnName: "PredictedLabel2"), train, test),
            "AdversarialTraining" => (ml, ml.MulticlassClassification.Trainers.AdversarialTraining(Quick(new AdversarialTrainingOptions { Method = AdversarialTrainingMethod.Trades }, epochs: 1)),
                RobustTask(10, 3, 1.0), RobustTask(4, 4, 1.0)),
            "Namid" => (ml, ml.MulticlassClassification.Trainers.Namid(QuickNamid(epochs: 1)), RobustTask(20, 5, 0.8), RobustTask(4, 4, 1.0)),
            "Miaed" => (ml, ml.Transforms.Defenses.Miaed(new MiaedOptions
            {
                BaseChannels = 4, LatentDimension = 8, DiscriminatorHiddenUnits = 16, SimpleNetworkHiddenUnits = [32, 16], SimpleNetworkEpochs = 5,
                SimpleNetworkLearningRate = 1e-2, Epochs = 1, BatchSize = 32, LearningRate = 1e-3, Seed = 1, TargetFalsePositiveRate = 0.05,
            }), train, test),
            "AeGan" => (ml, ml.Transforms.Defenses.AeGanPurifier(AeGanMLNetTests.Tiny with { Epochs = 1 }), train, test),
            "Saec" => (ml, ml.Transforms.Defenses.Saec(), train, test),
            "ContraNet" => (ml, ml.Transforms.Defenses.ContraNet(ContraNetTests.Tiny with { ReconstructionColumnName = "Reconstruction" }), train, test),
            "Cmag" => (ml, ml.Transforms.Defenses.Cmag(CmagMLNetTests.Tiny with { ReconstructorEpochs = 1, GlobalReconstructorEpochs = 1, ReconstructionColumnName = "CmagReconstruction" }),
                train, test),
            "FeatureSqueezing" => (ml, ml.Transforms.Defenses.FeatureSqueezing(classifier), train, test),
            _ => throw new ArgumentException($"no case '{name}'", nameof(name)),
        };
    }

    [TestMethod]
    [DataRow("ImageClassifier")]
    [DataRow("PretrainedImageClassifier")]
    [DataRow("AdversarialTraining")]
    [DataRow("Namid")]
    [DataRow("Miaed")]
    [DataRow("AeGan")]
    [DataRow("Saec")]
    [DataRow("ContraNet")]
    [DataRow("Cmag")]
    [DataRow("FeatureSqueezing")]
    public void TheFittedModelOutlivesTheCallersDisposeScope(string name)
    {
        var (ml, estimator, train, test) = Case(name);
        ITransformer model;
        MLNetWorkout.Table inside;
        using (torch.NewDisposeScope())
        {
            model = estimator.Fit(train);
            inside = MLNetWorkout.ReadAll(model.Transform(test));
        }
        ITransformer? loaded = null;
        string folder = Directory.CreateTempSubdirectory("mldefense-scope-").FullName;
        try
        {
            MLNetWorkout.AssertSameData(inside, MLNetWorkout.ReadAll(model.Transform(test)), $"{name}: Transform after the Fit's dispose scope ended");
            string zip = Path.Combine(folder, "model.zip");
            ml.Model.Save(model, train.Schema, zip);
            // Loading inside a scope that then ends must not free the loaded networks either.
            using (torch.NewDisposeScope()) loaded = new MLContext(seed: 1).Model.Load(zip, out _);
            MLNetWorkout.AssertSameData(inside, MLNetWorkout.ReadAll(loaded.Transform(test)), $"{name}: saved after the scope, loaded inside another one");
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
            (model as IDisposable)?.Dispose();
            Directory.Delete(folder, recursive: true);
        }
    }
}

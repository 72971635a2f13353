using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.MLNet;
using MLDefense.Tests.MLNet;
using static MLDefense.Tests.Classifiers.ImageClassifierTestData;

namespace MLDefense.Tests.Classifiers;

/// <summary>Every bad input is rejected before any training, with a message naming the column, the expectation and what was found.</summary>
[TestClass]
public sealed class ImageClassifierBadInputTests
{
    private static readonly ImageShape Mnist = new(1, 28, 28);
    private static readonly MLContext Ml = new(seed: 1);

    private static void AssertRejected(IDataView data, string column, string[] fragments, Action<ImageClassifierOptions>? configure = null, bool schemaLevel = false)
    {
        var recorder = new Recorder<ClassifierTrainingProgress>();
        var options = QuickOptions();
        options.Progress = recorder;
        configure?.Invoke(options);
        var estimator = Ml.MulticlassClassification.Trainers.ImageClassifier(options);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => estimator.Fit(data));
        StringAssert.Contains(ex.Message, $"Column '{column}'");
        foreach (var fragment in fragments) StringAssert.Contains(ex.Message, fragment);
        Assert.AreEqual(0, recorder.Reports.Count, "nothing was trained");
        if (schemaLevel)
        {
            var schemaError = Assert.ThrowsExactly<ArgumentException>(() => estimator.GetOutputSchema(SchemaShapes.From(data.Schema)));
            StringAssert.Contains(schemaError.Message, $"Column '{column}'");
        }
    }

    private sealed class LabelOnly { public uint Label { get; set; } }
    private sealed class ScalarImage { public float Image { get; set; } public int Label { get; set; } }
    private sealed class FlatImage { [VectorType(784)] public float[] Image { get; set; } = new float[784]; public int Label { get; set; } }
    private sealed class FloatLabel { [VectorType(1, 28, 28)] public float[] Image { get; set; } = new float[784]; public float Label { get; set; } }
    private sealed class IntLabel { [VectorType(1, 28, 28)] public float[] Image { get; set; } = new float[784]; public int Label { get; set; } }

    private static IDataView IntLabels(float[] pixels, int[] labels) =>
        Ml.Data.LoadFromEnumerable(labels.Select((label, i) => new IntLabel { Image = pixels.AsSpan(i * 784, 784).ToArray(), Label = label }).ToArray());

    [TestMethod]
    public void MissingImageColumn() =>
        AssertRejected(Ml.Data.LoadFromEnumerable(new[] { new LabelOnly { Label = 1 } }), "Image", ["not found", "1x28x28", "MnistC1"], schemaLevel: true);

    [TestMethod]
    public void MissingLabelColumn() =>
        AssertRejected(TestViews.Images(new float[2 * 784], Mnist), "Label", ["not found", "Int32"], schemaLevel: true);

    [TestMethod]
    public void ImageColumnOfTheWrongType() =>
        AssertRejected(Ml.Data.LoadFromEnumerable(new[] { new ScalarImage(), new ScalarImage { Label = 1 } }), "Image", ["vector image 1x28x28", "found Single"], schemaLevel: true);

    [TestMethod]
    public void FlatVectorWithoutImageDimensions() =>
        AssertRejected(Ml.Data.LoadFromEnumerable(new[] { new FlatImage(), new FlatImage { Label = 1 } }), "Image", ["1x28x28", "[784]"]);

    [TestMethod]
    public void LabelColumnOfTheWrongType() =>
        AssertRejected(Ml.Data.LoadFromEnumerable(new[] { new FloatLabel(), new FloatLabel { Label = 1 } }), "Label", ["Int32", "found Single"], schemaLevel: true);

    [TestMethod]
    public void ImageShapeTheArchitectureCannotTake()
    {
        // A schema shape carries no vector sizes, so the shape is checked at Fit.
        AssertRejected(Patterns(2, 1, new ImageShape(3, 32, 32)), "Image", ["1x28x28", "MnistC1", "found 3x32x32"]);
        AssertRejected(Patterns(2, 1), "Image", ["3x32x32", "CifarC2", "found 1x28x28"], o => o.Architecture = ClassifierArchitecture.CifarC2);
        AssertRejected(Patterns(2, 1, new ImageShape(1, 32, 32)), "Image", ["DefenseGanB", "found 1x32x32"], o => o.Architecture = ClassifierArchitecture.DefenseGanB);
    }

    [TestMethod]
    public void EmptyData() =>
        AssertRejected(TestViews.Build(Mnist, [], [], classes: 3), "Image", ["at least one training row", "empty"]);

    [TestMethod]
    public void NegativeLabel() =>
        AssertRejected(IntLabels(new float[3 * 784], [0, -1, 1]), "Label", ["[0, K)", "found -1 in row 1"]);

    [TestMethod]
    public void LabelNotBelowTheClassCount() =>
        AssertRejected(TestViews.Build(Mnist, new float[3 * 784], [0, 2, 1], classes: 3), "Label", ["[0, 2)", "found 2 in row 1"], o => o.ClassCount = 2);

    [TestMethod]
    public void SingleClass() =>
        AssertRejected(TestViews.Build(Mnist, new float[3 * 784], [0, 0, 0], classes: 1), "Label", ["at least 2 classes"]);

    [TestMethod]
    public void NaNPixel()
    {
        var pixels = new float[3 * 784];
        pixels[784 + 5] = float.NaN;
        AssertRejected(TestViews.Build(Mnist, pixels, [0, 1, 2], classes: 3), "Image", ["[0, 1]", "NaN", "row 1"]);
    }

    [TestMethod]
    public void PixelOutOfRange()
    {
        var pixels = new float[3 * 784];
        pixels[2 * 784] = 1.5f;
        AssertRejected(TestViews.Build(Mnist, pixels, [0, 1, 2], classes: 3), "Image", ["[0, 1]", "1.5", "row 2"]);
    }

    [TestMethod]
    public void TransformRejectsNonFiniteImagesAndWrongColumns()
    {
        using var model = Ml.MulticlassClassification.Trainers.ImageClassifier(QuickOptions(epochs: 1)).Fit(Patterns(3, 1));
        var pixels = new float[2 * 784];
        pixels[784] = float.PositiveInfinity;
        var ex = Assert.ThrowsExactly<ArgumentException>(() => TestViews.Read(model.Transform(TestViews.Images(pixels, Mnist))));
        StringAssert.Contains(ex.Message, "Column 'Image'");
        StringAssert.Contains(ex.Message, "row 1");
        var shapeError = Assert.ThrowsExactly<ArgumentException>(() => model.Transform(Patterns(1, 1, new ImageShape(3, 28, 28))));
        StringAssert.Contains(shapeError.Message, "found 3x28x28");
    }

    [TestMethod]
    public void BadOptionsFailAtConstruction()
    {
        var trainers = Ml.MulticlassClassification.Trainers;
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainers.ImageClassifier(new ImageClassifierOptions { Epochs = 0 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainers.ImageClassifier(new ImageClassifierOptions { ValidationFraction = 1 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainers.ImageClassifier(new ImageClassifierOptions { ClassCount = 1 }));
        Assert.ThrowsExactly<ArgumentException>(() => trainers.ImageClassifier(new ImageClassifierOptions { FeatureMapColumnName = "Score" }));
        Assert.ThrowsExactly<ArgumentException>(() => trainers.ImageClassifier(
            new ImageClassifierOptions { CustomModule = (_, _) => torch.nn.Identity(), CustomModuleName = "x" }));
    }
}

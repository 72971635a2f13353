using static MLDefense.Legacy.Tests.ImageClassifierTestData;
using MLDefense.Classifiers;

using MLDefense.Data;
namespace MLDefense.Legacy.Tests;

/// <summary>Every bad input is rejected before any training, with a message naming the column, the expectation and what was found.</summary>
[TestClass]
public sealed class ImageClassifierBadInputTests
{
    private static readonly ImageShape Mnist = new(1, 28, 28);

    private static void AssertRejected(IDataView data, string column, string[] fragments, Action<ImageClassifierOptions>? configure = null, bool schemaLevel = false)
    {
        var recorder = new Recorder<ClassifierTrainingProgress>();
        var options = QuickOptions();
        options.Progress = recorder;
        configure?.Invoke(options);
        var estimator = new MLContext(1).MulticlassClassification.Trainers.ImageClassifier(options);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => estimator.Fit(data));
        StringAssert.Contains(ex.Message, $"Column '{column}'");
        foreach (var fragment in fragments) StringAssert.Contains(ex.Message, fragment);
        Assert.AreEqual(0, recorder.Reports.Count, "nothing was trained");
        if (schemaLevel)
        {
            var schemaError = Assert.ThrowsExactly<ArgumentException>(() => estimator.GetOutputSchema(data.Schema));
            StringAssert.Contains(schemaError.Message, $"Column '{column}'");
        }
    }

    private static InMemoryDataView WithColumns(params (DataViewSchema.Column Column, Array Values)[] columns) =>
        new(new DataViewSchema(columns.Select(c => c.Column)), columns.Select(c => c.Values).ToArray());

    private static DataViewSchema.Column ImageColumn(string name, ImageShape shape) => new(name, shape.VectorType, new DataViewSchema.Annotations(shape));

    [TestMethod]
    public void MissingImageColumn() =>
        AssertRejected(WithColumns((new DataViewSchema.Column("Label", NumberDataViewType.Int32), new[] { 0, 1 })),
            "Image", ["not found", "1x28x28", "MnistC1"], schemaLevel: true);

    [TestMethod]
    public void MissingLabelColumn() =>
        AssertRejected(WithColumns((ImageColumn("Image", Mnist), new float[2 * 784])), "Label", ["not found", "Int32"], schemaLevel: true);

    [TestMethod]
    public void ImageColumnOfTheWrongType() =>
        AssertRejected(WithColumns((new DataViewSchema.Column("Image", NumberDataViewType.Single), new float[] { 0, 1 }),
                                   (new DataViewSchema.Column("Label", NumberDataViewType.Int32), new[] { 0, 1 })),
            "Image", ["float vector image of 1x28x28", "found Single"], schemaLevel: true);

    [TestMethod]
    public void FlatVectorWithoutImageShape() =>
        AssertRejected(WithColumns((new DataViewSchema.Column("Image", new VectorDataViewType(784)), new float[2 * 784]),
                                   (new DataViewSchema.Column("Label", NumberDataViewType.Int32), new[] { 0, 1 })),
            "Image", ["[784]", "without an image shape"], schemaLevel: true);

    [TestMethod]
    public void LabelColumnOfTheWrongType() =>
        AssertRejected(WithColumns((ImageColumn("Image", Mnist), new float[2 * 784]),
                                   (new DataViewSchema.Column("Label", NumberDataViewType.Single), new float[] { 0, 1 })),
            "Label", ["expected Int32", "found Single"], schemaLevel: true);

    [TestMethod]
    public void ImageShapeTheArchitectureCannotTake()
    {
        AssertRejected(Patterns(2, 1, new ImageShape(3, 32, 32)), "Image", ["1x28x28 (architecture MnistC1)", "found 3x32x32"], schemaLevel: true);
        AssertRejected(Patterns(2, 1), "Image", ["3x32x32 (architecture CifarC2)", "found 1x28x28"], o => o.Architecture = ClassifierArchitecture.CifarC2, schemaLevel: true);
        AssertRejected(Patterns(2, 1, new ImageShape(1, 32, 32)), "Image", ["architecture DefenseGanB", "found 1x32x32"], o => o.Architecture = ClassifierArchitecture.DefenseGanB);
    }

    [TestMethod]
    public void EmptyData() =>
        AssertRejected(Create([], [], Mnist), "Image", ["at least one training row", "empty"]);

    [TestMethod]
    public void NegativeLabel() =>
        AssertRejected(Create(new float[3 * 784], [0, -1, 1], Mnist), "Label", ["[0, K)", "found -1 in row 1"]);

    [TestMethod]
    public void LabelNotBelowTheClassCount() =>
        AssertRejected(Create(new float[3 * 784], [0, 2, 1], Mnist), "Label", ["[0, 2)", "found 2 in row 1"], o => o.ClassCount = 2);

    [TestMethod]
    public void SingleClass() =>
        AssertRejected(Create(new float[3 * 784], [0, 0, 0], Mnist), "Label", ["at least 2 classes"]);

    [TestMethod]
    public void NaNPixel()
    {
        var pixels = new float[3 * 784];
        pixels[784 + 5] = float.NaN;
        AssertRejected(Create(pixels, [0, 1, 2], Mnist), "Image", ["[0, 1]", "NaN", "row 1"]);
    }

    [TestMethod]
    public void PixelOutOfRange()
    {
        var pixels = new float[3 * 784];
        pixels[2 * 784] = 1.5f;
        AssertRejected(Create(pixels, [0, 1, 2], Mnist), "Image", ["[0, 1]", "1.5", "row 2"]);
    }

    [TestMethod]
    public void TransformRejectsNonFiniteImagesAndWrongColumns()
    {
        using var model = new MLContext(1).MulticlassClassification.Trainers.ImageClassifier(QuickOptions(epochs: 1)).Fit(Patterns(3, 1));
        var pixels = new float[2 * 784];
        pixels[784] = float.PositiveInfinity;
        var ex = Assert.ThrowsExactly<ArgumentException>(() => model.Transform(Create(pixels, [0, 1], Mnist)).GetBatches(10).ToList());
        StringAssert.Contains(ex.Message, "Column 'Image'");
        StringAssert.Contains(ex.Message, "row 1");
        var shapeError = Assert.ThrowsExactly<ArgumentException>(() => model.Transform(Patterns(1, 1, new ImageShape(3, 28, 28))));
        StringAssert.Contains(shapeError.Message, "found 3x28x28");
    }

    [TestMethod]
    public void BadOptionsFailAtConstruction()
    {
        var ml = new MLContext(1);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { Epochs = 0 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { ValidationFraction = 1 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { ClassCount = 1 }));
        Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { FeatureMapColumnName = "Score" }));
        Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(
            new ImageClassifierOptions { CustomModule = (_, _) => torch.nn.Identity(), CustomModuleName = "x" }));
    }
}

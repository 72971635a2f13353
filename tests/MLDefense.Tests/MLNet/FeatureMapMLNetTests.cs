using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Classifiers;

namespace MLDefense.Tests.MLNet;

/// <summary>The image classifier's feature-map column on real ML.NET: what CMAG reads.</summary>
[TestClass]
public sealed class FeatureMapMLNetTests
{
    [TestMethod]
    public void TheClassifierEmitsItsLastConvolutionalFeatureMapAndKeepsItThroughSaveAndLoad()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.TakeRows(ml.Data.LoadKnownDataset("mnist", train: true), 200);
        var test = ml.Data.TakeRows(ml.Data.LoadKnownDataset("mnist", train: false), 20);
        var noLabel = ml.Transforms.DropColumns("Label").Fit(train).Transform(train);
        var estimator = ml.MulticlassClassification.Trainers.ImageClassifier(epochs: 1, batchSize: 32, featureMapColumnName: "FeatureMap");
        var promised = estimator.GetOutputSchema(MLDefense.MLNet.SchemaShapes.From(train.Schema));
        Assert.IsTrue(promised.Any(c => c.Name == "FeatureMap" && c.Kind == SchemaShape.Column.VectorKind.Vector && c.ItemType == NumberDataViewType.Single),
            "the estimator promises a Single vector FeatureMap column");
        var (model, output) = MLNetWorkout.Run(ml, estimator, train, test, [new("no label column", noLabel, "'Label'")]);
        using (model)
        {
            Assert.AreEqual("Vector<Single, 64, 11, 11>", output.Schema["FeatureMap"].Type.ToString(), "C1's last convolution: 64 channels of 11×11");
            CollectionAssert.AreEqual(new[] { 64, 11, 11 }, model.FeatureMapShape!.ToArray());
            Assert.AreEqual("FeatureMap", model.FeatureMapColumnName);

            // The column holds f_fm(x): the network's Features trunk on the image, as the differentiable API computes it.
            var images = output.GetColumn<VBuffer<float>>("Image").Select(v => v.DenseValues().ToArray()).ToArray();
            var column = output.GetColumn<VBuffer<float>>("FeatureMap").Select(v => v.DenseValues().ToArray()).ToArray();
            using var batch = torch.tensor(images.SelectMany(i => i).ToArray(), [images.Length, 1, 28, 28]);
            using var expected = model.FeatureMap(batch);
            var values = expected.contiguous().data<float>().ToArray();
            for (int row = 0; row < images.Length; row++)
            {
                var want = values.AsSpan(row * 7744, 7744).ToArray();
                CollectionAssert.AreEqual(want, column[row], $"row {row}: the FeatureMap column equals FeatureMap(images)");
            }
            Assert.IsTrue(column.Any(r => r.Any(v => v > 0)) && column.All(r => r.All(v => v >= 0)), "C1's trunk ends with a ReLU: non-negative, not all zero");
        }
    }

    [TestMethod]
    public void ACustomModuleThatIsNotAFeatureMapClassifierCannotEmitOne()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.TakeRows(ml.Data.LoadKnownDataset("mnist", train: true), 50);
        var estimator = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            CustomModule = (shape, classes) => torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(shape.Size, classes)),
            FeatureMapColumnName = "FeatureMap", Epochs = 1, Seed = 1,
        });
        var error = Assert.ThrowsExactly<NotSupportedException>(() => estimator.Fit(train));
        StringAssert.Contains(error.Message, "FeatureMapClassifier");
        StringAssert.Contains(error.Message, "CMAG");
    }
}

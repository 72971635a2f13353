using MLDefense.Legacy;
using MLDefense.Legacy.Tests;
using MLDefense.Defenses;
using MLDefense.Classifiers;

namespace MLDefense.Tests;

/// <summary>The shape a user writes (DESIGN.md, "What a user writes"), end to end on a slice of real MNIST.</summary>
[TestClass]
public sealed class EndToEndPipelineTests
{
    public sealed class DigitImage
    {
        [ImageType(1, 28, 28)] public float[] Image { get; set; } = [];
    }

    public sealed class DefendedPrediction
    {
        [VectorType(10)] public float[] Score { get; set; } = [];
        public int PredictedLabel { get; set; }
        public float SaecScore { get; set; }
        public bool SaecFlag { get; set; }
    }

    [TestMethod]
    public void DefendedPipelineTrainsSavesLoadsAndServes()
    {
        var ml = new MLContext(seed: 1);
        var all = ml.Data.LoadKnownDataset(KnownDatasets.Mnist, train: true);
        var train = ml.Data.TakeRows(all, 600);
        var test = ml.Data.SkipRows(ml.Data.TakeRows(all, 700), 600);

        var pipeline = ml.Transforms.Defenses.Saec()
            .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
            {
                Architecture = ClassifierArchitecture.MnistC1, Epochs = 2, BatchSize = 32, ClassCount = 10, Seed = 1,
            }));
        using var model = pipeline.Fit(train);

        var output = model.Transform(test);
        Assert.IsTrue(pipeline.GetOutputSchema(train.Schema).SameAs(output.Schema), "the chain promises the schema it produces");
        var predicted = output.GetBatches(1000, ["PredictedLabel", "Label"]).Single();
        double accuracy = predicted.Get<int>("PredictedLabel").Zip(predicted.Get<int>("Label")).Count(p => p.First == p.Second) / 100.0;
        Assert.IsTrue(accuracy > 0.6, $"accuracy {accuracy} after 2 epochs on 600 images is well above chance (0.1)");

        var path = Path.Combine(Path.GetTempPath(), $"defended-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, train.Schema, path);
            using var loaded = (TransformerChain<ITransformer>)ml.Model.Load(path, out var inputSchema);
            Assert.IsTrue(inputSchema.SameAs(train.Schema));
            Workout.AssertSameData(output, loaded.Transform(test), 0, "the reloaded pipeline");

            var engine = ml.Model.CreatePredictionEngine<DigitImage, DefendedPrediction>(loaded);
            var rows = ml.Data.CreateEnumerable<DigitImage>(test, ignoreMissingColumns: true).Take(5).ToList();
            var expected = ml.Data.CreateEnumerable<DefendedPrediction>(output, ignoreMissingColumns: true).Take(5).ToList();
            for (int i = 0; i < rows.Count; i++)
            {
                var p = engine.Predict(rows[i]);
                Assert.AreEqual(expected[i].PredictedLabel, p.PredictedLabel);
                Assert.AreEqual(expected[i].SaecScore, p.SaecScore);
                Assert.AreEqual(expected[i].SaecFlag, p.SaecFlag);
                Assert.AreEqual(1.0, p.Score.Sum(), 1e-5);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Defenses;

namespace MLDefense.Tests.MLNet;

/// <summary>SAEC as a real ML.NET component: the workout, PredictionEngine, and ML.NET's own trainers around it.</summary>
[TestClass]
public sealed class SaecMLNetTests
{
    internal const int Size = 3 * 32 * 32;

    /// <summary>A CIFAR-10 image row as ExtractPixels would make it: planar [3, 32, 32] in [0, 1].</summary>
    internal sealed class ImageRow
    {
        [VectorType(3, 32, 32)]
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }
    }

    private sealed class SaecOutput
    {
        public float SaecScore { get; set; }
        public bool SaecFlag { get; set; }
    }

    /// <summary>The first <paramref name="count"/> images of the CIFAR-10 subset (../shared/datasets; one file per split), with uniform noise ±<paramref name="noise"/> on every second one.</summary>
    internal static ImageRow[] Cifar(bool train, int count, float noise = 0)
    {
        // Read from the CIFAR-10 binary records themselves (byte / 255), not through a data view.
        var files = MLDefense.Data.KnownDatasets.Resolve(MLDefense.Data.KnownDatasets.Cifar10Subset, null);
        var (records, _, labels) = MLDefense.Data.Cifar10Records.Read([files.ImagesPath(train)]);
        var pixels = records[0].AsSpan(0, count * MLDefense.Data.Cifar10Records.RecordBytes).ToArray()
            .Where((_, i) => i % MLDefense.Data.Cifar10Records.RecordBytes != 0).Select(b => b / 255f).ToArray();
        var random = new Random(7);
        return Enumerable.Range(0, count).Select(i => new ImageRow
        {
            Image = pixels.AsSpan(i * Size, Size).ToArray().Select(p => noise > 0 && i % 2 == 1 ? Math.Clamp(p + (2 * random.NextSingle() - 1) * noise, 0f, 1f) : p).ToArray(),
            Label = (uint)labels[i],
        }).ToArray();
    }

    [TestMethod]
    public void WorksOutOnRealMLNet()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Cifar(train: true, 300));
        var test = ml.Data.LoadFromEnumerable(Cifar(train: false, 40, noise: 16f / 255));
        var estimator = ml.Transforms.Defenses.Saec(imageColumnName: "Image");

        var scaled = ml.Data.LoadFromEnumerable(Cifar(train: true, 60).Select(r => new ImageRow { Image = r.Image.Select(p => p * 255).ToArray() }));
        var flat = ml.Data.LoadFromEnumerable(Cifar(train: true, 60).Select(r => new FlatRow { Image = r.Image }));
        var (model, output) = MLNetWorkout.Run(ml, estimator, train, test,
        [
            new("a missing image column", ml.Data.LoadFromEnumerable(new[] { new { Other = 1f } }), "'Image'"),
            new("a scalar image column", ml.Data.LoadFromEnumerable(new[] { new ScalarRow() }), "'Image'"),
            new("pixels in 0-255", scaled, "scaleImage", SchemaProblem: false),
            new("a vector without [C, H, W] dimensions", flat, "[C, H, W]", SchemaProblem: false),
        ]);

        // The detector works through the cursor: noisy test images (odd rows) score above their clean neighbours.
        var scores = output.GetColumn<float>("SaecScore").ToArray();
        double clean = scores.Where((_, i) => i % 2 == 0).Average(), noisy = scores.Where((_, i) => i % 2 == 1).Average();
        Assert.IsTrue(noisy > clean, $"noisy images should score higher: clean {clean:F4}, noisy {noisy:F4}");
        Assert.AreEqual(0.01, model.Calibration.TargetFalsePositiveRate);
        CollectionAssert.AreEqual(scores.Select(s => s > model.Threshold).ToArray(), output.GetColumn<bool>("SaecFlag").ToArray());
    }

    [TestMethod]
    public void PredictionEngineScoresOneImageAsTheDataViewDoes()
    {
        var ml = new MLContext(seed: 1);
        var rows = Cifar(train: true, 120, noise: 16f / 255);
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.Defenses.Saec().Fit(data);
        var batch = ml.Data.CreateEnumerable<SaecOutput>(model.Transform(data), reuseRowObject: false).ToArray();
        var engine = ml.Model.CreatePredictionEngine<ImageRow, SaecOutput>(model);
        for (int i = 0; i < 5; i++)
        {
            var one = engine.Predict(rows[i]);
            Assert.AreEqual(batch[i].SaecScore, one.SaecScore, $"row {i}");
            Assert.AreEqual(batch[i].SaecFlag, one.SaecFlag, $"row {i}");
        }
    }

    [TestMethod]
    public void ProtectsAnMLNetTrainerAndSavesInOneZip()
    {
        // Composition (b) of the pipeline issue: SAEC before ML.NET's own LbfgsMaximumEntropy on the pixels.
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Cifar(train: true, 200));
        var test = ml.Data.LoadFromEnumerable(Cifar(train: false, 30, noise: 16f / 255));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(ml.Transforms.Defenses.Saec(imageColumnName: "Image"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new Microsoft.ML.Trainers.LbfgsMaximumEntropyMulticlassTrainer.Options
            {
                LabelColumnName = "LabelKey", FeatureColumnName = "Image", MaximumNumberOfIterations = 10, NumberOfThreads = 1,
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(train);
        var expected = MLNetWorkout.ReadAll(model.Transform(test));
        Assert.IsTrue(expected.Columns.ContainsKey("SaecFlag") && expected.Columns.ContainsKey("PredictedLabel") && expected.Columns.ContainsKey("Score"));

        string folder = Directory.CreateTempSubdirectory("mldefense-compose-").FullName;
        try
        {
            string zip = Path.Combine(folder, "model.zip");
            ml.Model.Save(model, train.Schema, zip);
            MLNetWorkout.AssertSameInFreshProcess(ml, zip, test, expected, "SAEC + LbfgsMaximumEntropy in a fresh process");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed class ScalarRow
    {
        public float Image { get; set; }
    }

    private sealed class FlatRow
    {
        [VectorType(Size)]
        public float[] Image { get; set; } = [];
    }
}

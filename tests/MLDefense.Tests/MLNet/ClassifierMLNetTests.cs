using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLDefense.Defenses;
using MLDefense.Classifiers;
using ClassifierArchitecture = MLDefense.Classifiers.ClassifierArchitecture;
using ImageClassifierOptions = MLDefense.Classifiers.ImageClassifierOptions;

namespace MLDefense.Tests.MLNet;

/// <summary>
/// The image-classifier trainer on real ML.NET, and the defended pipeline of the pipeline issue's composition (a):
/// PNG files → LoadImages → ResizeImages → ConvertToGrayscale → ExtractPixels → SAEC → AE-GAN+sr → classifier → MIAED → MapKeyToValue.
/// </summary>
[TestClass]
public sealed class ClassifierMLNetTests
{
    private static ImageClassifierOptions Quick(string image = "Image") => new()
    {
        ImageColumnName = image, LabelColumnName = "LabelKey", Architecture = ClassifierArchitecture.MnistC1, Epochs = 1, BatchSize = 32, Seed = 3,
    };

    [TestMethod]
    public void WorksOutOnRealMLNet()
    {
        var ml = new MLContext(seed: 1);
        var keys = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: true, 200)));
        var train = keys.Transform(ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: true, 200)));
        var test = keys.Transform(ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: false, 30)));
        var scaled = keys.Transform(ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: true, 30).Select(r => new AeGanMLNetTests.DigitRow { Image = r.Image.Select(p => p * 255).ToArray(), Label = r.Label })));
        var (model, output) = MLNetWorkout.Run(ml, ml.MulticlassClassification.Trainers.ImageClassifier(Quick()), train, test,
        [
            new("no label column", ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: true, 30)), "'LabelKey'"),
            new("pixels in 0-255", scaled, "scaleImage", SchemaProblem: false),
        ]);
        using (model)
        {
            Assert.AreEqual("Key<UInt32, 0-9>", output.Schema["PredictedLabel"].Type.ToString());
            Assert.IsTrue(output.Schema["PredictedLabel"].HasKeyValues(NumberDataViewType.UInt32), "PredictedLabel carries the label's key values (the digits, UInt32)");
            // ML.NET's own evaluator reads the columns.
            var metrics = ml.MulticlassClassification.Evaluate(output, labelColumnName: "LabelKey");
            Assert.IsTrue(metrics.MicroAccuracy > 0.5, $"one epoch of C1 on 200 digits should beat chance clearly: {metrics.MicroAccuracy:P1}");
        }
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
        public uint Label { get; set; }
    }

    private sealed class Prediction
    {
        public uint PredictedLabel { get; set; }
        public float SaecScore { get; set; }
        public bool AeGanFlag { get; set; }
        public bool MiaedFlag { get; set; }
    }

    [TestMethod]
    public void ADefendedPipelineFromPngFilesSavesAndLoadsInAFreshProcess()
    {
        string folder = Directory.CreateTempSubdirectory("mldefense-pngs-").FullName;
        try
        {
            var digits = AeGanMLNetTests.Mnist(train: true, 120);
            var rows = digits.Select((d, i) =>
            {
                string name = $"{i:D3}.png";
                MLDefense.Torch.Images.WritePng(Path.Combine(folder, name), d.Image.Select(p => (byte)MathF.Round(p * 255)).ToArray(), 28, 28, 1);
                return new PathRow { Path = name, Label = d.Label };
            }).ToArray();

            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(rows);
            var pipeline = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
                .Append(ml.Transforms.LoadImages("Bitmap", folder, "Path"))
                .Append(ml.Transforms.ResizeImages("Bitmap", 28, 28))
                .Append(ml.Transforms.ConvertToGrayscale("Bitmap"))
                .Append(ml.Transforms.ExtractPixels("Image", "Bitmap", ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255))
                .Append(ml.Transforms.Defenses.Saec(imageColumnName: "Image"))
                .Append(ml.Transforms.Defenses.AeGanPurifier(AeGanMLNetTests.Tiny with { ImageColumnName = "Image", Epochs = 1 }))
                .Append(ml.MulticlassClassification.Trainers.ImageClassifier(Quick("Purified")))
                .Append(ml.Transforms.Defenses.Miaed(new MiaedOptions
                {
                    BaseChannels = 4, LatentDimension = 8, DiscriminatorHiddenUnits = 16,
                    SimpleNetworkHiddenUnits = [32, 16], SimpleNetworkEpochs = 3, Epochs = 1, BatchSize = 32, Seed = 1,
                    ImageColumnName = "Purified", ProbabilitiesColumnName = "Score", LabelColumnName = "LabelKey",
                }))
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
            var model = pipeline.Fit(data);
            var test = ml.Data.LoadFromEnumerable(rows.Take(20));
            var expected = MLNetWorkout.ReadAll(model.Transform(test));
            foreach (var column in new[] { "SaecScore", "SaecFlag", "Purified", "AeGanScore", "AeGanFlag", "Score", "PredictedLabel", "MiaedScore", "MiaedFlag" })
                Assert.IsTrue(expected.Columns.ContainsKey(column), $"the defended pipeline adds {column}");
            Assert.IsTrue(expected.Columns["PredictedLabel"].All(v => v is uint l && l <= 9), "MapKeyToValue gives the digits back");

            string zip = Path.Combine(folder, "defended.zip");
            ml.Model.Save(model, data.Schema, zip);
            var compared = expected with { Columns = new(expected.Columns) };
            compared.Columns.Remove("Bitmap"); // an image column is not written to a binary data file
            MLNetWorkout.AssertSameInFreshProcess(ml, zip, test, compared, "the defended pipeline in a fresh process");

            // PredictionEngine, as the web sample uses it: one image through the whole pipeline.
            var loaded = new MLContext().Model.Load(zip, out _);
            using var engine = ml.Model.CreatePredictionEngine<PathRow, Prediction>(loaded);
            var one = engine.Predict(rows[0]);
            Assert.AreEqual((uint)expected.Columns["PredictedLabel"][0], one.PredictedLabel);
            Assert.AreEqual((float)expected.Columns["SaecScore"][0], one.SaecScore);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

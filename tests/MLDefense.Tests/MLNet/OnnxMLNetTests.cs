using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using MLDefense.Defenses;

namespace MLDefense.Tests.MLNet;

/// <summary>
/// Composition (c) of the pipeline issue: a pre-trained ONNX classifier protected — an ML.NET classifier exported with
/// <c>ml.Model.ConvertToOnnx</c>, run by <c>ApplyOnnxModel</c>, SAEC before it and MIAED reading its probabilities.
/// </summary>
[TestClass]
public sealed class OnnxMLNetTests
{
    [TestMethod]
    public void AnOnnxClassifierIsProtectedAndTheZipLoadsInAFreshProcess()
    {
        string folder = Directory.CreateTempSubdirectory("mldefense-onnx-").FullName;
        try
        {
            var ml = new MLContext(seed: 1);
            var keys = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label");
            var train = keys.Fit(ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: true, 200))).Transform(ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: true, 200)));
            var test = keys.Fit(train).Transform(ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: false, 20)));

            // The "pre-trained" classifier: logistic regression on the flattened pixels, exported to ONNX.
            var classifier = ml.Transforms.Concatenate("Features", "Image")
                .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
                {
                    LabelColumnName = "LabelKey", FeatureColumnName = "Features", MaximumNumberOfIterations = 20, NumberOfThreads = 1,
                })).Fit(train);
            string onnx = Path.Combine(folder, "classifier.onnx");
            // ML.NET's exporter keeps the label as a graph input (its multiclass graph casts it); the pipeline feeds it
            // the raw label, which inference does not use.
            var exported = ml.Transforms.SelectColumns("Image", "Label").Fit(train).Transform(train);
            using (var stream = File.Create(onnx)) ml.Model.ConvertToOnnx(classifier, exported, stream);

            // ApplyOnnxModel's estimator promises a column "Score.output" (the ONNX output's name) while its transformer
            // names it "Score" (ML.NET 5.0.1 trims the suffix of ML.NET-exported models only at Transform), so an
            // EstimatorChain cannot check MIAED against it: the pieces are fitted in turn and chained as transformers.
            var saec = ml.Transforms.Defenses.Saec(imageColumnName: "Image").Fit(train);
            var onnxClassifier = ml.Transforms.ApplyOnnxModel(outputColumnNames: ["Score.output"], inputColumnNames: ["Image", "Label"], modelFile: onnx).Fit(train);
            var classified = new TransformerChain<ITransformer>(saec, onnxClassifier);
            var miaed = ml.Transforms.Defenses.Miaed(new MiaedOptions
            {
                BaseChannels = 4, LatentDimension = 8, DiscriminatorHiddenUnits = 16,
                SimpleNetworkHiddenUnits = [32, 16], SimpleNetworkEpochs = 3, Epochs = 1, BatchSize = 32, Seed = 1,
                ImageColumnName = "Image", ProbabilitiesColumnName = "Score", LabelColumnName = "LabelKey",
            }).Fit(classified.Transform(train));
            var model = classified.Append(miaed);
            var expected = MLNetWorkout.ReadAll(model.Transform(test));
            var onnxScores = expected.Columns["Score"].Cast<float[]>().ToArray();
            var mlnetScores = MLNetWorkout.ReadAll(classifier.Transform(test)).Columns["Score"].Cast<float[]>().ToArray();
            for (int i = 0; i < onnxScores.Length; i++)
                Assert.IsTrue(onnxScores[i].Zip(mlnetScores[i]).All(p => Math.Abs(p.First - p.Second) < 1e-4),
                    $"row {i}: the ONNX model gives the ML.NET classifier's probabilities");
            Assert.IsTrue(expected.Columns.ContainsKey("SaecFlag") && expected.Columns.ContainsKey("MiaedFlag"));

            string zip = Path.Combine(folder, "protected.zip");
            ml.Model.Save(model, train.Schema, zip);
            MLNetWorkout.AssertSameInFreshProcess(ml, zip, test, expected, "SAEC + ONNX classifier + MIAED in a fresh process");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

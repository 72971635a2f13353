using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using MLDefense.Defenses;

namespace MLDefense.Tests.MLNet;

/// <summary>MIAED as a real ML.NET component, reading the probabilities of ML.NET's own LbfgsMaximumEntropy.</summary>
[TestClass]
public sealed class MiaedMLNetTests
{
    private static MiaedOptions Tiny => new()
    {
        BaseChannels = 4, LatentDimension = 8, DiscriminatorHiddenUnits = 16,
        SimpleNetworkHiddenUnits = [32, 16], SimpleNetworkEpochs = 5, SimpleNetworkLearningRate = 1e-2,
        Epochs = 1, BatchSize = 32, LearningRate = 1e-3, Seed = 1, TargetFalsePositiveRate = 0.05,
        ImageColumnName = "Image", ProbabilitiesColumnName = "Score", LabelColumnName = "LabelKey",
    };

    /// <summary>MNIST rows with a key label and the probabilities of a logistic-regression classifier on the pixels.</summary>
    private static (IDataView Train, IDataView Test) Classified(MLContext ml)
    {
        var train = ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: true, 200));
        var test = ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: false, 20));
        var classifier = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
            {
                LabelColumnName = "LabelKey", FeatureColumnName = "Image", MaximumNumberOfIterations = 20, NumberOfThreads = 1,
            }))
            .Fit(train);
        return (classifier.Transform(train), classifier.Transform(test));
    }

    [TestMethod]
    public void WorksOutOnRealMLNetAfterAnMLNetTrainer()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = Classified(ml);
        var noProbabilities = ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: true, 30));
        var (model, output) = MLNetWorkout.Run(ml, ml.Transforms.Defenses.Miaed(Tiny), train, test,
        [
            new("no probabilities column", noProbabilities, "'Score'"),
            new("the label as Single", ml.Transforms.Conversion.ConvertType("LabelKey", "Label", DataKind.Single).Fit(train).Transform(train), "'LabelKey'"),
        ]);
        using (model)
        {
            var scores = output.GetColumn<float>("MiaedScore").ToArray();
            Assert.IsTrue(scores.All(s => s >= 0 && float.IsFinite(s)), "JS divergences are finite and non-negative");
            Assert.AreEqual(10, model.ClassCount);
        }
    }

    [TestMethod]
    public void AModelOfTheFormerDeepInfoMaxStyleNetworksIsRefusedWithAClearMessage()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = Classified(ml);
        string folder = Path.Combine(Path.GetTempPath(), $"miaed-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            using (var model = ml.Transforms.Defenses.Miaed(Tiny).Fit(train))
            {
                Assert.AreEqual(4, model.Info.BaseChannels);
                StringAssert.StartsWith(model.Info.Networks, "Table 3:");
                ml.Model.Save(model, train.Schema, Path.Combine(folder, "miaed.zip"));
            }
            // A model saved before MIAED followed Table 3 had no "Networks" in its record (and "Downsamplings" instead).
            string old = DamagedModels.Rewrite(Path.Combine(folder, "miaed.zip"), "deep-infomax", (name, bytes) =>
            {
                if (!name.EndsWith("model.json", StringComparison.Ordinal)) return null;
                var info = System.Text.Json.Nodes.JsonNode.Parse(bytes)!.AsObject();
                info.Remove("Networks");
                info["Downsamplings"] = 2;
                return System.Text.Encoding.UTF8.GetBytes(info.ToJsonString());
            });
            string messages = DamagedModels.Messages(DamagedModels.LoadFails(old));
            StringAssert.Contains(messages, "Deep InfoMax-style networks");
            StringAssert.Contains(messages, "fit the detector again");
            string wider = DamagedModels.Rewrite(Path.Combine(folder, "miaed.zip"), "wider", (name, bytes) =>
                name.EndsWith("model.json", StringComparison.Ordinal)
                    ? System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(bytes).Replace("\"BaseChannels\": 4", "\"BaseChannels\": 8", StringComparison.Ordinal))
                    : null);
            StringAssert.Contains(DamagedModels.Messages(DamagedModels.LoadFails(wider)), "base channels 4 but the model has 8");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

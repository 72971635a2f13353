using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Defenses;

namespace MLDefense.Tests.MLNet;

/// <summary>
/// The MixDefense cascade combiner (Fig. 1): its truth table, the ML.NET workout with a fresh-process load, and the whole cascade
/// composed as a plain pipeline — SAEC → classifier → a post-classifier detector (Feature Squeezing standing in for ContraNet) →
/// combiner — saved in one zip.
/// </summary>
[TestClass]
public sealed class MixDefenseCascadeTests
{
    private sealed class FlagsRow
    {
        public bool SaecFlag { get; set; }
        public bool ContraNetFlag { get; set; }
    }

    private sealed class CascadeOutput
    {
        public bool MixDefenseFlag { get; set; }
        public string MixDefenseReason { get; set; } = "";
    }

    private static FlagsRow[] TruthTable => [new() { }, new() { SaecFlag = true }, new() { ContraNetFlag = true }, new() { SaecFlag = true, ContraNetFlag = true }];

    [TestMethod]
    public void CombinesTheLayersAsTheCascadeDecides()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Repeat(TruthTable, 100).SelectMany(t => t));
        var (model, output) = MLNetWorkout.Run(ml, ml.Transforms.Defenses.MixDefense(), data, data,
        [
            new("no second-layer flag", ml.Data.LoadFromEnumerable(new[] { new { SaecFlag = true } }), "'ContraNetFlag'"),
            new("a float first-layer flag", ml.Data.LoadFromEnumerable(new[] { new { SaecFlag = 1f, ContraNetFlag = true } }), "expected a Boolean flag"),
        ]);
        var rows = ml.Data.CreateEnumerable<CascadeOutput>(output, reuseRowObject: false).Take(4).ToArray();
        CollectionAssert.AreEqual(new[] { false, true, true, true }, rows.Select(r => r.MixDefenseFlag).ToArray());
        CollectionAssert.AreEqual(new[] { "", "saec", "contranet", "saec" }, rows.Select(r => r.MixDefenseReason).ToArray());

        var engine = ml.Model.CreatePredictionEngine<FlagsRow, CascadeOutput>(model);
        var one = engine.Predict(new FlagsRow { ContraNetFlag = true });
        Assert.IsTrue(one.MixDefenseFlag);
        Assert.AreEqual("contranet", one.MixDefenseReason);
    }

    [TestMethod]
    public void RejectsColumnNamesThatCannotWork()
    {
        var ml = new MLContext(seed: 1);
        Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.Defenses.MixDefense(smallPerturbationFlagColumnName: "SaecFlag"));
        Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.Defenses.MixDefense(smallPerturbationReason: "saec"));
        Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.Defenses.MixDefense(flagColumnName: "R", reasonColumnName: "R"));
    }

    [TestMethod]
    public void ComposesSaecClassifierDetectorAndCombinerInOnePipelineAndZip()
    {
        var (ml, classifier, trainRows, testRows) = FeatureSqueezingTests.Fixture.Value;
        var train = ml.Data.LoadFromEnumerable(trainRows.Take(300));
        // Clean test digits and the same digits with strong uniform noise (what SAEC's noise-level statistic catches).
        var random = new Random(3);
        var noisy = testRows.Take(30).Select(r => new FeatureSqueezingTests.DigitRow
        {
            Image = r.Image.Select(p => Math.Clamp(p + (2 * random.NextSingle() - 1) * 0.3f, 0f, 1f)).ToArray(), Label = r.Label,
        }).ToArray();
        var test = ml.Data.LoadFromEnumerable(testRows.Take(30).Concat(noisy));

        var pipeline = ml.Transforms.Defenses.Saec()
            .Append(classifier.AsEstimator("Image"))
            .Append(ml.Transforms.Defenses.FeatureSqueezing(classifier))
            .Append(ml.Transforms.Defenses.MixDefense(smallPerturbationFlagColumnName: "FeatureSqueezingFlag", smallPerturbationReason: "fs"));
        var model = pipeline.Fit(train);
        var output = model.Transform(test);
        var columns = TestViews.Read(output);
        var saec = columns.Bools("SaecFlag");
        var fs = columns.Bools("FeatureSqueezingFlag");
        var flag = columns.Bools("MixDefenseFlag");
        var reason = output.GetColumn<ReadOnlyMemory<char>>("MixDefenseReason").Select(m => m.ToString()).ToArray();
        for (int i = 0; i < flag.Length; i++)
        {
            Assert.AreEqual(saec[i] || fs[i], flag[i], $"row {i}");
            Assert.AreEqual(saec[i] ? "saec" : fs[i] ? "fs" : "", reason[i], $"row {i}");
        }
        Assert.IsTrue(saec.Skip(30).Count(f => f) >= 25, $"SAEC flags the noisy digits: {saec.Skip(30).Count(f => f)} of 30");
        Assert.IsTrue(flag.Take(30).Count(f => f) <= 8, $"the cascade lets most clean digits through: {flag.Take(30).Count(f => f)} of 30 flagged");
        Assert.IsTrue(columns.Floats("Score").Length == 60 * 10, "the classifier's Score column is in the output");

        var expected = MLNetWorkout.ReadAll(output);
        string folder = Directory.CreateTempSubdirectory("mldefense-mixdefense-").FullName;
        try
        {
            string zip = Path.Combine(folder, "model.zip");
            ml.Model.Save(model, train.Schema, zip);
            MLNetWorkout.AssertSameInFreshProcess(ml, zip, test, expected, "SAEC + classifier + Feature Squeezing + MixDefense in a fresh process");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

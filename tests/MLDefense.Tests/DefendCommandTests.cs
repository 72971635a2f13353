using System.Text.Json.Nodes;
using MLDefense.Data;
using MLDefense.Jobs;
using static MLDefense.Tests.CliRunner;

namespace MLDefense.Tests;

/// <summary><c>mldefense defend</c>, the main job, on a small synthetic MNIST-shaped dataset with one epoch of everything.</summary>
[TestClass]
public sealed class DefendCommandTests
{
    private static string temp = "";

    [ClassInitialize]
    public static void CreateData(TestContext _)
    {
        temp = Directory.CreateTempSubdirectory("mldefense-defend-").FullName;
        SyntheticIdx.Write(Path.Combine(temp, "data", KnownDatasets.Mnist), trainRows: 400, testRows: 60, seed: 2, classes: 10);
    }

    [ClassCleanup]
    public static void DeleteData() => Directory.Delete(temp, recursive: true);

    [TestMethod]
    [DataRow("defend", "--dataset", "cifar10-subset")]
    [DataRow("defend", "--epsilon", "2")]
    [DataRow("defend", "--epsilon", "0")]
    [DataRow("defend", "--epsilon", "0.1,x")]
    [DataRow("defend", "--train-images", "0")]
    [DataRow("defend", "--aegan-epochs", "-1")]
    [DataRow("defend", "--output", "/no/such/folder/defended.zip")]
    public void BadArgumentsExitWithCode2AndOneLine(params string[] args)
    {
        AssertUsageError(Run(args));
    }

    [TestMethod]
    public void WithoutEpsilonTheDefaultSweepRuns()
    {
        // Only the option's parsing: --help would not parse it, so ask for a bad dataset after a run's options are read.
        var (code, _, error) = Run("defend", "--dataset", "mnist", "--data", Path.Combine(temp, "no-such-folder"), "--train-images", "10");
        Assert.AreNotEqual(0, code);
        Assert.IsFalse(error.Contains("Epsilons"), $"without --epsilon the preset's sweep is used: {error}");
    }

    [TestMethod]
    public void HelpSaysWhatTheDefaultShortens()
    {
        var (code, output, _) = Run("defend", "--help");

        Assert.AreEqual(0, code);
        StringAssert.Contains(output, DefendedPipelineJobOptions.Default.DescribeShortening());
        StringAssert.Contains(output, "--full");
    }

    [TestMethod]
    public void TrainsAttacksEvaluatesSavesReloadsAndPredicts()
    {
        string model = Path.Combine(temp, "defended.zip"), json = Path.Combine(temp, "defend.json"), grid = Path.Combine(temp, "grid.png");
        var (code, output, error) = Run("defend", "--dataset", "mnist", "--data", Path.Combine(temp, "data"), "--threads", "2",
                                        "--train-images", "400", "--test-images", "60", "--classifier-epochs", "2", "--aegan-epochs", "1",
                                        "--miaed-epochs", "1", "--epsilon", "0.3,0.1", "--output", model, "--json", json, "--images", grid);

        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "same outputs on all 60 test images");
        var result = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        var rows = result["rows"]!.AsArray().Select(r => r!.AsObject()).ToList();
        // The budget sweep, ascending whatever the order given: FGSM and PGD at each ε.
        CollectionAssert.AreEqual(new[] { "clean", "FGSM", "PGD", "FGSM", "PGD" }, rows.Select(r => (string)r["set"]!).ToArray());
        CollectionAssert.AreEqual(new double?[] { null, 0.1, 0.1, 0.3, 0.3 }, rows.Select(r => (double?)r["epsilon"]).ToArray());
        StringAssert.Contains(output, "PGD ε 0.1");
        foreach (var row in rows)
        {
            Assert.AreEqual(60, (int)row["images"]!);
            foreach (var key in new[] { "undefended_accuracy", "purified_accuracy", "saec_flagged", "aegan_flagged", "miaed_flagged", "any_flagged", "handled_correctly" })
                Assert.IsTrue((double)row[key]! is >= 0 and <= 1, $"{row["set"]} {key} = {row[key]} is a rate");
            Assert.IsTrue((double)row["any_flagged"]! >= Math.Max((double)row["saec_flagged"]!, Math.Max((double)row["aegan_flagged"]!, (double)row["miaed_flagged"]!)),
                          "an image flagged by one detector is flagged by the pipeline");
        }
        Assert.IsNull(rows[0]["saec_auc"], "no AUC of the clean images against themselves");
        Assert.IsTrue((double)rows[0]["undefended_accuracy"]! > 0.5, $"the band task is learnt in 2 epochs: {rows[0]["undefended_accuracy"]}");
        Assert.IsTrue((double)rows[4]["undefended_accuracy"]! < (double)rows[0]["undefended_accuracy"]!, "PGD at 0.3 hurts the undefended classifier");
        Assert.IsTrue((double)rows[4]["undefended_accuracy"]! <= (double)rows[2]["undefended_accuracy"]!, "PGD at 0.3 hurts at least as much as at 0.1");

        Assert.AreEqual(60, (int)result["reloaded_rows_agreeing"]!);
        Assert.AreEqual(8, result["examples"]!.AsArray().Count, "4 clean and 4 PGD images predicted one by one");
        Assert.AreEqual(Path.GetFullPath(model), (string)result["model_path"]!);

        // The zip is an ML.NET model: ML.NET's own Model.Load reads it, with no registration call.
        var ml = new Microsoft.ML.MLContext(seed: 1);
        var loaded = ml.Model.Load(model, out var inputSchema);
        (loaded as IDisposable)?.Dispose();
        Assert.IsTrue(inputSchema.Any(c => c.Name == "Image"));

        var png = MLDefense.Torch.Images.DecodeFile(grid);
        Assert.AreEqual(5 * 28 + 4 * 2, png.Height, "five rows of images: clean, FGSM, PGD, purified FGSM, purified PGD");
        Assert.AreEqual(10 * 28 + 9 * 2, png.Width, "ten images a row");
        var gridEntry = result["image_grids"]!.AsArray().Single()!.AsObject();
        Assert.AreEqual("grid.png", (string)gridEntry["path"]!, "the grid's path is relative to the JSON file");
    }
}

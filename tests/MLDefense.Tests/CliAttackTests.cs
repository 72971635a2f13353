using System.Text.Json.Nodes;
using MLDefense.Data;
using static MLDefense.Tests.CliRunner;

namespace MLDefense.Tests;

/// <summary><c>mldefense attack</c>, <c>evaluate</c> and <c>bench attacks</c>: usage errors, and attack/evaluate end to end on a tiny model.</summary>
[TestClass]
public sealed class CliAttackTests
{
    private static string temp = "";
    private static string data = "";
    private static string model = "";

    [ClassInitialize]
    public static void TrainTinyModel(TestContext _)
    {
        temp = Directory.CreateTempSubdirectory("mldefense-cli-attack-").FullName;
        data = Path.Combine(temp, "data");
        SyntheticIdx.Write(Path.Combine(data, KnownDatasets.Mnist), trainRows: 120, testRows: 40, seed: 3);
        model = Path.Combine(temp, "tiny.zip");
        TrainTinyClassifier(data, model);
    }

    [ClassCleanup]
    public static void DeleteTemp() => Directory.Delete(temp, recursive: true);

    [TestMethod]
    [DataRow("attack", "--dataset", "mnist", "--attack", "pgd")]
    [DataRow("attack", "--model", "/no/such/model.zip", "--dataset", "mnist", "--attack", "pgd")]
    [DataRow("attack", "--model", "MODEL", "--dataset", "mnist", "--attack", "zoo")]
    [DataRow("attack", "--model", "MODEL", "--dataset", "mnist", "--attack", "pgd", "--epsilon", "-0.1")]
    [DataRow("attack", "--model", "MODEL", "--dataset", "mnist", "--attack", "pgd", "--norm", "l3")]
    [DataRow("attack", "--model", "MODEL", "--dataset", "mnist", "--attack", "pgd", "--iterations", "0")]
    [DataRow("attack", "--model", "MODEL", "--dataset", "mnist", "--attack", "pgd", "--output-images", "/no/such/folder/images")]
    [DataRow("attack", "--model", "MODEL", "--dataset", "mnist", "--attack", "cw", "--epsilon", "0.3")]
    [DataRow("attack", "--model", "MODEL", "--dataset", "mnist", "--attack", "fgsm", "--norm", "l2")]
    [DataRow("attack", "--model", "MODEL", "--dataset", "mnist", "--attack", "fgsm", "--iterations", "5")]
    [DataRow("attack", "--model", "MODEL", "--dataset", "mnist", "--attack", "mim", "--norm", "l2")]
    [DataRow("evaluate", "--model", "MODEL", "--dataset", "mnist", "--attack", "cw", "--detector", "saec")]
    [DataRow("evaluate", "--model", "MODEL", "--dataset", "mnist", "--attack", "pgd", "--detector", "lid")]
    [DataRow("evaluate", "--model", "MODEL", "--dataset", "mnist", "--attack", "pgd")]
    [DataRow("bench", "attacks", "--model", "/no/such/model.zip")]
    [DataRow("bench", "attacks", "--quick", "--bogus")]
    public void BadArgumentsExitWithCode2AndOneLine(params string[] args)
    {
        var result = Run(args.Select(a => a == "MODEL" ? model : a).ToArray());

        AssertUsageError(result);
        StringAssert.Contains(result.Error, "--help");
    }

    [TestMethod]
    public void AttackReportsAccuracyPerturbationAndSpeedAndSavesImages()
    {
        string json = Path.Combine(temp, "attack.json"), images = Path.Combine(temp, "adversarial");

        var (code, output, error) = Run("attack", "--model", model, "--dataset", "mnist", "--attack", "bim", "--epsilon", "0.5", "--iterations", "10",
                                        "--step-size", "0.1", "--limit", "24", "--data", data, "--output-images", images, "--json", json, "--threads", "1");

        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "adversarial accuracy");
        StringAssert.Contains(output, "attack: BIM");
        var r = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.AreEqual("BIM", (string?)r["attack"]);
        Assert.AreEqual("linf", (string?)r["norm"]);
        Assert.AreEqual(0.5, (double)r["epsilon"]!, 1e-12);
        Assert.AreEqual(24, (int)r["images"]!);
        double clean = (double)r["clean_accuracy"]!, adversarial = (double)r["adversarial_accuracy"]!;
        Assert.IsTrue(clean >= 0.5, $"the tiny model learned the quadrants (clean accuracy {clean})");
        Assert.IsTrue(adversarial < clean, $"the attack lowers accuracy ({clean} → {adversarial})");
        double linf = (double)r["mean_linf"]!;
        Assert.IsTrue(linf > 0 && linf <= 0.5 + 1e-6, $"mean L∞ {linf} within ε");
        Assert.IsTrue((double)r["mean_l2"]! >= linf, "L2 ≥ L∞");
        Assert.IsTrue((double)r["images_per_s"]! > 0);
        var pngs = Directory.GetFiles(images, "*.png");
        Assert.AreEqual(8, pngs.Length);
        foreach (var png in pngs)
            CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png)[..4], "a PNG file");
    }

    [TestMethod]
    public void DeepFoolHasNoBudgetInItsJson()
    {
        string json = Path.Combine(temp, "deepfool.json");

        var (code, _, error) = Run("attack", "--model", model, "--dataset", "mnist", "--attack", "deepfool", "--limit", "8", "--data", data,
                                   "--json", json, "--threads", "1");

        Assert.AreEqual(0, code, error);
        var r = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.AreEqual("DeepFool", (string?)r["attack"]);
        Assert.AreEqual("l2", (string?)r["norm"]);
        Assert.IsNull(r["epsilon"]);
    }

    [TestMethod]
    public void EvaluatePrintsTheMixDefenseTableWithSaec()
    {
        string json = Path.Combine(temp, "evaluate.json");

        var (code, output, error) = Run("evaluate", "--model", model, "--dataset", "mnist", "--attack", "fgsm", "--epsilon", "0.3", "--detector", "saec",
                                        "--limit", "32", "--fit-images", "64", "--data", data, "--json", json, "--threads", "1");

        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "| Dataset | Attack |");
        StringAssert.Contains(output, "Acc_RC");
        var rows = JsonNode.Parse(File.ReadAllText(json))!.AsArray();
        Assert.AreEqual(1, rows.Count);
        Assert.AreEqual("FGSM", (string?)rows[0]!["attack"]);
        Assert.AreEqual(0.3, (double)rows[0]!["epsilon"]!, 1e-12);
        Assert.AreEqual(32, (int)rows[0]!["evaluated"]!);
    }
}

using System.Text.Json.Nodes;
using MLDefense.Reporting;
using static MLDefense.Tests.CliRunner;
using static MLDefense.Tests.ReportFixtures;

namespace MLDefense.Tests;

[TestClass]
public sealed class ReportCliTests
{
    private static string temp = "";

    [ClassInitialize]
    public static void CreateFolder(TestContext _) => temp = TempFolder();

    [ClassCleanup]
    public static void DeleteFolder() => Directory.Delete(temp, recursive: true);

    [TestMethod]
    [DataRow("report")]
    [DataRow("report", "--output", "{temp}/r.html")]
    [DataRow("report", "--input", "{temp}/no-such.json", "--output", "{temp}/r.html")]
    [DataRow("report", "--input", "{temp}", "--output", "/no/such/folder/r.html")]
    [DataRow("report", "--input", "{temp}")]
    public void BadArgumentsExitWithCode2AndOneLine(params string[] args)
    {
        AssertUsageError(Run(args.Select(a => a.Replace("{temp}", temp)).ToArray()));
    }

    [TestMethod]
    public void MissingInputSaysWhichPath()
    {
        var (_, _, error) = Run("report", "--input", Path.Combine(temp, "no-such.json"), "--output", Path.Combine(temp, "r.html"));

        StringAssert.Contains(error, "no-such.json is neither a file nor a folder");
    }

    [TestMethod]
    public void ReportsAFolderOfResultsAndSummarisesWhatItRecognised()
    {
        var folder = Directory.CreateDirectory(Path.Combine(temp, "results")).FullName;
        Write(folder, "1-saec.json", Saec(withRoc: true));
        Write(folder, "2-attacks.json", AttackResults());
        File.WriteAllText(Path.Combine(folder, "3-broken.json"), "{ \"rows\": [");
        var html = Path.Combine(temp, "report.html");
        var summary = Path.Combine(temp, "summary.json");

        var (code, output, error) = Run("report", "--input", folder, "--output", html, "--title", "Nightly <results>", "--json", summary);

        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "Report written to");
        StringAssert.Contains(error, "warning: 3-broken.json is not valid JSON");
        var page = File.ReadAllText(html);
        StringAssert.Contains(page, "<title>Nightly &lt;results&gt;</title>");
        StringAssert.Contains(page, "Detection under the MixDefense protocol (bench saec) — 1-saec.json");
        StringAssert.Contains(page, "Attack strength (bench attacks) — 2-attacks.json");
        var inputs = JsonNode.Parse(File.ReadAllText(summary))!["inputs"]!.AsArray();
        CollectionAssert.AreEqual(new[] { "saec (MixDefense sweep)", "attacks", "generic" }, inputs.Select(i => (string)i!["kind"]!).ToArray());
        Assert.AreEqual(4, (int)inputs[0]!["charts"]!, "Acc_Detector, Acc_RC and two ROC charts");
        Assert.AreEqual(1, inputs[2]!["warnings"]!.AsArray().Count);
        Assert.AreEqual(8, System.Text.RegularExpressions.Regex.Matches(page, "<svg ").Count, "4 saec charts + 4 attack charts");
        Assert.IsFalse(File.Exists(html + ".tmp"), "the page is written through a temporary file that is renamed");
    }
}

using MLDefense.Benchmarks;
using MLDefense.Classifiers;
using MLDefense.Cli;
using MLDefense.Cli.Commands;
using MLDefense.Cli.Infrastructure;
using MLDefense.Training;
using MLDefense.Data;
using Microsoft.ML;

namespace MLDefense.Tests.Benchmarks;

/// <summary><c>bench namid</c>'s cases and a tiny run on the GTSRB subset (C2 on 3×32×32, 43 classes) through every attack of its evaluation.</summary>
[TestClass]
public sealed class NamidBenchmarkTests
{
    [TestMethod]
    public void TheFullRunHasTheIssuesThreeDatasetsAndQuickDefaultsToFashionMnist()
    {
        CollectionAssert.AreEqual(new[] { KnownDatasets.FashionMnist, GtsrbDatasetCatalog.FolderName, KnownDatasets.Cifar10Subset },
            NamidBenchmark.FullCases.Select(c => c.Dataset).ToArray());
        var gtsrb = NamidBenchmark.FullCases.Single(c => c.Dataset == GtsrbDatasetCatalog.FolderName);
        Assert.AreEqual(ClassifierArchitecture.CifarC2, gtsrb.Architecture, "GTSRB is served at 3×32×32, C2's input");
        Assert.AreEqual(8.0 / 255, gtsrb.Epsilon);
        CollectionAssert.AreEqual(new[] { KnownDatasets.FashionMnist }, CommonOptions.SelectCases(NamidBenchmark.QuickCases, c => c.Dataset, NamidBenchmark.QuickDefault).Select(c => c.Dataset).ToArray());
        CollectionAssert.AreEqual(new[] { GtsrbDatasetCatalog.FolderName }, CommonOptions.SelectCases(NamidBenchmark.QuickCases, c => c.Dataset, [GtsrbDatasetCatalog.FolderName]).Select(c => c.Dataset).ToArray());
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => CommonOptions.SelectCases(NamidBenchmark.FullCases, c => c.Dataset, ["mnist"])).Message, "gtsrb-subset");
        CollectionAssert.AreEqual(new[] { "none", "pgd40", "cw_l2", "pgd_l2", "apgd_ce" }, NamidBenchmark.Attacks.ToArray());
    }

    [TestMethod]
    public void SeedsDefaultToOneForQuickAndThreeForTheFullRunAndMustBeAWholeNumberOfAtLeastOne()
    {
        var root = Program.CreateRootCommand(CliConsole.Plain(TextWriter.Null, TextWriter.Null));
        var option = root.Subcommands.Single(c => c.Name == "bench").Subcommands.Single(c => c.Name == "namid").Options.Single(o => o.Name == "--seeds");
        StringAssert.Contains(option.Description, "Default: 1 with --quick, 3 for the full run", "the issue's protocol: each claim averaged over 3 seeds");
        var good = root.Parse(["bench", "namid", "--quick", "--seeds", "3", "--methods", "standard_at,namid"]);
        Assert.AreEqual(0, good.Errors.Count, string.Join("; ", good.Errors.Select(e => e.Message)));
        Assert.AreEqual(3, good.GetValue<int?>("--seeds"));
        var gtsrb = root.Parse(["bench", "namid", "--quick", "--only", "gtsrb-subset"]);
        Assert.AreEqual(0, gtsrb.Errors.Count, string.Join("; ", gtsrb.Errors.Select(e => e.Message)));
        var unknownMethod = root.Parse(["bench", "namid", "--methods", "standard_at,madry"]);
        StringAssert.Contains(string.Join("; ", unknownMethod.Errors.Select(e => e.Message)), "--methods: madry is not one of standard_at, ", "a parse error, before anything trains");
        var unknownDataset = root.Parse(["bench", "namid", "--only", "mnist"]);
        StringAssert.Contains(string.Join("; ", unknownDataset.Errors.Select(e => e.Message)), "--only: mnist is not one of the datasets fashion-mnist, gtsrb-subset, cifar10-subset");
        var bad = root.Parse(["bench", "namid", "--quick", "--seeds", "0"]);
        StringAssert.Contains(string.Join("; ", bad.Errors.Select(e => e.Message)), "--seeds: '0' is not a whole number of at least 1");
    }

    [TestMethod]
    public void ARunWithoutStandardAtWritesItsJsonWithNullTimings()
    {
        // A run of --methods namid_lambda0 alone measured no standard-AT epoch: its time and the paper-scale estimate are NaN.
        var row = new NamidBenchmarkRow("fashion-mnist", "namid_lambda0", "none", 0.544, 0, 1);
        var result = new NamidBenchmarkResult([row], double.NaN, 2000, double.NaN, 858, ["a note"]);
        var json = System.Text.Json.Nodes.JsonNode.Parse(BenchNamidCommand.ToJson(result, quick: true).ToJsonString())!;
        Assert.IsNull(json["standard_at_seconds_per_epoch"]);
        Assert.IsNull(json["paper_scale_hours_estimate"]);
        Assert.AreEqual(0.544, json["rows"]![0]!["mean_accuracy"]!.GetValue<double>());
        var measured = BenchNamidCommand.ToJson(result with { StandardAtSecondsPerEpoch = 12.3456, PaperScaleHoursEstimate = 2301.4 }, quick: true);
        Assert.AreEqual(12.35, measured["standard_at_seconds_per_epoch"]!.GetValue<double>());
        Assert.AreEqual(2301.0, measured["paper_scale_hours_estimate"]!.GetValue<double>());
    }

    [TestMethod]
    public void TheNamidRowsUseTheDefaultLambdaTermAndTheAsPrintedRowsThePapersForm()
    {
        var methods = NamidBenchmark.Methods.ToDictionary(m => m.Name);
        Assert.AreEqual(new NamidOptions().LambdaTerm, methods["namid"].Term);
        foreach (var name in new[] { "namid_as_printed", "namid_t_as_printed", "namid_m_as_printed" })
        {
            Assert.AreEqual(NamidLambdaTerm.AsPrinted, methods[name].Term, name);
            Assert.AreEqual(0.1, methods[name].Lambda, name);
        }
    }

    [TestMethod]
    public void ATinyGtsrbRunGivesOneRowPerAttack()
    {
        var tiny = new NamidBenchmarkCase(GtsrbDatasetCatalog.FolderName, ClassifierArchitecture.CifarC2, TrainImages: 64, TestImages: 16, Epochs: 1, Epsilon: 8.0 / 255, L2Epsilon: 0.5);
        var stages = new List<string>();
        var result = NamidBenchmark.Run([tiny], seeds: 1, firstSeed: 1, dataDirectory: null, ComputeDevice.Cpu, stages.Add, CancellationToken.None, methods: ["standard_at"]);
        CollectionAssert.AreEqual(NamidBenchmark.Attacks.ToArray(), result.Rows.Select(r => r.Attack).ToArray());
        Assert.IsTrue(result.Rows.All(r => r.Dataset == GtsrbDatasetCatalog.FolderName && r.Method == "standard_at" && r.Seeds == 1 && r.Std == 0));
        Assert.IsTrue(result.Rows.All(r => r.MeanAccuracy is >= 0 and <= 1), string.Join(", ", result.Rows.Select(r => $"{r.Attack} {r.MeanAccuracy}")));
        double clean = result.Rows.Single(r => r.Attack == "none").MeanAccuracy, apgd = result.Rows.Single(r => r.Attack == "apgd_ce").MeanAccuracy;
        Assert.IsTrue(apgd <= clean, $"APGD-CE {apgd:P1}, clean {clean:P1}");
        Assert.AreEqual(64, result.TrainImages);
        CollectionAssert.Contains(stages, "gtsrb-subset seed 1: training standard_at");
    }
}

using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using MLDefense.Evaluation;
using MLDefense.Reporting;
using static MLDefense.Tests.ReportFixtures;

namespace MLDefense.Tests;

[TestClass]
public sealed class ReportHtmlTests
{
    private static string temp = "";

    [ClassInitialize]
    public static void CreateFolder(TestContext _) => temp = TempFolder();

    [ClassCleanup]
    public static void DeleteFolder() => Directory.Delete(temp, recursive: true);

    private static ReportInput Input(JsonNode json, string name = "results.json") => ReportInputs.Parse(json.ToJsonString(), Path.Combine(temp, name));

    private static List<SvgChart> Charts(ReportSection section) => section.Blocks.OfType<ChartBlock>().Select(b => b.Chart).ToList();

    [TestMethod]
    public void EachBenchmarkIsRecognisedByItsRows()
    {
        var engine = new JsonObject { ["rows"] = new JsonArray(new JsonObject { ["case"] = "train_step", ["mldefense_images_per_s"] = 900.0, ["pytorch_images_per_s"] = 1000.0, ["ratio"] = 0.9 }) };
        var classifier = new JsonObject { ["rows"] = new JsonArray(new JsonObject { ["dataset"] = "mnist", ["architecture"] = "a", ["test_accuracy"] = 0.99 }) };
        var aegan = new JsonObject { ["rows"] = new JsonArray(new JsonObject { ["dataset"] = "mnist", ["attack"] = "FGSM", ["method"] = "aegan", ["accuracy"] = 0.97, ["ms_per_image"] = 3.0, ["search_steps"] = 15 }) };
        var miaed = new JsonObject { ["rows"] = new JsonArray(new JsonObject { ["dataset"] = "mnist", ["attack"] = "PGD", ["variant"] = "full", ["recall"] = 0.9, ["precision"] = 0.9, ["f1"] = 0.9, ["specificity"] = 0.98, ["accuracy"] = 0.96, ["auc"] = 0.99 }) };
        var evaluate = Saec(withRoc: false)["rows"]!.DeepClone();                                       // evaluate --json: a top-level array
        var attackCommand = new JsonObject { ["attack"] = "FGSM", ["epsilon"] = 0.3, ["clean_accuracy"] = 0.99, ["adversarial_accuracy"] = 0.2 };  // attack --json: one object

        Assert.AreEqual(BenchmarkKind.MixDefenseSweep, Input(Saec(withRoc: false)).Kind);
        Assert.AreEqual(BenchmarkKind.MixDefenseSweep, Input(evaluate).Kind);
        Assert.AreEqual(BenchmarkKind.Attacks, Input(AttackResults()).Kind);
        Assert.AreEqual(BenchmarkKind.Attacks, Input(attackCommand).Kind);
        Assert.AreEqual(BenchmarkKind.Engine, Input(engine).Kind);
        Assert.AreEqual(BenchmarkKind.Classifier, Input(classifier).Kind);
        Assert.AreEqual(BenchmarkKind.AeGan, Input(aegan).Kind);
        Assert.AreEqual(BenchmarkKind.Miaed, Input(miaed).Kind);
        Assert.AreEqual(BenchmarkKind.Generic, Input(new JsonObject { ["rows"] = new JsonArray(new JsonObject { ["x"] = 1 }) }).Kind);
    }

    [TestMethod]
    public void EngineRowsWithARooflineGetAFractionOfPeakChart()
    {
        JsonObject Row(string name, double? fraction) => new()
        {
            ["case"] = name, ["mldefense_images_per_s"] = 900.0, ["pytorch_images_per_s"] = 100.0, ["ratio"] = 9.0,
            ["mldefense_fraction_of_peak"] = fraction, ["pytorch_fraction_of_peak"] = fraction / 9,
        };
        var withRoofline = new JsonObject { ["rows"] = new JsonArray(Row("train_step", 0.6), Row("aegan_train_step", 0.45)) };
        var without = new JsonObject { ["rows"] = new JsonArray(new JsonObject { ["case"] = "train_step", ["mldefense_images_per_s"] = 900.0, ["pytorch_images_per_s"] = 1000.0 }) };

        var charts = Charts(BenchmarkReport.Section(Input(withRoofline))).Cast<BarChart>().ToList();

        Assert.AreEqual(3, charts.Count, "images/s, ratio, fraction of peak");
        StringAssert.Contains(charts[2].Title, "fraction of the matmul peak");
        CollectionAssert.AreEqual(new double?[] { 0.6, 0.45 }, charts[2].Series[0].Values.ToArray());
        Assert.AreEqual(2, Charts(BenchmarkReport.Section(Input(without))).Count, "no roofline without the fractions");
    }

    [TestMethod]
    public void SaecSweepDrawsAccuracyAndAccRcPerAttackAgainstTheBudgetIn255ths()
    {
        var section = BenchmarkReport.Section(Input(Saec(withRoc: false)));

        var charts = Charts(section).Cast<LineChart>().ToList();
        Assert.AreEqual(2, charts.Count, "Acc_Detector and Acc_RC for the one dataset and norm");
        StringAssert.StartsWith(charts[0].Title, "Acc_Detector");
        StringAssert.StartsWith(charts[1].Title, "Acc_RC");
        foreach (var chart in charts)
        {
            CollectionAssert.AreEqual(new[] { "FGSM", "BIM" }, chart.Series.Select(s => s.Name).ToArray());
            CollectionAssert.AreEqual(new[] { 1.0, 2, 4, 8 }, chart.Series[0].Points.Select(p => Math.Round(p.X, 9)).ToArray(), "budgets in 1/255");
            StringAssert.Contains(chart.XLabel, "1/255");
        }
        Assert.AreEqual(0.55, charts[0].Series[0].Points[0].Y, 1e-9);
        Assert.AreEqual(0.50, charts[1].Series[0].Points[0].Y, 1e-9);
        Assert.AreEqual(0.97, charts[0].ReferenceLines.Single().Y, "the target is drawn");

        var table = section.Blocks.OfType<TableBlock>().Single();
        Assert.AreEqual(8, table.Rows.Count);
        int epsilon = table.Headers.ToList().IndexOf("epsilon");
        Assert.AreEqual("8/255", table.Rows[3][epsilon].Text);
        int meets = table.Headers.ToList().IndexOf("meets_target");
        Assert.AreEqual(CellStyle.Fail, table.Rows[3][meets].Style);
    }

    [TestMethod]
    public void RocCurvesAreDrawnOnePerBudgetPerAttack()
    {
        var section = BenchmarkReport.Section(Input(Saec(withRoc: true)));

        var roc = Charts(section).OfType<LineChart>().Where(c => c.ChanceDiagonal).ToList();
        Assert.AreEqual(2, roc.Count, "one ROC chart per attack (same dataset and norm)");
        Assert.AreEqual(4, roc[0].Series.Count);
        StringAssert.StartsWith(roc[0].Series[3].Name, "ε = 8/255 (AUC ");
        var svg = Parse(roc[0]);
        Assert.AreEqual(4, WithClass(svg, "path", "series-line").Count);
        var table = section.Blocks.OfType<TableBlock>().Single();
        Assert.IsTrue(table.Headers.Contains("ROC points"), "the table shows how many points, not the points");
    }

    [TestMethod]
    public void RocCurvesInATableBesideTheRowsAreDrawnToo()
    {
        var json = new JsonObject
        {
            ["rows"] = new JsonArray(new JsonObject { ["dataset"] = "mnist", ["attack"] = "FGSM", ["method"] = "aegan", ["accuracy"] = 0.97 }),
            ["detection"] = new JsonArray(
                new JsonObject { ["dataset"] = "mnist", ["attack"] = "FGSM", ["epsilon"] = 0.1, ["auc"] = 0.9, ["roc"] = RocJson.ToJson(SyntheticRoc(0.9)) },
                new JsonObject { ["dataset"] = "mnist", ["attack"] = "FGSM", ["epsilon"] = 0.3, ["auc"] = 0.99, ["roc"] = RocJson.ToJson(SyntheticRoc(0.99)) }),
        };

        var section = BenchmarkReport.Section(Input(json));

        var roc = Charts(section).OfType<LineChart>().Single(c => c.ChanceDiagonal);
        CollectionAssert.AreEqual(new[] { "ε = 0.1 (AUC 0.900)", "ε = 0.3 (AUC 0.990)" }, roc.Series.Select(s => s.Name).ToArray());
    }

    [TestMethod]
    public void MalformedRocIsAWarningNotAFailure()
    {
        var json = Saec(withRoc: true, budgets: 2);
        json["rows"]![0]!["roc"] = new JsonArray(new JsonArray(0.0, 0.0), new JsonArray(1.5, "x"));

        var section = BenchmarkReport.Section(Input(json));

        var warning = section.Blocks.OfType<NoteBlock>().Single(n => n.Warning);
        StringAssert.Contains(warning.Text, "Row 1");
        Assert.AreEqual(1, Charts(section).OfType<LineChart>().Count(c => c.ChanceDiagonal && c.Series.Count == 1), "the FGSM chart keeps its valid curve");
    }

    [TestMethod]
    public void RocJsonThinsACurveWithoutMovingIt()
    {
        var random = new Random(1);
        var scores = new float[20_000];
        var adversarial = new bool[scores.Length];
        for (int i = 0; i < scores.Length; i++)
        {
            adversarial[i] = i % 2 == 0;
            scores[i] = (float)(random.NextDouble() + (adversarial[i] ? 0.4 : 0));
        }
        var curve = RocCurve.Compute(scores, adversarial);

        var thinned = RocJson.Read(RocJson.ToJson(curve, maxPoints: 100), out var problem)!;

        Assert.IsNull(problem);
        Assert.IsTrue(curve.Points.Count > 10_000);
        Assert.IsTrue(thinned.Count <= 102, $"{thinned.Count} points");
        Assert.AreEqual((0.0, 0.0), thinned[0]);
        Assert.AreEqual((1.0, 1.0), thinned[^1]);
        for (int i = 1; i < thinned.Count; i++)
            Assert.IsTrue(thinned[i].Fpr >= thinned[i - 1].Fpr && thinned[i].Tpr >= thinned[i - 1].Tpr, "monotone");
        // Every original point lies within the thinning spacing (L1) of the polyline through the kept points.
        int k = 0;
        foreach (var p in curve.Points)
        {
            while (k + 1 < thinned.Count - 1 && thinned[k + 1].Fpr <= p.FalsePositiveRate && thinned[k + 1].Tpr <= p.TruePositiveRate) k++;
            double gap = Math.Abs(p.FalsePositiveRate - thinned[k].Fpr) + Math.Abs(p.TruePositiveRate - thinned[k].Tpr);
            Assert.IsTrue(gap <= 2.0 / 100 + 1e-4, $"point ({p.FalsePositiveRate}, {p.TruePositiveRate}) is {gap} from the kept curve");
        }
        // The thinned curve's area stays within the spacing of the exact AUC.
        double area = 0;
        for (int i = 1; i < thinned.Count; i++) area += (thinned[i].Fpr - thinned[i - 1].Fpr) * (thinned[i].Tpr + thinned[i - 1].Tpr) / 2;
        Assert.AreEqual(curve.Auc, area, 0.01);
    }

    [TestMethod]
    public void AttacksDrawAccuracyPerAttackPerturbationSizeAndSpeed()
    {
        var section = BenchmarkReport.Section(Input(AttackResults()));

        var bars = Charts(section).OfType<BarChart>().ToList();
        var accuracy = bars.Single(c => c.Title == "Accuracy under attack");
        CollectionAssert.AreEqual(new[] { "FGSM ε=0.3", "PGD ε=0.3", "CW-L2" }, accuracy.Categories.ToArray());
        CollectionAssert.AreEqual(new double?[] { 0.25, 0.01, 0.03 }, accuracy.Series.Single(s => s.Name == "adversarial").Values.ToArray());
        Assert.IsTrue(bars.Any(c => c.Title == "Perturbation size" && c.Series.Count == 2));
        var ratio = bars.Single(c => c.Title.EndsWith("MLDefense / PyTorch"));
        Assert.AreEqual(65.1 / 54.5, ratio.Series[0].Values[0]!.Value, 1e-9);
        CollectionAssert.AreEqual(new[] { 1.0, 0.9 }, ratio.ReferenceLines.Select(r => r.Y).ToArray(), "parity and the target");
        var speedTable = section.Blocks.OfType<TableBlock>().Single(t => t.Title == "speed");
        int rounds = speedTable.Headers.ToList().IndexOf("mldefense_rounds");
        Assert.AreEqual("65.2, 63.9, 65.1", speedTable.Rows[0][rounds].Text);
    }

    [TestMethod]
    public void AttackSweepsOverSeveralBudgetsGetALinePerAttack()
    {
        var rows = new JsonArray();
        foreach (var (attack, drop) in new[] { ("FGSM", 2.0), ("PGD", 3.0) })
            foreach (var epsilon in new[] { 0.1, 0.2, 0.3 })
                rows.Add(new JsonObject { ["attack"] = attack, ["norm"] = "linf", ["epsilon"] = epsilon, ["clean_accuracy"] = 0.99, ["adversarial_accuracy"] = Math.Max(0, 0.99 - drop * epsilon) });

        var section = BenchmarkReport.Section(Input(new JsonObject { ["rows"] = rows }));

        var line = Charts(section).OfType<LineChart>().Single();
        Assert.AreEqual("Attack strength per budget", line.Title);
        CollectionAssert.AreEqual(new[] { "FGSM, L∞", "PGD, L∞" }, line.Series.Select(s => s.Name).ToArray());
        Assert.IsTrue(line.Series.All(s => s.Points.Count == 3));
    }

    [TestMethod]
    public void AeGanAndMiaedRowsGetGroupedBars()
    {
        var aegan = new JsonArray();
        foreach (var dataset in new[] { "mnist", "fashion-mnist" })
            foreach (var attack in new[] { "FGSM", "PGD", "CW-L2" })
                foreach (var (method, ms) in new[] { ("none", 0.0), ("magnet", 0.2), ("defensegan", 400.0), ("aegan", 5.0) })
                    aegan.Add(new JsonObject { ["dataset"] = dataset, ["attack"] = attack, ["method"] = method, ["accuracy"] = 0.5, ["ms_per_image"] = ms, ["search_steps"] = 15 });
        var miaed = new JsonArray();
        foreach (var variant in new[] { "full", "caed" })
            foreach (var attack in new[] { "FGSM", "PGD" })
                miaed.Add(new JsonObject { ["dataset"] = "mnist", ["attack"] = attack, ["variant"] = variant, ["recall"] = 0.9, ["precision"] = 0.9, ["f1"] = 0.9, ["specificity"] = 0.98, ["accuracy"] = variant == "full" ? 0.95 : 0.84, ["auc"] = 0.97 });

        var aeganCharts = Charts(BenchmarkReport.Section(Input(new JsonObject { ["rows"] = aegan })));
        var miaedCharts = Charts(BenchmarkReport.Section(Input(new JsonObject { ["rows"] = miaed })));

        Assert.AreEqual(4, aeganCharts.Count, "accuracy and cost per dataset");
        var accuracy = (BarChart)aeganCharts[0];
        CollectionAssert.AreEqual(new[] { "FGSM", "PGD", "CW-L2" }, accuracy.Categories.ToArray());
        CollectionAssert.AreEqual(new[] { "none", "magnet", "defensegan", "aegan" }, accuracy.Series.Select(s => s.Name).ToArray());
        Assert.IsTrue(((BarChart)aeganCharts[1]).LogScale, "400 ms against 0.2 ms needs a log axis");
        var detection = (BarChart)miaedCharts.Single();
        CollectionAssert.AreEqual(new double?[] { 0.84, 0.84 }, detection.Series.Single(s => s.Name == "caed").Values.ToArray());

        // White-box rows (bench aegan --white-box) are groups of their own, named by what the attack went through.
        aegan.Add(new JsonObject { ["dataset"] = "mnist", ["attack"] = "FGSM", ["method"] = "aegan", ["accuracy"] = 0.3, ["threat"] = "white-box", ["attack_through"] = "search" });
        aegan.Add(new JsonObject { ["dataset"] = "mnist", ["attack"] = "BPDA-PGD", ["method"] = "aegan", ["accuracy"] = 0.2, ["threat"] = "white-box", ["attack_through"] = "bpda" });
        var withWhiteBox = (BarChart)Charts(BenchmarkReport.Section(Input(new JsonObject { ["rows"] = aegan.DeepClone() })))[0];
        CollectionAssert.AreEqual(new[] { "FGSM", "PGD", "CW-L2", "FGSM white-box via search", "BPDA-PGD" }, withWhiteBox.Categories.ToArray());
        Assert.AreEqual(0.5, withWhiteBox.Series.Single(s => s.Name == "aegan").Values[0], "the gray-box FGSM bar keeps its own value");
        Assert.AreEqual(0.3, withWhiteBox.Series.Single(s => s.Name == "aegan").Values[3]);
    }

    [TestMethod]
    public void ALearningCurveGetsAccuracyAgainstEpochsPerDatasetWithALinePerAttackAndMethod()
    {
        var curve = new JsonArray();
        foreach (var epoch in new[] { 1, 5, 10 })
            foreach (var attack in new[] { "FGSM", "PGD" })
                foreach (var method in new[] { "none", "aegan" })
                    curve.Add(new JsonObject { ["dataset"] = "mnist", ["epoch"] = epoch, ["test_images"] = 500, ["attack"] = attack, ["method"] = method,
                                               ["accuracy"] = method == "none" ? 0.1 : 0.5 + epoch / 100.0 });
        var rows = new JsonArray(new JsonObject { ["dataset"] = "mnist", ["attack"] = "FGSM", ["method"] = "aegan", ["accuracy"] = 0.6 });

        var charts = Charts(BenchmarkReport.Section(Input(new JsonObject { ["rows"] = rows, ["curve"] = curve })));

        var line = charts.OfType<LineChart>().Single();
        Assert.AreEqual("epoch", line.XLabel);
        CollectionAssert.AreEqual(new[] { "FGSM · none", "FGSM · aegan", "PGD · none", "PGD · aegan" }, line.Series.Select(s => s.Name).ToArray());
        CollectionAssert.AreEqual(new[] { 0.51, 0.55, 0.6 }, line.Series[1].Points.Select(p => p.Y).ToArray(), "one point per epoch, in order");
        Assert.IsFalse(charts.OfType<LineChart>().Any(c => c.Title.Contains("test_images", StringComparison.Ordinal)), "not drawn as a training history");
    }

    [TestMethod]
    public void DefendedPipelineRowsGetAccuracyAndFlagBars()
    {
        var rows = new JsonArray();
        foreach (var (set, flagged) in new[] { ("clean", 0.04), ("FGSM", 0.6), ("PGD", 0.8) })
            rows.Add(new JsonObject
            {
                ["set"] = set, ["images"] = 100, ["undefended_accuracy"] = 0.9, ["purified_accuracy"] = 0.85, ["saec_flagged"] = flagged / 2,
                ["aegan_flagged"] = flagged / 3, ["miaed_flagged"] = flagged / 4, ["any_flagged"] = flagged, ["handled_correctly"] = 0.7,
            });

        var input = Input(new JsonObject { ["dataset"] = "fashion-mnist", ["rows"] = rows });
        var charts = Charts(BenchmarkReport.Section(input)).Cast<BarChart>().ToList();

        Assert.AreEqual(BenchmarkKind.DefendedPipeline, input.Kind);
        Assert.AreEqual(2, charts.Count, "accuracy, and flags per detector");
        CollectionAssert.AreEqual(new[] { "clean", "FGSM", "PGD" }, charts[1].Categories.ToArray());
        CollectionAssert.AreEqual(new[] { "SAEC", "AE-GAN+sr", "MIAED", "any" }, charts[1].Series.Select(s => s.Name).ToArray());
        CollectionAssert.AreEqual(new double?[] { 0.04, 0.6, 0.8 }, charts[1].Series[3].Values.ToArray());
    }

    [TestMethod]
    [DataRow("42")]
    [DataRow("[1, 2, 3]")]
    [DataRow("{}")]
    [DataRow("{\"rows\": []}")]
    [DataRow("{\"rows\": [{\"attack\": \"FGSM\", \"adversarial_accuracy\": \"high\"}]}")]
    [DataRow("{\"a\": {\"b\": {\"c\": [1, {\"d\": null}]}}, \"list\": [{\"x\": [1, 2]}, {\"y\": \"z\"}], \"flag\": true}")]
    [DataRow("{\"rows\": [{\"dataset\": \"d\", \"attack\": \"A\", \"norm\": \"linf\", \"epsilon\": null, \"acc_detector\": null}]}")]
    [DataRow("{\"image_grids\": \"not a list\"}")]
    [DataRow("{\"image_grids\": [{\"title\": \"no path\"}, 7]}")]
    [DataRow("{ not json")]
    public void UnusualJsonGivesAPageNotACrash(string json)
    {
        var input = ReportInputs.Parse(json, Path.Combine(temp, "odd.json"));

        var html = HtmlReport.Render(BenchmarkReport.Build([input], "odd"));

        StringAssert.Contains(html, "</html>");
        StringAssert.Contains(html, "odd.json");
    }

    [TestMethod]
    public void InvalidJsonIsNamedInAWarning()
    {
        var section = BenchmarkReport.Section(ReportInputs.Parse("{ \"rows\": [ ", Path.Combine(temp, "broken.json")));

        var warning = section.Blocks.OfType<NoteBlock>().Single();
        Assert.IsTrue(warning.Warning);
        StringAssert.Contains(warning.Text, "broken.json is not valid JSON");
    }

    [TestMethod]
    public void PageIsSelfContainedAndEscapesEverythingFromTheInputs()
    {
        var json = Saec(withRoc: true, budgets: 2);
        json["device"] = "<img src=x onerror=alert(1)>";
        json["rows"]![0]!["dataset"] = "</title><script>alert(1)</script>";

        var html = HtmlReport.Render(BenchmarkReport.Build([Input(json)], "Report <b>&</b> \"title\"", DateTimeOffset.UnixEpoch));

        Assert.IsFalse(Regex.IsMatch(html, "<script", RegexOptions.IgnoreCase), "no script, neither ours nor injected");
        Assert.IsFalse(html.Contains("<img src=x"));
        StringAssert.Contains(html, "&lt;img src=x onerror=alert(1)&gt;");
        StringAssert.Contains(html, "<title>Report &lt;b&gt;&amp;&lt;/b&gt; &quot;title&quot;</title>");
        StringAssert.Contains(html, "Content-Security-Policy");
        StringAssert.Contains(html, "default-src 'none'");
        var external = Regex.Matches(html, "(?:src|href)\\s*=\\s*\"(?!#|data:)[^\"]*\"", RegexOptions.IgnoreCase);
        Assert.AreEqual(0, external.Count, "nothing is fetched: " + string.Join(", ", external.Select(m => m.Value)));
        Assert.IsFalse(Regex.IsMatch(html, "<link|@import|url\\(", RegexOptions.IgnoreCase));
        foreach (Match svg in Regex.Matches(html, "<svg.*?</svg>", RegexOptions.Singleline))
            XDocument.Parse(svg.Value);                            // every inline chart is well-formed XML
    }

    [TestMethod]
    public void ImageGridsAreEmbeddedFromPathsRelativeToTheJson()
    {
        var folder = Directory.CreateDirectory(Path.Combine(temp, "grids")).FullName;
        var png = ImageGrid.EncodePng([[new[] { 0f, 0.5f, 1f, 0.25f }], [new[] { 1f, 1f, 0f, 0f }]], new MLDefense.Data.ImageShape(1, 2, 2));
        File.WriteAllBytes(Path.Combine(folder, "grid.png"), png);
        var grid = new ImageGridReference("MNIST: clean / FGSM", Path.Combine(folder, "grid.png"), ["clean", "FGSM"]);
        var json = AttackResults();
        json[ReportInputs.ImageGridsProperty] = new JsonArray(grid.ToJson(folder),
                                                               new JsonObject { ["title"] = "gone", ["path"] = "missing.png" });
        var input = ReportInputs.Read(Write(folder, "attacks.json", json));

        var section = BenchmarkReport.Section(input);
        var html = HtmlReport.Render(new ReportDocument("grids", [section]));

        Assert.AreEqual("grid.png", (string)json[ReportInputs.ImageGridsProperty]![0]!["path"]!, "the path is written relative to the JSON");
        var image = section.Blocks.OfType<ImageBlock>().Single();
        CollectionAssert.AreEqual(png, image.Png);
        Assert.AreEqual((2, 6), (image.Width, image.Height), "two rows of one 2x2 image, 2 pixels apart");
        CollectionAssert.AreEqual(new[] { "clean", "FGSM" }, image.RowLabels.ToArray());
        StringAssert.Contains(html, "src=\"data:image/png;base64," + Convert.ToBase64String(png) + "\"");
        StringAssert.Contains(html, "<span>FGSM</span>");
        StringAssert.Contains(section.Blocks.OfType<NoteBlock>().Single(n => n.Warning).Text, "missing.png does not exist");
    }

    [TestMethod]
    public void FoldersExpandToTheirJsonFilesInNameOrder()
    {
        var folder = Directory.CreateDirectory(Path.Combine(temp, "expand")).FullName;
        Write(folder, "b.json", new JsonObject());
        Write(folder, "a.json", new JsonObject());
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "not json");
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        Write(Path.Combine(folder, "sub"), "c.json", new JsonObject());

        var files = ReportInputs.Expand([folder, Path.Combine(folder, "a.json"), Path.Combine(folder, "sub", "c.json")]);

        CollectionAssert.AreEqual(new[] { "a.json", "b.json", "c.json" }, files.Select(Path.GetFileName).ToArray(), "each file once, folders not recursed");
        Assert.Throws<FileNotFoundException>(() => ReportInputs.Expand([Path.Combine(folder, "nope.json")]));
    }
}

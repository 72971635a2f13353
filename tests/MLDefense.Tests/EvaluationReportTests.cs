using System.Text.Json;
using MLDefense.Evaluation;

namespace MLDefense.Tests;

[TestClass]
public sealed class EvaluationReportTests
{
    private static MiaedResult SmallMiaedResult()
    {
        // Two kept images: negatives 0.1, 0.2 (clean), 0.3, 0.9 (noisy); positives 0.8, 0.7, each counted twice.
        var detection = DetectionMetrics.Compute([0.1f, 0.2f, 0.3f, 0.9f, 0.8f, 0.7f, 0.8f, 0.7f],
                                                 [false, false, false, false, true, true, true, true], threshold: 0.5);
        var row = new MiaedRow("mnist", "FGSM", "full", detection.Recall, detection.Precision, detection.F1, detection.Specificity, detection.Accuracy,
                               detection.Auc, 0.5, double.NaN, double.NaN, 0, 0.9, 3, 2, 2, 4, 4, 4, 1, 3, 0, 0.1, 1, 0.5);
        return new(row, detection, [new(0, 1, 0.1f, 0.3f, 0.8f, 7), new(2, 4, 0.2f, 0.9f, 0.7f, 9)]);
    }

    [TestMethod]
    public void MiaedJsonSnapshot()
    {
        const string expected = """
            [
              {
                "dataset": "mnist",
                "attack": "FGSM",
                "variant": "full",
                "recall": 1,
                "precision": 0.8,
                "f1": 0.888888888888889,
                "specificity": 0.75,
                "accuracy": 0.875,
                "auc": 0.75,
                "threshold": 0.5,
                "tpr_at_fpr_1pct": null,
                "threshold_at_fpr_1pct": null,
                "tpr_at_fpr_5pct": 0,
                "threshold_at_fpr_5pct": 0.9,
                "evaluated": 3,
                "candidates": 2,
                "kept": 2,
                "positives": 4,
                "negatives": 4,
                "true_positives": 4,
                "false_positives": 1,
                "true_negatives": 3,
                "false_negatives": 0,
                "noise_sigma": 0.1,
                "clean_specificity": 1,
                "noisy_specificity": 0.5
              }
            ]
            """;
        Assert.AreEqual(expected.ReplaceLineEndings("\n"), SmallMiaedResult().ToJson().ReplaceLineEndings("\n"));
    }

    [TestMethod]
    public void MiaedMarkdownSnapshot()
    {
        const string expected = """
            | Dataset | Attack | Variant | Kept | Recall (%) | Precision (%) | F1 (%) | Specificity (%) | Clean / noisy spec. (%) | Accuracy (%) |  AUC |
            | :------ | :----- | :------ | ---: | ---------: | ------------: | -----: | --------------: | ----------------------: | -----------: | ---: |
            | mnist   | FGSM   | full    |    2 |     100.00 |         80.00 |  88.89 |           75.00 |          100.00 / 50.00 |        87.50 | 0.75 |

            """;
        Assert.AreEqual(expected.ReplaceLineEndings("\n"), SmallMiaedResult().ToMarkdown());
    }

    [TestMethod]
    public void MixDefenseJsonAndMarkdownSnapshots()
    {
        var detection = DetectionMetrics.Compute([0.1f, 0.9f], [false, true], 0.5);
        var row = new MixDefenseRow("cifar10-subset", "BIM", "linf", 8.0 / 255, 1, 0.9, 1, 0, 1, 0.5, 1, 10, 0.8, 0.1, 0.125);
        var result = new MixDefenseResult([new(row, detection, new RobustClassifierCounts(10, 8, 1), [3], new int[10], new float[10])], new int[10], new float[10]);

        var json = JsonDocument.Parse(result.ToJson()).RootElement;
        Assert.AreEqual(JsonValueKind.Array, json.ValueKind);
        var first = json[0];
        CollectionAssert.AreEqual(
            new[] { "dataset", "attack", "norm", "epsilon", "acc_detector", "acc_rc", "tpr", "fpr", "auc", "threshold", "pairs", "evaluated",
                    "clean_accuracy", "adversarial_accuracy", "attack_success_rate" },
            first.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.AreEqual(8.0 / 255, first.GetProperty("epsilon").GetDouble());
        Assert.AreEqual(0.9, first.GetProperty("acc_rc").GetDouble());

        const string expected = """
            | Dataset        | Attack | Norm |      ε | Pairs | Acc_Detector (%) | Acc_RC (%) | TPR (%) | FPR (%) | AUC |
            | :------------- | :----- | :--- | -----: | ----: | ---------------: | ---------: | ------: | ------: | --: |
            | cifar10-subset | BIM    | linf | 0.0314 |     1 |           100.00 |      90.00 |  100.00 |    0.00 |   1 |

            """;
        Assert.AreEqual(expected.ReplaceLineEndings("\n"), result.ToMarkdown());
    }

    [TestMethod]
    public void CmagAndAeGanRowsUseTheirBenchmarksNames()
    {
        var cmag = new CmagResult([new CmagRow("mnist", "FGSM", "λ = 0.1", 0.5, 0.75, 0, 0.8, 0.2, 4, 10, 0.4, 0.6)], []);
        var cmagRow = JsonDocument.Parse(cmag.ToJson()).RootElement[0];
        CollectionAssert.AreEqual(
            new[] { "dataset", "attack", "intensity", "detection_accuracy", "balanced_accuracy", "fpr", "auc", "threshold", "successful", "evaluated",
                    "attack_success_rate", "adversarial_accuracy" },
            cmagRow.EnumerateObject().Select(p => p.Name).ToArray());
        StringAssert.Contains(cmag.ToMarkdown(), "| mnist   | FGSM   | λ = 0.1   |   4 |                  50.00 |                 75.00 |    0.00 | 0.8 |");

        var aegan = new AeGanResult(new AeGanRow("fashion-mnist", "PGD", "aegan", 0.81, 0.9, 0.05, 0.91, 1.25, double.NaN, double.NaN, double.NaN, double.NaN, 0, 100), null, [], []);
        var aeganRow = JsonDocument.Parse(aegan.ToJson()).RootElement[0];
        CollectionAssert.AreEqual(
            new[] { "dataset", "attack", "method", "accuracy", "clean_accuracy", "undefended_accuracy", "undefended_clean_accuracy", "ms_per_image",
                    "detection_auc", "detection_tpr_at_fpr_5pct", "detection_tpr", "detection_fpr", "successful_adversarial_examples", "evaluated" },
            aeganRow.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.AreEqual(JsonValueKind.Null, aeganRow.GetProperty("detection_auc").ValueKind, "undefined numbers are null");
        StringAssert.Contains(aegan.ToMarkdown(), "| fashion-mnist | PGD    | aegan  |        81.00 |              90.00 |           5.00 |     1.25 |             — |");
    }

    [TestMethod]
    public void SeveralResultsMakeOneTableAndOneArray()
    {
        var one = SmallMiaedResult();
        var two = one with { Row = one.Row with { Attack = "PGD", Variant = "caed" } };
        var table = MiaedResult.ToMarkdown([one, two]);
        Assert.AreEqual(4, table.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length, "header, rule, two rows");
        Assert.AreEqual(2, JsonDocument.Parse(MiaedResult.ToJson([one, two])).RootElement.GetArrayLength());
    }

    [TestMethod]
    public void MarkdownTableEscapesAndFormats()
    {
        var table = new MarkdownTable(MarkdownColumn.Text("a|b"), MarkdownColumn.Numeric("n")).AddRow("x|y\nz", MarkdownTable.Percent(double.NaN));
        Assert.AreEqual("| a\\|b   |   n |\n| :----- | --: |\n| x\\|y z |   — |\n", table.ToString());
        Assert.AreEqual("95.27", MarkdownTable.Percent(0.95271));
        Assert.AreEqual("0.0314", MarkdownTable.Number(8.0 / 255));
        Assert.AreEqual("3", MarkdownTable.Number(3.0));
        Assert.ThrowsExactly<ArgumentException>(() => table.AddRow("only one"));
    }
}

using System.Globalization;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using MLDefense.Reporting;

namespace MLDefense.Tests;

/// <summary>Small synthetic benchmark JSON (shaped as the bench commands write it) and helpers shared by the report tests.</summary>
internal static class ReportFixtures
{
    public static readonly XNamespace Svg = SvgChart.Svg;

    /// <summary>A <c>bench saec</c>-shaped file: CIFAR L∞ budgets in 1/255 for FGSM and BIM, with Acc_RC, a target, and (optionally) ROC points.</summary>
    public static JsonObject Saec(bool withRoc, int budgets = 4)
    {
        var rows = new JsonArray();
        foreach (var attack in new[] { "FGSM", "BIM" })
            for (int b = 0; b < budgets; b++)
            {
                double epsilon = (1 << b) / 255.0;                 // 1, 2, 4, 8 /255
                double acc = 0.55 + 0.1 * b + (attack == "BIM" ? 0.02 : 0);
                var row = new JsonObject
                {
                    ["dataset"] = "cifar10-subset", ["attack"] = attack, ["norm"] = "linf", ["epsilon"] = epsilon,
                    ["acc_detector"] = acc, ["acc_rc"] = acc - 0.05, ["tpr"] = acc - 0.02, ["fpr"] = 0.01, ["auc"] = acc + 0.03, ["pairs"] = 100,
                    ["target"] = epsilon >= 8 / 255.0 ? 0.97 : null, ["meets_target"] = epsilon >= 8 / 255.0 ? false : null,
                };
                if (withRoc) row["roc"] = RocJson.ToJson(SyntheticRoc(acc));
                rows.Add(row);
            }
        return new JsonObject { ["quick"] = true, ["threads"] = 2, ["device"] = "cpu", ["torch_version"] = "1.13.0", ["rows"] = rows };
    }

    /// <summary>A <c>bench attacks</c>-shaped file with its speed row.</summary>
    public static JsonObject AttackResults() => new()
    {
        ["model"] = "c1.zip", ["test_images"] = 100, ["device"] = "cpu",
        ["rows"] = new JsonArray(
            AttackRow("FGSM", "linf", 0.3, 0.25, 5.5, 0.3),
            AttackRow("PGD", "linf", 0.3, 0.01, 5.1, 0.3),
            AttackRow("CW-L2", "l2", null, 0.03, 1.2, 0.4)),
        ["speed"] = new JsonObject
        {
            ["case"] = "pgd40", ["mldefense_images_per_s"] = 65.1, ["pytorch_images_per_s"] = 54.5, ["ratio"] = 65.1 / 54.5, ["target_ratio"] = 0.9,
            ["mldefense_rounds"] = new JsonArray(65.2, 63.9, 65.1),
        },
    };

    private static JsonObject AttackRow(string attack, string norm, double? epsilon, double adversarial, double l2, double linf) => new()
    {
        ["attack"] = attack, ["norm"] = norm, ["epsilon"] = epsilon, ["clean_accuracy"] = 0.99, ["adversarial_accuracy"] = adversarial,
        ["mean_l2"] = l2, ["mean_linf"] = linf, ["images_per_s"] = 100.0, ["target"] = 0.05, ["meets_target"] = adversarial <= 0.05,
    };

    /// <summary>A ROC curve shaped by <paramref name="quality"/> (0.5 = chance, 1 = perfect): TPR = FPR^k.</summary>
    public static List<(double, double)> SyntheticRoc(double quality)
    {
        double k = Math.Max(0.02, (1 - quality) / quality);
        return Enumerable.Range(0, 501).Select(i => i / 500.0).Select(f => (f, Math.Pow(f, k))).ToList();
    }

    /// <summary>Writes <paramref name="json"/> to <paramref name="folder"/>/<paramref name="name"/> and returns the path.</summary>
    public static string Write(string folder, string name, JsonNode json)
    {
        var path = Path.Combine(folder, name);
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    /// <summary>The parsed SVG of a chart (parsing is the well-formedness check).</summary>
    public static XElement Parse(SvgChart chart) => XDocument.Parse(chart.ToString()).Root!;

    /// <summary>The elements <paramref name="name"/> whose class list contains <paramref name="cssClass"/>.</summary>
    public static List<XElement> WithClass(XElement root, string name, string cssClass) =>
        root.Descendants(Svg + name).Where(e => HasClass(e, cssClass)).ToList();

    /// <summary>The elements of any name whose class list contains <paramref name="cssClass"/>.</summary>
    public static List<XElement> WithClass(XElement root, string cssClass) => root.Descendants().Where(e => HasClass(e, cssClass)).ToList();

    private static bool HasClass(XElement e, string cssClass) => ((string?)e.Attribute("class"))?.Split(' ').Contains(cssClass) == true;

    public static double Number(XElement e, string attribute) => double.Parse((string)e.Attribute(attribute)!, CultureInfo.InvariantCulture);

    /// <summary>A fresh temporary folder.</summary>
    public static string TempFolder() => Directory.CreateTempSubdirectory("mldefense-report-").FullName;
}

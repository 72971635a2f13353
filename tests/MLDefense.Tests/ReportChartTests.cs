using System.Xml.Linq;
using MLDefense.Reporting;
using static MLDefense.Tests.ReportFixtures;

namespace MLDefense.Tests;

[TestClass]
public sealed class ReportChartTests
{
    private static LineSeries Series(string name, params (double X, double Y)[] points) => new(name, points.Select(p => new ChartPoint(p.X, p.Y)).ToList());

    [TestMethod]
    public void LineChartIsWellFormedSvgWithOneGroupPerSeriesAndOneMarkerPerPoint()
    {
        var chart = new LineChart
        {
            Title = "Acc_Detector — cifar10-subset, L∞", XLabel = "ε", YLabel = "Acc_Detector", YMin = 0, YMax = 1,
            Series = [Series("FGSM", (1, 0.5), (2, 0.6), (4, 0.8), (8, 0.95)), Series("BIM", (1, 0.52), (2, 0.7), (4, 0.9)), Series("PGD", (1, 0.4), (8, 0.99))],
        };

        var svg = Parse(chart);

        Assert.AreEqual(Svg + "svg", svg.Name);
        var groups = WithClass(svg, "g", "series");
        CollectionAssert.AreEqual(new[] { "FGSM", "BIM", "PGD" }, groups.Select(g => (string)g.Attribute("data-name")!).ToArray());
        CollectionAssert.AreEqual(new[] { 4, 3, 2 }, groups.Select(g => WithClass(g, "series-point").Count).ToArray());
        CollectionAssert.AreEqual(new[] { "circle", "rect", "path" }, groups.Select(g => WithClass(g, "series-point")[0].Name.LocalName).ToArray(),
                                  "each series has its marker shape, so overlapping series stay visible");
        Assert.IsTrue(groups.All(g => WithClass(g, "path", "series-line").Count == 1), "one line per series");
        Assert.AreEqual(3, WithClass(svg, "g", "legend-entry").Count);
        Assert.AreEqual(chart.Title, svg.Element(Svg + "title")!.Value);
        Assert.IsTrue(svg.Descendants(Svg + "text").Any(t => t.Value == "Acc_Detector"), "the y axis is labelled");
        Assert.IsTrue(WithClass(svg, "text", "tick-label").Count >= 8, "both axes have tick labels");
        Assert.AreEqual(3, groups.Select(g => (string)WithClass(g, "path", "series-line")[0].Attribute("stroke")!).Distinct().Count(), "each series has its colour");
    }

    [TestMethod]
    public void PointsLandWhereTheAxesSay()
    {
        var chart = new LineChart { XMin = 0, XMax = 1, YMin = 0, YMax = 1, Series = [Series("s", (0, 0), (0.5, 0.25), (1, 1))] };

        var points = WithClass(Parse(chart), "circle", "series-point");
        var frame = WithClass(Parse(chart), "rect", "plot-frame").Single();
        double left = Number(frame, "x"), top = Number(frame, "y"), width = Number(frame, "width"), height = Number(frame, "height");

        Assert.AreEqual(left, Number(points[0], "cx"), 0.01);
        Assert.AreEqual(top + height, Number(points[0], "cy"), 0.01, "(0, 0) is the bottom-left corner");
        Assert.AreEqual(left + width / 2, Number(points[1], "cx"), 0.01);
        Assert.AreEqual(top + height * 0.75, Number(points[1], "cy"), 0.01);
        Assert.AreEqual(left + width, Number(points[2], "cx"), 0.01);
        Assert.AreEqual(top, Number(points[2], "cy"), 0.01, "(1, 1) is the top-right corner");
    }

    [TestMethod]
    public void NonFinitePointsAreLeftOutAndBreakTheLine()
    {
        var chart = new LineChart { Series = [Series("s", (1, 0.1), (2, double.NaN), (3, 0.3), (4, 0.4))] };

        var svg = Parse(chart);
        var d = (string)WithClass(svg, "path", "series-line").Single().Attribute("d")!;

        Assert.AreEqual(3, WithClass(svg, "series-point").Count);
        Assert.AreEqual(2, d.Count(c => c == 'M'), $"the line restarts after the gap: {d}");
        Assert.IsFalse(d.Contains("NaN"), d);
    }

    [TestMethod]
    public void BarChartDrawsOneBarPerValueWithHeightsInProportion()
    {
        var chart = new BarChart
        {
            Title = "Accuracy", Categories = ["FGSM", "PGD", "CW-L2"], YMax = 1,
            Series = [new("clean", [1.0, 1.0, 1.0]), new("adversarial", [0.5, null, 0.25])],
        };

        var svg = Parse(chart);
        var groups = WithClass(svg, "g", "series");
        var clean = WithClass(groups[0], "rect", "bar");
        var adversarial = WithClass(groups[1], "rect", "bar");

        Assert.AreEqual(3, clean.Count);
        Assert.AreEqual(2, adversarial.Count, "no bar for a missing value");
        Assert.AreEqual(1, WithClass(svg, "text", "missing").Count, "the missing value is marked n/a");
        Assert.AreEqual(Number(clean[0], "height") / 2, Number(adversarial[0], "height"), 0.02);
        Assert.AreEqual(Number(clean[2], "height") / 4, Number(adversarial[1], "height"), 0.02);
        Assert.AreEqual(2, WithClass(svg, "g", "legend-entry").Count);
        Assert.AreEqual(3, WithClass(svg, "text", "category").Count);
    }

    [TestMethod]
    public void LogBarChartPlacesPowersOfTenEvenly()
    {
        var chart = new BarChart { Categories = ["aegan", "defensegan"], Series = [new("ms", [2.0, 2000.0])], LogScale = true };

        var svg = Parse(chart);
        var bars = WithClass(svg, "rect", "bar");
        var ticks = WithClass(svg, "text", "tick-label").Where(t => !((string)t.Attribute("class")!).Contains("category")).Select(t => t.Value).ToList();

        CollectionAssert.AreEqual(new[] { "1", "10", "100", "1000", "10000" }, ticks);
        double frame = Number(WithClass(svg, "rect", "plot-frame").Single(), "height");
        Assert.AreEqual(Math.Log10(2) / 4 * frame, Number(bars[0], "height"), 0.02);
        Assert.AreEqual(Math.Log10(2000) / 4 * frame, Number(bars[1], "height"), 0.02);
    }

    [TestMethod]
    public void ReferenceLinesAreDrawnAndNamed()
    {
        var chart = new BarChart { Categories = ["train_step"], Series = [new("ratio", [1.2])], ReferenceLines = [new(1, "parity (1.0)"), new(0.9, "target 0.9")] };

        var svg = Parse(chart);

        Assert.AreEqual(2, WithClass(svg, "line", "reference-line").Count);
        CollectionAssert.AreEqual(new[] { "parity (1.0)", "target 0.9" }, WithClass(svg, "g", "legend-entry").Select(e => e.Element(Svg + "title")!.Value).ToArray());
    }

    [TestMethod]
    public void TextIsEscapedAndCleaned()
    {
        const string hostile = "<script>alert(\"x\")</script> & 'quotes' \u0001 ε";
        var chart = new LineChart { Title = hostile, XLabel = hostile, Series = [Series(hostile, (0, 0), (1, 1))] };

        var markup = chart.ToString();
        var svg = XDocument.Parse(markup).Root!;   // well-formed despite the markup and the control character

        Assert.IsFalse(markup.Contains("<script"), "markup in text is escaped");
        Assert.IsFalse(svg.Descendants().Any(e => e.Name.LocalName == "script"));
        string cleaned = hostile.Replace('\u0001', '\uFFFD');
        Assert.AreEqual(cleaned, svg.Element(Svg + "title")!.Value);
        Assert.AreEqual(cleaned, (string)WithClass(svg, "g", "series").Single().Attribute("data-name")!);
        Assert.IsTrue(markup.Contains("&lt;script&gt;"));
    }

    [TestMethod]
    [DataRow(new[] { 0.03, 0.97 }, 0.0, 1.0, new[] { 0, 0.2, 0.4, 0.6, 0.8, 1 })]
    [DataRow(new[] { 3.0, 47.0 }, double.NaN, double.NaN, new[] { 0.0, 10, 20, 30, 40, 50 })]
    [DataRow(new[] { 1.0, 16.0 }, 0.0, double.NaN, new[] { 0.0, 5, 10, 15, 20 })]
    public void LinearAxisHasNiceTicksCoveringTheData(double[] values, double min, double max, double[] expected)
    {
        var axis = ChartAxis.Linear(values, double.IsNaN(min) ? null : min, double.IsNaN(max) ? null : max);

        Assert.AreEqual(expected.Length, axis.Ticks.Count, string.Join(", ", axis.Ticks));
        for (int i = 0; i < expected.Length; i++) Assert.AreEqual(expected[i], axis.Ticks[i], 1e-9);
        Assert.IsTrue(axis.Min <= values.Min() && axis.Max >= values.Max());
    }

    [TestMethod]
    public void AxisGrowsPastAFixedBoundRatherThanDrawOutsideThePlot()
    {
        var axis = ChartAxis.Linear([0.5, 1.3], 0, 1);

        Assert.AreEqual(0, axis.Min);
        Assert.IsTrue(axis.Max >= 1.3);
    }

    [TestMethod]
    public void AxisOfOneValueIsNotDegenerate()
    {
        var axis = ChartAxis.Linear([0.42]);

        Assert.IsTrue(axis.Min < 0.42 && axis.Max > 0.42);
        Assert.IsTrue(axis.Ticks.Count >= 2);
    }
}

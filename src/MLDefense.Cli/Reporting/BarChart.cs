using System.Xml.Linq;

namespace MLDefense.Reporting;

/// <summary>A named set of bar values, one per category of its chart (null or non-finite: no bar, marked "n/a").</summary>
/// <param name="Name">The legend's name for it.</param>
/// <param name="Values">One value per category.</param>
public sealed record BarSeries(string Name, IReadOnlyList<double?> Values);

/// <summary>
/// Grouped vertical bars: one group per category along the x axis, one bar per series in each group (speed ratios,
/// accuracy under each attack, accuracy per purifier). Each series is one <c>&lt;g class="series"&gt;</c> holding one
/// <c>&lt;rect class="bar"&gt;</c> per category that has a value; the value is written above the bar when it fits, and
/// is always in the bar's tooltip.
/// </summary>
public sealed class BarChart : SvgChart
{
    /// <summary>The category labels along the x axis.</summary>
    public IReadOnlyList<string> Categories { get; init; } = [];

    /// <summary>The series; each has one value per category.</summary>
    public IReadOnlyList<BarSeries> Series { get; init; } = [];

    /// <summary>A fixed lower end of the y axis; null starts at 0, or lower when a value is negative. Ignored on a log axis.</summary>
    public double? YMin { get; init; }

    /// <summary>A fixed upper end of the y axis (e.g. 1 for accuracies), or null to fit the data.</summary>
    public double? YMax { get; init; }

    /// <summary>A log10 y axis, for values spanning orders of magnitude (milliseconds per image of a 200-step search and a 15-step one). Values ≤ 0 are not drawn.</summary>
    public bool LogScale { get; init; }

    /// <summary>The number of decimals of the values written above the bars. Default 3.</summary>
    public int ValueDecimals { get; init; } = 3;

    /// <inheritdoc />
    protected override string Kind => "bar-chart";

    private IEnumerable<double> Values() => Series.SelectMany(s => s.Values).Where(v => v is double d && double.IsFinite(d)).Select(v => v!.Value);

    /// <inheritdoc />
    protected override ChartAxis YAxis() =>
        LogScale ? ChartAxis.Log(Values().Concat(ReferenceLines.Select(r => r.Y)))
                 : ChartAxis.Linear(Values().Concat(ReferenceLines.Select(r => r.Y)), YMin ?? 0, YMax);

    /// <inheritdoc />
    protected override IEnumerable<LegendEntry> LegendEntries() =>
        Series.Count > 1 ? Series.Select((s, i) => new LegendEntry(s.Name, ColorOf(i), "", LegendShape.Box)) : [];

    private bool RotatedLabels(double plotWidth) =>
        Categories.Count > 0 && Categories.Max(c => Math.Min(c.Length, 28)) * 6.5 > plotWidth / Categories.Count - 4;

    /// <inheritdoc />
    protected override double BottomMargin()
    {
        double plotWidth = Width - 82 - (LegendEntries().Any() || ReferenceLines.Count > 0 ? 176 : 0);
        if (!RotatedLabels(plotWidth)) return 56;
        // Labels turned by 35°: their drop is length · sin 35°.
        return Math.Min(170, 40 + Categories.Max(c => Math.Min(c.Length, 28)) * 6.5 * 0.574);
    }

    /// <inheritdoc />
    protected override IEnumerable<XElement> DrawPlot(PlotArea plot, ChartAxis y)
    {
        if (Series.Any(s => s.Values.Count != Categories.Count))
            throw new InvalidOperationException($"Every bar series needs one value per category ({Categories.Count}).");
        int n = Math.Max(1, Categories.Count);
        double band = plot.Width / n, barWidth = band * 0.8 / Math.Max(1, Series.Count);
        double baseline = y.Logarithmic ? plot.Bottom : plot.Y(y, Math.Clamp(0, y.Min, y.Max));
        bool rotated = RotatedLabels(plot.Width);

        for (int c = 0; c < Categories.Count; c++)
        {
            double cx = plot.Left + band * (c + 0.5);
            var label = ReportText.Truncate(ReportText.Clean(Categories[c]), 28);
            yield return El("line", A("class", "tick"), A("x1", cx), A("x2", cx), A("y1", plot.Bottom), A("y2", plot.Bottom + 5), A("stroke", "#333333"));
            yield return rotated
                ? El("text", A("class", "tick-label category"), A("x", 0), A("y", 0), A("text-anchor", "end"),
                     A("transform", $"translate({F(cx + 3)} {F(plot.Bottom + 12)}) rotate(-35)"), El("title", Categories[c]), label)
                : El("text", A("class", "tick-label category"), A("x", cx), A("y", plot.Bottom + 18), A("text-anchor", "middle"), El("title", Categories[c]), label);
        }

        for (int s = 0; s < Series.Count; s++)
        {
            var series = Series[s];
            var group = El("g", A("class", "series"), A("data-name", series.Name), El("title", series.Name));
            for (int c = 0; c < Categories.Count; c++)
            {
                double left = plot.Left + band * c + band * 0.1 + barWidth * s;
                if (series.Values[c] is not double value || !y.CanShow(value))
                {
                    group.Add(El("text", A("class", "missing"), A("x", left + barWidth / 2), A("y", plot.Bottom - 4), A("text-anchor", "middle"),
                                 A("font-size", 9), A("fill", "#777777"), "n/a"));
                    continue;
                }
                double top = plot.Y(y, value);
                double y0 = Math.Min(top, baseline), height = Math.Max(Math.Abs(baseline - top), 0.5);
                group.Add(El("rect", A("class", "bar"), A("x", left), A("y", y0), A("width", Math.Max(barWidth - 1, 1)), A("height", height),
                             A("fill", ColorOf(s)), A("data-value", ReportText.Number(value, 6)),
                             El("title", $"{series.Name} · {Categories[c]}: {ReportText.Number(value, 6)}")));
                if (barWidth >= 24)
                    group.Add(El("text", A("class", "bar-value"), A("x", left + barWidth / 2), A("y", value >= 0 || y.Logarithmic ? y0 - 3 : y0 + height + 11),
                                 A("text-anchor", "middle"), A("font-size", 10), A("fill", "#222222"), ReportText.Number(value, ValueDecimals)));
            }
            yield return group;
        }
    }
}

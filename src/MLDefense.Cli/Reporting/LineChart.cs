using System.Xml.Linq;

namespace MLDefense.Reporting;

/// <summary>One point of a line series.</summary>
/// <param name="X">The x value.</param>
/// <param name="Y">The y value.</param>
public readonly record struct ChartPoint(double X, double Y);

/// <summary>A named line of points, drawn in the order given.</summary>
/// <param name="Name">The legend's name for it.</param>
/// <param name="Points">Its points; one with a non-finite coordinate is left out and breaks the line there.</param>
public sealed record LineSeries(string Name, IReadOnlyList<ChartPoint> Points);

/// <summary>
/// Lines over numeric x and y axes: accuracy against the perturbation budget (MixDefense Fig. 5–7), ROC curves,
/// training curves. Each series is one <c>&lt;g class="series"&gt;</c> holding one <c>&lt;path class="series-line"&gt;</c>
/// and, with <see cref="Markers"/>, one marker of class <c>series-point</c> per drawn point (a circle, square, diamond or
/// triangle by series) whose tooltip gives its values.
/// </summary>
public sealed class LineChart : SvgChart
{
    /// <summary>The series, drawn in order with <see cref="SvgChart.ColorOf"/> colours.</summary>
    public IReadOnlyList<LineSeries> Series { get; init; } = [];

    /// <summary>Whether each point gets a marker. Default true (off for ROC curves, which have hundreds of points).</summary>
    public bool Markers { get; init; } = true;

    /// <summary>A fixed lower end of the x axis (kept unless a point lies beyond it), or null to fit the data.</summary>
    public double? XMin { get; init; }

    /// <summary>A fixed upper end of the x axis, or null to fit the data.</summary>
    public double? XMax { get; init; }

    /// <summary>A fixed lower end of the y axis (e.g. 0 for rates), or null to fit the data.</summary>
    public double? YMin { get; init; }

    /// <summary>A fixed upper end of the y axis (e.g. 1 for rates), or null to fit the data.</summary>
    public double? YMax { get; init; }

    /// <summary>Labels for the x ticks (e.g. budgets in 1/255); null writes the tick's value.</summary>
    public Func<double, string>? XTickLabel { get; init; }

    /// <summary>Whether to draw the dashed y = x line of a chance-level detector (ROC charts). Default false.</summary>
    public bool ChanceDiagonal { get; init; }

    /// <inheritdoc />
    protected override string Kind => "line-chart";

    private ChartAxis XAxis() => ChartAxis.Linear(Series.SelectMany(s => s.Points).Where(IsDrawn).Select(p => p.X), XMin, XMax);

    /// <inheritdoc />
    protected override ChartAxis YAxis() => ChartAxis.Linear(Series.SelectMany(s => s.Points).Where(IsDrawn).Select(p => p.Y), YMin, YMax);

    private static bool IsDrawn(ChartPoint p) => double.IsFinite(p.X) && double.IsFinite(p.Y);

    /// <inheritdoc />
    protected override IEnumerable<LegendEntry> LegendEntries()
    {
        for (int i = 0; i < Series.Count; i++) yield return new(Series[i].Name, ColorOf(i), DashOf(i), LegendShape.Line, Markers ? i : null);
        if (ChanceDiagonal) yield return new("chance", "#999999", "4 3", LegendShape.Line);
    }

    /// <inheritdoc />
    protected override IEnumerable<XElement> DrawPlot(PlotArea plot, ChartAxis y)
    {
        var x = XAxis();
        foreach (double tick in x.Ticks)
        {
            double px = plot.X(x, tick);
            yield return El("line", A("class", "grid"), A("x1", px), A("x2", px), A("y1", plot.Top), A("y2", plot.Bottom), A("stroke", "#eeeeee"));
            yield return El("line", A("class", "tick"), A("x1", px), A("x2", px), A("y1", plot.Bottom), A("y2", plot.Bottom + 5), A("stroke", "#333333"));
            yield return El("text", A("class", "tick-label"), A("x", px), A("y", plot.Bottom + 18), A("text-anchor", "middle"),
                            XTickLabel?.Invoke(tick) ?? x.Format(tick));
        }
        if (ChanceDiagonal)
        {
            double lo = Math.Max(x.Min, y.Min), hi = Math.Min(x.Max, y.Max);
            if (hi > lo)
                yield return El("line", A("class", "chance"), A("x1", plot.X(x, lo)), A("y1", plot.Y(y, lo)), A("x2", plot.X(x, hi)), A("y2", plot.Y(y, hi)),
                                A("stroke", "#999999"), A("stroke-dasharray", "4 3"));
        }
        for (int i = 0; i < Series.Count; i++) yield return DrawSeries(Series[i], i, plot, x, y);
    }

    private XElement DrawSeries(LineSeries series, int index, PlotArea plot, ChartAxis x, ChartAxis y)
    {
        var group = El("g", A("class", "series"), A("data-name", series.Name), El("title", series.Name));
        var path = new System.Text.StringBuilder();
        bool pen = false;
        var markers = new List<XElement>();
        foreach (var p in series.Points)
        {
            if (!IsDrawn(p)) { pen = false; continue; }
            double px = plot.X(x, p.X), py = plot.Y(y, p.Y);
            path.Append(pen ? " L" : (path.Length > 0 ? " M" : "M")).Append(F(px)).Append(' ').Append(F(py));
            pen = true;
            if (Markers)
                markers.Add(Marker(index, px, py, "series-point", El("title", $"{series.Name}: x = {ReportText.Number(p.X)}, y = {ReportText.Number(p.Y)}")));
        }
        if (path.Length > 0)
        {
            var line = El("path", A("class", "series-line"), A("d", path.ToString()), A("fill", "none"),
                          A("stroke", ColorOf(index)), A("stroke-width", 2), A("stroke-linejoin", "round"));
            if (DashOf(index).Length > 0) line.Add(A("stroke-dasharray", DashOf(index)));
            group.Add(line);
        }
        group.Add(markers);
        return group;
    }
}

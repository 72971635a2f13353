using System.Globalization;
using System.Xml.Linq;

namespace MLDefense.Reporting;

/// <summary>A horizontal line across a chart's plot at a y value (a target, or parity), drawn dashed and named in the legend.</summary>
/// <param name="Y">Where it lies on the y axis.</param>
/// <param name="Label">What it marks (e.g. "target 0.97").</param>
/// <param name="Color">Its colour (a CSS colour).</param>
public sealed record ReferenceLine(double Y, string Label, string Color = "#444444");

/// <summary>
/// A chart drawn as standalone SVG 1.1 by this project's own code (no library, no script), for the HTML report:
/// a title, a plot area with axes, ticks and tick labels, axis labels, and a legend. Built with
/// <see cref="System.Xml.Linq"/>, so the output is always well-formed XML and every text is escaped; strings are also
/// cleaned of characters XML cannot carry (<see cref="ReportText.Clean"/>). The SVG carries no id, so any number of
/// charts can sit in one HTML page.
/// </summary>
/// <remarks>
/// Elements carry classes that say what they are (<c>series</c> groups with a <c>data-name</c>, <c>series-line</c>,
/// <c>series-point</c>, <c>bar</c>, <c>legend-entry</c>, <c>tick</c>, <c>reference-line</c>), so the report's tests —
/// and anyone styling the page — can find them. Colours are the Okabe–Ito palette, which stays distinguishable under
/// the common colour-vision deficiencies; past eight series the palette repeats with a dash pattern.
/// </remarks>
public abstract class SvgChart
{
    /// <summary>The SVG namespace.</summary>
    public static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    /// <summary>The series colours, in order (Okabe–Ito, with black last but one and a wine red).</summary>
    public static IReadOnlyList<string> Palette { get; } = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#882255"];

    private static readonly string[] Dashes = ["", "6 3", "2 3", "8 3 2 3"];

    /// <summary>The chart's title, drawn at the top.</summary>
    public string Title { get; init; } = "";

    /// <summary>The x axis label.</summary>
    public string XLabel { get; init; } = "";

    /// <summary>The y axis label.</summary>
    public string YLabel { get; init; } = "";

    /// <summary>The width of the whole chart in pixels. Default 640.</summary>
    public int Width { get; init; } = 640;

    /// <summary>The height of the whole chart in pixels. Default 380.</summary>
    public int Height { get; init; } = 380;

    /// <summary>Horizontal reference lines (targets, parity). Default none.</summary>
    public IReadOnlyList<ReferenceLine> ReferenceLines { get; init; } = [];

    /// <summary>The colour of series <paramref name="index"/>.</summary>
    public static string ColorOf(int index) => Palette[index % Palette.Count];

    /// <summary>The dash pattern of series <paramref name="index"/> ("" for solid): solid for the first palette round, then dashed.</summary>
    public static string DashOf(int index) => Dashes[index / Palette.Count % Dashes.Length];

    /// <summary>The chart as an <c>&lt;svg&gt;</c> element.</summary>
    public XElement ToSvg()
    {
        var legend = LegendEntries().Concat(ReferenceLines.Select(r => new LegendEntry(r.Label, r.Color, "4 3", LegendShape.Line))).ToList();
        double legendWidth = legend.Count > 0 ? 176 : 0;
        var plot = new PlotArea(Left: 66, Top: 40, Right: Width - 16 - legendWidth, Bottom: Height - BottomMargin());

        var svg = new XElement(Svg + "svg",
            new XAttribute("width", Width), new XAttribute("height", Height),
            new XAttribute("viewBox", $"0 0 {Width} {Height}"),
            new XAttribute("role", "img"), new XAttribute("aria-label", ReportText.Clean(Title)),
            new XAttribute("class", "chart " + Kind),
            new XAttribute("font-family", "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"),
            new XAttribute("font-size", 12),
            El("title", Title),
            El("rect", A("x", 0), A("y", 0), A("width", Width), A("height", Height), A("fill", "#ffffff")),
            El("text", A("class", "chart-title"), A("x", Width / 2.0), A("y", 22), A("text-anchor", "middle"), A("font-size", 15),
               A("font-weight", "600"), ReportText.Truncate(ReportText.Clean(Title), Width / 8)));

        var y = YAxis();
        svg.Add(DrawYAxis(plot, y));
        // The frame goes under the series, so a curve along an edge (a perfect detector's ROC) stays visible.
        svg.Add(El("rect", A("class", "plot-frame"), A("x", plot.Left), A("y", plot.Top), A("width", plot.Width), A("height", plot.Height),
                   A("fill", "none"), A("stroke", "#333333")));
        svg.Add(DrawPlot(plot, y));
        foreach (var line in ReferenceLines)
        {
            if (!y.CanShow(line.Y)) continue;
            double py = plot.Y(y, line.Y);
            svg.Add(El("line", A("class", "reference-line"), A("x1", plot.Left), A("x2", plot.Right), A("y1", py), A("y2", py),
                       A("stroke", line.Color), A("stroke-width", 1.5), A("stroke-dasharray", "4 3"), El("title", line.Label)));
        }
        if (XLabel.Length > 0)
            svg.Add(El("text", A("class", "axis-label"), A("x", (plot.Left + plot.Right) / 2), A("y", Height - 10), A("text-anchor", "middle"), XLabel));
        if (YLabel.Length > 0)
            svg.Add(El("text", A("class", "axis-label"), A("x", 0), A("y", 0), A("text-anchor", "middle"),
                       A("transform", $"translate(16 {F((plot.Top + plot.Bottom) / 2)}) rotate(-90)"), YLabel));
        if (legend.Count > 0) svg.Add(DrawLegend(legend, plot.Right + 14, plot.Top));
        return svg;
    }

    /// <summary>The chart as SVG markup (no XML declaration, so it can be inlined in HTML).</summary>
    public override string ToString() => ToSvg().ToString(SaveOptions.DisableFormatting);

    /// <summary>The chart kind, added to the root's class (e.g. <c>line-chart</c>).</summary>
    protected abstract string Kind { get; }

    /// <summary>The y axis the plot and the reference lines share.</summary>
    protected abstract ChartAxis YAxis();

    /// <summary>Draws the series and the x axis into <paramref name="plot"/>.</summary>
    protected abstract IEnumerable<XElement> DrawPlot(PlotArea plot, ChartAxis y);

    /// <summary>The legend's entries for the series (reference lines are added after them).</summary>
    protected abstract IEnumerable<LegendEntry> LegendEntries();

    /// <summary>Pixels below the plot for x tick labels and the x axis label. Default 56.</summary>
    protected virtual double BottomMargin() => 56;

    private IEnumerable<XElement> DrawYAxis(PlotArea plot, ChartAxis y)
    {
        foreach (double tick in y.Ticks)
        {
            double py = plot.Y(y, tick);
            yield return El("line", A("class", "grid"), A("x1", plot.Left), A("x2", plot.Right), A("y1", py), A("y2", py), A("stroke", "#e4e4e4"));
            yield return El("line", A("class", "tick"), A("x1", plot.Left - 5), A("x2", plot.Left), A("y1", py), A("y2", py), A("stroke", "#333333"));
            yield return El("text", A("class", "tick-label"), A("x", plot.Left - 8), A("y", py + 4), A("text-anchor", "end"), y.Format(tick));
        }
    }

    private static XElement DrawLegend(IReadOnlyList<LegendEntry> entries, double x, double top)
    {
        var legend = El("g", A("class", "legend"));
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            double y = top + 8 + i * 18;
            var entry = El("g", A("class", "legend-entry"), El("title", e.Name));
            if (e.Shape == LegendShape.Box)
                entry.Add(El("rect", A("x", x), A("y", y - 5), A("width", 18), A("height", 10), A("fill", e.Color)));
            else
            {
                var line = El("line", A("x1", x), A("x2", x + 20), A("y1", y), A("y2", y), A("stroke", e.Color), A("stroke-width", 2.5));
                if (e.Dash.Length > 0) line.Add(A("stroke-dasharray", e.Dash));
                entry.Add(line);
                if (e.Marker is int marker) entry.Add(Marker(marker, x + 10, y, "legend-marker"));
            }
            entry.Add(El("text", A("x", x + 26), A("y", y + 4), ReportText.Truncate(ReportText.Clean(e.Name), 22)));
            legend.Add(entry);
        }
        return legend;
    }

    /// <summary>
    /// A point's marker: a circle, square, diamond or triangle by series, so that series drawn over each other (two
    /// attacks both at 100% detection) stay visible and tell apart without colour.
    /// </summary>
    protected internal static XElement Marker(int index, double x, double y, string cssClass, XElement? title = null)
    {
        const double r = 3.6;
        string color = ColorOf(index);
        return (index % 4) switch
        {
            0 => El("circle", A("class", cssClass), A("cx", x), A("cy", y), A("r", r), A("fill", color), title),
            1 => El("rect", A("class", cssClass), A("x", x - r), A("y", y - r), A("width", 2 * r), A("height", 2 * r), A("fill", "none"),
                    A("stroke", color), A("stroke-width", 1.6), title),
            2 => El("path", A("class", cssClass), A("d", $"M{F(x)} {F(y - r - 1)} L{F(x + r + 1)} {F(y)} L{F(x)} {F(y + r + 1)} L{F(x - r - 1)} {F(y)} Z"),
                    A("fill", color), title),
            _ => El("path", A("class", cssClass), A("d", $"M{F(x)} {F(y - r - 1)} L{F(x + r + 1)} {F(y + r)} L{F(x - r - 1)} {F(y + r)} Z"),
                    A("fill", "none"), A("stroke", color), A("stroke-width", 1.6), title),
        };
    }

    /// <summary>An SVG element with content (attributes, elements, or text — cleaned of characters XML cannot carry).</summary>
    protected internal static XElement El(string name, params object?[] content) =>
        new(Svg + name, content.Select(c => c is string s ? ReportText.Clean(s) : c).ToArray());

    /// <summary>An attribute; numbers written invariantly with at most two decimals.</summary>
    protected internal static XAttribute A(string name, object value) => new(name, value switch
    {
        double d => F(d),
        float f => F(f),
        string s => ReportText.Clean(s),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    });

    /// <summary>A coordinate as SVG text: invariant, at most two decimals.</summary>
    protected internal static string F(double value) => Math.Round(value, 2).ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>The plot's rectangle in pixels, and the mapping of axis values into it.</summary>
    protected internal readonly record struct PlotArea(double Left, double Top, double Right, double Bottom)
    {
        /// <summary>The plot's width.</summary>
        public double Width => Right - Left;
        /// <summary>The plot's height.</summary>
        public double Height => Bottom - Top;
        /// <summary>The pixel column of <paramref name="value"/> on the x axis.</summary>
        public double X(ChartAxis axis, double value) => Left + axis.Fraction(value) * Width;
        /// <summary>The pixel row of <paramref name="value"/> on the y axis (up is larger).</summary>
        public double Y(ChartAxis axis, double value) => Bottom - axis.Fraction(value) * Height;
    }

    /// <summary>How a legend entry is drawn.</summary>
    protected internal enum LegendShape
    {
        /// <summary>A short line (line series, reference lines).</summary>
        Line,
        /// <summary>A filled box (bars).</summary>
        Box,
    }

    /// <summary>One legend entry.</summary>
    protected internal sealed record LegendEntry(string Name, string Color, string Dash, LegendShape Shape, int? Marker = null);
}

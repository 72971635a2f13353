using System.Globalization;

namespace MLDefense.Reporting;

/// <summary>
/// A chart axis: the range of data values it spans, whether it is linear or logarithmic (base 10), where its ticks go,
/// and how they are labelled. Linear ticks are "nice" steps (1, 2 or 5 × 10^k) covering the data; log ticks are the
/// powers of ten that cover it.
/// </summary>
public sealed class ChartAxis
{
    private readonly int decimals;

    private ChartAxis(double min, double max, bool logarithmic, IReadOnlyList<double> ticks, int decimals)
    {
        (Min, Max, Logarithmic, Ticks) = (min, max, logarithmic, ticks);
        this.decimals = decimals;
    }

    /// <summary>The value at the start of the axis (bottom or left).</summary>
    public double Min { get; }

    /// <summary>The value at the end of the axis (top or right).</summary>
    public double Max { get; }

    /// <summary>Whether positions are proportional to log10 of the value.</summary>
    public bool Logarithmic { get; }

    /// <summary>The tick values, ascending, all within [<see cref="Min"/>, <see cref="Max"/>].</summary>
    public IReadOnlyList<double> Ticks { get; }

    /// <summary>
    /// A linear axis covering the finite values of <paramref name="values"/>, widened to nice tick steps. A bound given in
    /// <paramref name="fixedMin"/> or <paramref name="fixedMax"/> is used as is unless a value lies beyond it (the axis
    /// then grows to show it, rather than drawing outside the plot). With no finite value the axis spans [0, 1].
    /// </summary>
    /// <param name="values">The data values the axis must show.</param>
    /// <param name="fixedMin">A lower bound to keep (e.g. 0 for accuracies), or null to fit the data.</param>
    /// <param name="fixedMax">An upper bound to keep (e.g. 1 for accuracies), or null to fit the data.</param>
    /// <param name="targetTicks">About how many ticks to draw.</param>
    public static ChartAxis Linear(IEnumerable<double> values, double? fixedMin = null, double? fixedMax = null, int targetTicks = 6)
    {
        var finite = values.Where(double.IsFinite).ToList();
        double low = finite.Count > 0 ? finite.Min() : fixedMin ?? 0;
        double high = finite.Count > 0 ? finite.Max() : fixedMax ?? 1;
        bool keepMin = fixedMin is double a && a <= low, keepMax = fixedMax is double b && b >= high;
        if (keepMin) low = fixedMin!.Value;
        if (keepMax) high = fixedMax!.Value;
        if (high <= low)
        {
            // One value and no bounds around it: centre it in a span of ±10% (±1 around 0).
            double pad = low == 0 ? 1 : Math.Abs(low) * 0.1;
            if (!keepMin) low -= pad;
            if (!keepMax || high <= low) { high += pad; keepMax = false; }
        }
        double step = NiceStep((high - low) / Math.Max(1, targetTicks - 1));
        double min = keepMin ? low : Math.Floor(low / step + 1e-9) * step;
        double max = keepMax ? high : Math.Ceiling(high / step - 1e-9) * step;
        var ticks = new List<double>();
        for (double t = Math.Ceiling(min / step - 1e-9) * step; t <= max + step * 1e-6; t += step)
            ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        int decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(step) + 1e-9));
        return new ChartAxis(min, max, false, ticks, decimals);
    }

    /// <summary>
    /// A log10 axis from the power of ten at or below the smallest positive value to the one at or above the largest,
    /// with a tick at each power of ten. Values ≤ 0 cannot be placed and are ignored.
    /// </summary>
    public static ChartAxis Log(IEnumerable<double> values)
    {
        var positive = values.Where(v => double.IsFinite(v) && v > 0).ToList();
        int low = positive.Count > 0 ? (int)Math.Floor(Math.Log10(positive.Min()) + 1e-9) : 0;
        int high = positive.Count > 0 ? (int)Math.Ceiling(Math.Log10(positive.Max()) - 1e-9) : 1;
        if (high <= low) high = low + 1;
        var ticks = Enumerable.Range(low, high - low + 1).Select(e => Math.Pow(10, e)).ToList();
        return new ChartAxis(ticks[0], ticks[^1], true, ticks, Math.Max(0, -low));
    }

    /// <summary>Where <paramref name="value"/> lies along the axis: 0 at <see cref="Min"/>, 1 at <see cref="Max"/> (outside [0, 1] beyond them).</summary>
    public double Fraction(double value)
    {
        if (!Logarithmic) return (value - Min) / (Max - Min);
        if (value <= 0) return double.NaN;
        return (Math.Log10(value) - Math.Log10(Min)) / (Math.Log10(Max) - Math.Log10(Min));
    }

    /// <summary>Whether <paramref name="value"/> can be placed on this axis (finite, and positive on a log axis).</summary>
    public bool CanShow(double value) => double.IsFinite(value) && (!Logarithmic || value > 0);

    /// <summary>A tick's label, with as many decimals as the tick step needs.</summary>
    public string Format(double tick)
    {
        if (Logarithmic && (tick >= 1e5 || tick < 1e-3)) return tick.ToString("0E+0", CultureInfo.InvariantCulture);
        return tick.ToString("F" + Math.Min(decimals, 10), CultureInfo.InvariantCulture);
    }

    /// <summary>The "nice" step (1, 2 or 5 × 10^k) nearest above <paramref name="rough"/>.</summary>
    internal static double NiceStep(double rough)
    {
        if (!(rough > 0) || !double.IsFinite(rough)) return 1;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double normalised = rough / magnitude;
        double nice = normalised <= 1 ? 1 : normalised <= 2 ? 2 : normalised <= 5 ? 5 : 10;
        return nice * magnitude;
    }
}

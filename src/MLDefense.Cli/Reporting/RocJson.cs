using System.Text.Json;
using System.Text.Json.Nodes;
using MLDefense.Evaluation;

namespace MLDefense.Reporting;

/// <summary>
/// The ROC-curve contract between the benchmarks and <c>mldefense report</c>: a result row may carry
/// <c>"roc": [[fpr, tpr], ...]</c> — the curve's operating points as pairs of rates in [0, 1], in order of increasing
/// FPR (and TPR), from (0, 0) to (1, 1) as <see cref="RocCurve.Points"/> gives them. The report draws every row that has
/// one; a row without it is simply not drawn as a curve.
/// </summary>
/// <remarks>
/// An empirical curve has one point per distinct score (thousands on a test set); the report needs a few hundred at
/// most. <see cref="ToJson(RocCurve, int)"/> thins the curve by its L1 arc length: a point is kept when it lies at least
/// 2 / <c>maxPoints</c> (in FPR + TPR) from the last kept one, and the first and last points always are. A ROC curve is
/// monotone with L1 length at most 2, so at most <c>maxPoints</c> + 2 points remain, and the straight segments between
/// them stay within that distance of the full curve — well under a pixel on a 300-pixel plot for the default 200.
/// The AUC the benchmark reports is computed from the full curve, not from these points.
/// </remarks>
public static class RocJson
{
    /// <summary>The default greatest number of points written per curve.</summary>
    public const int DefaultMaxPoints = 200;

    /// <summary>The <c>"roc"</c> value of a row: <paramref name="curve"/>'s points thinned to about <paramref name="maxPoints"/> (see the remarks), rates rounded to 5 decimals; an empty array for an undefined curve.</summary>
    public static JsonArray ToJson(RocCurve curve, int maxPoints = DefaultMaxPoints)
    {
        ArgumentNullException.ThrowIfNull(curve);
        return ToJson(curve.Points.Select(p => (p.FalsePositiveRate, p.TruePositiveRate)).ToList(), maxPoints);
    }

    /// <summary>The <c>"roc"</c> value of a curve given as (FPR, TPR) pairs in order (see <see cref="ToJson(RocCurve, int)"/>).</summary>
    public static JsonArray ToJson(IReadOnlyList<(double Fpr, double Tpr)> points, int maxPoints = DefaultMaxPoints)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPoints, 2);
        var kept = new JsonArray();
        if (points.Count == 0) return kept;
        double spacing = 2.0 / maxPoints;
        var last = points[0];
        kept.Add(Pair(last));
        for (int i = 1; i < points.Count; i++)
        {
            var p = points[i];
            bool final = i == points.Count - 1;
            if (final || Math.Abs(p.Fpr - last.Fpr) + Math.Abs(p.Tpr - last.Tpr) >= spacing)
            {
                kept.Add(Pair(p));
                last = p;
            }
        }
        return kept;
    }

    /// <summary>
    /// Reads a row's <c>"roc"</c> value back: its (FPR, TPR) pairs, or null with <paramref name="problem"/> saying why
    /// when it is not an array of [number, number] pairs in [0, 1].
    /// </summary>
    public static IReadOnlyList<(double Fpr, double Tpr)>? Read(JsonNode? node, out string? problem)
    {
        problem = null;
        if (node is not JsonArray array)
        {
            problem = "is not an array of [fpr, tpr] pairs";
            return null;
        }
        var points = new List<(double, double)>(array.Count);
        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonArray { Count: 2 } pair || !IsRate(pair[0], out double fpr) || !IsRate(pair[1], out double tpr))
            {
                problem = $"point {i} is not a pair [fpr, tpr] of numbers in [0, 1]";
                return null;
            }
            points.Add((fpr, tpr));
        }
        return points;
    }

    private static bool IsRate(JsonNode? node, out double value)
    {
        value = double.NaN;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number) return false;
        value = v.GetValue<double>();
        return value is >= 0 and <= 1;
    }

    private static JsonArray Pair((double Fpr, double Tpr) p) => new(Math.Round(p.Fpr, 5), Math.Round(p.Tpr, 5));
}

using System.Globalization;
using System.Net;
using System.Text;
using System.Xml;

namespace MLDefense.Reporting;

/// <summary>
/// Text that goes into a report: numbers in one invariant format, and strings made safe for HTML and SVG. Everything a
/// report shows comes from JSON files, so every string is treated as untrusted: characters XML cannot carry (control
/// characters, lone surrogates) become U+FFFD, and markup characters are escaped where the text is written.
/// </summary>
public static class ReportText
{
    /// <summary>Replaces every character XML 1.0 cannot carry with U+FFFD, so the text can go into SVG and HTML.</summary>
    public static string Clean(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        StringBuilder? clean = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            bool pair = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
            if (pair)
            {
                clean?.Append(c).Append(text[i + 1]);
                i++;
                continue;
            }
            bool valid = XmlConvert.IsXmlChar(c);
            if (valid && clean is null) continue;
            clean ??= new StringBuilder(text, 0, i, text.Length);
            clean.Append(valid ? c : '\uFFFD');
        }
        return clean?.ToString() ?? text;
    }

    /// <summary>The text cleaned (<see cref="Clean"/>) and HTML-encoded (&lt; &gt; &amp; and both quotes), safe in element content and quoted attributes.</summary>
    public static string Html(string? text) => WebUtility.HtmlEncode(Clean(text));

    /// <summary>A number with up to <paramref name="decimals"/> decimals, trailing zeros dropped, invariant culture; "—" when not finite.</summary>
    public static string Number(double value, int decimals = 4)
    {
        if (!double.IsFinite(value)) return "—";
        double rounded = Math.Round(value, decimals);
        // Very large or very small magnitudes read better in exponent form than as a row of digits or as 0.
        if (rounded != 0 && (Math.Abs(rounded) >= 1e7 || Math.Abs(value) < Math.Pow(10, -decimals)))
            return value.ToString("0.###E+0", CultureInfo.InvariantCulture);
        return rounded.ToString("0.############", CultureInfo.InvariantCulture);
    }

    /// <summary>Shortens <paramref name="text"/> to at most <paramref name="length"/> characters, ending in "…" when cut.</summary>
    public static string Truncate(string text, int length) =>
        text.Length <= length ? text : string.Concat(text.AsSpan(0, Math.Max(0, length - 1)), "…");

    /// <summary>
    /// Whether a set of budgets reads best in 1/255 units, as the papers print CIFAR-10's L∞ budgets ("8/255", MixDefense
    /// Fig. 7): every budget is a whole, positive number of 1/255 steps no larger than 64/255. Decided for the whole set,
    /// so MNIST's 0.1, 0.2, 0.3 stay decimals even though 0.2 happens to be 51/255.
    /// </summary>
    public static bool InTwoHundredFiftyFifths(IEnumerable<double> budgets)
    {
        bool any = false;
        foreach (double epsilon in budgets)
        {
            if (!double.IsFinite(epsilon) || epsilon <= 0 || epsilon > 64 / 255.0 + 1e-9) return false;
            double steps = epsilon * 255;
            if (Math.Abs(steps - Math.Round(steps)) > 1e-6) return false;
            any = true;
        }
        return any;
    }

    /// <summary>A budget as "8/255" when <paramref name="in255ths"/> (see <see cref="InTwoHundredFiftyFifths"/>), else as a number.</summary>
    public static string Epsilon(double epsilon, bool in255ths) =>
        in255ths ? $"{Math.Round(epsilon * 255).ToString("0", CultureInfo.InvariantCulture)}/255" : Number(epsilon);
}

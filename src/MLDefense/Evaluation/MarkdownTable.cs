using System.Globalization;
using System.Text;

namespace MLDefense.Evaluation;

/// <summary>How a Markdown table column aligns its cells.</summary>
public enum MarkdownAlignment
{
    /// <summary>Left (text: names of datasets, attacks, variants).</summary>
    Left,
    /// <summary>Right (numbers, so their digits line up).</summary>
    Right,
}

/// <summary>A column of a <see cref="MarkdownTable"/>.</summary>
/// <param name="Header">The header text.</param>
/// <param name="Alignment">How the cells align.</param>
public sealed record MarkdownColumn(string Header, MarkdownAlignment Alignment = MarkdownAlignment.Left)
{
    /// <summary>A left-aligned text column.</summary>
    public static MarkdownColumn Text(string header) => new(header);
    /// <summary>A right-aligned numeric column.</summary>
    public static MarkdownColumn Numeric(string header) => new(header, MarkdownAlignment.Right);
}

/// <summary>
/// A GitHub-flavoured Markdown table with padded cells (readable as plain text too), and the number formats every
/// result table shares — rates as percentages with two decimals, as the papers' tables print them, and "—" for an
/// undefined value.
/// </summary>
public sealed class MarkdownTable
{
    private readonly MarkdownColumn[] columns;
    private readonly List<string[]> rows = new();

    /// <summary>A table with these columns and no rows yet.</summary>
    public MarkdownTable(params MarkdownColumn[] columns)
    {
        if (columns.Length == 0) throw new ArgumentException("A table needs at least one column.", nameof(columns));
        this.columns = columns;
    }

    /// <summary>The number of rows added.</summary>
    public int RowCount => rows.Count;

    /// <summary>Adds a row of exactly one cell per column; a '|' inside a cell is escaped and line breaks become spaces.</summary>
    public MarkdownTable AddRow(params string[] cells)
    {
        if (cells.Length != columns.Length) throw new ArgumentException($"The table has {columns.Length} columns; the row has {cells.Length} cells.", nameof(cells));
        rows.Add(cells.Select(Escape).ToArray());
        return this;
    }

    /// <summary>The table, one line per row, each line ending in '\n'.</summary>
    public override string ToString()
    {
        var headers = columns.Select(c => Escape(c.Header)).ToArray();
        var widths = new int[columns.Length];
        for (int c = 0; c < columns.Length; c++)
            widths[c] = Math.Max(3, rows.Select(r => r[c].Length).Append(headers[c].Length).Max());

        var text = new StringBuilder();
        AppendLine(text, headers, widths);
        text.Append('|');
        for (int c = 0; c < columns.Length; c++)
            text.Append(' ').Append(columns[c].Alignment == MarkdownAlignment.Right ? new string('-', widths[c] - 1) + ":" : ":" + new string('-', widths[c] - 1)).Append(" |");
        text.Append('\n');
        foreach (var row in rows) AppendLine(text, row, widths);
        return text.ToString();
    }

    private void AppendLine(StringBuilder text, string[] cells, int[] widths)
    {
        text.Append('|');
        for (int c = 0; c < cells.Length; c++)
        {
            var cell = columns[c].Alignment == MarkdownAlignment.Right ? cells[c].PadLeft(widths[c]) : cells[c].PadRight(widths[c]);
            text.Append(' ').Append(cell).Append(" |");
        }
        text.Append('\n');
    }

    private static string Escape(string cell) => cell.Replace("|", "\\|").Replace("\r", " ").Replace("\n", " ");

    /// <summary>A fraction as a percentage with <paramref name="decimals"/> decimals (0.9527 → "95.27"); "—" when undefined.</summary>
    public static string Percent(double fraction, int decimals = 2) =>
        double.IsFinite(fraction) ? (fraction * 100).ToString("F" + decimals, CultureInfo.InvariantCulture) : "—";

    /// <summary>A number with up to <paramref name="decimals"/> decimals, trailing zeros dropped; "—" when undefined.</summary>
    public static string Number(double value, int decimals = 4) =>
        double.IsFinite(value) ? Math.Round(value, decimals).ToString("0.############", CultureInfo.InvariantCulture) : "—";

    /// <summary>A count.</summary>
    public static string Count(long value) => value.ToString(CultureInfo.InvariantCulture);
}

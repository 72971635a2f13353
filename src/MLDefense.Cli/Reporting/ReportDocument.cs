namespace MLDefense.Reporting;

/// <summary>What a report shows, before it is written as HTML (<see cref="HtmlReport"/>).</summary>
/// <param name="Title">The page's title.</param>
/// <param name="Sections">One section per input, in order.</param>
/// <param name="Generated">When the report was made (shown in the page), or null to leave it out.</param>
public sealed record ReportDocument(string Title, IReadOnlyList<ReportSection> Sections, DateTimeOffset? Generated = null);

/// <summary>A part of the report: one benchmark's results.</summary>
/// <param name="Title">The heading.</param>
/// <param name="Source">Where the results came from (a file path), or empty.</param>
/// <param name="Facts">Short name/value facts about the run (device, threads, libtorch version, seconds...).</param>
/// <param name="Blocks">Its charts, tables, images and notes, in order.</param>
public sealed record ReportSection(string Title, string Source, IReadOnlyList<KeyValuePair<string, string>> Facts, IReadOnlyList<ReportBlock> Blocks);

/// <summary>Something shown in a section.</summary>
public abstract record ReportBlock;

/// <summary>A chart, drawn as inline SVG.</summary>
/// <param name="Chart">The chart.</param>
/// <param name="Caption">What to read from it, or empty.</param>
public sealed record ChartBlock(SvgChart Chart, string Caption = "") : ReportBlock;

/// <summary>How a table cell is styled.</summary>
public enum CellStyle
{
    /// <summary>Plain text.</summary>
    Text,
    /// <summary>A number: right-aligned, tabular digits.</summary>
    Number,
    /// <summary>A met target (green).</summary>
    Pass,
    /// <summary>A missed target (red).</summary>
    Fail,
}

/// <summary>A table cell.</summary>
/// <param name="Text">What it shows.</param>
/// <param name="Style">How it is styled.</param>
public sealed record TableCell(string Text, CellStyle Style = CellStyle.Text);

/// <summary>A table.</summary>
/// <param name="Title">Its caption.</param>
/// <param name="Headers">The column headers.</param>
/// <param name="Rows">The rows, one cell per header.</param>
public sealed record TableBlock(string Title, IReadOnlyList<string> Headers, IReadOnlyList<IReadOnlyList<TableCell>> Rows) : ReportBlock;

/// <summary>A PNG image, embedded in the page as a data URI.</summary>
/// <param name="Title">Its caption.</param>
/// <param name="Png">The PNG's bytes.</param>
/// <param name="Width">Its width in pixels (from the PNG header).</param>
/// <param name="Height">Its height in pixels.</param>
/// <param name="RowLabels">A label for each row of the grid, top to bottom (may be empty).</param>
public sealed record ImageBlock(string Title, byte[] Png, int Width, int Height, IReadOnlyList<string> RowLabels) : ReportBlock;

/// <summary>A line of text: a remark, or (with <paramref name="Warning"/>) something the reader should know went wrong.</summary>
/// <param name="Text">The text.</param>
/// <param name="Warning">Whether it is a warning.</param>
public sealed record NoteBlock(string Text, bool Warning = false) : ReportBlock;

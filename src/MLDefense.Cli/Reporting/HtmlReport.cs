using System.Text;

namespace MLDefense.Reporting;

/// <summary>
/// Writes a <see cref="ReportDocument"/> as one self-contained HTML5 page: styles inline, charts as inline SVG, images as
/// base64 <c>data:</c> URIs, no script. A Content-Security-Policy in the page forbids every network fetch and every
/// script, so the page shows the same offline as online and cannot be made to run anything by the text it quotes.
/// Every string from the inputs is HTML-encoded (<see cref="ReportText.Html"/>).
/// </summary>
public static class HtmlReport
{
    /// <summary>The widest an image grid is shown, in CSS pixels: a grid is scaled up by the largest whole factor (at most 12, pixelated) that keeps it within this width, and a wider one is scaled down to it.</summary>
    public const int ImageDisplayWidth = 640;

    private const string Style = """
        :root { color-scheme: light; }
        body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0 auto; max-width: 1400px;
               padding: 1.5rem 2rem 4rem; color: #1b1b1b; background: #fafafa; line-height: 1.45; }
        h1 { font-size: 1.7rem; margin-bottom: 0.2rem; }
        h2 { font-size: 1.3rem; margin: 2.5rem 0 0.3rem; padding-top: 0.8rem; border-top: 2px solid #d0d7de; }
        .generated, .source { color: #57606a; font-size: 0.9rem; margin: 0.2rem 0; }
        nav ol { columns: 2; font-size: 0.95rem; }
        dl.facts { display: flex; flex-wrap: wrap; gap: 0.2rem 1.2rem; font-size: 0.88rem; margin: 0.6rem 0; }
        dl.facts div { display: flex; gap: 0.35rem; }
        dl.facts dt { color: #57606a; }
        dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
        .charts { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1rem 0; }
        figure { margin: 0; background: #ffffff; border: 1px solid #d0d7de; border-radius: 6px; padding: 0.5rem; }
        figcaption { font-size: 0.85rem; color: #57606a; max-width: 640px; margin-top: 0.3rem; }
        svg.chart { display: block; max-width: 100%; height: auto; }
        .table-scroll { overflow-x: auto; max-width: 100%; }
        table { border-collapse: collapse; margin: 0.8rem 0 1.2rem; background: #ffffff; font-size: 0.88rem; }
        caption { text-align: left; font-weight: 600; padding: 0.3rem 0; }
        th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
        th { background: #f0f3f6; }
        td.number { text-align: right; font-variant-numeric: tabular-nums; }
        td.pass { color: #116329; font-weight: 600; }
        td.fail { color: #b3261e; font-weight: 600; }
        .grid-figure { display: inline-block; margin: 0.5rem 1rem 0.5rem 0; vertical-align: top; }
        .grid-body { display: flex; gap: 0.5rem; align-items: stretch; }
        .grid-labels { display: grid; font-size: 0.8rem; color: #333333; text-align: right; }
        .grid-labels span { display: flex; align-items: center; justify-content: flex-end; }
        img.grid { image-rendering: pixelated; display: block; }
        p.note { font-size: 0.9rem; }
        p.warning { color: #8a4b00; background: #fff4e5; border-left: 4px solid #e69f00; padding: 0.4rem 0.7rem; }
        """;

    /// <summary>The page as HTML text.</summary>
    public static string Render(ReportDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(ReportText.Html(document.Title)).Append("</title>\n<style>\n").Append(Style).Append("\n</style>\n</head>\n<body>\n")
            .Append("<h1>").Append(ReportText.Html(document.Title)).Append("</h1>\n");
        if (document.Generated is DateTimeOffset at)
            html.Append("<p class=\"generated\">Generated ").Append(ReportText.Html(at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'")))
                .Append(" by <code>mldefense report</code> from ").Append(document.Sections.Count).Append(document.Sections.Count == 1 ? " input" : " inputs")
                .Append(".</p>\n");
        if (document.Sections.Count > 1)
        {
            html.Append("<nav><ol>\n");
            for (int i = 0; i < document.Sections.Count; i++)
                html.Append("<li><a href=\"#").Append(SectionId(i)).Append("\">").Append(ReportText.Html(document.Sections[i].Title)).Append("</a></li>\n");
            html.Append("</ol></nav>\n");
        }
        for (int i = 0; i < document.Sections.Count; i++) AppendSection(html, document.Sections[i], SectionId(i));
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>Writes the page to <paramref name="path"/> (UTF-8, no BOM), through a temporary file so a failed write leaves no half page.</summary>
    public static void Save(ReportDocument document, string path)
    {
        var full = Path.GetFullPath(path);
        var temporary = full + ".tmp";
        File.WriteAllText(temporary, Render(document), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        File.Move(temporary, full, overwrite: true);
    }

    private static string SectionId(int index) => $"section-{index + 1}";

    private static void AppendSection(StringBuilder html, ReportSection section, string id)
    {
        html.Append("<section id=\"").Append(id).Append("\">\n<h2>").Append(ReportText.Html(section.Title)).Append("</h2>\n");
        if (section.Source.Length > 0) html.Append("<p class=\"source\">From <code>").Append(ReportText.Html(section.Source)).Append("</code></p>\n");
        if (section.Facts.Count > 0)
        {
            html.Append("<dl class=\"facts\">");
            foreach (var (name, value) in section.Facts)
                html.Append("<div><dt>").Append(ReportText.Html(name)).Append("</dt><dd>").Append(ReportText.Html(value)).Append("</dd></div>");
            html.Append("</dl>\n");
        }
        bool inCharts = false;
        foreach (var block in section.Blocks)
        {
            bool chart = block is ChartBlock or ImageBlock;
            if (chart && !inCharts) html.Append("<div class=\"charts\">\n");
            if (!chart && inCharts) html.Append("</div>\n");
            inCharts = chart;
            switch (block)
            {
                case ChartBlock c: AppendChart(html, c); break;
                case ImageBlock image: AppendImage(html, image); break;
                case TableBlock table: AppendTable(html, table); break;
                case NoteBlock note:
                    html.Append(note.Warning ? "<p class=\"note warning\">" : "<p class=\"note\">").Append(ReportText.Html(note.Text)).Append("</p>\n");
                    break;
                default: throw new InvalidOperationException($"No HTML for a {block.GetType().Name}.");
            }
        }
        if (inCharts) html.Append("</div>\n");
        html.Append("</section>\n");
    }

    private static void AppendChart(StringBuilder html, ChartBlock block)
    {
        html.Append("<figure class=\"chart-figure\">").Append(block.Chart.ToString());
        if (block.Caption.Length > 0) html.Append("<figcaption>").Append(ReportText.Html(block.Caption)).Append("</figcaption>");
        html.Append("</figure>\n");
    }

    private static void AppendImage(StringBuilder html, ImageBlock image)
    {
        int scale = Math.Clamp(ImageDisplayWidth / Math.Max(1, image.Width), 1, 12);
        int width = image.Width * scale, height = image.Height * scale;
        if (width > ImageDisplayWidth) (width, height) = (ImageDisplayWidth, (int)Math.Round(image.Height * (double)ImageDisplayWidth / image.Width));
        html.Append("<figure class=\"grid-figure\"><div class=\"grid-body\">");
        if (image.RowLabels.Count > 0)
        {
            html.Append("<div class=\"grid-labels\" style=\"grid-template-rows: repeat(").Append(image.RowLabels.Count).Append(", 1fr); height: ")
                .Append(height).Append("px\">");
            foreach (var label in image.RowLabels) html.Append("<span>").Append(ReportText.Html(label)).Append("</span>");
            html.Append("</div>");
        }
        html.Append("<img class=\"grid\" width=\"").Append(width).Append("\" height=\"").Append(height).Append("\" alt=\"").Append(ReportText.Html(image.Title))
            .Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(image.Png)).Append("\">");
        html.Append("</div><figcaption>").Append(ReportText.Html(image.Title)).Append("</figcaption></figure>\n");
    }

    private static void AppendTable(StringBuilder html, TableBlock table)
    {
        html.Append("<div class=\"table-scroll\"><table>");
        if (table.Title.Length > 0) html.Append("<caption>").Append(ReportText.Html(table.Title)).Append("</caption>");
        html.Append("<thead><tr>");
        foreach (var header in table.Headers) html.Append("<th>").Append(ReportText.Html(header)).Append("</th>");
        html.Append("</tr></thead>\n<tbody>\n");
        foreach (var row in table.Rows)
        {
            html.Append("<tr>");
            foreach (var cell in row)
            {
                html.Append(cell.Style switch
                {
                    CellStyle.Number => "<td class=\"number\">",
                    CellStyle.Pass => "<td class=\"pass\">",
                    CellStyle.Fail => "<td class=\"fail\">",
                    _ => "<td>",
                });
                html.Append(ReportText.Html(cell.Text)).Append("</td>");
            }
            html.Append("</tr>\n");
        }
        html.Append("</tbody></table></div>\n");
    }
}

using System.Globalization;
using Spectre.Console;

namespace MLDefense.Cli.Infrastructure;

/// <summary>The pieces of the commands' Spectre tables that are written the same way everywhere.</summary>
public static class TableText
{
    /// <summary>Adds right-aligned columns (for numbers), headed <paramref name="headers"/>, in order.</summary>
    public static Table AddNumberColumns(this Table table, params string[] headers)
    {
        foreach (var header in headers) table.AddColumn(new TableColumn(header).RightAligned());
        return table;
    }

    /// <summary>A target check as markup: a green pass or a red fail.</summary>
    public static string PassFail(bool pass) => pass ? "[green]pass[/]" : "[red]fail[/]";

    /// <summary><paramref name="value"/> formatted with <paramref name="format"/>, or a dash where there is no value.</summary>
    public static string OrDash(double? value, string format) => value is double v ? v.ToString(format, CultureInfo.CurrentCulture) : "—";
}

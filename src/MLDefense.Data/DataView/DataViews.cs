using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>Helpers over data views: column resolution, caching, row selection.</summary>
public static class DataViews
{
    /// <summary>The visible columns named (all visible ones when null); an unknown name throws, listing the schema.</summary>
    public static IReadOnlyList<DataViewSchema.Column> ResolveColumns(DataViewSchema schema, IReadOnlyCollection<string>? names) =>
        names is null ? schema.Visible.ToList() : names.Distinct().Select(n => schema[n]).ToList();

    /// <summary>Reads a whole view into memory (every visible column), so later passes cost nothing.</summary>
    public static InMemoryDataView Materialize(IDataView view)
    {
        if (view is InMemoryDataView m && m.Schema.Visible.Count() == m.Schema.Count) return m;
        var columns = view.Schema.Visible.ToList();
        var schema = new DataViewSchema(columns);
        var parts = columns.Select(_ => new List<Array>()).ToList();
        long total = 0;
        foreach (var batch in view.GetBatches(4096, columns.Select(c => c.Name).ToArray()))
        {
            for (int i = 0; i < columns.Count; i++) parts[i].Add(batch.GetValues(columns[i]));
            total += batch.RowCount;
        }
        var arrays = new Array[columns.Count];
        for (int i = 0; i < columns.Count; i++)
        {
            var type = InMemoryDataView.ElementType(columns[i]);
            long length = parts[i].Sum(p => (long)p.Length);
            var all = Array.CreateInstance(type, length);
            long offset = 0;
            foreach (var p in parts[i]) { Array.Copy(p, 0, all, offset, p.Length); offset += p.Length; }
            arrays[i] = all;
        }
        return new InMemoryDataView(schema, arrays);
    }

    /// <summary>The rows at the given positions, in that order (materialises the source).</summary>
    public static InMemoryDataView SelectRows(IDataView view, IReadOnlyList<int> rows)
    {
        var source = Materialize(view);
        long count = source.GetRowCount()!.Value;
        var arrays = source.Schema.Select(c =>
        {
            var from = source.GetColumnArray(c.Name);
            int per = DataBatch.ValuesPerRow(c);
            var to = Array.CreateInstance(InMemoryDataView.ElementType(c), (long)rows.Count * per);
            for (int i = 0; i < rows.Count; i++)
            {
                if ((uint)rows[i] >= count) throw new ArgumentOutOfRangeException(nameof(rows), $"Row {rows[i]} does not exist; the view has {count} rows.");
                Array.Copy(from, (long)rows[i] * per, to, (long)i * per, per);
            }
            return to;
        }).ToArray();
        return new InMemoryDataView(source.Schema, arrays);
    }

    /// <summary>Counts the rows (a pass over the data when the count is not known).</summary>
    public static long CountRows(IDataView view) =>
        view.GetRowCount() ?? view.GetBatches(4096, [view.Schema.Visible.First().Name]).Sum(b => (long)b.RowCount);
}

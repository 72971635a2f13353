using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>A data view whose columns are arrays in memory (see <see cref="DataBatch"/> for the layout).</summary>
public sealed class InMemoryDataView : IDataView
{
    private readonly Array[] columns;
    private readonly int rows;

    /// <summary>Creates the view; each array must hold rows × values-per-row entries of the column's raw element type.</summary>
    public InMemoryDataView(DataViewSchema schema, IReadOnlyList<Array> columns)
    {
        if (columns.Count != schema.Count) throw new ArgumentException($"Expected {schema.Count} column arrays, got {columns.Count}.");
        rows = schema.Count == 0 ? 0 : columns[0].Length / DataBatch.ValuesPerRow(schema[0]);
        for (int i = 0; i < columns.Count; i++)
        {
            var expected = ElementType(schema[i]);
            if (columns[i].GetType().GetElementType() != expected)
                throw new ArgumentException($"Column '{schema[i].Name}' needs {expected.Name} values, got {columns[i].GetType().Name}.");
            if (columns[i].Length != (long)rows * DataBatch.ValuesPerRow(schema[i]))
                throw new ArgumentException($"Column '{schema[i].Name}' holds {columns[i].Length} values; {rows} rows need {rows * DataBatch.ValuesPerRow(schema[i])}.");
        }
        Schema = schema;
        this.columns = columns.ToArray();
    }

    internal static Type ElementType(DataViewSchema.Column column) => column.Type is VectorDataViewType ? typeof(float) : column.Type.RawType;

    /// <inheritdoc />
    public DataViewSchema Schema { get; }

    /// <inheritdoc />
    public long? GetRowCount() => rows;

    /// <summary>The backing array of a column (no copy): treat it as read-only.</summary>
    public Array GetColumnArray(string name) => columns[Schema[name].Index];

    /// <inheritdoc />
    public IEnumerable<DataBatch> GetBatches(int batchSize, IReadOnlyCollection<string>? columnNames = null)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        var wanted = DataViews.ResolveColumns(Schema, columnNames);
        return Iterate();

        IEnumerable<DataBatch> Iterate()
        {
            for (int start = 0; start < rows; start += batchSize)
            {
                int count = Math.Min(batchSize, rows - start);
                var values = new Array?[Schema.Count];
                foreach (var c in wanted)
                {
                    int per = DataBatch.ValuesPerRow(c);
                    if (start == 0 && count == rows) { values[c.Index] = columns[c.Index]; continue; }
                    var slice = Array.CreateInstance(ElementType(c), (long)count * per);
                    Array.Copy(columns[c.Index], (long)start * per, slice, 0, (long)count * per);
                    values[c.Index] = slice;
                }
                yield return new DataBatch(Schema, start, count, values);
            }
        }
    }
}

using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>
/// A block of consecutive rows of a data view, stored by column: a scalar column is a <c>T[]</c> of
/// <see cref="RowCount"/> values, a vector column one row-major <c>float[]</c> of RowCount × size. Only the
/// columns asked for are present. Transformers map whole batches (to tensors and back), never row by row.
/// </summary>
public sealed class DataBatch
{
    private readonly Array?[] values;

    /// <summary>Creates a batch over a schema; <paramref name="values"/> is indexed by column index (null = not loaded).</summary>
    public DataBatch(DataViewSchema schema, long firstRow, int rowCount, Array?[] values)
    {
        if (values.Length != schema.Count) throw new ArgumentException($"A batch needs one entry per schema column ({schema.Count}), got {values.Length}.");
        for (int i = 0; i < values.Length; i++)
            if (values[i] is { } v && v.Length != rowCount * ValuesPerRow(schema[i]))
                throw new ArgumentException($"Column '{schema[i].Name}' holds {v.Length} values for {rowCount} rows; expected {rowCount * ValuesPerRow(schema[i])}.");
        (Schema, FirstRow, RowCount, this.values) = (schema, firstRow, rowCount, values);
    }

    /// <summary>The schema of the view the batch came from.</summary>
    public DataViewSchema Schema { get; }
    /// <summary>The position of the first row in the view.</summary>
    public long FirstRow { get; }
    /// <summary>The number of rows.</summary>
    public int RowCount { get; }

    internal static int ValuesPerRow(DataViewSchema.Column column) => column.Type is VectorDataViewType v ? v.Size : 1;

    /// <summary>Whether a column's values are present.</summary>
    public bool Has(DataViewSchema.Column column) => values[column.Index] is not null;

    /// <summary>The raw values of a column (see the class remarks for the layout).</summary>
    public Array GetValues(DataViewSchema.Column column) =>
        values[column.Index] ?? throw new InvalidOperationException($"Column '{column.Name}' was not requested for this batch.");

    /// <summary>The values of the visible column of that name, typed.</summary>
    public T[] Get<T>(string columnName)
    {
        var column = Schema[columnName];
        return GetValues(column) as T[] ?? throw new InvalidOperationException(
            $"Column '{columnName}' holds {column.Type}; it cannot be read as {typeof(T).Name}[].");
    }

    /// <summary>
    /// A column as a tensor on a device: a vector column → float32 [N, dims...]; float → float32 [N];
    /// Int32 (class labels) → int64 [N]; bool → bool [N]; double → float64 [N]; long → int64 [N].
    /// </summary>
    public Tensor ToTensor(string columnName, Device device)
    {
        var column = Schema[columnName];
        var data = GetValues(column);
        long n = RowCount;
        return data switch
        {
            float[] f when column.Type is VectorDataViewType v => torch.tensor(f, [n, .. v.Dimensions.Select(d => (long)d)], device: device),
            float[] f => torch.tensor(f, [n], device: device),
            int[] i => torch.tensor(Array.ConvertAll(i, x => (long)x), [n], device: device),
            long[] l => torch.tensor(l, [n], device: device),
            double[] d => torch.tensor(d, [n], device: device),
            bool[] b => torch.tensor(b, [n], device: device),
            _ => throw new InvalidOperationException($"Column '{columnName}' ({column.Type}) has no tensor form."),
        };
    }

    /// <summary>A batch of a wider schema that keeps these values and adds others (by column index of <paramref name="schema"/>).</summary>
    public DataBatch Extend(DataViewSchema schema, IReadOnlyDictionary<int, Array> added)
    {
        var all = new Array?[schema.Count];
        Array.Copy(values, all, values.Length);
        foreach (var (index, array) in added) all[index] = array;
        return new DataBatch(schema, FirstRow, RowCount, all);
    }

    /// <summary>Reads a float32 tensor [N, ...] (any device) back into a row-major array.</summary>
    public static float[] FromTensor(Tensor t) => TensorData.ToArray(t);
}

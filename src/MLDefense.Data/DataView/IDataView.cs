using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>
/// A table of data, as ML.NET's IDataView: a schema plus lazy access — row cursors with typed getters, and
/// batches (<see cref="GetBatches"/>) for tensor work. Views are immutable; transforms return new lazy views.
/// </summary>
public interface IDataView
{
    /// <summary>The columns.</summary>
    DataViewSchema Schema { get; }

    /// <summary>The number of rows when known without a pass over the data.</summary>
    long? GetRowCount();

    /// <summary>
    /// Enumerates the rows in order, in batches of at most <paramref name="batchSize"/> rows, holding the named
    /// columns (all columns when null). Asking for a column that does not exist throws, naming it.
    /// </summary>
    IEnumerable<DataBatch> GetBatches(int batchSize, IReadOnlyCollection<string>? columns = null);

    /// <summary>A row-by-row cursor over the given columns (all when none are named).</summary>
    DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column>? columnsNeeded = null) =>
        new(this, columnsNeeded?.Select(c => c.Name).ToArray());
}

/// <summary>Reads a value into <paramref name="value"/> (for vectors, an array of the right length is reused).</summary>
public delegate void ValueGetter<TValue>(ref TValue value);

/// <summary>A forward-only cursor over the rows of a view, with typed getters, as in ML.NET.</summary>
public sealed class DataViewRowCursor : IDisposable
{
    private const int BatchRows = 256;
    private readonly IEnumerator<DataBatch> batches;
    private readonly HashSet<string>? active;
    private DataBatch? batch;
    private int row = -1;

    internal DataViewRowCursor(IDataView view, IReadOnlyCollection<string>? columns)
    {
        Schema = view.Schema;
        active = columns is null ? null : new HashSet<string>(columns);
        batches = view.GetBatches(BatchRows, columns).GetEnumerator();
    }

    /// <summary>The schema of the view.</summary>
    public DataViewSchema Schema { get; }

    /// <summary>The index of the current row (−1 before the first MoveNext).</summary>
    public long Position { get; private set; } = -1;

    /// <summary>Whether a column can be read by this cursor.</summary>
    public bool IsColumnActive(DataViewSchema.Column column) => active is null || active.Contains(column.Name);

    /// <summary>Advances to the next row.</summary>
    public bool MoveNext()
    {
        while (batch is null || ++row >= batch.RowCount)
        {
            if (!batches.MoveNext()) { batch = null; return false; }
            batch = batches.Current;
            row = -1;
        }
        Position++;
        return true;
    }

    /// <summary>A getter for a column; <typeparamref name="TValue"/> must be the column's raw type (float[] for vectors).</summary>
    public ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (!IsColumnActive(column)) throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor.");
        if (column.Type.RawType != typeof(TValue))
            throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type}; a getter of {typeof(TValue).Name} cannot read it (use {column.Type.RawType.Name}).");
        if (column.Type is VectorDataViewType v)
        {
            int size = v.Size;
            return (ref TValue value) =>
            {
                var source = (float[])Current.GetValues(column);
                var target = value as float[];
                if (target is null || target.Length != size) target = new float[size];
                Array.Copy(source, (long)row * size, target, 0, size);
                value = (TValue)(object)target;
            };
        }
        return (ref TValue value) => value = ((TValue[])Current.GetValues(column))[row];
    }

    private DataBatch Current => batch ?? throw new InvalidOperationException("The cursor is not on a row: call MoveNext first.");

    /// <summary>Releases the underlying enumeration.</summary>
    public void Dispose() => batches.Dispose();
}

using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Data;

/// <summary>
/// Consecutive rows of the columns a batch mapper reads, by column: a float vector column as one row-major
/// <c>float[]</c> of <see cref="RowCount"/> × size (the layout of a tensor [N, C, H, W]), a scalar column as a
/// <c>T[]</c> of RowCount values. <see cref="FirstPosition"/> is the cursor position of the first row, for messages.
/// </summary>
internal sealed class RowBatch
{
    private readonly Dictionary<string, Array> columns;

    internal RowBatch(long firstPosition, int rowCount, Dictionary<string, Array> columns) =>
        (FirstPosition, RowCount, this.columns) = (firstPosition, rowCount, columns);

    /// <summary>The cursor position of the first row.</summary>
    internal long FirstPosition { get; }

    /// <summary>The number of rows.</summary>
    internal int RowCount { get; }

    /// <summary>The values of a column the mapper declared as an input.</summary>
    internal T[] Get<T>(string column) =>
        columns.TryGetValue(column, out var values) ? values as T[] ?? throw new InvalidOperationException($"Column '{column}' holds {values.GetType().GetElementType()!.Name} values, not {typeof(T).Name}.")
            : throw new InvalidOperationException($"Column '{column}' is not an input of this mapper.");
}

/// <summary>
/// The batch work of a transformer: which input columns it reads, which columns it adds, and the mapping of a batch
/// of rows — one array per added column, laid out as in <see cref="RowBatch"/>. <see cref="BatchedDataView"/> and
/// <see cref="BatchedRowMapper"/> put it behind ML.NET's cursor and row-mapper contracts.
/// </summary>
internal interface IRowBatchMapper
{
    /// <summary>The input columns <see cref="MapBatch"/> reads (float vectors or scalars).</summary>
    IReadOnlyList<string> InputColumns { get; }

    /// <summary>The columns added, in order (a name equal to an input column's hides it, as in ML.NET).</summary>
    IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; }

    /// <summary>Rows per batch of a data view's cursor (the row mapper behind PredictionEngine maps one row at a time).</summary>
    int BatchSize { get; }

    /// <summary>Maps a batch: one array per <see cref="OutputColumns"/> entry (float[] rows × size for vectors, T[] for scalars).</summary>
    IReadOnlyList<Array> MapBatch(RowBatch batch);
}

/// <summary>Reading the mapper's input columns from a row into per-row slots, then into a <see cref="RowBatch"/>.</summary>
internal sealed class BatchInputs
{
    private readonly (string Name, Slot Slot)[] slots;
    private readonly int capacity;

    internal BatchInputs(DataViewRow row, IEnumerable<string> columns, int capacity)
    {
        this.capacity = capacity;
        slots = columns.Select(name => (name, Slot.For(row, row.Schema[name], capacity))).ToArray();
    }

    /// <summary>Copies the row's current values into slot <paramref name="index"/>.</summary>
    internal void Capture(int index)
    {
        foreach (var (_, slot) in slots) slot.Capture(index);
    }

    /// <summary>The first <paramref name="rowCount"/> captured rows as a batch.</summary>
    internal RowBatch ToBatch(long firstPosition, int rowCount) =>
        new(firstPosition, rowCount, slots.ToDictionary(s => s.Name, s => s.Slot.ToArray(rowCount)));

    private abstract class Slot
    {
        internal abstract void Capture(int index);
        internal abstract Array ToArray(int rowCount);

        internal static Slot For(DataViewRow row, DataViewSchema.Column column, int capacity) => column.Type switch
        {
            VectorDataViewType { ItemType: NumberDataViewType n, IsKnownSize: true } v when n.RawType == typeof(float) =>
                new VectorSlot(row.GetGetter<VBuffer<float>>(column), v.Size, capacity),
            PrimitiveDataViewType p when p.RawType == typeof(float) => new ScalarSlot<float>(row.GetGetter<float>(column), capacity),
            PrimitiveDataViewType p when p.RawType == typeof(bool) => new ScalarSlot<bool>(row.GetGetter<bool>(column), capacity),
            PrimitiveDataViewType p when p.RawType == typeof(uint) => new ScalarSlot<uint>(row.GetGetter<uint>(column), capacity),
            PrimitiveDataViewType p when p.RawType == typeof(int) => new ScalarSlot<int>(row.GetGetter<int>(column), capacity),
            PrimitiveDataViewType p when p.RawType == typeof(long) => new ScalarSlot<long>(row.GetGetter<long>(column), capacity),
            _ => throw new ArgumentException($"Column '{column.Name}' holds {column.Type}; a batch reads known-size Single vectors or Single, Boolean, key, Int32 and Int64 scalars."),
        };
    }

    private sealed class ScalarSlot<T>(ValueGetter<T> getter, int capacity) : Slot
    {
        private readonly T[] values = new T[capacity];
        internal override void Capture(int index) => getter(ref values[index]);
        internal override Array ToArray(int rowCount) => rowCount == values.Length ? values.ToArray() : values[..rowCount];
    }

    private sealed class VectorSlot(ValueGetter<VBuffer<float>> getter, int size, int capacity) : Slot
    {
        private readonly float[] values = new float[(long)size * capacity];
        private VBuffer<float> row;

        internal override void Capture(int index)
        {
            getter(ref row);
            var target = values.AsSpan(index * size, size);
            if (row.IsDense) row.GetValues().CopyTo(target);
            else
            {
                target.Clear();
                var indices = row.GetIndices();
                var items = row.GetValues();
                for (int i = 0; i < indices.Length; i++) target[indices[i]] = items[i];
            }
        }

        internal override Array ToArray(int rowCount) => values.AsSpan(0, rowCount * size).ToArray();
    }
}

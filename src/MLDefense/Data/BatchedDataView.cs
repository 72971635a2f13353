using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Data;

/// <summary>
/// The lazy output of an MLDefense transformer: the input's columns plus the mapper's, computed a batch at a time.
/// A cursor that needs an added column reads <see cref="IRowBatchMapper.BatchSize"/> rows ahead from the input, maps them
/// in one call, and serves them one by one. Input columns pass through: value-typed ones (numbers, vectors, text)
/// are copied while reading ahead; class-typed ones such as ImageAnalytics' <c>MLImage</c>, which ML.NET disposes on
/// the next <c>MoveNext</c>, are read from a second input cursor kept on the served row. A cursor needing no added
/// column is the input's cursor. Cursors are not shuffled (<see cref="CanShuffle"/> is false) and a cursor set has one
/// cursor: the batching is the parallelism.
/// </summary>
internal sealed class BatchedDataView : IDataView
{
    private readonly IDataView input;
    private readonly IRowBatchMapper mapper;

    internal BatchedDataView(IDataView input, IRowBatchMapper mapper)
    {
        this.input = input;
        this.mapper = mapper;
        Schema = OutputSchema(input.Schema, mapper);
    }

    /// <summary>The input schema followed by the mapper's columns.</summary>
    internal static DataViewSchema OutputSchema(DataViewSchema input, IRowBatchMapper mapper)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        builder.AddColumns(mapper.OutputColumns);
        return builder.ToSchema();
    }

    /// <inheritdoc />
    public DataViewSchema Schema { get; }

    /// <inheritdoc />
    public bool CanShuffle => false;

    /// <inheritdoc />
    public long? GetRowCount() => input.GetRowCount();

    /// <inheritdoc />
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        ArgumentNullException.ThrowIfNull(columnsNeeded);
        var active = new bool[Schema.Count];
        foreach (var column in columnsNeeded) active[Check(column).Index] = true;
        int inputCount = input.Schema.Count;
        var passThrough = input.Schema.Where(c => active[c.Index]).ToArray();
        if (!active.Skip(inputCount).Any(a => a)) return new Cursor(this, input.GetRowCursor(passThrough), null, active);
        return new Cursor(this, null, new BatchReader(input, mapper, passThrough), active);
    }

    /// <inheritdoc />
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private DataViewSchema.Column Check(DataViewSchema.Column column) =>
        column.Index < Schema.Count && Schema[column.Index].Name == column.Name ? column
            : throw new ArgumentException($"Column '{column.Name}' (index {column.Index}) is not a column of this data view's schema.", nameof(column));

    /// <summary>Reads batches ahead and keeps the values of the rows being served.</summary>
    private sealed class BatchReader : IDisposable
    {
        private readonly IRowBatchMapper mapper;
        private readonly DataViewRowCursor ahead;
        private readonly DataViewRowCursor? current;
        private readonly BatchInputs inputs;
        private readonly Dictionary<int, PassThrough> copied = [];
        private readonly ValueGetter<DataViewRowId> aheadId;
        private readonly DataViewRowId[] ids;
        private long firstPosition;

        internal BatchReader(IDataView input, IRowBatchMapper mapper, DataViewSchema.Column[] passThrough)
        {
            this.mapper = mapper;
            var copyable = passThrough.Where(c => PassThrough.CanCopy(c.Type)).ToArray();
            var live = passThrough.Where(c => !PassThrough.CanCopy(c.Type)).ToArray();
            var needed = mapper.InputColumns.Select(name => input.Schema[name]).Concat(copyable).DistinctBy(c => c.Index);
            ahead = input.GetRowCursor(needed);
            current = live.Length > 0 ? input.GetRowCursor(live) : null;
            inputs = new BatchInputs(ahead, mapper.InputColumns, mapper.BatchSize);
            foreach (var column in copyable) copied[column.Index] = PassThrough.For(ahead, column, mapper.BatchSize);
            aheadId = ahead.GetIdGetter();
            ids = new DataViewRowId[mapper.BatchSize];
        }

        internal int RowCount { get; private set; }
        internal IReadOnlyList<Array> Outputs { get; private set; } = [];
        internal DataViewRowCursor? Current => current;
        internal DataViewRowId Id(int row) => ids[row];
        internal PassThrough Copied(int column) => copied[column];

        /// <summary>Reads and maps the next batch; false at the end of the input.</summary>
        internal bool Next()
        {
            firstPosition += RowCount;
            int count = 0;
            while (count < mapper.BatchSize && ahead.MoveNext())
            {
                inputs.Capture(count);
                foreach (var column in copied.Values) column.Capture(count);
                aheadId(ref ids[count]);
                count++;
            }
            RowCount = count;
            if (count == 0) return false;
            Outputs = mapper.MapBatch(inputs.ToBatch(firstPosition, count));
            return true;
        }

        /// <summary>Moves the live cursor (class-typed columns) onto the next served row.</summary>
        internal void Advance()
        {
            if (current is not null && !current.MoveNext())
                throw new InvalidOperationException("The input data view yielded fewer rows to a second cursor than to the first; MLDefense transformers need a deterministic input.");
        }

        public void Dispose()
        {
            ahead.Dispose();
            current?.Dispose();
        }
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly BatchedDataView view;
        private readonly DataViewRowCursor? plain;
        private readonly BatchReader? reader;
        private readonly bool[] active;
        private int row = -1;
        private long position = -1;

        internal Cursor(BatchedDataView view, DataViewRowCursor? plain, BatchReader? reader, bool[] active) =>
            (this.view, this.plain, this.reader, this.active) = (view, plain, reader, active);

        public override DataViewSchema Schema => view.Schema;
        public override long Position => plain?.Position ?? position;
        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (plain is not null) return plain.MoveNext();
            if (reader is null || position == long.MaxValue) return false;
            if (++row >= reader.RowCount)
            {
                row = 0;
                if (!reader.Next()) { position = long.MaxValue; row = -1; return false; }
            }
            reader.Advance();
            position++;
            return true;
        }

        public override bool IsColumnActive(DataViewSchema.Column column) => active[view.Check(column).Index];

        public override ValueGetter<DataViewRowId> GetIdGetter()
        {
            if (plain is not null) return plain.GetIdGetter();
            return (ref DataViewRowId value) => value = reader!.Id(OnRow());
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column)) throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor: list it in the columns needed.");
            if (column.Type.RawType != typeof(TValue))
                throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type}; a getter of {typeof(TValue).Name} cannot read it.");
            int inputCount = view.input.Schema.Count;
            if (column.Index < inputCount)
            {
                var inputColumn = view.input.Schema[column.Index];
                if (plain is not null) return plain.GetGetter<TValue>(inputColumn);
                if (PassThrough.CanCopy(inputColumn.Type)) return reader!.Copied(column.Index).Getter<TValue>(OnRow);
                return reader!.Current!.GetGetter<TValue>(inputColumn);
            }
            int output = column.Index - inputCount;
            return OutputGetter<TValue>(output, view.mapper.OutputColumns[output].Type);
        }

        private ValueGetter<TValue> OutputGetter<TValue>(int output, DataViewType type)
        {
            if (type is VectorDataViewType vector)
            {
                int size = vector.Size;
                ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
                {
                    var values = (float[])reader!.Outputs[output];
                    var editor = VBufferEditor.Create(ref value, size);
                    values.AsSpan(OnRow() * size, size).CopyTo(editor.Values);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)getter;
            }
            return (ref TValue value) => value = ((TValue[])reader!.Outputs[output])[OnRow()];
        }

        private int OnRow() => row >= 0 && reader is not null && position != long.MaxValue ? row
            : throw new InvalidOperationException("The cursor is not on a row: call MoveNext first (and stop when it returns false).");

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                plain?.Dispose();
                reader?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

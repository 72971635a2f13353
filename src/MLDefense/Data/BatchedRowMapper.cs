using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Data;

/// <summary>
/// The row-to-row form of a batch mapper, which ML.NET's <c>PredictionEngine</c> uses: each input row is mapped as a
/// batch of one, once per row position, when an added column is first read.
/// </summary>
internal sealed class BatchedRowMapper : IRowToRowMapper
{
    private readonly IRowBatchMapper mapper;

    internal BatchedRowMapper(DataViewSchema inputSchema, IRowBatchMapper mapper)
    {
        InputSchema = inputSchema;
        this.mapper = mapper;
        OutputSchema = BatchedDataView.OutputSchema(inputSchema, mapper);
    }

    /// <inheritdoc />
    public DataViewSchema InputSchema { get; }

    /// <inheritdoc />
    public DataViewSchema OutputSchema { get; }

    /// <inheritdoc />
    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var needed = new HashSet<int>();
        foreach (var column in dependingColumns)
        {
            if (column.Index < InputSchema.Count) needed.Add(column.Index);
            else foreach (var name in mapper.InputColumns) needed.Add(InputSchema[name].Index);
        }
        return InputSchema.Where(c => needed.Contains(c.Index)).ToArray();
    }

    /// <inheritdoc />
    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(activeColumns);
        if (input.Schema != InputSchema) throw new ArgumentException("The row's schema is not the schema this mapper was made for.", nameof(input));
        return new Row(this, input, activeColumns.Select(c => c.Index).ToHashSet());
    }

    private sealed class Row(BatchedRowMapper owner, DataViewRow input, HashSet<int> active) : DataViewRow
    {
        private BatchInputs? inputs;
        private IReadOnlyList<Array>? outputs;
        private long mappedPosition = -1;

        public override DataViewSchema Schema => owner.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column)) throw new InvalidOperationException($"Column '{column.Name}' is not active in this row.");
            int inputCount = owner.InputSchema.Count;
            if (column.Index < inputCount) return input.GetGetter<TValue>(owner.InputSchema[column.Index]);
            int output = column.Index - inputCount;
            if (column.Type is VectorDataViewType vector)
            {
                int size = vector.Size;
                ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
                {
                    var editor = VBufferEditor.Create(ref value, size);
                    ((float[])Outputs()[output]).AsSpan(0, size).CopyTo(editor.Values);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)getter;
            }
            return (ref TValue value) => value = ((TValue[])Outputs()[output])[0];
        }

        private IReadOnlyList<Array> Outputs()
        {
            if (outputs is null || mappedPosition != input.Position || input.Position < 0)
            {
                inputs ??= new BatchInputs(input, owner.mapper.InputColumns, 1);
                inputs.Capture(0);
                outputs = owner.mapper.MapBatch(inputs.ToBatch(input.Position, 1));
                mappedPosition = input.Position;
            }
            return outputs;
        }
    }
}

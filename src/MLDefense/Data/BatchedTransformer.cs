using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Data;

/// <summary>
/// What every MLDefense transformer shares in ML.NET's contract: a lazy view that reads its input a batch at a time
/// (<see cref="BatchedDataView"/>), the row mapper behind <c>PredictionEngine</c> (a batch of one), and the output
/// schema both give. A transformer says only how to map a batch for an input schema, checking that schema first
/// (a missing column, a wrong type or image shape fails naming the column), and how it saves.
/// </summary>
/// <remarks>Not meant to be derived from outside MLDefense: its members are <c>private protected</c>, as ML.NET's own bases are.</remarks>
public abstract class BatchedTransformer : ITransformer
{
    private protected BatchedTransformer()
    {
    }

    /// <summary>Checks <paramref name="inputSchema"/> and returns the mapper of one batch of its rows.</summary>
    /// <exception cref="ArgumentException">An input column is missing or does not fit (the message names it).</exception>
    private protected abstract IRowBatchMapper Mapper(DataViewSchema inputSchema);

    /// <summary>Writes the component into ML.NET's model (through the bridge in <c>MLNet/</c>).</summary>
    private protected abstract void SaveModel(ModelSaveContext context);

    bool ITransformer.IsRowToRowMapper => true;

    /// <summary>The input schema plus the columns this transformer adds (see the class's column table).</summary>
    /// <exception cref="ArgumentException">An input column is missing or does not fit (the message names it).</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return BatchedDataView.OutputSchema(inputSchema, Mapper(inputSchema));
    }

    /// <summary>A lazy view adding this transformer's columns, computed a batch at a time as a cursor reads them.</summary>
    /// <exception cref="ArgumentException">An input column is missing or does not fit (the message names it).</exception>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new BatchedDataView(input, Mapper(input.Schema));
    }

    IRowToRowMapper ITransformer.GetRowToRowMapper(DataViewSchema inputSchema) => new BatchedRowMapper(inputSchema, Mapper(inputSchema));

    void ICanSaveModel.Save(ModelSaveContext context) => SaveModel(context);
}

using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>A fitted component that turns one data view into another, as ML.NET's ITransformer.</summary>
public interface ITransformer
{
    /// <summary>The schema <see cref="Transform"/> would produce; throws naming the column when the input does not fit.</summary>
    DataViewSchema GetOutputSchema(DataViewSchema inputSchema);

    /// <summary>A lazy view of the transformed data.</summary>
    IDataView Transform(IDataView input);
}

/// <summary>A component that learns a transformer from data, as ML.NET's IEstimator.</summary>
public interface IEstimator<out TTransformer> where TTransformer : ITransformer
{
    /// <summary>Trains (or just configures) the transformer. Checks the input schema before any work.</summary>
    TTransformer Fit(IDataView input);

    /// <summary>The schema the fitted transformer will produce for this input schema; throws when it does not fit.</summary>
    DataViewSchema GetOutputSchema(DataViewSchema inputSchema);
}

/// <summary>
/// A transformer that maps batches through an <see cref="IBatchMapper"/> (itself), so Transform is lazy and
/// GetOutputSchema is by construction the schema of the transformed view.
/// </summary>
public abstract class BatchTransformer : ITransformer, IBatchMapper
{
    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => inputSchema.Append(GetAddedColumns(inputSchema).ToArray());

    /// <inheritdoc />
    public IDataView Transform(IDataView input) => new MappedDataView(input, this);

    /// <inheritdoc />
    public abstract IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema);

    /// <inheritdoc />
    public abstract IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema);

    /// <inheritdoc />
    public abstract IReadOnlyList<Array> MapBatch(DataBatch input);
}

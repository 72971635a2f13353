using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>
/// The lazy output of a batch transformer: the input's columns plus the columns the mapper adds (which hide
/// input columns of the same name). Each input batch is mapped as a whole when the output is read.
/// </summary>
public sealed class MappedDataView : IDataView
{
    private readonly IDataView source;
    private readonly IBatchMapper mapper;
    private readonly int firstAdded;

    /// <summary>Wraps <paramref name="source"/>; the output schema is the mapper's for the source schema.</summary>
    public MappedDataView(IDataView source, IBatchMapper mapper)
    {
        this.source = source;
        this.mapper = mapper;
        var added = mapper.GetAddedColumns(source.Schema);
        firstAdded = source.Schema.Count;
        Schema = source.Schema.Append(added.ToArray());
    }

    /// <inheritdoc />
    public DataViewSchema Schema { get; }

    /// <inheritdoc />
    public long? GetRowCount() => source.GetRowCount();

    /// <inheritdoc />
    public IEnumerable<DataBatch> GetBatches(int batchSize, IReadOnlyCollection<string>? columns = null)
    {
        var wanted = DataViews.ResolveColumns(Schema, columns);
        var addedWanted = wanted.Where(c => c.Index >= firstAdded).ToList();
        var sourceNames = wanted.Where(c => c.Index < firstAdded).Select(c => c.Name)
            .Concat(addedWanted.Count > 0 ? mapper.GetInputColumns(source.Schema) : [])
            .Distinct().ToArray();
        return Iterate();

        IEnumerable<DataBatch> Iterate()
        {
            foreach (var input in source.GetBatches(batchSize, sourceNames))
            {
                if (addedWanted.Count == 0)
                {
                    yield return input.Extend(Schema, new Dictionary<int, Array>());
                    continue;
                }
                var outputs = mapper.MapBatch(input);
                var added = new Dictionary<int, Array>();
                for (int i = 0; i < outputs.Count; i++) added[firstAdded + i] = outputs[i];
                yield return input.Extend(Schema, added);
            }
        }
    }
}

/// <summary>What a batch transformer supplies to <see cref="MappedDataView"/>.</summary>
public interface IBatchMapper
{
    /// <summary>The columns the mapper reads (validated against the schema before any work).</summary>
    IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema);

    /// <summary>The columns it adds, in order; throws a clear error when the input schema does not fit.</summary>
    IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema);

    /// <summary>Computes the added columns for one batch (one array per added column, in order).</summary>
    IReadOnlyList<Array> MapBatch(DataBatch input);
}

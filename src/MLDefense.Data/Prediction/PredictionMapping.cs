namespace MLDefense.Legacy;

/// <summary>
/// What both prediction front ends share: the check, made once at creation, that a model takes rows of
/// <typeparamref name="TSrc"/> and produces the columns <typeparamref name="TDst"/> reads; and the mapping of a list of
/// examples through the model in one batched pass.
/// </summary>
internal sealed class PredictionMapping<TSrc, TDst> where TSrc : class where TDst : class, new()
{
    private readonly ITransformer model;
    private readonly bool ignoreMissingColumns;

    public PredictionMapping(ITransformer model, bool ignoreMissingColumns)
    {
        ArgumentNullException.ThrowIfNull(model);
        this.model = model;
        this.ignoreMissingColumns = ignoreMissingColumns;
        InputSchema = TypedRows.SchemaOf<TSrc>();
        try
        {
            OutputSchema = model.GetOutputSchema(InputSchema);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            throw new ArgumentException($"The model cannot take rows of {typeof(TSrc).Name} ({InputSchema}): {ex.Message}", ex);
        }
        CheckOutputType();
    }

    public DataViewSchema InputSchema { get; }
    public DataViewSchema OutputSchema { get; }

    private void CheckOutputType()
    {
        // Reading an empty view of the output schema runs exactly the column and type checks a real read runs,
        // so creation fails on the same mismatches a prediction would, naming the column.
        var empty = new InMemoryDataView(OutputSchema, OutputSchema.Select(c => Array.CreateInstance(InMemoryDataView.ElementType(c), 0)).ToArray());
        try
        {
            _ = TypedRows.Read<TDst>(empty, ignoreMissingColumns);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"The model's output does not fit {typeof(TDst).Name}: {ex.Message}", ex);
        }
        var wanted = TypedRows.SchemaOf<TDst>().Select(c => c.Name).ToList();
        if (!wanted.Any(name => OutputSchema.GetColumnOrNull(name) is not null))
            throw new ArgumentException($"None of {typeof(TDst).Name}'s columns ({string.Join(", ", wanted)}) is in the model's output ({OutputSchema}).");
    }

    /// <summary>Transforms the examples as one data view (the model batches them) and reads the results back in order.</summary>
    public List<TDst> Map(IReadOnlyList<TSrc> examples)
    {
        if (examples.Count == 0) return [];
        var output = model.Transform(TypedRows.Load(examples));
        return TypedRows.Read<TDst>(output, ignoreMissingColumns).ToList();
    }
}

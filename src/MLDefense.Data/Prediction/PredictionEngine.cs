namespace MLDefense.Legacy;

/// <summary>
/// Predicts one example at a time with a fitted model, as ML.NET's PredictionEngine.
/// </summary>
/// <remarks>
/// Not thread-safe, like ML.NET's: an engine reuses its buffers from call to call, so give each thread its own
/// engine, or share one <see cref="BatchPredictor{TSrc, TDst}"/>, which is safe from many threads. Calling one engine
/// from two threads at once throws <see cref="InvalidOperationException"/> rather than returning mixed-up results.
/// Each call runs the whole pipeline on a batch of one row; to score many examples, use
/// <see cref="BatchPredictor{TSrc, TDst}.Predict(IReadOnlyList{TSrc})"/> or <c>model.Transform</c>, which batch.
/// </remarks>
/// <typeparam name="TSrc">The class of an input example (mapped to columns as <c>LoadFromEnumerable</c> does).</typeparam>
/// <typeparam name="TDst">The class of a prediction (filled from the output columns as <c>CreateEnumerable</c> does).</typeparam>
public sealed class PredictionEngine<TSrc, TDst> where TSrc : class where TDst : class, new()
{
    private readonly PredictionMapping<TSrc, TDst> mapping;
    private readonly TSrc[] singleRow = new TSrc[1];
    private int busy;

    internal PredictionEngine(ITransformer model, bool ignoreMissingColumns) => mapping = new PredictionMapping<TSrc, TDst>(model, ignoreMissingColumns);

    /// <summary>The schema <typeparamref name="TSrc"/> maps to.</summary>
    public DataViewSchema InputSchema => mapping.InputSchema;

    /// <summary>The model's output schema for that input.</summary>
    public DataViewSchema OutputSchema => mapping.OutputSchema;

    /// <summary>Runs the model on one example.</summary>
    /// <exception cref="InvalidOperationException">Another thread is using this engine at the same time.</exception>
    public TDst Predict(TSrc example)
    {
        ArgumentNullException.ThrowIfNull(example);
        if (Interlocked.Exchange(ref busy, 1) != 0)
            throw new InvalidOperationException("This PredictionEngine is already predicting on another thread; it is not thread-safe. Use one engine per thread, or a BatchPredictor.");
        try
        {
            singleRow[0] = example;
            return mapping.Map(singleRow)[0];
        }
        finally
        {
            singleRow[0] = null!;
            Volatile.Write(ref busy, 0);
        }
    }
}

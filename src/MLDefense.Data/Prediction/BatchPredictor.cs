namespace MLDefense.Legacy;

/// <summary>
/// Predicts with a fitted model for many callers at once — one loaded model serving a web app's requests — and scores
/// lists of examples in one batched pass through the pipeline.
/// </summary>
/// <remarks>
/// Safe to call from many threads at once: the predictor holds only immutable state (the model, the schemas, a
/// flag), and every call builds its own input view, its own lazy transformed view and its own result list, so calls
/// share nothing mutable. This relies on the model's transformers being safe for concurrent <c>Transform</c> calls,
/// which fitted MLDefense transformers are: they never change after <c>Fit</c> or <c>Load</c>, and run inference
/// without recording gradients.
/// </remarks>
/// <typeparam name="TSrc">The class of an input example.</typeparam>
/// <typeparam name="TDst">The class of a prediction.</typeparam>
public sealed class BatchPredictor<TSrc, TDst> where TSrc : class where TDst : class, new()
{
    private readonly PredictionMapping<TSrc, TDst> mapping;

    internal BatchPredictor(ITransformer model, bool ignoreMissingColumns) => mapping = new PredictionMapping<TSrc, TDst>(model, ignoreMissingColumns);

    /// <summary>The schema <typeparamref name="TSrc"/> maps to.</summary>
    public DataViewSchema InputSchema => mapping.InputSchema;

    /// <summary>The model's output schema for that input.</summary>
    public DataViewSchema OutputSchema => mapping.OutputSchema;

    /// <summary>Runs the model on a list of examples, batched; the predictions come back in the same order.</summary>
    public IReadOnlyList<TDst> Predict(IReadOnlyList<TSrc> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        for (int i = 0; i < examples.Count; i++)
            if (examples[i] is null) throw new ArgumentException($"Example {i} is null.", nameof(examples));
        return mapping.Map(examples);
    }

    /// <summary>Runs the model on one example.</summary>
    public TDst Predict(TSrc example)
    {
        ArgumentNullException.ThrowIfNull(example);
        return mapping.Map([example])[0];
    }
}

using MLDefense.Data;

namespace MLDefense.Defenses;

/// <summary>
/// What every defense's estimator holds: the context it fits in (seed, device, log) and its options, checked when the
/// estimator is created so that a bad option fails before any data is read. The defenses derive from it; it is not
/// meant to be derived from elsewhere.
/// </summary>
/// <typeparam name="TOptions">The defense's options record.</typeparam>
/// <typeparam name="TTransformer">The fitted defense.</typeparam>
public abstract class DefenseEstimator<TOptions, TTransformer> : IEstimator<TTransformer>
    where TOptions : class
    where TTransformer : ITransformer
{
    private protected DefenseEstimator(MLContext context, TOptions options, Action<TOptions> checkOptions)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        checkOptions(options);
        Context = context;
        Options = options;
    }

    /// <summary>The options this estimator fits with.</summary>
    public TOptions Options { get; }

    /// <summary>The context the estimator was created in: its seed, device and log.</summary>
    private protected MLContext Context { get; }

    /// <inheritdoc />
    public abstract DataViewSchema GetOutputSchema(DataViewSchema inputSchema);

    /// <inheritdoc />
    public abstract TTransformer Fit(IDataView input);
}

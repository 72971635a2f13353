using MLDefense.Data;
using MLDefense.Legacy;

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
        Fitting = FitEnvironment.From(context);
        Options = options;
    }

    /// <summary>For a defense already on ML.NET: its environment (a catalog's or an MLContext) and its name for the log.</summary>
    private protected DefenseEstimator(Microsoft.ML.Runtime.IHostEnvironment environment, string name, TOptions options, Action<TOptions> checkOptions)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(options);
        checkOptions(options);
        MLNet.MLNetCompatibility.Ensure();
        Context = null!; // the legacy context; defenses constructed this way use Fitting only
        Fitting = FitEnvironment.From(environment, name);
        Options = options;
    }

    /// <summary>The options this estimator fits with.</summary>
    public TOptions Options { get; }

    /// <summary>The context the estimator was created in: its seed, device and log.</summary>
    private protected MLContext Context { get; }

    /// <summary>Seeds, device and log of the fit.</summary>
    private protected FitEnvironment Fitting { get; }

    /// <inheritdoc />
    public abstract DataViewSchema GetOutputSchema(DataViewSchema inputSchema);

    /// <inheritdoc />
    public abstract TTransformer Fit(IDataView input);
}

using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLDefense.Defenses;

/// <summary>
/// What every defense's estimator holds: the ML.NET environment it fits in (seed, device, log) and its options, checked
/// when the estimator is created so that a bad option fails before any data is read. The defenses derive from it; it
/// is not meant to be derived from elsewhere.
/// </summary>
/// <typeparam name="TOptions">The defense's options record.</typeparam>
/// <typeparam name="TTransformer">The fitted defense.</typeparam>
public abstract class DefenseEstimator<TOptions, TTransformer> : IEstimator<TTransformer>
    where TOptions : class
    where TTransformer : class, ITransformer
{
    /// <summary>Checks the options and ML.NET's compatibility with the bridge; <paramref name="name"/> names the defense in the log.</summary>
    private protected DefenseEstimator(IHostEnvironment environment, string name, TOptions options, Action<TOptions> checkOptions)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(options);
        checkOptions(options);
        MLNet.MLNetCompatibility.Ensure();
        Fitting = FitEnvironment.From(environment, name);
        Options = options;
    }

    /// <summary>The options this estimator fits with.</summary>
    public TOptions Options { get; }

    /// <summary>Seeds, device and log of the fit.</summary>
    private protected FitEnvironment Fitting { get; }

    /// <inheritdoc />
    public abstract SchemaShape GetOutputSchema(SchemaShape inputSchema);

    /// <inheritdoc />
    public abstract TTransformer Fit(IDataView input);
}

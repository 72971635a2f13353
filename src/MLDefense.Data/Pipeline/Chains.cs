using System.Collections;

using MLDefense.Data;
namespace MLDefense.Legacy;

/// <summary>Fitted transformers applied in order, as ML.NET's TransformerChain.</summary>
public sealed class TransformerChain<TLastTransformer> : ITransformer, IEnumerable<ITransformer>, IDisposable
    where TLastTransformer : class, ITransformer
{
    private readonly ITransformer[] transformers;

    /// <summary>Creates a chain (the last one must be a <typeparamref name="TLastTransformer"/>).</summary>
    public TransformerChain(params ITransformer[] transformers)
    {
        if (transformers.Length > 0 && transformers[^1] is not TLastTransformer)
            throw new ArgumentException($"The last transformer must be a {typeof(TLastTransformer).Name}.");
        this.transformers = transformers;
    }

    /// <summary>The last transformer (e.g. the classifier, to reach its model).</summary>
    public TLastTransformer LastTransformer => (TLastTransformer)transformers[^1];

    /// <summary>The transformers in order.</summary>
    public IReadOnlyList<ITransformer> Transformers => transformers;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => transformers.Aggregate(inputSchema, (s, t) => t.GetOutputSchema(s));

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        GetOutputSchema(input.Schema);
        return transformers.Aggregate(input, (v, t) => t.Transform(v));
    }

    /// <summary>A longer chain.</summary>
    public TransformerChain<TNew> Append<TNew>(TNew transformer) where TNew : class, ITransformer => new([.. transformers, transformer]);

    /// <inheritdoc />
    public IEnumerator<ITransformer> GetEnumerator() => ((IEnumerable<ITransformer>)transformers).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Disposes the transformers that hold native resources (model weights).</summary>
    public void Dispose()
    {
        foreach (var t in transformers) (t as IDisposable)?.Dispose();
    }
}

/// <summary>Estimators fitted in order — each on the output of the previous fitted ones — as ML.NET's EstimatorChain.</summary>
public sealed class EstimatorChain<TLastTransformer> : IEstimator<TransformerChain<TLastTransformer>>
    where TLastTransformer : class, ITransformer
{
    private readonly IEstimator<ITransformer>[] estimators;

    /// <summary>Creates a chain.</summary>
    public EstimatorChain(params IEstimator<ITransformer>[] estimators) => this.estimators = estimators;

    /// <summary>The estimators in order.</summary>
    public IReadOnlyList<IEstimator<ITransformer>> Estimators => estimators;

    /// <summary>A longer chain.</summary>
    public EstimatorChain<TNew> Append<TNew>(IEstimator<TNew> estimator) where TNew : class, ITransformer => new([.. estimators, estimator]);

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => estimators.Aggregate(inputSchema, (s, e) => e.GetOutputSchema(s));

    /// <summary>Checks the whole chain's schemas first (so a bad column fails before any training), then fits step by step.</summary>
    public TransformerChain<TLastTransformer> Fit(IDataView input)
    {
        GetOutputSchema(input.Schema);
        var fitted = new List<ITransformer>();
        var current = input;
        try
        {
            foreach (var estimator in estimators)
            {
                var transformer = estimator.Fit(current);
                fitted.Add(transformer);
                current = transformer.Transform(current);
            }
        }
        catch
        {
            foreach (var t in fitted) (t as IDisposable)?.Dispose();
            throw;
        }
        return new TransformerChain<TLastTransformer>(fitted.ToArray());
    }
}

/// <summary>The <c>Append</c> extension methods, as in ML.NET.</summary>
public static class PipelineExtensions
{
    /// <summary>Chains two estimators.</summary>
    public static EstimatorChain<TNew> Append<TNew>(this IEstimator<ITransformer> first, IEstimator<TNew> next) where TNew : class, ITransformer =>
        new EstimatorChain<TNew>(first, next);

    /// <summary>Chains two transformers.</summary>
    public static TransformerChain<TNew> Append<TNew>(this ITransformer first, TNew next) where TNew : class, ITransformer =>
        new(first, next);
}

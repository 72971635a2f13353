namespace MLDefense.Legacy;

/// <summary><c>ml.Model.CreatePredictionEngine</c> and <c>ml.Model.CreateBatchPredictor</c>.</summary>
public static class PredictionCatalogExtensions
{
    /// <summary>
    /// Creates an engine that predicts one example at a time (not thread-safe: see <see cref="PredictionEngine{TSrc, TDst}"/>).
    /// Checks now that the model takes <typeparamref name="TSrc"/> rows and that its output has
    /// <typeparamref name="TDst"/>'s columns with the right types.
    /// </summary>
    /// <param name="catalog">The model catalog (<c>ml.Model</c>).</param>
    /// <param name="model">A fitted or loaded model.</param>
    /// <param name="ignoreMissingColumns">
    /// When true (the default, as ML.NET), members of <typeparamref name="TDst"/> with no output column keep their
    /// defaults; when false, each must have a column. A column of the wrong type is an error either way.
    /// </param>
    /// <exception cref="ArgumentException">The model does not fit the two classes (the message names the column).</exception>
    public static PredictionEngine<TSrc, TDst> CreatePredictionEngine<TSrc, TDst>(this ModelOperationsCatalog catalog, ITransformer model, bool ignoreMissingColumns = true)
        where TSrc : class where TDst : class, new() => new(model, ignoreMissingColumns);

    /// <summary>
    /// Creates a predictor that many threads can share and that scores lists of examples in batches (see
    /// <see cref="BatchPredictor{TSrc, TDst}"/>). Checks the model against the two classes now, as
    /// <see cref="CreatePredictionEngine"/> does.
    /// </summary>
    /// <param name="catalog">The model catalog (<c>ml.Model</c>).</param>
    /// <param name="model">A fitted or loaded model.</param>
    /// <param name="ignoreMissingColumns">As for <see cref="CreatePredictionEngine"/>.</param>
    /// <exception cref="ArgumentException">The model does not fit the two classes (the message names the column).</exception>
    public static BatchPredictor<TSrc, TDst> CreateBatchPredictor<TSrc, TDst>(this ModelOperationsCatalog catalog, ITransformer model, bool ignoreMissingColumns = true)
        where TSrc : class where TDst : class, new() => new(model, ignoreMissingColumns);
}

using MLDefense.Legacy;

namespace MLDefense.Samples;

/// <summary>Predicting with the saved defended model, as Model Builder's generated consumption code does.</summary>
public partial class DefendedClassifier
{
    /// <summary>
    /// The model zip <see cref="Predict"/> loads, on first use. Default <c>DefendedClassifier.zip</c> in the current
    /// directory; set it before the first prediction.
    /// </summary>
    public static string MLNetModelPath { get; set; } = Path.GetFullPath("DefendedClassifier.zip");

    private static readonly Lazy<(PredictionEngine<ModelInput, ModelOutput> Engine, IReadOnlyList<string> ClassNames)> Loaded =
        new(CreatePredictEngine, isThreadSafe: true);

    /// <summary>The prediction engine, loaded from <see cref="MLNetModelPath"/> on first use.</summary>
    public static PredictionEngine<ModelInput, ModelOutput> PredictEngine => Loaded.Value.Engine;

    /// <summary>The class names saved with the model (Fashion-MNIST's: T-shirt/top, Trouser, ...), by class index.</summary>
    public static IReadOnlyList<string> ClassNames => Loaded.Value.ClassNames;

    /// <summary>
    /// Predicts one image with the defended model. Calls from several threads take turns (a prediction engine serves
    /// one caller at a time); to serve many threads at once, share <c>ml.Model.CreateBatchPredictor</c> instead, as
    /// the DefendedImageApi sample does.
    /// </summary>
    public static ModelOutput Predict(ModelInput input)
    {
        var engine = PredictEngine;
        lock (engine) return engine.Predict(input);
    }

    /// <summary>The classes ordered by the classifier's probability, most probable first.</summary>
    public static IEnumerable<KeyValuePair<string, float>> GetSortedScoresWithLabels(ModelOutput result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var names = ClassNames;
        return result.Score
            .Select((probability, index) => new KeyValuePair<string, float>(index < names.Count ? names[index] : index.ToString(), probability))
            .OrderByDescending(pair => pair.Value);
    }

    private static (PredictionEngine<ModelInput, ModelOutput>, IReadOnlyList<string>) CreatePredictEngine()
    {
        var ml = new MLContext();
        ITransformer model = ml.Model.Load(MLNetModelPath, out var inputSchema);
        var names = inputSchema.GetColumnOrNull("Label")?.Annotations?.SlotNames ?? [];
        // ignoreMissingColumns: false — every ModelOutput member must come out of the model, so a zip that is not the
        // defended pipeline fails here, naming the missing column, instead of predicting zeros.
        return (ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(model, ignoreMissingColumns: false), names);
    }
}

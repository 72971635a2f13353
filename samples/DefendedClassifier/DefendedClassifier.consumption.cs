using Microsoft.ML;
using Microsoft.ML.Data;

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

    /// <summary>
    /// The class names saved with the model (Fashion-MNIST's: T-shirt/top, Trouser, ...), by class index: the key values
    /// of its <c>PredictedLabel</c> column.
    /// </summary>
    public static IReadOnlyList<string> ClassNames => Loaded.Value.ClassNames;

    /// <summary>
    /// Predicts one image with the defended model. Calls from several threads take turns (an ML.NET prediction engine
    /// serves one caller at a time); to serve many threads at once, keep a pool of engines, as the DefendedImageApi
    /// sample does.
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

    /// <summary>
    /// The key values (class names) of a key column such as <c>Label</c> or <c>PredictedLabel</c>, by class index; empty
    /// when the column carries none.
    /// </summary>
    public static IReadOnlyList<string> KeyNames(DataViewSchema.Column column)
    {
        if (column.Annotations.Schema.GetColumnOrNull("KeyValues") is not { Type: VectorDataViewType { ItemType: TextDataViewType } }) return [];
        VBuffer<ReadOnlyMemory<char>> values = default;
        column.Annotations.GetValue("KeyValues", ref values);
        return values.DenseValues().Select(name => name.ToString()).ToArray();
    }

    private static (PredictionEngine<ModelInput, ModelOutput>, IReadOnlyList<string>) CreatePredictEngine()
    {
        var ml = new MLContext();
        ITransformer model = ml.Model.Load(MLNetModelPath, out var inputSchema);
        // ignoreMissingColumns: false — every ModelOutput member must come out of the model, so a zip that is not the
        // defended pipeline fails here, naming the missing column, instead of predicting zeros.
        var engine = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(model, ignoreMissingColumns: false);
        return (engine, KeyNames(engine.OutputSchema["PredictedLabel"]));
    }
}

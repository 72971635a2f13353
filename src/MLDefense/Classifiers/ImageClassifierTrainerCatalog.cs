using MLDefense.Classifiers;
using MLDefense.MLNet;

namespace Microsoft.ML;

/// <summary>
/// <c>ml.MulticlassClassification.Trainers.ImageClassifier(...)</c>: MLDefense's TorchSharp image classifier (the
/// papers' target models C1, C2, A, ...) as an ML.NET multiclass trainer, with input gradients for attacks and an
/// optional feature-map column (in ML.NET's namespace, as ML.NET's own packages put their catalog extensions).
/// </summary>
public static class ImageClassifierTrainerCatalog
{
    /// <summary>
    /// An image classifier with the common settings: reads a Single [C, H, W] image column and a label (a key from
    /// MapValueToKey, or Int32 0..K−1); adds <c>Score</c> (class probabilities) and <c>PredictedLabel</c> (a key with the
    /// label's key values, so MapKeyToValue maps it back). Null epochs and batch size take the architecture's paper defaults.
    /// </summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="labelColumnName">The label column.</param>
    /// <param name="featureColumnName">The image column: Single [C, H, W] in [0, 1], as <c>ExtractPixels(..., scaleImage: 1f / 255)</c> makes.</param>
    /// <param name="architecture">The built-in network.</param>
    /// <param name="epochs">Passes over the data (null: the architecture's default).</param>
    /// <param name="batchSize">Images per step (null: the architecture's default).</param>
    /// <param name="featureMapColumnName">When set, the trained classifier also emits its last convolutional feature map under this name
    /// (a Single vector [C′, H′, W′]), which model-aware defenses such as CMAG read (see <see cref="ImageClassifierOptions.FeatureMapColumnName"/>).</param>
    public static ImageClassifierEstimator ImageClassifier(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Image", ClassifierArchitecture architecture = ClassifierArchitecture.MnistC1,
        int? epochs = null, int? batchSize = null, string? featureMapColumnName = null) =>
        catalog.ImageClassifier(new ImageClassifierOptions
        {
            LabelColumnName = labelColumnName, ImageColumnName = featureColumnName, Architecture = architecture, Epochs = epochs, BatchSize = batchSize,
            FeatureMapColumnName = featureMapColumnName,
        });

    /// <summary>An image classifier with every setting of <see cref="ImageClassifierOptions"/> (see <see cref="ImageClassifierEstimator"/>).</summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="options">The settings.</param>
    public static ImageClassifierEstimator ImageClassifier(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ImageClassifierOptions options) =>
        new(EnvironmentSettings.Of(catalog), options);
}

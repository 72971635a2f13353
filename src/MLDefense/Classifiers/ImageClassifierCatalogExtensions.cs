using MLDefense.Data;
using MLDefense.Legacy;

namespace MLDefense.Classifiers;

/// <summary>The <c>ImageClassifier</c> trainer on <c>ml.MulticlassClassification.Trainers</c>.</summary>
public static class ImageClassifierCatalogExtensions
{
    /// <summary>
    /// An image classifier trainer with full options (see <see cref="ImageClassifierOptions"/> and
    /// <see cref="ImageClassifierEstimator"/> for the columns).
    /// </summary>
    public static ImageClassifierEstimator ImageClassifier(this MulticlassClassificationCatalog.TrainersCatalog catalog, ImageClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new ImageClassifierEstimator(catalog.Context, options);
    }

    /// <summary>An image classifier trainer with the common settings; null epochs and batch size take the architecture's defaults.</summary>
    /// <param name="catalog">The trainers catalog.</param>
    /// <param name="labelColumnName">The Int32 class-label column.</param>
    /// <param name="imageColumnName">The image column (float vector [C, H, W] in [0, 1]).</param>
    /// <param name="architecture">The built-in network.</param>
    /// <param name="epochs">Passes over the data (null: the architecture's default).</param>
    /// <param name="batchSize">Images per step (null: the architecture's default).</param>
    public static ImageClassifierEstimator ImageClassifier(this MulticlassClassificationCatalog.TrainersCatalog catalog,
        string labelColumnName = "Label", string imageColumnName = "Image", ClassifierArchitecture architecture = ClassifierArchitecture.MnistC1,
        int? epochs = null, int? batchSize = null) =>
        catalog.ImageClassifier(new ImageClassifierOptions
        {
            LabelColumnName = labelColumnName, ImageColumnName = imageColumnName, Architecture = architecture, Epochs = epochs, BatchSize = batchSize,
        });
}

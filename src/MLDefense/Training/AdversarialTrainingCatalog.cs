using MLDefense.Classifiers;
using MLDefense.MLNet;
using MLDefense.Training;

namespace Microsoft.ML;

/// <summary>
/// <c>ml.MulticlassClassification.Trainers.AdversarialTraining(...)</c> (standard PGD-AT, TRADES, MART) and
/// <c>ml.MulticlassClassification.Trainers.Namid(...)</c> (Zhou et al.'s mutual-information adversarial training): robust
/// image classifiers as ML.NET multiclass trainers, producing the image-classifier trainer's transformer.
/// </summary>
public static class AdversarialTrainingCatalog
{
    /// <summary>
    /// Adversarial training with the common settings; everything else takes Zhou et al.'s defaults (PGD-10, step ε/4, SGD
    /// 0.9 momentum, weight decay 2×10⁻⁴, lr 0.1 ÷ 10 at epochs 75 and 90, batch 1024, 100 epochs; β = 6).
    /// </summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="labelColumnName">The label column (a key, or Int32 0..K−1).</param>
    /// <param name="featureColumnName">The image column: Single [C, H, W] in [0, 1].</param>
    /// <param name="method">The loss: standard AT, TRADES or MART.</param>
    /// <param name="architecture">The built-in network.</param>
    /// <param name="epsilon">The L∞ budget of the training examples, in (0, 1].</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Images per step.</param>
    public static AdversarialTrainingEstimator AdversarialTraining(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Image", AdversarialTrainingMethod method = AdversarialTrainingMethod.StandardAT,
        ClassifierArchitecture architecture = ClassifierArchitecture.MnistC1, double epsilon = 8.0 / 255, int epochs = 100, int batchSize = 1024) =>
        catalog.AdversarialTraining(new AdversarialTrainingOptions
        {
            LabelColumnName = labelColumnName, ImageColumnName = featureColumnName, Method = method, Architecture = architecture,
            Epsilon = epsilon, Epochs = epochs, BatchSize = batchSize,
        });

    /// <summary>Adversarial training with every setting of <see cref="AdversarialTrainingOptions"/> (see <see cref="AdversarialTrainingEstimator"/>).</summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="options">The settings.</param>
    public static AdversarialTrainingEstimator AdversarialTraining(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        AdversarialTrainingOptions options) => new(EnvironmentSettings.Of(catalog), options);

    /// <summary>
    /// NAMID (Zhou et al., Alg. 1) with the common settings: L_all = L_adv + α·L_mi with α = 5, λ = 0.1, on the given
    /// adversarial-training loss (standard AT: NAMID; TRADES: NAMID_T; MART: NAMID_M); the MI estimators are trained first
    /// on <paramref name="targetModel"/> (null: a standard-AT model trained first with the same settings).
    /// </summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="labelColumnName">The label column (a key, or Int32 0..K−1).</param>
    /// <param name="featureColumnName">The image column: Single [C, H, W] in [0, 1].</param>
    /// <param name="method">NAMID's L_adv.</param>
    /// <param name="targetModel">The pre-trained target model h_θ0 for the MI estimators (null: trained by standard AT first).</param>
    /// <param name="architecture">The built-in network.</param>
    /// <param name="epsilon">The L∞ budget of the training examples, in (0, 1].</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Images per step.</param>
    public static NamidEstimator Namid(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Image", AdversarialTrainingMethod method = AdversarialTrainingMethod.StandardAT,
        ImageClassifierTransformer? targetModel = null, ClassifierArchitecture architecture = ClassifierArchitecture.MnistC1, double epsilon = 8.0 / 255,
        int epochs = 100, int batchSize = 1024) =>
        catalog.Namid(new NamidOptions
        {
            LabelColumnName = labelColumnName, ImageColumnName = featureColumnName, Method = method, TargetModel = targetModel,
            Architecture = architecture, Epsilon = epsilon, Epochs = epochs, BatchSize = batchSize,
        });

    /// <summary>NAMID with every setting of <see cref="NamidOptions"/> (see <see cref="NamidEstimator"/>).</summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="options">The settings.</param>
    public static NamidEstimator Namid(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, NamidOptions options) =>
        new(EnvironmentSettings.Of(catalog), options);
}

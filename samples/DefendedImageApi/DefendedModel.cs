using MLDefense.Legacy;

namespace MLDefense.Samples.ImageApi;

/// <summary>The row the API sends through the model: one decoded 28×28 grey image.</summary>
public sealed class ImageInput
{
    /// <summary>784 floats, row by row, values in [0, 1].</summary>
    [ColumnName("Image"), ImageType(1, 28, 28)]
    public float[] Image { get; set; } = [];
}

/// <summary>The defended model's columns the API reports.</summary>
public sealed class ImagePrediction
{
    /// <summary>The classifier's class on the purified image.</summary>
    public int PredictedLabel { get; set; }

    /// <summary>The classifier's softmax probabilities on the purified image.</summary>
    [VectorType(10)]
    public float[] Score { get; set; } = [];

    /// <summary>SAEC's score of the input.</summary>
    public float SaecScore { get; set; }

    /// <summary>SAEC's flag.</summary>
    public bool SaecFlag { get; set; }

    /// <summary>AE-GAN+sr's reconstruction error of the input.</summary>
    public float AeGanScore { get; set; }

    /// <summary>AE-GAN+sr's flag.</summary>
    public bool AeGanFlag { get; set; }

    /// <summary>MIAED's score of the purified image.</summary>
    public float MiaedScore { get; set; }

    /// <summary>MIAED's flag.</summary>
    public bool MiaedFlag { get; set; }

    /// <summary>The purified image the classifier saw.</summary>
    [ImageType(1, 28, 28)]
    public float[] Purified { get; set; } = [];
}

/// <summary>
/// The defended model, loaded once from its zip and shared by every request. Predictions go through one
/// <see cref="BatchPredictor{TSrc, TDst}"/>, which is safe to call from many threads at once.
/// </summary>
public sealed class DefendedModel : IDisposable
{
    /// <summary>The image shape the model takes: 1×28×28 (Fashion-MNIST, classifier A).</summary>
    public static ImageShape InputShape { get; } = new(1, 28, 28);

    private readonly ITransformer model;
    private readonly BatchPredictor<ImageInput, ImagePrediction> predictor;

    private DefendedModel(string path, ITransformer model, BatchPredictor<ImageInput, ImagePrediction> predictor, IReadOnlyList<string> classNames)
    {
        Path = path;
        this.model = model;
        this.predictor = predictor;
        ClassNames = classNames;
    }

    /// <summary>The zip's full path.</summary>
    public string Path { get; }

    /// <summary>The class names saved with the model (its training labels' names), by class index.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Loads a defended model zip and checks that it produces every column <see cref="ImagePrediction"/> reads.</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a model zip.</exception>
    /// <exception cref="ArgumentException">The model does not take 1×28×28 images or lacks a defense's column (the message names it).</exception>
    public static DefendedModel Load(string path)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        if (!File.Exists(fullPath))
            throw new FileNotFoundException($"No model at {fullPath}. Train one with samples/DefendedClassifier and give its path (--model PATH, ModelPath in appsettings.json, or the ModelPath environment variable).", fullPath);
        var ml = new MLContext();
        var model = ml.Model.Load(fullPath, out var inputSchema);
        try
        {
            var predictor = ml.Model.CreateBatchPredictor<ImageInput, ImagePrediction>(model, ignoreMissingColumns: false);
            int classes = predictor.OutputSchema["Score"].Type is VectorDataViewType v ? v.Size : 0;
            var names = inputSchema.GetColumnOrNull("Label")?.Annotations?.SlotNames is { } slots && slots.Count == classes
                ? slots
                : Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            return new DefendedModel(fullPath, model, predictor, names);
        }
        catch
        {
            (model as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>Runs the defended pipeline on one image (CHW floats in [0, 1] of <see cref="InputShape"/>). Thread-safe.</summary>
    public ImagePrediction Predict(float[] image) => predictor.Predict(new ImageInput { Image = image });

    /// <summary>Frees the model's weights.</summary>
    public void Dispose() => (model as IDisposable)?.Dispose();
}

using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Samples.ImageApi;

/// <summary>The size of the images a model takes: channels × height × width.</summary>
/// <param name="Channels">1 for grey.</param>
/// <param name="Height">Rows of pixels.</param>
/// <param name="Width">Columns of pixels.</param>
public sealed record ImageSize(int Channels, int Height, int Width)
{
    /// <summary>Floats per image (CHW).</summary>
    public int Length => Channels * Height * Width;

    /// <inheritdoc />
    public override string ToString() => $"{Channels}×{Height}×{Width}";
}

/// <summary>The row the API sends through the model: one decoded 28×28 grey image.</summary>
public sealed class ImageInput
{
    /// <summary>784 floats, row by row, values in [0, 1], typed [1, 28, 28] as the model's <c>Image</c> column.</summary>
    [ColumnName("Image"), VectorType(1, 28, 28)]
    public float[] Image { get; set; } = [];
}

/// <summary>The defended model's columns the API reports.</summary>
public sealed class ImagePrediction
{
    /// <summary>The classifier's class on the purified image, as an ML.NET key: 1 + the class index.</summary>
    public uint PredictedLabel { get; set; }

    /// <summary>The classifier's softmax probabilities on the purified image, by class index.</summary>
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

    /// <summary>The purified image the classifier saw (CHW, like the input).</summary>
    public float[] Purified { get; set; } = [];

    /// <summary>The predicted class index (<see cref="PredictedLabel"/> − 1).</summary>
    [NoColumn]
    public int PredictedIndex => (int)PredictedLabel - 1;
}

/// <summary>
/// The defended model, loaded once from its zip with <c>new MLContext().Model.Load</c> and shared by every request.
/// An ML.NET <see cref="PredictionEngine{TSrc, TDst}"/> serves one caller at a time, so predictions borrow an engine
/// from a pool (Microsoft.Extensions.ObjectPool, part of ASP.NET Core's shared framework) and give it back: as many
/// engines as requests run at once, up to twice the processor count kept between requests. All engines share the one
/// loaded model (its weights are not copied); its transformers are safe to run from several threads at once.
/// </summary>
public sealed class DefendedModel : IDisposable
{
    /// <summary>The image size the model takes: 1×28×28 (Fashion-MNIST, classifier A).</summary>
    public static ImageSize InputShape { get; } = new(1, 28, 28);

    /// <summary>The columns the model must produce (those <see cref="ImagePrediction"/> reads).</summary>
    public static IReadOnlyList<string> OutputColumns { get; } =
        ["SaecScore", "SaecFlag", "Purified", "AeGanScore", "AeGanFlag", "Score", "PredictedLabel", "MiaedScore", "MiaedFlag"];

    private readonly ITransformer model;
    private readonly ObjectPool<PredictionEngine<ImageInput, ImagePrediction>> engines;

    private DefendedModel(string path, ITransformer model, ObjectPool<PredictionEngine<ImageInput, ImagePrediction>> engines,
        IReadOnlyList<string> classNames)
    {
        Path = path;
        this.model = model;
        this.engines = engines;
        ClassNames = classNames;
    }

    /// <summary>The zip's full path.</summary>
    public string Path { get; }

    /// <summary>The class names saved with the model (the key values of its <c>PredictedLabel</c>), by class index.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>
    /// Loads a defended model zip and checks that it takes a 1×28×28 <c>Image</c> and produces every column
    /// <see cref="ImagePrediction"/> reads. Relative paths are taken from the current directory.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not an ML.NET model zip.</exception>
    /// <exception cref="ArgumentException">The model does not take 1×28×28 images or lacks a defense's column (the message names it).</exception>
    public static DefendedModel Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var fullPath = System.IO.Path.GetFullPath(path);
        if (!File.Exists(fullPath))
            throw new FileNotFoundException($"No model at {fullPath}. Train one with samples/DefendedClassifier and give its path (--model PATH, ModelPath in appsettings.json, or the ModelPath environment variable).", fullPath);
        var ml = new MLContext();
        ITransformer model;
        DataViewSchema inputSchema;
        try
        {
            model = ml.Model.Load(fullPath, out inputSchema);
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or System.IO.InvalidDataException or NotSupportedException
            or ArgumentException or IOException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{fullPath} is not an ML.NET model zip that this app can load ({ex.Message}). " +
                "Write one with samples/DefendedClassifier or the main job (scripts/main.sh), which save with ml.Model.Save.", ex);
        }
        try
        {
            CheckSchema(fullPath, model, inputSchema);
            var policy = new EnginePolicy(ml, model);
            // DefaultObjectPool, not the provider's pool for disposable types: that one disposes the engines it does not keep,
            // and disposing an ML.NET prediction engine disposes the model's transformers with it, under the other engines'
            // feet. Engines beyond the retained ones are left to the garbage collector; the model is disposed once, with this.
            var engines = new DefaultObjectPool<PredictionEngine<ImageInput, ImagePrediction>>(policy, maximumRetained: 2 * Environment.ProcessorCount);
            // One engine now: ML.NET checks every ImagePrediction member against the model's columns here, not at the first request.
            var first = engines.Get();
            var names = KeyNames(first.OutputSchema["PredictedLabel"]);
            int classes = first.OutputSchema["Score"].Type is VectorDataViewType scores ? scores.Size : 0;
            engines.Return(first);
            if (names.Count != classes)
                names = Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            return new DefendedModel(fullPath, model, engines, names);
        }
        catch
        {
            (model as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>Runs the defended pipeline on one image (CHW floats in [0, 1] of <see cref="InputShape"/>). Thread-safe.</summary>
    /// <exception cref="ArgumentException">The image does not have <see cref="InputShape"/>'s length.</exception>
    public ImagePrediction Predict(float[] image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Length != InputShape.Length)
            throw new ArgumentException($"An image of {InputShape} needs {InputShape.Length} values, got {image.Length}.", nameof(image));
        var engine = engines.Get();
        try
        {
            return engine.Predict(new ImageInput { Image = image });
        }
        finally
        {
            engines.Return(engine);
        }
    }

    /// <summary>Frees the model's weights (the pooled engines only read them).</summary>
    public void Dispose() => (model as IDisposable)?.Dispose();

    private static void CheckSchema(string path, ITransformer model, DataViewSchema inputSchema)
    {
        var image = inputSchema.GetColumnOrNull("Image")
            ?? throw new ArgumentException($"The model {path} takes no 'Image' column (its input columns: {string.Join(", ", inputSchema.Select(c => c.Name))}).");
        if (image.Type is not VectorDataViewType vector || vector.ItemType != NumberDataViewType.Single || !vector.Dimensions.SequenceEqual([InputShape.Channels, InputShape.Height, InputShape.Width]))
            throw new ArgumentException($"The model {path} takes 'Image' as {image.Type}; this app serves models of Vector<Single, {InputShape.Channels}, {InputShape.Height}, {InputShape.Width}> images.");
        var output = model.GetOutputSchema(inputSchema);
        var missing = OutputColumns.Where(name => output.GetColumnOrNull(name) is null).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"The model {path} is not a defended pipeline: it produces no {string.Join(", ", missing.Select(m => $"'{m}'"))} column (a defended model adds {string.Join(", ", OutputColumns)}).");
        if (output["PredictedLabel"].Type is not KeyDataViewType)
            throw new ArgumentException($"The model {path} gives 'PredictedLabel' as {output["PredictedLabel"].Type}; this app reads the key a classifier adds (before any MapKeyToValue).");
    }

    private static IReadOnlyList<string> KeyNames(DataViewSchema.Column column)
    {
        if (column.Annotations.Schema.GetColumnOrNull("KeyValues") is not { Type: VectorDataViewType { ItemType: TextDataViewType } }) return [];
        VBuffer<ReadOnlyMemory<char>> values = default;
        column.Annotations.GetValue("KeyValues", ref values);
        return values.DenseValues().Select(name => name.ToString()).ToArray();
    }

    /// <summary>Makes prediction engines for the pool (each one ML.NET's, on the one shared model) and keeps every one returned.</summary>
    private sealed class EnginePolicy(MLContext ml, ITransformer model) : IPooledObjectPolicy<PredictionEngine<ImageInput, ImagePrediction>>
    {
        public PredictionEngine<ImageInput, ImagePrediction> Create() =>
            ml.Model.CreatePredictionEngine<ImageInput, ImagePrediction>(model, ignoreMissingColumns: false);

        public bool Return(PredictionEngine<ImageInput, ImagePrediction> engine) => true;
    }
}

using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Data;
using MLDefense.MLNet;

namespace MLDefense.Classifiers;

/// <summary>
/// A trained image classifier: adds softmax probabilities (<c>Score</c>), the predicted class
/// (<c>PredictedLabel</c>) and optionally the last convolutional feature map, and offers the model as a
/// differentiable function of its input (<see cref="IDifferentiableClassifier"/>) for attacks and adversarial training.
/// </summary>
/// <remarks>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="ImageColumnName"/> (input)</term><description>float vector [C, H, W] of <see cref="InputShape"/>, values in [0, 1]</description></item>
/// <item><term><see cref="ScoreColumnName"/></term><description>float vector [K]: softmax probabilities (each row sums to 1)</description></item>
/// <item><term><see cref="PredictedLabelColumnName"/></term><description>Int32: the most probable class</description></item>
/// <item><term><see cref="FeatureMapColumnName"/> (when set)</term><description>float vector [C', H', W']: the last convolutional feature map</description></item>
/// </list>
/// <para>Inference runs in evaluation mode without autograd, on the model's device, in chunks of at most
/// <see cref="InferenceBatchSize"/> rows. Images holding NaN or infinities are rejected (naming the column and row);
/// the [0, 1] range is checked by Fit, not here, so that slightly out-of-range outputs of other components still
/// classify. Transform is safe to call from several threads at once.</para>
/// <para>Saving writes the model description (architecture, shapes, class count, column names) as options and the
/// weights as safetensors; loading rebuilds the architecture and loads the weights strictly. A model whose network
/// came from an unnamed <see cref="ImageClassifierOptions.CustomModule"/> delegate cannot be saved.</para>
/// </remarks>
public sealed class ImageClassifierTransformer : BatchedTransformer, ILoadableComponent<ImageClassifierTransformer>, IDifferentiableClassifier, IDisposable
{
    /// <summary>The name ML.NET's component catalog finds the loader by (<c>MLNet/LoadableComponents.cs</c>).</summary>
    internal const string LoaderSignature = "MLDefenseImageClassifier";

    /// <summary>The largest number of rows sent through the network at once.</summary>
    public const int InferenceBatchSize = 256;

    private readonly SharedNetwork shared;
    private readonly ImageClassifierModelInfo info;
    private readonly bool savable;
    private bool disposed;

    internal ImageClassifierTransformer(SharedNetwork shared, ImageClassifierModelInfo info, Device device, IReadOnlyList<int>? featureMapShape,
        bool savable, IReadOnlyList<ClassifierTrainingProgress> history)
    {
        this.shared = shared;
        this.info = info;
        this.savable = savable;
        Device = device;
        FeatureMapShape = featureMapShape ?? (shared.Network is FeatureMapClassifier ? ProbeFeatureMapShape(shared.Network, InputShape, device) : null);
        TrainingHistory = history;
    }

    /// <summary>The built-in architecture, or null for a custom module.</summary>
    public ClassifierArchitecture? Architecture => info.Architecture;

    /// <summary>The image column read.</summary>
    public string ImageColumnName => info.ImageColumnName;
    /// <summary>The probabilities column added.</summary>
    public string ScoreColumnName => info.ScoreColumnName;
    /// <summary>The predicted-class column added.</summary>
    public string PredictedLabelColumnName => info.PredictedLabelColumnName;
    /// <summary>
    /// The feature-map column added (<see cref="ImageClassifierOptions.FeatureMapColumnName"/>: the last convolutional feature map,
    /// Single [C′, H′, W′] of <see cref="FeatureMapShape"/>, which CMAG reads), or null when none is emitted.
    /// </summary>
    public string? FeatureMapColumnName => info.FeatureMapColumnName;

    /// <summary>The epoch-end reports of training (empty for a loaded model).</summary>
    public IReadOnlyList<ClassifierTrainingProgress> TrainingHistory { get; }

    /// <inheritdoc />
    public Device Device { get; }
    /// <inheritdoc />
    public ImageShape InputShape => new(info.Channels, info.Height, info.Width);
    /// <inheritdoc />
    public int ClassCount => info.ClassCount;
    /// <inheritdoc />
    public IReadOnlyList<int>? FeatureMapShape { get; }

    /// <summary>The network (in evaluation mode; shared with transformers made by <see cref="AsEstimator"/>).</summary>
    public Module<Tensor, Tensor> Network
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return shared.Network;
        }
    }

    /// <inheritdoc />
    public Tensor Logits(Tensor images)
    {
        CheckImagesTensor(images);
        return Network.forward(images);
    }

    /// <inheritdoc />
    public Tensor FeatureMap(Tensor images)
    {
        if (Network is not FeatureMapClassifier split)
            throw new NotSupportedException("This classifier's network does not expose a feature map (it is not a FeatureMapClassifier).");
        CheckImagesTensor(images);
        return split.Features.forward(images);
    }

    private void CheckImagesTensor(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var s = images.shape;
        var expected = InputShape;
        if (s.Length != 4 || s[1] != expected.Channels || s[2] != expected.Height || s[3] != expected.Width)
            throw new ArgumentException($"Expected images [N, {expected.Channels}, {expected.Height}, {expected.Width}]; found [{string.Join(", ", s)}].", nameof(images));
        if (!images.device.IsSame(Device))
            throw new ArgumentException($"The images are on {images.device} but the model is on {Device}.", nameof(images));
    }

    /// <summary>
    /// An estimator whose Fit returns a transformer with these same weights (no training) reading another image
    /// column, e.g. a purifier's output: <c>classifier.AsEstimator(inputColumnName: "Purified")</c>. Output column
    /// names stay those of this transformer unless given.
    /// </summary>
    public PretrainedImageClassifier AsEstimator(string inputColumnName = "Image", string? scoreColumnName = null,
        string? predictedLabelColumnName = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentException.ThrowIfNullOrWhiteSpace(inputColumnName);
        return new PretrainedImageClassifier(this, inputColumnName, scoreColumnName ?? ScoreColumnName, predictedLabelColumnName ?? PredictedLabelColumnName);
    }

    /// <summary>
    /// <see cref="AsEstimator"/>'s estimator: Fit trains nothing and returns a transformer sharing the trained network,
    /// reading another image column.
    /// </summary>
    public sealed class PretrainedImageClassifier : IEstimator<ImageClassifierTransformer>
    {
        private readonly ImageClassifierTransformer source;
        private readonly string inputColumnName, scoreColumnName, predictedLabelColumnName;

        internal PretrainedImageClassifier(ImageClassifierTransformer source, string inputColumnName, string scoreColumnName, string predictedLabelColumnName) =>
            (this.source, this.inputColumnName, this.scoreColumnName, this.predictedLabelColumnName) = (source, inputColumnName, scoreColumnName, predictedLabelColumnName);

        /// <summary>The columns added (ML.NET): Score, PredictedLabel (with the trained label's key values) and the feature map when emitted.</summary>
        public SchemaShape GetOutputSchema(SchemaShape inputSchema)
        {
            var info = Info;
            ImageColumns.Check(inputSchema, info.ImageColumnName, "the image the classifier reads");
            return SchemaShapes.Append(inputSchema, AddedColumns(info.ScoreColumnName, info.PredictedLabelColumnName, info.FeatureMapColumnName, info.ClassCount,
                source.FeatureMapShape, info.LabelKeyValues).Select(c => SchemaShapes.Of(c.Name, c.Type, SchemaShapes.From(c.Annotations.Schema))));
        }

        /// <summary>A transformer with the trained weights reading <c>inputColumnName</c> (ML.NET); the data is only checked.</summary>
        public ImageClassifierTransformer Fit(IDataView input)
        {
            ArgumentNullException.ThrowIfNull(input);
            ObjectDisposedException.ThrowIf(source.disposed, source);
            var fitted = Share();
            ((ITransformer)fitted).GetOutputSchema(input.Schema);
            return fitted;
        }

        private ImageClassifierTransformer Share() =>
            new(source.shared.Acquire(), Info, source.Device, source.FeatureMapShape, source.savable, source.TrainingHistory);

        private ImageClassifierModelInfo Info => source.info with
        {
            ImageColumnName = inputColumnName, ScoreColumnName = scoreColumnName, PredictedLabelColumnName = predictedLabelColumnName,
        };
    }

    /// <summary>A transformer sharing this one's weights and columns (for a component that holds the classifier, e.g. Feature Squeezing); the caller disposes it.</summary>
    internal ImageClassifierTransformer Share()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return new(shared.Acquire(), info, Device, FeatureMapShape, savable, TrainingHistory);
    }

    /// <summary>Writes the classifier's description and weights into another component's folder, under names starting with <paramref name="prefix"/>.</summary>
    internal void WriteInto(ComponentWriter writer, string prefix)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckSavable();
        writer.WriteJson(prefix + "options.json", info);
        writer.WriteModule(Network, prefix + "weights.safetensors");
    }

    /// <summary>Reads a classifier <see cref="WriteInto"/> wrote (the caller disposes it).</summary>
    internal static ImageClassifierTransformer ReadFrom(ComponentReader reader, string prefix)
    {
        var info = reader.ReadJson<ImageClassifierModelInfo>(prefix + "options.json");
        var network = BuildFor(info);
        info.LabelKeyValues?.Check(info.ClassCount);
        var device = reader.Device;
        var shared = new SharedNetwork(network);
        try
        {
            reader.ReadModule(network, prefix + "weights.safetensors");
            network.to(device);
            network.eval();
            return new ImageClassifierTransformer(shared, info, device, null, savable: true, []);
        }
        catch
        {
            shared.Release();
            throw;
        }
    }

    private string ModelDescription => info.Architecture is { } a ? $"architecture {a}" : info.CustomModuleName is { } n ? $"custom module '{n}'" : "the custom module";

    /// <summary>The network on consecutive images (row-major pixels), 256 at a time: probabilities, classes 0..K−1, and feature maps when emitted.</summary>
    internal (float[] Scores, int[] Predicted, float[]? Features) Classify(float[] pixels, int rows, long firstRow)
    {
        var network = Network;
        for (int i = 0; i < pixels.Length; i++)
            if (!float.IsFinite(pixels[i]))
                throw new ArgumentException($"Column '{ImageColumnName}': expected finite pixel values, found {pixels[i]} in row {firstRow + i / InputShape.Size}.");

        int k = ClassCount, size = InputShape.Size;
        int featureSize = FeatureMapShape?.Aggregate(1, (a, b) => a * b) ?? 0;
        bool wantFeatures = FeatureMapColumnName is not null;
        var scores = new float[(long)rows * k];
        var predicted = new int[rows];
        var features = wantFeatures ? new float[(long)rows * featureSize] : null;
        var shape = InputShape;

        using var _ = torch.inference_mode();
        for (int start = 0; start < rows; start += InferenceBatchSize)
        {
            using var scope = torch.NewDisposeScope();
            int count = Math.Min(InferenceBatchSize, rows - start);
            var images = TensorData.FromSpan(pixels.AsSpan(start * size, count * size), [count, shape.Channels, shape.Height, shape.Width], Device);
            Tensor logits;
            if (wantFeatures)
            {
                var split = (FeatureMapClassifier)network;
                var featureMap = split.Features.forward(images);
                logits = split.Head.forward(featureMap);
                featureMap.cpu().contiguous().data<float>().CopyTo(features.AsSpan(start * featureSize, count * featureSize));
            }
            else
            {
                logits = network.forward(images);
            }
            logits.softmax(1).cpu().contiguous().data<float>().CopyTo(scores.AsSpan(start * k, count * k));
            var labels = logits.argmax(1).cpu().data<long>().ToArray();
            for (int i = 0; i < count; i++) predicted[start + i] = (int)labels[i];
        }
        return (scores, predicted, features);
    }

    /// <summary>
    /// The columns added as ML.NET's multiclass trainers add them: <c>Score</c> (Single [K], slot names from text labels),
    /// <c>PredictedLabel</c> (a key of K classes carrying the label's key values, so MapKeyToValue maps it back), and the
    /// feature map (Single [C', H', W']) when one is emitted.
    /// </summary>
    internal static DataViewSchema.DetachedColumn[] AddedColumns(string scoreName, string predictedName, string? featureMapName, int classCount,
        IReadOnlyList<int>? featureMapShape, Data.KeyValues? keyValues)
    {
        var columns = new List<DataViewSchema.DetachedColumn>
        {
            new(scoreName, new VectorDataViewType(NumberDataViewType.Single, classCount), keyValues?.Annotations(slotNames: true)),
            new(predictedName, new KeyDataViewType(typeof(uint), classCount), keyValues?.Annotations(slotNames: false)),
        };
        if (featureMapName is not null)
            columns.Add(new(featureMapName, new VectorDataViewType(NumberDataViewType.Single, featureMapShape?.ToArray()
                ?? throw new InvalidOperationException("The feature map's shape is unknown."))));
        return [.. columns];
    }

    private protected override IRowBatchMapper Mapper(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ImageColumns.Check(inputSchema, ImageColumnName, InputShape, "the image the classifier reads", $"the input {ModelDescription} was trained on");
        return new BatchMapper(this);
    }

    private sealed class BatchMapper(ImageClassifierTransformer owner) : IRowBatchMapper
    {
        public IReadOnlyList<string> InputColumns => [owner.ImageColumnName];
        public IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; } = AddedColumns(owner.ScoreColumnName, owner.PredictedLabelColumnName,
            owner.FeatureMapColumnName, owner.ClassCount, owner.FeatureMapShape, owner.info.LabelKeyValues);
        public int BatchSize => InferenceBatchSize;

        public IReadOnlyList<Array> MapBatch(RowBatch batch)
        {
            var (scores, predicted, features) = owner.Classify(batch.Get<float>(owner.ImageColumnName), batch.RowCount, batch.FirstPosition);
            var keys = Array.ConvertAll(predicted, c => (uint)(c + 1));
            return features is null ? [scores, keys] : [scores, keys, features];
        }
    }

    static ComponentFormat ILoadableComponent<ImageClassifierTransformer>.Format { get; } = new("MLDIMCLS", 1, LoaderSignature, "image classifier");

    private protected override void SaveModel(ModelSaveContext context)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckSavable();
        ComponentWriter.Write<ImageClassifierTransformer>(context, writer =>
        {
            writer.WriteOptions(info);
            writer.WriteModule(Network);
        });
    }

    static ImageClassifierTransformer ILoadableComponent<ImageClassifierTransformer>.Load(ComponentReader reader)
    {
        var info = reader.ReadOptions<ImageClassifierModelInfo>();
        var network = BuildFor(info);
        info.LabelKeyValues?.Check(info.ClassCount);
        var device = reader.Device;
        var shared = new SharedNetwork(network);
        try
        {
            reader.ReadModule(network);
            network.to(device);
            network.eval();
            return new ImageClassifierTransformer(shared, info, device, null, savable: true, []);
        }
        catch
        {
            shared.Release();
            throw;
        }
    }

    /// <summary>The network a saved description names, untrained; an impossible description throws <see cref="ArgumentException"/>.</summary>
    private static Module<Tensor, Tensor> BuildFor(ImageClassifierModelInfo info)
    {
        var shape = new ImageShape(info.Channels, info.Height, info.Width);
        if (info.ClassCount < 2 || info.Channels < 1 || info.Height < 1 || info.Width < 1)
            throw new ArgumentException($"options.json describes an impossible classifier ({shape} images, {info.ClassCount} classes).");
        if (info.Architecture is { } architecture) return ClassifierArchitectures.Create(architecture, shape, info.ClassCount);
        if (info.CustomModuleName is { } name) return ImageClassifierEstimator.FindCustomModule(name)(shape, info.ClassCount);
        throw new ArgumentException("options.json names neither an architecture nor a custom module.");
    }

    private void CheckSavable()
    {
        if (!savable)
            throw new NotSupportedException("This image classifier was trained with an unnamed ImageClassifierOptions.CustomModule delegate, which cannot be rebuilt from a file. " +
                "Register the factory with ImageClassifierEstimator.RegisterCustomModule and train with CustomModuleName to make it savable.");
    }

    /// <summary>Frees the weights once no transformer sharing them (see <see cref="AsEstimator"/>) is left.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        shared.Release();
    }

    /// <summary>The feature map shape [C', H', W'] of a <see cref="FeatureMapClassifier"/> (null for other modules), found by one forward pass.</summary>
    internal static IReadOnlyList<int>? ProbeFeatureMapShape(Module<Tensor, Tensor> network, ImageShape shape, Device device)
    {
        if (network is not FeatureMapClassifier split) return null;
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var output = split.Features.forward(torch.zeros([1, shape.Channels, shape.Height, shape.Width], device: device));
        var s = output.shape;
        if (s.Length != 4) throw new InvalidOperationException($"The feature map must be [N, C, H, W]; the network produced [{string.Join(", ", s)}].");
        return [(int)s[1], (int)s[2], (int)s[3]];
    }

    /// <summary>Runs one image through the network to check it produces [1, K] logits (a clear error for a bad custom module).</summary>
    internal static void ProbeOutput(Module<Tensor, Tensor> network, ImageShape shape, int classCount, Device device, string modelDescription)
    {
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        bool wasTraining = network.training;
        network.eval();
        try
        {
            long[] s;
            try { s = network.forward(torch.zeros([1, shape.Channels, shape.Height, shape.Width], device: device)).shape; }
            catch (ExternalException ex) { throw new ArgumentException($"{modelDescription} cannot take {shape} images: {ex.Message}", ex); }
            if (s.Length != 2 || s[1] != classCount)
                throw new ArgumentException($"{modelDescription} must map [N, {shape.Channels}, {shape.Height}, {shape.Width}] images to [N, {classCount}] logits; it produced [{string.Join(", ", s)}].");
        }
        finally
        {
            network.train(wasTraining);
        }
    }
}

/// <summary>What a saved image classifier records besides its weights (its <c>options.json</c>).</summary>
internal sealed record ImageClassifierModelInfo
{
    public ClassifierArchitecture? Architecture { get; init; }
    public string? CustomModuleName { get; init; }
    public int Channels { get; init; }
    public int Height { get; init; }
    public int Width { get; init; }
    public int ClassCount { get; init; }
    public string ImageColumnName { get; init; } = "Image";
    public string ScoreColumnName { get; init; } = "Score";
    public string PredictedLabelColumnName { get; init; } = "PredictedLabel";
    public string? FeatureMapColumnName { get; init; }
    /// <summary>The training label's key values (ML.NET pipelines), so PredictedLabel maps back to them after loading.</summary>
    public Data.KeyValues? LabelKeyValues { get; init; }
}

/// <summary>A network shared by the transformers that use the same weights; the last one to let go frees it.</summary>
internal sealed class SharedNetwork(Module<Tensor, Tensor> network)
{
    private readonly object gate = new();
    private int references = 1;

    public Module<Tensor, Tensor> Network { get; } = network;

    public SharedNetwork Acquire()
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(references == 0, this);
            references++;
            return this;
        }
    }

    public void Release()
    {
        lock (gate)
        {
            if (references == 0) return;
            if (--references == 0) Network.Dispose();
        }
    }
}

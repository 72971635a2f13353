using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.MLNet;

namespace MLDefense.Defenses;

/// <summary>
/// A fitted Feature Squeezing detector (Xu et al., NDSS 2018): adds the score max_s ‖softmax(f(x)) − softmax(f(s(x)))‖₁ and the flag
/// score &gt; <see cref="Threshold"/>. See <see cref="FeatureSqueezingEstimator"/>.
/// </summary>
/// <remarks>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="FeatureSqueezingOptions.ImageColumnName"/> (input)</term><description>float vector [C, H, W] of <see cref="InputShape"/></description></item>
/// <item><term><see cref="FeatureSqueezingOptions.ScoreColumnName"/> (output)</term><description>float (Single) in [0, 2]: higher = more adversarial</description></item>
/// <item><term><see cref="FeatureSqueezingOptions.FlagColumnName"/> (output)</term><description>Boolean: score &gt; <see cref="Threshold"/></description></item>
/// </list>
/// <para>Scoring runs three forward passes of the classifier per image (x and its two squeezed versions) on the classifier's device,
/// in chunks of 256 images, without autograd. Images holding NaN or infinities are rejected naming the row. Saving writes the options,
/// the calibration and the classifier (its description and weights as safetensors) into this component's folder of the zip; loading
/// rebuilds them. Dispose releases the classifier's weights once nothing else shares them.</para>
/// </remarks>
public sealed class FeatureSqueezingTransformer : BatchedTransformer, ILoadableComponent<FeatureSqueezingTransformer>, IDisposable
{
    private const string CalibrationFileName = "calibration.json";
    private const string ClassifierPrefix = "classifier.";

    /// <summary>The name ML.NET's component catalog finds the loader by (<c>MLNet/LoadableComponents.cs</c>).</summary>
    internal const string LoaderSignature = "MLDefenseFeatSqueeze";

    private readonly ImageClassifierTransformer classifier;

    internal FeatureSqueezingTransformer(FeatureSqueezingOptions options, FeatureSqueezingCalibration calibration, ImageClassifierTransformer classifier)
    {
        Options = options;
        Calibration = calibration;
        this.classifier = classifier;
    }

    /// <summary>The options fitted with.</summary>
    public FeatureSqueezingOptions Options { get; }

    /// <summary>What Fit measured (threshold, squeezers, training FPR).</summary>
    public FeatureSqueezingCalibration Calibration { get; }

    /// <summary>The decision threshold: flag when score &gt; threshold.</summary>
    public float Threshold => Calibration.Threshold;

    /// <summary>The image shape (the classifier's input).</summary>
    public ImageShape InputShape => new(Calibration.Channels, Calibration.Height, Calibration.Width);

    /// <summary>The device scoring runs on (the classifier's).</summary>
    public Device Device => classifier.Device;

    /// <summary>The classifier whose predictions are compared (shared with this detector).</summary>
    public IDifferentiableClassifier Classifier => classifier;

    /// <summary>Scores images directly (benchmarks, attacks): [N, C, H, W] of <see cref="InputShape"/> on <see cref="Device"/> → [N] float32 scores.</summary>
    public Tensor Score(Tensor images)
    {
        DefenseColumns.CheckImageTensor(images, InputShape, "the shape Feature Squeezing was calibrated on");
        return FeatureSqueezers.Score(classifier, images.device.IsSame(Device) ? images : images.to(Device), Calibration.BitDepth, Calibration.MedianWindow);
    }

    internal Array[] ScoreAndFlag(float[] pixels, int rowCount, long firstRow)
    {
        var shape = InputShape;
        DefenseColumns.CheckFinite(pixels, shape.Size, firstRow, Options.ImageColumnName);
        var scores = new float[rowCount];
        foreach (var (start, count) in DefenseInference.Chunks(rowCount))
        {
            using var scope = torch.NewDisposeScope();
            var images = DefenseInference.Images(pixels, shape, start, count, Device);
            TensorData.ToArray(FeatureSqueezers.Score(classifier, images, Calibration.BitDepth, Calibration.MedianWindow)).CopyTo(scores.AsSpan(start, count));
        }
        return [scores, DefenseInference.Flags(scores, Threshold)];
    }

    internal static DataViewSchema.DetachedColumn[] AddedColumns(FeatureSqueezingOptions options) =>
    [
        new(options.ScoreColumnName, NumberDataViewType.Single),
        new(options.FlagColumnName, BooleanDataViewType.Instance),
    ];

    private protected override IRowBatchMapper Mapper(DataViewSchema inputSchema)
    {
        ImageColumns.Check(inputSchema, Options.ImageColumnName, InputShape, "the image Feature Squeezing scores", "the input of the classifier it protects");
        return new BatchMapper(this);
    }

    private sealed class BatchMapper(FeatureSqueezingTransformer owner) : IRowBatchMapper
    {
        public IReadOnlyList<string> InputColumns => [owner.Options.ImageColumnName];
        public IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; } = AddedColumns(owner.Options);
        public int BatchSize => DefenseInference.ChunkSize;
        public IReadOnlyList<Array> MapBatch(RowBatch batch) => owner.ScoreAndFlag(batch.Get<float>(owner.Options.ImageColumnName), batch.RowCount, batch.FirstPosition);
    }

    static ComponentFormat ILoadableComponent<FeatureSqueezingTransformer>.Format { get; } = new("MLDFSQZ_", 1, LoaderSignature, "Feature Squeezing detector");

    private protected override void SaveModel(ModelSaveContext context) =>
        ComponentWriter.Write<FeatureSqueezingTransformer>(context, writer =>
        {
            writer.WriteOptions(Options);
            writer.WriteJson(CalibrationFileName, Calibration);
            classifier.WriteInto(writer, ClassifierPrefix);
        });

    static FeatureSqueezingTransformer ILoadableComponent<FeatureSqueezingTransformer>.Load(ComponentReader reader)
    {
        var options = reader.ReadOptions<FeatureSqueezingOptions>();
        var calibration = reader.ReadJson<FeatureSqueezingCalibration>(CalibrationFileName);
        var shape = DefenseModelFiles.Check(options, calibration, FeatureSqueezingEstimator.CheckOptions, (_, c, _) =>
        {
            if (c.BitDepth is < 0 or > 8 || c.MedianWindow is < 0 or > 8 || (c.BitDepth == 0 && c.MedianWindow == 0))
                throw new ArgumentException($"calibration.json describes impossible squeezers (bit depth {c.BitDepth}, median window {c.MedianWindow}).");
        });
        var classifier = ImageClassifierTransformer.ReadFrom(reader, ClassifierPrefix);
        if (classifier.InputShape != shape)
        {
            classifier.Dispose();
            throw new ArgumentException($"the saved classifier takes {classifier.InputShape} images, the detector was calibrated on {shape}.");
        }
        return new FeatureSqueezingTransformer(options, calibration, classifier);
    }

    /// <summary>Releases this detector's share of the classifier's weights.</summary>
    public void Dispose() => classifier.Dispose();
}

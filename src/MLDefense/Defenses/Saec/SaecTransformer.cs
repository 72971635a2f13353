using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Data;
using MLDefense.MLNet;

namespace MLDefense.Defenses;

/// <summary>
/// A fitted SAEC detector (Yang et al., MixDefense, Sec. 3): adds the SAEC score (Eq. 1 map → high-pass residual →
/// Eq. 2 histogram variance, mapped to s = 1 − V/V_max) and the flag s &gt; <see cref="Threshold"/>. See
/// <see cref="SaecEstimator"/> for the equations.
/// </summary>
/// <remarks>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="SaecOptions.ImageColumnName"/> (input)</term><description>float vector [C, H, W] of the calibrated shape (<see cref="InputShape"/>)</description></item>
/// <item><term><see cref="SaecOptions.ScoreColumnName"/> (output)</term><description>float (Single) in [0, 1]: higher = more adversarial</description></item>
/// <item><term><see cref="SaecOptions.FlagColumnName"/> (output)</term><description>Boolean: score &gt; <see cref="Threshold"/></description></item>
/// </list>
/// <para>Scoring runs on <see cref="Device"/> in chunks of 256 images, with no learned weights (the model is the
/// options and the threshold). Images holding NaN or infinities are rejected naming the row; values slightly
/// outside [0, 1] (another component's output) are scored as they are. Transform is safe to call from several
/// threads. Saving (ML.NET's <c>Model.Save</c>) writes the options and <see cref="Calibration"/> as JSON streams.</para>
/// </remarks>
public sealed class SaecTransformer : BatchedTransformer, ILoadableComponent<SaecTransformer>
{
    private const string CalibrationFileName = "calibration.json";

    /// <summary>The name ML.NET's component catalog finds the loader by (<c>MLNet/LoadableComponents.cs</c>).</summary>
    internal const string LoaderSignature = "MLDefenseSaec";

    internal SaecTransformer(SaecOptions options, SaecCalibrationReport calibration, Device device)
    {
        Options = options;
        Calibration = calibration;
        Device = device;
    }

    /// <summary>The options the detector was fitted with (column names, map, filter and histogram settings).</summary>
    public SaecOptions Options { get; }

    /// <summary>What Fit measured: the threshold, the false-positive rate on the training images and the separation of uniform noise (Sec. 5.3).</summary>
    public SaecCalibrationReport Calibration { get; }

    /// <summary>The decision threshold calibrated on clean images: flag when score &gt; threshold.</summary>
    public float Threshold => Calibration.Threshold;

    /// <summary>The image shape the threshold was calibrated for; Transform requires it.</summary>
    public ImageShape InputShape => new(Calibration.Channels, Calibration.Height, Calibration.Width);

    /// <summary>The device scoring runs on (the fitting or loading context's).</summary>
    public Device Device { get; }

    /// <summary>
    /// Scores a batch of images directly (for benchmarks and attacks that work on tensors): [N, C, H, W] of
    /// <see cref="InputShape"/> on any device → [N] float32 scores on the same device. Flag = score &gt; <see cref="Threshold"/>.
    /// </summary>
    public Tensor Score(Tensor images)
    {
        DefenseColumns.CheckImageTensor(images, InputShape, "the shape SAEC was calibrated on");
        return SaecScoring.Scores(images, Options);
    }

    /// <summary>Scores consecutive images (row-major pixels) in chunks on <see cref="Device"/>: [scores, flags].</summary>
    internal Array[] ScoreAndFlag(float[] pixels, int rowCount, long firstRow)
    {
        var shape = InputShape;
        DefenseColumns.CheckFinite(pixels, shape.Size, firstRow, Options.ImageColumnName);
        var scores = new float[rowCount];
        foreach (var (start, count) in DefenseInference.Chunks(rowCount))
        {
            using var scope = torch.NewDisposeScope();
            SaecScoring.Scores(DefenseInference.Images(pixels, shape, start, count, Device), Options).cpu().data<float>().CopyTo(scores.AsSpan(start, count));
        }
        return [scores, DefenseInference.Flags(scores, Threshold)];
    }

    /// <summary>The columns added: the score (Single) and the flag (Boolean).</summary>
    internal static DataViewSchema.DetachedColumn[] AddedColumns(SaecOptions options) =>
    [
        new(options.ScoreColumnName, NumberDataViewType.Single),
        new(options.FlagColumnName, BooleanDataViewType.Instance),
    ];

    private protected override IRowBatchMapper Mapper(DataViewSchema inputSchema)
    {
        var shape = ImageColumns.Check(inputSchema, Options.ImageColumnName, InputShape, "the image SAEC scores", "the shape SAEC was calibrated on");
        SaecEstimator.CheckGeometry(shape, Options);
        return new BatchMapper(this);
    }

    private sealed class BatchMapper(SaecTransformer owner) : IRowBatchMapper
    {
        public IReadOnlyList<string> InputColumns => [owner.Options.ImageColumnName];
        public IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; } = AddedColumns(owner.Options);
        public int BatchSize => DefenseInference.ChunkSize;
        public IReadOnlyList<Array> MapBatch(RowBatch batch) => owner.ScoreAndFlag(batch.Get<float>(owner.Options.ImageColumnName), batch.RowCount, batch.FirstPosition);
    }

    static ComponentFormat ILoadableComponent<SaecTransformer>.Format { get; } = new("MLDSAEC_", 1, LoaderSignature, "SAEC detector");

    private protected override void SaveModel(ModelSaveContext context) =>
        ComponentWriter.Write<SaecTransformer>(context, writer =>
        {
            writer.WriteOptions(Options);
            writer.WriteJson(CalibrationFileName, Calibration);
        });

    static SaecTransformer ILoadableComponent<SaecTransformer>.Load(ComponentReader reader)
    {
        var options = reader.ReadOptions<SaecOptions>();
        var calibration = reader.ReadJson<SaecCalibrationReport>(CalibrationFileName);
        DefenseModelFiles.Check(options, calibration, SaecEstimator.CheckOptions);
        return new SaecTransformer(options, calibration, reader.Device);
    }


}

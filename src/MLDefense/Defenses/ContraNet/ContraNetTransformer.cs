using MLDefense.Evaluation;
using MLDefense.MLNet;
using ML = Microsoft.ML;
using ImageShape = MLDefense.Data.ImageShape;

namespace MLDefense.Defenses;

/// <summary>What <see cref="ContraNetEstimator.Fit"/> fixed besides the weights: shapes, thresholds and what the fit measured. Saved with the model.</summary>
public sealed record ContraNetModelInfo : IFittedImageDefense
{
    /// <summary>Channels of the images fitted on.</summary>
    public int Channels { get; init; }
    /// <summary>Height of the images fitted on.</summary>
    public int Height { get; init; }
    /// <summary>Width of the images fitted on.</summary>
    public int Width { get; init; }
    /// <summary>K, the classifier's classes (the Score's length at Fit).</summary>
    public int ClassCount { get; init; }

    /// <summary>t_d: the metric distance the held-out clean rows exceed at most at the target rate.</summary>
    public float DistanceThreshold { get; init; }
    /// <summary>t_s: the same for 1 − SSIM(x, x′) (used by <see cref="ContraNetDetectionRule.MetricOrSsim"/>).</summary>
    public float SsimDissimilarityThreshold { get; init; }
    /// <summary>The score threshold of the rule in effect: t_d for <see cref="ContraNetDetectionRule.MetricDistance"/>, 1 for <see cref="ContraNetDetectionRule.MetricOrSsim"/>.</summary>
    public float Threshold { get; init; }
    /// <summary>The share of the held-out clean rows the rule in effect flags.</summary>
    public double CalibrationFalsePositiveRate { get; init; }

    /// <summary>Rows the cGAN and the metric model trained on.</summary>
    public int TrainingImageCount { get; init; }
    /// <summary>Clean rows held out to calibrate.</summary>
    public int CalibrationImageCount { get; init; }

    /// <summary>Mean d(M(x), M(G(μ(x), y_true))) on the held-out rows.</summary>
    public double CalibrationTrueLabelMeanDistance { get; init; }
    /// <summary>Mean d(M(x), M(G(μ(x), y))) on the held-out rows for one wrong label y each.</summary>
    public double CalibrationWrongLabelMeanDistance { get; init; }
    /// <summary>Mean SSIM(x, G(μ(x), y_true)) on the held-out rows.</summary>
    public double CalibrationTrueLabelMeanSsim { get; init; }
    /// <summary>Mean SSIM(x, G(μ(x), y)) on the held-out rows for one wrong label each.</summary>
    public double CalibrationWrongLabelMeanSsim { get; init; }
    /// <summary>The AUC of telling wrong-label from true-label reconstructions of the held-out rows by the metric distance: what ContraNet learned, before any attack.</summary>
    public double WrongLabelAuc { get; init; }

    /// <summary>Eq. 5 (hinge) averaged over the last cGAN epoch.</summary>
    public double DiscriminatorLoss { get; init; }
    /// <summary>The adversarial term of Eq. 4 (hinge) averaged over the last cGAN epoch.</summary>
    public double GeneratorLoss { get; init; }
    /// <summary>Dist averaged over the last cGAN epoch.</summary>
    public double DistanceLoss { get; init; }
    /// <summary>The KL term averaged over the last cGAN epoch.</summary>
    public double KlLoss { get; init; }
    /// <summary>Eq. 6 averaged over the last metric epoch.</summary>
    public double TripletLoss { get; init; }

    /// <summary>The seed training used.</summary>
    public int Seed { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"threshold {Threshold:G6} (t_d {DistanceThreshold:G6}, t_s {SsimDissimilarityThreshold:G6}) flags {CalibrationFalsePositiveRate:P2} of {CalibrationImageCount} held-out clean images; " +
        $"held-out metric distance true label {CalibrationTrueLabelMeanDistance:F4} vs wrong label {CalibrationWrongLabelMeanDistance:F4} (AUC {WrongLabelAuc:F4}), " +
        $"SSIM {CalibrationTrueLabelMeanSsim:F4} vs {CalibrationWrongLabelMeanSsim:F4}; losses D {DiscriminatorLoss:F4}, G adv {GeneratorLoss:F4}, Dist {DistanceLoss:F4}, " +
        $"KL {KlLoss:F4}, triplet {TripletLoss:F4}; {TrainingImageCount} training images";
}

/// <summary>What ContraNet measures for a batch: per image d(M(x), M(x′)), SSIM(x, x′), the score and the flag.</summary>
/// <param name="Distance">d(M(x), M(x′)).</param>
/// <param name="Ssim">SSIM(x, x′).</param>
/// <param name="Scores">The rule's score.</param>
/// <param name="Flags">Score &gt; threshold.</param>
public sealed record ContraNetMeasurement(float[] Distance, float[] Ssim, float[] Scores, bool[] Flags);

/// <summary>Distances, SSIM and reconstructions of flat images under given labels, in chunks, without autograd.</summary>
internal static class ContraNetScoring
{
    internal sealed record Result(float[] Distance, float[] Ssim, float[]? Reconstructions);

    internal static Result Measure(ContraNetNetworks networks, float[] pixels, int[] labels, int rows, ImageShape shape, int batchSize, SsimWindow window, bool wantReconstructions)
    {
        var distance = new float[rows];
        var ssim = new float[rows];
        var reconstructions = wantReconstructions ? new float[(long)rows * shape.Size] : null;
        using var _ = torch.no_grad();
        foreach (var (start, count) in DefenseInference.Chunks(rows, batchSize))
        {
            using var scope = torch.NewDisposeScope();
            var x = DefenseInference.Images(pixels, shape, start, count, networks.Device);
            var y = torch.tensor(labels.AsSpan(start, count).ToArray().Select(v => (long)v).ToArray(), [count], device: networks.Device);
            var reconstruction = networks.Reconstruct(x, y);
            networks.MetricDistance(x, reconstruction).cpu().data<float>().CopyTo(distance.AsSpan(start, count));
            Ssim.Compute(reconstruction, x, window).cpu().data<float>().CopyTo(ssim.AsSpan(start, count));
            if (reconstructions is not null)
                reconstruction.cpu().contiguous().data<float>().CopyTo(reconstructions.AsSpan(start * shape.Size, count * shape.Size));
        }
        return new(distance, ssim, reconstructions);
    }
}

/// <summary>
/// A fitted ContraNet detector (Yang et al., Sec. 4, Fig. 3): y′ = argmax of the classifier's Score, x′ = G(μ(x), y′), and the score
/// d(M(x), M(x′)) of the deep metric model (or, with <see cref="ContraNetDetectionRule.MetricOrSsim"/>, max(d/t_d, (1 − SSIM)/t_s)).
/// See <see cref="ContraNetEstimator"/> for the training.
/// </summary>
/// <remarks>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="ContraNetOptions.ImageColumnName"/> (input)</term><description>Single vector [C, H, W] of <see cref="InputShape"/></description></item>
/// <item><term><see cref="ContraNetOptions.ScoreColumnName"/> (input)</term><description>Single vector [K], K = <see cref="ClassCount"/>: the classifier's probabilities (argmax only)</description></item>
/// <item><term><see cref="ContraNetOptions.OutputScoreColumnName"/></term><description>Single: higher = more adversarial</description></item>
/// <item><term><see cref="ContraNetOptions.FlagColumnName"/></term><description>Boolean: score &gt; <see cref="Threshold"/></description></item>
/// <item><term><see cref="ContraNetOptions.ReconstructionColumnName"/> (when set)</term><description>Single vector [C, H, W]: x′</description></item>
/// </list>
/// <para>Inference runs in evaluation mode without autograd, <see cref="ContraNetOptions.InferenceBatchSize"/> rows at a time. The label
/// column is not read. Saving writes the options, <see cref="Info"/> (<c>model.json</c>) and the weights of E, G and M (the discriminator
/// is only used in training, Sec. 4.1).</para>
/// </remarks>
public sealed class ContraNetTransformer : Data.BatchedTransformer, ILoadableComponent<ContraNetTransformer>, IDisposable
{
    /// <summary>The name ML.NET's component catalog finds the loader by (<c>MLNet/LoadableComponents.cs</c>).</summary>
    internal const string LoaderSignature = "MLDefenseContraNet";

    private const string InfoFileName = "model.json";
    private const string EncoderFileName = "encoder.safetensors";
    private const string GeneratorFileName = "generator.safetensors";
    private const string MetricFileName = "metric.safetensors";

    private readonly ContraNetNetworks networks;
    private bool disposed;

    internal ContraNetTransformer(ContraNetOptions options, ContraNetModelInfo info, ContraNetNetworks networks)
    {
        Options = options;
        Info = info;
        this.networks = networks;
        networks.Eval();
    }

    /// <summary>The options the detector was fitted with.</summary>
    public ContraNetOptions Options { get; }

    /// <summary>Shapes, thresholds and what the fit measured.</summary>
    public ContraNetModelInfo Info { get; }

    /// <summary>The image shape fitted on.</summary>
    public ImageShape InputShape => new(Info.Channels, Info.Height, Info.Width);

    /// <summary>K, the classifier's classes.</summary>
    public int ClassCount => Info.ClassCount;

    /// <summary>The score threshold of the rule in effect.</summary>
    public float Threshold => Info.Threshold;

    /// <summary>The device inference runs on.</summary>
    public Device Device => networks.Device;

    /// <summary>
    /// x′ = G(μ(x), y) for images [N, C, H, W] on <see cref="Device"/> and <paramref name="labels"/>: class indices [N] (Int64), or class
    /// weights [N, K] (Float32; a one-hot row is its class, and the conditional batch norms mix the classes' gains and biases by the
    /// weights). Differentiable with respect to the images and the weights (grad mode permitting), for the adaptive attacks of Sec. 6
    /// (<see cref="ContraNetInputAttack"/>, <see cref="ContraNetLatentAttack"/>, <see cref="ContraNetBpdaAttack"/>).
    /// </summary>
    public Tensor Reconstruct(Tensor images, Tensor labels)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckTensors(images, labels, allowWeights: true);
        return networks.Reconstruct(images, labels);
    }

    /// <summary>
    /// The detector's score for images [N, C, H, W] reconstructed under <paramref name="labels"/> (class indices [N], Int64, or class weights
    /// [N, K] as <see cref="Reconstruct"/> takes them) — differentiable with respect to the images (grad mode permitting), for adaptive attacks:
    /// d(M(x), M(G(μ(x), y))) for <see cref="ContraNetDetectionRule.MetricDistance"/>, else max(d/t_d, (1 − SSIM)/t_s). Returns [N].
    /// </summary>
    public Tensor Score(Tensor images, Tensor labels)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckTensors(images, labels, allowWeights: true);
        using var scope = torch.NewDisposeScope();
        var reconstruction = networks.Reconstruct(images, labels);
        return ScoreOf(images, reconstruction).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The rule's score of images [N, C, H, W] against given reconstructions x′ [N, C, H, W] (differentiable): d(M(x), M(x′)), or
    /// max(d/t_d, (1 − SSIM(x′, x))/t_s) for <see cref="ContraNetDetectionRule.MetricOrSsim"/>. The latent attack of Fig. 13 scores
    /// its G(z, y′) with it.
    /// </summary>
    internal Tensor ScoreOf(Tensor images, Tensor reconstruction)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var scope = torch.NewDisposeScope();
        var distance = networks.MetricDistance(images, reconstruction);
        Tensor score = distance;
        if (Options.DetectionRule == ContraNetDetectionRule.MetricOrSsim)
        {
            var dissimilarity = 1 - Ssim.Compute(reconstruction, images, Options.SsimWindow);
            score = torch.maximum(distance / Math.Max(Info.DistanceThreshold, 1e-12f), dissimilarity / Math.Max(Info.SsimDissimilarityThreshold, 1e-12f));
        }
        return score.MoveToOuterDisposeScope();
    }

    /// <summary>The encoder, generator and metric model the detector runs (in evaluation mode), for the adaptive attacks in this folder.</summary>
    internal ContraNetNetworks Networks
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return networks;
        }
    }

    /// <summary>Distance, SSIM, score and flag of images [N, C, H, W] given the classifier's predicted classes [N] (no autograd).</summary>
    public ContraNetMeasurement Measure(Tensor images, Tensor labels)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckTensors(images, labels);
        var pixels = images.to(ScalarType.Float32, CPU).contiguous().data<float>().ToArray();
        var classes = labels.to(ScalarType.Int64, CPU).data<long>().ToArray().Select(v => (int)v).ToArray();
        var m = ContraNetScoring.Measure(networks, pixels, classes, classes.Length, InputShape, Options.InferenceBatchSize, Options.SsimWindow, false);
        var scores = Scores(m.Distance, m.Ssim, Options.DetectionRule, Info);
        return new(m.Distance, m.Ssim, scores, DefenseInference.Flags(scores, Threshold));
    }

    internal static float[] Scores(float[] distance, float[] ssim, ContraNetDetectionRule rule, ContraNetModelInfo info)
    {
        if (rule == ContraNetDetectionRule.MetricDistance) return (float[])distance.Clone();
        // The floor keeps a perfect calibration set (thresholds 0) from dividing by zero.
        float td = MathF.Max(info.DistanceThreshold, 1e-12f), ts = MathF.Max(info.SsimDissimilarityThreshold, 1e-12f);
        var scores = new float[distance.Length];
        for (int i = 0; i < scores.Length; i++) scores[i] = MathF.Max(distance[i] / td, (1f - ssim[i]) / ts);
        return scores;
    }

    /// <summary>Row-wise argmax of flat probabilities of <paramref name="classCount"/> classes (the first maximum wins, as torch's).</summary>
    internal static int[] ArgMax(float[] probabilities, int classCount)
    {
        int rows = probabilities.Length / classCount;
        var result = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = probabilities.AsSpan(r * classCount, classCount);
            int best = 0;
            for (int c = 1; c < classCount; c++) if (row[c] > row[best]) best = c;
            result[r] = best;
        }
        return result;
    }

    private void CheckTensors(Tensor images, Tensor labels, bool allowWeights = false)
    {
        ArgumentNullException.ThrowIfNull(labels);
        DefenseColumns.CheckImageTensor(images, InputShape, "the shape ContraNet was fitted on");
        bool indices = labels.dim() == 1 && labels.size(0) == images.size(0) && labels.dtype == ScalarType.Int64;
        bool weights = allowWeights && labels.dim() == 2 && labels.size(0) == images.size(0) && labels.size(1) == ClassCount && labels.dtype == images.dtype;
        if (!indices && !weights)
            throw new ArgumentException($"Expected one class index per image, Int64 [{images.size(0)}]" +
                (allowWeights ? $", or class weights {images.dtype} [{images.size(0)}, {ClassCount}]" : "") +
                $"; found {labels.dtype} [{string.Join(", ", labels.shape)}].", nameof(labels));
    }

    /// <summary>Maps consecutive rows: [score, flag] and the reconstructions when asked for.</summary>
    internal IReadOnlyList<Array> MapRows(float[] pixels, float[] probabilities, int rows, long firstRow)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        DefenseColumns.CheckFinite(pixels, InputShape.Size, firstRow, Options.ImageColumnName);
        DefenseColumns.CheckFinite(probabilities, ClassCount, firstRow, Options.ScoreColumnName, "probabilities");
        var predicted = ArgMax(probabilities, ClassCount);
        var m = ContraNetScoring.Measure(networks, pixels, predicted, rows, InputShape, Options.InferenceBatchSize, Options.SsimWindow, Options.ReconstructionColumnName is not null);
        var scores = Scores(m.Distance, m.Ssim, Options.DetectionRule, Info);
        var flags = DefenseInference.Flags(scores, Threshold);
        return m.Reconstructions is null ? [scores, flags] : [scores, flags, m.Reconstructions];
    }

    // ML.NET

    /// <summary>The added columns: score (Single), flag (Boolean) and, when asked for, the reconstruction (Single [C, H, W]).</summary>
    internal static ML.DataViewSchema.DetachedColumn[] AddedColumns(ContraNetOptions options, ImageShape? shape)
    {
        var columns = new List<ML.DataViewSchema.DetachedColumn>
        {
            new(options.OutputScoreColumnName, ML.Data.NumberDataViewType.Single),
            new(options.FlagColumnName, ML.Data.BooleanDataViewType.Instance),
        };
        if (options.ReconstructionColumnName is { } name)
            columns.Add(new(name, shape is { } s ? new ML.Data.VectorDataViewType(ML.Data.NumberDataViewType.Single, s.Channels, s.Height, s.Width)
                : new ML.Data.VectorDataViewType(ML.Data.NumberDataViewType.Single, 1)));
        return [.. columns];
    }

    private protected override Data.IRowBatchMapper Mapper(ML.DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ContraNetEstimator.CheckColumns(inputSchema, Options, InputShape, ClassCount);
        return new BatchMapper(this);
    }

    private sealed class BatchMapper(ContraNetTransformer owner) : Data.IRowBatchMapper
    {
        public IReadOnlyList<string> InputColumns => [owner.Options.ImageColumnName, owner.Options.ScoreColumnName];
        public IReadOnlyList<ML.DataViewSchema.DetachedColumn> OutputColumns { get; } = AddedColumns(owner.Options, owner.InputShape);
        public int BatchSize => owner.Options.InferenceBatchSize;
        public IReadOnlyList<Array> MapBatch(Data.RowBatch batch) => owner.MapRows(batch.Get<float>(owner.Options.ImageColumnName),
            batch.Get<float>(owner.Options.ScoreColumnName), batch.RowCount, batch.FirstPosition);
    }

    static ComponentFormat ILoadableComponent<ContraNetTransformer>.Format { get; } = new("MLDCNTRA", 1, LoaderSignature, "ContraNet detector");

    private protected override void SaveModel(ML.ModelSaveContext context)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ComponentWriter.Write<ContraNetTransformer>(context, writer =>
        {
            writer.WriteOptions(Options);
            writer.WriteJson(InfoFileName, Info);
            writer.WriteModule(networks.Encoder, EncoderFileName);
            writer.WriteModule(networks.Generator, GeneratorFileName);
            writer.WriteModule(networks.Metric, MetricFileName);
        });
    }

    static ContraNetTransformer ILoadableComponent<ContraNetTransformer>.Load(ComponentReader reader)
    {
        var options = reader.ReadOptions<ContraNetOptions>();
        var info = reader.ReadJson<ContraNetModelInfo>(InfoFileName);
        var shape = DefenseModelFiles.Check(options, info, ContraNetEstimator.CheckOptions, CheckFitted);
        var networks = new ContraNetNetworks(ContraNetArchitecture.From(options, shape, info.ClassCount), reader.Device, withDiscriminator: false);
        try
        {
            reader.ReadModule(networks.Encoder, EncoderFileName);
            reader.ReadModule(networks.Generator, GeneratorFileName);
            reader.ReadModule(networks.Metric, MetricFileName);
            return new ContraNetTransformer(options, info, networks);
        }
        catch
        {
            networks.Dispose();
            throw;
        }
    }

    private static void CheckFitted(ContraNetOptions o, ContraNetModelInfo info, ImageShape shape)
    {
        if (info.ClassCount < 2) throw new ArgumentException($"the class count {info.ClassCount} is below 2.");
        if (shape.Height < 4 || shape.Width < 4) throw new ArgumentException($"the image shape {shape} is below 4×4.");
        bool Ok(float t) => float.IsFinite(t) || float.IsNegativeInfinity(t);
        if (!Ok(info.DistanceThreshold) || !Ok(info.SsimDissimilarityThreshold))
            throw new ArgumentException($"the thresholds (distance {info.DistanceThreshold}, SSIM {info.SsimDissimilarityThreshold}) are not finite.");
    }

    /// <summary>Frees the networks.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        networks.Dispose();
    }
}

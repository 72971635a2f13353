using MLDefense.Evaluation;
using MLDefense.MLNet;
using ML = Microsoft.ML;
using ImageShape = MLDefense.Data.ImageShape;

namespace MLDefense.Defenses;

/// <summary>
/// What <see cref="CmagEstimator.Fit"/> fixed besides the weights: the shapes, both rules' thresholds (Alg. 2's and the calibrated
/// one) and what they flag on the training and the held-out clean rows. Saved with the model.
/// </summary>
public sealed record CmagModelInfo : IFittedImageDefense
{
    /// <summary>Channels of the images fitted on.</summary>
    public int Channels { get; init; }
    /// <summary>Height of the images fitted on.</summary>
    public int Height { get; init; }
    /// <summary>Width of the images fitted on.</summary>
    public int Width { get; init; }
    /// <summary>C′ of the feature map fitted on.</summary>
    public int FeatureChannels { get; init; }
    /// <summary>H′ of the feature map fitted on.</summary>
    public int FeatureHeight { get; init; }
    /// <summary>W′ of the feature map fitted on.</summary>
    public int FeatureWidth { get; init; }
    /// <summary>K, the length the probabilities column had at Fit.</summary>
    public int ClassCount { get; init; }

    /// <summary>Alg. 2's Thr_SSIM: the smallest SSIM(x, x′) over the training rows.</summary>
    public float SsimThreshold { get; init; }
    /// <summary>Alg. 2's Thr_L2: the largest ‖x − x′‖₂ over the training rows.</summary>
    public float L2Threshold { get; init; }
    /// <summary>The score threshold calibrated on the held-out rows to <see cref="CmagOptions.TargetFalsePositiveRate"/>.</summary>
    public float CalibratedThreshold { get; init; }
    /// <summary>
    /// The score threshold of the rule in effect: 1 with <see cref="CmagDetectionRule.PaperExtremes"/> (score &gt; 1 ⇔ SSIM &lt; Thr_SSIM or
    /// L2 &gt; Thr_L2), <see cref="CalibratedThreshold"/> with <see cref="CmagDetectionRule.CalibratedFalsePositiveRate"/>.
    /// </summary>
    public float Threshold { get; init; }

    /// <summary>Rows the reconstructors trained on (and Alg. 2's thresholds were taken on).</summary>
    public int TrainingImageCount { get; init; }
    /// <summary>Clean rows held out from training (<see cref="CmagOptions.CalibrationFraction"/>).</summary>
    public int CalibrationImageCount { get; init; }

    /// <summary>The share of the training rows Alg. 2's rule flags: 0 by construction.</summary>
    public double PaperRuleTrainingFalsePositiveRate { get; init; }
    /// <summary>The share of the held-out clean rows Alg. 2's rule flags: its false-positive rate on new clean images, estimated.</summary>
    public double PaperRuleCalibrationFalsePositiveRate { get; init; }
    /// <summary>The share of the held-out clean rows the calibrated rule flags (≤ the target).</summary>
    public double CalibratedRuleCalibrationFalsePositiveRate { get; init; }
    /// <summary>The share of the training rows the calibrated rule flags.</summary>
    public double CalibratedRuleTrainingFalsePositiveRate { get; init; }

    /// <summary>Mean SSIM(x, x′) on the training rows (Table 6 reports the smallest, Thr_SSIM).</summary>
    public double TrainingMeanSsim { get; init; }
    /// <summary>Mean ‖x − x′‖₂ on the training rows.</summary>
    public double TrainingMeanL2 { get; init; }
    /// <summary>Mean SSIM(x, x′) on the held-out clean rows.</summary>
    public double CalibrationMeanSsim { get; init; }
    /// <summary>Mean ‖x − x′‖₂ on the held-out clean rows (Table 7's "legitimate" column measures this on test images).</summary>
    public double CalibrationMeanL2 { get; init; }

    /// <summary>Eq. 12 averaged over FMR's last epoch.</summary>
    public double FmrLoss { get; init; }
    /// <summary>Eq. 13 averaged over LR's last epoch.</summary>
    public double LrLoss { get; init; }
    /// <summary>Eq. 14 averaged over GR's last epoch.</summary>
    public double GrLoss { get; init; }

    /// <summary>The seed training used.</summary>
    public int Seed { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"Alg. 2 thresholds SSIM {SsimThreshold:F4}, L2 {L2Threshold:F4} on {TrainingImageCount} training images (mean SSIM {TrainingMeanSsim:F4}, L2 {TrainingMeanL2:F4}): " +
        $"they flag {PaperRuleCalibrationFalsePositiveRate:P2} of {CalibrationImageCount} held-out clean images (mean SSIM {CalibrationMeanSsim:F4}, L2 {CalibrationMeanL2:F4}); " +
        $"calibrated score threshold {CalibratedThreshold:G6} flags {CalibratedRuleCalibrationFalsePositiveRate:P2} of them ({CalibratedRuleTrainingFalsePositiveRate:P2} of the training images); " +
        $"losses FMR {FmrLoss:F4}, LR {LrLoss:F4}, GR {GrLoss:F4}";
}

/// <summary>What CMAG measures for a batch of images: per image SSIM(x, x′), ‖x − x′‖₂, the score and the flag.</summary>
/// <param name="Ssim">SSIM(x, x′).</param>
/// <param name="L2">‖x − x′‖₂.</param>
/// <param name="Scores">max((1 − SSIM)/(1 − Thr_SSIM), L2/Thr_L2).</param>
/// <param name="Flags">The rule in effect.</param>
public sealed record CmagMeasurement(float[] Ssim, float[] L2, float[] Scores, bool[] Flags);

/// <summary>
/// A fitted CMAG detector (Han, Li, Xia, Sec. 3, Fig. 1, Alg. 2): from the classifier's feature map and probabilities it
/// reconstructs the image through FMR, LR and GR, x′ = GR(FMR(f_fm(x)) ⊗ LR(softmax(f(x)/T))), and compares x′ with x by SSIM
/// (Eq. 10) and L2 (Eq. 3). See <see cref="CmagEstimator"/> for the training.
/// </summary>
/// <remarks>
/// <para>Score: s = max((1 − SSIM)/(1 − Thr_SSIM), ‖x − x′‖₂/Thr_L2) — each error relative to Alg. 2's threshold for it, so that
/// s &gt; 1 exactly when Alg. 2 flags (SSIM &lt; Thr_SSIM or L2 &gt; Thr_L2), and one number ranks images for ROC curves. The flag is
/// Alg. 2's rule (<see cref="CmagDetectionRule.PaperExtremes"/>) or s &gt; the calibrated threshold
/// (<see cref="CmagDetectionRule.CalibratedFalsePositiveRate"/>).</para>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="CmagOptions.ImageColumnName"/> (input)</term><description>Single vector [C, H, W] of <see cref="InputShape"/></description></item>
/// <item><term><see cref="CmagOptions.FeatureMapColumnName"/> (input)</term><description>Single vector [C′, H′, W′] of <see cref="FeatureMapShape"/>: the classifier's last convolutional feature map</description></item>
/// <item><term><see cref="CmagOptions.ProbabilitiesColumnName"/> (input)</term><description>Single vector [K], K = <see cref="ClassCount"/>: the classifier's probabilities</description></item>
/// <item><term><see cref="CmagOptions.SsimColumnName"/></term><description>Single: SSIM(x, x′)</description></item>
/// <item><term><see cref="CmagOptions.L2ColumnName"/></term><description>Single: ‖x − x′‖₂</description></item>
/// <item><term><see cref="CmagOptions.ScoreColumnName"/></term><description>Single: s above, higher = more adversarial</description></item>
/// <item><term><see cref="CmagOptions.FlagColumnName"/></term><description>Boolean: detected as adversarial</description></item>
/// <item><term><see cref="CmagOptions.ReconstructionColumnName"/> (when set)</term><description>Single vector [C, H, W]: x′, "what the model sees"</description></item>
/// </list>
/// <para>Inference runs in evaluation mode without autograd, <see cref="CmagOptions.InferenceBatchSize"/> rows at a time on
/// <see cref="Device"/>. Saving writes the options, <see cref="Info"/> (<c>model.json</c>) and the weights of FMR, LR and GR
/// (<c>fmr.safetensors</c>, <c>lr.safetensors</c>, <c>gr.safetensors</c>, each with its SHA-256).</para>
/// </remarks>
public sealed class CmagTransformer : Data.BatchedTransformer, ILoadableComponent<CmagTransformer>, IDisposable
{
    /// <summary>The name ML.NET's component catalog finds the loader by (<c>MLNet/LoadableComponents.cs</c>).</summary>
    internal const string LoaderSignature = "MLDefenseCmag";

    private const string InfoFileName = "model.json";
    private const string FmrFileName = "fmr.safetensors";
    private const string LrFileName = "lr.safetensors";
    private const string GrFileName = "gr.safetensors";

    private readonly CmagNetworks networks;
    private bool disposed;

    internal CmagTransformer(CmagOptions options, CmagModelInfo info, CmagNetworks networks)
    {
        Options = options;
        Info = info;
        this.networks = networks;
        networks.Eval();
    }

    /// <summary>The options the detector was fitted with.</summary>
    public CmagOptions Options { get; }

    /// <summary>Shapes, thresholds and what they flag.</summary>
    public CmagModelInfo Info { get; }

    /// <summary>The image shape fitted on.</summary>
    public ImageShape InputShape => new(Info.Channels, Info.Height, Info.Width);

    /// <summary>The feature-map shape [C′, H′, W′] fitted on.</summary>
    public IReadOnlyList<int> FeatureMapShape => [Info.FeatureChannels, Info.FeatureHeight, Info.FeatureWidth];

    /// <summary>K, the probabilities' length fitted on.</summary>
    public int ClassCount => Info.ClassCount;

    /// <summary>The score threshold of the rule in effect (see <see cref="CmagModelInfo.Threshold"/>).</summary>
    public float Threshold => Info.Threshold;

    /// <summary>The device inference runs on.</summary>
    public Device Device => networks.Device;

    /// <summary>
    /// x′ = GR(FMR(featureMaps) ⊗ LR(softmax(log probabilities / T))) for [N, C′, H′, W′] feature maps and [N, K] probabilities on
    /// <see cref="Device"/>: [N, C, H, W]. Differentiable with respect to its inputs (grad mode permitting), for defense-aware attacks.
    /// </summary>
    public Tensor Reconstruct(Tensor featureMaps, Tensor probabilities)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckTensors(null, featureMaps, probabilities);
        return networks.Reconstruct(featureMaps, probabilities, Options.Temperature);
    }

    /// <summary>SSIM, L2, score and flag of images [N, C, H, W] given the classifier's feature maps and probabilities for them (no autograd).</summary>
    public CmagMeasurement Measure(Tensor images, Tensor featureMaps, Tensor probabilities)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckTensors(images, featureMaps, probabilities);
        int rows = (int)images.size(0);
        var ssim = new float[rows];
        var l2 = new float[rows];
        using (torch.no_grad())
        {
            for (int start = 0; start < rows; start += Options.InferenceBatchSize)
            {
                using var scope = torch.NewDisposeScope();
                int count = Math.Min(Options.InferenceBatchSize, rows - start);
                var x = images.narrow(0, start, count).to(ScalarType.Float32, Device);
                var reconstruction = networks.Reconstruct(featureMaps.narrow(0, start, count).to(ScalarType.Float32, Device),
                    probabilities.narrow(0, start, count).to(ScalarType.Float32, Device), Options.Temperature);
                Ssim.Compute(reconstruction, x, Options.SsimWindow).cpu().data<float>().CopyTo(ssim.AsSpan(start, count));
                CmagNetworks.L2(x, reconstruction).cpu().data<float>().CopyTo(l2.AsSpan(start, count));
            }
        }
        return Decide(ssim, l2);
    }

    /// <summary>The score and flag from SSIM and L2 (see the class remarks).</summary>
    internal CmagMeasurement Decide(float[] ssim, float[] l2) =>
        Decide(ssim, l2, Info.SsimThreshold, Info.L2Threshold, Options.DetectionRule, Info.CalibratedThreshold);

    internal static CmagMeasurement Decide(float[] ssim, float[] l2, float ssimThreshold, float l2Threshold, CmagDetectionRule rule, float calibratedThreshold)
    {
        var scores = Scores(ssim, l2, ssimThreshold, l2Threshold);
        var flags = new bool[ssim.Length];
        for (int i = 0; i < flags.Length; i++)
            flags[i] = rule == CmagDetectionRule.PaperExtremes
                ? ssim[i] < ssimThreshold || l2[i] > l2Threshold
                : ThresholdCalibration.IsFlagged(scores[i], calibratedThreshold);
        return new(ssim, l2, scores, flags);
    }

    internal static float[] Scores(float[] ssim, float[] l2, float ssimThreshold, float l2Threshold)
    {
        // The floor keeps a perfect reconstruction's thresholds (Thr_SSIM = 1, Thr_L2 = 0) from dividing by zero.
        float ssimDenominator = MathF.Max(1f - ssimThreshold, 1e-12f), l2Denominator = MathF.Max(l2Threshold, 1e-12f);
        var scores = new float[ssim.Length];
        for (int i = 0; i < scores.Length; i++) scores[i] = MathF.Max((1f - ssim[i]) / ssimDenominator, l2[i] / l2Denominator);
        return scores;
    }

    private void CheckTensors(Tensor? images, Tensor featureMaps, Tensor probabilities)
    {
        ArgumentNullException.ThrowIfNull(featureMaps);
        ArgumentNullException.ThrowIfNull(probabilities);
        long n = featureMaps.size(0);
        var fm = featureMaps.shape;
        if (fm.Length != 4 || fm[1] != Info.FeatureChannels || fm[2] != Info.FeatureHeight || fm[3] != Info.FeatureWidth)
            throw new ArgumentException($"Expected feature maps [N, {Info.FeatureChannels}, {Info.FeatureHeight}, {Info.FeatureWidth}] (the shape CMAG was fitted on); found [{string.Join(", ", fm)}].", nameof(featureMaps));
        if (probabilities.dim() != 2 || probabilities.size(0) != n || probabilities.size(1) != ClassCount)
            throw new ArgumentException($"Expected probabilities [{n}, {ClassCount}] (the class count CMAG was fitted on); found [{string.Join(", ", probabilities.shape)}].", nameof(probabilities));
        if (images is not null)
        {
            DefenseColumns.CheckImageTensor(images, InputShape, "the shape CMAG was fitted on");
            if (images.size(0) != n) throw new ArgumentException($"Expected {n} images, one per feature map; found {images.size(0)}.", nameof(images));
        }
    }

    /// <summary>Maps consecutive rows: [ssim, l2, score, flag] and the reconstructions when asked for.</summary>
    internal IReadOnlyList<Array> MapRows(float[] pixels, float[] featureMaps, float[] probabilities, int rows, long firstRow)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var shape = InputShape;
        int featureSize = Info.FeatureChannels * Info.FeatureHeight * Info.FeatureWidth, k = ClassCount;
        DefenseColumns.CheckFinite(pixels, shape.Size, firstRow, Options.ImageColumnName);
        DefenseColumns.CheckFinite(featureMaps, featureSize, firstRow, Options.FeatureMapColumnName, "feature-map values");
        DefenseColumns.CheckFinite(probabilities, k, firstRow, Options.ProbabilitiesColumnName, "probabilities");
        bool wantReconstruction = Options.ReconstructionColumnName is not null;
        var ssim = new float[rows];
        var l2 = new float[rows];
        var reconstructions = wantReconstruction ? new float[(long)rows * shape.Size] : null;
        using (torch.no_grad())
        {
            for (int start = 0; start < rows; start += Options.InferenceBatchSize)
            {
                using var scope = torch.NewDisposeScope();
                int count = Math.Min(Options.InferenceBatchSize, rows - start);
                var x = TensorData.FromSpan(pixels.AsSpan(start * shape.Size, count * shape.Size), [count, shape.Channels, shape.Height, shape.Width], Device);
                var fm = TensorData.FromSpan(featureMaps.AsSpan(start * featureSize, count * featureSize), [count, Info.FeatureChannels, Info.FeatureHeight, Info.FeatureWidth], Device);
                var p = TensorData.FromSpan(probabilities.AsSpan(start * k, count * k), [count, k], Device);
                var reconstruction = networks.Reconstruct(fm, p, Options.Temperature);
                Ssim.Compute(reconstruction, x, Options.SsimWindow).cpu().data<float>().CopyTo(ssim.AsSpan(start, count));
                CmagNetworks.L2(x, reconstruction).cpu().data<float>().CopyTo(l2.AsSpan(start, count));
                if (reconstructions is not null)
                    reconstruction.cpu().contiguous().data<float>().CopyTo(reconstructions.AsSpan(start * shape.Size, count * shape.Size));
            }
        }
        var m = Decide(ssim, l2);
        return reconstructions is null ? [m.Ssim, m.L2, m.Scores, m.Flags] : [m.Ssim, m.L2, m.Scores, m.Flags, reconstructions];
    }

    // ML.NET

    /// <summary>The added columns: SSIM, L2, score (Single), flag (Boolean) and, when asked for, the reconstruction (Single [C, H, W]).</summary>
    internal static ML.DataViewSchema.DetachedColumn[] AddedColumns(CmagOptions options, ImageShape? shape)
    {
        var columns = new List<ML.DataViewSchema.DetachedColumn>
        {
            new(options.SsimColumnName, ML.Data.NumberDataViewType.Single),
            new(options.L2ColumnName, ML.Data.NumberDataViewType.Single),
            new(options.ScoreColumnName, ML.Data.NumberDataViewType.Single),
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
        CmagEstimator.CheckColumns(inputSchema, Options, InputShape, FeatureMapShape, ClassCount);
        return new BatchMapper(this);
    }

    private sealed class BatchMapper(CmagTransformer owner) : Data.IRowBatchMapper
    {
        public IReadOnlyList<string> InputColumns => [owner.Options.ImageColumnName, owner.Options.FeatureMapColumnName, owner.Options.ProbabilitiesColumnName];
        public IReadOnlyList<ML.DataViewSchema.DetachedColumn> OutputColumns { get; } = AddedColumns(owner.Options, owner.InputShape);
        public int BatchSize => owner.Options.InferenceBatchSize;
        public IReadOnlyList<Array> MapBatch(Data.RowBatch batch) => owner.MapRows(batch.Get<float>(owner.Options.ImageColumnName),
            batch.Get<float>(owner.Options.FeatureMapColumnName), batch.Get<float>(owner.Options.ProbabilitiesColumnName), batch.RowCount, batch.FirstPosition);
    }

    static ComponentFormat ILoadableComponent<CmagTransformer>.Format { get; } = new("MLDCMAG.", 1, LoaderSignature, "CMAG detector");

    private protected override void SaveModel(ML.ModelSaveContext context)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ComponentWriter.Write<CmagTransformer>(context, writer =>
        {
            writer.WriteOptions(Options);
            writer.WriteJson(InfoFileName, Info);
            writer.WriteModule(networks.Fmr, FmrFileName);
            writer.WriteModule(networks.Lr, LrFileName);
            writer.WriteModule(networks.Gr, GrFileName);
        });
    }

    static CmagTransformer ILoadableComponent<CmagTransformer>.Load(ComponentReader reader)
    {
        var options = reader.ReadOptions<CmagOptions>();
        var info = reader.ReadJson<CmagModelInfo>(InfoFileName);
        var shape = DefenseModelFiles.Check(options, info, CmagEstimator.CheckOptions, CheckFitted);
        var networks = new CmagNetworks(CmagArchitecture.From(options, shape, [info.FeatureChannels, info.FeatureHeight, info.FeatureWidth], info.ClassCount), reader.Device);
        try
        {
            reader.ReadModule(networks.Fmr, FmrFileName);
            reader.ReadModule(networks.Lr, LrFileName);
            reader.ReadModule(networks.Gr, GrFileName);
            return new CmagTransformer(options, info, networks);
        }
        catch
        {
            networks.Dispose();
            throw;
        }
    }

    /// <summary>What a loaded model must satisfy besides its options.</summary>
    private static void CheckFitted(CmagOptions o, CmagModelInfo info, ImageShape shape)
    {
        if (info.FeatureChannels < 1 || info.FeatureHeight < 1 || info.FeatureWidth < 1)
            throw new ArgumentException($"the feature map {info.FeatureChannels}x{info.FeatureHeight}x{info.FeatureWidth} is impossible.");
        if (info.ClassCount < 2) throw new ArgumentException($"the class count {info.ClassCount} is below 2.");
        if (!float.IsFinite(info.SsimThreshold) || !float.IsFinite(info.L2Threshold) || !float.IsFinite(info.CalibratedThreshold) && !float.IsNegativeInfinity(info.CalibratedThreshold))
            throw new ArgumentException($"the thresholds (SSIM {info.SsimThreshold}, L2 {info.L2Threshold}, calibrated {info.CalibratedThreshold}) are not finite.");
    }

    /// <summary>Frees the three networks.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        networks.Dispose();
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using MLDefense.Evaluation;
using ML = Microsoft.ML;
using ImageShape = MLDefense.Data.ImageShape;

namespace MLDefense.Defenses;

/// <summary>
/// CMAG, the cascade model-aware generative detector: Han, Li, Xia, "A Cascade Model-Aware Generative Adversarial Example Detection
/// Method", Tsinghua Science and Technology 26(6), 2021, Sec. 3 and 4.1. It reconstructs the input from what the target classifier
/// makes of it — its last convolutional feature map and its (temperature) softmax — and flags inputs whose reconstruction is far
/// from them. It trains on clean images only.
/// </summary>
/// <remarks>
/// <para>Fit, on clean images with the classifier's feature map f_fm(x) and probabilities softmax(f(x)) (the classifier is frozen:
/// CMAG only reads its columns):</para>
/// <list type="number">
/// <item><description>Holds out <see cref="CmagOptions.CalibrationFraction"/> of the rows (at random, with the seed); nothing trains on them.</description></item>
/// <item><description>Alg. 1, first stage, <see cref="CmagOptions.ReconstructorEpochs"/> epochs: FMR (Sec. 3.1) learns x from f_fm(x) on
/// Eq. 12, ℓ_fmr = μ_fmr·‖FMR(f_fm(x)) − x‖² + (1 − μ_fmr)·(1 − SSIM(FMR(f_fm(x)), x)), and LR (Sec. 3.2) learns x from the distillation
/// softmax softmax(f(x)/T) (Eq. 5) on Eq. 13, the same form; each with its own Adam (lr 1e-3), on the same minibatches of 2000.</description></item>
/// <item><description>Alg. 1 proper, <see cref="CmagOptions.GlobalReconstructorEpochs"/> epochs: FMR and LR frozen, GR (Sec. 3.3) learns x from
/// h(x) = FMR(f_fm(x)) ⊗ LR(softmax(f(x)/T)) (the Hadamard product, Fig. 1) on Eq. 14, ℓ_gr = μ_gr·‖x′ − x‖² + (1 − μ_gr)·(1 − SSIM(x′, x)),
/// x′ = GR(h(x)), with Adam (lr 1e-3).</description></item>
/// <item><description>Alg. 2: over the training rows, Thr_SSIM = min SSIM(x, x′) and Thr_L2 = max ‖x − x′‖₂ (Eq. 10, Eq. 3), computed
/// <see cref="CmagOptions.InferenceBatchSize"/> rows at a time as Transform does. On the held-out rows, the score
/// (<see cref="CmagTransformer"/>) is calibrated to <see cref="CmagOptions.TargetFalsePositiveRate"/>
/// (<see cref="ThresholdCalibration.ForFalsePositiveRate"/>), and both rules' false-positive rates are recorded in
/// <see cref="CmagModelInfo"/> — Alg. 2's rule flags no training image by construction, but an unknown share of new clean ones.</description></item>
/// </list>
/// <para>Networks (the paper gives no layer tables; widths are options): FMR = Conv 3×3 (C′ → 32) – ReLU – bilinear resize to H×W –
/// Conv 3×3 (32 → 32) – ReLU – Conv 3×3 (32 → C) – sigmoid; LR = FC (K → 512) – ReLU – FC (512 → 512) – ReLU – FC (512 → C·H·W) –
/// sigmoid; GR = Conv 3×3 (C → 32) – ReLU – Conv 3×3 stride 2 (32 → 64) – ReLU – bilinear resize to H×W – Conv 3×3 (64 → 32) – ReLU –
/// Conv 3×3 (32 → C) – sigmoid. Sigmoid outputs keep every reconstruction in [0, 1] like the images, so the product h(x) is too.</para>
/// <para>Departures, and why: (a) Eq. 12–14 print the SSIM term as SSIM itself, which a minimiser would drive down; a loss must fall
/// as SSIM rises, so the term is 1 − SSIM (Zhao et al.'s form, the paper's Ref. [35]). (b) The squared norm is averaged over the
/// image's N values (mean squared error) rather than summed, so that both terms have comparable scales and μ = 0.5 balances them,
/// as in Zhao et al.'s mixed loss whose μ the paper adopts; the printed sum would weigh the L2 term N times more. (c) SSIM is
/// the windowed SSIM index of the paper's Ref. [33] (<see cref="SsimWindow.Gaussian"/>, see <see cref="CmagOptions.SsimWindow"/> for why;
/// Eq. 6–10 over the whole image is <see cref="SsimWindow.Global"/>); see <see cref="Ssim"/> for the printed typos of Eq. 7 and 9.
/// (d) The paper gives no epoch counts: 50 per stage by default. (e) LR reads the classifier's probabilities and applies T itself: softmax(z/T) = softmax(log softmax(z) / T). (f) The held-out calibration rows are the project's
/// (DESIGN.md); the paper takes its thresholds on the whole training set.</para>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="CmagOptions.ImageColumnName"/> (input)</term><description>Single vector [C, H, W], values in [0, 1]</description></item>
/// <item><term><see cref="CmagOptions.FeatureMapColumnName"/> (input)</term><description>Single vector [C′, H′, W′]: the classifier's last convolutional feature map
/// (MLDefense's image classifier with <see cref="Classifiers.ImageClassifierOptions.FeatureMapColumnName"/> set)</description></item>
/// <item><term><see cref="CmagOptions.ProbabilitiesColumnName"/> (input)</term><description>Single vector [K]: the classifier's softmax probabilities (<c>Score</c>)</description></item>
/// <item><term><see cref="CmagOptions.SsimColumnName"/>, <see cref="CmagOptions.L2ColumnName"/>, <see cref="CmagOptions.ScoreColumnName"/> (output)</term><description>Single each</description></item>
/// <item><term><see cref="CmagOptions.FlagColumnName"/> (output)</term><description>Boolean: detected as adversarial</description></item>
/// <item><term><see cref="CmagOptions.ReconstructionColumnName"/> (output, optional)</term><description>Single vector [C, H, W]: x′</description></item>
/// </list>
/// <para>Bad input: a missing image, feature-map or probabilities column, or one of the wrong type, fails in GetOutputSchema and Fit —
/// a missing feature map with a message saying what CMAG needs (ONNX models and ML.NET's own trainers emit none); pixels outside
/// [0, 1], non-finite values and fewer than <see cref="MinimumTrainingImages"/> rows fail in Fit. The fitted transformer rejects
/// images of another size, a feature map of another shape and probabilities of another length than at Fit. Progress goes to
/// <see cref="CmagOptions.Progress"/> and the context's log; <see cref="CmagOptions.CancellationToken"/> stops Fit (with
/// <see cref="CmagOptions.CheckpointPath"/> the next Fit resumes after the last completed epoch, bit for bit on the CPU). The seed is
/// applied with <c>torch.manual_seed</c> (libtorch's global generator).</para>
/// </remarks>
public sealed class CmagEstimator : DefenseEstimator<CmagOptions, CmagTransformer>
{
    /// <summary>Below this many rows Fit throws: thresholds and calibration would rest on a handful of images.</summary>
    public const int MinimumTrainingImages = 20;

    internal const string LogSource = "CMAG";

    /// <summary>Creates the estimator in an ML.NET environment (<c>ml.Transforms.Defenses.Cmag</c> calls this).</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public CmagEstimator(ML.Runtime.IHostEnvironment environment, CmagOptions options) : base(environment, LogSource, options, CheckOptions)
    {
    }

    internal static void CheckOptions(CmagOptions o)
    {
        var rules = new OptionRules(nameof(CmagOptions));
        static bool Positive(double v) => v > 0 && double.IsFinite(v);
        rules.Require(o.CheckpointPath is null || !string.IsNullOrWhiteSpace(o.CheckpointPath), nameof(o.CheckpointPath), o.CheckpointPath, "must be a file path (or null for no checkpoint)");
        rules.Require(Positive(o.Temperature), nameof(o.Temperature), o.Temperature, "(T of Eq. 5) must be finite and positive");
        rules.Require(o.FmrMu is >= 0 and <= 1, nameof(o.FmrMu), o.FmrMu, "must be in [0, 1]");
        rules.Require(o.LrMu is >= 0 and <= 1, nameof(o.LrMu), o.LrMu, "must be in [0, 1]");
        rules.Require(o.GrMu is >= 0 and <= 1, nameof(o.GrMu), o.GrMu, "must be in [0, 1]");
        rules.Require(Enum.IsDefined(o.SsimWindow), nameof(o.SsimWindow), o.SsimWindow, "must be a known window");
        rules.Require(Enum.IsDefined(o.DetectionRule), nameof(o.DetectionRule), o.DetectionRule, "must be a known rule");
        rules.Require(o.FmrChannels >= 1, nameof(o.FmrChannels), o.FmrChannels, "must be at least 1");
        rules.Require(o.LrHiddenUnits >= 1, nameof(o.LrHiddenUnits), o.LrHiddenUnits, "must be at least 1");
        rules.Require(o.GrChannels >= 1, nameof(o.GrChannels), o.GrChannels, "must be at least 1");
        rules.Require(o.ReconstructorEpochs >= 0, nameof(o.ReconstructorEpochs), o.ReconstructorEpochs, "must be ≥ 0");
        rules.Require(o.GlobalReconstructorEpochs >= 0, nameof(o.GlobalReconstructorEpochs), o.GlobalReconstructorEpochs, "must be ≥ 0");
        rules.Require(o.BatchSize >= 1, nameof(o.BatchSize), o.BatchSize, "must be at least 1");
        rules.Require(o.InferenceBatchSize >= 1, nameof(o.InferenceBatchSize), o.InferenceBatchSize, "must be at least 1");
        rules.Require(Positive(o.LearningRate), nameof(o.LearningRate), o.LearningRate, "must be finite and positive");
        rules.Require(o.TargetFalsePositiveRate is >= 0 and < 1, nameof(o.TargetFalsePositiveRate), o.TargetFalsePositiveRate, "(a target false-positive rate) must be in [0, 1)");
        rules.Require(o.CalibrationFraction is > 0 and <= 0.5, nameof(o.CalibrationFraction), o.CalibrationFraction, "(the share of rows held out for calibration) must be in (0, 0.5]");
        var outputs = new List<(string, string)> { ("SSIM", o.SsimColumnName), ("L2", o.L2ColumnName), ("score", o.ScoreColumnName), ("flag", o.FlagColumnName) };
        if (o.ReconstructionColumnName is not null) outputs.Add(("reconstruction", o.ReconstructionColumnName));
        OptionRules.RequireColumnNames("CMAG", [o.ImageColumnName, o.FeatureMapColumnName, o.ProbabilitiesColumnName], [.. outputs]);
    }

    /// <summary>What CMAG needs of the feature-map column, for messages.</summary>
    internal const string FeatureMapNeeded =
        "CMAG needs the target classifier's last convolutional feature map as a Single vector [C′, H′, W′]: train MLDefense's image classifier with " +
        "ImageClassifierOptions.FeatureMapColumnName set (e.g. \"FeatureMap\"; a custom module must be a FeatureMapClassifier). ONNX models (ApplyOnnxModel) " +
        "and ML.NET's own trainers emit no feature map";

    /// <summary>
    /// The columns the fitted transformer adds. A schema shape has no vector dimensions: this checks that the image, the feature map
    /// and the probabilities are Single vectors; their shapes are checked by Fit and Transform.
    /// </summary>
    /// <exception cref="ArgumentException">A column is missing or of the wrong type (the message names it and what CMAG needs).</exception>
    public override ML.SchemaShape GetOutputSchema(ML.SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        Data.ImageColumns.Check(inputSchema, Options.ImageColumnName, "the image CMAG reconstructs");
        string fm = Options.FeatureMapColumnName;
        var found = inputSchema.Where(c => c.Name == fm).ToArray();
        if (found.Length == 0)
            throw new ArgumentException($"Column '{fm}' (the classifier's feature map) was not found. {FeatureMapNeeded}. The schema has: {string.Join(", ", inputSchema.Select(c => c.Name))}.");
        if (found[0].Kind != ML.SchemaShape.Column.VectorKind.Vector || found[0].ItemType != ML.Data.NumberDataViewType.Single)
            throw new ArgumentException($"Column '{fm}' (the classifier's feature map): found {found[0].Kind} of {found[0].ItemType}. {FeatureMapNeeded}.");
        string p = Options.ProbabilitiesColumnName;
        var probabilities = inputSchema.Where(c => c.Name == p).ToArray();
        if (probabilities.Length == 0 || probabilities[0].Kind != ML.SchemaShape.Column.VectorKind.Vector || probabilities[0].ItemType != ML.Data.NumberDataViewType.Single)
            throw new ArgumentException($"Column '{p}' (the target model's probabilities): expected a Single vector [K] of class probabilities, e.g. a classifier's Score; " +
                (probabilities.Length == 0 ? $"it was not found. The schema has: {string.Join(", ", inputSchema.Select(c => c.Name))}." : $"found {probabilities[0].Kind} of {probabilities[0].ItemType}."));
        var added = CmagTransformer.AddedColumns(Options, null).Select(c => MLNet.SchemaShapes.Of(c.Name, c.Type));
        return MLNet.SchemaShapes.Append(inputSchema, added);
    }

    /// <summary>
    /// Checks the three input columns — against the fitted shapes and class count when given — and returns the image shape, the
    /// feature-map shape and K. Messages name the column, what was expected and what was found.
    /// </summary>
    internal static (ImageShape Image, int[] FeatureMap, int ClassCount) CheckColumns(ML.DataViewSchema schema, CmagOptions o, ImageShape? fittedImage,
        IReadOnlyList<int>? fittedFeatureMap, int? fittedClassCount)
    {
        var image = Data.ImageColumns.Check(schema, o.ImageColumnName, fittedImage, "the image CMAG reconstructs", "the shape CMAG was fitted on");
        string fm = o.FeatureMapColumnName;
        var column = schema.GetColumnOrNull(fm) ?? throw new ArgumentException(
            $"Column '{fm}' (the classifier's feature map) was not found. {FeatureMapNeeded}. The schema has: {string.Join(", ", schema.Select(c => c.Name))}.");
        if (column.Type is not ML.Data.VectorDataViewType { IsKnownSize: true, ItemType: var item } vector || item != ML.Data.NumberDataViewType.Single || vector.Dimensions.Length != 3)
            throw new ArgumentException($"Column '{fm}' (the classifier's feature map): found {column.Type}" +
                (column.Type is ML.Data.VectorDataViewType v ? $" of dimensions [{string.Join(", ", v.Dimensions.ToArray())}]" : "") + $". {FeatureMapNeeded}.");
        int[] featureMap = [.. vector.Dimensions];
        if (fittedFeatureMap is not null && !featureMap.SequenceEqual(fittedFeatureMap))
            throw new ArgumentException($"Column '{fm}' (the classifier's feature map): expected [{string.Join(", ", fittedFeatureMap)}] (the shape CMAG was fitted on), " +
                $"found [{string.Join(", ", featureMap)}]: CMAG's reconstructors belong to the classifier they were fitted with.");
        int classCount;
        try
        {
            classCount = Data.ProbabilityColumns.Check(schema, o.ProbabilitiesColumnName, fittedClassCount);
        }
        catch (ArgumentException ex) when (fittedClassCount is { } k)
        {
            throw new ArgumentException($"{ex.Message.TrimEnd('.')} (CMAG was fitted on {k} classes).", ex);
        }
        return (image, featureMap, classCount);
    }

    /// <summary>Checks the data, holds out the calibration rows, trains FMR and LR then GR (Alg. 1), and sets both rules' thresholds (Alg. 2).</summary>
    /// <exception cref="ArgumentException">Bad input (the message names the column, the expectation and what was found).</exception>
    /// <exception cref="OperationCanceledException"><see cref="CmagOptions.CancellationToken"/> was cancelled.</exception>
    public override CmagTransformer Fit(ML.IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var (shape, featureMap, classCount) = CheckColumns(input.Schema, Options, null, null, null);
        if (Options.SsimWindow == SsimWindow.Gaussian && (shape.Height < Ssim.GaussianWindowSize || shape.Width < Ssim.GaussianWindowSize))
            throw new ArgumentException($"Column '{Options.ImageColumnName}': SSIM's {Ssim.GaussianWindowSize}×{Ssim.GaussianWindowSize} Gaussian window does not fit {shape} images; " +
                "use CmagOptions.SsimWindow = SsimWindow.Global for images this small.");
        var token = Options.CancellationToken;
        token.ThrowIfCancellationRequested();
        if (input.GetRowCount() is { } known && known < MinimumTrainingImages) throw TooFewRows(known);
        var data = Read(input, shape, featureMap, classCount, token);
        return FitCore(shape, featureMap, classCount, data, token);
    }

    private ArgumentException TooFewRows(long count) => new(
        $"Column '{Options.ImageColumnName}': CMAG trains on clean images, takes its thresholds on them and calibrates on a share held out, and needs at least {MinimumTrainingImages} of them; found {count}.");

    private sealed record Rows(float[] Pixels, float[] FeatureMaps, float[] Probabilities, int Count);

    private Rows Read(ML.IDataView input, ImageShape shape, int[] featureMap, int classCount, CancellationToken token)
    {
        string imageName = Options.ImageColumnName, fmName = Options.FeatureMapColumnName, pName = Options.ProbabilitiesColumnName;
        int featureSize = featureMap[0] * featureMap[1] * featureMap[2];
        var pixels = new List<float[]>();
        var features = new List<float[]>();
        var probabilities = new List<float[]>();
        long rows = 0;
        foreach (var batch in Data.DataViewBatches.Read(input, [imageName, fmName, pName], 2048, token))
        {
            var x = batch.Get<float>(imageName);
            var fm = batch.Get<float>(fmName);
            var p = batch.Get<float>(pName);
            Data.ImageColumns.CheckPixelRange(x, shape.Size, rows, imageName);
            DefenseColumns.CheckFinite(fm, featureSize, rows, fmName, "feature-map values");
            DefenseColumns.CheckFinite(p, classCount, rows, pName, "probabilities");
            pixels.Add(x);
            features.Add(fm);
            probabilities.Add(p);
            rows += batch.RowCount;
        }
        if (rows < MinimumTrainingImages) throw TooFewRows(rows);
        if (rows * Math.Max(shape.Size, featureSize) > Array.MaxLength)
            throw new ArgumentException($"Column '{imageName}': {rows} rows of {shape} images and [{string.Join(", ", featureMap)}] feature maps do not fit in one array; fit on a subset.");
        return new([.. pixels.SelectMany(a => a)], [.. features.SelectMany(a => a)], [.. probabilities.SelectMany(a => a)], (int)rows);
    }

    private static float[] Select(float[] values, int[] rows, int size)
    {
        var selected = new float[(long)rows.Length * size];
        for (int i = 0; i < rows.Length; i++) Array.Copy(values, (long)rows[i] * size, selected, (long)i * size, size);
        return selected;
    }

    private CmagTransformer FitCore(ImageShape shape, int[] featureMap, int classCount, Rows data, CancellationToken token)
    {
        int seed = Options.Seed ?? Fitting.NextSeed();
        int featureSize = featureMap[0] * featureMap[1] * featureMap[2];
        var (trainRows, calibrationRows) = MiaedEstimator.SplitCalibration(data.Count, Options.CalibrationFraction, seed);
        var device = Fitting.Device;
        var train = new Rows(Select(data.Pixels, trainRows, shape.Size), Select(data.FeatureMaps, trainRows, featureSize),
            Select(data.Probabilities, trainRows, classCount), trainRows.Length);
        var calibration = new Rows(Select(data.Pixels, calibrationRows, shape.Size), Select(data.FeatureMaps, calibrationRows, featureSize),
            Select(data.Probabilities, calibrationRows, classCount), calibrationRows.Length);
        Fitting.Log(LogSource, $"{data.Count} rows: {train.Count} train FMR, LR and GR and give Alg. 2's thresholds, {calibration.Count} are held out to calibrate");

        torch.manual_seed((uint)seed);
        var architecture = CmagArchitecture.From(Options, shape, featureMap, classCount);
        var networks = new CmagNetworks(architecture, device);
        try
        {
            long[] imageDims = [shape.Channels, shape.Height, shape.Width], featureDims = [featureMap[0], featureMap[1], featureMap[2]];
            using var images = torch.tensor(train.Pixels, [train.Count, .. imageDims], device: device);
            using var featureMaps = torch.tensor(train.FeatureMaps, [train.Count, .. featureDims], device: device);
            using var probabilities = torch.tensor(train.Probabilities, [train.Count, classCount], device: device);
            using var softened = CmagNetworks.TemperatureSoftmax(probabilities, Options.Temperature);
            var checkpoint = TrainingCheckpoint.Create(Options.CheckpointPath, "CMAG", shape, train.Pixels, train.Count, seed, device, CheckpointSettings(architecture));
            var losses = Train(networks, images, featureMaps, softened, checkpoint, token);

            networks.Eval();
            var onTraining = Measure(networks, train, shape, featureDims, classCount);
            var onCalibration = Measure(networks, calibration, shape, featureDims, classCount);
            float ssimThreshold = onTraining.Ssim.Min(), l2Threshold = onTraining.L2.Max();
            var trainingScores = CmagTransformer.Scores(onTraining.Ssim, onTraining.L2, ssimThreshold, l2Threshold);
            var calibrationScores = CmagTransformer.Scores(onCalibration.Ssim, onCalibration.L2, ssimThreshold, l2Threshold);
            float calibrated = (float)ThresholdCalibration.ForFalsePositiveRate(calibrationScores, Options.TargetFalsePositiveRate);
            var paperOnTraining = CmagTransformer.Decide(onTraining.Ssim, onTraining.L2, ssimThreshold, l2Threshold, CmagDetectionRule.PaperExtremes, calibrated);
            var paperOnCalibration = CmagTransformer.Decide(onCalibration.Ssim, onCalibration.L2, ssimThreshold, l2Threshold, CmagDetectionRule.PaperExtremes, calibrated);
            var info = new CmagModelInfo
            {
                Channels = shape.Channels, Height = shape.Height, Width = shape.Width,
                FeatureChannels = featureMap[0], FeatureHeight = featureMap[1], FeatureWidth = featureMap[2],
                ClassCount = classCount,
                SsimThreshold = ssimThreshold,
                L2Threshold = l2Threshold,
                CalibratedThreshold = calibrated,
                Threshold = Options.DetectionRule == CmagDetectionRule.PaperExtremes ? 1f : calibrated,
                TrainingImageCount = train.Count,
                CalibrationImageCount = calibration.Count,
                PaperRuleTrainingFalsePositiveRate = paperOnTraining.Flags.Count(f => f) / (double)train.Count,
                PaperRuleCalibrationFalsePositiveRate = paperOnCalibration.Flags.Count(f => f) / (double)calibration.Count,
                CalibratedRuleCalibrationFalsePositiveRate = ThresholdCalibration.FlaggedFraction(calibrationScores, calibrated),
                CalibratedRuleTrainingFalsePositiveRate = ThresholdCalibration.FlaggedFraction(trainingScores, calibrated),
                TrainingMeanSsim = onTraining.Ssim.Average(),
                TrainingMeanL2 = onTraining.L2.Average(),
                CalibrationMeanSsim = onCalibration.Ssim.Average(),
                CalibrationMeanL2 = onCalibration.L2.Average(),
                FmrLoss = losses.Fmr, LrLoss = losses.Lr, GrLoss = losses.Gr,
                Seed = seed,
            };
            Fitting.Log(LogSource, info.ToString());
            var fitted = new CmagTransformer(Options with { CheckpointPath = null, Seed = seed }, info, networks);
            checkpoint?.Delete();
            return fitted;
        }
        catch
        {
            networks.Dispose();
            throw;
        }
    }

    /// <summary>SSIM and L2 of rows, <see cref="CmagOptions.InferenceBatchSize"/> at a time from the first, exactly as Transform computes them.</summary>
    private (float[] Ssim, float[] L2) Measure(CmagNetworks networks, Rows rows, ImageShape shape, long[] featureDims, int classCount)
    {
        var ssim = new float[rows.Count];
        var l2 = new float[rows.Count];
        int featureSize = (int)(featureDims[0] * featureDims[1] * featureDims[2]);
        using var _ = torch.no_grad();
        for (int start = 0; start < rows.Count; start += Options.InferenceBatchSize)
        {
            using var scope = torch.NewDisposeScope();
            int count = Math.Min(Options.InferenceBatchSize, rows.Count - start);
            var x = TensorData.FromSpan(rows.Pixels.AsSpan(start * shape.Size, count * shape.Size), [count, shape.Channels, shape.Height, shape.Width], networks.Device);
            var fm = TensorData.FromSpan(rows.FeatureMaps.AsSpan(start * featureSize, count * featureSize), [count, .. featureDims], networks.Device);
            var p = TensorData.FromSpan(rows.Probabilities.AsSpan(start * classCount, count * classCount), [count, classCount], networks.Device);
            var reconstruction = networks.Reconstruct(fm, p, Options.Temperature);
            Ssim.Compute(reconstruction, x, Options.SsimWindow).cpu().data<float>().CopyTo(ssim.AsSpan(start, count));
            CmagNetworks.L2(x, reconstruction).cpu().data<float>().CopyTo(l2.AsSpan(start, count));
        }
        return (ssim, l2);
    }

    private JsonObject CheckpointSettings(CmagArchitecture a) => new()
    {
        ["feature_map"] = $"{a.FeatureChannels}x{a.FeatureHeight}x{a.FeatureWidth}",
        ["class_count"] = a.ClassCount,
        ["widths"] = $"fmr {a.FmrChannels} lr {a.LrHiddenUnits} gr {a.GrChannels}",
        ["temperature"] = Options.Temperature,
        ["mu"] = $"{Options.FmrMu} {Options.LrMu} {Options.GrMu}",
        ["ssim_window"] = Options.SsimWindow.ToString(),
        ["epochs"] = $"{Options.ReconstructorEpochs} {Options.GlobalReconstructorEpochs}",
        ["batch_size"] = Options.BatchSize,
        ["learning_rate"] = Options.LearningRate,
        ["calibration_fraction"] = Options.CalibrationFraction,
    };

    /// <summary>Alg. 1: FMR and LR, then GR; returns each network's mean loss over its last epoch (NaN when it trained no epoch in this run).</summary>
    private (double Fmr, double Lr, double Gr) Train(CmagNetworks networks, Tensor images, Tensor featureMaps, Tensor softened, TrainingCheckpoint? checkpoint,
        CancellationToken token)
    {
        long rows = images.size(0);
        int batchSize = (int)Math.Min(Options.BatchSize, rows);
        int batchesPerEpoch = (int)((rows + batchSize - 1) / batchSize);
        int firstEpochs = Options.ReconstructorEpochs, secondEpochs = Options.GlobalReconstructorEpochs;
        using var fmrOptimizer = torch.optim.Adam(networks.Fmr.parameters(), Options.LearningRate);
        using var lrOptimizer = torch.optim.Adam(networks.Lr.parameters(), Options.LearningRate);
        using var grOptimizer = torch.optim.Adam(networks.Gr.parameters(), Options.LearningRate);
        var modules = new List<(string, Module)> { ("fmr", networks.Fmr), ("lr", networks.Lr), ("gr", networks.Gr) };
        var optimizers = new List<(string, OptimizerHelper)> { ("fmr", fmrOptimizer), ("lr", lrOptimizer), ("gr", grOptimizer) };
        int resumed = checkpoint?.Restore(modules, optimizers, firstEpochs + secondEpochs) ?? 0;
        if (resumed > 0) Fitting.Log(LogSource, $"resumed from the checkpoint {checkpoint!.FilePath} after epoch {resumed} of {firstEpochs} + {secondEpochs}");
        int reportEvery = Math.Max(1, batchesPerEpoch / 20);
        var clock = Stopwatch.StartNew();
        double fmrLoss = double.NaN, lrLoss = double.NaN, grLoss = double.NaN;
        Fitting.Log(LogSource, $"Alg. 1 on {images.device}: {rows} images, FMR and LR {firstEpochs} epochs, then GR {secondEpochs} epochs, batch {batchSize}, Adam lr {Options.LearningRate}");

        networks.Fmr.train();
        networks.Lr.train();
        for (int epoch = resumed + 1; epoch <= firstEpochs; epoch++)
        {
            using var order = torch.randperm(rows, device: images.device);
            double fmrSum = 0, lrSum = 0;
            for (int batch = 0; batch < batchesPerEpoch; batch++)
            {
                token.ThrowIfCancellationRequested();
                long start = (long)batch * batchSize, count = Math.Min(batchSize, rows - start);
                using (torch.NewDisposeScope())
                {
                    var indices = order.narrow(0, start, count);
                    var x = images.index_select(0, indices);
                    var fmrLossTensor = CmagNetworks.Loss(networks.Fmr.forward(featureMaps.index_select(0, indices)), x, Options.FmrMu, Options.SsimWindow);
                    fmrOptimizer.zero_grad();
                    fmrLossTensor.backward();
                    fmrOptimizer.step();
                    var lrLossTensor = CmagNetworks.Loss(networks.Lr.forward(softened.index_select(0, indices)), x, Options.LrMu, Options.SsimWindow);
                    lrOptimizer.zero_grad();
                    lrLossTensor.backward();
                    lrOptimizer.step();
                    fmrSum += fmrLossTensor.item<float>();
                    lrSum += lrLossTensor.item<float>();
                }
                int done = batch + 1;
                bool end = done == batchesPerEpoch;
                if (end) checkpoint?.Write(epoch, modules, optimizers);
                if (end || (Options.Progress is not null && done % reportEvery == 0))
                {
                    var report = new CmagTrainingProgress(CmagTrainingStage.Reconstructors, epoch, firstEpochs, done, batchesPerEpoch, fmrSum / done, lrSum / done, null, clock.Elapsed, end);
                    Options.Progress?.Report(report);
                    if (end) Fitting.Log(LogSource, report.ToString());
                }
                if (end) (fmrLoss, lrLoss) = (fmrSum / done, lrSum / done);
            }
        }
        networks.Fmr.eval();
        networks.Lr.eval();
        if (secondEpochs == 0) return (fmrLoss, lrLoss, grLoss);

        // FMR and LR are frozen in the second stage, so h(x) is computed once.
        using var attention = Attention(networks, featureMaps, softened);
        networks.Gr.train();
        for (int epoch = Math.Max(resumed, firstEpochs) + 1; epoch <= firstEpochs + secondEpochs; epoch++)
        {
            using var order = torch.randperm(rows, device: images.device);
            double grSum = 0;
            for (int batch = 0; batch < batchesPerEpoch; batch++)
            {
                token.ThrowIfCancellationRequested();
                long start = (long)batch * batchSize, count = Math.Min(batchSize, rows - start);
                using (torch.NewDisposeScope())
                {
                    var indices = order.narrow(0, start, count);
                    var loss = CmagNetworks.Loss(networks.Gr.forward(attention.index_select(0, indices)), images.index_select(0, indices), Options.GrMu, Options.SsimWindow);
                    grOptimizer.zero_grad();
                    loss.backward();
                    grOptimizer.step();
                    grSum += loss.item<float>();
                }
                int done = batch + 1;
                bool end = done == batchesPerEpoch;
                if (end) checkpoint?.Write(epoch, modules, optimizers);
                if (end || (Options.Progress is not null && done % reportEvery == 0))
                {
                    var report = new CmagTrainingProgress(CmagTrainingStage.GlobalReconstructor, epoch - firstEpochs, secondEpochs, done, batchesPerEpoch, null, null, grSum / done, clock.Elapsed, end);
                    Options.Progress?.Report(report);
                    if (end) Fitting.Log(LogSource, report.ToString());
                }
                if (end) grLoss = grSum / done;
            }
        }
        networks.Gr.eval();
        return (fmrLoss, lrLoss, grLoss);
    }

    /// <summary>h(x) for every training row, in chunks, without autograd.</summary>
    private Tensor Attention(CmagNetworks networks, Tensor featureMaps, Tensor softened)
    {
        using var _ = torch.no_grad();
        long rows = featureMaps.size(0);
        var parts = new List<Tensor>();
        try
        {
            for (long start = 0; start < rows; start += Options.InferenceBatchSize)
            {
                long count = Math.Min(Options.InferenceBatchSize, rows - start);
                using var fm = featureMaps.narrow(0, start, count);
                using var p = softened.narrow(0, start, count);
                parts.Add(networks.Attention(fm, p));
            }
            return torch.cat(parts, 0);
        }
        finally
        {
            foreach (var part in parts) part.Dispose();
        }
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using MLDefense.Data;
using MLDefense.Evaluation;
using ML = Microsoft.ML;
using ImageShape = MLDefense.Data.ImageShape;

namespace MLDefense.Defenses;

/// <summary>
/// ContraNet, the SP-defense layer of MixDefense (Yang et al., Sec. 4, Fig. 3–4, Alg. 1, Eq. 3–6): a revised conditional GAN
/// reconstructs the input under the label the target classifier predicted, and a deep metric model measures how far the input is
/// from that reconstruction. A clean image reconstructs faithfully under its (correct) predicted label; an adversarial example's
/// label contradicts its content, and its reconstruction looks like the predicted class instead.
/// </summary>
/// <remarks>
/// <para>Fit, on clean images with their true labels and the classifier's Score (read only for calibration):</para>
/// <list type="number">
/// <item><description>Holds out <see cref="ContraNetOptions.CalibrationFraction"/> of the rows (at random, with the seed); nothing trains on them.
/// Every class must have <see cref="ContraNetOptions.MinimumImagesPerClass"/> training images.</description></item>
/// <item><description>Alg. 1, <see cref="ContraNetOptions.GanEpochs"/> epochs of minibatches of <see cref="ContraNetOptions.BatchSize"/>: for every
/// batch a discriminator step on Eq. 5 in hinge form, mean(relu(1 − D(x, y))) + mean(relu(1 + D(G(z, y), y))) with z ~ q(z|x) by the
/// reparameterisation z = μ + σ·ε; every <see cref="ContraNetOptions.DiscriminatorStepsPerGeneratorStep"/>-th batch, a generator-and-encoder
/// step: G on the adversarial term −mean D(G(z, y), y) (Eq. 4, hinge) plus Dist(G(z, y), x), E on Dist plus the KL term of Eq. 3
/// (½·mean(σ² + μ² − 1 − log σ²)) — exactly Alg. 1's split: the adversarial term's gradient is cleared from E before Dist + KL are
/// back-propagated. Dist = mean((x′ − x)²) + 5·(−log SSIM(x′, x)) ("L2 and SSIM", weighted as the authors' code). Adam 2e-4,
/// β = (0.5, 0.999) for all three; DiffAugment on every image D sees.</description></item>
/// <item><description>Sec. 4.2, <see cref="ContraNetOptions.MetricEpochs"/> epochs, E and G frozen in evaluation mode: anchors x, positives
/// x⁺ = G(μ(x), y_true), negatives x⁻ = G(μ(x), y) for wrong labels y (all K − 1 by default); Eq. 6's triplet margin loss (margin 0.7) on
/// the unit embeddings of the shared network M, over the semi-hard triplets; SGD 0.06.</description></item>
/// <item><description>Calibration on the held-out rows exactly as Transform scores them (y′ = argmax Score, x′ = G(μ(x), y′)): the threshold(s)
/// flag at most <see cref="ContraNetOptions.TargetFalsePositiveRate"/> of them (<see cref="ThresholdCalibration.ForFalsePositiveRate"/>).</description></item>
/// </list>
/// <para>Networks (see <see cref="ContraNetEncoder"/>, <see cref="ContraNetGenerator"/>, <see cref="ContraNetDiscriminator"/>,
/// <see cref="ContraNetMetric"/>): a projection GAN in StudioGAN's big-ResNet form — spectrally normalised generator and discriminator
/// (power iteration implemented here: TorchSharp 0.107 has no <c>spectral_norm</c>), class-conditional batch norm in every generator layer,
/// a projection discriminator — at CPU size: two generator blocks from ⌈H/4⌉ × ⌈W/4⌉ and three discriminator blocks, base widths options
/// (default 32, where StudioGAN's CIFAR model has 96).</para>
/// <para>Departures, and why: (a) no self-attention block and no EMA generator (the authors' code has both; on the few hundred steps a CPU
/// allows, an EMA of decay 0.9999 would not move from its start, and self-attention doubles the step time at 32×32); (b) the metric model
/// is a small CNN instead of MobileNetV2 (see <see cref="ContraNetMetric"/>); (c) the negatives are reconstructions of the anchor itself
/// under wrong labels, so each triplet asks exactly what inference asks (is x′ of the right class?); (d) inference uses z = μ (no sampling),
/// so scores are deterministic; (e) calibration uses the classifier's predicted labels — the authors calibrate on true labels — so the
/// target rate is the rate on clean inputs as Transform sees them (misclassified clean images count, Sec. 6's "good side effect"); (f) Dist
/// omits the authors' extra L1 term by default (<see cref="ContraNetOptions.L1Weight"/>); (g) the authors' second discriminator on x − x′
/// (their third sub-detector) is not built.</para>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="ContraNetOptions.ImageColumnName"/> (input)</term><description>Single vector [C, H, W], values in [0, 1]</description></item>
/// <item><term><see cref="ContraNetOptions.LabelColumnName"/> (input, Fit only)</term><description>key or Int32: the true class 0..K−1</description></item>
/// <item><term><see cref="ContraNetOptions.ScoreColumnName"/> (input)</term><description>Single vector [K]: the classifier's probabilities; only its argmax is used</description></item>
/// <item><term><see cref="ContraNetOptions.OutputScoreColumnName"/></term><description>Single: higher = more adversarial</description></item>
/// <item><term><see cref="ContraNetOptions.FlagColumnName"/></term><description>Boolean: detected as adversarial</description></item>
/// <item><term><see cref="ContraNetOptions.ReconstructionColumnName"/> (when set)</term><description>Single vector [C, H, W]: x′</description></item>
/// </list>
/// <para>Training runs on <see cref="ML.MLContext.GpuDeviceId"/>'s device when set, else the CPU; seeded with <c>torch.manual_seed</c>; with
/// <see cref="ContraNetOptions.CheckpointPath"/> it resumes after the last completed epoch, bit for bit on the CPU.</para>
/// </remarks>
public sealed class ContraNetEstimator : DefenseEstimator<ContraNetOptions, ContraNetTransformer>
{
    internal const string LogSource = "ContraNet";

    /// <summary>Creates the estimator in an ML.NET environment (<c>ml.Transforms.Defenses.ContraNet</c> calls this).</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public ContraNetEstimator(ML.Runtime.IHostEnvironment environment, ContraNetOptions options) : base(environment, LogSource, options, CheckOptions)
    {
    }

    internal static void CheckOptions(ContraNetOptions o)
    {
        var rules = new OptionRules(nameof(ContraNetOptions));
        static bool Positive(double v) => v > 0 && double.IsFinite(v);
        static bool NonNegative(double v) => v >= 0 && double.IsFinite(v);
        rules.Require(o.CheckpointPath is null || !string.IsNullOrWhiteSpace(o.CheckpointPath), nameof(o.CheckpointPath), o.CheckpointPath, "must be a file path (or null for no checkpoint)");
        rules.Require(o.LatentSize >= 1, nameof(o.LatentSize), o.LatentSize, "must be at least 1");
        rules.Require(o.GeneratorWidth >= 1, nameof(o.GeneratorWidth), o.GeneratorWidth, "must be at least 1");
        rules.Require(o.DiscriminatorWidth >= 1, nameof(o.DiscriminatorWidth), o.DiscriminatorWidth, "must be at least 1");
        rules.Require(o.MetricWidth >= 1, nameof(o.MetricWidth), o.MetricWidth, "must be at least 1");
        rules.Require(o.EmbeddingSize >= 1, nameof(o.EmbeddingSize), o.EmbeddingSize, "must be at least 1");
        rules.Require(o.GanEpochs >= 0, nameof(o.GanEpochs), o.GanEpochs, "must be ≥ 0");
        rules.Require(o.MetricEpochs >= 0, nameof(o.MetricEpochs), o.MetricEpochs, "must be ≥ 0");
        rules.Require(o.DiscriminatorStepsPerGeneratorStep >= 1, nameof(o.DiscriminatorStepsPerGeneratorStep), o.DiscriminatorStepsPerGeneratorStep, "must be at least 1");
        rules.Require(o.BatchSize >= 2, nameof(o.BatchSize), o.BatchSize, "must be at least 2 (batch normalisation)");
        rules.Require(o.MetricBatchSize >= 2, nameof(o.MetricBatchSize), o.MetricBatchSize, "must be at least 2 (batch normalisation)");
        rules.Require(o.InferenceBatchSize >= 1, nameof(o.InferenceBatchSize), o.InferenceBatchSize, "must be at least 1");
        rules.Require(Positive(o.GanLearningRate), nameof(o.GanLearningRate), o.GanLearningRate, "must be finite and positive");
        rules.Require(Positive(o.MetricLearningRate), nameof(o.MetricLearningRate), o.MetricLearningRate, "must be finite and positive");
        rules.Require(o.MetricMomentum is >= 0 and < 1, nameof(o.MetricMomentum), o.MetricMomentum, "must be in [0, 1)");
        rules.Require(NonNegative(o.L2Weight), nameof(o.L2Weight), o.L2Weight, "must be finite and ≥ 0");
        rules.Require(NonNegative(o.SsimWeight), nameof(o.SsimWeight), o.SsimWeight, "must be finite and ≥ 0");
        rules.Require(NonNegative(o.L1Weight), nameof(o.L1Weight), o.L1Weight, "must be finite and ≥ 0");
        rules.Require(NonNegative(o.KlWeight), nameof(o.KlWeight), o.KlWeight, "must be finite and ≥ 0");
        rules.Require(NonNegative(o.AdversarialWeight), nameof(o.AdversarialWeight), o.AdversarialWeight, "must be finite and ≥ 0");
        rules.Require(Positive(o.TripletMargin), nameof(o.TripletMargin), o.TripletMargin, "(the margin of Eq. 6) must be finite and positive");
        rules.Require(o.NegativesPerAnchor is null or >= 1, nameof(o.NegativesPerAnchor), o.NegativesPerAnchor, "must be at least 1 (or null for all K − 1)");
        rules.Require(Enum.IsDefined(o.TripletMining), nameof(o.TripletMining), o.TripletMining, "must be a known mining rule");
        rules.Require(Enum.IsDefined(o.DetectionRule), nameof(o.DetectionRule), o.DetectionRule, "must be a known rule");
        rules.Require(Enum.IsDefined(o.SsimWindow), nameof(o.SsimWindow), o.SsimWindow, "must be a known window");
        rules.Require(o.MinimumImagesPerClass >= 2, nameof(o.MinimumImagesPerClass), o.MinimumImagesPerClass, "must be at least 2");
        rules.Require(o.TargetFalsePositiveRate is >= 0 and < 1, nameof(o.TargetFalsePositiveRate), o.TargetFalsePositiveRate, "(a target false-positive rate) must be in [0, 1)");
        rules.Require(o.CalibrationFraction is > 0 and <= 0.5, nameof(o.CalibrationFraction), o.CalibrationFraction, "(the share of rows held out for calibration) must be in (0, 0.5]");
        var outputs = new List<(string, string)> { ("score", o.OutputScoreColumnName), ("flag", o.FlagColumnName) };
        if (o.ReconstructionColumnName is not null) outputs.Add(("reconstruction", o.ReconstructionColumnName));
        OptionRules.RequireColumnNames("ContraNet", [o.ImageColumnName, o.LabelColumnName, o.ScoreColumnName], [.. outputs]);
    }

    /// <summary>
    /// The columns the fitted transformer adds. A schema shape has no vector dimensions: this checks the image and Score are Single vectors
    /// and the label column exists; shapes and class counts are checked by Fit and Transform.
    /// </summary>
    /// <exception cref="ArgumentException">A column is missing or of the wrong type (the message names it).</exception>
    public override ML.SchemaShape GetOutputSchema(ML.SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ImageColumns.Check(inputSchema, Options.ImageColumnName, "the image ContraNet reconstructs");
        string label = Options.LabelColumnName;
        if (!inputSchema.Any(c => c.Name == label))
            throw new ArgumentException($"Column '{label}' (the true class the cGAN is conditioned on in Fit) was not found; expected a key (MapValueToKey) or Int32 class labels 0..K−1. " +
                $"The schema has: {string.Join(", ", inputSchema.Select(c => c.Name))}.");
        string score = Options.ScoreColumnName;
        var found = inputSchema.Where(c => c.Name == score).ToArray();
        if (found.Length == 0 || found[0].Kind != ML.SchemaShape.Column.VectorKind.Vector || found[0].ItemType != ML.Data.NumberDataViewType.Single)
            throw new ArgumentException($"Column '{score}' (the target classifier's probabilities): expected a Single vector [K] of class probabilities, e.g. a classifier's Score; " +
                (found.Length == 0 ? $"it was not found. The schema has: {string.Join(", ", inputSchema.Select(c => c.Name))}." : $"found {found[0].Kind} of {found[0].ItemType}."));
        var added = ContraNetTransformer.AddedColumns(Options, null).Select(c => MLNet.SchemaShapes.Of(c.Name, c.Type));
        return MLNet.SchemaShapes.Append(inputSchema, added);
    }

    /// <summary>Checks the image and Score columns (against the fitted shape and class count when given); returns the image shape and K.</summary>
    internal static (ImageShape Image, int ClassCount) CheckColumns(ML.DataViewSchema schema, ContraNetOptions o, ImageShape? fittedImage, int? fittedClassCount)
    {
        var image = ImageColumns.Check(schema, o.ImageColumnName, fittedImage, "the image ContraNet reconstructs", "the shape ContraNet was fitted on");
        int classCount;
        try
        {
            classCount = ProbabilityColumns.Check(schema, o.ScoreColumnName, fittedClassCount);
        }
        catch (ArgumentException ex) when (fittedClassCount is { } k)
        {
            throw new ArgumentException($"{ex.Message.TrimEnd('.')} (ContraNet was fitted on {k} classes).", ex);
        }
        return (image, classCount);
    }

    /// <summary>Checks the data, holds out the calibration rows, trains the cGAN (Alg. 1), then the metric model (Eq. 6), then calibrates.</summary>
    /// <exception cref="ArgumentException">Bad input (the message names the column, the expectation and what was found).</exception>
    /// <exception cref="OperationCanceledException"><see cref="ContraNetOptions.CancellationToken"/> was cancelled.</exception>
    public override ContraNetTransformer Fit(ML.IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var (shape, classCount) = CheckColumns(input.Schema, Options, null, null);
        var labelKind = LabelColumns.Check(input.Schema, Options.LabelColumnName, "the true class the cGAN is conditioned on in Fit");
        if (input.Schema[Options.LabelColumnName].Type is ML.Data.KeyDataViewType key && key.Count != (ulong)classCount)
            throw new ArgumentException($"Column '{Options.LabelColumnName}' is a key of {key.Count} classes, but column '{Options.ScoreColumnName}' (the classifier's probabilities) has {classCount}: " +
                "ContraNet conditions on the classifier's classes, so the label column must hold exactly those (the classifier's training labels).");
        if (shape.Height < 4 || shape.Width < 4)
            throw new ArgumentException($"Column '{Options.ImageColumnName}': ContraNet's encoder halves each side twice and needs images of at least 4×4; found {shape}.");
        if (Options.SsimWindow == SsimWindow.Gaussian && (shape.Height < Ssim.GaussianWindowSize || shape.Width < Ssim.GaussianWindowSize))
            throw new ArgumentException($"Column '{Options.ImageColumnName}': SSIM's {Ssim.GaussianWindowSize}×{Ssim.GaussianWindowSize} Gaussian window does not fit {shape} images; " +
                "use ContraNetOptions.SsimWindow = SsimWindow.Global for images this small.");
        if (Options.NegativesPerAnchor is { } q && q > classCount - 1)
            throw new ArgumentException($"{nameof(ContraNetOptions)}.{nameof(ContraNetOptions.NegativesPerAnchor)} is {q}, but column '{Options.ScoreColumnName}' has {classCount} classes: " +
                $"an anchor has at most {classCount - 1} wrong labels.");
        var token = Options.CancellationToken;
        token.ThrowIfCancellationRequested();
        var data = Read(input, shape, classCount, labelKind, token);
        return FitCore(shape, classCount, data, token);
    }

    private sealed record Rows(float[] Pixels, int[] Labels, int[] Predicted, int Count);

    private Rows Read(ML.IDataView input, ImageShape shape, int classCount, LabelKind labelKind, CancellationToken token)
    {
        string imageName = Options.ImageColumnName, labelName = Options.LabelColumnName, scoreName = Options.ScoreColumnName;
        var pixels = new List<float[]>();
        var labels = new List<int>();
        var predicted = new List<int>();
        long rows = 0;
        foreach (var batch in DataViewBatches.Read(input, [imageName, labelName, scoreName], 2048, token))
        {
            var x = batch.Get<float>(imageName);
            var y = LabelColumns.Classes(batch, labelName, labelKind);
            var p = batch.Get<float>(scoreName);
            ImageColumns.CheckPixelRange(x, shape.Size, rows, imageName);
            DefenseColumns.CheckFinite(p, classCount, rows, scoreName, "probabilities");
            for (int i = 0; i < y.Length; i++)
                if (y[i] < 0 || y[i] >= classCount)
                    throw new ArgumentException($"Column '{labelName}': row {rows + i} has class {y[i]}, which the classifier never emits: column '{scoreName}' has {classCount} classes (0..{classCount - 1}).");
            pixels.Add(x);
            labels.AddRange(y);
            predicted.AddRange(ContraNetTransformer.ArgMax(p, classCount));
            rows += batch.RowCount;
        }
        if (rows * shape.Size > Array.MaxLength)
            throw new ArgumentException($"Column '{imageName}': {rows} rows of {shape} images do not fit in one array; fit on a subset.");
        return new([.. pixels.SelectMany(a => a)], [.. labels], [.. predicted], (int)rows);
    }

    private static float[] Select(float[] values, int[] rows, int size)
    {
        var selected = new float[(long)rows.Length * size];
        for (int i = 0; i < rows.Length; i++) Array.Copy(values, (long)rows[i] * size, selected, (long)i * size, size);
        return selected;
    }

    private ContraNetTransformer FitCore(ImageShape shape, int classCount, Rows data, CancellationToken token)
    {
        if (data.Count < 2 * Options.MinimumImagesPerClass)
            throw new ArgumentException($"Column '{Options.ImageColumnName}': ContraNet needs at least {Options.MinimumImagesPerClass} training images of every class " +
                $"({nameof(ContraNetOptions.MinimumImagesPerClass)}) and a held-out share to calibrate on; found {data.Count} rows.");
        int seed = Options.Seed ?? Fitting.NextSeed();
        var (trainRows, calibrationRows) = MiaedEstimator.SplitCalibration(data.Count, Options.CalibrationFraction, seed);
        var train = new Rows(Select(data.Pixels, trainRows, shape.Size), [.. trainRows.Select(i => data.Labels[i])], [.. trainRows.Select(i => data.Predicted[i])], trainRows.Length);
        var calibration = new Rows(Select(data.Pixels, calibrationRows, shape.Size), [.. calibrationRows.Select(i => data.Labels[i])],
            [.. calibrationRows.Select(i => data.Predicted[i])], calibrationRows.Length);
        var perClass = new int[classCount];
        foreach (int y in train.Labels) perClass[y]++;
        var short_ = Enumerable.Range(0, classCount).Where(c => perClass[c] < Options.MinimumImagesPerClass).ToArray();
        if (short_.Length > 0)
            throw new ArgumentException($"Column '{Options.LabelColumnName}': ContraNet's cGAN and triplet miner need at least {Options.MinimumImagesPerClass} training images of every one of the " +
                $"classifier's {classCount} classes ({nameof(ContraNetOptions.MinimumImagesPerClass)}); after holding out {calibration.Count} rows to calibrate, " +
                string.Join(", ", short_.Take(10).Select(c => $"class {c} has {perClass[c]}")) + (short_.Length > 10 ? $" and {short_.Length - 10} more" : "") + ".");
        Fitting.Log(LogSource, $"{data.Count} rows: {train.Count} train the cGAN and the metric model, {calibration.Count} are held out to calibrate");

        var device = Fitting.Device;
        torch.manual_seed((uint)seed);
        var architecture = ContraNetArchitecture.From(Options, shape, classCount);
        var networks = new ContraNetNetworks(architecture, device, withDiscriminator: true);
        try
        {
            using var images = torch.tensor(train.Pixels, [train.Count, shape.Channels, shape.Height, shape.Width], device: device);
            using var labels = torch.tensor(train.Labels.Select(y => (long)y).ToArray(), [train.Count], device: device);
            var checkpoint = TrainingCheckpoint.Create(Options.CheckpointPath, "ContraNet", shape, train.Pixels, train.Count, seed, device, CheckpointSettings(architecture));
            var losses = Train(networks, images, labels, checkpoint, token);
            networks.DropDiscriminator();
            networks.Eval();

            token.ThrowIfCancellationRequested();
            var onCalibration = ContraNetScoring.Measure(networks, calibration.Pixels, calibration.Predicted, calibration.Count, shape, Options.InferenceBatchSize, Options.SsimWindow, false);
            var trueLabel = ContraNetScoring.Measure(networks, calibration.Pixels, calibration.Labels, calibration.Count, shape, Options.InferenceBatchSize, Options.SsimWindow, false);
            var wrongLabels = calibration.Labels.Select((y, i) => (y + 1 + i % (classCount - 1)) % classCount).ToArray();
            var wrongLabel = ContraNetScoring.Measure(networks, calibration.Pixels, wrongLabels, calibration.Count, shape, Options.InferenceBatchSize, Options.SsimWindow, false);
            float distanceThreshold = (float)ThresholdCalibration.ForFalsePositiveRate(onCalibration.Distance, Options.TargetFalsePositiveRate);
            var dissimilarity = onCalibration.Ssim.Select(s => 1f - s).ToArray();
            float ssimThreshold = (float)ThresholdCalibration.ForFalsePositiveRate(dissimilarity, Options.TargetFalsePositiveRate);
            var info = new ContraNetModelInfo
            {
                Channels = shape.Channels, Height = shape.Height, Width = shape.Width, ClassCount = classCount,
                DistanceThreshold = distanceThreshold,
                SsimDissimilarityThreshold = ssimThreshold,
                Threshold = Options.DetectionRule == ContraNetDetectionRule.MetricDistance ? distanceThreshold : 1f,
                TrainingImageCount = train.Count,
                CalibrationImageCount = calibration.Count,
                CalibrationTrueLabelMeanDistance = trueLabel.Distance.Average(),
                CalibrationWrongLabelMeanDistance = wrongLabel.Distance.Average(),
                CalibrationTrueLabelMeanSsim = trueLabel.Ssim.Average(),
                CalibrationWrongLabelMeanSsim = wrongLabel.Ssim.Average(),
                WrongLabelAuc = RocCurve.AucOf(trueLabel.Distance, wrongLabel.Distance),
                DiscriminatorLoss = losses.D, GeneratorLoss = losses.G, DistanceLoss = losses.Dist, KlLoss = losses.Kl, TripletLoss = losses.Triplet,
                Seed = seed,
            };
            var scores = ContraNetTransformer.Scores(onCalibration.Distance, onCalibration.Ssim, Options.DetectionRule, info);
            info = info with { CalibrationFalsePositiveRate = ThresholdCalibration.FlaggedFraction(scores, info.Threshold) };
            Fitting.Log(LogSource, info.ToString());
            var fitted = new ContraNetTransformer(Options with { CheckpointPath = null, Seed = seed }, info, networks);
            checkpoint?.Delete();
            return fitted;
        }
        catch
        {
            networks.Dispose();
            throw;
        }
    }

    private JsonObject CheckpointSettings(ContraNetArchitecture a) => new()
    {
        ["class_count"] = a.ClassCount,
        ["architecture"] = $"z {a.LatentSize} g {a.GeneratorWidth} d {a.DiscriminatorWidth} m {a.MetricWidth} e {a.EmbeddingSize}",
        ["epochs"] = $"{Options.GanEpochs} {Options.MetricEpochs}",
        ["gan"] = $"k {Options.DiscriminatorStepsPerGeneratorStep} batch {Options.BatchSize} lr {Options.GanLearningRate} diffaug {Options.DiffAugment}",
        ["losses"] = $"l2 {Options.L2Weight} ssim {Options.SsimWeight} l1 {Options.L1Weight} kl {Options.KlWeight} adv {Options.AdversarialWeight} {Options.SsimWindow}",
        ["metric"] = $"batch {Options.MetricBatchSize} lr {Options.MetricLearningRate} momentum {Options.MetricMomentum} margin {Options.TripletMargin} " +
            $"negatives {Options.NegativesPerAnchor?.ToString() ?? "all"} {Options.TripletMining}",
        ["calibration_fraction"] = Options.CalibrationFraction,
    };

    private sealed record Losses(double D, double G, double Dist, double Kl, double Triplet);

    /// <summary>Alg. 1 then Eq. 6; returns each loss's mean over its stage's last epoch (NaN when that stage ran no epoch in this Fit).</summary>
    private Losses Train(ContraNetNetworks networks, Tensor images, Tensor labels, TrainingCheckpoint? checkpoint, CancellationToken token)
    {
        var discriminator = networks.Discriminator!;
        long rows = images.size(0);
        int k = networks.Architecture.ClassCount;
        int ganEpochs = Options.GanEpochs, metricEpochs = Options.MetricEpochs;
        double lr = Options.GanLearningRate;
        using var generatorOptimizer = torch.optim.Adam(networks.Generator.parameters(), lr, beta1: 0.5, beta2: 0.999);
        using var encoderOptimizer = torch.optim.Adam(networks.Encoder.parameters(), lr, beta1: 0.5, beta2: 0.999);
        using var discriminatorOptimizer = torch.optim.Adam(discriminator.parameters(), lr, beta1: 0.5, beta2: 0.999);
        using var metricOptimizer = torch.optim.SGD(networks.Metric.parameters(), Options.MetricLearningRate, momentum: Options.MetricMomentum);
        var modules = new List<(string, Module)> { ("encoder", networks.Encoder), ("generator", networks.Generator), ("discriminator", discriminator), ("metric", networks.Metric) };
        var optimizers = new List<(string, OptimizerHelper)> { ("encoder", encoderOptimizer), ("generator", generatorOptimizer), ("discriminator", discriminatorOptimizer), ("metric", metricOptimizer) };
        int resumed = checkpoint?.Restore(modules, optimizers, ganEpochs + metricEpochs) ?? 0;
        if (resumed > 0) Fitting.Log(LogSource, $"resumed from the checkpoint {checkpoint!.FilePath} after epoch {resumed} of {ganEpochs} + {metricEpochs}");
        var clock = Stopwatch.StartNew();
        double dLoss = double.NaN, gLoss = double.NaN, distLoss = double.NaN, klLoss = double.NaN, tripletLoss = double.NaN;

        int batchSize = (int)Math.Min(Options.BatchSize, rows);
        // A last batch of one image cannot be batch-normalised in training mode: it is dropped from the epoch.
        int batchesPerEpoch = (int)(rows / batchSize) + (rows % batchSize >= 2 ? 1 : 0);
        int every = Options.DiscriminatorStepsPerGeneratorStep;
        int reportEvery = Math.Max(1, batchesPerEpoch / 20);
        Fitting.Log(LogSource, $"Alg. 1 on {images.device}: {rows} images, {ganEpochs} epochs of {batchesPerEpoch} discriminator steps, one generator step per {every}, batch {batchSize}, Adam {lr}");
        networks.Encoder.train();
        networks.Generator.train();
        discriminator.train();
        for (int epoch = resumed + 1; epoch <= ganEpochs; epoch++)
        {
            using var order = torch.randperm(rows, device: images.device);
            double dSum = 0, gSum = 0, distSum = 0, klSum = 0;
            int gSteps = 0;
            for (int batch = 0; batch < batchesPerEpoch; batch++)
            {
                token.ThrowIfCancellationRequested();
                long start = (long)batch * batchSize, count = Math.Min(batchSize, rows - start);
                using (torch.NewDisposeScope())
                {
                    var indices = order.narrow(0, start, count);
                    var x = images.index_select(0, indices);
                    var y = labels.index_select(0, indices);

                    // Alg. 1 line 6: the discriminator on real and reconstructed images (Eq. 5, hinge).
                    Tensor fake;
                    using (torch.no_grad())
                    {
                        var (mean, logVariance) = networks.Encoder.forward(x);
                        fake = networks.Generator.forward(Sample(mean, logVariance), y);
                    }
                    var dReal = discriminator.forward(Augment(x), y);
                    var dFake = discriminator.forward(Augment(fake), y);
                    var d = ContraNetLosses.DiscriminatorHinge(dReal, dFake);
                    discriminatorOptimizer.zero_grad();
                    d.backward();
                    discriminatorOptimizer.step();
                    dSum += d.item<float>();

                    bool generatorStep = (batch + 1) % every == 0 || (batchesPerEpoch < every && batch == batchesPerEpoch - 1);
                    if (generatorStep)
                    {
                        // Alg. 1 lines 4–5: G on the adversarial term and Dist, E on Dist and the KL term.
                        foreach (var p in discriminator.parameters()) p.requires_grad = false;
                        try
                        {
                            var (mean, logVariance) = networks.Encoder.forward(x);
                            var reconstruction = networks.Generator.forward(Sample(mean, logVariance), y);
                            var adversarial = ContraNetLosses.GeneratorHinge(discriminator.forward(Augment(reconstruction), y));
                            var dist = ContraNetLosses.Distance(reconstruction, x, Options.L2Weight, Options.SsimWeight, Options.L1Weight, Options.SsimWindow);
                            var kl = ContraNetLosses.Kl(mean, logVariance);
                            generatorOptimizer.zero_grad();
                            encoderOptimizer.zero_grad();
                            if (Options.AdversarialWeight != 0)
                            {
                                (adversarial * Options.AdversarialWeight).backward(retain_graph: true);
                                encoderOptimizer.zero_grad();   // the adversarial term trains G only (Alg. 1 line 5)
                            }
                            (dist + kl * Options.KlWeight).backward();
                            generatorOptimizer.step();
                            encoderOptimizer.step();
                            gSum += adversarial.item<float>();
                            distSum += dist.item<float>();
                            klSum += kl.item<float>();
                            gSteps++;
                        }
                        finally
                        {
                            foreach (var p in discriminator.parameters()) p.requires_grad = true;
                        }
                    }
                }
                int done = batch + 1;
                bool end = done == batchesPerEpoch;
                if (end) checkpoint?.Write(epoch, modules, optimizers);
                if (end || (Options.Progress is not null && done % reportEvery == 0))
                {
                    int g = Math.Max(1, gSteps);
                    var report = new ContraNetTrainingProgress(ContraNetTrainingStage.ConditionalGan, epoch, ganEpochs, done, batchesPerEpoch,
                        dSum / done, gSum / g, distSum / g, klSum / g, null, clock.Elapsed, end);
                    Options.Progress?.Report(report);
                    if (end) Fitting.Log(LogSource, report.ToString());
                }
                if (end) (dLoss, gLoss, distLoss, klLoss) = (dSum / done, gSum / Math.Max(1, gSteps), distSum / Math.Max(1, gSteps), klSum / Math.Max(1, gSteps));
            }
        }

        // Sec. 4.2: the metric model on triplets, E and G frozen (evaluation mode: running BN statistics, z = μ).
        networks.Encoder.eval();
        networks.Generator.eval();
        discriminator.eval();
        int metricBatch = (int)Math.Min(Options.MetricBatchSize, rows);
        int metricBatches = (int)(rows / metricBatch) + (rows % metricBatch >= 2 ? 1 : 0);
        int negatives = Options.NegativesPerAnchor ?? k - 1;
        Fitting.Log(LogSource, $"metric model: {metricEpochs} epochs of {metricBatches} batches of {metricBatch} anchors, {negatives} negatives each, margin {Options.TripletMargin}, {Options.TripletMining}");
        networks.Metric.train();
        for (int epoch = Math.Max(resumed, ganEpochs) + 1; epoch <= ganEpochs + metricEpochs; epoch++)
        {
            using var order = torch.randperm(rows, device: images.device);
            double tSum = 0;
            for (int batch = 0; batch < metricBatches; batch++)
            {
                token.ThrowIfCancellationRequested();
                long start = (long)batch * metricBatch, count = Math.Min(metricBatch, rows - start);
                using (torch.NewDisposeScope())
                {
                    var indices = order.narrow(0, start, count);
                    var x = images.index_select(0, indices);
                    var y = labels.index_select(0, indices);
                    Tensor positive, negative;
                    using (torch.no_grad())
                    {
                        var (mean, logVariance) = networks.Encoder.forward(x);
                        positive = networks.Generator.forward(mean, y);
                        // Wrong labels y + o (mod K) for offsets o in 1..K−1: all of them, or a random subset per anchor.
                        var offsets = negatives == k - 1
                            ? torch.arange(1, k, device: x.device).unsqueeze(0).expand(count, k - 1)
                            : torch.rand(count, k - 1, device: x.device).argsort(1).narrow(1, 0, negatives) + 1;
                        var wrong = (y.unsqueeze(1) + offsets).remainder(k).reshape(-1);
                        negative = networks.Generator.forward(mean.repeat_interleave(negatives, 0), wrong);
                    }
                    var embeddings = networks.Metric.forward(torch.cat([x, positive, negative], 0));
                    var anchorEmbedding = embeddings.narrow(0, 0, count);
                    var positiveEmbedding = embeddings.narrow(0, count, count);
                    var negativeEmbedding = embeddings.narrow(0, 2 * count, count * negatives).reshape(count, negatives, -1);
                    var (loss, _) = ContraNetLosses.Triplet(anchorEmbedding, positiveEmbedding, negativeEmbedding, Options.TripletMargin, Options.TripletMining);
                    metricOptimizer.zero_grad();
                    loss.backward();
                    metricOptimizer.step();
                    tSum += loss.item<float>();
                }
                int done = batch + 1;
                bool end = done == metricBatches;
                if (end) checkpoint?.Write(epoch, modules, optimizers);
                if (end || (Options.Progress is not null && done % Math.Max(1, metricBatches / 20) == 0))
                {
                    var report = new ContraNetTrainingProgress(ContraNetTrainingStage.MetricModel, epoch - ganEpochs, metricEpochs, done, metricBatches,
                        null, null, null, null, tSum / done, clock.Elapsed, end);
                    Options.Progress?.Report(report);
                    if (end) Fitting.Log(LogSource, report.ToString());
                }
                if (end) tripletLoss = tSum / done;
            }
        }
        networks.Metric.eval();
        return new(dLoss, gLoss, distLoss, klLoss, tripletLoss);
    }

    /// <summary>z = μ + σ·ε, ε ~ N(0, I) (the reparameterisation of q(z|x)).</summary>
    private static Tensor Sample(Tensor mean, Tensor logVariance) => mean + (logVariance * 0.5).exp() * torch.randn_like(mean);

    private Tensor Augment(Tensor x) => Options.DiffAugment ? ContraNetLosses.DiffAugment(x) : x;
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLDefense.Data;
using MLDefense.Evaluation;
using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Defenses;

/// <summary>
/// MIAED, the mutual-information dual-autoencoder detector: Gao et al., "Detecting Adversarial Examples on Deep Neural
/// Networks with Mutual Information Neural Estimation", Sec. 3 and 4.1. It needs no adversarial examples and treats the
/// target model as a black box: it reads only the model's output probabilities.
/// </summary>
/// <remarks>
/// <para>Fit, on clean training images with their labels and the target model's probabilities:</para>
/// <list type="number">
/// <item><description>Holds out <see cref="MiaedOptions.CalibrationFraction"/> of the rows (drawn at random with the seed) for
/// calibration; nothing below trains on them.</description></item>
/// <item><description>Trains the MI dual autoencoder (Sec. 3.1, <see cref="MiaedAutoencoder"/>) for
/// <see cref="MiaedOptions.Epochs"/> epochs on Eq. 15 = ε·‖x − G(E(x))‖² + δ·‖G(E(x)) − G(E(x) + ξ)‖² + Eq. 12, with
/// Eq. 12 = −α·Î_global (Eq. 9) − β·Î_local (Eq. 10) + γ·L_prior (Eq. 11); Adam (lr 1e-4, β = (0.5, 0.999)), batch 128.</description></item>
/// <item><description>Freezes the encoder and trains the "simple network" (Sec. 3.2, Fig. 4: FC 1024-BN-ReLU-Dropout 0.5,
/// FC 512-BN-ReLU-Dropout 0.5, FC K, softmax) to predict the label from the 64-d latent.</description></item>
/// <item><description>Scores every held-out calibration image, s = JS(p, q) (<see cref="MiaedScoring"/>; p the target model's
/// probabilities, q the simple network's), and sets the threshold with <see cref="ThresholdCalibration.ForFalsePositiveRate"/>
/// so that at most <see cref="MiaedOptions.TargetFalsePositiveRate"/> of them are flagged. The paper fixes the operating
/// point on clean data without saying on which rows; calibrating on rows the simple network trained on would flag new
/// clean images more often than the target (it agrees with the target model better on its own training rows), so the
/// rows are held out. <see cref="MiaedModelInfo"/> reports the rate reached on them.</description></item>
/// </list>
/// <para>Networks (Tables 3 and 4; <see cref="MiaedEncoder"/>, <see cref="MiaedDecoder"/>): encoder = 3×3 convolutions
/// (stride 1, same padding, ReLU) B, B, max-pool 2×2, 2B, 2B, max-pool 2×2 — the feature map M(x) the MI terms read,
/// 32×7×7 on MNIST — then flatten and a linear FC 64; decoder = FC 2B·(H/4)·(W/4) with ReLU, reshape, up-sample 2×2,
/// convolutions 2B, 2B, up-sample 2×2, B, B, then a convolution to the image's channels with a sigmoid; no batch
/// normalisation; B = 16 for single-channel images (Table 3's MNIST column), 32 otherwise (its CIFAR-10 column;
/// <see cref="MiaedOptions.BaseChannels"/>). Global MI and prior discriminators FC 256-256-1, local MI discriminator
/// 1×1 convolutions 256-256-1 (Table 4).</para>
/// <para>Defaults and where they come from: α = β = 0.01, γ = 0.001, ε = δ = 1, 100 epochs, batch 128, Adam 1e-4,
/// (0.5, 0.999) — the paper (Sec. 4.1). Not in the paper and taken from the official code or from common practice:
/// latent noise σ = 0.1 (official code), prior N(0, 1) (the official code's N(0, 5²) is
/// <c>PriorStandardDeviation = 5</c>), gradient-penalty weight 10 (WGAN-GP), simple network 20 epochs with Adam 1e-3.
/// The official code's reconstruction weight 10 is <c>ReconstructionWeight = 10</c>. The squared norms of Eq. 13 and 14
/// are averaged over pixels (mean squared error).</para>
/// <para>Where the official code departs from the paper and this implementation does not follow it: its simple network
/// trains for up to 100 epochs with early stopping and learning-rate halving monitored on the latents of FGSM adversarial
/// test images — model selection on adversarial examples, which the paper's premise (no adversarial examples needed)
/// rules out, on the test set; here it trains <see cref="MiaedOptions.SimpleNetworkEpochs"/> fixed epochs on clean latents
/// only by default, and <see cref="MiaedOptions.SimpleNetworkSelectionData"/> runs the official selection on images the
/// caller chooses (so that its effect can be measured without the test-set leak). Its noisy test images are not clipped to [0, 1].</para>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="MiaedOptions.ImageColumnName"/> (input)</term><description>float vector [C, H, W] with an image shape, values in [0, 1]; H, W divisible by 4 (the encoder's two 2×2 max poolings)</description></item>
/// <item><term><see cref="MiaedOptions.ProbabilitiesColumnName"/> (input)</term><description>float vector [K]: the target model's softmax probabilities (the image classifier's <c>Score</c>)</description></item>
/// <item><term><see cref="MiaedOptions.LabelColumnName"/> (input, Fit only)</term><description>Int32 class in [0, K)</description></item>
/// <item><term><see cref="MiaedOptions.ScoreColumnName"/> (output)</term><description>float (Single) in [0, ln 2]: JS(p, q), higher = more adversarial</description></item>
/// <item><term><see cref="MiaedOptions.FlagColumnName"/> (output)</term><description>Boolean: score &gt; threshold (or, with <see cref="MiaedDetectionRule.ArgmaxMismatch"/>, argmax p ≠ argmax q)</description></item>
/// </list>
/// <para>Bad input: a missing image or probabilities column, an image without a shape or of a shape the encoder cannot
/// take, a probabilities column that is not a float vector of length K (= <see cref="MiaedOptions.ClassCount"/> when
/// set), a label that is not Int32 fail in GetOutputSchema and Fit, naming the column, what was expected and what was
/// found; a missing label fails in Fit only (GetOutputSchema describes the transformer, which needs no label), as do
/// pixels outside [0, 1], labels outside [0, K), non-finite probabilities and fewer than <see cref="MinimumTrainingImages"/> rows fail
/// in Fit. Progress goes to <see cref="MiaedOptions.Progress"/> and the context's log; <see cref="MiaedOptions.CancellationToken"/>
/// stops Fit (everything built is freed; with <see cref="MiaedOptions.CheckpointPath"/> the autoencoder's state after its
/// last completed epoch stays in that file and the next Fit resumes from it, bit for bit). The seed is applied with <c>torch.manual_seed</c> (libtorch's global generator).</para>
/// </remarks>
public sealed class MiaedEstimator : DefenseEstimator<MiaedOptions, MiaedTransformer>
{
    /// <summary>Below this many rows Fit throws: the networks would train, and the threshold be calibrated, on a handful of images.</summary>
    public const int MinimumTrainingImages = 20;

    internal const string LogSource = "MIAED";

    /// <summary>Creates the estimator in an ML.NET environment (the catalog's <c>ml.Transforms.Defenses.Miaed</c> methods call this).</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public MiaedEstimator(IHostEnvironment environment, MiaedOptions options) : base(environment, LogSource, options, CheckOptions)
    {
    }

    /// <summary>
    /// The columns Fit's transformer adds. A schema shape has no vector dimensions: this checks that the image and the
    /// probabilities are known-size Single vectors (and the label's type when present); shapes are checked by Fit and Transform.
    /// </summary>
    /// <exception cref="ArgumentException">A column is missing or of the wrong type (the message names it).</exception>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ImageColumns.Check(inputSchema, Options.ImageColumnName, "the image MIAED encodes");
        string name = Options.ProbabilitiesColumnName;
        var found = inputSchema.Where(c => c.Name == name).ToArray();
        if (found.Length == 0 || found[0].Kind != SchemaShape.Column.VectorKind.Vector || found[0].ItemType != NumberDataViewType.Single)
            throw new ArgumentException($"Column '{name}' (the target model's probabilities): expected a Single vector [K] of class probabilities, e.g. a classifier's Score; " +
                (found.Length == 0 ? $"it was not found. The schema has: {string.Join(", ", inputSchema.Select(c => c.Name))}." : $"found {found[0].Kind} of {found[0].ItemType}."));
        var label = inputSchema.Where(c => c.Name == Options.LabelColumnName).ToArray();
        if (label.Length > 0 && !(label[0].Kind == SchemaShape.Column.VectorKind.Scalar && (label[0].IsKey || label[0].ItemType == NumberDataViewType.Int32)))
            throw new ArgumentException($"Column '{Options.LabelColumnName}' (the label): expected a key (MapValueToKey) or Int32 class labels 0..K−1, found {label[0].Kind} of {label[0].ItemType}.");
        return MLNet.SchemaShapes.Append(inputSchema, MiaedTransformer.AddedColumns(Options).Select(c => MLNet.SchemaShapes.Of(c.Name, c.Type)));
    }

    /// <summary>Checks the data, holds out the calibration rows, trains the autoencoder and the simple network on the others, and calibrates the threshold on the held-out rows.</summary>
    /// <exception cref="ArgumentException">Bad input (the message names the column, the expectation and what was found).</exception>
    /// <exception cref="OperationCanceledException"><see cref="MiaedOptions.CancellationToken"/> was cancelled.</exception>
    public override MiaedTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var shape = ImageColumns.Check(input.Schema, Options.ImageColumnName, null, "the image MIAED encodes", "");
        ResolveArchitecture(Options, shape);
        int classCount = ProbabilityColumns.Check(input.Schema, Options.ProbabilitiesColumnName, Options.ClassCount);
        var labelKind = LabelColumns.Check(input.Schema, Options.LabelColumnName, "the label the simple network learns, needed by Fit");
        var token = Options.CancellationToken;
        token.ThrowIfCancellationRequested();
        string imageName = Options.ImageColumnName, labelName = Options.LabelColumnName, probabilitiesName = Options.ProbabilitiesColumnName;
        var batches = DataViewBatches.Read(input, [imageName, labelName, probabilitiesName], 4096, token)
            .Select(b => (b.Get<float>(imageName), LabelColumns.Classes(b, labelName, labelKind), b.Get<float>(probabilitiesName), b.FirstPosition));
        var selection = Options.SimpleNetworkSelectionData is { } view ? GatherSelection(view, shape, classCount) : default((float[] Pixels, int[] Labels)?);
        return FitCore(shape, classCount, Gather(batches, shape, classCount), selection);
    }

    /// <summary>
    /// The selection images of <see cref="MiaedOptions.SimpleNetworkSelectionData"/> and their labels, checked as the training
    /// rows are; a problem is reported with the option's name in front.
    /// </summary>
    private (float[] Pixels, int[] Labels) GatherSelection(IDataView view, ImageShape shape, int classCount)
    {
        try
        {
            string imageName = Options.ImageColumnName, labelName = Options.LabelColumnName;
            ImageColumns.Check(view.Schema, imageName, shape, "the selection image", "the shape of the training images");
            var kind = LabelColumns.Check(view.Schema, labelName, "the selection label");
            var pixels = new List<float>();
            var labels = new List<int>();
            foreach (var batch in DataViewBatches.Read(view, [imageName, labelName], 4096, Options.CancellationToken))
            {
                var batchPixels = batch.Get<float>(imageName);
                var batchLabels = LabelColumns.Classes(batch, labelName, kind);
                ImageColumns.CheckPixelRange(batchPixels, shape.Size, labels.Count, imageName);
                LabelColumns.CheckRange(batchLabels, classCount, labels.Count, labelName);
                pixels.AddRange(batchPixels);
                labels.AddRange(batchLabels);
            }
            if (labels.Count == 0) throw new ArgumentException("it has no rows; give labelled images, or leave it null for the fixed epochs.");
            return ([.. pixels], [.. labels]);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{nameof(MiaedOptions)}.{nameof(MiaedOptions.SimpleNetworkSelectionData)}: {e.Message}", e);
        }
    }

    internal static void CheckOptions(MiaedOptions o)
    {
        var rules = new OptionRules(nameof(MiaedOptions));
        static bool NonNegative(double v) => v >= 0 && double.IsFinite(v);
        rules.Require(o.CheckpointPath is null || !string.IsNullOrWhiteSpace(o.CheckpointPath), nameof(o.CheckpointPath), o.CheckpointPath, "must be a file path (or null for no checkpoint)");
        rules.Require(!o.KeepCheckpoint || o.CheckpointPath is not null, nameof(o.KeepCheckpoint), o.KeepCheckpoint, "needs a CheckpointPath to keep");
        rules.Require(o.TargetFalsePositiveRate is >= 0 and < 1, nameof(o.TargetFalsePositiveRate), o.TargetFalsePositiveRate, "(a target false-positive rate) must be in [0, 1)");
        rules.Require(o.CalibrationFraction is > 0 and <= 0.5, nameof(o.CalibrationFraction), o.CalibrationFraction, "(the share of rows held out for calibration) must be in (0, 0.5]");
        rules.Require(o.ClassCount is null or >= 2, nameof(o.ClassCount), o.ClassCount, "must be at least 2");
        rules.Require(Enum.IsDefined(o.DetectionRule), nameof(o.DetectionRule), o.DetectionRule, "must be a known rule");
        rules.Require(o.BaseChannels is null or >= 1, nameof(o.BaseChannels), o.BaseChannels, "must be at least 1 (or null for Table 3's width)");
        rules.Require(o.LatentDimension >= 1, nameof(o.LatentDimension), o.LatentDimension, "must be at least 1");
        rules.Require(o.DiscriminatorHiddenUnits >= 1, nameof(o.DiscriminatorHiddenUnits), o.DiscriminatorHiddenUnits, "must be at least 1");
        rules.Require(NonNegative(o.GlobalMiWeight), nameof(o.GlobalMiWeight), o.GlobalMiWeight, "must be finite and ≥ 0");
        rules.Require(NonNegative(o.LocalMiWeight), nameof(o.LocalMiWeight), o.LocalMiWeight, "must be finite and ≥ 0");
        rules.Require(NonNegative(o.PriorWeight), nameof(o.PriorWeight), o.PriorWeight, "must be finite and ≥ 0");
        rules.Require(NonNegative(o.ReconstructionWeight), nameof(o.ReconstructionWeight), o.ReconstructionWeight, "must be finite and ≥ 0");
        rules.Require(NonNegative(o.NoiseReconstructionWeight), nameof(o.NoiseReconstructionWeight), o.NoiseReconstructionWeight, "must be finite and ≥ 0");
        rules.Require(NonNegative(o.LatentNoiseStandardDeviation), nameof(o.LatentNoiseStandardDeviation), o.LatentNoiseStandardDeviation, "must be finite and ≥ 0");
        rules.Require(o.PriorStandardDeviation > 0 && double.IsFinite(o.PriorStandardDeviation), nameof(o.PriorStandardDeviation), o.PriorStandardDeviation, "must be finite and positive");
        rules.Require(NonNegative(o.GradientPenaltyWeight), nameof(o.GradientPenaltyWeight), o.GradientPenaltyWeight, "must be finite and ≥ 0");
        rules.Require(o.Epochs >= 0, nameof(o.Epochs), o.Epochs, "must be ≥ 0");
        rules.Require(o.BatchSize >= 2, nameof(o.BatchSize), o.BatchSize, "must be at least 2 (the MI terms pair images within a batch)");
        rules.Require(o.LearningRate > 0 && double.IsFinite(o.LearningRate), nameof(o.LearningRate), o.LearningRate, "must be positive");
        rules.Require(o.AdamBeta1 is >= 0 and < 1, nameof(o.AdamBeta1), o.AdamBeta1, "must be in [0, 1)");
        rules.Require(o.AdamBeta2 is >= 0 and < 1, nameof(o.AdamBeta2), o.AdamBeta2, "must be in [0, 1)");
        rules.Require(o.SimpleNetworkHiddenUnits is not null && o.SimpleNetworkHiddenUnits.All(u => u >= 1), nameof(o.SimpleNetworkHiddenUnits), o.SimpleNetworkHiddenUnits, "must list positive layer widths");
        rules.Require(o.SimpleNetworkDropout is >= 0 and < 1, nameof(o.SimpleNetworkDropout), o.SimpleNetworkDropout, "must be in [0, 1)");
        rules.Require(o.SimpleNetworkEpochs >= 1, nameof(o.SimpleNetworkEpochs), o.SimpleNetworkEpochs, "must be at least 1");
        rules.Require(o.SimpleNetworkLearningRate > 0 && double.IsFinite(o.SimpleNetworkLearningRate), nameof(o.SimpleNetworkLearningRate), o.SimpleNetworkLearningRate, "must be positive");
        OptionRules.RequireColumnNames("MIAED", [o.ImageColumnName, o.ProbabilitiesColumnName, o.LabelColumnName],
            ("score", o.ScoreColumnName), ("flag", o.FlagColumnName));
    }

    /// <summary>The network sizes for an image shape (Table 3); throws naming the image column when the shape does not fit its two poolings.</summary>
    internal static MiaedArchitecture ResolveArchitecture(MiaedOptions o, ImageShape shape)
    {
        const int divisor = 1 << MiaedArchitecture.Poolings;
        if (shape.Height % divisor != 0 || shape.Width % divisor != 0 || shape.Height < divisor || shape.Width < divisor)
            throw new ArgumentException($"Column '{o.ImageColumnName}': MIAED's encoder (Table 3) halves the image with {MiaedArchitecture.Poolings} 2x2 max poolings and needs " +
                $"a height and width divisible by {divisor} (e.g. 1x28x28 for MNIST, 3x32x32 for CIFAR-10); found {shape}.");
        return new MiaedArchitecture(shape, o.BaseChannels ?? MiaedArchitecture.DefaultBaseChannels(shape), o.LatentDimension, o.DiscriminatorHiddenUnits);
    }

    private MiaedTransformer FitCore(ImageShape shape, int classCount, (float[] Pixels, int[] Labels, float[] Probabilities) data,
        (float[] Pixels, int[] Labels)? selectionData)
    {
        var token = Options.CancellationToken;
        var (pixels, labels, probabilities) = data;
        int seed = Options.Seed ?? Fitting.NextSeed();
        var (trainRows, calibrationRows) = SplitCalibration(labels.Length, Options.CalibrationFraction, seed);
        var train = Subset(pixels, labels, probabilities, trainRows, shape.Size, classCount);
        var calibration = Subset(pixels, labels, probabilities, calibrationRows, shape.Size, classCount);
        pixels = [];
        var device = Fitting.Device;
        torch.manual_seed((uint)seed);
        Fitting.Log(LogSource, $"{labels.Length} rows: {trainRows.Length} train the networks, {calibrationRows.Length} are held out to calibrate the threshold");

        using var networks = new PendingNetworks();
        MiaedEncoder encoder;
        int rows = trainRows.Length;
        using var images = torch.tensor(train.Pixels, [rows, shape.Channels, shape.Height, shape.Width], device: device);
        var checkpoint = TrainingCheckpoint.Create(Options.CheckpointPath, "MIAED", shape, train.Pixels, rows, seed, device, CheckpointSettings(shape));
        using (var autoencoder = new MiaedAutoencoder(Options, shape, device))
        {
            TrainAutoencoder(autoencoder, images, checkpoint, token);
            encoder = networks.Add(autoencoder.TakeEncoder());
        }
        using var latents = MiaedTransformer.Encode(encoder, images);
        using var targets = torch.tensor(Array.ConvertAll(train.Labels, l => (long)l), [rows], device: device);
        var simpleNetwork = networks.Add(new MiaedSimpleNetwork(Options.LatentDimension, Options.SimpleNetworkHiddenUnits, Options.SimpleNetworkDropout, classCount));
        simpleNetwork.to(device);
        SimpleNetworkSelection? selection = null;
        if (selectionData is { } sd)
        {
            using var selectionImages = torch.tensor(sd.Pixels, [sd.Labels.Length, shape.Channels, shape.Height, shape.Width], device: device);
            using var selectionLatents = MiaedTransformer.Encode(encoder, selectionImages);
            using var selectionTargets = torch.tensor(Array.ConvertAll(sd.Labels, l => (long)l), [sd.Labels.Length], device: device);
            selection = TrainSimpleNetwork(simpleNetwork, latents, targets, (selectionLatents, selectionTargets), token);
        }
        else TrainSimpleNetwork(simpleNetwork, latents, targets, null, token);
        var onTraining = Measure(simpleNetwork, latents, targets, train.Probabilities, rows, classCount, device);

        using var calibrationImages = torch.tensor(calibration.Pixels, [calibrationRows.Length, shape.Channels, shape.Height, shape.Width], device: device);
        using var calibrationLatents = MiaedTransformer.Encode(encoder, calibrationImages);
        using var calibrationTargets = torch.tensor(Array.ConvertAll(calibration.Labels, l => (long)l), [calibrationRows.Length], device: device);
        var onCalibration = Measure(simpleNetwork, calibrationLatents, calibrationTargets, calibration.Probabilities, calibrationRows.Length, classCount, device);
        float threshold = (float)ThresholdCalibration.ForFalsePositiveRate(onCalibration.Scores, Options.TargetFalsePositiveRate);
        var info = new MiaedModelInfo
        {
            Channels = shape.Channels, Height = shape.Height, Width = shape.Width,
            Networks = MiaedArchitecture.Design,
            BaseChannels = ResolveArchitecture(Options, shape).BaseChannels,
            ClassCount = classCount,
            Threshold = threshold,
            TrainingImageCount = rows,
            CalibrationImageCount = calibrationRows.Length,
            CalibrationFalsePositiveRate = ThresholdCalibration.FlaggedFraction(onCalibration.Scores, threshold),
            TrainingFalsePositiveRate = ThresholdCalibration.FlaggedFraction(onTraining.Scores, threshold),
            SimpleNetworkTrainingAccuracy = onTraining.Accuracy,
            SimpleNetworkCalibrationAccuracy = onCalibration.Accuracy,
            TrainingArgmaxAgreement = onTraining.ArgmaxAgreement,
            CalibrationArgmaxAgreement = onCalibration.ArgmaxAgreement,
            Seed = seed,
            SimpleNetworkSelectedEpoch = selection?.Epoch,
            SimpleNetworkTrainedEpochs = selection?.TrainedEpochs,
            SimpleNetworkSelectionLoss = selection?.Loss,
            SimpleNetworkSelectionAccuracy = selection?.Accuracy,
            SelectionImageCount = selectionData?.Labels.Length,
        };
        Fitting.Log(LogSource, info.ToString());
        var fitted = networks.HandOver(new MiaedTransformer(Options with { CheckpointPath = null, KeepCheckpoint = false }, info, encoder, simpleNetwork, device));
        if (!Options.KeepCheckpoint) checkpoint?.Delete();
        return fitted;
    }

    /// <summary>The settings that shape the autoencoder's training, which a checkpoint must have been written with to be resumed.</summary>
    private JsonObject CheckpointSettings(ImageShape shape)
    {
        var a = ResolveArchitecture(Options, shape);
        var o = Options;
        return new JsonObject
        {
            ["networks"] = MiaedArchitecture.Design,
            ["base_channels"] = a.BaseChannels,
            ["latent_dimension"] = a.LatentDimension,
            ["discriminator_hidden_units"] = a.DiscriminatorHiddenUnits,
            ["global_mi"] = o.UseGlobalMi,
            ["local_mi"] = o.UseLocalMi,
            ["prior_matching"] = o.UsePriorMatching,
            ["weights"] = $"α {o.GlobalMiWeight} β {o.LocalMiWeight} γ {o.PriorWeight} ε {o.ReconstructionWeight} δ {o.NoiseReconstructionWeight}",
            ["latent_noise"] = o.LatentNoiseStandardDeviation,
            ["prior_standard_deviation"] = o.PriorStandardDeviation,
            ["gradient_penalty_weight"] = o.GradientPenaltyWeight,
            ["batch_size"] = o.BatchSize,
            ["learning_rate"] = o.LearningRate,
            ["adam_betas"] = $"{o.AdamBeta1} {o.AdamBeta2}",
        };
    }

    /// <summary>
    /// Splits row indices 0..n−1 at random (seeded) into training rows and max(1, round(fraction · n)) calibration rows,
    /// each in ascending order.
    /// </summary>
    internal static (int[] Train, int[] Calibration) SplitCalibration(int rows, double fraction, int seed)
    {
        int calibrationCount = Math.Max(1, (int)Math.Round(fraction * rows, MidpointRounding.AwayFromZero));
        var order = Enumerable.Range(0, rows).ToArray();
        new Random(seed).Shuffle(order);
        var calibration = order[..calibrationCount];
        var train = order[calibrationCount..];
        Array.Sort(calibration);
        Array.Sort(train);
        return (train, calibration);
    }

    private static (float[] Pixels, int[] Labels, float[] Probabilities) Subset(float[] pixels, int[] labels, float[] probabilities, int[] rows, int imageSize, int classCount)
    {
        var subsetPixels = new float[(long)rows.Length * imageSize];
        var subsetLabels = new int[rows.Length];
        var subsetProbabilities = new float[rows.Length * classCount];
        for (int i = 0; i < rows.Length; i++)
        {
            int row = rows[i];
            Array.Copy(pixels, (long)row * imageSize, subsetPixels, (long)i * imageSize, imageSize);
            subsetLabels[i] = labels[row];
            Array.Copy(probabilities, row * classCount, subsetProbabilities, i * classCount, classCount);
        }
        return (subsetPixels, subsetLabels, subsetProbabilities);
    }

    /// <summary>On a set of latents: the JS scores against the target model's probabilities, the simple network's accuracy, and the argmax agreement.</summary>
    private static (float[] Scores, double Accuracy, double ArgmaxAgreement) Measure(MiaedSimpleNetwork network, Tensor latents, Tensor targets,
        float[] probabilities, int rows, int classCount, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var p = torch.tensor(probabilities, [rows, classCount], device: device);
        var q = MiaedTransformer.Classify(network, latents);
        var scores = MiaedScoring.JensenShannonDivergence(p, q).cpu().data<float>().ToArray();
        var predicted = q.argmax(1);
        double accuracy = predicted.eq(targets).to(ScalarType.Float64).mean().ToDouble();
        double agreement = predicted.eq(p.argmax(1)).to(ScalarType.Float64).mean().ToDouble();
        return (scores, accuracy, agreement);
    }

    private void TrainAutoencoder(MiaedAutoencoder autoencoder, Tensor images, TrainingCheckpoint? checkpoint, CancellationToken token)
    {
        long rows = images.size(0);
        int batchSize = (int)Math.Min(Options.BatchSize, rows);
        // A trailing batch of one image is skipped: the MI terms need a second image, and batch norm two values.
        int batchesPerEpoch = (int)(rows / batchSize) + (rows % batchSize >= 2 ? 1 : 0);
        int reportEvery = Math.Max(1, batchesPerEpoch / 20);
        var clock = Stopwatch.StartNew();
        Fitting.Log(LogSource, $"training the MI dual autoencoder on {autoencoder.Device}: {rows} images, {Options.Epochs} epochs, batch {batchSize}, " +
            $"global MI {(Options.UseGlobalMi ? "on" : "off")}, local MI {(Options.UseLocalMi ? "on" : "off")}, prior matching {(Options.UsePriorMatching ? "on" : "off")}");
        var (modules, optimizers) = autoencoder.CheckpointParts();
        int resumed = checkpoint?.Restore(modules, optimizers, Options.Epochs) ?? 0;
        if (resumed > 0) Fitting.Log(LogSource, $"resumed from the checkpoint {checkpoint!.FilePath} after autoencoder epoch {resumed} of {Options.Epochs}");
        for (int epoch = resumed + 1; epoch <= Options.Epochs; epoch++)
        {
            using var order = torch.randperm(rows, device: images.device);
            var sums = new LossSums();
            for (int batch = 0; batch < batchesPerEpoch; batch++)
            {
                token.ThrowIfCancellationRequested();
                long start = (long)batch * batchSize;
                long count = Math.Min(batchSize, rows - start);
                MiaedLossTerms terms;
                using (torch.NewDisposeScope())
                {
                    var selected = images.index_select(0, order.narrow(0, start, count));
                    terms = autoencoder.TrainStep(selected);
                }
                sums.Add(terms);
                int done = batch + 1;
                bool epochEnd = done == batchesPerEpoch;
                if (epochEnd) checkpoint?.Write(epoch, modules, optimizers);
                if (epochEnd || (Options.Progress is not null && done % reportEvery == 0))
                {
                    // The estimate rests on this run's steps only: a resumed run did not time the epochs before it.
                    long stepsDone = (long)(epoch - 1 - resumed) * batchesPerEpoch + done;
                    long stepsLeft = (long)(Options.Epochs - epoch) * batchesPerEpoch + batchesPerEpoch - done;
                    var report = sums.Report(epoch, Options.Epochs, done, batchesPerEpoch, clock.Elapsed, Remaining(clock.Elapsed, stepsDone, stepsDone + stepsLeft), epochEnd);
                    Options.Progress?.Report(report);
                    if (epochEnd) Fitting.Log(LogSource, report.ToString());
                }
            }
        }
    }

    private static TimeSpan Remaining(TimeSpan elapsed, long done, long total) =>
        done == 0 ? TimeSpan.Zero : TimeSpan.FromTicks((long)(elapsed.Ticks / (double)done * (total - done)));

    /// <summary>Running means of the loss terms within one epoch.</summary>
    private sealed class LossSums
    {
        private int count;
        private double total, reconstruction, noise;
        private double? global, local, prior, critic;

        public void Add(MiaedLossTerms t)
        {
            count++;
            total += t.Total;
            reconstruction += t.Reconstruction;
            noise += t.NoiseReconstruction;
            global = Sum(global, t.GlobalMi);
            local = Sum(local, t.LocalMi);
            prior = Sum(prior, t.PriorLoss);
            critic = Sum(critic, t.CriticLoss);
        }

        private static double? Sum(double? sum, double? value) => value is { } v ? (sum ?? 0) + v : sum;

        public MiaedTrainingProgress Report(int epoch, int epochs, int batch, int batches, TimeSpan elapsed, TimeSpan remaining, bool completed) =>
            new(MiaedTrainingStage.Autoencoder, epoch, epochs, batch, batches, total / count, global / count, local / count, prior / count,
                critic / count, reconstruction / count, noise / count, null, elapsed, remaining, completed);
    }

    /// <summary>Where the selection stopped: the kept epoch, the epochs trained, and the kept weights' loss and accuracy on the selection latents.</summary>
    private sealed record SimpleNetworkSelection(int Epoch, int TrainedEpochs, double Loss, double Accuracy);

    /// <summary>
    /// Trains the simple network on frozen latents with cross-entropy (it is left in evaluation mode). With selection latents
    /// (<see cref="MiaedOptions.SimpleNetworkSelectionData"/>): after each epoch their loss steers the learning rate and
    /// stops the training, and the best epoch's weights are kept.
    /// </summary>
    private SimpleNetworkSelection? TrainSimpleNetwork(MiaedSimpleNetwork network, Tensor latents, Tensor targets, (Tensor Latents, Tensor Targets)? selection,
        CancellationToken token)
    {
        long rows = latents.size(0);
        int batchSize = (int)Math.Min(Options.BatchSize, rows);
        int batchesPerEpoch = (int)(rows / batchSize) + (rows % batchSize >= 2 ? 1 : 0);
        long totalSteps = (long)batchesPerEpoch * Options.SimpleNetworkEpochs;
        using var optimizer = torch.optim.Adam(network.parameters(), Options.SimpleNetworkLearningRate, Options.AdamBeta1, Options.AdamBeta2);
        var clock = Stopwatch.StartNew();
        var best = new SelectionState();
        try
        {
            int epoch;
            for (epoch = 1; epoch <= Options.SimpleNetworkEpochs; epoch++)
            {
                network.train();
                using var order = torch.randperm(rows, device: latents.device);
                double lossSum = 0;
                long correct = 0, seen = 0;
                for (int batch = 0; batch < batchesPerEpoch; batch++)
                {
                    token.ThrowIfCancellationRequested();
                    long start = (long)batch * batchSize;
                    long count = Math.Min(batchSize, rows - start);
                    using var scope = torch.NewDisposeScope();
                    var indices = order.narrow(0, start, count);
                    var logits = network.forward(latents.index_select(0, indices));
                    var batchTargets = targets.index_select(0, indices);
                    var loss = F.cross_entropy(logits, batchTargets);
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                    lossSum += loss.item<float>() * count;
                    correct += logits.argmax(1).eq(batchTargets).sum().item<long>();
                    seen += count;
                }
                double? selectionLoss = null;
                if (selection is { } s)
                {
                    network.eval();
                    var (loss, accuracy) = SelectionLoss(network, s.Latents, s.Targets);
                    selectionLoss = loss;
                    best.Observe(network, epoch, loss, accuracy, optimizer);
                }
                long stepsDone = (long)epoch * batchesPerEpoch;
                var report = new MiaedTrainingProgress(MiaedTrainingStage.SimpleNetwork, epoch, Options.SimpleNetworkEpochs, batchesPerEpoch, batchesPerEpoch,
                    lossSum / seen, null, null, null, null, null, null, correct / (double)seen, clock.Elapsed, Remaining(clock.Elapsed, stepsDone, totalSteps), true,
                    selectionLoss);
                Options.Progress?.Report(report);
                Fitting.Log(LogSource, report.ToString());
                if (best.ShouldStop(epoch))
                {
                    Fitting.Log(LogSource, $"simple network: no better selection loss for {MiaedOptions.SelectionStoppingPatience} epochs; stopped after epoch {epoch}");
                    break;
                }
            }
            network.eval();
            if (selection is null) return null;
            best.Restore(network);
            Fitting.Log(LogSource, $"simple network: kept epoch {best.Epoch} (selection loss {best.Loss:F4}, accuracy {best.Accuracy:P2})");
            return new SimpleNetworkSelection(best.Epoch, Math.Min(epoch, Options.SimpleNetworkEpochs), best.Loss, best.Accuracy);
        }
        finally
        {
            best.Dispose();
        }
    }

    /// <summary>The mean cross-entropy and the accuracy of the simple network (in evaluation mode) on the selection latents.</summary>
    private static (double Loss, double Accuracy) SelectionLoss(MiaedSimpleNetwork network, Tensor latents, Tensor targets)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var logits = network.forward(latents);
        return (F.cross_entropy(logits, targets).item<float>(), logits.argmax(1).eq(targets).to(ScalarType.Float64).mean().ToDouble());
    }

    /// <summary>
    /// The model selection of the official code's <c>train_classifier</c>, as Keras runs it: <c>EarlyStopping</c> (a new best
    /// is any lower loss; stop after <see cref="MiaedOptions.SelectionStoppingPatience"/> epochs without one; restore the best
    /// weights) and <c>ReduceLROnPlateau</c> (an improvement is a loss at least 10⁻⁴ below its own best; halve the rate after
    /// <see cref="MiaedOptions.SelectionLearningRatePatience"/> epochs without one).
    /// </summary>
    private sealed class SelectionState : IDisposable
    {
        private const double PlateauMinimumDelta = 1e-4;
        private Dictionary<string, Tensor>? weights;
        private double plateauBest = double.PositiveInfinity;
        private int plateauWait;

        public int Epoch { get; private set; }
        public double Loss { get; private set; } = double.PositiveInfinity;
        public double Accuracy { get; private set; }

        public void Observe(nn.Module network, int epoch, double loss, double accuracy, torch.optim.Optimizer optimizer)
        {
            if (loss < Loss)
            {
                (Epoch, Loss, Accuracy) = (epoch, loss, accuracy);
                Dispose();
                using (torch.no_grad()) weights = network.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
            }
            if (loss < plateauBest - PlateauMinimumDelta) (plateauBest, plateauWait) = (loss, 0);
            else if (++plateauWait >= MiaedOptions.SelectionLearningRatePatience)
            {
                foreach (var group in optimizer.ParamGroups) group.LearningRate *= 0.5;
                plateauWait = 0;
            }
        }

        public bool ShouldStop(int epoch) => weights is not null && epoch - Epoch >= MiaedOptions.SelectionStoppingPatience;

        public void Restore(nn.Module network) => network.LoadStateStrict(weights!);

        public void Dispose()
        {
            if (weights is not null)
                foreach (var tensor in weights.Values) tensor.Dispose();
            weights = null;
        }
    }

    /// <summary>The training rows in three arrays, every value checked on the way.</summary>
    private (float[] Pixels, int[] Labels, float[] Probabilities) Gather(IEnumerable<(float[] Pixels, int[] Labels, float[] Probabilities, long FirstRow)> batches,
        ImageShape shape, int classCount)
    {
        string imageName = Options.ImageColumnName, labelName = Options.LabelColumnName, probabilitiesName = Options.ProbabilitiesColumnName;
        var pixelParts = new List<float[]>();
        var labelParts = new List<int[]>();
        var probabilityParts = new List<float[]>();
        long rowsSeen = 0;
        foreach (var (pixels, labels, probabilities, _) in batches)
        {
            ImageColumns.CheckPixelRange(pixels, shape.Size, rowsSeen, imageName);
            LabelColumns.CheckRange(labels, classCount, rowsSeen, labelName, $"the length of '{probabilitiesName}'{(Options.ClassCount is null ? "" : " and ClassCount")}");
            DefenseColumns.CheckFinite(probabilities, classCount, rowsSeen, probabilitiesName, "probabilities");
            pixelParts.Add(pixels);
            labelParts.Add(labels);
            probabilityParts.Add(probabilities);
            rowsSeen += labels.Length;
        }
        if (rowsSeen < MinimumTrainingImages)
            throw new ArgumentException($"Column '{imageName}': MIAED trains on the training rows, and calibrates on a share of them held out, and needs at least {MinimumTrainingImages} of them; found {rowsSeen}.");
        if (rowsSeen * shape.Size > Array.MaxLength)
            throw new ArgumentException($"Column '{imageName}': {rowsSeen} images of {shape} do not fit in one array; train on a subset.");
        return ([.. pixelParts.SelectMany(p => p)], [.. labelParts.SelectMany(p => p)], [.. probabilityParts.SelectMany(p => p)]);
    }
}

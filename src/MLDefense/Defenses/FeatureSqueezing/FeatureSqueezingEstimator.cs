using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Evaluation;

namespace MLDefense.Defenses;

/// <summary>
/// Feature Squeezing, the prediction-inconsistency detector of Xu, Evans and Qi, "Feature Squeezing: Detecting Adversarial Examples in
/// Deep Neural Networks" (NDSS 2018) — MixDefense's baseline "FS" (Yang et al., MixDefense, Sec. 5.1, Fig. 5–6). An adversarial
/// perturbation is fragile: squeezing the input (fewer colour levels, a median filter) moves the classifier's prediction on an AE much
/// more than on a clean image.
/// </summary>
/// <remarks>
/// <para>For each image x the transformer computes, with the protected classifier f (Xu et al., Sec. 5.1, the joint detector):
/// score(x) = max over squeezers s of ‖softmax(f(x)) − softmax(f(s(x)))‖₁ ∈ [0, 2], with the squeezers
/// <see cref="FeatureSqueezers.ReduceBitDepth"/> (b = <see cref="FeatureSqueezingOptions.BitDepthFor"/>: 1 bit for grey images, 5 for
/// colour ones) and <see cref="FeatureSqueezers.MedianSmooth"/> (k = <see cref="FeatureSqueezingOptions.MedianWindow"/>, 2×2); flag =
/// score &gt; threshold. Fit scores the clean training images and sets the threshold so that at most
/// <see cref="FeatureSqueezingOptions.TargetFalsePositiveRate"/> (5%, Xu et al.'s choice) of them are flagged
/// (<see cref="ThresholdCalibration.ForFalsePositiveRate"/>); it needs no adversarial examples.</para>
/// <para>Departure: Xu et al.'s CIFAR-10 and ImageNet detectors add a third squeezer, non-local means denoising (13-3-4 and 11-3-4);
/// it is not implemented here, so on colour images this is their two-squeezer detector (bit depth and median), which their Table 5
/// reports a few points weaker on CIFAR-10.</para>
/// <para>The classifier: the detector needs f's predictions on the squeezed images, which no column carries, so it holds the
/// classifier — MLDefense's <see cref="ImageClassifierTransformer"/>, whose weights it shares (no copy in memory) and writes into its own
/// part of the model zip, so a loaded model needs nothing else. It computes softmax(f(x)) itself rather than reading the pipeline's
/// <c>Score</c> column, so that the score always compares predictions of the same network on the same image, wherever in a pipeline it
/// stands.</para>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="FeatureSqueezingOptions.ImageColumnName"/> (input)</term><description>float vector [C, H, W] of the classifier's input shape, values in [0, 1]</description></item>
/// <item><term><see cref="FeatureSqueezingOptions.ScoreColumnName"/> (output)</term><description>float (Single) in [0, 2]: higher = more adversarial</description></item>
/// <item><term><see cref="FeatureSqueezingOptions.FlagColumnName"/> (output)</term><description>Boolean: score &gt; the calibrated threshold</description></item>
/// </list>
/// <para>Bad input: a missing or non-image column fails in GetOutputSchema and Fit; an image shape other than the classifier's,
/// pixel values outside [0, 1] or NaN (naming the row), or fewer than <see cref="MinimumTrainingImages"/> images fail in Fit.</para>
/// </remarks>
public sealed class FeatureSqueezingEstimator : DefenseEstimator<FeatureSqueezingOptions, FeatureSqueezingTransformer>
{
    /// <summary>Below this many training images Fit throws: a 5% quantile of fewer scores is too coarse to calibrate.</summary>
    public const int MinimumTrainingImages = 20;

    internal const string LogSource = "FeatureSqueezing";

    private readonly ImageClassifierTransformer classifier;

    /// <summary>Creates the estimator (the catalog's <c>ml.Transforms.Defenses.FeatureSqueezing</c> methods call this).</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public FeatureSqueezingEstimator(IHostEnvironment environment, FeatureSqueezingOptions options, ImageClassifierTransformer classifier)
        : base(environment, LogSource, options, CheckOptions)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        CheckSqueezers(options, classifier.InputShape.Channels);
        this.classifier = classifier;
    }

    /// <summary>The columns Fit's transformer adds (the image column must be a Single vector; its shape is checked by Fit).</summary>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ImageColumns.Check(inputSchema, Options.ImageColumnName, "the image Feature Squeezing scores");
        return MLNet.SchemaShapes.Append(inputSchema, FeatureSqueezingTransformer.AddedColumns(Options).Select(c => MLNet.SchemaShapes.Of(c.Name, c.Type)));
    }

    /// <summary>Scores the clean training images and calibrates the threshold at the target false-positive rate.</summary>
    /// <exception cref="ArgumentException">Bad input (the message names the column and, for values, the row).</exception>
    public override FeatureSqueezingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        string column = Options.ImageColumnName;
        var shape = ImageColumns.Check(input.Schema, column, classifier.InputShape, "the image Feature Squeezing scores", "the input of the classifier it protects");
        if (input.GetRowCount() is { } known && known < MinimumTrainingImages) throw TooFewImages(known);

        int bits = Options.BitDepthFor(shape.Channels);
        var scores = new List<float>();
        long[] batchShape = [0, shape.Channels, shape.Height, shape.Width];
        long? total = input.GetRowCount();
        foreach (var batch in DataViewBatches.Read(input, [column], DefenseInference.ChunkSize, Options.CancellationToken))
        {
            Options.CancellationToken.ThrowIfCancellationRequested();
            var pixels = batch.Get<float>(column);
            ImageColumns.CheckPixelRange(pixels, shape.Size, batch.FirstPosition, column);
            batchShape[0] = batch.RowCount;
            using var scope = torch.NewDisposeScope();
            var images = torch.tensor(pixels, batchShape, device: classifier.Device);
            scores.AddRange(TensorData.ToArray(FeatureSqueezers.Score(classifier, images, bits, Options.MedianWindow)));
            Options.Progress?.Report((scores.Count, total));
        }
        if (scores.Count < MinimumTrainingImages) throw TooFewImages(scores.Count);

        var span = CollectionsMarshal.AsSpan(scores);
        float threshold = (float)ThresholdCalibration.ForFalsePositiveRate(span, Options.TargetFalsePositiveRate);
        var sorted = scores.Order().ToArray();
        var calibration = new FeatureSqueezingCalibration
        {
            Threshold = threshold,
            Channels = shape.Channels, Height = shape.Height, Width = shape.Width,
            BitDepth = bits,
            MedianWindow = Options.MedianWindow,
            TrainingImageCount = scores.Count,
            TargetFalsePositiveRate = Options.TargetFalsePositiveRate,
            TrainingFalsePositiveRate = ThresholdCalibration.FlaggedFraction(span, threshold),
            CleanMedianScore = sorted[sorted.Length / 2],
        };
        Fitting.Log(LogSource, calibration.ToString());
        return new FeatureSqueezingTransformer(Options, calibration, classifier.Share());
    }

    private ArgumentException TooFewImages(long count) =>
        new($"Column '{Options.ImageColumnName}': Feature Squeezing calibrates its threshold on at least {MinimumTrainingImages} clean images; the data has {count}.");

    internal static void CheckOptions(FeatureSqueezingOptions o)
    {
        var rules = new OptionRules(nameof(FeatureSqueezingOptions));
        rules.Require(o.TargetFalsePositiveRate is >= 0 and < 1, nameof(o.TargetFalsePositiveRate), o.TargetFalsePositiveRate, "(a target false-positive rate) must be in [0, 1)");
        rules.Require(o.BitDepth is null or (>= 0 and <= 8), nameof(o.BitDepth), o.BitDepth, "must be null (the image type's default), 0 (no bit-depth squeezer) or 1 to 8");
        rules.Require(o.MedianWindow is >= 0 and <= 8, nameof(o.MedianWindow), o.MedianWindow, "must be 0 (no median squeezer) or 1 to 8");
        OptionRules.RequireColumnNames("Feature Squeezing", [o.ImageColumnName], ("score", o.ScoreColumnName), ("flag", o.FlagColumnName));
    }

    internal static void CheckSqueezers(FeatureSqueezingOptions o, int channels)
    {
        if (o.BitDepthFor(channels) == 0 && o.MedianWindow == 0)
            throw new ArgumentException($"{nameof(FeatureSqueezingOptions)}: BitDepth and MedianWindow are both 0; Feature Squeezing needs at least one squeezer.", "options");
    }
}

/// <summary>What <see cref="FeatureSqueezingEstimator.Fit"/> measured: the threshold and the squeezers it was calibrated with. Saved with the model.</summary>
public sealed record FeatureSqueezingCalibration : IFittedImageDefense
{
    /// <summary>The decision threshold: an image is flagged when its score is &gt; this value.</summary>
    public float Threshold { get; init; }
    /// <summary>The image shape calibrated on (the classifier's input).</summary>
    public int Channels { get; init; }
    /// <summary>See <see cref="Channels"/>.</summary>
    public int Height { get; init; }
    /// <summary>See <see cref="Channels"/>.</summary>
    public int Width { get; init; }
    /// <summary>The bit depth used (0 = no bit-depth squeezer).</summary>
    public int BitDepth { get; init; }
    /// <summary>The median window used (0 = no median squeezer).</summary>
    public int MedianWindow { get; init; }
    /// <summary>The clean training images scored.</summary>
    public int TrainingImageCount { get; init; }
    /// <summary>The false-positive rate asked for.</summary>
    public double TargetFalsePositiveRate { get; init; }
    /// <summary>The fraction of the clean training images the threshold flags (≤ the target).</summary>
    public double TrainingFalsePositiveRate { get; init; }
    /// <summary>The median score of the clean training images.</summary>
    public float CleanMedianScore { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"threshold {Threshold:G6} on {TrainingImageCount} clean {Channels}x{Height}x{Width} images (bit depth {BitDepth}, median {MedianWindow}x{MedianWindow}): " +
        $"FPR {TrainingFalsePositiveRate:P2} (target {TargetFalsePositiveRate:P2}), median clean score {CleanMedianScore:G4}";
}

using System.Runtime.InteropServices;
using MLDefense.Evaluation;
using MLDefense.Data;
using MLDefense.Torch;

namespace MLDefense.Defenses;

/// <summary>
/// SAEC, the "simple adversarial example catcher" of MixDefense's large-perturbation layer (LP-Defense): Yang et
/// al., "MixDefense: A Defense-in-Depth Framework for Adversarial Example Detection Based on Statistical and
/// Semantic Analysis", Sec. 3 and Sec. 5.3. It scores how much high-frequency colour noise an image carries; clean
/// photographs carry little, large adversarial perturbations a lot. Fitting needs no adversarial examples.
/// </summary>
/// <remarks>
/// <para>For each image x [C, H, W] (<see cref="SaecScoring"/> does the tensor work, batched on the context's device):</para>
/// <list type="number">
/// <item><description>Eq. 1, pseudo-saturation map: x_stau = (Σ_c |x_c − x_mean|^p)^(1/p), x_mean the per-pixel mean
/// over the channels, p = <see cref="SaecOptions.SaturationExponent"/> (8). Single-channel images follow
/// <see cref="SaecOptions.GreyscalePolicy"/> (their Eq. 1 map would be 0).</description></item>
/// <item><description>Linear filtering with a steganalysis high-pass kernel, <see cref="SaecOptions.ResidualFilter"/>
/// (the SRM "KV" 5×5 kernel by default; the paper does not name one), without padding.</description></item>
/// <item><description>Eq. 2, noise level V = Var(H), H the histogram of the residuals over L =
/// <see cref="SaecOptions.HistogramBinCount"/> bins on [<see cref="SaecOptions.HistogramMinimum"/>,
/// <see cref="SaecOptions.HistogramMaximum"/>).</description></item>
/// <item><description>Score s = 1 − V / V_max ∈ [0, 1], V_max = (L − 1)/L²: clean images have peaked histograms (high
/// V, low score), noisy and adversarial ones flat histograms (low V, high score). Flag = s &gt; threshold.</description></item>
/// </list>
/// <para>Fit (Sec. 5.3) scores the clean training images and the same images with uniform noise U[−a, a] added
/// (a = <see cref="SaecOptions.NoiseAmplitude"/>, seeded from <see cref="SaecOptions.Seed"/> or the context), sets the
/// threshold with <see cref="ThresholdCalibration.ForFalsePositiveRate"/> so that at most
/// <see cref="SaecOptions.TargetFalsePositiveRate"/> of the clean images are flagged, and records in
/// <see cref="SaecTransformer.Calibration"/> (and the context's log) the separation achieved on the noisy images.</para>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="SaecOptions.ImageColumnName"/> (input)</term><description>float vector [C, H, W] with an image shape, values in [0, 1]; H, W at least the kernel size</description></item>
/// <item><term><see cref="SaecOptions.ScoreColumnName"/> (output)</term><description>float (Single) in [0, 1]: the SAEC score, higher = more adversarial</description></item>
/// <item><term><see cref="SaecOptions.FlagColumnName"/> (output)</term><description>Boolean: score &gt; the calibrated threshold (detected as adversarial)</description></item>
/// </list>
/// <para>Bad input: a missing column, a column that is not an image, an image smaller than the kernel or (with
/// <see cref="SaecGreyscalePolicy.Reject"/>) a single-channel image fail in GetOutputSchema and Fit; values outside
/// [0, 1] or NaN fail in Fit, naming the row. Calibration needs at least <see cref="MinimumTrainingImages"/> images
/// (fewer throws); below <see cref="RecommendedTrainingImages"/>, or when fewer than 10 clean scores lie above a
/// target-rate quantile, Fit logs a warning, because the empirical quantile is then too coarse to hit the target.</para>
/// </remarks>
public sealed class SaecEstimator : IEstimator<SaecTransformer>
{
    /// <summary>Below this many training images Fit throws: the threshold would be the largest of a handful of scores.</summary>
    public const int MinimumTrainingImages = 50;

    /// <summary>Below this many training images Fit logs a warning: the calibrated rate is only roughly the target.</summary>
    public const int RecommendedTrainingImages = 300;

    internal const string LogSource = "SAEC";
    internal const int ScoringBatchSize = 256;

    private readonly MLContext context;
    private readonly SaecOptions options;

    /// <summary>Creates the estimator (the catalog's <c>ml.Transforms.Defenses.Saec</c> methods call this).</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public SaecEstimator(MLContext context, SaecOptions options)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        CheckOptions(options);
        this.context = context;
        this.options = options;
    }

    /// <summary>The options this estimator fits with.</summary>
    public SaecOptions Options => options;

    internal static void CheckOptions(SaecOptions o)
    {
        void Require(bool ok, string name, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"SaecOptions.{name} {rule}.");
        }
        Require(o.TargetFalsePositiveRate is >= 0 and < 1, nameof(o.TargetFalsePositiveRate), o.TargetFalsePositiveRate, "(a target false-positive rate) must be in [0, 1)");
        Require(o.SaturationExponent >= 1 && double.IsFinite(o.SaturationExponent), nameof(o.SaturationExponent), o.SaturationExponent, "must be a finite number ≥ 1");
        Require(Enum.IsDefined(o.ResidualFilter), nameof(o.ResidualFilter), o.ResidualFilter, "must be a known filter");
        Require(Enum.IsDefined(o.GreyscalePolicy), nameof(o.GreyscalePolicy), o.GreyscalePolicy, "must be a known policy");
        Require(o.HistogramBinCount >= 2, nameof(o.HistogramBinCount), o.HistogramBinCount, "must be at least 2");
        Require(double.IsFinite(o.HistogramMinimum) && double.IsFinite(o.HistogramMaximum) && o.HistogramMinimum < o.HistogramMaximum,
            nameof(o.HistogramMaximum), o.HistogramMaximum, $"must be finite and above HistogramMinimum ({o.HistogramMinimum})");
        Require(o.NoiseAmplitude is >= 0 and <= 1, nameof(o.NoiseAmplitude), o.NoiseAmplitude, "must be in [0, 1]");
        var names = new[] { o.ImageColumnName, o.ScoreColumnName, o.FlagColumnName };
        if (names.Any(string.IsNullOrWhiteSpace)) throw new ArgumentException("SAEC column names must not be empty.", nameof(o));
        if (o.ScoreColumnName == o.FlagColumnName)
            throw new ArgumentException($"SAEC's score and flag columns need distinct names; both are '{o.ScoreColumnName}'.", nameof(o));
    }

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckImageColumn(inputSchema, options, requiredShape: null);
        return inputSchema.Append(SaecTransformer.OutputColumns(options));
    }

    /// <summary>Checks the data, scores the clean and the noisy training images, and calibrates the threshold.</summary>
    /// <exception cref="ArgumentException">Bad input (the message names the column and, for values, the row).</exception>
    public SaecTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var shape = CheckImageColumn(input.Schema, options, requiredShape: null);
        if (input.GetRowCount() is { } known && known < MinimumTrainingImages) throw TooFewImages(known);

        int seed = options.Seed ?? context.NextSeed();
        var device = context.Device;
        bool withNoise = options.NoiseAmplitude > 0;
        var noise = new Random(seed);
        var cleanScores = new List<float>();
        var noisyScores = new List<float>();
        string column = options.ImageColumnName;
        long[] batchShape = [0, shape.Channels, shape.Height, shape.Width];

        foreach (var batch in input.GetBatches(ScoringBatchSize, [column]))
        {
            var pixels = batch.Get<float>(column);
            CheckPixels(pixels, shape, batch.FirstRow, column);
            batchShape[0] = batch.RowCount;
            using var scope = torch.NewDisposeScope();
            var images = torch.tensor(pixels, batchShape, device);
            cleanScores.AddRange(SaecScoring.Scores(images, options).cpu().data<float>());
            if (withNoise)
            {
                var noisy = (images + torch.tensor(UniformNoise(noise, pixels.Length, options.NoiseAmplitude), batchShape, device)).clamp(0, 1);
                noisyScores.AddRange(SaecScoring.Scores(noisy, options).cpu().data<float>());
            }
        }
        if (cleanScores.Count < MinimumTrainingImages) throw TooFewImages(cleanScores.Count);
        WarnWhenCalibrationIsCoarse(cleanScores.Count);

        float threshold = (float)ThresholdCalibration.ForFalsePositiveRate(CollectionsMarshal.AsSpan(cleanScores), options.TargetFalsePositiveRate);
        var report = new SaecCalibrationReport
        {
            Threshold = threshold,
            Channels = shape.Channels, Height = shape.Height, Width = shape.Width,
            TrainingImageCount = cleanScores.Count,
            TargetFalsePositiveRate = options.TargetFalsePositiveRate,
            TrainingFalsePositiveRate = ThresholdCalibration.FlaggedFraction(CollectionsMarshal.AsSpan(cleanScores), threshold),
            NoiseAmplitude = options.NoiseAmplitude,
            NoiseSeed = seed,
            NoiseAuc = withNoise ? RocCurve.AucOf(CollectionsMarshal.AsSpan(cleanScores), CollectionsMarshal.AsSpan(noisyScores)) : null,
            NoiseDetectionRate = withNoise ? ThresholdCalibration.FlaggedFraction(CollectionsMarshal.AsSpan(noisyScores), threshold) : null,
            CleanMedianScore = Median(cleanScores),
            NoiseMedianScore = withNoise ? Median(noisyScores) : null,
        };
        context.WriteLog(LogSource, report.ToString());
        if (report.NoiseAuc is < 0.9)
            context.WriteLog(LogSource, $"warning: the scores separate uniform noise of ±{options.NoiseAmplitude * 255:G4}/255 from clean images poorly (AUC {report.NoiseAuc:F3}); " +
                "check the histogram range against the images' residuals.");
        return new SaecTransformer(options, report, device);
    }

    private ArgumentException TooFewImages(long count) => new(
        $"Column '{options.ImageColumnName}': SAEC calibrates its threshold on the training images and needs at least {MinimumTrainingImages} of them " +
        $"(a few hundred recommended); found {count}.");

    private void WarnWhenCalibrationIsCoarse(int count)
    {
        double expectedAbove = count * options.TargetFalsePositiveRate;
        if (count < RecommendedTrainingImages || expectedAbove < 10)
            context.WriteLog(LogSource, $"warning: calibrating a {options.TargetFalsePositiveRate:P2} false-positive rate on {count} clean images " +
                $"({expectedAbove:F1} expected above the threshold); the rate on new data may differ noticeably from the target. " +
                $"Fit on at least {Math.Max(RecommendedTrainingImages, (int)Math.Ceiling(10 / Math.Max(options.TargetFalsePositiveRate, 1e-9)))} images for a stable threshold.");
    }

    private static float[] UniformNoise(Random random, int count, double amplitude)
    {
        var values = new float[count];
        float a = (float)amplitude;
        for (int i = 0; i < values.Length; i++) values[i] = (2 * random.NextSingle() - 1) * a;
        return values;
    }

    private static float Median(List<float> values)
    {
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static void CheckPixels(float[] pixels, ImageShape shape, long firstRow, string column)
    {
        for (int i = 0; i < pixels.Length; i++)
        {
            float v = pixels[i];
            if (!(v >= 0f && v <= 1f)) // also catches NaN
                throw new ArgumentException($"Column '{column}': expected pixel values in [0, 1], found {v} in row {firstRow + i / shape.Size}.");
        }
    }

    /// <summary>Checks the image column against the options (and a fitted shape) and returns its shape; messages name the column.</summary>
    internal static ImageShape CheckImageColumn(DataViewSchema schema, SaecOptions options, ImageShape? requiredShape)
    {
        string name = options.ImageColumnName;
        int kernel = SaecScoring.KernelSize(options.ResidualFilter);
        string expected = requiredShape is { } r ? $"a float vector image of {r} (the shape SAEC was calibrated on)" : "a float vector image [C, H, W] with an image shape annotation";
        var column = schema.GetColumnOrNull(name) ?? throw new ArgumentException(
            $"Column '{name}' (the image SAEC scores) was not found; expected {expected}. The schema has: {schema}.");
        if (column.Type is not VectorDataViewType vector || column.ImageShape is not { } shape || shape.Size != vector.Size)
            throw new ArgumentException($"Column '{name}': expected {expected}, found {column.Type}{(column.ImageShape is null ? " without an image shape" : "")}.");
        if (requiredShape is not null && shape != requiredShape)
            throw new ArgumentException($"Column '{name}': expected {expected}, found {shape} images.");
        if (shape.Height < kernel || shape.Width < kernel)
            throw new ArgumentException($"Column '{name}': the {options.ResidualFilter} residual filter needs images of at least {kernel}x{kernel}, found {shape}.");
        if (shape.Channels == 1 && options.GreyscalePolicy == SaecGreyscalePolicy.Reject)
            throw new ArgumentException($"Column '{name}': single-channel {shape} images have no saturation (Eq. 1 gives 0 everywhere) and GreyscalePolicy is Reject; " +
                "use SaecGreyscalePolicy.UseImage to score grey images.");
        return shape;
    }
}

using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLDefense.Data;
using MLDefense.Evaluation;

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
/// <see cref="SaecOptions.HistogramMaximum"/>) (by default 11 on [−0.0165, 0.0165) for colour images, 21 on [−0.105, 0.105) for grey
/// ones: <see cref="SaecOptions.HistogramFor"/>).</description></item>
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
public sealed class SaecEstimator : DefenseEstimator<SaecOptions, SaecTransformer>
{
    /// <summary>Below this many training images Fit throws: the threshold would be the largest of a handful of scores.</summary>
    public const int MinimumTrainingImages = 50;

    /// <summary>Below this many training images Fit logs a warning: the calibrated rate is only roughly the target.</summary>
    public const int RecommendedTrainingImages = 300;

    internal const string LogSource = "SAEC";

    /// <summary>Creates the estimator in an ML.NET environment (the catalog's <c>ml.Transforms.Defenses.Saec</c> methods call this).</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public SaecEstimator(IHostEnvironment environment, SaecOptions options) : base(environment, LogSource, options, CheckOptions)
    {
    }

    /// <summary>
    /// The columns Fit's transformer adds. A schema shape carries no vector dimensions, so this checks that the image
    /// column is a known-size Single vector; its [C, H, W] shape is checked by Fit and Transform.
    /// </summary>
    /// <exception cref="ArgumentException">The image column is missing or not a Single vector (the message names it).</exception>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ImageColumns.Check(inputSchema, Options.ImageColumnName, "the image SAEC scores");
        return MLNet.SchemaShapes.Append(inputSchema, SaecTransformer.AddedColumns(Options).Select(c => MLNet.SchemaShapes.Of(c.Name, c.Type)));
    }

    /// <summary>Checks the data, scores the clean and the noisy training images, and calibrates the threshold.</summary>
    /// <exception cref="ArgumentException">Bad input (the message names the column and, for values, the row).</exception>
    public override SaecTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        string column = Options.ImageColumnName;
        var shape = CheckGeometry(ImageColumns.Check(input.Schema, column, null, "the image SAEC scores", ""), Options);
        if (input.GetRowCount() is { } known && known < MinimumTrainingImages) throw TooFewImages(known);
        return Calibrate(shape, DataViewBatches.Read(input, [column], DefenseInference.ChunkSize).Select(b => (b.Get<float>(column), b.FirstPosition)));
    }

    internal static void CheckOptions(SaecOptions o)
    {
        var rules = new OptionRules(nameof(SaecOptions));
        rules.Require(o.TargetFalsePositiveRate is >= 0 and < 1, nameof(o.TargetFalsePositiveRate), o.TargetFalsePositiveRate, "(a target false-positive rate) must be in [0, 1)");
        rules.Require(o.SaturationExponent >= 1 && double.IsFinite(o.SaturationExponent), nameof(o.SaturationExponent), o.SaturationExponent, "must be a finite number ≥ 1");
        rules.Require(Enum.IsDefined(o.ResidualFilter), nameof(o.ResidualFilter), o.ResidualFilter, "must be a known filter");
        rules.Require(Enum.IsDefined(o.GreyscalePolicy), nameof(o.GreyscalePolicy), o.GreyscalePolicy, "must be a known policy");
        foreach (int channels in new[] { 1, 3 })
        {
            var (bins, minimum, maximum) = o.HistogramFor(channels);
            rules.Require(bins >= 2, nameof(o.HistogramBinCount), bins, "must be at least 2");
            rules.Require(double.IsFinite(minimum) && double.IsFinite(maximum) && minimum < maximum,
                nameof(o.HistogramMaximum), maximum, $"must be finite and above HistogramMinimum ({minimum})");
        }
        rules.Require(o.NoiseAmplitude is >= 0 and <= 1, nameof(o.NoiseAmplitude), o.NoiseAmplitude, "must be in [0, 1]");
        OptionRules.RequireColumnNames("SAEC", [o.ImageColumnName], ("score", o.ScoreColumnName), ("flag", o.FlagColumnName));
    }

    /// <summary>Sec. 5.3: scores the clean images and the same images with uniform noise, and sets the threshold.</summary>
    private SaecTransformer Calibrate(ImageShape shape, IEnumerable<(float[] Pixels, long FirstRow)> batches)
    {
        int seed = Options.Seed ?? Fitting.NextSeed();
        var device = Fitting.Device;
        bool withNoise = Options.NoiseAmplitude > 0;
        var noise = new Random(seed);
        var cleanScores = new List<float>();
        var noisyScores = new List<float>();
        string column = Options.ImageColumnName;
        long[] batchShape = [0, shape.Channels, shape.Height, shape.Width];

        foreach (var (pixels, firstRow) in batches)
        {
            ImageColumns.CheckPixelRange(pixels, shape.Size, firstRow, column);
            batchShape[0] = pixels.Length / shape.Size;
            using var scope = torch.NewDisposeScope();
            var images = torch.tensor(pixels, batchShape, device: device);
            cleanScores.AddRange(SaecScoring.Scores(images, Options).cpu().data<float>().ToArray());
            if (withNoise)
            {
                var noisy = (images + torch.tensor(UniformNoise(noise, pixels.Length, Options.NoiseAmplitude), batchShape, device: device)).clamp(0, 1);
                noisyScores.AddRange(SaecScoring.Scores(noisy, Options).cpu().data<float>().ToArray());
            }
        }
        if (cleanScores.Count < MinimumTrainingImages) throw TooFewImages(cleanScores.Count);
        WarnWhenCalibrationIsCoarse(cleanScores.Count);

        float threshold = (float)ThresholdCalibration.ForFalsePositiveRate(CollectionsMarshal.AsSpan(cleanScores), Options.TargetFalsePositiveRate);
        var report = new SaecCalibrationReport
        {
            Threshold = threshold,
            Channels = shape.Channels, Height = shape.Height, Width = shape.Width,
            TrainingImageCount = cleanScores.Count,
            TargetFalsePositiveRate = Options.TargetFalsePositiveRate,
            TrainingFalsePositiveRate = ThresholdCalibration.FlaggedFraction(CollectionsMarshal.AsSpan(cleanScores), threshold),
            NoiseAmplitude = Options.NoiseAmplitude,
            NoiseSeed = seed,
            NoiseAuc = withNoise ? RocCurve.AucOf(CollectionsMarshal.AsSpan(cleanScores), CollectionsMarshal.AsSpan(noisyScores)) : null,
            NoiseDetectionRate = withNoise ? ThresholdCalibration.FlaggedFraction(CollectionsMarshal.AsSpan(noisyScores), threshold) : null,
            CleanMedianScore = Median(cleanScores),
            NoiseMedianScore = withNoise ? Median(noisyScores) : null,
        };
        Fitting.Log(LogSource, report.ToString());
        if (report.NoiseAuc is < 0.9)
            Fitting.Log(LogSource, $"warning: the scores separate uniform noise of ±{Options.NoiseAmplitude * 255:G4}/255 from clean images poorly (AUC {report.NoiseAuc:F3}); " +
                "check the histogram range against the images' residuals.");
        return new SaecTransformer(Options, report, device);
    }

    private ArgumentException TooFewImages(long count) => new(
        $"Column '{Options.ImageColumnName}': SAEC calibrates its threshold on the training images and needs at least {MinimumTrainingImages} of them " +
        $"(a few hundred recommended); found {count}.");

    private void WarnWhenCalibrationIsCoarse(int count)
    {
        double expectedAbove = count * Options.TargetFalsePositiveRate;
        if (count < RecommendedTrainingImages || expectedAbove < 10)
            Fitting.Log(LogSource, $"warning: calibrating a {Options.TargetFalsePositiveRate:P2} false-positive rate on {count} clean images " +
                $"({expectedAbove:F1} expected above the threshold); the rate on new data may differ noticeably from the target. " +
                $"Fit on at least {Math.Max(RecommendedTrainingImages, (int)Math.Ceiling(10 / Math.Max(Options.TargetFalsePositiveRate, 1e-9)))} images for a stable threshold.");
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

    /// <summary>What SAEC needs of an image shape beyond the column checks: at least the kernel's size; colour unless told otherwise.</summary>
    internal static ImageShape CheckGeometry(ImageShape shape, SaecOptions Options)
    {
        string name = Options.ImageColumnName;
        int kernel = SaecScoring.KernelSize(Options.ResidualFilter);
        if (shape.Height < kernel || shape.Width < kernel)
            throw new ArgumentException($"Column '{name}': the {Options.ResidualFilter} residual filter needs images of at least {kernel}x{kernel}, found {shape}.");
        if (shape.Channels == 1 && Options.GreyscalePolicy == SaecGreyscalePolicy.Reject)
            throw new ArgumentException($"Column '{name}': single-channel {shape} images have no saturation (Eq. 1 gives 0 everywhere) and GreyscalePolicy is Reject; " +
                "use SaecGreyscalePolicy.UseImage to score grey images.");
        return shape;
    }
}

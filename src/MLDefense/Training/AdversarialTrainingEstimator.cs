using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Defenses;

namespace MLDefense.Training;

/// <summary>
/// Trains a robust image classifier by adversarial training — standard PGD-AT (Madry et al.), TRADES (Zhang et al.) or
/// MART (Wang et al.), the baselines of Zhou et al.'s Table 1 — producing the same <see cref="ImageClassifierTransformer"/>
/// as <c>ml.MulticlassClassification.Trainers.ImageClassifier</c> (Score, PredictedLabel, input gradients for attacks,
/// saved in the ML.NET zip).
/// </summary>
/// <remarks>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term>Image (input)</term><description>Single vector [C, H, W], values in [0, 1] (the architecture fixes the shape)</description></item>
/// <item><term>Label (input, Fit only)</term><description>a key of K classes (MapValueToKey), or Int32 class in [0, K)</description></item>
/// <item><term>Score (output)</term><description>Single vector [K]: softmax probabilities</description></item>
/// <item><term>PredictedLabel (output)</term><description>a key of K classes carrying the label's key values</description></item>
/// <item><term>feature map (output, optional)</term><description>Single vector [C', H', W']: the last convolutional feature map</description></item>
/// </list>
/// <para>Fit reads and checks the data and builds the network exactly as the image-classifier trainer does (same seed →
/// same initial weights), then replaces its training loop by <see cref="AdversarialTrainingLoop"/>: every mini-batch is
/// attacked with PGD against the current weights and the method's loss is minimised with SGD. Training on the CPU is
/// bit-reproducible for a seed, and resumes bit for bit from <see cref="AdversarialTrainingOptions.CheckpointPath"/>.</para>
/// </remarks>
public sealed class AdversarialTrainingEstimator : IEstimator<ImageClassifierTransformer>
{
    private const string LogSource = "AdversarialTraining";
    private readonly IHostEnvironment environment;
    private readonly FitEnvironment fitting;
    private readonly AdversarialTrainingOptions options;

    /// <summary>Creates the trainer (<c>ml.MulticlassClassification.Trainers.AdversarialTraining</c> calls this); the options are checked.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the message names it).</exception>
    public AdversarialTrainingEstimator(IHostEnvironment environment, AdversarialTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(options);
        if (options is NamidOptions)
            throw new ArgumentException("NamidOptions train with NamidEstimator (ml.MulticlassClassification.Trainers.Namid).", nameof(options));
        MLNet.MLNetCompatibility.Ensure();
        options.Check();
        this.environment = environment;
        this.options = options;
        fitting = FitEnvironment.From(environment, LogSource);
    }

    /// <summary>The settings (shared, not copied).</summary>
    public AdversarialTrainingOptions Options => options;

    /// <summary>The columns the trained classifier adds (as the image-classifier trainer's).</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => Classifier(0).GetOutputSchema(inputSchema);

    /// <summary>Checks the data (naming the column for bad input), then trains.</summary>
    public ImageClassifierTransformer Fit(IDataView input) => Train(environment, fitting, options, LogSource, input, options.Seed ?? fitting.NextSeed(), null);

    private ImageClassifierEstimator Classifier(int seed) => new(environment, options.ClassifierOptions(seed));

    /// <summary>
    /// The common Fit of the robust trainers: the image classifier's data reading, checks and network (seeded with
    /// <paramref name="seed"/>), trained by <see cref="AdversarialTrainingLoop"/> with what <paramref name="extend"/> adds for the
    /// network's input shape, class count and device; <paramref name="onExit"/> runs when training ends, however it ends.
    /// </summary>
    internal static ImageClassifierTransformer Train(IHostEnvironment environment, FitEnvironment fitting, AdversarialTrainingOptions options,
        string logSource, IDataView input, int seed, Func<ImageShape, int, Device, AdversarialTrainingLoop.Extension>? extend, Action? onExit = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            var classifier = new ImageClassifierEstimator(environment, options.ClassifierOptions(seed));
            var data = classifier.ReadTrainingData(input);
            string network = options.CustomModuleName is { } n ? $"custom module '{n}'" : options.Architecture.ToString();
            string description = extend is null ? $"{options.Method} adversarial training of {network}" : $"NAMID ({options.Method} loss) training of {network}";
            return classifier.FitCore(data.Shape, data.Pixels, data.Labels, data.ClassCount, data.KeyValues,
                (net, shape, classCount, pixels, labels, runSeed, device) =>
                    AdversarialTrainingLoop.Run(options, fitting, logSource, description, net, shape, pixels, labels, runSeed, device,
                        extend?.Invoke(shape, classCount, device)));
        }
        finally
        {
            onExit?.Invoke();
        }
    }
}

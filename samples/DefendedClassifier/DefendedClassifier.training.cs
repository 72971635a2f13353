using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Attacks;
using MLDefense.Classifiers;
using MLDefense.Defenses;
using TorchSharp;
using KnownDatasets = MLDefense.Data.KnownDatasets;

namespace MLDefense.Samples;

/// <summary>The sizes of the defenses' networks.</summary>
public enum NetworkSize
{
    /// <summary>Toy widths that train in seconds (for tests and smoke runs); the defenses work but weakly.</summary>
    Tiny,

    /// <summary>
    /// Narrower networks with learning rates raised to 1e-3 to suit a short run (the default): AE-GAN+sr at half the
    /// paper's width (32-64-128, latent 64); MIAED with Table 3's autoencoder (convolutions 16-16-32-32 on grey images)
    /// but latent 32, discriminators of 128 and a simple network 512-256.
    /// </summary>
    Small,

    /// <summary>The papers' networks and learning rates (AE-GAN+sr Tables 4 and 6; MIAED Sec. 4.1 and Tables 3 and 4).</summary>
    Paper,
}

/// <summary>What to train on and for how long. The defaults finish in a few minutes on two CPU cores.</summary>
public sealed record TrainingSettings
{
    /// <summary>Where the defended model's zip is written. Default <c>DefendedClassifier.zip</c> in the current directory.</summary>
    public string ModelPath { get; init; } = "DefendedClassifier.zip";

    /// <summary>The folder holding Fashion-MNIST's four IDX files; null searches the usual places (Debian's <c>/usr/share/datasets/fashion-mnist</c>).</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The first N training images used; 0 = all 60 000. Default 3000.</summary>
    public int TrainImages { get; init; } = 3000;

    /// <summary>The first N test images evaluated; 0 = all 10 000. Default 500.</summary>
    public int TestImages { get; init; } = 500;

    /// <summary>Epochs of classifier A. Default 2 (the paper's: 10).</summary>
    public int ClassifierEpochs { get; init; } = 2;

    /// <summary>Epochs of the AE-GAN+sr purifier and of MIAED's autoencoder; null = the papers' (60 and 100). Default 2.</summary>
    public int? DefenseEpochs { get; init; } = 2;

    /// <summary>The defenses' network sizes. Default <see cref="NetworkSize.Small"/>.</summary>
    public NetworkSize Networks { get; init; } = NetworkSize.Small;

    /// <summary>The L∞ budget of the FGSM attack of the brief evaluation. Default 0.3, AE-GAN's budget on Fashion-MNIST.</summary>
    public double FgsmEpsilon { get; init; } = 0.3;

    /// <summary>The seed of everything random (initialisation, shuffling, noise). Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The papers' settings: every image, classifier A for 10 epochs, the papers' networks and epochs (hours on a CPU).</summary>
    public static TrainingSettings Full { get; } = new()
    {
        TrainImages = 0, TestImages = 0, ClassifierEpochs = 10, DefenseEpochs = null, Networks = NetworkSize.Paper,
    };
}

/// <summary>The share of images each defense flags, and of those any of them flags.</summary>
/// <param name="Saec">SAEC's flag rate.</param>
/// <param name="AeGan">AE-GAN+sr's flag rate.</param>
/// <param name="Miaed">MIAED's flag rate.</param>
/// <param name="Any">The rate of images flagged by at least one.</param>
public sealed record FlagRates(double Saec, double AeGan, double Miaed, double Any);

/// <summary>The brief evaluation on the test images: clean, then attacked by FGSM against classifier A.</summary>
/// <param name="Images">Test images evaluated.</param>
/// <param name="Epsilon">FGSM's L∞ budget.</param>
/// <param name="UndefendedCleanAccuracy">Classifier A alone on the clean images.</param>
/// <param name="DefendedCleanAccuracy">The defended model (classifier A on the purified images) on the clean images.</param>
/// <param name="CleanFlags">Flag rates on the clean images (false positives).</param>
/// <param name="UndefendedAdversarialAccuracy">Classifier A alone on the FGSM images.</param>
/// <param name="DefendedAdversarialAccuracy">The defended model on the FGSM images.</param>
/// <param name="AdversarialFlags">Flag rates on the FGSM images (detections).</param>
public sealed record Evaluation(int Images, double Epsilon, double UndefendedCleanAccuracy, double DefendedCleanAccuracy, FlagRates CleanFlags,
    double UndefendedAdversarialAccuracy, double DefendedAdversarialAccuracy, FlagRates AdversarialFlags);

/// <summary>
/// The defended Fashion-MNIST classifier: classifier A (Defense-GAN's, AE-GAN's Table 5), behind SAEC, the AE-GAN+sr
/// purifier and MIAED. This half trains, evaluates and saves it; <c>DefendedClassifier.consumption.cs</c> predicts with it.
/// </summary>
public partial class DefendedClassifier
{
    /// <summary>Trains classifier A and the defended pipeline, saves the zip, evaluates briefly, and reports on <paramref name="log"/>.</summary>
    /// <exception cref="FileNotFoundException">Fashion-MNIST is not installed (the message says how to get it).</exception>
    public static Evaluation Train(TrainingSettings settings, TextWriter log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(log);
        var ml = new MLContext(seed: settings.Seed);
        var clock = Stopwatch.StartNew();

        var (train, test) = LoadData(ml, settings);
        log.WriteLine($"Fashion-MNIST: {Rows(train)} training and {Rows(test)} test images ({clock.Elapsed.TotalSeconds:F1} s).");

        using var classifier = TrainClassifier(ml, train, settings, log, cancellationToken);

        log.WriteLine("Fitting the defended pipeline: SAEC → AE-GAN+sr purifier → classifier A (on Purified) → MIAED (on Purified)");
        var stage = Stopwatch.StartNew();
        using var model = BuildPipeline(ml, classifier, settings, log, cancellationToken).Fit(train);
        log.WriteLine($"Pipeline fitted in {stage.Elapsed.TotalSeconds:F1} s.");

        SaveModel(ml, model, train.Schema, settings.ModelPath);
        log.WriteLine($"Saved {Path.GetFullPath(settings.ModelPath)} ({new FileInfo(settings.ModelPath).Length / 1024.0:F0} KiB).");

        stage.Restart();
        var evaluation = Evaluate(ml, model, classifier, test, settings.FgsmEpsilon);
        log.WriteLine($"Evaluated on {evaluation.Images} test images in {stage.Elapsed.TotalSeconds:F1} s:");
        WriteEvaluation(evaluation, log);
        log.WriteLine($"Total time {clock.Elapsed.TotalSeconds:F1} s.");
        return evaluation;
    }

    /// <summary>
    /// The first <see cref="TrainingSettings.TrainImages"/> training and <see cref="TrainingSettings.TestImages"/> test
    /// images: ML.NET views with <c>Image</c> (Vector&lt;Single, 1, 28, 28&gt;) and <c>Label</c> (a key whose values are the
    /// class names), cached in memory as they are first read.
    /// </summary>
    public static (IDataView Train, IDataView Test) LoadData(MLContext ml, TrainingSettings settings)
    {
        IDataView Load(bool train, int limit)
        {
            var view = ml.Data.LoadKnownDataset(KnownDatasets.FashionMnist, train, settings.DataDirectory);
            return ml.Data.Cache(limit > 0 ? ml.Data.TakeRows(view, limit) : view);
        }
        return (Load(train: true, settings.TrainImages), Load(train: false, settings.TestImages));
    }

    /// <summary>Trains classifier A on the clean training images (what the defenses then protect).</summary>
    public static ImageClassifierTransformer TrainClassifier(MLContext ml, IDataView train, TrainingSettings settings, TextWriter log,
        CancellationToken cancellationToken = default)
    {
        log.WriteLine($"Training classifier A ({settings.ClassifierEpochs} epochs)...");
        var clock = Stopwatch.StartNew();
        var classifier = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            Architecture = ClassifierArchitecture.DefenseGanA,
            Epochs = settings.ClassifierEpochs,
            Seed = settings.Seed,
            Progress = new LineProgress<ClassifierTrainingProgress>(log, "classifier A", p => p.EpochCompleted),
            CancellationToken = cancellationToken,
        }).Fit(train);
        log.WriteLine($"Classifier A trained in {clock.Elapsed.TotalSeconds:F1} s.");
        return classifier;
    }

    /// <summary>
    /// The defended pipeline around a trained classifier: SAEC scores the input, the AE-GAN+sr purifier cleans it,
    /// classifier A (not retrained) classifies the purified image, and MIAED checks that answer against its own.
    /// </summary>
    public static EstimatorChain<MiaedTransformer> BuildPipeline(MLContext ml, ImageClassifierTransformer classifier, TrainingSettings settings,
        TextWriter log, CancellationToken cancellationToken = default)
    {
        var purifier = PurifierOptions(settings) with
        {
            OutputColumnName = "Purified",
            Progress = new LineProgress<AeGanTrainingProgress>(log, "AE-GAN+sr", p => p.EpochCompleted),
            CancellationToken = cancellationToken,
        };
        var detector = DetectorOptions(settings) with
        {
            ImageColumnName = "Purified",
            ProbabilitiesColumnName = "Score",
            LabelColumnName = "Label",
            Progress = new LineProgress<MiaedTrainingProgress>(log, "MIAED", p => p.EpochCompleted),
            CancellationToken = cancellationToken,
        };
        return ml.Transforms.Defenses.Saec()
            .Append(ml.Transforms.Defenses.AeGanPurifier(purifier))
            .Append(classifier.AsEstimator(inputColumnName: "Purified"))
            .Append(ml.Transforms.Defenses.Miaed(detector));
    }

    /// <summary>Saves the fitted pipeline with the training data's schema (what <c>ml.Model.Load</c> gives back).</summary>
    public static void SaveModel(MLContext ml, ITransformer model, DataViewSchema schema, string path) =>
        ml.Model.Save(model, schema, path);

    private static AeGanOptions PurifierOptions(TrainingSettings settings)
    {
        var paper = new AeGanOptions { Seed = settings.Seed };
        var sized = settings.Networks switch
        {
            NetworkSize.Tiny => paper with { LatentDimension = 16, BaseChannels = 8, BatchSize = 50, LearningRate = 2e-3 },
            NetworkSize.Small => paper with { LatentDimension = 64, BaseChannels = 32, LearningRate = 1e-3 },
            _ => paper,
        };
        return settings.DefenseEpochs is { } epochs ? sized with { Epochs = epochs } : sized;
    }

    private static MiaedOptions DetectorOptions(TrainingSettings settings)
    {
        var paper = new MiaedOptions { Seed = settings.Seed };
        var sized = settings.Networks switch
        {
            NetworkSize.Tiny => paper with
            {
                BaseChannels = 4, LatentDimension = 8, DiscriminatorHiddenUnits = 16,
                SimpleNetworkHiddenUnits = [32, 16], BatchSize = 32, LearningRate = 1e-3, SimpleNetworkLearningRate = 1e-2,
            },
            NetworkSize.Small => paper with
            {
                LatentDimension = 32, DiscriminatorHiddenUnits = 128,
                SimpleNetworkHiddenUnits = [512, 256], LearningRate = 1e-3,
            },
            _ => paper,
        };
        return settings.DefenseEpochs is { } epochs ? sized with { Epochs = epochs } : sized;
    }

    /// <summary>
    /// Accuracy and flag rates on the clean test images and on FGSM images made against classifier A (the attacker
    /// knows the classifier but not the defenses). The attack works on tensors (<see cref="FastGradientAttack"/> on
    /// classifier A as an <see cref="IDifferentiableClassifier"/>); its images go back into an ML.NET view with the
    /// clean images' labels.
    /// </summary>
    public static Evaluation Evaluate(MLContext ml, ITransformer model, ImageClassifierTransformer classifier, IDataView test, double epsilon)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(test);
        var clean = ml.Data.CreateEnumerable<ModelInput>(test, reuseRowObject: false, ignoreMissingColumns: true).ToList();
        var shape = test.Schema["Image"].Type is VectorDataViewType { Dimensions.Length: 3 } image
            ? image.Dimensions.Select(d => (long)d).ToArray()
            : throw new ArgumentException($"The test view's 'Image' column is {test.Schema["Image"].Type}; the evaluation needs images [C, H, W].", nameof(test));
        var adversarial = Fgsm(classifier, clean, shape, epsilon);

        var labels = clean.Select(row => row.Label).ToArray();
        var (cleanPlain, cleanDefended) = Score(clean);
        var (adversarialPlain, adversarialDefended) = Score(adversarial);
        return new Evaluation(clean.Count, epsilon,
            Accuracy(cleanPlain, labels), Accuracy(cleanDefended.Select(p => p.PredictedLabel).ToArray(), labels), Flags(cleanDefended),
            Accuracy(adversarialPlain, labels), Accuracy(adversarialDefended.Select(p => p.PredictedLabel).ToArray(), labels), Flags(adversarialDefended));

        (uint[] Plain, List<ModelOutput> Defended) Score(List<ModelInput> rows)
        {
            var view = ml.Data.LoadFromEnumerable(rows);
            var plain = classifier.Transform(view).GetColumn<uint>("PredictedLabel").ToArray();
            return (plain, ml.Data.CreateEnumerable<ModelOutput>(model.Transform(view), reuseRowObject: false, ignoreMissingColumns: true).ToList());
        }
    }

    /// <summary>FGSM images against <paramref name="classifier"/>, one per clean row (of <paramref name="shape"/> [C, H, W]) and with its label, attacked 100 at a time.</summary>
    private static List<ModelInput> Fgsm(ImageClassifierTransformer classifier, List<ModelInput> clean, long[] shape, double epsilon)
    {
        const int batchSize = 100;
        var attack = new FastGradientAttack(new FastGradientOptions { Epsilon = epsilon, Norm = AttackNorm.Linf });
        int size = (int)shape.Aggregate(1L, (a, b) => a * b);
        var result = new List<ModelInput>(clean.Count);
        foreach (var batch in clean.Chunk(batchSize))
        {
            using var scope = torch.NewDisposeScope();
            var images = torch.tensor(batch.SelectMany(row => row.Image).ToArray(), [batch.Length, .. shape]).to(classifier.Device);
            // The attack takes class indices 0..K-1; ML.NET's key labels are 1..K.
            var classes = torch.tensor(batch.Select(row => (long)row.LabelIndex).ToArray()).to(classifier.Device);
            var attacked = attack.Generate(classifier, images, classes).cpu().data<float>().ToArray();
            for (int i = 0; i < batch.Length; i++)
                result.Add(new ModelInput { Image = attacked[(i * size)..((i + 1) * size)], Label = batch[i].Label });
        }
        return result;
    }

    private static double Accuracy(uint[] predicted, uint[] labels) =>
        labels.Length == 0 ? 0 : predicted.Zip(labels).Count(p => p.First == p.Second) / (double)labels.Length;

    private static FlagRates Flags(List<ModelOutput> predictions)
    {
        double Rate(Func<ModelOutput, bool> flag) => predictions.Count == 0 ? 0 : predictions.Count(flag) / (double)predictions.Count;
        return new FlagRates(Rate(p => p.SaecFlag), Rate(p => p.AeGanFlag), Rate(p => p.MiaedFlag), Rate(p => p.IsAdversarial));
    }

    /// <summary>Writes the evaluation as a small table.</summary>
    public static void WriteEvaluation(Evaluation e, TextWriter log)
    {
        log.WriteLine($"  {"images",-22} {"accuracy A alone",17} {"accuracy defended",18} {"SAEC",6} {"AE-GAN",7} {"MIAED",6} {"any flag",9}");
        Row("clean", e.UndefendedCleanAccuracy, e.DefendedCleanAccuracy, e.CleanFlags);
        Row($"FGSM ε = {e.Epsilon:0.###}", e.UndefendedAdversarialAccuracy, e.DefendedAdversarialAccuracy, e.AdversarialFlags);
        log.WriteLine("  (flag rates: on clean images they are false positives, on FGSM images detections)");

        void Row(string name, double plain, double defended, FlagRates f) =>
            log.WriteLine($"  {name,-22} {plain,17:P1} {defended,18:P1} {f.Saec,6:P0} {f.AeGan,7:P0} {f.Miaed,6:P0} {f.Any,9:P0}");
    }

    private static long Rows(IDataView view)
    {
        if (view.GetRowCount() is { } known) return known;
        long rows = 0;
        using var cursor = view.GetRowCursor([]);
        while (cursor.MoveNext()) rows++;
        return rows;
    }

    /// <summary>
    /// Writes training progress as it happens (synchronously, unlike <see cref="Progress{T}"/>): on a terminal one line
    /// that updates in place, elsewhere only the reports <paramref name="isMilestone"/> selects (the ends of epochs).
    /// </summary>
    private sealed class LineProgress<T>(TextWriter log, string name, Func<T, bool> isMilestone) : IProgress<T> where T : notnull
    {
        private readonly bool live = ReferenceEquals(log, Console.Out) && !Console.IsOutputRedirected;

        public void Report(T value)
        {
            bool milestone = isMilestone(value);
            var line = $"  [{name}] {value}";
            if (live)
            {
                // One terminal line, rewritten in place (cut to the window's width so that it never wraps); an epoch's
                // end is written whole and kept.
                int width = Math.Max(Console.WindowWidth - 1, 20);
                log.Write("\r" + (milestone ? line.PadRight(width) + "\n" : line.Length > width ? line[..width] : line.PadRight(width)));
            }
            else if (milestone) log.WriteLine(line);
        }
    }
}

using System.Diagnostics;
using Microsoft.ML;
using MLDefense.Classifiers;
using MLDefense.Data;


namespace MLDefense.Benchmarks;

/// <summary>What <see cref="ClassifierTraining"/> trains: a built-in architecture on a known dataset.</summary>
public sealed record ClassifierTrainingRequest
{
    /// <summary>A name of <see cref="KnownDatasets.Names"/> (<c>mnist</c>, <c>fashion-mnist</c>, <c>cifar10-subset</c>).</summary>
    public required string Dataset { get; init; }

    /// <summary>The network to train; it must take the dataset's image shape.</summary>
    public required ClassifierArchitecture Architecture { get; init; }

    /// <summary>Passes over the training data; null = the architecture's paper default.</summary>
    public int? Epochs { get; init; }

    /// <summary>Images per optimisation step; null = the architecture's default.</summary>
    public int? BatchSize { get; init; }

    /// <summary>The initial learning rate; null = the architecture's default.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Train on the first this-many training images only; null = all of them.</summary>
    public int? TrainImages { get; init; }

    /// <summary>Measure test accuracy on the first this-many test images only; null = all of them.</summary>
    public int? TestImages { get; init; }

    /// <summary>The dataset root given by the user (see <see cref="KnownDatasets.Resolve"/>); null searches the default places.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The seed of initialisation and shuffling; null draws one from the context.</summary>
    public int? Seed { get; init; }
}

/// <summary>The stages of <see cref="ClassifierTraining"/>, in order.</summary>
public enum ClassifierTrainingStage
{
    /// <summary>Reading the dataset's files.</summary>
    Loading,
    /// <summary>Training (see <see cref="ClassifierTrainingStatus.Training"/> for the epoch, loss and accuracy).</summary>
    Training,
    /// <summary>Measuring accuracy on the test split.</summary>
    Evaluating,
}

/// <summary>Where <see cref="ClassifierTraining"/> stands.</summary>
/// <param name="Stage">The current stage.</param>
/// <param name="Fraction">The share of the stage done, in [0, 1].</param>
/// <param name="Training">The trainer's latest report while <see cref="ClassifierTrainingStage.Training"/>; else null.</param>
public sealed record ClassifierTrainingStatus(ClassifierTrainingStage Stage, double Fraction, ClassifierTrainingProgress? Training);

/// <summary>The outcome of <see cref="ClassifierTraining"/>.</summary>
/// <param name="Dataset">The dataset's name.</param>
/// <param name="Architecture">The network trained.</param>
/// <param name="Epochs">The epochs run.</param>
/// <param name="BatchSize">The batch size used.</param>
/// <param name="LearningRate">The initial learning rate used.</param>
/// <param name="TrainImages">The training images used.</param>
/// <param name="TestImages">The test images accuracy was measured on.</param>
/// <param name="TestAccuracy">The share of test images classified correctly.</param>
/// <param name="TrainSeconds">Wall-clock seconds of <c>Fit</c> (copying the images to the device included, reading files not).</param>
/// <param name="EvaluateSeconds">Wall-clock seconds of the test pass.</param>
/// <param name="Device">Where the network trained (<c>cpu</c>, <c>cuda:0</c>).</param>
/// <param name="History">The trainer's report at the end of each epoch.</param>
public sealed record ClassifierTrainingResult(
    string Dataset, ClassifierArchitecture Architecture, int Epochs, int BatchSize, double LearningRate, int TrainImages, int TestImages,
    double TestAccuracy, double TrainSeconds, double EvaluateSeconds, string Device, IReadOnlyList<ClassifierTrainingProgress> History);

/// <summary>
/// Trains a built-in image classifier on a known dataset and measures its test accuracy: the workload behind
/// <c>mldefense train-classifier</c> and each case of <see cref="ClassifierBenchmark"/>.
/// </summary>
public static class ClassifierTraining
{
    /// <summary>The short names the CLI and the benchmark rows use for the architectures.</summary>
    public static IReadOnlyDictionary<string, ClassifierArchitecture> ArchitecturesByShortName { get; } = new Dictionary<string, ClassifierArchitecture>
    {
        ["c1"] = ClassifierArchitecture.MnistC1,
        ["c2"] = ClassifierArchitecture.CifarC2,
        ["a"] = ClassifierArchitecture.DefenseGanA,
        ["b"] = ClassifierArchitecture.DefenseGanB,
        ["c"] = ClassifierArchitecture.DefenseGanC,
    };

    /// <summary>The short name of an architecture (<c>c1</c>, <c>c2</c>, <c>a</c>, <c>b</c>, <c>c</c>).</summary>
    public static string ShortName(ClassifierArchitecture architecture) =>
        ArchitecturesByShortName.FirstOrDefault(pair => pair.Value == architecture).Key
        ?? throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "Unknown classifier architecture.");

    /// <summary>The image shape of a known dataset, known from its name without reading it.</summary>
    public static ImageShape DatasetImageShape(string dataset) => dataset.Trim().ToLowerInvariant() switch
    {
        KnownDatasets.Mnist or KnownDatasets.FashionMnist => new ImageShape(1, 28, 28),
        KnownDatasets.Cifar10Subset => new ImageShape(3, 32, 32),
        _ => throw new ArgumentException($"Unknown dataset '{dataset}'; known datasets: {string.Join(", ", KnownDatasets.Names)}.", nameof(dataset)),
    };

    /// <summary>Why an architecture cannot train on a dataset (their image shapes differ), or null when it can.</summary>
    public static string? Incompatibility(string dataset, ClassifierArchitecture architecture)
    {
        var required = ClassifierArchitectures.InputShape(architecture);
        var actual = DatasetImageShape(dataset);
        return required == actual ? null
            : $"architecture {ShortName(architecture)} takes {required} images, but {dataset} has {actual} images.";
    }

    /// <summary>
    /// Loads the dataset, trains, and measures test accuracy. The caller owns (and disposes) the returned model;
    /// <c>InputSchema</c> is the schema to save it with.
    /// </summary>
    /// <param name="ml">The context: its device and seed.</param>
    /// <param name="request">What to train.</param>
    /// <param name="progress">Told at each stage and by the trainer during each epoch, on the calling thread.</param>
    /// <param name="cancellationToken">Stops loading, training or evaluating (throws <see cref="OperationCanceledException"/>).</param>
    public static (ImageClassifierTransformer Model, DataViewSchema InputSchema, ClassifierTrainingResult Result) Run(
        MLContext ml, ClassifierTrainingRequest request, IProgress<ClassifierTrainingStatus>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(request);
        if (Incompatibility(request.Dataset, request.Architecture) is { } why) throw new ArgumentException(why, nameof(request));
        if (request.TrainImages is < 1) throw new ArgumentOutOfRangeException(nameof(request), request.TrainImages, "TrainImages must be at least 1.");
        if (request.TestImages is < 1) throw new ArgumentOutOfRangeException(nameof(request), request.TestImages, "TestImages must be at least 1.");

        progress?.Report(new(ClassifierTrainingStage.Loading, 0, null));
        var train = Slice(ml, ml.Data.LoadKnownDataset(request.Dataset, train: true, request.DataDirectory), request.TrainImages);
        cancellationToken.ThrowIfCancellationRequested();
        progress?.Report(new(ClassifierTrainingStage.Loading, 0.5, null));
        var test = Slice(ml, ml.Data.LoadKnownDataset(request.Dataset, train: false, request.DataDirectory), request.TestImages);
        cancellationToken.ThrowIfCancellationRequested();
        progress?.Report(new(ClassifierTrainingStage.Loading, 1, null));
        var (model, result) = Run(ml, request, train, test, progress, cancellationToken);
        return (model, train.Schema, result);
    }

    /// <summary>
    /// Trains <c>ml.MulticlassClassification.Trainers.ImageClassifier</c> on <paramref name="train"/> and measures
    /// accuracy on <paramref name="test"/> (both with columns <c>Image</c> and <c>Label</c> as a key, already sliced):
    /// <see cref="Run(MLContext, ClassifierTrainingRequest, IProgress{ClassifierTrainingStatus}?, CancellationToken)"/>
    /// without the loading, for callers that reuse a dataset across runs. The caller owns the returned model.
    /// </summary>
    public static (ImageClassifierTransformer Model, ClassifierTrainingResult Result) Run(
        MLContext ml, ClassifierTrainingRequest request, IDataView train, IDataView test,
        IProgress<ClassifierTrainingStatus>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        var options = Options(request, progress, cancellationToken);
        progress?.Report(new(ClassifierTrainingStage.Training, 0, null));
        var clock = Stopwatch.StartNew();
        var model = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(train);
        double trainSeconds = clock.Elapsed.TotalSeconds;
        try
        {
            clock.Restart();
            long total = CountRows(test);
            if (total == 0) throw new ArgumentException("The test split is empty; there is nothing to measure accuracy on.", nameof(test));
            progress?.Report(new(ClassifierTrainingStage.Evaluating, 0, null));
            long seen = 0, correct = 0;
            var output = ((ITransformer)model).Transform(test);
            foreach (var batch in DataViewBatches.Read(output, ["Label", model.PredictedLabelColumnName], ImageClassifierTransformer.InferenceBatchSize * 4, cancellationToken))
            {
                var labels = batch.Get<uint>("Label");
                var predicted = batch.Get<uint>(model.PredictedLabelColumnName);
                for (int i = 0; i < labels.Length; i++)
                    if (labels[i] == predicted[i]) correct++;
                seen += labels.Length;
                progress?.Report(new(ClassifierTrainingStage.Evaluating, (double)seen / total, null));
            }
            var result = Result(request, model, checked((int)CountRows(train)), checked((int)seen), (double)correct / seen, trainSeconds, clock.Elapsed.TotalSeconds);
            return (model, result);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The rows of <paramref name="data"/>: its own count where it knows it, else counted by a pass.</summary>
    public static long CountRows(IDataView data) =>
        data.GetRowCount() ?? DataViewBatches.Read(data, [], 4096).Sum(b => (long)b.RowCount);

    private static ImageClassifierOptions Options(ClassifierTrainingRequest request, IProgress<ClassifierTrainingStatus>? progress, CancellationToken cancellationToken) => new()
    {
        Architecture = request.Architecture,
        Epochs = request.Epochs,
        BatchSize = request.BatchSize,
        LearningRate = request.LearningRate,
        Seed = request.Seed,
        CancellationToken = cancellationToken,
        Progress = progress is null ? null : new InlineProgress<ClassifierTrainingProgress>(p =>
            progress.Report(new(ClassifierTrainingStage.Training, Fraction(p), p))),
    };

    private static ClassifierTrainingResult Result(ClassifierTrainingRequest request, ImageClassifierTransformer model, int trainImages, int testImages,
        double accuracy, double trainSeconds, double evaluateSeconds)
    {
        var defaults = ClassifierArchitectures.TrainingDefaults(request.Architecture);
        return new ClassifierTrainingResult(
            request.Dataset, request.Architecture,
            Epochs: request.Epochs ?? defaults.Epochs,
            BatchSize: request.BatchSize ?? defaults.BatchSize,
            LearningRate: request.LearningRate ?? defaults.LearningRate,
            TrainImages: trainImages,
            TestImages: testImages,
            TestAccuracy: accuracy, TrainSeconds: trainSeconds, EvaluateSeconds: evaluateSeconds,
            Device: model.Device.ToString(), History: model.TrainingHistory.Where(p => p.EpochCompleted).ToArray());
    }

    /// <summary>A known dataset's training and test splits, each cut to its first rows (all for null).</summary>
    public static (IDataView Train, IDataView Test) LoadSplits(MLContext ml, string dataset, string? dataDirectory, int? trainImages, int? testImages) =>
        (Slice(ml, ml.Data.LoadKnownDataset(dataset, train: true, dataDirectory), trainImages),
         Slice(ml, ml.Data.LoadKnownDataset(dataset, train: false, dataDirectory), testImages));

    /// <summary>The first <paramref name="count"/> rows, or all rows for null.</summary>
    public static IDataView Slice(MLContext ml, IDataView data, int? count) => count is int n ? ml.Data.TakeRows(data, n) : data;

    private static double Fraction(ClassifierTrainingProgress p) =>
        p.Epochs * p.BatchesPerEpoch == 0 ? 0 : ((p.Epoch - 1) * (double)p.BatchesPerEpoch + p.Batch) / ((double)p.Epochs * p.BatchesPerEpoch);
}

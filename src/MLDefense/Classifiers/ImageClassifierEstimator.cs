using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLDefense.Data;
using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Classifiers;

/// <summary>
/// Trains an image classifier — the target model that defenses protect and attacks attack — on the context's device
/// (<see cref="MLContext.GpuDeviceId"/>: a CUDA GPU when one is set and present, else the CPU), with the settings of
/// <see cref="ImageClassifierOptions"/>.
/// </summary>
/// <remarks>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term>Image (input)</term><description>float vector [C, H, W], values in [0, 1] (the architecture fixes the shape)</description></item>
/// <item><term>Label (input, Fit only)</term><description>a key of K classes (MapValueToKey), or Int32 class in [0, K)</description></item>
/// <item><term>Score (output)</term><description>Single vector [K]: softmax probabilities (slot names from the label's key values)</description></item>
/// <item><term>PredictedLabel (output)</term><description>a key of K classes carrying the label's key values (MapKeyToValue maps it back)</description></item>
/// <item><term>feature map (output, optional)</term><description>float vector [C', H', W']: the last convolutional feature map</description></item>
/// </list>
/// <para>Fit checks the schema and every value (pixels in [0, 1], no NaN, labels in range, at least one row) before
/// any training. It reads the training rows into one tensor on the device, then each epoch draws a fresh permutation
/// and trains on minibatches selected from it; every step's temporaries are freed by a dispose scope. Each epoch is
/// logged through <see cref="MLContext.Log"/>. The seed is applied with <c>torch.manual_seed</c>, libtorch's global
/// generator, so concurrent trainings in one process are not reproducible.</para>
/// <para>A schema shape carries no vector sizes: <see cref="GetOutputSchema(SchemaShape)"/> promises the columns and their
/// kinds, and the fitted transformer's schema is exact (K from the label's key count, <see cref="ImageClassifierOptions.ClassCount"/>
/// or the largest label).</para>
/// </remarks>
public sealed class ImageClassifierEstimator : IEstimator<ImageClassifierTransformer>
{
    private const string LogSource = "ImageClassifier";
    private const int EvaluationBatchSize = 512;
    private const int ProvisionalClassCount = 10;
    private static readonly ConcurrentDictionary<string, Func<ImageShape, int, Module<Tensor, Tensor>>> customModules = new();

    private readonly Defenses.FitEnvironment fitting;
    private readonly ImageClassifierOptions options;

    /// <summary>Creates the trainer in an ML.NET environment (<c>ml.MulticlassClassification.Trainers.ImageClassifier</c> calls this).</summary>
    public ImageClassifierEstimator(IHostEnvironment environment, ImageClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(options);
        MLNet.MLNetCompatibility.Ensure();
        fitting = Defenses.FitEnvironment.From(environment, LogSource);
        this.options = options;
        CheckOptions();
    }

    /// <summary>
    /// The columns the trained classifier adds: <c>Score</c> (Single vector [K]), <c>PredictedLabel</c> (a key of K
    /// classes, with the label's key values) and, when asked for, the feature map. A schema shape has no vector
    /// dimensions: the image's shape is checked by Fit and Transform.
    /// </summary>
    /// <exception cref="ArgumentException">The image or label column is missing or of the wrong type (the message names it).</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ImageColumns.Check(inputSchema, options.ImageColumnName, "the image the classifier reads");
        var label = inputSchema.Where(c => c.Name == options.LabelColumnName).ToArray();
        if (label.Length == 0)
            throw new ArgumentException($"Column '{options.LabelColumnName}' (the label) was not found; expected a key (MapValueToKey) or Int32 class labels 0..K−1. " +
                $"The schema has: {string.Join(", ", inputSchema.Select(c => c.Name))}.");
        if (!(label[0].Kind == SchemaShape.Column.VectorKind.Scalar && (label[0].IsKey || label[0].ItemType == NumberDataViewType.Int32)))
            throw new ArgumentException($"Column '{options.LabelColumnName}' (the label): expected a key (MapValueToKey) or Int32 class labels 0..K−1, found {label[0].Kind} of {label[0].ItemType}.");
        // PredictedLabel carries the label's key values (MapKeyToValue after the trainer checks for them), Score its slot names.
        var keyValues = label[0].Annotations.Where(a => a.Name == "KeyValues").ToArray();
        var slotNames = keyValues.Where(a => a.ItemType is TextDataViewType).Select(a => MLNet.SchemaShapes.Of("SlotNames", new VectorDataViewType(TextDataViewType.Instance, 2)));
        var added = ImageClassifierTransformer.AddedColumns(options.ScoreColumnName, options.PredictedLabelColumnName, options.FeatureMapColumnName, 2,
            options.FeatureMapColumnName is null ? null : [1, 1, 1], null).Select(c => MLNet.SchemaShapes.Of(c.Name, c.Type,
                c.Name == options.PredictedLabelColumnName ? new SchemaShape(keyValues) : c.Name == options.ScoreColumnName ? new SchemaShape(slotNames) : null));
        return MLNet.SchemaShapes.Append(inputSchema, added);
    }

    /// <summary>Checks the data, then trains. Throws <see cref="ArgumentException"/> naming the column for bad input.</summary>
    public ImageClassifierTransformer Fit(IDataView input)
    {
        var data = ReadTrainingData(input);
        return FitCore(data.Shape, data.Pixels, data.Labels, data.ClassCount, data.KeyValues);
    }

    /// <summary>
    /// Fit's first half, shared with the robust trainers (<c>MLDefense.Training</c>): checks the schema and every value,
    /// and reads the training rows (pixels, classes 0..K−1, K when the label's key or the options fix it, the key values).
    /// </summary>
    internal (ImageShape Shape, float[] Pixels, int[] Labels, int? ClassCount, Data.KeyValues? KeyValues) ReadTrainingData(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        string imageName = options.ImageColumnName, labelName = options.LabelColumnName;
        var shape = ImageColumns.Check(input.Schema, imageName, RequiredShape, "the image the classifier reads", $"the input {ModelDescription} takes");
        var labelKind = LabelColumns.Check(input.Schema, labelName, "the label");
        var keyValues = LabelColumns.KeyValues(input.Schema[labelName]);
        options.CancellationToken.ThrowIfCancellationRequested();
        int? keyCount = input.Schema[labelName].Type is KeyDataViewType key && key.Count is > 0 and <= int.MaxValue ? (int)key.Count : null;
        var batches = DataViewBatches.Read(input, [imageName, labelName], 8192, options.CancellationToken)
            .Select(b => (b.Get<float>(imageName), LabelColumns.Classes(b, labelName, labelKind), b.FirstPosition));
        var (pixels, labels) = Gather(batches, shape, options.ClassCount ?? keyCount);
        return (shape, pixels, labels, options.ClassCount ?? keyCount, keyValues);
    }

    /// <summary>
    /// Another training loop for the network FitCore builds (the robust trainers' adversarial training): it trains
    /// <paramref name="network"/> (on <paramref name="device"/>, seeded with <paramref name="seed"/>) on all rows and returns
    /// the epoch-end reports.
    /// </summary>
    internal delegate IReadOnlyList<ClassifierTrainingProgress> NetworkTraining(Module<Tensor, Tensor> network, ImageShape shape, int classCount,
        float[] pixels, int[] labels, int seed, Device device);

    /// <summary>
    /// Registers a named custom network, so that a model trained with <see cref="ImageClassifierOptions.CustomModuleName"/>
    /// can be saved and loaded (the loader rebuilds the network by this name, then loads its weights). Registering the
    /// same name again replaces the factory.
    /// </summary>
    public static void RegisterCustomModule(string name, Func<ImageShape, int, Module<Tensor, Tensor>> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        customModules[name] = factory;
    }

    internal static Func<ImageShape, int, Module<Tensor, Tensor>> FindCustomModule(string name) =>
        customModules.TryGetValue(name, out var factory) ? factory : throw new InvalidOperationException(
            $"No custom classifier module named '{name}' is registered; call ImageClassifierEstimator.RegisterCustomModule(\"{name}\", ...) first.");

    private void CheckOptions()
    {
        var o = options;
        void Require(bool ok, string name, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"ImageClassifierOptions.{name} {rule}.");
        }
        Require(o.Epochs is null or >= 1, nameof(o.Epochs), o.Epochs, "must be at least 1");
        Require(o.BatchSize is null or >= 1, nameof(o.BatchSize), o.BatchSize, "must be at least 1");
        Require(o.LearningRate is null or > 0 && double.IsFinite(o.LearningRate ?? 1), nameof(o.LearningRate), o.LearningRate, "must be positive");
        Require(o.Momentum is null or >= 0, nameof(o.Momentum), o.Momentum, "must be ≥ 0");
        Require(o.WeightDecay >= 0, nameof(o.WeightDecay), o.WeightDecay, "must be ≥ 0");
        Require(o.LearningRateStepSize >= 1, nameof(o.LearningRateStepSize), o.LearningRateStepSize, "must be at least 1");
        Require(o.LearningRateGamma > 0, nameof(o.LearningRateGamma), o.LearningRateGamma, "must be positive");
        Require(o.ValidationFraction is >= 0 and < 1, nameof(o.ValidationFraction), o.ValidationFraction, "must be in [0, 1)");
        Require(o.ClassCount is null or >= 2, nameof(o.ClassCount), o.ClassCount, "must be at least 2");
        if (o.CustomModule is not null && o.CustomModuleName is not null)
            throw new ArgumentException("Set either ImageClassifierOptions.CustomModule or CustomModuleName, not both.", nameof(options));
        var names = new[] { o.ScoreColumnName, o.PredictedLabelColumnName, o.FeatureMapColumnName }.OfType<string>().ToList();
        if (names.Any(string.IsNullOrWhiteSpace)) throw new ArgumentException("Output column names must not be empty.", nameof(options));
        if (names.Distinct().Count() != names.Count)
            throw new ArgumentException($"The output columns need distinct names; got {string.Join(", ", names)}.", nameof(options));
    }

    private Func<ImageShape, int, Module<Tensor, Tensor>>? CustomFactory =>
        options.CustomModule ?? (options.CustomModuleName is { } name ? FindCustomModule(name) : null);

    /// <summary>The input shape the built-in architecture expects, or null for a custom module (any [C, H, W]).</summary>
    private ImageShape? RequiredShape => CustomFactory is null ? ClassifierArchitectures.InputShape(options.Architecture) : null;

    private string ModelDescription => options.CustomModuleName is { } n ? $"custom module '{n}'" :
        options.CustomModule is not null ? "the custom module" : $"architecture {options.Architecture}";

    private NotSupportedException NoFeatureMap() => new(
        $"FeatureMapColumnName '{options.FeatureMapColumnName}' was set, but {ModelDescription} does not expose a feature map (what model-aware defenses such as CMAG read): return a FeatureMapClassifier from the custom module factory.");

    private Module<Tensor, Tensor> BuildNetwork(ImageShape shape, int classCount)
    {
        if (CustomFactory is not { } factory) return ClassifierArchitectures.Create(options.Architecture, shape, classCount);
        var custom = factory(shape, classCount) ?? throw new InvalidOperationException("The custom classifier module factory returned null.");
        // A FeatureMapClassifier records itself (TensorCensus); any other module the factory built is recorded here.
        return custom is FeatureMapClassifier ? custom : TensorCensus.Record(custom);
    }

    /// <summary>
    /// Builds the network, trains it (with this estimator's loop, or with <paramref name="training"/> when given) and wraps
    /// it in the transformer; what it built is freed when training throws.
    /// </summary>
    internal ImageClassifierTransformer FitCore(ImageShape shape, float[] pixels, int[] labels, int? knownClassCount, Data.KeyValues? keyValues,
        NetworkTraining? training = null)
    {
        var token = options.CancellationToken;
        int classCount = knownClassCount ?? labels.Max() + 1;
        if (classCount < 2)
            throw new ArgumentException($"Column '{options.LabelColumnName}' (the label): expected at least 2 classes, found only label 0 (set ClassCount if the data lacks classes).");

        var defaults = CustomFactory is null ? ClassifierArchitectures.TrainingDefaults(options.Architecture)
            : ClassifierArchitectures.TrainingDefaults(ClassifierArchitecture.MnistC1);
        var settings = new Settings(
            Epochs: options.Epochs ?? defaults.Epochs,
            BatchSize: options.BatchSize ?? defaults.BatchSize,
            LearningRate: options.LearningRate ?? defaults.LearningRate,
            Optimizer: options.Optimizer ?? defaults.Optimizer,
            Momentum: options.Momentum ?? defaults.Momentum,
            Nesterov: options.Nesterov ?? defaults.Nesterov);
        int seed = options.Seed ?? fitting.NextSeed();
        var device = fitting.Device;

        var (trainRows, validationRows) = SplitRows(labels.Length, options.ValidationFraction, seed);
        if (trainRows.Length == 0)
            throw new ArgumentException($"ValidationFraction {options.ValidationFraction} leaves no training rows out of {labels.Length}.");

        torch.manual_seed((uint)seed);
        var network = BuildNetwork(shape, classCount);
        var shared = new SharedNetwork(network);
        try
        {
            network.to(device);
            ImageClassifierTransformer.ProbeOutput(network, shape, classCount, device, ModelDescription);
            IReadOnlyList<int>? featureMapShape = null;
            if (options.FeatureMapColumnName is not null)
                featureMapShape = ImageClassifierTransformer.ProbeFeatureMapShape(network, shape, device) ?? throw NoFeatureMap();

            IReadOnlyList<ClassifierTrainingProgress> history = training is null ? Train(network, shape, pixels, labels, trainRows, validationRows, settings, device, token)
                : training(network, shape, classCount, pixels, labels, seed, device);
            network.eval();
            var info = new ImageClassifierModelInfo
            {
                Architecture = CustomFactory is null ? options.Architecture : null,
                CustomModuleName = options.CustomModuleName,
                Channels = shape.Channels, Height = shape.Height, Width = shape.Width,
                ClassCount = classCount,
                ImageColumnName = options.ImageColumnName,
                ScoreColumnName = options.ScoreColumnName,
                PredictedLabelColumnName = options.PredictedLabelColumnName,
                FeatureMapColumnName = options.FeatureMapColumnName,
                LabelKeyValues = keyValues,
            };
            return new ImageClassifierTransformer(shared, info, device, featureMapShape, savable: options.CustomModule is null, history);
        }
        catch
        {
            shared.Release();
            throw;
        }
    }

    private sealed record Settings(int Epochs, int BatchSize, double LearningRate, ClassifierOptimizer Optimizer, double Momentum, bool Nesterov);

    /// <summary>The training rows in two arrays, every value checked on the way (labels in [0, <paramref name="classCount"/>) when it is known).</summary>
    private (float[] Pixels, int[] Labels) Gather(IEnumerable<(float[] Pixels, int[] Labels, long FirstRow)> batches, ImageShape shape, int? classCount)
    {
        string imageName = options.ImageColumnName, labelName = options.LabelColumnName;
        int size = shape.Size;
        var pixelParts = new List<float[]>();
        var labelParts = new List<int[]>();
        long rowsSeen = 0;
        foreach (var (pixels, labels, _) in batches)
        {
            ImageColumns.CheckPixelRange(pixels, size, rowsSeen, imageName);
            LabelColumns.CheckRange(labels, classCount, rowsSeen, labelName);
            pixelParts.Add(pixels);
            labelParts.Add(labels);
            rowsSeen += labels.Length;
        }
        if (rowsSeen == 0) throw new ArgumentException($"Column '{imageName}': expected at least one training row, found an empty data view.");
        if (rowsSeen * size > Array.MaxLength)
            throw new ArgumentException($"Column '{imageName}': {rowsSeen} images of {shape} do not fit in one array; train on a subset.");
        return (Concat(pixelParts), Concat(labelParts));
    }

    private static T[] Concat<T>(List<T[]> parts)
    {
        if (parts.Count == 1) return parts[0];
        var all = new T[parts.Sum(p => p.Length)];
        int offset = 0;
        foreach (var p in parts) { p.CopyTo(all, offset); offset += p.Length; }
        return all;
    }

    private static (int[] Train, int[] Validation) SplitRows(int rowCount, double validationFraction, int seed)
    {
        var rows = Enumerable.Range(0, rowCount).ToArray();
        int validationCount = (int)Math.Round(rowCount * validationFraction);
        if (validationCount == 0) return (rows, []);
        new Random(seed).Shuffle(rows);
        var validation = rows[..validationCount];
        var train = rows[validationCount..];
        Array.Sort(validation);
        Array.Sort(train);
        return (train, validation);
    }

    private List<ClassifierTrainingProgress> Train(Module<Tensor, Tensor> network, ImageShape shape, float[] pixels, int[] labels,
        int[] trainRows, int[] validationRows, Settings settings, Device device, CancellationToken token)
    {
        long[] imageDims = [shape.Channels, shape.Height, shape.Width];
        using var allImages = torch.tensor(pixels, [labels.Length, .. imageDims], device: device);
        using var allLabels = torch.tensor(Array.ConvertAll(labels, l => (long)l), [labels.Length], device: device);
        // Without a validation split the training set is all rows: alias it rather than hold a second copy.
        using var trainImages = validationRows.Length > 0 ? Select(allImages, trainRows, device) : allImages.alias();
        using var trainLabels = validationRows.Length > 0 ? Select(allLabels, trainRows, device) : allLabels.alias();
        using var validationImages = validationRows.Length > 0 ? Select(allImages, validationRows, device) : null;
        using var validationLabels = validationRows.Length > 0 ? Select(allLabels, validationRows, device) : null;

        using optim.Optimizer optimizer = settings.Optimizer == ClassifierOptimizer.Adam
            ? torch.optim.Adam(network.parameters(), settings.LearningRate, weight_decay: options.WeightDecay)
            : torch.optim.SGD(network.parameters(), settings.LearningRate, settings.Momentum, weight_decay: options.WeightDecay,
                nesterov: settings.Nesterov && settings.Momentum > 0);
        optim.lr_scheduler.LRScheduler? scheduler = options.LearningRateSchedule switch
        {
            LearningRateSchedule.Step => torch.optim.lr_scheduler.StepLR(optimizer, options.LearningRateStepSize, options.LearningRateGamma),
            LearningRateSchedule.Cosine => torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.Epochs),
            _ => null,
        };

        long trainCount = trainRows.Length;
        int batchesPerEpoch = (int)((trainCount + settings.BatchSize - 1) / settings.BatchSize);
        long totalSteps = (long)batchesPerEpoch * settings.Epochs;
        // Reporting every step would force a device synchronisation per step; about 20 reports per epoch is plenty.
        int reportEvery = Math.Max(1, batchesPerEpoch / 20);
        var history = new List<ClassifierTrainingProgress>();
        var clock = Stopwatch.StartNew();
        fitting.Log(LogSource, $"training {ModelDescription} on {device}: {trainCount} images ({validationRows.Length} held out), " +
            $"{settings.Epochs} epochs, batch {settings.BatchSize}, {settings.Optimizer} lr {settings.LearningRate}");

        for (int epoch = 1; epoch <= settings.Epochs; epoch++)
        {
            network.train();
            double learningRate = optimizer.ParamGroups.First().LearningRate;
            using var order = torch.randperm(trainCount, device: device);
            // Sums stay on the device so that a step never waits for the device to report a number.
            using var lossSum = torch.zeros([], ScalarType.Float32, device);
            using var correctSum = torch.zeros([], ScalarType.Int64, device);
            for (int batch = 0; batch < batchesPerEpoch; batch++)
            {
                token.ThrowIfCancellationRequested();
                long start = (long)batch * settings.BatchSize;
                long count = Math.Min(settings.BatchSize, trainCount - start);
                using (torch.NewDisposeScope())
                {
                    var indices = order.narrow(0, start, count);
                    var images = trainImages.index_select(0, indices);
                    var targets = trainLabels.index_select(0, indices);
                    var logits = network.forward(images);
                    var loss = F.cross_entropy(logits, targets);
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                    using (torch.no_grad())
                    {
                        lossSum.add_(loss.detach(), alpha: count);
                        correctSum.add_(logits.argmax(1).eq(targets).sum());
                    }
                }
                int done = batch + 1;
                bool epochEnd = done == batchesPerEpoch;
                if (options.Progress is not null && !epochEnd && done % reportEvery == 0)
                    options.Progress.Report(Report(epoch, done, false, null));
            }
            double? validationAccuracy = validationImages is not null ? Accuracy(network, validationImages, validationLabels!, token) : null;
            var endOfEpoch = Report(epoch, batchesPerEpoch, true, validationAccuracy);
            history.Add(endOfEpoch);
            options.Progress?.Report(endOfEpoch);
            fitting.Log(LogSource, endOfEpoch.ToString());
            scheduler?.step();

            ClassifierTrainingProgress Report(int epochNumber, int batchesDone, bool completed, double? validation)
            {
                long rowsDone = Math.Min((long)batchesDone * settings.BatchSize, trainCount);
                long stepsDone = (long)(epochNumber - 1) * batchesPerEpoch + batchesDone;
                var elapsed = clock.Elapsed;
                var remaining = TimeSpan.FromTicks((long)(elapsed.Ticks / (double)stepsDone * (totalSteps - stepsDone)));
                return new ClassifierTrainingProgress(epochNumber, settings.Epochs, batchesDone, batchesPerEpoch,
                    lossSum.item<float>() / rowsDone, correctSum.item<long>() / (double)rowsDone, validation, learningRate,
                    elapsed, remaining, completed);
            }
        }
        return history;
    }

    private static Tensor Select(Tensor all, int[] rows, Device device)
    {
        using var index = torch.tensor(Array.ConvertAll(rows, r => (long)r), [rows.Length], device: device);
        return all.index_select(0, index);
    }

    /// <summary>Accuracy in evaluation mode (no dropout); restores training mode.</summary>
    private static double Accuracy(Module<Tensor, Tensor> network, Tensor images, Tensor labels, CancellationToken token)
    {
        network.eval();
        try
        {
            using var _ = torch.no_grad();
            long n = images.size(0), correct = 0;
            for (long start = 0; start < n; start += EvaluationBatchSize)
            {
                token.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                long count = Math.Min(EvaluationBatchSize, n - start);
                var logits = network.forward(images.narrow(0, start, count));
                correct += logits.argmax(1).eq(labels.narrow(0, start, count)).sum().item<long>();
            }
            return correct / (double)n;
        }
        finally
        {
            network.train();
        }
    }
}

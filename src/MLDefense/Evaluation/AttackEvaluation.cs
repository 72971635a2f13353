using System.Diagnostics;
using MLDefense.Attacks;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Classifiers;

namespace MLDefense.Evaluation;

/// <summary>Labelled images as tensors on a classifier's device: images float32 [N, C, H, W] in [0, 1], labels int64 [N].</summary>
public sealed class LabelledImages : IDisposable
{
    private LabelledImages(Tensor images, Tensor labels, ImageShape shape)
    {
        Images = images;
        Labels = labels;
        Shape = shape;
    }

    /// <summary>The images [N, C, H, W].</summary>
    public Tensor Images { get; }

    /// <summary>Their classes [N].</summary>
    public Tensor Labels { get; }

    /// <summary>The shape of one image.</summary>
    public ImageShape Shape { get; }

    /// <summary>N.</summary>
    public int Count => (int)Labels.size(0);

    /// <summary>Reads the first <paramref name="limit"/> rows (all for null) of <paramref name="data"/>: <see cref="Load(IDataView, Device)"/> of <c>ml.Data.TakeRows</c>.</summary>
    public static LabelledImages Load(MLContext ml, IDataView data, int? limit, Device device)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(data);
        return Load(limit is int n ? ml.Data.TakeRows(data, n) : data, device);
    }

    /// <summary>
    /// Reads every row of an ML.NET data view's <c>Image</c> (Single [C, H, W]) and <c>Label</c> (a key, or Int32 0..K−1)
    /// columns onto <paramref name="device"/>; labels become class indices 0..K−1.
    /// </summary>
    /// <exception cref="ArgumentException">The data is empty or its columns are not an image and a label.</exception>
    public static LabelledImages Load(IDataView data, Device device)
    {
        ArgumentNullException.ThrowIfNull(data);
        var shape = Data.ImageColumns.Check(data.Schema, "Image", null, "the images to attack", "");
        var kind = Data.LabelColumns.Check(data.Schema, "Label", "the true classes");
        using var scope = torch.NewDisposeScope();
        var imageParts = new List<Tensor>();
        var labelParts = new List<Tensor>();
        foreach (var batch in Data.DataViewBatches.Read(data, ["Image", "Label"], 4096))
        {
            imageParts.Add(torch.tensor(batch.Get<float>("Image"), [batch.RowCount, shape.Channels, shape.Height, shape.Width], device: device));
            labelParts.Add(torch.tensor(Array.ConvertAll(Data.LabelColumns.Classes(batch, "Label", kind), l => (long)l), [batch.RowCount], device: device));
        }
        if (imageParts.Count == 0) throw new ArgumentException("The dataset has no images to attack.", nameof(data));
        return new LabelledImages(torch.cat(imageParts, 0).DetachFromDisposeScope(), torch.cat(labelParts, 0).DetachFromDisposeScope(), shape);
    }

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>What <see cref="AttackEvaluation"/> measured.</summary>
/// <param name="Attack">The attack's name (e.g. <c>PGD</c>).</param>
/// <param name="Norm">Its norm (<c>linf</c>, <c>l2</c>).</param>
/// <param name="Epsilon">Its budget ε, or null for attacks without one (CW-L2, DeepFool).</param>
/// <param name="Images">Images attacked.</param>
/// <param name="CleanAccuracy">The classifier's accuracy on the clean images.</param>
/// <param name="AdversarialAccuracy">Its accuracy on their adversarial versions (labels = the true classes).</param>
/// <param name="MeanL2">The mean over all images of ‖x' − x‖₂ (an image the attack leaves unchanged counts as 0).</param>
/// <param name="MeanLinf">The mean over all images of ‖x' − x‖∞.</param>
/// <param name="Seconds">Wall-clock seconds of the attack (classifying and measuring included).</param>
/// <param name="Examples">The first adversarial images as CHW floats (as many as asked for), for saving as files.</param>
/// <param name="ImageShape">The shape of one image (of the examples).</param>
public sealed record AttackEvaluationResult(string Attack, string Norm, double? Epsilon, int Images, double CleanAccuracy, double AdversarialAccuracy,
                                            double MeanL2, double MeanLinf, double Seconds, IReadOnlyList<float[]> Examples, ImageShape ImageShape)
{
    /// <summary>Images attacked per second.</summary>
    public double ImagesPerSecond => Seconds > 0 ? Images / Seconds : double.PositiveInfinity;
}

/// <summary>Attacks a labelled image set batch by batch and measures accuracy before and after, and the perturbations' size.</summary>
public static class AttackEvaluation
{
    /// <summary>Runs <paramref name="attack"/> on every image of <paramref name="data"/> (untargeted: the labels are the true classes).</summary>
    /// <param name="classifier">The target model (the images must be on its device).</param>
    /// <param name="attack">The attack.</param>
    /// <param name="data">The images and labels.</param>
    /// <param name="batchSize">Images per attack batch.</param>
    /// <param name="examples">How many of the first adversarial images to return as pixels.</param>
    /// <param name="progress">Told the images done after every batch.</param>
    /// <param name="cancellationToken">Checked between batches and passed to the attack.</param>
    public static AttackEvaluationResult Run(IDifferentiableClassifier classifier, IAdversarialAttack attack, LabelledImages data, int batchSize = ProtocolSupport.DefaultBatchSize,
                                             int examples = 0, IProgress<EvaluationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(attack);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegative(examples);
        var labels = ProtocolSupport.CheckInputs(classifier, data.Images, data.Labels, batchSize);
        int count = labels.Length;
        int cleanCorrect = 0, adversarialCorrect = 0;
        double sumL2 = 0, sumLinf = 0;
        var kept = new List<float[]>();
        var clock = Stopwatch.StartNew();
        foreach (var (start, length) in ProtocolSupport.Batches(count, batchSize))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var clean = data.Images.narrow(0, start, length);
            var adversarial = ProtocolSupport.Attack(attack, classifier, clean, data.Labels.narrow(0, start, length), cancellationToken);
            var cleanPredicted = ProtocolSupport.Predict(classifier, clean);
            var adversarialPredicted = ProtocolSupport.Predict(classifier, adversarial);
            for (int i = 0; i < length; i++)
            {
                if (cleanPredicted[i] == labels[start + i]) cleanCorrect++;
                if (adversarialPredicted[i] == labels[start + i]) adversarialCorrect++;
            }
            var perturbation = adversarial.sub(clean).flatten(1);
            sumL2 += torch.linalg.vector_norm(perturbation, 2, [1]).sum().ToDouble();
            sumLinf += torch.linalg.vector_norm(perturbation, double.PositiveInfinity, [1]).sum().ToDouble();
            for (int i = 0; kept.Count < examples && i < length; i++)
                kept.Add(adversarial[i].cpu().contiguous().data<float>().ToArray());
            progress?.Report(new("attack", attack.Name, start + length, count));
        }
        double seconds = clock.Elapsed.TotalSeconds;
        return new(attack.Name, ProtocolSupport.NormName(attack.Norm), AttackFactory.Epsilon(attack), count, (double)cleanCorrect / count,
                   (double)adversarialCorrect / count, sumL2 / count, sumLinf / count, seconds, kept, data.Shape);
    }

    /// <summary>
    /// Loads the classifier of <paramref name="modelPath"/> and the first <paramref name="limit"/> test images of
    /// <paramref name="dataset"/>, and runs <paramref name="settings"/>' attack on them: what <c>mldefense attack</c> runs.
    /// </summary>
    /// <exception cref="ArgumentException">The attack settings are inconsistent, the model holds no classifier, or the dataset does not fit it.</exception>
    public static AttackEvaluationResult Run(MLContext ml, string modelPath, string dataset, AttackSettings settings, int? limit, string? dataDirectory,
                                             int seed, int examples = 0, IProgress<EvaluationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ml);
        var attack = AttackFactory.Create(settings);
        using var classifier = FindClassifier(ml.Model.Load(modelPath, out _));
        using var test = LabelledImages.Load(ml, ml.Data.LoadKnownDataset(dataset, train: false, dataDirectory), limit, classifier.Device);
        torch.manual_seed(seed);
        return Run(classifier, attack, test, examples: examples, progress: progress, cancellationToken: cancellationToken);
    }

    /// <summary>The image classifier in a model loaded with <c>ml.Model.Load</c>: the model itself, or the last one of a chain.</summary>
    /// <exception cref="ArgumentException">The model holds no image classifier.</exception>
    public static ImageClassifierTransformer FindClassifier(ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model is ImageClassifierTransformer classifier) return classifier;
        if (model is IEnumerable<ITransformer> chain && chain.Select(FindClassifierOrNull).LastOrDefault(c => c is not null) is { } inner) return inner;
        throw new ArgumentException($"The model ({model.GetType().Name}) holds no image classifier; attacks need one (train it with `mldefense train-classifier`).", nameof(model));

        static ImageClassifierTransformer? FindClassifierOrNull(ITransformer t)
        {
            try { return FindClassifier(t); }
            catch (ArgumentException) { return null; }
        }
    }
}

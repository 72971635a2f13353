using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Classifiers;

namespace MLDefense.Evaluation;

/// <summary>The plumbing every protocol shares: input checks, batching, predictions, scoring, progress.</summary>
internal static class ProtocolSupport
{
    public const int DefaultBatchSize = 256;

    /// <summary>Checks the protocol's inputs before any work, and returns the labels on the host.</summary>
    public static int[] CheckInputs(IDifferentiableClassifier classifier, Tensor images, Tensor labels, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        var s = images.shape;
        var expected = classifier.InputShape;
        if (s.Length != 4 || s[1] != expected.Channels || s[2] != expected.Height || s[3] != expected.Width)
            throw new ArgumentException($"The classifier takes images [N, {expected.Channels}, {expected.Height}, {expected.Width}]; found [{string.Join(", ", s)}].", nameof(images));
        if (s[0] == 0) throw new ArgumentException("There are no images to evaluate.", nameof(images));
        if (images.dtype != ScalarType.Float32) throw new ArgumentException($"Images must be float32; found {images.dtype}.", nameof(images));
        if (!images.device.IsSame(classifier.Device))
            throw new ArgumentException($"The images are on {images.device} but the classifier is on {classifier.Device}.", nameof(images));
        if (labels.dim() != 1 || labels.size(0) != s[0])
            throw new ArgumentException($"Expected one label per image ({s[0]}); found labels of shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        if (labels.dtype != ScalarType.Int64) throw new ArgumentException($"Labels must be int64 class indices; found {labels.dtype}.", nameof(labels));
        using var host = labels.cpu();
        var values = host.data<long>().ToArray();
        var result = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] < 0 || values[i] >= classifier.ClassCount)
                throw new ArgumentException($"Label {values[i]} (row {i}) is not a class of this {classifier.ClassCount}-class classifier.", nameof(labels));
            result[i] = (int)values[i];
        }
        return result;
    }

    /// <summary>Consecutive (start, length) ranges covering [0, count).</summary>
    public static IEnumerable<(int Start, int Length)> Batches(int count, int batchSize)
    {
        for (int start = 0; start < count; start += batchSize)
            yield return (start, Math.Min(batchSize, count - start));
    }

    /// <summary>The classifier's predicted classes, computed without a graph.</summary>
    public static int[] Predict(IDifferentiableClassifier classifier, Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var predicted = classifier.Logits(images).argmax(1).cpu().data<long>().ToArray();
        return Array.ConvertAll(predicted, p => (int)p);
    }

    /// <summary>The detector's scores for a batch; checks it returns one per image.</summary>
    public static float[] Score(EvaluatedDetector detector, Tensor images)
    {
        int rows = (int)images.size(0);
        if (rows == 0) return [];
        var scores = detector.Score(images) ?? throw new InvalidOperationException($"Detector '{detector.Name}' returned no scores.");
        if (scores.Length != rows) throw new InvalidOperationException($"Detector '{detector.Name}' returned {scores.Length} scores for {rows} images.");
        for (int i = 0; i < scores.Length; i++)
            if (float.IsNaN(scores[i])) throw new InvalidOperationException($"Detector '{detector.Name}' returned a NaN score (image {i} of a batch of {rows}).");
        return scores;
    }

    /// <summary>Runs the attack on a batch, checking the contract (same shape, same device).</summary>
    public static Tensor Attack(Attacks.IAdversarialAttack attack, IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken)
    {
        var adversarial = attack.Generate(classifier, images, labels, cancellationToken)
            ?? throw new InvalidOperationException($"Attack '{attack.Name}' returned no images.");
        if (!adversarial.shape.SequenceEqual(images.shape))
            throw new InvalidOperationException($"Attack '{attack.Name}' returned images [{string.Join(", ", adversarial.shape)}] for inputs [{string.Join(", ", images.shape)}].");
        return adversarial;
    }

    /// <summary>The rows of <paramref name="source"/> at <paramref name="rows"/> (positions within the batch).</summary>
    public static Tensor Rows(Tensor source, IReadOnlyList<int> rows) =>
        source.index_select(0, torch.tensor(rows.Select(r => (long)r).ToArray(), [rows.Count], device: source.device));

    public static string NormName(Attacks.AttackNorm norm) => norm switch
    {
        Attacks.AttackNorm.Linf => "linf",
        Attacks.AttackNorm.L2 => "l2",
        _ => norm.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// The balanced set MixDefense (Sec. 5.1) and this library's CMAG protocol evaluate a detector on: each successful
/// adversarial example is paired with the clean image it was made from, so positives and negatives are equal in number.
/// </summary>
internal static class BalancedPairs
{
    /// <summary>Whether the attack succeeded on image i: the clean image was classified correctly and its AE is not.</summary>
    public static bool Successful(int cleanPrediction, int adversarialPrediction, int label) =>
        cleanPrediction == label && adversarialPrediction != label;

    public static DetectionMetrics Metrics(IReadOnlyList<int> pairs, float[] cleanScores, float[] adversarialScores, double threshold)
    {
        var scores = new float[2 * pairs.Count];
        var truth = new bool[2 * pairs.Count];
        for (int p = 0; p < pairs.Count; p++)
        {
            scores[p] = cleanScores[pairs[p]];
            scores[pairs.Count + p] = adversarialScores[pairs[p]];
            truth[pairs.Count + p] = true;
        }
        return DetectionMetrics.Compute(scores, truth, threshold);
    }
}

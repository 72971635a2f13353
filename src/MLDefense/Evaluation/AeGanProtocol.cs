using System.Diagnostics;
using System.Text.Json.Serialization;
using MLDefense.Attacks;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Classifiers;

namespace MLDefense.Evaluation;

/// <summary>Settings of the AE-GAN protocol (<see cref="AeGanProtocol"/>).</summary>
public sealed record AeGanProtocolOptions
{
    /// <summary>The dataset's name for the result rows.</summary>
    public string Dataset { get; init; } = "";

    /// <summary>The purification method's name for the row of the single-purifier overload (issue 6: <c>none</c>, <c>magnet</c>, <c>defensegan</c>, <c>aegan</c>).</summary>
    public string Method { get; init; } = "aegan";

    /// <summary>The attack's name for the rows; null takes the attack's own (e.g. <c>BPDA-PGD</c> for a defense-aware run).</summary>
    public string? AttackName { get; init; }

    /// <summary>
    /// The model the attack differentiates through; null (default) attacks the classifier itself, as the paper's
    /// gray-box rows do (Sec. 3.1: the attacker knows the classifier, not the defense; its white-box rows attack through the
    /// defense). A wrapper around purifier and classifier (<see cref="Defenses.AeGanWhiteBoxClassifier"/> for the white-box rows, <see cref="Defenses.AeGanBpdaClassifier"/> for BPDA)
    /// makes the attack defense-aware. Predictions always come from the classifier.
    /// </summary>
    public IDifferentiableClassifier? AttackedModel { get; init; }

    /// <summary>Images per batch. Default 256.</summary>
    public int BatchSize { get; init; } = ProtocolSupport.DefaultBatchSize;
}

/// <summary>A purification method the protocol compares.</summary>
/// <param name="Name">The method's name for the rows (<c>none</c>, <c>magnet</c>, <c>defensegan</c>, <c>aegan</c>).</param>
/// <param name="Purify">
/// Maps a batch of images [n, C, H, W] to purified images of the same shape on the same device. It must not dispose its
/// input; the tensors it creates are freed with the protocol's batch.
/// </param>
/// <param name="ImageLimit">
/// Purify only the first this-many test images (null: all) — for a method too slow to run on the whole set, such as the
/// Defense-GAN-style search on a CPU. The row's accuracies, undefended ones included, are then over those images.
/// </param>
public sealed record AeGanMethod(string Name, Func<Tensor, Tensor> Purify, int? ImageLimit = null);

/// <summary>
/// AE-GAN's evaluation protocol ("Defense against adversarial examples by encoder-assisted search in the latent coding
/// space", Sec. 4, Table 1): the classifier's accuracy on purified inputs, and the detection of adversarial examples by
/// reconstruction error (ROC / AUC).
/// </summary>
/// <remarks>
/// <para>Attacks are computed on the classifier alone — the paper's gray-box setting (Sec. 3.1: complete access to the
/// classifier, none to the defense; its white-box rows attack through the defense, as Defense-GAN's code does by
/// differentiating through the unrolled search) — unless <see cref="AeGanProtocolOptions.AttackedModel"/> names another model; each batch is attacked once,
/// and every method then purifies the same clean and adversarial images, which are classified. A row's
/// <c>accuracy</c> is the accuracy on purified AEs, <c>clean_accuracy</c> on purified clean images, and the undefended
/// accuracies sit beside them. <c>ms_per_image</c> is the method's wall time per image (both sets; on CUDA the device
/// is synchronised before the clock stops).</para>
/// <para>Detection (optional: give a reconstruction-error detector, e.g. through <see cref="ReconstructionErrorScores"/>)
/// is measured as in the MixDefense protocol: successful AEs (clean image right, AE wrong) against their own clean
/// images, over all the test images; every row of the run carries it.</para>
/// </remarks>
public static class AeGanProtocol
{
    /// <summary>Runs the protocol for one purifier (see the class remarks); the row's method is <see cref="AeGanProtocolOptions.Method"/>.</summary>
    /// <param name="classifier">The target model.</param>
    /// <param name="attack">The attack, run on the classifier.</param>
    /// <param name="images">Test images [N, C, H, W], float32 in [0, 1], on the classifier's device.</param>
    /// <param name="labels">Their classes, int64 [N].</param>
    /// <param name="purifier">Maps a batch of images to purified images of the same shape on the same device (the caller's tensor is not disposed).</param>
    /// <param name="reconstructionErrorDetector">The reconstruction-error detector, or null to skip detection.</param>
    /// <param name="options">Settings.</param>
    /// <param name="progress">Told after every batch.</param>
    /// <param name="cancellationToken">Checked between batches and passed to the attack.</param>
    public static AeGanResult Run(IDifferentiableClassifier classifier, IAdversarialAttack attack, Tensor images, Tensor labels, Func<Tensor, Tensor> purifier,
                                  EvaluatedDetector? reconstructionErrorDetector = null, AeGanProtocolOptions? options = null,
                                  IProgress<EvaluationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new();
        ArgumentNullException.ThrowIfNull(purifier);
        return Run(classifier, attack, images, labels, [new AeGanMethod(options.Method, purifier)], reconstructionErrorDetector, options, progress,
                   cancellationToken)[0];
    }

    /// <summary>Runs the protocol for several purification methods on the same adversarial examples (see the class remarks).</summary>
    /// <param name="classifier">The target model.</param>
    /// <param name="attack">The attack, run on <see cref="AeGanProtocolOptions.AttackedModel"/> or else the classifier.</param>
    /// <param name="images">Test images [N, C, H, W], float32 in [0, 1], on the classifier's device.</param>
    /// <param name="labels">Their classes, int64 [N].</param>
    /// <param name="methods">The methods compared, one result each, in order.</param>
    /// <param name="reconstructionErrorDetector">The reconstruction-error detector, or null to skip detection.</param>
    /// <param name="options">Settings.</param>
    /// <param name="progress">Told after every batch.</param>
    /// <param name="cancellationToken">Checked between batches and passed to the attack.</param>
    public static IReadOnlyList<AeGanResult> Run(IDifferentiableClassifier classifier, IAdversarialAttack attack, Tensor images, Tensor labels,
                                                 IReadOnlyList<AeGanMethod> methods, EvaluatedDetector? reconstructionErrorDetector = null,
                                                 AeGanProtocolOptions? options = null, IProgress<EvaluationProgress>? progress = null,
                                                 CancellationToken cancellationToken = default)
    {
        options ??= new();
        ArgumentNullException.ThrowIfNull(attack);
        ArgumentNullException.ThrowIfNull(methods);
        if (methods.Count == 0) throw new ArgumentException("There are no purification methods to compare.", nameof(methods));
        foreach (var method in methods)
        {
            ArgumentNullException.ThrowIfNull(method, nameof(methods));
            ArgumentNullException.ThrowIfNull(method.Purify, nameof(methods));
            if (method.ImageLimit is < 1) throw new ArgumentOutOfRangeException(nameof(methods), method.ImageLimit, $"Method '{method.Name}': the image limit must be at least 1.");
        }
        var labelsOnHost = ProtocolSupport.CheckInputs(classifier, images, labels, options.BatchSize);
        var attacked = options.AttackedModel ?? classifier;
        if (!attacked.Device.IsSame(classifier.Device) || attacked.InputShape != classifier.InputShape)
            throw new ArgumentException($"The attacked model takes {attacked.InputShape} images on {attacked.Device}; the classifier {classifier.InputShape} on {classifier.Device}.", nameof(options));

        int count = labelsOnHost.Length;
        var limits = methods.Select(m => Math.Min(m.ImageLimit ?? count, count)).ToArray();
        var cleanPredictions = new int[count];
        var adversarialPredictions = new int[count];
        var purifiedClean = methods.Select((_, k) => new int[limits[k]]).ToArray();
        var purifiedAdversarial = methods.Select((_, k) => new int[limits[k]]).ToArray();
        var clocks = methods.Select(_ => new Stopwatch()).ToArray();
        var cleanScores = new float[count];
        var adversarialScores = new float[count];
        foreach (var (start, length) in ProtocolSupport.Batches(count, options.BatchSize))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var clean = images.narrow(0, start, length);
            var adversarial = ProtocolSupport.Attack(attack, attacked, clean, labels.narrow(0, start, length), cancellationToken);
            ProtocolSupport.Predict(classifier, clean).CopyTo(cleanPredictions, start);
            ProtocolSupport.Predict(classifier, adversarial).CopyTo(adversarialPredictions, start);
            for (int k = 0; k < methods.Count; k++)
            {
                int n = Math.Min(length, limits[k] - start);
                if (n <= 0) continue;
                cancellationToken.ThrowIfCancellationRequested();
                var (cleanPart, adversarialPart) = n == length ? (clean, adversarial) : (clean.narrow(0, 0, n), adversarial.narrow(0, 0, n));
                ProtocolSupport.Predict(classifier, Purify(methods[k], cleanPart, classifier.Device, clocks[k])).CopyTo(purifiedClean[k], start);
                ProtocolSupport.Predict(classifier, Purify(methods[k], adversarialPart, classifier.Device, clocks[k])).CopyTo(purifiedAdversarial[k], start);
            }
            if (reconstructionErrorDetector is not null)
            {
                ProtocolSupport.Score(reconstructionErrorDetector, clean).CopyTo(cleanScores, start);
                ProtocolSupport.Score(reconstructionErrorDetector, adversarial).CopyTo(adversarialScores, start);
            }
            progress?.Report(new("AE-GAN", options.AttackName ?? attack.Name, start + length, count));
        }

        DetectionMetrics? detection = null;
        if (reconstructionErrorDetector is not null)
        {
            var pairs = Enumerable.Range(0, count).Where(i => BalancedPairs.Successful(cleanPredictions[i], adversarialPredictions[i], labelsOnHost[i])).ToList();
            detection = BalancedPairs.Metrics(pairs, cleanScores, adversarialScores, reconstructionErrorDetector.Threshold);
        }
        var at5 = detection?.AtFalsePositiveRate5Percent;
        var results = new List<AeGanResult>();
        for (int k = 0; k < methods.Count; k++)
        {
            int n = limits[k];
            var truth = labelsOnHost.AsSpan(0, n);
            var row = new AeGanRow(options.Dataset, options.AttackName ?? attack.Name, methods[k].Name,
                                   RobustnessMetrics.Accuracy(purifiedAdversarial[k], truth),
                                   RobustnessMetrics.Accuracy(purifiedClean[k], truth),
                                   RobustnessMetrics.Accuracy(adversarialPredictions.AsSpan(0, n), truth),
                                   RobustnessMetrics.Accuracy(cleanPredictions.AsSpan(0, n), truth),
                                   clocks[k].Elapsed.TotalMilliseconds / (2.0 * n),
                                   detection?.Auc ?? double.NaN, at5?.TruePositiveRate ?? double.NaN, detection?.Recall ?? double.NaN,
                                   detection?.FalsePositiveRate ?? double.NaN, detection?.Counts.Positives ?? 0, n);
            results.Add(new(row, detection, purifiedAdversarial[k], purifiedClean[k]));
        }
        return results;
    }

    private static Tensor Purify(AeGanMethod method, Tensor images, Device device, Stopwatch clock)
    {
        clock.Start();
        var purified = method.Purify(images) ?? throw new InvalidOperationException($"Method '{method.Name}' returned no images.");
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
        clock.Stop();
        if (!purified.shape.SequenceEqual(images.shape))
            throw new InvalidOperationException($"Method '{method.Name}' returned images [{string.Join(", ", purified.shape)}] for inputs [{string.Join(", ", images.shape)}].");
        return purified;
    }
}

/// <summary>One (dataset, attack, method) of the AE-GAN protocol: Table 1's accuracy after purification, and detection by reconstruction error.</summary>
/// <param name="Dataset">The dataset's name.</param>
/// <param name="Attack">The attack's name.</param>
/// <param name="Method">The purification method's name.</param>
/// <param name="Accuracy">The classifier's accuracy on the purified AEs.</param>
/// <param name="CleanAccuracy">Its accuracy on the purified clean images.</param>
/// <param name="UndefendedAccuracy">Its accuracy on the AEs without purification.</param>
/// <param name="UndefendedCleanAccuracy">Its accuracy on the clean images without purification.</param>
/// <param name="MsPerImage">Purifier wall time per image.</param>
/// <param name="DetectionAuc">The AUC of the reconstruction error (null without a detector).</param>
/// <param name="DetectionTprAtFpr5Percent">Its best TPR at FPR ≤ 5%.</param>
/// <param name="DetectionTpr">Its TPR at its threshold.</param>
/// <param name="DetectionFpr">Its FPR at its threshold.</param>
/// <param name="SuccessfulAdversarialExamples">Successful AEs the detection was measured on.</param>
/// <param name="Evaluated">Test images.</param>
public sealed record AeGanRow(
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("attack")] string Attack,
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("accuracy")] double Accuracy,
    [property: JsonPropertyName("clean_accuracy")] double CleanAccuracy,
    [property: JsonPropertyName("undefended_accuracy")] double UndefendedAccuracy,
    [property: JsonPropertyName("undefended_clean_accuracy")] double UndefendedCleanAccuracy,
    [property: JsonPropertyName("ms_per_image")] double MsPerImage,
    [property: JsonPropertyName("detection_auc")] double DetectionAuc,
    [property: JsonPropertyName("detection_tpr_at_fpr_5pct")] double DetectionTprAtFpr5Percent,
    [property: JsonPropertyName("detection_tpr")] double DetectionTpr,
    [property: JsonPropertyName("detection_fpr")] double DetectionFpr,
    [property: JsonPropertyName("successful_adversarial_examples")] long SuccessfulAdversarialExamples,
    [property: JsonPropertyName("evaluated")] int Evaluated);

/// <summary>The outcome of the AE-GAN protocol for one method (<see cref="AeGanProtocol"/>).</summary>
/// <param name="Row">The result row.</param>
/// <param name="Detection">The reconstruction-error detection metrics (ROC included), or null without a detector.</param>
/// <param name="PurifiedAdversarialPredictions">The classifier's class for every purified AE.</param>
/// <param name="PurifiedCleanPredictions">The classifier's class for every purified clean image.</param>
public sealed record AeGanResult(AeGanRow Row, DetectionMetrics? Detection, IReadOnlyList<int> PurifiedAdversarialPredictions, IReadOnlyList<int> PurifiedCleanPredictions)
{
    /// <summary>The result's rows (one).</summary>
    public IReadOnlyList<AeGanRow> Rows => [Row];

    /// <summary>The rows as a JSON array (<see cref="EvaluationJson"/>).</summary>
    public string ToJson() => ToJson([this]);

    /// <summary>The rows as a Markdown table shaped like AE-GAN Table 1.</summary>
    public string ToMarkdown() => ToMarkdown([this]);

    /// <summary>The rows of several results (attacks × methods) as one JSON array.</summary>
    public static string ToJson(IEnumerable<AeGanResult> results) => EvaluationJson.Serialize(results.SelectMany(r => r.Rows));

    /// <summary>The rows of several results as one table (accuracies in %).</summary>
    public static string ToMarkdown(IEnumerable<AeGanResult> results)
    {
        var table = new MarkdownTable(
            MarkdownColumn.Text("Dataset"), MarkdownColumn.Text("Attack"), MarkdownColumn.Text("Method"), MarkdownColumn.Numeric("Accuracy (%)"),
            MarkdownColumn.Numeric("Clean accuracy (%)"), MarkdownColumn.Numeric("Undefended (%)"), MarkdownColumn.Numeric("ms/image"),
            MarkdownColumn.Numeric("Detection AUC"));
        foreach (var r in results.SelectMany(r => r.Rows))
            table.AddRow(r.Dataset, r.Attack, r.Method, MarkdownTable.Percent(r.Accuracy), MarkdownTable.Percent(r.CleanAccuracy),
                         MarkdownTable.Percent(r.UndefendedAccuracy), MarkdownTable.Number(r.MsPerImage, 3), MarkdownTable.Number(r.DetectionAuc));
        return table.ToString();
    }
}

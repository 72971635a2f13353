using System.Text.Json.Serialization;
using MLDefense.Attacks;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Classifiers;

namespace MLDefense.Evaluation;

/// <summary>Settings of <see cref="O:MLDefense.Evaluation.MiaedProtocol.Run"/>.</summary>
public sealed record MiaedProtocolOptions
{
    /// <summary>The dataset's name for the result rows (e.g. <c>mnist</c>).</summary>
    public string Dataset { get; init; } = "";

    /// <summary>The detector variant's name for the result rows (e.g. <c>full</c>, <c>caed</c> in MIAED Table 10's ablation).</summary>
    public string Variant { get; init; } = "full";

    /// <summary>
    /// σ of the Gaussian noise of the noisy set; null (default) picks MIAED Sec. 4.1's value from the channel count:
    /// <see cref="MiaedProtocol.GreyNoiseStandardDeviation"/> for one channel (MNIST, Fashion-MNIST),
    /// <see cref="MiaedProtocol.ColourNoiseStandardDeviation"/> for colour images.
    /// </summary>
    public double? NoiseStandardDeviation { get; init; }

    /// <summary>Images per batch (attack, classifier and detector all run batch by batch). Default 256.</summary>
    public int BatchSize { get; init; } = ProtocolSupport.DefaultBatchSize;

    /// <summary>When set, libtorch's global generator is seeded with it before the noise is drawn (so runs repeat).</summary>
    public ulong? Seed { get; init; }
}

/// <summary>
/// MIAED's evaluation protocol (Gao et al., "Detecting Adversarial Examples on Deep Neural Networks with Mutual
/// Information Neural Estimation", Sec. 4.1): a detector is judged on clean, noisy and adversarial versions of the same
/// test images, restricted to the images where the comparison is meaningful.
/// </summary>
/// <remarks>
/// <para>For every test image x with label y: the clean x; the noisy x + N(0, σ²) clipped to [0, 1]; and the
/// adversarial attack(x). The image is <b>kept</b> only when the target classifier gets the clean and the noisy
/// version right and the adversarial version wrong (so the adversarial example is a real one and the negatives are
/// inputs the classifier handles). The attack runs only on images whose clean and noisy versions are classified
/// correctly — the others could never be kept.</para>
/// <para>Over the kept images, the clean and noisy versions are negatives and the adversarial version is a positive
/// <b>counted twice</b>, so that positives and negatives balance (2·kept each), as the paper does; the detection metrics
/// (<see cref="DetectionMetrics"/>) are computed on that set at the detector's threshold. Doubling the positives leaves
/// the ROC curve, AUC, recall and specificity unchanged; it weighs precision and accuracy as the paper does.</para>
/// <para>The detector is called once per batch and set, in this order: the kept clean images, the kept noisy images,
/// the kept adversarial images (with several detectors, each in turn on the same sets).</para>
/// </remarks>
public static class MiaedProtocol
{
    /// <summary>σ of the noisy set on MNIST and Fashion-MNIST (Sec. 4.1).</summary>
    public const double GreyNoiseStandardDeviation = 0.1;

    /// <summary>σ of the noisy set on colour images (Sec. 4.1).</summary>
    public const double ColourNoiseStandardDeviation = 0.01;

    /// <summary>Runs the protocol (see the class remarks).</summary>
    /// <param name="classifier">The target model the adversarial examples are made on.</param>
    /// <param name="attack">The attack.</param>
    /// <param name="images">Test images [N, C, H, W], float32 in [0, 1], on the classifier's device.</param>
    /// <param name="labels">Their classes, int64 [N].</param>
    /// <param name="detector">The detector under evaluation.</param>
    /// <param name="options">Settings (dataset and variant names, σ, batch size, seed).</param>
    /// <param name="progress">Told after every batch.</param>
    /// <param name="cancellationToken">Checked between batches and passed to the attack.</param>
    public static MiaedResult Run(IDifferentiableClassifier classifier, IAdversarialAttack attack, Tensor images, Tensor labels, EvaluatedDetector detector,
                                  MiaedProtocolOptions? options = null, IProgress<EvaluationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new();
        ArgumentNullException.ThrowIfNull(detector);
        return Run(classifier, attack, images, labels, [new MiaedProtocolDetector(options.Variant, detector)], options, progress, cancellationToken)[0];
    }

    /// <summary>
    /// Runs the protocol once for several detectors (e.g. the variants of an ablation, or two decision rules): the noisy
    /// set, the attack and the kept images are shared, so every detector is judged on exactly the same examples, and the
    /// attack — usually the expensive part — runs once. One result per detector, in order, each with its variant name
    /// (<see cref="MiaedProtocolOptions.Variant"/> is not used).
    /// </summary>
    /// <param name="classifier">The target model the adversarial examples are made on.</param>
    /// <param name="attack">The attack.</param>
    /// <param name="images">Test images [N, C, H, W], float32 in [0, 1], on the classifier's device.</param>
    /// <param name="labels">Their classes, int64 [N].</param>
    /// <param name="detectors">The detectors under evaluation, with the variant names their rows carry (distinct).</param>
    /// <param name="options">Settings (dataset name, σ, batch size, seed).</param>
    /// <param name="progress">Told after every batch.</param>
    /// <param name="cancellationToken">Checked between batches and passed to the attack.</param>
    public static IReadOnlyList<MiaedResult> Run(IDifferentiableClassifier classifier, IAdversarialAttack attack, Tensor images, Tensor labels,
                                                 IReadOnlyList<MiaedProtocolDetector> detectors, MiaedProtocolOptions? options = null,
                                                 IProgress<EvaluationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new();
        ArgumentNullException.ThrowIfNull(attack);
        ArgumentNullException.ThrowIfNull(detectors);
        if (detectors.Count == 0) throw new ArgumentException("The protocol needs at least one detector to evaluate.", nameof(detectors));
        if (detectors.Any(d => d is null || d.Detector is null)) throw new ArgumentException("A detector is null.", nameof(detectors));
        if (detectors.Select(d => d.Variant).Distinct().Count() != detectors.Count)
            throw new ArgumentException($"The detectors' variant names must be distinct; found {string.Join(", ", detectors.Select(d => d.Variant))}.", nameof(detectors));
        var labelsOnHost = ProtocolSupport.CheckInputs(classifier, images, labels, options.BatchSize);
        double sigma = options.NoiseStandardDeviation ??
                       (classifier.InputShape.Channels == 1 ? GreyNoiseStandardDeviation : ColourNoiseStandardDeviation);
        if (!(sigma >= 0) || double.IsInfinity(sigma))
            throw new ArgumentOutOfRangeException(nameof(options), sigma, "The noise standard deviation must be a finite number ≥ 0.");
        if (options.Seed is ulong seed) torch.manual_seed((long)seed);

        int count = labelsOnHost.Length, candidates = 0;
        var samples = detectors.Select(_ => new List<MiaedSample>()).ToArray();
        foreach (var (start, length) in ProtocolSupport.Batches(count, options.BatchSize))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var clean = images.narrow(0, start, length);
            var batchLabels = labels.narrow(0, start, length);
            var cleanPredictions = ProtocolSupport.Predict(classifier, clean);
            Tensor noisy;
            using (torch.no_grad()) noisy = (clean + torch.randn_like(clean) * sigma).clamp(0, 1);
            var noisyPredictions = ProtocolSupport.Predict(classifier, noisy);

            var candidateRows = Enumerable.Range(0, length)
                .Where(r => cleanPredictions[r] == labelsOnHost[start + r] && noisyPredictions[r] == labelsOnHost[start + r]).ToList();
            candidates += candidateRows.Count;
            if (candidateRows.Count > 0)
            {
                var candidateClean = ProtocolSupport.Rows(clean, candidateRows);
                var adversarial = ProtocolSupport.Attack(attack, classifier, candidateClean, ProtocolSupport.Rows(batchLabels, candidateRows), cancellationToken);
                var adversarialPredictions = ProtocolSupport.Predict(classifier, adversarial);
                var keptWithinCandidates = Enumerable.Range(0, candidateRows.Count)
                    .Where(c => adversarialPredictions[c] != labelsOnHost[start + candidateRows[c]]).ToList();
                if (keptWithinCandidates.Count > 0)
                {
                    var keptRows = keptWithinCandidates.Select(c => candidateRows[c]).ToList();
                    var keptClean = ProtocolSupport.Rows(clean, keptRows);
                    var keptNoisy = ProtocolSupport.Rows(noisy, keptRows);
                    var keptAdversarial = ProtocolSupport.Rows(adversarial, keptWithinCandidates);
                    for (int d = 0; d < detectors.Count; d++)
                    {
                        var detector = detectors[d].Detector;
                        var cleanScores = ProtocolSupport.Score(detector, keptClean);
                        var noisyScores = ProtocolSupport.Score(detector, keptNoisy);
                        var adversarialScores = ProtocolSupport.Score(detector, keptAdversarial);
                        for (int k = 0; k < keptRows.Count; k++)
                        {
                            int index = start + keptRows[k];
                            samples[d].Add(new(index, labelsOnHost[index], cleanScores[k], noisyScores[k], adversarialScores[k],
                                               adversarialPredictions[keptWithinCandidates[k]]));
                        }
                    }
                }
            }
            progress?.Report(new("MIAED", attack.Name, start + length, count));
        }

        var results = new MiaedResult[detectors.Count];
        for (int d = 0; d < detectors.Count; d++)
        {
            // Negatives: kept clean, kept noisy. Positives: kept adversarial, twice (Sec. 4.1).
            var kept = samples[d];
            int n = kept.Count;
            var scores = new float[4 * n];
            var truth = new bool[4 * n];
            for (int k = 0; k < n; k++)
            {
                scores[k] = kept[k].CleanScore;
                scores[n + k] = kept[k].NoisyScore;
                scores[2 * n + k] = scores[3 * n + k] = kept[k].AdversarialScore;
                truth[2 * n + k] = truth[3 * n + k] = true;
            }
            var detection = DetectionMetrics.Compute(scores, truth, detectors[d].Detector.Threshold);
            var row = MiaedRow.From(options.Dataset, attack.Name, detectors[d].Variant, detection, count, candidates, kept, sigma);
            results[d] = new(row, detection, kept);
        }
        return results;
    }
}

/// <summary>A detector for <see cref="MiaedProtocol.Run(IDifferentiableClassifier, IAdversarialAttack, Tensor, Tensor, IReadOnlyList{MiaedProtocolDetector}, MiaedProtocolOptions?, IProgress{EvaluationProgress}?, CancellationToken)"/>, with the variant name its row carries.</summary>
/// <param name="Variant">The name in the row's <c>variant</c> column (e.g. <c>full</c>, <c>caed</c>).</param>
/// <param name="Detector">The detector.</param>
public sealed record MiaedProtocolDetector(string Variant, EvaluatedDetector Detector);

/// <summary>One image kept by the MIAED protocol, with the detector's three scores for it.</summary>
/// <param name="Index">Its row in the evaluated images.</param>
/// <param name="Label">Its true class (the classifier predicts it for the clean and noisy versions).</param>
/// <param name="CleanScore">The detector's score for the clean version.</param>
/// <param name="NoisyScore">For the noisy version.</param>
/// <param name="AdversarialScore">For the adversarial version.</param>
/// <param name="AdversarialPrediction">The classifier's (wrong) class for the adversarial version.</param>
public sealed record MiaedSample(int Index, int Label, float CleanScore, float NoisyScore, float AdversarialScore, int AdversarialPrediction);

/// <summary>The MIAED protocol's result row, as its benchmark writes it (MIAED Table 7's columns, plus the counts behind them).</summary>
/// <param name="Dataset">The dataset's name.</param>
/// <param name="Attack">The attack's name.</param>
/// <param name="Variant">The detector variant (MIAED Table 10: full model or ablations).</param>
/// <param name="Recall">TP / positives at the threshold.</param>
/// <param name="Precision">TP / flagged.</param>
/// <param name="F1">The harmonic mean of precision and recall.</param>
/// <param name="Specificity">TN / negatives.</param>
/// <param name="Accuracy">(TP + TN) / all, positives doubled.</param>
/// <param name="Auc">Area under the ROC curve.</param>
/// <param name="Threshold">The detector's threshold.</param>
/// <param name="TprAtFpr1Percent">The best TPR at FPR ≤ 1%.</param>
/// <param name="ThresholdAtFpr1Percent">The threshold achieving it.</param>
/// <param name="TprAtFpr5Percent">The best TPR at FPR ≤ 5%.</param>
/// <param name="ThresholdAtFpr5Percent">The threshold achieving it.</param>
/// <param name="Evaluated">Test images given.</param>
/// <param name="Candidates">Those whose clean and noisy versions are classified correctly (and were attacked).</param>
/// <param name="Kept">Candidates whose adversarial version is misclassified.</param>
/// <param name="Positives">Positives counted (2 · kept).</param>
/// <param name="Negatives">Negatives counted (2 · kept: clean and noisy).</param>
/// <param name="TruePositives">Flagged positives (each kept AE counts twice).</param>
/// <param name="FalsePositives">Flagged negatives.</param>
/// <param name="TrueNegatives">Unflagged negatives.</param>
/// <param name="FalseNegatives">Unflagged positives.</param>
/// <param name="NoiseSigma">σ of the noisy set.</param>
/// <param name="CleanSpecificity">The share of the kept clean versions left unflagged (NaN when none was kept).</param>
/// <param name="NoisySpecificity">The share of the kept noisy versions left unflagged (NaN when none was kept). With
/// <paramref name="CleanSpecificity"/> it tells which negatives a low <paramref name="Specificity"/> comes from: the
/// threshold is calibrated on clean images only.</param>
public sealed record MiaedRow(
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("attack")] string Attack,
    [property: JsonPropertyName("variant")] string Variant,
    [property: JsonPropertyName("recall")] double Recall,
    [property: JsonPropertyName("precision")] double Precision,
    [property: JsonPropertyName("f1")] double F1,
    [property: JsonPropertyName("specificity")] double Specificity,
    [property: JsonPropertyName("accuracy")] double Accuracy,
    [property: JsonPropertyName("auc")] double Auc,
    [property: JsonPropertyName("threshold")] double Threshold,
    [property: JsonPropertyName("tpr_at_fpr_1pct")] double TprAtFpr1Percent,
    [property: JsonPropertyName("threshold_at_fpr_1pct")] double ThresholdAtFpr1Percent,
    [property: JsonPropertyName("tpr_at_fpr_5pct")] double TprAtFpr5Percent,
    [property: JsonPropertyName("threshold_at_fpr_5pct")] double ThresholdAtFpr5Percent,
    [property: JsonPropertyName("evaluated")] int Evaluated,
    [property: JsonPropertyName("candidates")] int Candidates,
    [property: JsonPropertyName("kept")] int Kept,
    [property: JsonPropertyName("positives")] long Positives,
    [property: JsonPropertyName("negatives")] long Negatives,
    [property: JsonPropertyName("true_positives")] long TruePositives,
    [property: JsonPropertyName("false_positives")] long FalsePositives,
    [property: JsonPropertyName("true_negatives")] long TrueNegatives,
    [property: JsonPropertyName("false_negatives")] long FalseNegatives,
    [property: JsonPropertyName("noise_sigma")] double NoiseSigma,
    [property: JsonPropertyName("clean_specificity")] double CleanSpecificity,
    [property: JsonPropertyName("noisy_specificity")] double NoisySpecificity)
{
    internal static MiaedRow From(string dataset, string attack, string variant, DetectionMetrics d, int evaluated, int candidates,
                                  IReadOnlyList<MiaedSample> kept, double sigma)
    {
        var at1 = d.AtFalsePositiveRate1Percent;
        var at5 = d.AtFalsePositiveRate5Percent;
        var c = d.Counts;
        double Unflagged(Func<MiaedSample, float> score) =>
            kept.Count == 0 ? double.NaN : kept.Count(s => !ThresholdCalibration.IsFlagged(score(s), d.Threshold)) / (double)kept.Count;
        return new(dataset, attack, variant, d.Recall, d.Precision, d.F1, d.Specificity, d.Accuracy, d.Auc, d.Threshold,
                   at1?.TruePositiveRate ?? double.NaN, at1?.Threshold ?? double.NaN, at5?.TruePositiveRate ?? double.NaN, at5?.Threshold ?? double.NaN,
                   evaluated, candidates, kept.Count, c.Positives, c.Negatives, c.TruePositives, c.FalsePositives, c.TrueNegatives, c.FalseNegatives, sigma,
                   Unflagged(s => s.CleanScore), Unflagged(s => s.NoisyScore));
    }
}

/// <summary>The outcome of <see cref="O:MLDefense.Evaluation.MiaedProtocol.Run"/>: the row, the full metrics (with the ROC curve), and the kept samples.</summary>
/// <param name="Row">The result row.</param>
/// <param name="Detection">The detection metrics on the kept set (positives doubled).</param>
/// <param name="Samples">The kept images and their scores, in evaluation order.</param>
public sealed record MiaedResult(MiaedRow Row, DetectionMetrics Detection, IReadOnlyList<MiaedSample> Samples)
{
    /// <summary>The result's rows (one).</summary>
    public IReadOnlyList<MiaedRow> Rows => [Row];

    /// <summary>The rows as a JSON array (<see cref="EvaluationJson"/>).</summary>
    public string ToJson() => ToJson([this]);

    /// <summary>The rows as a Markdown table shaped like MIAED Table 7.</summary>
    public string ToMarkdown() => ToMarkdown([this]);

    /// <summary>The rows of several results (e.g. one per attack) as one JSON array.</summary>
    public static string ToJson(IEnumerable<MiaedResult> results) => EvaluationJson.Serialize(results.SelectMany(r => r.Rows));

    /// <summary>The rows of several results as one table shaped like MIAED Table 7 (rates in %).</summary>
    public static string ToMarkdown(IEnumerable<MiaedResult> results)
    {
        var table = new MarkdownTable(
            MarkdownColumn.Text("Dataset"), MarkdownColumn.Text("Attack"), MarkdownColumn.Text("Variant"), MarkdownColumn.Numeric("Kept"),
            MarkdownColumn.Numeric("Recall (%)"), MarkdownColumn.Numeric("Precision (%)"), MarkdownColumn.Numeric("F1 (%)"),
            MarkdownColumn.Numeric("Specificity (%)"), MarkdownColumn.Numeric("Clean / noisy spec. (%)"), MarkdownColumn.Numeric("Accuracy (%)"),
            MarkdownColumn.Numeric("AUC"));
        foreach (var r in results.SelectMany(r => r.Rows))
            table.AddRow(r.Dataset, r.Attack, r.Variant, MarkdownTable.Count(r.Kept), MarkdownTable.Percent(r.Recall), MarkdownTable.Percent(r.Precision),
                         MarkdownTable.Percent(r.F1), MarkdownTable.Percent(r.Specificity),
                         $"{MarkdownTable.Percent(r.CleanSpecificity)} / {MarkdownTable.Percent(r.NoisySpecificity)}", MarkdownTable.Percent(r.Accuracy),
                         MarkdownTable.Number(r.Auc));
        return table.ToString();
    }
}

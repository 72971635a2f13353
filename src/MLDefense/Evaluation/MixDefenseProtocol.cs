using System.Text.Json.Serialization;
using MLDefense.Attacks;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Classifiers;

namespace MLDefense.Evaluation;

/// <summary>Settings of <see cref="MixDefenseProtocol.Run"/>.</summary>
public sealed record MixDefenseProtocolOptions
{
    /// <summary>The dataset's name for the result rows (e.g. <c>cifar10-subset</c>).</summary>
    public string Dataset { get; init; } = "";

    /// <summary>Images per batch. Default 256.</summary>
    public int BatchSize { get; init; } = ProtocolSupport.DefaultBatchSize;
}

/// <summary>
/// MixDefense's evaluation protocol (Yang et al., "MixDefense: A Defense-in-Depth Framework for Adversarial Example
/// Detection Based on Statistical and Semantic Analysis", Sec. 5.1; Fig. 7 sweeps the budget): a detector's accuracy on
/// a set that is half clean images, half successful adversarial examples, and the accuracy of the classifier guarded
/// by it (Acc_RC, Eq. 8), over a sweep of perturbation budgets.
/// </summary>
/// <remarks>
/// <para>The clean images are classified and scored once. For each budget ε, <c>attackForBudget(ε)</c> attacks every
/// image; an adversarial example is <b>successful</b> when the classifier gets its clean image right and it wrong.
/// Each successful AE is paired with its own clean image, so the detector's set holds exactly as many clean images as
/// AEs: Acc_Detector = (TP + TN) / (2 · pairs), with TPR, FPR and AUC on the same set.</para>
/// <para>Acc_RC (Eq. 8, see <see cref="RobustClassifierCounts"/>) is taken over the adversarial examples of <b>all</b>
/// evaluated images, successful or not: an AE counts when the detector flags it, or else when the classifier still
/// classifies it correctly. (Over successful AEs only, the second term would always be zero and Acc_RC would collapse
/// into the detection rate.)</para>
/// </remarks>
public static class MixDefenseProtocol
{
    /// <summary>Runs the protocol over the budgets (see the class remarks).</summary>
    /// <param name="classifier">The target model.</param>
    /// <param name="attackForBudget">Makes the attack for a perturbation budget ε (its norm is the attack's).</param>
    /// <param name="budgets">The budgets to sweep, in order.</param>
    /// <param name="images">Test images [N, C, H, W], float32 in [0, 1], on the classifier's device.</param>
    /// <param name="labels">Their classes, int64 [N].</param>
    /// <param name="detector">The detector under evaluation.</param>
    /// <param name="options">Settings.</param>
    /// <param name="progress">Told after every batch.</param>
    /// <param name="cancellationToken">Checked between batches and passed to the attacks.</param>
    public static MixDefenseResult Run(IDifferentiableClassifier classifier, Func<double, IAdversarialAttack> attackForBudget, IReadOnlyList<double> budgets,
                                       Tensor images, Tensor labels, EvaluatedDetector detector, MixDefenseProtocolOptions? options = null,
                                       IProgress<EvaluationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new();
        ArgumentNullException.ThrowIfNull(attackForBudget);
        ArgumentNullException.ThrowIfNull(budgets);
        ArgumentNullException.ThrowIfNull(detector);
        if (budgets.Count == 0) throw new ArgumentException("The sweep needs at least one perturbation budget.", nameof(budgets));
        foreach (var budget in budgets)
            if (!(budget > 0) || double.IsInfinity(budget)) throw new ArgumentOutOfRangeException(nameof(budgets), budget, "Every perturbation budget must be a finite number > 0.");
        var labelsOnHost = ProtocolSupport.CheckInputs(classifier, images, labels, options.BatchSize);

        long count = labelsOnHost.Length, total = count * (1 + budgets.Count);
        var clean = AttackSweep.Clean("MixDefense", classifier, images, labelsOnHost, detector, options.BatchSize, total, progress, cancellationToken);
        var points = new List<MixDefensePoint>();
        for (int b = 0; b < budgets.Count; b++)
        {
            double epsilon = budgets[b];
            var attack = attackForBudget(epsilon) ?? throw new InvalidOperationException($"The attack factory returned no attack for ε = {epsilon}.");
            var point = AttackSweep.Attack("MixDefense", $"{attack.Name} ε = {epsilon:G4}", classifier, attack, images, labels, clean, detector,
                                           options.BatchSize, count * (1 + b), total, progress, cancellationToken);
            var d = point.Detection;
            var row = new MixDefenseRow(options.Dataset, attack.Name, ProtocolSupport.NormName(attack.Norm), epsilon, d.Accuracy, point.RobustClassifier.Accuracy,
                                        d.Recall, d.FalsePositiveRate, d.Auc, d.Threshold, point.Pairs.Count, (int)count, point.CleanAccuracy,
                                        point.AdversarialAccuracy, point.AttackSuccessRate);
            points.Add(new(row, d, point.RobustClassifier, point.Pairs, point.AdversarialPredictions, point.AdversarialScores));
        }
        return new(points, clean.Predictions, clean.Scores);
    }
}

/// <summary>One budget of the MixDefense sweep, as its benchmark writes it (the rows of issue 5 plus Acc_RC and counts).</summary>
/// <param name="Dataset">The dataset's name.</param>
/// <param name="Attack">The attack's name.</param>
/// <param name="Norm">The budget's norm (<c>linf</c>, <c>l2</c>).</param>
/// <param name="Epsilon">The budget ε.</param>
/// <param name="AccDetector">Acc_Detector: accuracy on the balanced set (half clean, half successful AEs).</param>
/// <param name="AccRc">Acc_RC (Eq. 8) over the AEs of all evaluated images.</param>
/// <param name="Tpr">The share of successful AEs flagged.</param>
/// <param name="Fpr">The share of their clean images flagged.</param>
/// <param name="Auc">Area under the ROC curve on the balanced set.</param>
/// <param name="Threshold">The detector's threshold.</param>
/// <param name="Pairs">Successful AEs (= clean images) in the balanced set.</param>
/// <param name="Evaluated">Test images attacked.</param>
/// <param name="CleanAccuracy">The classifier's accuracy on the clean images.</param>
/// <param name="AdversarialAccuracy">Its accuracy on all their AEs.</param>
/// <param name="AttackSuccessRate">Successful AEs / correctly classified clean images.</param>
public sealed record MixDefenseRow(
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("attack")] string Attack,
    [property: JsonPropertyName("norm")] string Norm,
    [property: JsonPropertyName("epsilon")] double Epsilon,
    [property: JsonPropertyName("acc_detector")] double AccDetector,
    [property: JsonPropertyName("acc_rc")] double AccRc,
    [property: JsonPropertyName("tpr")] double Tpr,
    [property: JsonPropertyName("fpr")] double Fpr,
    [property: JsonPropertyName("auc")] double Auc,
    [property: JsonPropertyName("threshold")] double Threshold,
    [property: JsonPropertyName("pairs")] int Pairs,
    [property: JsonPropertyName("evaluated")] int Evaluated,
    [property: JsonPropertyName("clean_accuracy")] double CleanAccuracy,
    [property: JsonPropertyName("adversarial_accuracy")] double AdversarialAccuracy,
    [property: JsonPropertyName("attack_success_rate")] double AttackSuccessRate);

/// <summary>One budget of the sweep with its details.</summary>
/// <param name="Row">The result row.</param>
/// <param name="Detection">The detection metrics on the balanced set (ROC included).</param>
/// <param name="RobustClassifier">The counts behind Acc_RC.</param>
/// <param name="PairIndices">The images whose AE succeeded: the balanced set is their clean and adversarial versions.</param>
/// <param name="AdversarialPredictions">The classifier's class for every image's AE.</param>
/// <param name="AdversarialScores">The detector's score for every image's AE.</param>
public sealed record MixDefensePoint(MixDefenseRow Row, DetectionMetrics Detection, RobustClassifierCounts RobustClassifier, IReadOnlyList<int> PairIndices,
                                     IReadOnlyList<int> AdversarialPredictions, IReadOnlyList<float> AdversarialScores);

/// <summary>The outcome of <see cref="MixDefenseProtocol.Run"/>: one point per budget.</summary>
/// <param name="Points">The budgets' points, in sweep order.</param>
/// <param name="CleanPredictions">The classifier's class for every clean image.</param>
/// <param name="CleanScores">The detector's score for every clean image.</param>
public sealed record MixDefenseResult(IReadOnlyList<MixDefensePoint> Points, IReadOnlyList<int> CleanPredictions, IReadOnlyList<float> CleanScores)
{
    /// <summary>One row per budget.</summary>
    public IReadOnlyList<MixDefenseRow> Rows => Points.Select(p => p.Row).ToList();

    /// <summary>The rows as a JSON array (<see cref="EvaluationJson"/>).</summary>
    public string ToJson() => ToJson([this]);

    /// <summary>The rows as a Markdown table: the data of MixDefense Fig. 7, one line per budget.</summary>
    public string ToMarkdown() => ToMarkdown([this]);

    /// <summary>The rows of several sweeps (e.g. one per attack and dataset) as one JSON array.</summary>
    public static string ToJson(IEnumerable<MixDefenseResult> results) => EvaluationJson.Serialize(results.SelectMany(r => r.Rows));

    /// <summary>The rows of several sweeps as one table (rates in %).</summary>
    public static string ToMarkdown(IEnumerable<MixDefenseResult> results)
    {
        var table = new MarkdownTable(
            MarkdownColumn.Text("Dataset"), MarkdownColumn.Text("Attack"), MarkdownColumn.Text("Norm"), MarkdownColumn.Numeric("ε"),
            MarkdownColumn.Numeric("Pairs"), MarkdownColumn.Numeric("Acc_Detector (%)"), MarkdownColumn.Numeric("Acc_RC (%)"),
            MarkdownColumn.Numeric("TPR (%)"), MarkdownColumn.Numeric("FPR (%)"), MarkdownColumn.Numeric("AUC"));
        foreach (var r in results.SelectMany(r => r.Rows))
            table.AddRow(r.Dataset, r.Attack, r.Norm, MarkdownTable.Number(r.Epsilon), MarkdownTable.Count(r.Pairs), MarkdownTable.Percent(r.AccDetector),
                         MarkdownTable.Percent(r.AccRc), MarkdownTable.Percent(r.Tpr), MarkdownTable.Percent(r.Fpr), MarkdownTable.Number(r.Auc));
        return table.ToString();
    }
}

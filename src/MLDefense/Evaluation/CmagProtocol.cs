using System.Text.Json.Serialization;
using MLDefense.Attacks;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Classifiers;

namespace MLDefense.Evaluation;

/// <summary>An attack at one intensity, named for the tables (e.g. <c>λ = 0.1</c> for FGSM, <c>κ = 10</c> for CW-L2).</summary>
/// <param name="Label">The intensity's label.</param>
/// <param name="Attack">The attack configured at that intensity.</param>
public sealed record AttackIntensity(string Label, IAdversarialAttack Attack);

/// <summary>Settings of <see cref="CmagProtocol.Run"/>.</summary>
public sealed record CmagProtocolOptions
{
    /// <summary>The dataset's name for the result rows.</summary>
    public string Dataset { get; init; } = "";

    /// <summary>Images per batch. Default 256.</summary>
    public int BatchSize { get; init; } = ProtocolSupport.DefaultBatchSize;
}

/// <summary>
/// CMAG's evaluation protocol (cascade model-aware generative detector, Sec. 4.2): the detector's accuracy at each
/// intensity of an attack — FGSM's λ, CW's confidence κ — to show how detection changes with the perturbation's size.
/// </summary>
/// <remarks>
/// The clean images are classified and scored once; each intensity attacks every image. As in MixDefense's protocol
/// (<see cref="MixDefenseProtocol"/>), only <b>successful</b> AEs (clean image classified correctly, AE not) count, each
/// paired with its clean image. The row's <c>detection_accuracy</c> is the share of those AEs the detector flags — what
/// a per-intensity detection-accuracy table reports —, and the balanced accuracy, FPR and AUC on the pairs sit beside it
/// so that a detector flagging everything cannot look good.
/// </remarks>
public static class CmagProtocol
{
    /// <summary>Runs the protocol over the intensities (see the class remarks).</summary>
    /// <param name="classifier">The target model.</param>
    /// <param name="intensities">The attacks, one per intensity, in table order.</param>
    /// <param name="images">Test images [N, C, H, W], float32 in [0, 1], on the classifier's device.</param>
    /// <param name="labels">Their classes, int64 [N].</param>
    /// <param name="detector">The detector under evaluation.</param>
    /// <param name="options">Settings.</param>
    /// <param name="progress">Told after every batch.</param>
    /// <param name="cancellationToken">Checked between batches and passed to the attacks.</param>
    public static CmagResult Run(IDifferentiableClassifier classifier, IReadOnlyList<AttackIntensity> intensities, Tensor images, Tensor labels,
                                 EvaluatedDetector detector, CmagProtocolOptions? options = null, IProgress<EvaluationProgress>? progress = null,
                                 CancellationToken cancellationToken = default)
    {
        options ??= new();
        ArgumentNullException.ThrowIfNull(intensities);
        ArgumentNullException.ThrowIfNull(detector);
        if (intensities.Count == 0) throw new ArgumentException("The protocol needs at least one attack intensity.", nameof(intensities));
        if (intensities.Any(i => i?.Attack is null)) throw new ArgumentException("Every intensity needs an attack.", nameof(intensities));
        var labelsOnHost = ProtocolSupport.CheckInputs(classifier, images, labels, options.BatchSize);

        long count = labelsOnHost.Length, total = count * (1 + intensities.Count);
        var clean = AttackSweep.Clean("CMAG", classifier, images, labelsOnHost, detector, options.BatchSize, total, progress, cancellationToken);
        var rows = new List<CmagRow>();
        var metrics = new List<DetectionMetrics>();
        for (int k = 0; k < intensities.Count; k++)
        {
            var (label, attack) = (intensities[k].Label, intensities[k].Attack);
            var point = AttackSweep.Attack("CMAG", $"{attack.Name} {label}", classifier, attack, images, labels, clean, detector,
                                           options.BatchSize, count * (1 + k), total, progress, cancellationToken);
            var d = point.Detection;
            rows.Add(new(options.Dataset, attack.Name, label, d.Recall, d.Accuracy, d.FalsePositiveRate, d.Auc, d.Threshold, point.Pairs.Count, (int)count,
                         point.AttackSuccessRate, point.AdversarialAccuracy));
            metrics.Add(d);
        }
        return new(rows, metrics);
    }
}

/// <summary>One intensity of the CMAG protocol.</summary>
/// <param name="Dataset">The dataset's name.</param>
/// <param name="Attack">The attack's name.</param>
/// <param name="Intensity">The intensity's label.</param>
/// <param name="DetectionAccuracy">Flagged successful AEs / successful AEs.</param>
/// <param name="BalancedAccuracy">Accuracy on the pairs (successful AEs and their clean images).</param>
/// <param name="Fpr">The share of the paired clean images flagged.</param>
/// <param name="Auc">Area under the ROC curve on the pairs.</param>
/// <param name="Threshold">The detector's threshold.</param>
/// <param name="Successful">Successful AEs (pairs).</param>
/// <param name="Evaluated">Test images attacked.</param>
/// <param name="AttackSuccessRate">Successful AEs / correctly classified clean images.</param>
/// <param name="AdversarialAccuracy">The classifier's accuracy on all the AEs.</param>
public sealed record CmagRow(
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("attack")] string Attack,
    [property: JsonPropertyName("intensity")] string Intensity,
    [property: JsonPropertyName("detection_accuracy")] double DetectionAccuracy,
    [property: JsonPropertyName("balanced_accuracy")] double BalancedAccuracy,
    [property: JsonPropertyName("fpr")] double Fpr,
    [property: JsonPropertyName("auc")] double Auc,
    [property: JsonPropertyName("threshold")] double Threshold,
    [property: JsonPropertyName("successful")] int Successful,
    [property: JsonPropertyName("evaluated")] int Evaluated,
    [property: JsonPropertyName("attack_success_rate")] double AttackSuccessRate,
    [property: JsonPropertyName("adversarial_accuracy")] double AdversarialAccuracy);

/// <summary>The outcome of <see cref="CmagProtocol.Run"/>.</summary>
/// <param name="Rows">One row per intensity, in the order given.</param>
/// <param name="Detection">The detection metrics on each intensity's pairs (ROC included), in the same order.</param>
public sealed record CmagResult(IReadOnlyList<CmagRow> Rows, IReadOnlyList<DetectionMetrics> Detection)
{
    /// <summary>The rows as a JSON array (<see cref="EvaluationJson"/>).</summary>
    public string ToJson() => ToJson([this]);

    /// <summary>The rows as a Markdown table shaped like CMAG's per-intensity table.</summary>
    public string ToMarkdown() => ToMarkdown([this]);

    /// <summary>The rows of several results as one JSON array.</summary>
    public static string ToJson(IEnumerable<CmagResult> results) => EvaluationJson.Serialize(results.SelectMany(r => r.Rows));

    /// <summary>The rows of several results as one table (rates in %).</summary>
    public static string ToMarkdown(IEnumerable<CmagResult> results)
    {
        var table = new MarkdownTable(
            MarkdownColumn.Text("Dataset"), MarkdownColumn.Text("Attack"), MarkdownColumn.Text("Intensity"), MarkdownColumn.Numeric("AEs"),
            MarkdownColumn.Numeric("Detection accuracy (%)"), MarkdownColumn.Numeric("Balanced accuracy (%)"), MarkdownColumn.Numeric("FPR (%)"),
            MarkdownColumn.Numeric("AUC"));
        foreach (var r in results.SelectMany(r => r.Rows))
            table.AddRow(r.Dataset, r.Attack, r.Intensity, MarkdownTable.Count(r.Successful), MarkdownTable.Percent(r.DetectionAccuracy),
                         MarkdownTable.Percent(r.BalancedAccuracy), MarkdownTable.Percent(r.Fpr), MarkdownTable.Number(r.Auc));
        return table.ToString();
    }
}

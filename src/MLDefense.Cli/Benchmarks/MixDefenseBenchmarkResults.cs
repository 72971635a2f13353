using System.Text.Json.Serialization;

namespace MLDefense.Benchmarks;

/// <summary>One method at one point of the sweep: the row (Eq. 7–8).</summary>
/// <param name="Dataset">The dataset.</param>
/// <param name="Attack">FGSM, FGM, BIM, CW-L2 or DeepFool.</param>
/// <param name="Norm"><c>linf</c> or <c>l2</c>.</param>
/// <param name="Epsilon">The budget (CW-L2, DeepFool: the largest L2 of the bin).</param>
/// <param name="Method">saec, fs, magnet, saec+fs (contranet, mixdefense once ContraNet is merged).</param>
/// <param name="AccDetector">Acc_Detector (Eq. 7) on the successful AEs and their clean images.</param>
/// <param name="AccRc">Acc_RC (Eq. 8) over every AE of the point.</param>
/// <param name="Tpr">Share of the successful AEs flagged.</param>
/// <param name="Fpr">Share of their clean images flagged.</param>
/// <param name="Auc">ROC AUC on the balanced set.</param>
public sealed record MixDefenseBenchmarkRow(
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("attack")] string Attack,
    [property: JsonPropertyName("norm")] string Norm,
    [property: JsonPropertyName("epsilon")] double Epsilon,
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("acc_detector")] double AccDetector,
    [property: JsonPropertyName("acc_rc")] double AccRc,
    [property: JsonPropertyName("tpr")] double Tpr,
    [property: JsonPropertyName("fpr")] double Fpr,
    [property: JsonPropertyName("auc")] double Auc);

/// <summary>A method's accuracy on the clean test images through the whole pipeline (a flagged image is rejected); method <c>none</c> = the classifier alone.</summary>
public sealed record MixDefenseCleanRow(
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("clean_accuracy")] double CleanAccuracy);

/// <summary>A point of the sweep, shared by every method: how many successful AEs it has, of how many attacked, and the classifier's accuracy on them.</summary>
public sealed record MixDefensePointInfo(
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("attack")] string Attack,
    [property: JsonPropertyName("norm")] string Norm,
    [property: JsonPropertyName("epsilon")] double Epsilon,
    [property: JsonPropertyName("pairs")] int Pairs,
    [property: JsonPropertyName("attacked")] int Attacked,
    [property: JsonPropertyName("adversarial_accuracy")] double AdversarialAccuracy);

/// <summary>One case's outcome.</summary>
public sealed record MixDefenseBenchmarkCaseResult(MixDefenseBenchmarkCase Case, string ClassifierSource, int Epochs, int TrainImages, int TestImages,
    double ClassifierAccuracy, IReadOnlyDictionary<string, double> Thresholds, IReadOnlyDictionary<string, double> CleanFalsePositiveRates,
    IReadOnlyDictionary<string, double> Seconds, IReadOnlyList<MixDefenseBenchmarkRow> Rows, IReadOnlyList<MixDefenseCleanRow> CleanRows,
    IReadOnlyList<MixDefensePointInfo> Points, IReadOnlyList<MixDefensePointInfo> Dropped);

/// <summary>The outcome of <see cref="MixDefenseBenchmark.Run"/>.</summary>
public sealed record MixDefenseBenchmarkResult(int Threads, string Device, string TorchVersion, int Seed, double TotalSeconds, string CarliniWagner,
    int MinimumPairs, IReadOnlyList<string> Methods, IReadOnlyList<MixDefenseBenchmarkCaseResult> Cases) : IBenchmarkRun
{
    /// <summary>Every case's rows.</summary>
    public IReadOnlyList<MixDefenseBenchmarkRow> Rows => Cases.SelectMany(c => c.Rows).ToList();
}

using System.Text.Json.Serialization;
using MLDefense.Defenses;

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

/// <summary>
/// One method under one of Sec. 6's adaptive attacks on ContraNet (or the non-adaptive PGD they start from) at one budget: the row of
/// <see cref="MixDefenseBenchmarkRow"/> plus how often the attack fooled the classifier and the mean scores behind the detection.
/// </summary>
/// <param name="Dataset">The dataset.</param>
/// <param name="Attack"><c>PGD</c> (the reference), <c>adaptive-cgan-input</c>, <c>adaptive-latent</c>, <c>adaptive-latent-free</c> or <c>adaptive-bpda</c>.</param>
/// <param name="Norm"><c>linf</c>.</param>
/// <param name="Epsilon">The image budget (the latent attacks change z, not the image: theirs is the budget of the PGD examples they reconstruct).</param>
/// <param name="Method">A method of the run (the latent attacks: <c>contranet</c> and the cascades that contain it only).</param>
/// <param name="AccDetector">Acc_Detector (Eq. 7) on the successful AEs and their clean images.</param>
/// <param name="AccRc">Acc_RC (Eq. 8) over every AE of the point.</param>
/// <param name="Tpr">Share of the successful AEs flagged.</param>
/// <param name="Fpr">Share of their clean images flagged.</param>
/// <param name="Auc">ROC AUC on the balanced set.</param>
/// <param name="AttackSuccessRate">Successful AEs / correctly classified clean images: how often the attack fooled the classifier.</param>
/// <param name="EvasionRate">Successful AEs the method does not flag / correctly classified clean images: how often the attacker reaches both goals
/// (= <paramref name="AttackSuccessRate"/> · (1 − <paramref name="Tpr"/>)).</param>
/// <param name="Pairs">Successful AEs.</param>
/// <param name="Attacked">Images attacked.</param>
/// <param name="MeanScore">The method's mean score over the successful AEs (ContraNet: d(M(x), M(x′)); a cascade: max over layers of score − threshold).</param>
/// <param name="MeanCleanScore">The same over their clean images.</param>
/// <param name="LatentEpsilon">The latent attacks' L∞ budget on z (null: unconstrained or not a latent attack).</param>
public sealed record MixDefenseAdaptiveRow(
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("attack")] string Attack,
    [property: JsonPropertyName("norm")] string Norm,
    [property: JsonPropertyName("epsilon")] double Epsilon,
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("acc_detector")] double AccDetector,
    [property: JsonPropertyName("acc_rc")] double AccRc,
    [property: JsonPropertyName("tpr")] double Tpr,
    [property: JsonPropertyName("fpr")] double Fpr,
    [property: JsonPropertyName("auc")] double Auc,
    [property: JsonPropertyName("attack_success_rate")] double AttackSuccessRate,
    [property: JsonPropertyName("evasion_rate")] double EvasionRate,
    [property: JsonPropertyName("pairs")] int Pairs,
    [property: JsonPropertyName("attacked")] int Attacked,
    [property: JsonPropertyName("mean_score")] double MeanScore,
    [property: JsonPropertyName("mean_clean_score")] double MeanCleanScore,
    [property: JsonPropertyName("latent_epsilon")] double? LatentEpsilon);

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
/// <remarks><paramref name="ContraNet"/> is what the fitted ContraNet measured on its own held-out clean rows before any attack
/// (null when the run fits none): above all <see cref="ContraNetModelInfo.WrongLabelAuc"/>, whether its reconstructions depend
/// on the label at all — the precondition of its detection (a generator that ignores y gives an AUC near 0.5 there, and a
/// score that is plain reconstruction distance against attacks).</remarks>
public sealed record MixDefenseBenchmarkCaseResult(MixDefenseBenchmarkCase Case, string ClassifierSource, int Epochs, int TrainImages, int TestImages,
    double ClassifierAccuracy, IReadOnlyDictionary<string, double> Thresholds, IReadOnlyDictionary<string, double> CleanFalsePositiveRates,
    IReadOnlyDictionary<string, double> Seconds, IReadOnlyList<MixDefenseBenchmarkRow> Rows, IReadOnlyList<MixDefenseCleanRow> CleanRows,
    IReadOnlyList<MixDefensePointInfo> Points, IReadOnlyList<MixDefensePointInfo> Dropped, IReadOnlyList<MixDefenseAdaptiveRow> AdaptiveRows,
    ContraNetModelInfo? ContraNet = null);

/// <summary>The outcome of <see cref="MixDefenseBenchmark.Run"/>.</summary>
public sealed record MixDefenseBenchmarkResult(int Threads, string Device, string TorchVersion, int Seed, double TotalSeconds, string CarliniWagner,
    int MinimumPairs, IReadOnlyList<string> Methods, IReadOnlyList<MixDefenseBenchmarkCaseResult> Cases) : IBenchmarkRun
{
    /// <summary>Every case's rows.</summary>
    public IReadOnlyList<MixDefenseBenchmarkRow> Rows => Cases.SelectMany(c => c.Rows).ToList();
}

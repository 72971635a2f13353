using MLDefense.Defenses;
using MLDefense.Evaluation;

namespace MLDefense.Benchmarks;

/// <summary>A fitted MIAED variant: what Fit reported, how long it took, and where it came from.</summary>
/// <param name="Variant">The variant.</param>
/// <param name="Info">The fitted detector's shapes, threshold and calibration (<see cref="MiaedModelInfo"/>).</param>
/// <param name="FitSeconds">Wall-clock seconds of Fit (0 when loaded).</param>
/// <param name="Settings">The detector's settings, in words (<see cref="MiaedBenchmark.DescribeDetector"/>): a loaded one's own.</param>
/// <param name="Source">The zip it was loaded from (full path), or null when it was fitted by this run.</param>
public sealed record MiaedFittedVariant(MiaedVariant Variant, MiaedModelInfo Info, double FitSeconds, string Settings, string? Source = null);

/// <summary>The outcome of one case of the MIAED benchmark.</summary>
/// <param name="Case">The case run.</param>
/// <param name="Classifier">The model file loaded, or a description of the classifier trained for the run.</param>
/// <param name="ClassifierAccuracy">The classifier's accuracy on the case's clean test images.</param>
/// <param name="TrainImages">The training images MIAED was given (the calibration rows included).</param>
/// <param name="TestImages">The test images evaluated.</param>
/// <param name="Detectors">The full model first, then the ablation variants fitted for this case (none outside the ablation dataset).</param>
/// <param name="Results">Per attack the full model's results (<c>full</c>, <c>full-argmax</c>) and the second-opinion baseline's, then the ablation's FGSM results per variant.</param>
/// <param name="Curve">The full model's learning curve (<see cref="MiaedBenchmarkOptions.CurveEpochs"/>), by epoch; empty without one.</param>
public sealed record MiaedBenchmarkCaseResult(MiaedBenchmarkCase Case, string Classifier, double ClassifierAccuracy, int TrainImages, int TestImages,
                                              IReadOnlyList<MiaedFittedVariant> Detectors, IReadOnlyList<MiaedResult> Results,
                                              IReadOnlyList<LearningCurvePoint<MiaedRow>> Curve)
{
    /// <summary>
    /// The full model under every attack (MIAED Table 7), with the default rule (<c>full</c>) and the argmax rule
    /// (<c>full-argmax</c>), each attack followed by its second-opinion baseline row when the run has one.
    /// </summary>
    public IReadOnlyList<MiaedResult> AttackResults => Results.Where(r => !IsAblation(r.Row)).ToList();

    /// <summary>
    /// The ablation (Table 10), with the default rule: the full model's FGSM result, then each variant's; empty when this
    /// case ran no ablation.
    /// </summary>
    public IReadOnlyList<MiaedResult> AblationResults
    {
        get
        {
            var variants = Results.Where(r => IsAblation(r.Row)).ToList();
            if (variants.Count == 0) return [];
            return [.. Results.Where(r => r.Row.Variant == MiaedVariant.Full.Name && r.Row.Attack == MiaedBenchmark.AblationAttack), .. variants];
        }
    }

    private static bool IsAblation(MiaedRow row) => !MiaedBenchmark.IsFullModel(row) && row.Variant != MiaedBenchmark.SecondOpinionVariant;
}

/// <summary>The outcome of <see cref="MiaedBenchmark.Run"/>.</summary>
/// <param name="Threads">libtorch's intra-op threads.</param>
/// <param name="Device">Where it ran.</param>
/// <param name="TorchVersion">The libtorch version.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Attacks">The attacks' settings, in words.</param>
/// <param name="Detector">The detector's settings, in words.</param>
/// <param name="TotalSeconds">Wall-clock seconds of the whole run.</param>
/// <param name="Cases">One result per case, in order.</param>
public sealed record MiaedBenchmarkResult(int Threads, string Device, string TorchVersion, int Seed, string Attacks, string Detector, double TotalSeconds,
                                          IReadOnlyList<MiaedBenchmarkCaseResult> Cases) : IBenchmarkRun
{
    /// <summary>Every case's Table 7 results, in order.</summary>
    public IReadOnlyList<MiaedResult> AttackResults => Cases.SelectMany(c => c.AttackResults).ToList();

    /// <summary>The ablation's results (Table 10), full model first.</summary>
    public IReadOnlyList<MiaedResult> AblationResults => Cases.SelectMany(c => c.AblationResults).ToList();

    /// <summary>The full model's accuracy minus CAED's on the ablation's FGSM rows, or null when the run had no CAED row.</summary>
    public double? FullOverCaed
    {
        get
        {
            var rows = AblationResults.Select(r => r.Row).ToList();
            var full = rows.FirstOrDefault(r => r.Variant == MiaedVariant.Full.Name);
            var caed = rows.FirstOrDefault(r => r.Variant == MiaedVariant.Caed.Name);
            return full is not null && caed is not null ? full.Accuracy - caed.Accuracy : null;
        }
    }
}

using MLDefense.Benchmarks;

namespace MLDefense.Jobs;

/// <summary>Where <see cref="DefendedPipelineJob.Run"/> stands.</summary>
/// <param name="StageIndex">The 0-based index of the running stage among <see cref="DefendedPipelineJob.Stages"/>.</param>
/// <param name="Stage">The running stage (one of <see cref="DefendedPipelineJob.Stages"/>).</param>
/// <param name="Detail">More about it (epoch and losses, the batch attacked), or empty.</param>
/// <param name="Fraction">The share of the stage done, in [0, 1].</param>
/// <param name="Remaining">The stage's estimated remaining time, when its trainer estimates one.</param>
public sealed record DefendedPipelineJobProgress(int StageIndex, string Stage, string Detail, double Fraction, TimeSpan? Remaining = null);

/// <summary>
/// The defended pipeline on one set of test images (clean, or adversarial examples of one attack).
/// Detection rates count flagged images; on clean images they are false-positive rates.
/// </summary>
/// <param name="Set">The set: <c>clean</c>, <c>FGSM</c>, <c>PGD</c>.</param>
/// <param name="Epsilon">The attack's L∞ budget, or null for the clean set.</param>
/// <param name="Images">Images in the set.</param>
/// <param name="UndefendedAccuracy">Classifier A's accuracy on the images as they are.</param>
/// <param name="PurifiedAccuracy">The pipeline's accuracy: classifier A on the AE-GAN+sr-purified images.</param>
/// <param name="SaecFlagged">Share flagged by SAEC.</param>
/// <param name="AeGanFlagged">Share flagged by AE-GAN+sr's reconstruction error.</param>
/// <param name="MiaedFlagged">Share flagged by MIAED.</param>
/// <param name="AnyFlagged">Share flagged by at least one detector (the pipeline's <c>isAdversarial</c>).</param>
/// <param name="HandledCorrectly">
/// Adversarial sets: MixDefense's Acc_RC (Eq. 8) with "detected" = flagged by any detector and the defended prediction —
/// the share of images flagged or, if not flagged, classified correctly. Clean set: the share classified correctly and not
/// flagged (what a user gets back unharmed).
/// </param>
/// <param name="SaecAuc">ROC AUC of SAEC's score, this set against the clean set (null for the clean set).</param>
/// <param name="AeGanAuc">ROC AUC of AE-GAN+sr's reconstruction error, this set against the clean set.</param>
/// <param name="MiaedAuc">ROC AUC of MIAED's divergence, this set against the clean set.</param>
public sealed record DefendedSetResult(string Set, double? Epsilon, int Images, double UndefendedAccuracy, double PurifiedAccuracy,
                                       double SaecFlagged, double AeGanFlagged, double MiaedFlagged, double AnyFlagged, double HandledCorrectly,
                                       double? SaecAuc, double? AeGanAuc, double? MiaedAuc);

/// <summary>One test image predicted by the reloaded model through a prediction engine.</summary>
/// <param name="Set">Where the image comes from: <c>clean</c> or <c>PGD</c>.</param>
/// <param name="Index">Its row in the test slice.</param>
/// <param name="TrueLabel">Its class name.</param>
/// <param name="PredictedLabel">The defended pipeline's prediction (class name).</param>
/// <param name="Confidence">The probability of the predicted class.</param>
/// <param name="Flags">The detectors that flagged it (empty when none did).</param>
public sealed record DefendedPredictionExample(string Set, int Index, string TrueLabel, string PredictedLabel, double Confidence, IReadOnlyList<string> Flags);

/// <summary>The outcome of <see cref="DefendedPipelineJob.Run"/>.</summary>
/// <param name="Options">What ran.</param>
/// <param name="Threads">libtorch's intra-op threads.</param>
/// <param name="Device">Where it ran.</param>
/// <param name="TorchVersion">The libtorch version.</param>
/// <param name="Classifier">Classifier A's training and clean test accuracy.</param>
/// <param name="PipelineFitSeconds">Wall-clock seconds of fitting SAEC, AE-GAN+sr and MIAED.</param>
/// <param name="Sets">The clean set, then one per attack.</param>
/// <param name="ModelPath">The full path of the saved zip.</param>
/// <param name="ModelBytes">Its size.</param>
/// <param name="ReloadedRowsAgreeing">Test rows on which the reloaded model's prediction, scores and flags equal the fitted model's.</param>
/// <param name="ReloadedRowsCompared">Test rows compared.</param>
/// <param name="Examples">Single predictions by the reloaded model.</param>
/// <param name="ImageGridPath">The picture written, or null.</param>
/// <param name="ImageGridRows">The picture's rows, top to bottom.</param>
/// <param name="TotalSeconds">Wall-clock seconds of the whole job.</param>
public sealed record DefendedPipelineJobResult(DefendedPipelineJobOptions Options, int Threads, string Device, string TorchVersion,
                                               ClassifierTrainingResult Classifier, double PipelineFitSeconds, IReadOnlyList<DefendedSetResult> Sets,
                                               string ModelPath, long ModelBytes, int ReloadedRowsAgreeing, int ReloadedRowsCompared,
                                               IReadOnlyList<DefendedPredictionExample> Examples, string? ImageGridPath,
                                               IReadOnlyList<string> ImageGridRows, double TotalSeconds);

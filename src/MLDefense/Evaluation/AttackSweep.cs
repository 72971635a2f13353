using MLDefense.Attacks;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Classifiers;

namespace MLDefense.Evaluation;

/// <summary>
/// The shared core of the MixDefense and CMAG protocols: clean predictions and scores once, then per attack setting the
/// adversarial examples of every image, their predictions and scores, the balanced pairs and Acc_RC.
/// </summary>
internal static class AttackSweep
{
    public sealed record CleanPass(int[] Labels, int[] Predictions, float[] Scores);

    public sealed record Point(IAdversarialAttack Attack, IReadOnlyList<int> Pairs, int[] AdversarialPredictions, float[] AdversarialScores,
                               DetectionMetrics Detection, RobustClassifierCounts RobustClassifier, double CleanAccuracy, double AdversarialAccuracy,
                               double AttackSuccessRate);

    public static CleanPass Clean(string protocol, IDifferentiableClassifier classifier, Tensor images, int[] labels, EvaluatedDetector detector,
                                  int batchSize, long imagesTotal, IProgress<EvaluationProgress>? progress, CancellationToken cancellationToken)
    {
        var predictions = new int[labels.Length];
        var scores = new float[labels.Length];
        foreach (var (start, length) in ProtocolSupport.Batches(labels.Length, batchSize))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var clean = images.narrow(0, start, length);
            ProtocolSupport.Predict(classifier, clean).CopyTo(predictions, start);
            ProtocolSupport.Score(detector, clean).CopyTo(scores, start);
            progress?.Report(new(protocol, "clean", start + length, imagesTotal));
        }
        return new(labels, predictions, scores);
    }

    public static Point Attack(string protocol, string stage, IDifferentiableClassifier classifier, IAdversarialAttack attack, Tensor images, Tensor labels,
                               CleanPass clean, EvaluatedDetector detector, int batchSize, long imagesDoneBefore, long imagesTotal,
                               IProgress<EvaluationProgress>? progress, CancellationToken cancellationToken)
    {
        int count = clean.Labels.Length;
        var predictions = new int[count];
        var scores = new float[count];
        foreach (var (start, length) in ProtocolSupport.Batches(count, batchSize))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var adversarial = ProtocolSupport.Attack(attack, classifier, images.narrow(0, start, length), labels.narrow(0, start, length), cancellationToken);
            ProtocolSupport.Predict(classifier, adversarial).CopyTo(predictions, start);
            ProtocolSupport.Score(detector, adversarial).CopyTo(scores, start);
            progress?.Report(new(protocol, stage, imagesDoneBefore + start + length, imagesTotal));
        }

        var pairs = Enumerable.Range(0, count).Where(i => BalancedPairs.Successful(clean.Predictions[i], predictions[i], clean.Labels[i])).ToList();
        var detected = Array.ConvertAll(scores, s => ThresholdCalibration.IsFlagged(s, detector.Threshold));
        int cleanCorrect = Enumerable.Range(0, count).Count(i => clean.Predictions[i] == clean.Labels[i]);
        return new(attack, pairs, predictions, scores,
                   BalancedPairs.Metrics(pairs, clean.Scores, scores, detector.Threshold),
                   RobustnessMetrics.RobustClassifierAccuracy(detected, predictions, clean.Labels),
                   RobustnessMetrics.Accuracy(clean.Predictions, clean.Labels),
                   RobustnessMetrics.Accuracy(predictions, clean.Labels),
                   cleanCorrect == 0 ? double.NaN : pairs.Count / (double)cleanCorrect);
    }
}

using MLDefense.Attacks;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Defenses;

namespace MLDefense.Evaluation;

/// <summary>What <see cref="MixDefenseEvaluation.Run"/> evaluates.</summary>
public sealed record MixDefenseEvaluationRequest
{
    /// <summary>The classifier's model zip (from <c>mldefense train-classifier</c>).</summary>
    public required string ModelPath { get; init; }

    /// <summary>A name of <see cref="KnownDatasets.Names"/>.</summary>
    public required string Dataset { get; init; }

    /// <summary>The attack; it must have a budget (one of <see cref="AttackFactory.BudgetedNames"/>).</summary>
    public required AttackSettings Attack { get; init; }

    /// <summary>The first this-many test images are evaluated. Default 1 000.</summary>
    public int TestImages { get; init; } = 1_000;

    /// <summary>The detector is fitted (its threshold calibrated) on the first this-many training images. Default 10 000.</summary>
    public int FitImages { get; init; } = 10_000;

    /// <summary>The dataset root; null searches the default places.</summary>
    public string? DataDirectory { get; init; }
}

/// <summary>
/// MixDefense's protocol (<see cref="MixDefenseProtocol"/>) with its SAEC detector, fitted on clean training images,
/// at one perturbation budget: what <c>mldefense evaluate --detector saec</c> runs.
/// </summary>
public static class MixDefenseEvaluation
{
    /// <summary>Loads the classifier and the data, fits SAEC, attacks the test images and scores both sets.</summary>
    /// <param name="ml">The context (device, seed).</param>
    /// <param name="request">What to evaluate.</param>
    /// <param name="progress">Told the stage ("fit SAEC", then the protocol's) and the share done.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <exception cref="ArgumentException">The attack has no budget, the model holds no classifier, or the dataset does not fit it.</exception>
    public static MixDefenseResult Run(MLContext ml, MixDefenseEvaluationRequest request, IProgress<EvaluationProgress>? progress = null,
                                       CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(request);
        var attack = AttackFactory.Create(request.Attack);
        double epsilon = AttackFactory.Epsilon(attack)
                         ?? throw new ArgumentException($"{attack.Name} has no perturbation budget; the MixDefense protocol sweeps budgets ({string.Join(", ", AttackFactory.BudgetedNames)}).", nameof(request));

        using var classifier = AttackEvaluation.FindClassifier(ml.Model.Load(request.ModelPath, out _));
        progress?.Report(new("MixDefense", "fit SAEC", 0, 1));
        var training = ml.Data.TakeRows(ml.Data.LoadKnownDataset(request.Dataset, train: true, request.DataDirectory), request.FitImages);
        var saec = ml.Transforms.Defenses.Saec().Fit(training);
        cancellationToken.ThrowIfCancellationRequested();
        progress?.Report(new("MixDefense", "fit SAEC", 1, 1));

        using var test = LabelledImages.Load(ml, ml.Data.LoadKnownDataset(request.Dataset, train: false, request.DataDirectory), request.TestImages, classifier.Device);
        var detector = new EvaluatedDetector("SAEC", images => saec.Score(images).cpu().data<float>().ToArray(), saec.Threshold);
        return MixDefenseProtocol.Run(classifier, budget => AttackFactory.Create(request.Attack with { Epsilon = budget }), [epsilon],
                                      test.Images, test.Labels, detector, new MixDefenseProtocolOptions { Dataset = request.Dataset },
                                      progress, cancellationToken);
    }
}

using MLDefense.Data;

namespace MLDefense.Classifiers;

/// <summary>
/// Options of <see cref="ImageClassifierEstimator"/>. Training settings left null take the architecture's defaults
/// from its paper (<see cref="ClassifierArchitectures.TrainingDefaults"/>); a custom module gets MnistC1's (Adam,
/// learning rate 1e-3, batch 128, 10 epochs).
/// </summary>
public sealed class ImageClassifierOptions
{
    /// <summary>The Int32 class-label column (labels 0 … K−1). Default <c>Label</c>.</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The image column: a float vector [C, H, W] with values in [0, 1]. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; set; } = "Image";

    /// <summary>The output column of softmax probabilities (float vector [K]). Default <c>Score</c>.</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>The output column of the most probable class (Int32). Default <c>PredictedLabel</c>.</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>
    /// When set, the fitted transformer also emits the last convolutional feature map — the output of the network's
    /// <see cref="FeatureMapClassifier.Features"/> trunk, f_fm(x) in CMAG's notation — as a Single vector [C′, H′, W′]
    /// under this name (ML.NET type <c>Vector&lt;Single, C′, H′, W′&gt;</c>), for model-aware defenses: CMAG
    /// (<c>ml.Transforms.Defenses.Cmag</c>) reads it. The built-in architectures' shapes are
    /// <see cref="ClassifierArchitectures.FeatureMapShape"/>'s (C1: 64×11×11); a custom module must be a
    /// <see cref="FeatureMapClassifier"/>, else Fit fails saying so. ONNX models and ML.NET's own trainers have no such
    /// column. Saved with the model. Default null (not emitted).
    /// </summary>
    public string? FeatureMapColumnName { get; set; }

    /// <summary>The built-in network. Default <see cref="ClassifierArchitecture.MnistC1"/>. Ignored with a custom module.</summary>
    public ClassifierArchitecture Architecture { get; set; } = ClassifierArchitecture.MnistC1;

    /// <summary>
    /// A user-supplied network: called with the input image shape and the class count K, it returns an untrained
    /// module mapping images [N, C, H, W] to logits [N, K]. Return a <see cref="FeatureMapClassifier"/> to support
    /// <see cref="FeatureMapColumnName"/>. A model trained this way cannot be saved, because a delegate cannot be
    /// rebuilt from a file: use <see cref="CustomModuleName"/> for a savable custom network. Default null.
    /// </summary>
    public Func<ImageShape, int, Module<Tensor, Tensor>>? CustomModule { get; set; }

    /// <summary>
    /// The name of a custom network registered with <see cref="ImageClassifierEstimator.RegisterCustomModule"/>; the
    /// name is saved with the model and looked up again when it is loaded. Default null.
    /// </summary>
    public string? CustomModuleName { get; set; }

    /// <summary>The number of classes K; null (default) infers it as the largest label + 1.</summary>
    public int? ClassCount { get; set; }

    /// <summary>Passes over the training data; null = the architecture's default.</summary>
    public int? Epochs { get; set; }

    /// <summary>Images per optimisation step; null = the architecture's default (128 for all built-ins).</summary>
    public int? BatchSize { get; set; }

    /// <summary>The initial learning rate; null = the architecture's default.</summary>
    public double? LearningRate { get; set; }

    /// <summary>The optimiser; null = the architecture's default.</summary>
    public ClassifierOptimizer? Optimizer { get; set; }

    /// <summary>SGD momentum; null = the architecture's default. Ignored by Adam.</summary>
    public double? Momentum { get; set; }

    /// <summary>Whether SGD uses Nesterov momentum; null = the architecture's default.</summary>
    public bool? Nesterov { get; set; }

    /// <summary>L2 weight decay, as the optimiser's <c>weight_decay</c>. Default 0.</summary>
    public double WeightDecay { get; set; }

    /// <summary>The learning-rate schedule. Default <see cref="Classifiers.LearningRateSchedule.None"/>.</summary>
    public LearningRateSchedule LearningRateSchedule { get; set; } = LearningRateSchedule.None;

    /// <summary>With <see cref="Classifiers.LearningRateSchedule.Step"/>: epochs between decays. Default 10.</summary>
    public int LearningRateStepSize { get; set; } = 10;

    /// <summary>With <see cref="Classifiers.LearningRateSchedule.Step"/>: the factor applied at each decay. Default 0.1.</summary>
    public double LearningRateGamma { get; set; } = 0.1;

    /// <summary>
    /// The fraction of rows held out of training (chosen at random with the seed) on which accuracy is measured after
    /// every epoch. Default 0 (no validation).
    /// </summary>
    public double ValidationFraction { get; set; }

    /// <summary>The seed of initialisation, shuffling, dropout and the validation split; null = drawn from the context.</summary>
    public int? Seed { get; set; }

    /// <summary>Receives training progress during each epoch and at its end. Default null.</summary>
    public IProgress<ClassifierTrainingProgress>? Progress { get; set; }

    /// <summary>Stops training (Fit throws <see cref="OperationCanceledException"/> and frees what it built).</summary>
    public CancellationToken CancellationToken { get; set; }
}

/// <summary>A progress report of image-classifier training.</summary>
/// <param name="Epoch">The current epoch, 1-based.</param>
/// <param name="Epochs">The number of epochs.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="BatchesPerEpoch">Batches per epoch.</param>
/// <param name="Loss">Mean cross-entropy over this epoch's batches so far.</param>
/// <param name="TrainAccuracy">Accuracy on this epoch's training batches so far (in training mode, so with dropout).</param>
/// <param name="ValidationAccuracy">Accuracy on the held-out rows, at the end of an epoch with validation; else null.</param>
/// <param name="LearningRate">The learning rate of this epoch.</param>
/// <param name="Elapsed">Time since training started.</param>
/// <param name="EstimatedRemaining">The estimated time to the end of training.</param>
/// <param name="EpochCompleted">True for the report at the end of an epoch.</param>
public sealed record ClassifierTrainingProgress(
    int Epoch, int Epochs, int Batch, int BatchesPerEpoch, double Loss, double TrainAccuracy, double? ValidationAccuracy,
    double LearningRate, TimeSpan Elapsed, TimeSpan EstimatedRemaining, bool EpochCompleted)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"epoch {Epoch}/{Epochs} batch {Batch}/{BatchesPerEpoch}: loss {Loss:F4}, train accuracy {TrainAccuracy:P2}" +
        (ValidationAccuracy is { } v ? $", validation accuracy {v:P2}" : "") +
        $", lr {LearningRate:G3}, {Elapsed.TotalSeconds:F1} s elapsed, ETA {EstimatedRemaining.TotalSeconds:F0} s";
}

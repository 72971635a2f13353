using MLDefense.Data;
using Microsoft.ML;

namespace MLDefense.Jobs;

/// <summary>
/// Settings of <see cref="DefendedPipelineJob"/>. <see cref="Default"/> is sized to finish in about 15 minutes on two CPU
/// cores; <see cref="Full"/> trains every component with its paper's epochs on every training image.
/// </summary>
public sealed record DefendedPipelineJobOptions
{
    /// <summary>The dataset: <c>fashion-mnist</c> (default) or <c>mnist</c> — classifier A takes 1×28×28 images.</summary>
    public string Dataset { get; init; } = KnownDatasets.FashionMnist;

    /// <summary>The dataset root (see <see cref="KnownDatasets.Resolve"/>); null searches the default places (Debian's package for Fashion-MNIST).</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The first this-many training images train every component; null = all 60 000.</summary>
    public int? TrainImages { get; init; }

    /// <summary>The first this-many test images are evaluated and attacked; null = all 10 000.</summary>
    public int? TestImages { get; init; }

    /// <summary>Classifier A's epochs; null = its default (10, Defense-GAN's setting).</summary>
    public int? ClassifierEpochs { get; init; }

    /// <summary>AE-GAN+sr's epochs; null = its default (60, AE-GAN Table 4).</summary>
    public int? AeGanEpochs { get; init; }

    /// <summary>MIAED's autoencoder epochs; null = its default (100, MIAED Sec. 4.1).</summary>
    public int? MiaedEpochs { get; init; }

    /// <summary>MIAED's simple-network epochs; null = its default.</summary>
    public int? MiaedSimpleNetworkEpochs { get; init; }

    /// <summary>
    /// The L∞ budgets FGSM and PGD are run at, ascending: a sweep, so the table shows where the defenses work and where
    /// not. Default 0.05, 0.1, 0.2 and 0.3 (0.3: the budget every paper here uses on MNIST and Fashion-MNIST). The image
    /// grid and the single predictions use the largest.
    /// </summary>
    public IReadOnlyList<double> Epsilons { get; init; } = [0.05, 0.1, 0.2, 0.3];

    /// <summary>The largest of <see cref="Epsilons"/>.</summary>
    public double LargestEpsilon => Epsilons.Max();

    /// <summary>PGD's iterations, with its default step 0.01 and a random start. Default 40 (Madry et al.).</summary>
    public int PgdIterations { get; init; } = 40;

    /// <summary>Where the fitted defended pipeline is saved (one zip). Default <c>defended.zip</c>.</summary>
    public string OutputPath { get; init; } = "defended.zip";

    /// <summary>Where the picture of clean, adversarial and purified images is written; null writes none.</summary>
    public string? ImageGridPath { get; init; }

    /// <summary>How many test images (clean and under PGD) the reloaded model predicts one by one through a prediction engine. Default 4.</summary>
    public int PredictionExamples { get; init; } = 4;

    /// <summary>The seed of everything random. Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Where everything runs. Default <see cref="ComputeDevice.Auto"/>.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    /// <summary>
    /// About 15 minutes on two CPU cores: 8 000 training images, classifier A for 3 epochs, AE-GAN+sr for 3, MIAED for 2
    /// (simple network 5), 1 000 test images attacked. Sized from measured throughput on two cores (classifier A
    /// ≈ 275, AE-GAN+sr ≈ 60, MIAED ≈ 30 training images/s on a loaded machine; about twice that alone); MIAED's
    /// autoencoder, with its three mutual-information and prior critics, is the slowest part.
    /// </summary>
    public static DefendedPipelineJobOptions Default { get; } = new()
    {
        TrainImages = 8_000, TestImages = 1_000, ClassifierEpochs = 3, AeGanEpochs = 3, MiaedEpochs = 2, MiaedSimpleNetworkEpochs = 5,
    };

    /// <summary>The papers' training: every training image, every component's published epochs, all 10 000 test images.</summary>
    public static DefendedPipelineJobOptions Full { get; } = new();

    /// <summary>How these settings depart from <see cref="Full"/>, in words (empty when they do not).</summary>
    public string DescribeShortening()
    {
        var parts = new List<string>();
        if (TrainImages is int t) parts.Add($"first {t} training images");
        if (TestImages is int n) parts.Add($"first {n} test images");
        if (ClassifierEpochs is int c) parts.Add($"classifier A {c} epochs");
        if (AeGanEpochs is int a) parts.Add($"AE-GAN+sr {a} epochs");
        if (MiaedEpochs is int m) parts.Add($"MIAED {m} epochs");
        if (MiaedSimpleNetworkEpochs is int s) parts.Add($"MIAED simple network {s} epochs");
        return string.Join(", ", parts);
    }

    internal void Check()
    {
        if (Dataset is not (KnownDatasets.FashionMnist or KnownDatasets.Mnist))
            throw new ArgumentException($"The defended pipeline job runs on fashion-mnist or mnist (classifier A takes 1x28x28 images), not '{Dataset}'.");
        Positive(TrainImages, nameof(TrainImages));
        Positive(TestImages, nameof(TestImages));
        Positive(ClassifierEpochs, nameof(ClassifierEpochs));
        Positive(AeGanEpochs, nameof(AeGanEpochs));
        Positive(MiaedEpochs, nameof(MiaedEpochs));
        Positive(MiaedSimpleNetworkEpochs, nameof(MiaedSimpleNetworkEpochs));
        if (Epsilons is null || Epsilons.Count == 0) throw new ArgumentException("Epsilons must hold at least one budget.", nameof(Epsilons));
        foreach (double epsilon in Epsilons)
            if (!(epsilon > 0 && epsilon <= 1)) throw new ArgumentOutOfRangeException(nameof(Epsilons), epsilon, "Every epsilon must be in (0, 1].");
        if (PgdIterations < 1) throw new ArgumentOutOfRangeException(nameof(PgdIterations), PgdIterations, "PgdIterations must be at least 1.");
        if (PredictionExamples < 0) throw new ArgumentOutOfRangeException(nameof(PredictionExamples), PredictionExamples, "PredictionExamples cannot be negative.");
        if (string.IsNullOrWhiteSpace(OutputPath)) throw new ArgumentException("OutputPath is empty.");
    }

    private static void Positive(int? value, string name)
    {
        if (value is < 1) throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
    }
}

using Microsoft.ML;
using MLDefense.Attacks;
using MLDefense.Classifiers;
using MLDefense.Tests.MLNet;
using MLDefense.Training;

namespace MLDefense.Tests.Training;

/// <summary>Data, settings and the robustness measure of the adversarial-training tests.</summary>
internal static class AdversarialTrainingTestData
{
    /// <summary>The budget of the tests' easy task: large against its noise, small against its class margin.</summary>
    public const double Epsilon = 0.15;

    /// <summary>
    /// A task where robustness must be learnt (after Ilyas et al.'s robust and non-robust features): over uniform noise in
    /// [0, 0.3], each of 3 classes has a robust feature — a bright half (+0.4) whose side gives the class — and a non-robust
    /// one — a fixed random ±0.05 pattern per class over every pixel. In training rows the bright half agrees with the label
    /// only with probability <paramref name="robustAgreement"/> (else it names a random class), while the pattern always
    /// does; in test rows (agreement 1) both do. Plain training leans on the pattern, which an L∞ attack of ε = 0.1 removes;
    /// adversarial training has to learn the bright halves. Labels are a key of 3 values.
    /// </summary>
    public static IDataView RobustTask(int rowsPerClass, int seed, double robustAgreement)
    {
        var s = new MLDefense.Data.ImageShape(1, 28, 28);
        var patterns = new Random(12345);
        var sign = new float[3][];
        for (int k = 0; k < 3; k++) sign[k] = Enumerable.Range(0, s.Size).Select(_ => patterns.Next(2) == 0 ? -0.05f : 0.05f).ToArray();
        var random = new Random(seed);
        int rows = rowsPerClass * 3;
        var pixels = new float[rows * s.Size];
        var labels = new int[rows];
        for (int row = 0; row < rows; row++)
        {
            int label = row % 3;
            labels[row] = label;
            int bright = random.NextDouble() < robustAgreement ? label : random.Next(3);
            for (int y = 0; y < s.Height; y++)
                for (int x = 0; x < s.Width; x++)
                {
                    bool lit = bright switch { 0 => x < s.Width / 2, 1 => x >= s.Width / 2, _ => y < s.Height / 2 };
                    int i = y * s.Width + x;
                    pixels[row * s.Size + i] = Math.Clamp((float)(random.NextDouble() * 0.3) + (lit ? 0.4f : 0) + sign[label][i] + 0.05f, 0f, 1f);
                }
        }
        return TestViews.Build(s, pixels, labels, 3);
    }

    /// <summary>Fast settings: a few epochs of PGD-5 on small batches, constant learning rate.</summary>
    public static T Quick<T>(T options, int epochs = 4) where T : AdversarialTrainingOptions
    {
        options.Epsilon = Epsilon;
        options.Steps = 5;
        options.StepSize = Epsilon / 4;
        options.Epochs = epochs;
        options.BatchSize = 32;
        options.LearningRate = 0.02;
        options.LearningRateMilestones = [];
        options.Seed = 3;
        return options;
    }

    /// <summary>Fast NAMID settings: small estimators trained briefly.</summary>
    public static NamidOptions QuickNamid(AdversarialTrainingMethod method = AdversarialTrainingMethod.StandardAT, int epochs = 4)
    {
        var o = Quick(new NamidOptions { Method = method }, epochs);
        o.EstimatorHiddenSize = 32;
        o.EstimatorEpochs = 2;
        o.EstimatorBatchSize = 64;
        o.EstimatorLearningRate = 1e-3;
        o.TargetModelEpochs = 2;
        return o;
    }

    /// <summary>Accuracy under L∞ PGD-20 (step ε/4, random start) at <paramref name="epsilon"/>.</summary>
    public static double PgdAccuracy(ImageClassifierTransformer model, IDataView data, double epsilon = Epsilon)
    {
        var columns = TestViews.Read(data);
        var pixels = columns.Floats("Image");
        var labels = columns.Classes("Label");
        var s = model.InputShape;
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(11);
        var images = torch.tensor(pixels, [labels.Length, s.Channels, s.Height, s.Width]);
        var classes = torch.tensor(Array.ConvertAll(labels, l => (long)l));
        var attack = new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = epsilon, StepSize = epsilon / 4, Iterations = 20 });
        var adversarial = attack.Generate(model, images, classes);
        using var _ = torch.no_grad();
        return model.Logits(adversarial).argmax(1).eq(classes).to_type(ScalarType.Float32).mean().item<float>();
    }
}

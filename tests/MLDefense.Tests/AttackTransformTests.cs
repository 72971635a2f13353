using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Attacks;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.MLNet;
using MLDefense.Tests.MLNet;

namespace MLDefense.Tests;

/// <summary>The attacks as ML.NET transforms: <c>ml.Transforms.Attacks.*</c>.</summary>
[TestClass]
public sealed class AttackTransformTests
{
    private static ModuleClassifier classifier = null!;
    private static IDataView data = null!;
    private static readonly ImageShape Mnist = new(1, 28, 28);

    [ClassInitialize]
    public static void Load(TestContext _)
    {
        classifier = AttackFixtures.LoadClassifier();
        var (images, labels) = AttackFixtures.LoadInputs();
        using (images)
        using (labels)
        {
            int rows = 12;
            using var few = images.narrow(0, 0, rows).contiguous();
            data = TestViews.Labelled(few.data<float>().ToArray(), Array.ConvertAll(labels.data<long>().ToArray()[..rows], v => (int)v), Mnist, classes: 10);
        }
    }

    [ClassCleanup]
    public static void Free() => classifier.Dispose();

    public static IEnumerable<object[]> Estimators()
    {
        var attacks = new MLContext(seed: 1).Transforms.Attacks;
        return
        [
            ["Fgsm", attacks.Fgsm(classifier, 0.2)],
            ["Fgm", attacks.Fgm(classifier, 2.0)],
            ["FastGradient", attacks.FastGradient(classifier, new FastGradientOptions { Epsilon = 0.1, Targeted = true })],
            ["Bim", attacks.Bim(classifier, 0.2, iterations: 3, stepSize: 0.05)],
            ["Pgd", attacks.Pgd(classifier, 0.2, iterations: 3, stepSize: 0.05, norm: AttackNorm.L2)],
            ["Mim", attacks.Mim(classifier, 0.2, iterations: 3)],
            ["CarliniWagnerL2", attacks.CarliniWagnerL2(classifier, initialConstant: 10, binarySearchSteps: 2, maxIterations: 20, learningRate: 0.1)],
            ["DeepFool", attacks.DeepFool(classifier, norm: AttackNorm.Linf, maxIterations: 5)],
            ["Attack", attacks.Attack(classifier, new BasicIterativeAttack(new BasicIterativeOptions { Iterations = 2 }), attackBatchSize: 5)],
        ];
    }

    [TestMethod]
    [DynamicData(nameof(Estimators))]
    public void OutputSchemaIsTheTransformedSchemaWithTheInputsImageShape(string name, AttackEstimator estimator)
    {
        var estimated = estimator.GetOutputSchema(SchemaShapes.From(data.Schema));
        var transformer = estimator.Fit(data);
        var output = transformer.Transform(data);

        var promised = estimated.SingleOrDefault(c => c.Name == "Adversarial");
        Assert.AreEqual("Adversarial", promised.Name, $"{name}: the estimator promises the adversarial column");
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, promised.Kind);
        Assert.AreEqual(NumberDataViewType.Single, promised.ItemType);
        MLNetWorkout.AssertSameColumns(transformer.GetOutputSchema(data.Schema), output.Schema, $"{name}: transformer schema = transformed schema");
        Assert.AreEqual(data.Schema["Image"].Type, output.Schema["Adversarial"].Type, "the adversarial images keep the input's type (Vector<Single, 1, 28, 28>)");

        // 12 rows in attack batches: the adversarial column has every row, in [0, 1], and differs from the clean one.
        var clean = TestViews.Floats(data, "Image");
        var adversarial = TestViews.Floats(output, "Adversarial");
        Assert.AreEqual(clean.Length, adversarial.Length);
        Assert.IsTrue(adversarial.All(v => v is >= 0 and <= 1), $"{name}: values in [0, 1]");
        Assert.IsTrue(clean.Zip(adversarial).Any(p => p.First != p.Second), $"{name}: the images changed");
    }

    [TestMethod]
    public void TransformGivesWhatTheAttackGivesForTheSameRows()
    {
        var attack = new FastGradientAttack(new FastGradientOptions { Epsilon = 0.2 });
        var output = new MLContext(seed: 1).Transforms.Attacks.Attack(classifier, attack, attackBatchSize: 4).Fit(data).Transform(data);
        var fromTransform = TestViews.Floats(output, "Adversarial");

        using var scope = torch.NewDisposeScope();
        var images = torch.tensor(TestViews.Floats(data, "Image"), [12, 1, 28, 28]);
        var labels = torch.tensor(Array.ConvertAll(TestViews.Classes(data), c => (long)c), [12]);
        var direct = attack.Generate(classifier, images, labels).data<float>().ToArray();
        int differing = fromTransform.Zip(direct).Count(p => Math.Abs(p.First - p.Second) > 1e-6);
        // Chunks of 4 rows instead of 12 may round the convolutions differently, flipping the sign of a ~0 gradient.
        Assert.IsTrue(differing <= direct.Length / 200, $"{differing} of {direct.Length} pixels differ");
    }

    [TestMethod]
    public void AnEvaluationIsAPipeline_PgdThenTheTrainedClassifierOnTheAdversarialColumn()
    {
        var ml = new MLContext(seed: 1);
        var train = Patterns(rowsPerClass: 30, seed: 1);
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { Epochs = 2, BatchSize = 16, Seed = 3 }).Fit(train);
        var test = Patterns(rowsPerClass: 10, seed: 2);

        var pipeline = ml.Transforms.Attacks.Pgd(model, epsilon: 0.3, iterations: 10, stepSize: 0.05)
            .Append(model.AsEstimator(inputColumnName: "Adversarial", scoreColumnName: "AdversarialScore", predictedLabelColumnName: "AdversarialPrediction"));
        var scored = ((ITransformer)model).Transform(pipeline.Fit(test).Transform(test));
        var labels = TestViews.Values<uint>(scored, "Label");
        double clean = labels.Zip(TestViews.Values<uint>(scored, "PredictedLabel")).Count(p => p.First == p.Second) / (double)labels.Length;
        double attacked = labels.Zip(TestViews.Values<uint>(scored, "AdversarialPrediction")).Count(p => p.First == p.Second) / (double)labels.Length;
        Assert.IsTrue(clean >= 0.9, $"clean accuracy {clean:P0}");
        Assert.IsTrue(attacked <= clean - 0.5, $"accuracy under PGD {attacked:P0} (clean {clean:P0})");
    }

    [TestMethod]
    public void BadColumnsAreRejectedAtGetOutputSchemaAndFitNamingTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var attacks = ml.Transforms.Attacks;
        var floatLabels = ml.Data.LoadFromEnumerable(new[] { new FloatLabelRow(), new FloatLabelRow() });
        // (data, estimator, expected part of the message, whether a schema shape shows it: sizes only show at Fit)
        (IDataView View, AttackEstimator Estimator, string Expected, bool AtSchema)[] cases =
        [
            (data, attacks.Fgsm(classifier, 0.1, imageColumnName: "Pixels"), "'Pixels'", true),
            (data, attacks.Fgsm(classifier, 0.1, labelColumnName: "Class"), "'Class'", true),
            (floatLabels, attacks.Fgsm(classifier, 0.1), "key", true),
            (TestViews.Labelled(new float[2 * 3 * 32 * 32], [0, 1], new ImageShape(3, 32, 32), classes: 10), attacks.Fgsm(classifier, 0.1), "3x32x32", false),
            (ml.Data.LoadFromEnumerable(new[] { new FlatRow() }), attacks.Fgsm(classifier, 0.1), "dimensions [784]", false),
        ];
        foreach (var (view, estimator, expected, atSchema) in cases)
        {
            if (atSchema)
                StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => estimator.GetOutputSchema(SchemaShapes.From(view.Schema))).Message, expected, "GetOutputSchema");
            StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => estimator.Fit(view)).Message, expected, $"Fit on {string.Join(", ", view.Schema.Select(c => $"{c.Name} {c.Type}"))}");
        }
    }

    private sealed class FloatLabelRow
    {
        [VectorType(1, 28, 28)]
        public float[] Image { get; set; } = new float[784];
        public float Label { get; set; }
    }

    private sealed class FlatRow
    {
        [VectorType(784)]
        public float[] Image { get; set; } = new float[784];
        public int Label { get; set; }
    }

    [TestMethod]
    public void FlatOverloadsCheckTheirParametersImmediately()
    {
        var attacks = new MLContext(seed: 1).Transforms.Attacks;
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => attacks.Fgsm(classifier, 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => attacks.Pgd(classifier, 0.3, iterations: 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => attacks.Attack(classifier, new FastGradientAttack(new()), attackBatchSize: 0));
        Assert.ThrowsExactly<ArgumentNullException>(() => attacks.Attack(null!, new FastGradientAttack(new())));
        Assert.ThrowsExactly<ArgumentException>(() => attacks.Fgsm(classifier, 0.1, outputColumnName: " "));
    }

    [TestMethod]
    public void CancellationStopsReadingTheAdversarialColumn()
    {
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        var output = new MLContext(seed: 1).Transforms.Attacks.Attack(classifier, new BasicIterativeAttack(new()), cancellationToken: cancellation.Token)
            .Fit(data).Transform(data);
        Assert.AreEqual(12, TestViews.Values<uint>(output, "Label").Length, "other columns read without attacking");
        Assert.ThrowsExactly<OperationCanceledException>(() => TestViews.Floats(output, "Adversarial"));
    }

    /// <summary>Three separable classes over noise: class 0 brightens the left half, class 1 the right, class 2 the top.</summary>
    private static IDataView Patterns(int rowsPerClass, int seed)
    {
        var random = new Random(seed);
        int rows = rowsPerClass * 3;
        var pixels = new float[rows * 784];
        var labels = new int[rows];
        for (int row = 0; row < rows; row++)
        {
            labels[row] = row % 3;
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    bool bright = labels[row] switch { 0 => x < 14, 1 => x >= 14, _ => y < 14 };
                    pixels[row * 784 + y * 28 + x] = (float)(random.NextDouble() * 0.3 + (bright ? 0.6 : 0));
                }
        }
        return TestViews.Labelled(pixels, labels, Mnist, classes: 3);
    }
}

using MLDefense.Attacks;
using MLDefense.Data;
using MLDefense.Legacy;
using MLDefense.Classifiers;

namespace MLDefense.Tests;

/// <summary>The attacks as pipeline components: <c>ml.Transforms.Attacks.*</c>.</summary>
[TestClass]
public sealed class AttackTransformTests
{
    private static ModuleClassifier classifier = null!;
    private static InMemoryDataView data = null!;
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
            data = View(few.data<float>().ToArray(), Array.ConvertAll(labels.data<long>().ToArray()[..rows], v => (int)v), Mnist);
        }
    }

    [ClassCleanup]
    public static void Free() => classifier.Dispose();

    private static InMemoryDataView View(float[] pixels, int[] labels, ImageShape shape, string imageColumn = "Image", DataViewType? labelType = null) =>
        new(new DataViewSchema([
                new DataViewSchema.Column(imageColumn, shape.VectorType, new DataViewSchema.Annotations(shape)),
                new DataViewSchema.Column("Label", labelType ?? NumberDataViewType.Int32)]),
            [pixels, labelType == NumberDataViewType.Single ? Array.ConvertAll(labels, v => (float)v) : labels]);

    public static IEnumerable<object[]> Estimators()
    {
        var attacks = new MLContext(1).Transforms.Attacks;
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
        var estimated = estimator.GetOutputSchema(data.Schema);
        var transformer = estimator.Fit(data);
        var output = transformer.Transform(data);

        Assert.IsTrue(estimated.SameAs(output.Schema), $"{name}: estimator schema = transformed schema");
        Assert.IsTrue(transformer.GetOutputSchema(data.Schema).SameAs(output.Schema), $"{name}: transformer schema = transformed schema");
        Assert.AreEqual(Mnist, output.Schema["Adversarial"].ImageShape);
        Assert.AreEqual(data.Schema["Image"].Type, output.Schema["Adversarial"].Type);

        // Batches of 5 over 12 rows: the adversarial column has every row, in [0, 1], and differs from the clean one.
        var clean = data.GetBatches(100, ["Image"]).Single().Get<float>("Image");
        var adversarial = output.GetBatches(5, ["Adversarial"]).SelectMany(b => b.Get<float>("Adversarial")).ToArray();
        Assert.AreEqual(clean.Length, adversarial.Length);
        Assert.IsTrue(adversarial.All(v => v is >= 0 and <= 1), $"{name}: values in [0, 1]");
        Assert.IsTrue(clean.Zip(adversarial).Any(p => p.First != p.Second), $"{name}: the images changed");
    }

    [TestMethod]
    public void TransformGivesWhatTheAttackGivesForTheSameRows()
    {
        var attack = new FastGradientAttack(new FastGradientOptions { Epsilon = 0.2 });
        var output = new MLContext(1).Transforms.Attacks.Attack(classifier, attack, attackBatchSize: 4).Fit(data).Transform(data);
        var fromTransform = output.GetBatches(100, ["Adversarial"]).Single().Get<float>("Adversarial");

        using var scope = torch.NewDisposeScope();
        var batch = data.GetBatches(100).Single();
        var direct = attack.Generate(classifier, batch.ToTensor("Image", CPU), batch.ToTensor("Label", CPU)).data<float>().ToArray();
        int differing = fromTransform.Zip(direct).Count(p => Math.Abs(p.First - p.Second) > 1e-6);
        // Chunks of 4 rows instead of 12 may round the convolutions differently, flipping the sign of a ~0 gradient.
        Assert.IsTrue(differing <= direct.Length / 200, $"{differing} of {direct.Length} pixels differ");
    }

    [TestMethod]
    public void AnEvaluationIsAPipeline_PgdThenTheTrainedClassifierOnTheAdversarialColumn()
    {
        var ml = new MLContext(1);
        var train = Patterns(rowsPerClass: 30, seed: 1);
        using var model = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { Epochs = 2, BatchSize = 16, Seed = 3 }).Fit(train);
        var test = Patterns(rowsPerClass: 10, seed: 2);

        var pipeline = ml.Transforms.Attacks.Pgd(model, epsilon: 0.3, iterations: 10, stepSize: 0.05)
            .Append(model.AsEstimator(inputColumnName: "Adversarial", scoreColumnName: "AdversarialScore", predictedLabelColumnName: "AdversarialPrediction"));
        var scored = model.Transform(pipeline.Fit(test).Transform(test));
        var batch = scored.GetBatches(1000, ["Label", "PredictedLabel", "AdversarialPrediction"]).Single();
        var labels = batch.Get<int>("Label");
        double clean = labels.Zip(batch.Get<int>("PredictedLabel")).Count(p => p.First == p.Second) / (double)labels.Length;
        double attacked = labels.Zip(batch.Get<int>("AdversarialPrediction")).Count(p => p.First == p.Second) / (double)labels.Length;
        Assert.IsTrue(clean >= 0.9, $"clean accuracy {clean:P0}");
        Assert.IsTrue(attacked <= clean - 0.5, $"accuracy under PGD {attacked:P0} (clean {clean:P0})");
    }

    [TestMethod]
    public void BadColumnsAreRejectedAtGetOutputSchemaAndFitNamingTheColumn()
    {
        var attacks = new MLContext(1).Transforms.Attacks;
        var pixels = new float[2 * 3 * 32 * 32];
        (IDataView View, AttackEstimator Estimator, string Expected)[] cases =
        [
            (data, attacks.Fgsm(classifier, 0.1, imageColumnName: "Pixels"), "'Pixels'"),
            (data, attacks.Fgsm(classifier, 0.1, labelColumnName: "Class"), "'Class'"),
            (View(pixels, [0, 1], new ImageShape(3, 32, 32)), attacks.Fgsm(classifier, 0.1), "3x32x32"),
            (View(new float[2 * 784], [0, 1], Mnist, labelType: NumberDataViewType.Single), attacks.Fgsm(classifier, 0.1), "Int32"),
            (new InMemoryDataView(new DataViewSchema([new DataViewSchema.Column("Image", new VectorDataViewType(784)), new DataViewSchema.Column("Label", NumberDataViewType.Int32)]),
                [new float[784], new[] { 0 }]), attacks.Fgsm(classifier, 0.1), "image shape annotation"),
        ];
        foreach (var (view, estimator, expected) in cases)
        {
            var ex = Assert.ThrowsExactly<ArgumentException>(() => estimator.GetOutputSchema(view.Schema));
            StringAssert.Contains(ex.Message, expected);
            Assert.ThrowsExactly<ArgumentException>(() => estimator.Fit(view));
        }
    }

    [TestMethod]
    public void FlatOverloadsCheckTheirParametersImmediately()
    {
        var attacks = new MLContext(1).Transforms.Attacks;
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => attacks.Fgsm(classifier, 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => attacks.Pgd(classifier, 0.3, iterations: 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => attacks.Attack(classifier, new FastGradientAttack(new()), attackBatchSize: 0));
        Assert.ThrowsExactly<ArgumentNullException>(() => attacks.Attack(null!, new FastGradientAttack(new())));
        Assert.ThrowsExactly<ArgumentException>(() => attacks.Fgsm(classifier, 0.1, outputColumnName: " "));
    }

    [TestMethod]
    public void AttackTransformersAreNotSavable()
    {
        var ml = new MLContext(1);
        var transformer = ml.Transforms.Attacks.Fgsm(classifier, 0.1).Fit(data);
        var path = Path.Combine(Path.GetTempPath(), $"attack-{Guid.NewGuid():N}.zip");
        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Model.Save(transformer, data.Schema, path));
        StringAssert.Contains(ex.Message, nameof(AttackTransformer));
        Assert.IsFalse(File.Exists(path));
    }

    [TestMethod]
    public void CancellationStopsReadingTheAdversarialColumn()
    {
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        var output = new MLContext(1).Transforms.Attacks.Attack(classifier, new BasicIterativeAttack(new()), cancellationToken: cancellation.Token)
            .Fit(data).Transform(data);
        Assert.AreEqual(12, output.GetBatches(100, ["Label"]).Single().RowCount, "other columns read without attacking");
        Assert.ThrowsExactly<OperationCanceledException>(() => output.GetBatches(100, ["Adversarial"]).ToList());
    }

    /// <summary>Three separable classes over noise: class 0 brightens the left half, class 1 the right, class 2 the top.</summary>
    private static InMemoryDataView Patterns(int rowsPerClass, int seed)
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
        return View(pixels, labels, Mnist);
    }
}

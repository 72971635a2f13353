using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Attacks;
using MLDefense.Classifiers;

namespace MLDefense.Tests.MLNet;

/// <summary>The attacks as ML.NET transforms: <c>ml.Transforms.Attacks.Fgsm(classifier, ...)</c> in an ML.NET pipeline.</summary>
[TestClass]
public sealed class AttackMLNetTests
{
    private sealed class AttackedRow
    {
        [VectorType(1, 28, 28)]
        public float[] Adversarial { get; set; } = [];
    }

    [TestMethod]
    public void FgsmAsATransformEqualsTheAttackOnTensorsAndIsNotSaved()
    {
        var ml = new MLContext(seed: 1);
        var keys = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: true, 200)));
        var train = keys.Transform(ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: true, 200)));
        var digits = AeGanMLNetTests.Mnist(train: false, 32);
        var test = keys.Transform(ml.Data.LoadFromEnumerable(digits));
        using var classifier = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            LabelColumnName = "LabelKey", Architecture = ClassifierArchitecture.MnistC1, Epochs = 1, BatchSize = 32, Seed = 3,
        }).Fit(train);

        var attack = ml.Transforms.Attacks.Fgsm(classifier, 0.3, labelColumnName: "LabelKey");
        var model = attack.Fit(test);
        var adversarial = ml.Data.CreateEnumerable<AttackedRow>(model.Transform(test), reuseRowObject: false).Select(r => r.Adversarial).ToArray();

        // The same attack on tensors, on the same images and classes (MapValueToKey numbers classes by first appearance).
        var classes = test.GetColumn<uint>("LabelKey").Select(key => (long)key - 1).ToArray();
        using var images = torch.tensor(digits.SelectMany(d => d.Image).ToArray(), [digits.Length, 1, 28, 28]);
        using var labels = torch.tensor(classes, [digits.Length]);
        using var direct = new FastGradientAttack(new FastGradientOptions { Epsilon = 0.3 }).Generate(classifier, images, labels);
        var expected = direct.contiguous().data<float>().ToArray();
        var actual = adversarial.SelectMany(a => a).ToArray();
        Assert.AreEqual(expected.Length, actual.Length);
        float largest = expected.Zip(actual).Max(p => MathF.Abs(p.First - p.Second));
        Assert.IsTrue(largest < 1e-6f, $"the transform's FGSM images differ from the attack's by up to {largest}");
        Assert.IsTrue(actual.Zip(digits.SelectMany(d => d.Image)).Max(p => MathF.Abs(p.First - p.Second)) <= 0.3f + 1e-6f, "within ε");

        string zip = Path.Combine(Directory.CreateTempSubdirectory("mldefense-attack-").FullName, "attack.zip");
        var error = Assert.Throws<Exception>(() => ml.Model.Save(model, test.Schema, zip));
        for (var e = error; e is not null; e = e.InnerException)
            if (e is NotSupportedException) { StringAssert.Contains(e.Message, "not saved"); return; }
        Assert.Fail($"saving an attack should say it is not saved; got {error}");
    }

    [TestMethod]
    public void AMissingLabelIsNamed()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(AeGanMLNetTests.Mnist(train: true, 20));
        using var classifier = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            Architecture = ClassifierArchitecture.MnistC1, Epochs = 1, BatchSize = 10, Seed = 3,
        }).Fit(ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data));
        var attack = ml.Transforms.Attacks.Pgd(classifier, 0.3, labelColumnName: "Truth");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => attack.GetOutputSchema(MLDefense.MLNet.SchemaShapes.From(data.Schema))).Message, "'Truth'");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => attack.Fit(data)).Message, "'Truth'");
    }
}

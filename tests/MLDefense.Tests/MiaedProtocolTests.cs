using MLDefense.Data;
using MLDefense.Evaluation;
using MLDefense.Classifiers;

namespace MLDefense.Tests;

/// <summary><see cref="MiaedProtocol"/> with several detectors at once (the MIAED benchmark's two rules and its ablation).</summary>
[TestClass]
public sealed class MiaedProtocolTests
{
    private static ImageClassifierTransformer Classifier => EvaluationFixture.Classifier;

    private static EvaluatedDetector Uncertainty() => new("uncertainty", images =>
    {
        using var noGrad = torch.no_grad();
        return (1 - Classifier.Logits(images).softmax(1).max(1).values).cpu().data<float>().ToArray();
    }, 0.1);

    private static EvaluatedDetector Margin() => new("margin", images =>
    {
        using var noGrad = torch.no_grad();
        var top2 = Classifier.Logits(images).softmax(1).topk(2, 1).values;
        return (1 - (top2.select(1, 0) - top2.select(1, 1))).cpu().data<float>().ToArray();
    }, 0.5);

    [TestMethod]
    public void SeveralDetectorsAreJudgedOnTheSameImagesAsOneAtATimeWithOneAttackPass()
    {
        var (images, labels) = EvaluationFixture.TestSet(20, 4);
        var options = new MiaedProtocolOptions { Dataset = "patterns", BatchSize = 25, Seed = 3 };
        var attack = new TestFgsm(0.22);

        var both = MiaedProtocol.Run(Classifier, attack, images, labels, [new("u", Uncertainty()), new("m", Margin())], options);
        int attackCalls = attack.Calls;
        var alone = new[]
        {
            MiaedProtocol.Run(Classifier, new TestFgsm(0.22), images, labels, Uncertainty(), options with { Variant = "u" }),
            MiaedProtocol.Run(Classifier, new TestFgsm(0.22), images, labels, Margin(), options with { Variant = "m" }),
        };

        Assert.AreEqual(3, attackCalls, "60 images in batches of 25: the attack runs once per batch for both detectors");
        Assert.AreEqual(2, both.Count);
        for (int d = 0; d < 2; d++)
        {
            Assert.AreEqual(alone[d].Row, both[d].Row, "same noise (seeded), same kept images, same scores");
            CollectionAssert.AreEqual(alone[d].Samples.ToList(), both[d].Samples.ToList());
        }
        Assert.IsTrue(both[0].Row.Kept > 0);
        CollectionAssert.AreNotEqual(both[0].Samples.Select(x => x.CleanScore).ToList(), both[1].Samples.Select(x => x.CleanScore).ToList(),
            "two different detectors, so the test would notice swapped results");
    }

    [TestMethod]
    public void DetectorListsMustBeNonEmptyWithDistinctNames()
    {
        var (images, labels) = EvaluationFixture.TestSet(2, 5);
        Assert.Throws<ArgumentException>(() => MiaedProtocol.Run(Classifier, new TestFgsm(0.2), images, labels, Array.Empty<MiaedProtocolDetector>()));
        var ex = Assert.Throws<ArgumentException>(() => MiaedProtocol.Run(Classifier, new TestFgsm(0.2), images, labels,
            [new("full", Uncertainty()), new("full", Margin())]));
        StringAssert.Contains(ex.Message, "distinct");
    }
}

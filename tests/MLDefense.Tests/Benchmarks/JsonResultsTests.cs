using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli.Infrastructure;

namespace MLDefense.Tests.Benchmarks;

/// <summary><see cref="JsonResults.Curve"/>: the <c>curve</c> array every bench with a learning curve writes.</summary>
[TestClass]
public sealed class JsonResultsTests
{
    [TestMethod]
    public void ACurveIsOneObjectPerRowOfEveryProbeWithThePointsFieldsFirst()
    {
        var mnist = new List<LearningCurvePoint<string>> { new(1, 500, 12.5, ["FGSM", "PGD"]), new(2, 500, 7.12345, ["FGSM"]) };
        var fashion = new List<LearningCurvePoint<string>> { new(4, 100, 3, ["CW-L2"]) };

        var curve = JsonResults.Curve([("mnist", mnist), ("fashion-mnist", fashion)], attack => new JsonObject { ["attack"] = attack, ["accuracy"] = attack.Length / 10.0 });

        Assert.AreEqual(4, curve.Count);
        var first = curve[0]!.AsObject();
        CollectionAssert.AreEqual(new[] { "dataset", "epoch", "test_images", "fit_seconds", "attack", "accuracy" }, first.Select(p => p.Key).ToArray());
        Assert.AreEqual("""{"dataset":"mnist","epoch":1,"test_images":500,"fit_seconds":12.5,"attack":"FGSM","accuracy":0.4}""", first.ToJsonString());
        Assert.AreEqual("PGD", (string?)curve[1]!["attack"]);
        Assert.AreEqual(7.123, (double)curve[2]!["fit_seconds"]!, "fit seconds rounded as the benches write them");
        Assert.AreEqual("""{"dataset":"fashion-mnist","epoch":4,"test_images":100,"fit_seconds":3,"attack":"CW-L2","accuracy":0.5}""", curve[3]!.ToJsonString());
    }
}

using F = MLDefense.Torch.torch.nn.functional;

namespace MLDefense.Torch.Tests;

[TestClass]
public sealed class DeterminismTests
{
    private static float[][] TrainAndReadWeights(ulong seed)
    {
        torch.manual_seed(seed);
        using var net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 6, 3, padding: 1), torch.nn.BatchNorm2d(6), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Dropout(0.2), torch.nn.Linear(6 * 6 * 6, 4));
        using var optimizer = torch.optim.SGD(net.parameters(), lr: 0.05, momentum: 0.9, nesterov: true);
        for (int step = 0; step < 30; step++)
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.rand([16, 1, 12, 12]);
            var y = torch.randint(0, 4, [16]);
            optimizer.zero_grad();
            F.cross_entropy(net.forward(x), y).backward();
            optimizer.step();
        }
        return net.parameters().Concat(net.buffers()).Where(t => t.dtype == ScalarType.Float32).Select(t => t.data<float>()).ToArray();
    }

    [TestMethod]
    public void SameSeedGivesBitIdenticalWeightsAfterTraining()
    {
        var first = TrainAndReadWeights(42);
        var second = TrainAndReadWeights(42);
        Assert.AreEqual(first.Length, second.Length);
        for (int i = 0; i < first.Length; i++)
            CollectionAssert.AreEqual(first[i], second[i], $"tensor {i} differs between two runs with the same seed");
    }

    [TestMethod]
    public void DifferentSeedsGiveDifferentWeights()
    {
        var first = TrainAndReadWeights(1);
        var second = TrainAndReadWeights(2);
        Assert.IsFalse(first[0].SequenceEqual(second[0]));
    }
}

using MLDefense.Torch.Modules;
using MLDefense.Torch.Optim;
using F = MLDefense.Torch.torch.nn.functional;

namespace MLDefense.Torch.Tests;

[TestClass]
public sealed class DeterminismTests
{
    private static float[][] TrainAndReadWeights(ulong seed)
    {
        torch.manual_seed(seed);
        using var net = SmallNet();
        using var optimizer = torch.optim.SGD(net.parameters(), lr: 0.05, momentum: 0.9, nesterov: true);
        TrainSteps(net, optimizer, 30);
        return Weights(net);
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

    private static Sequential SmallNet() => torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 3, padding: 1), torch.nn.BatchNorm2d(6), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Dropout(0.2), torch.nn.Linear(6 * 6 * 6, 4));

    private static void TrainSteps(Sequential net, Optimizer optimizer, int steps)
    {
        for (int step = 0; step < steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.rand([16, 1, 12, 12]);
            var y = torch.randint(0, 4, [16]);
            optimizer.zero_grad();
            F.cross_entropy(net.forward(x), y).backward();
            optimizer.step();
        }
    }

    private static float[][] Weights(Sequential net) =>
        net.parameters().Concat(net.buffers()).Where(t => t.dtype == ScalarType.Float32).Select(t => t.data<float>()).ToArray();

    [TestMethod]
    public void SavedWeightsOptimizerStateAndRngStateResumeTheSameTraining()
    {
        torch.manual_seed(7);
        float[][] uninterrupted;
        using (var net = SmallNet())
        using (var optimizer = torch.optim.Adam(net.parameters(), lr: 0.01))
        {
            TrainSteps(net, optimizer, 12);
            uninterrupted = Weights(net);
        }

        torch.manual_seed(7);
        Dictionary<string, Tensor> weights;
        byte[] optimizerState;
        Tensor rngState;
        using (var net = SmallNet())
        using (var optimizer = torch.optim.Adam(net.parameters(), lr: 0.01))
        {
            TrainSteps(net, optimizer, 5);
            var aliases = net.state_dict();
            weights = aliases.ToDictionary(kv => kv.Key, kv => kv.Value.clone());
            foreach (var alias in aliases.Values) alias.Dispose();
            optimizerState = optimizer.save_state();
            rngState = torch.get_rng_state();
        }
        Assert.AreEqual(ScalarType.Byte, rngState.dtype);

        torch.manual_seed(99);   // other initial weights and another stream: everything must come from the saved states
        using (var net = SmallNet())
        using (var optimizer = torch.optim.Adam(net.parameters(), lr: 0.01))
        {
            net.load_state_dict(weights);
            optimizer.load_state(optimizerState);
            torch.set_rng_state(rngState);
            TrainSteps(net, optimizer, 7);
            var resumed = Weights(net);
            for (int i = 0; i < uninterrupted.Length; i++)
                CollectionAssert.AreEqual(uninterrupted[i], resumed[i], $"tensor {i} differs from the uninterrupted training");
        }
        foreach (var t in weights.Values) t.Dispose();
        rngState.Dispose();
    }

    [TestMethod]
    public void BadStatesAreRejected()
    {
        using var net = SmallNet();
        using var optimizer = torch.optim.Adam(net.parameters(), lr: 0.01);
        Assert.ThrowsExactly<ArgumentException>(() => optimizer.load_state([]));
        Assert.ThrowsExactly<TorchException>(() => optimizer.load_state([1, 2, 3, 4]));
        using var notAState = torch.zeros([3]);
        Assert.ThrowsExactly<TorchException>(() => torch.set_rng_state(notAState));
    }
}

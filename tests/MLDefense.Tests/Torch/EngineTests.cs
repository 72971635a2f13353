using System.Runtime.InteropServices;
using F = TorchSharp.torch.nn.functional;

using MLDefense.Data;
using MLDefense.Tests;

namespace MLDefense.Tests.Torch;

/// <summary>
/// What MLDefense relies on from its engine, TorchSharp 0.107 on libtorch 2.10: bit-identical CPU training from a
/// seed, a resume from saved weights, optimiser and generator states that continues the same training, training loops
/// that free every tensor, and libtorch errors that arrive as .NET exceptions with libtorch's message.
/// </summary>
[TestClass]
public sealed class EngineTests
{
    private static Sequential SmallNet() => torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 3, padding: 1), torch.nn.BatchNorm2d(6), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Dropout(0.2), torch.nn.Linear(6 * 6 * 6, 4));

    private static void TrainSteps(Sequential net, torch.optim.Optimizer optimizer, int steps)
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
        net.parameters().Cast<Tensor>().Concat(net.buffers()).Where(t => t.dtype == ScalarType.Float32)
            .Select(t => t.data<float>().ToArray()).ToArray();

    private static float[][] TrainAndReadWeights(long seed)
    {
        torch.manual_seed(seed);
        using var net = SmallNet();
        using var optimizer = torch.optim.SGD(net.parameters(), 0.05, momentum: 0.9, nesterov: true);
        TrainSteps(net, optimizer, 30);
        return Weights(net);
    }

    [TestMethod]
    public void SameSeedGivesBitIdenticalWeightsAfterTraining()
    {
        // At one thread count: libtorch's CPU kernels split reductions by thread, so 1 and 2 threads differ in the last bits.
        var first = TrainAndReadWeights(42);
        var second = TrainAndReadWeights(42);
        Assert.AreEqual(first.Length, second.Length);
        for (int i = 0; i < first.Length; i++)
            CollectionAssert.AreEqual(first[i], second[i], $"tensor {i} differs between two runs with the same seed");
        Assert.IsFalse(first[0].SequenceEqual(TrainAndReadWeights(43)[0]), "another seed gives other weights");
    }

    [TestMethod]
    public void SavedWeightsOptimizerStateAndRngStateResumeTheSameTraining()
    {
        torch.manual_seed(7);
        float[][] uninterrupted;
        using (var net = SmallNet())
        using (var optimizer = torch.optim.Adam(net.parameters(), 0.01))
        {
            TrainSteps(net, optimizer, 12);
            uninterrupted = Weights(net);
        }

        torch.manual_seed(7);
        Dictionary<string, Tensor> weights;
        byte[] optimizerState;
        Tensor rngState;
        using (var net = SmallNet())
        using (var optimizer = torch.optim.Adam(net.parameters(), 0.01))
        {
            TrainSteps(net, optimizer, 5);
            weights = net.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
            using var buffer = new MemoryStream();
            using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
            optimizerState = buffer.ToArray();
            rngState = torch.get_rng_state();
        }
        Assert.AreEqual(ScalarType.Byte, rngState.dtype);

        torch.manual_seed(99);   // other initial weights and another stream: everything must come from the saved states
        using (var net = SmallNet())
        using (var optimizer = torch.optim.Adam(net.parameters(), 0.01))
        {
            net.LoadStateStrict(weights);
            using (var reader = new BinaryReader(new MemoryStream(optimizerState))) optimizer.load_state_dict(reader);
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
    public void TenThousandTrainingStepsLeaveNoTensorBehind()
    {
        torch.manual_seed(7);
        using var net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 3, 3), torch.nn.Dropout(0.1));
        using var optimizer = torch.optim.Adam(net.parameters(), 1e-3);
        using var x = torch.rand([4, 1, 8, 8]);
        using var y = torch.randint(0, 3, [4]);

        // One step first, so lazily created optimiser state (Adam's moments) and gradients exist before counting.
        Step();
        long before = LiveTensors.Count();
        var scopes = DisposeScopeManager.Statistics;
        long createdInScopes = scopes.CreatedInScopeCount, disposedInScopes = scopes.DisposedInScopeCount;
        for (int i = 0; i < 10_000; i++) Step();
        Assert.AreEqual(scopes.CreatedInScopeCount - createdInScopes, scopes.DisposedInScopeCount - disposedInScopes,
            "every tensor a step creates is disposed with its scope, none left to the finalizer");
        Assert.AreEqual(before, LiveTensors.Count(), "live tensors before and after 10,000 steps");

        void Step()
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = F.cross_entropy(net.forward(x), y);
            loss.backward();
            optimizer.step();
        }
    }

    [TestMethod]
    public void LibtorchErrorsAreDotNetExceptionsWithLibtorchsMessage()
    {
        using var scope = torch.NewDisposeScope();
        var t = torch.arange(10);
        var ex = Assert.ThrowsExactly<ExternalException>(() => t.index_select(0, torch.tensor(new long[] { 3, 42 })));
        StringAssert.Contains(ex.Message, "out of range");
        Assert.ThrowsExactly<ExternalException>(() => torch.rand([2, 2]).view(3));
        // A convolution's channel mismatch is caught in C# before libtorch sees it.
        using var conv = torch.nn.Conv2d(1, 4, 3);
        Assert.ThrowsExactly<ArgumentException>(() => conv.forward(torch.rand([2, 3, 8, 8])));
        // The process goes on working after failures.
        for (int i = 0; i < 100; i++) Assert.ThrowsExactly<ExternalException>(() => torch.rand([2, 2]).view(3));
        Assert.AreEqual(2f, torch.ones([2]).sum().item<float>());
    }

    [TestMethod]
    public void DoubleBackwardNeedsRetainGraphExplicitly()
    {
        // PyTorch's retain_graph defaults to create_graph; TorchSharp's defaults to false. The gradient penalty
        // (GradientPenalty) therefore passes both: without retain_graph the later backward fails.
        using var scope = torch.NewDisposeScope();
        using var w = torch.nn.Linear(3, 1);
        var x = torch.rand([4, 3]).requires_grad_();
        var y = w.forward(x).tanh().sum();
        var g = torch.autograd.grad([y], [x], create_graph: true)[0];
        var ex = Assert.ThrowsExactly<ExternalException>(() => (g.square().sum() + y).backward());
        StringAssert.Contains(ex.Message, "second time");

        var y2 = w.forward(x).tanh().sum();
        var g2 = torch.autograd.grad([y2], [x], retain_graph: true, create_graph: true)[0];
        (g2.square().sum() + y2).backward();
        Assert.IsNotNull(w.weight!.grad);
    }
}

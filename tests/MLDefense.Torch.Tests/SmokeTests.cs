using MLDefense.Torch.Modules;
using F = MLDefense.Torch.torch.nn.functional;

namespace MLDefense.Torch.Tests;

[TestClass]
public sealed class SmokeTests
{
    [TestMethod]
    public void ArithmeticMatchesHandComputedValues()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.tensor(new float[] { 1, 2, 3, 4 }, [2, 2]);
        var b = torch.tensor(new float[] { 10, 20 }, [2]);
        var c = (a + b) * 2 - 1;
        CollectionAssert.AreEqual(new float[] { 21, 43, 25, 47 }, c.data<float>());
        Assert.AreEqual(136f, c.sum().item<float>());
        CollectionAssert.AreEqual(new long[] { 2, 2 }, c.shape);
    }

    [TestMethod]
    public void ConvNetForwardAndBackwardRun()
    {
        torch.manual_seed(1);
        using var scope = torch.NewDisposeScope();
        using var net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * 13 * 13, 10));
        var x = torch.rand([8, 1, 28, 28]);
        var y = torch.randint(0, 10, [8]);
        var loss = F.cross_entropy(net.forward(x), y);
        loss.backward();
        foreach (var (name, p) in net.named_parameters())
            Assert.IsNotNull(p.grad, name);
        Assert.AreEqual(4, net.named_parameters().Count());
        Assert.AreEqual("0.weight", net.named_parameters().First().name);
    }
}

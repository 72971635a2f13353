using F = MLDefense.Torch.torch.nn.functional;

namespace MLDefense.Torch.Tests;

[TestClass]
public sealed class ErrorTests
{
    [TestMethod]
    public void ConvWithMismatchedChannelsRaisesReadableError()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.rand([2, 3, 8, 8]);
        var w = torch.rand([4, 1, 3, 3]);
        var ex = Assert.ThrowsExactly<TorchException>(() => F.conv2d(x, w));
        Assert.AreEqual("conv2d", ex.Operation);
        StringAssert.Contains(ex.Message, "channels");
        Assert.IsFalse(ex.Message.Contains("Exception raised from"), "the C++ backtrace must not leak into the message");
        // The process and the binding go on working.
        Assert.AreEqual(4, F.conv2d(x, torch.rand([4, 3, 3, 3])).size(1));
    }

    [TestMethod]
    public void MatmulWithBadShapesNamesTheShapes()
    {
        using var scope = torch.NewDisposeScope();
        var ex = Assert.ThrowsExactly<TorchException>(() => torch.rand([2, 3]).matmul(torch.rand([4, 5])));
        StringAssert.Contains(ex.Message, "matmul");
        StringAssert.Contains(ex.Message, "2x3");
        StringAssert.Contains(ex.Message, "4x5");
    }

    [TestMethod]
    public void OutOfRangeIndexRaises()
    {
        using var scope = torch.NewDisposeScope();
        var t = torch.arange(10);
        var ex = Assert.ThrowsExactly<TorchException>(() => t.select(0, 10));
        StringAssert.Contains(ex.Message, "out of range");
        Assert.ThrowsExactly<TorchException>(() => t.index_select(0, torch.tensor(new long[] { 3, 42 })));
        Assert.ThrowsExactly<TorchException>(() => F.cross_entropy(torch.rand([2, 3]), torch.tensor(new long[] { 0, 3 })));
    }

    [TestMethod]
    public void ManyFailuresInARowKeepTheProcessHealthy()
    {
        for (int i = 0; i < 200; i++)
        {
            using var scope = torch.NewDisposeScope();
            Assert.ThrowsExactly<TorchException>(() => torch.rand([2, 2]).view(3));
        }
        using var ok = torch.ones([2]);
        Assert.AreEqual(2f, ok.sum().item<float>());
    }

    [TestMethod]
    public void ErrorsOnOneThreadDoNotLeakToAnother()
    {
        string? otherThreadError = null;
        var t = new Thread(() =>
        {
            try { using var _ = torch.rand([2]).matmul(torch.rand([3])); }
            catch (TorchException e) { otherThreadError = e.Message; }
        });
        t.Start();
        t.Join();
        Assert.IsNotNull(otherThreadError);
        using var fine = torch.rand([3]).add(1);
        Assert.AreEqual(3, fine.numel());
    }

    [TestMethod]
    public void ManagedArgumentChecksFailBeforeNativeCalls()
    {
        Assert.ThrowsExactly<ArgumentException>(() => torch.tensor(new float[] { 1, 2, 3 }, [2, 2]));
        Assert.ThrowsExactly<ArgumentException>(() => torch.zeros([-1, 2]));
        using var f = torch.ones([2]);
        Assert.ThrowsExactly<InvalidOperationException>(() => f.data<double>());
        Assert.ThrowsExactly<ArgumentException>(() => Device.Parse("gpu"));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => torch.nn.Dropout(1.5));
        Assert.ThrowsExactly<ArgumentException>(() => f.clamp());
    }

    [TestMethod]
    public void CudaRequestWorksWithCudaAndRaisesWithout()
    {
        if (torch.cuda.is_available())
        {
            using var onGpu = torch.zeros([2], device: Device.CUDA());
            Assert.IsTrue(onGpu.device.IsCuda);
            return;
        }
        var ex = Assert.ThrowsExactly<TorchException>(() => torch.zeros([2], device: Device.CUDA()));
        Assert.IsTrue(ex.Message.Length > 0);
    }
}

using F = MLDefense.Torch.torch.nn.functional;

namespace MLDefense.Torch.Tests;

[TestClass]
public sealed class LifetimeTests
{
    // Collect first: tensors other tests left to the finalizer must not be freed while we count.
    private static (long Native, long Handles) Live()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return (torch.LiveNativeTensors, torch.LiveTensorHandles);
    }

    [TestMethod]
    public void TenThousandTrainingStepsLeaveNoHandleBehind()
    {
        torch.manual_seed(7);
        using var net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 3, 3), torch.nn.Dropout(0.1));
        using var optimizer = torch.optim.Adam(net.parameters(), lr: 1e-3);
        using var x = torch.rand([4, 1, 8, 8]);
        using var y = torch.randint(0, 3, [4]);

        // One step first, so lazily created optimiser state (Adam's moments) and gradients exist before counting.
        Step();
        var before = Live();
        for (int i = 0; i < 10_000; i++) Step();
        var after = Live();

        Assert.AreEqual(before, after, "Live (native, managed) handle counts changed over 10,000 steps");

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
    public void DisposeScopeFreesTemporariesButKeepsWhatIsMovedOut()
    {
        var before = Live();
        Tensor kept;
        using (var scope = torch.NewDisposeScope())
        {
            var a = torch.ones([3]);
            var b = a * 2 + 1;
            kept = scope.MoveToOuter(b.sum());
            Assert.AreEqual(3, scope.Count);
            Assert.IsFalse(a.IsDisposed);
        }
        Assert.AreEqual(before.Handles + 1, Live().Handles);
        Assert.AreEqual(9f, kept.item<float>());
        kept.Dispose();
        Assert.AreEqual(before, Live());
    }

    [TestMethod]
    public void NestedScopesReleaseInnermostFirstAndMoveOneLevelOut()
    {
        using var outer = torch.NewDisposeScope();
        Tensor moved;
        Tensor inner1;
        using (var inner = torch.NewDisposeScope())
        {
            inner1 = torch.zeros([2]);
            moved = inner.MoveToOuter(torch.ones([2]));
        }
        Assert.IsTrue(inner1.IsDisposed);
        Assert.IsFalse(moved.IsDisposed);
        Assert.AreEqual(1, outer.Count);
        outer.Dispose();
        Assert.IsTrue(moved.IsDisposed);
    }

    [TestMethod]
    public void DisposedTensorThrowsObjectDisposedException()
    {
        var t = torch.ones([2, 2]);
        t.Dispose();
        t.Dispose(); // idempotent
        Assert.ThrowsExactly<ObjectDisposedException>(() => t.sum());
        Assert.ThrowsExactly<ObjectDisposedException>(() => _ = t.shape);
        using var other = torch.ones([2, 2]);
        Assert.ThrowsExactly<ObjectDisposedException>(() => other.add(t));
        Assert.ThrowsExactly<ObjectDisposedException>(() => torch.cat([other, t]));
    }

    [TestMethod]
    public void ModuleDisposeFreesItsParametersAndBuffers()
    {
        var before = Live();
        var bn = torch.nn.BatchNorm2d(3);
        Assert.AreEqual(before.Native + 5, Live().Native, "weight, bias, running_mean, running_var, num_batches_tracked");
        bn.Dispose();
        Assert.AreEqual(before, Live());
    }

    [TestMethod]
    public void ScopesArePerThread()
    {
        using var scope = torch.NewDisposeScope();
        Tensor? fromOtherThread = null;
        var thread = new Thread(() => fromOtherThread = torch.ones([1]));
        thread.Start();
        thread.Join();
        scope.Dispose();
        Assert.IsNotNull(fromOtherThread);
        Assert.IsFalse(fromOtherThread.IsDisposed, "a tensor created on another thread does not belong to this thread's scope");
        fromOtherThread.Dispose();
    }
}

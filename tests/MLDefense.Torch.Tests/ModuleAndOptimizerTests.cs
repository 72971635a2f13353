using MLDefense.Torch.Modules;
using F = MLDefense.Torch.torch.nn.functional;

namespace MLDefense.Torch.Tests;

[TestClass]
public sealed class ModuleAndOptimizerTests
{
    private sealed class TwoLayer : Module<Tensor, Tensor>
    {
        public readonly Linear fc1, fc2;
        public TwoLayer()
        {
            fc1 = register_module("fc1", torch.nn.Linear(3, 5));
            fc2 = register_module("fc2", torch.nn.Linear(5, 2, bias: false));
        }
        public override Tensor forward(Tensor input)
        {
            using var h = fc1.forward(input);
            using var r = h.relu();
            return fc2.forward(r);
        }
    }

    [TestMethod]
    public void NamedParametersFollowPyTorchNaming()
    {
        using var m = new TwoLayer();
        CollectionAssert.AreEqual(new[] { "fc1.weight", "fc1.bias", "fc2.weight" }, m.named_parameters().Select(p => p.name).ToArray());
        CollectionAssert.AreEqual(new long[] { 5, 3 }, m.fc1.weight.shape);
        Assert.IsTrue(m.parameters().All(p => p.requires_grad && p.is_leaf));
    }

    [TestMethod]
    public void DefaultInitialisationHasPyTorchBounds()
    {
        torch.manual_seed(0);
        using var conv = torch.nn.Conv2d(16, 8, 3);
        double bound = 1 / Math.Sqrt(16 * 9);
        var w = conv.weight.data<float>();
        Assert.IsTrue(w.All(v => Math.Abs(v) <= bound + 1e-7), "kaiming_uniform(a=√5) bound is 1/√fan_in");
        Assert.IsTrue(w.Max() > 0.8 * bound && w.Min() < -0.8 * bound, "the range is actually used");
        using var convT = torch.nn.ConvTranspose2d(4, 6, 3);
        CollectionAssert.AreEqual(new long[] { 4, 6, 3, 3 }, convT.weight.shape);
        double boundT = 1 / Math.Sqrt(6 * 9);
        Assert.IsTrue(convT.weight.data<float>().All(v => Math.Abs(v) <= boundT + 1e-7), "fan_in of a transposed conv uses dim 1");
    }

    [TestMethod]
    public void XavierAndKaimingHaveTheirVariances()
    {
        torch.manual_seed(0);
        using var w = torch.empty([400, 600]);
        torch.nn.init.xavier_normal_(w);
        double expectedStd = Math.Sqrt(2.0 / 1000);
        using (var std = w.std()) Assert.AreEqual(expectedStd, std.item<double>(), expectedStd * 0.02);
        torch.nn.init.kaiming_normal_(w, nonlinearity: torch.nn.init.NonLinearity.ReLU);
        using (var std = w.std()) Assert.AreEqual(Math.Sqrt(2.0 / 600), std.item<double>(), 0.02 * Math.Sqrt(2.0 / 600));
    }

    [TestMethod]
    public void TrainEvalSwitchesDropoutAndBatchNorm()
    {
        torch.manual_seed(0);
        using var bn = torch.nn.BatchNorm1d(2);
        using var x = torch.tensor(new float[] { 1, 10, 3, 20 }, [2, 2]);
        using (var y = bn.forward(x)) { }
        CollectionAssert.AreEqual(new float[] { 0.2f, 1.5f }, bn.running_mean!.data<float>(), "running = 0.9·0 + 0.1·batch mean");
        Assert.AreEqual(1L, bn.num_batches_tracked!.item<long>());
        bn.eval();
        using (var y = bn.forward(x)) { }
        Assert.AreEqual(1L, bn.num_batches_tracked!.item<long>(), "eval does not update statistics");

        using var drop = torch.nn.Dropout(0.5);
        using var ones = torch.ones([1000]);
        using (var y = drop.forward(ones)) Assert.IsTrue(y.data<float>().Any(v => v == 0));
        drop.eval();
        using (var y = drop.forward(ones)) Assert.IsTrue(y.data<float>().All(v => v == 1));
    }

    [TestMethod]
    public void BatchNormWithoutMomentumKeepsTheCumulativeAverageSinceAReset()
    {
        using var bn = torch.nn.BatchNorm1d(1);
        using (var warm = torch.tensor(new float[] { 100, 300 }, [2, 1]))
        using (var y = bn.forward(warm)) { }
        bn.reset_running_stats();
        Assert.AreEqual(0f, bn.running_mean!.data<float>()[0]);
        Assert.AreEqual(1f, bn.running_var!.data<float>()[0]);
        Assert.AreEqual(0L, bn.num_batches_tracked!.item<long>());

        bn.momentum = null;
        // Batch means 2, 4, 9 and unbiased variances 2, 8, 2: PyTorch's momentum=None gives their plain averages.
        foreach (var batch in new[] { new float[] { 1, 3 }, new float[] { 2, 6 }, new float[] { 8, 10 } })
        {
            using var x = torch.tensor(batch, [2, 1]);
            using var y = bn.forward(x);
        }
        Assert.AreEqual(5f, bn.running_mean.data<float>()[0], 1e-5f);
        Assert.AreEqual(4f, bn.running_var.data<float>()[0], 1e-5f);
        Assert.AreEqual(3L, bn.num_batches_tracked.item<long>());

        bn.momentum = 0.1;
        using (var x = torch.tensor(new float[] { 15, 15 }, [2, 1]))
        using (var y = bn.forward(x)) { }
        Assert.AreEqual(0.9f * 5 + 0.1f * 15, bn.running_mean.data<float>()[0], 1e-5f, "a momentum set back weighs the next batch by it");
    }

    [TestMethod]
    public void AdamFitsALinearRegression()
    {
        torch.manual_seed(5);
        using var model = torch.nn.Linear(3, 1);
        using var optimizer = torch.optim.Adam(model.parameters(), lr: 0.05);
        using var x = torch.randn([256, 3]);
        using var trueW = torch.tensor(new float[] { 2, -1, 0.5f }, [3, 1]);
        using var y = x.matmul(trueW) + 0.3;
        double loss = 0;
        for (int i = 0; i < 400; i++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var l = F.mse_loss(model.forward(x), y);
            l.backward();
            optimizer.step();
            loss = l.item<double>();
        }
        Assert.IsTrue(loss < 1e-4, $"final loss {loss}");
        var w = model.weight.data<float>();
        Assert.AreEqual(2, w[0], 0.01);
        Assert.AreEqual(-1, w[1], 0.01);
        Assert.AreEqual(0.3, model.bias!.item<float>(), 0.01);
    }

    [TestMethod]
    public void SchedulersFollowTheirClosedForms()
    {
        using var p = torch.zeros([1], requires_grad: true);
        using var opt = torch.optim.SGD([p], lr: 1.0);
        var step = torch.optim.lr_scheduler.StepLR(opt, step_size: 2, gamma: 0.5);
        var rates = Enumerable.Range(0, 5).Select(_ => { step.step(); return opt.LearningRate; }).ToArray();
        CollectionAssert.AreEqual(new[] { 1.0, 0.5, 0.5, 0.25, 0.25 }, rates);

        using var opt2 = torch.optim.Adam([p], lr: 0.1);
        var multi = torch.optim.lr_scheduler.MultiStepLR(opt2, [1, 3], gamma: 0.1);
        multi.step(); Assert.AreEqual(0.01, opt2.LearningRate, 1e-12);
        multi.step(); multi.step(); Assert.AreEqual(0.001, opt2.LearningRate, 1e-12);

        using var opt3 = torch.optim.AdamW([p], lr: 1.0);
        var cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt3, T_max: 4, eta_min: 0.1);
        cosine.step(); cosine.step();
        Assert.AreEqual(0.55, opt3.LearningRate, 1e-12, "half way: (1 + 0.1) / 2");
        cosine.step(); cosine.step();
        Assert.AreEqual(0.1, opt3.LearningRate, 1e-12);
    }

    [TestMethod]
    public void ClipGradNormScalesToTheLimit()
    {
        using var p = torch.zeros([2], requires_grad: true);
        using (var g = torch.tensor(new float[] { 3, 4 })) p.grad = g;
        double before = torch.nn.utils.clip_grad_norm_([p], max_norm: 1.0);
        Assert.AreEqual(5.0, before, 1e-6);
        using var clipped = p.grad!;
        CollectionAssert.AreEqual(new[] { 0.6f, 0.8f }, clipped.data<float>().Select(v => MathF.Round(v, 5)).ToArray());
    }

    [TestMethod]
    public void GradModesAreScopedAndRestored()
    {
        Assert.IsTrue(torch.is_grad_enabled());
        using var w = torch.ones([2], requires_grad: true);
        using (torch.no_grad())
        {
            Assert.IsFalse(torch.is_grad_enabled());
            using var y = w * 2;
            Assert.IsFalse(y.requires_grad);
            using (torch.enable_grad())
            {
                using var z = w * 2;
                Assert.IsTrue(z.requires_grad);
            }
            Assert.IsFalse(torch.is_grad_enabled());
        }
        Assert.IsTrue(torch.is_grad_enabled());
        using (torch.inference_mode())
        {
            using var y = w * 2;
            Assert.IsFalse(y.requires_grad);
        }
        using var after = w * 2;
        Assert.IsTrue(after.requires_grad);
    }

    [TestMethod]
    public void ModuleMovesAndConvertsInPlaceKeepingHandles()
    {
        using var lin = torch.nn.Linear(2, 2);
        var weight = lin.weight;
        lin.to(ScalarType.Float64);
        Assert.AreSame(weight, lin.weight);
        Assert.AreEqual(ScalarType.Float64, lin.weight.dtype);
        Assert.IsTrue(lin.weight.requires_grad);
        using var x = torch.ones([1, 2], ScalarType.Float64);
        using var y = lin.forward(x);
        Assert.AreEqual(ScalarType.Float64, y.dtype);
        lin.to(Device.CPU);
        Assert.AreEqual(Device.CPU.Type, lin.weight.device.Type);
    }
}

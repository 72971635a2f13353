using F = MLDefense.Torch.torch.nn.functional;

namespace MLDefense.Torch.Tests;

/// <summary>
/// Finite-difference gradient checking in float64: autograd's gradient of L = sum(f(inputs) · w), w fixed random
/// weights (so no symmetric cancellation hides an error), against the central difference (L(x + ε) − L(x − ε)) / 2ε
/// of every element of every checked input. Independent of PyTorch: it tests the binding's backward passes
/// against its own forward passes.
/// </summary>
internal static class GradCheck
{
    /// <summary>Checks the gradients w.r.t. the inputs listed in <paramref name="wrt"/>; returns the number of elements checked.</summary>
    public static int Check(string name, Func<Tensor[], Tensor> f, Tensor[] inputs, int[] wrt, double eps = 1e-6, double atol = 1e-6, double rtol = 1e-5)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var i in wrt)
            Assert.AreEqual(ScalarType.Float64, inputs[i].dtype, $"{name}: gradcheck needs float64 inputs (input {i})");

        var leaves = inputs.Select((t, i) => wrt.Contains(i) ? t.detach().clone().requires_grad_() : t).ToArray();
        var output = f(leaves);
        torch.manual_seed(20240611);
        var w = torch.randn(output.shape, ScalarType.Float64);
        var loss = (output * w).sum();
        var analytic = torch.autograd.grad([loss], wrt.Select(i => leaves[i]).ToList(), allow_unused: true);

        double Loss(Tensor[] xs)
        {
            using var inner = torch.NewDisposeScope();
            return (f(xs) * w).sum().item<double>();
        }

        int checkedElements = 0;
        double largest = 0;
        for (int k = 0; k < wrt.Length; k++)
        {
            int i = wrt[k];
            var shape = inputs[i].shape;
            var x = Approx.Values(inputs[i].contiguous());
            var a = analytic[k] is { } g ? Approx.Values(g) : new double[x.Length];
            var xs = (Tensor[])inputs.Clone();
            for (int j = 0; j < x.Length; j++)
            {
                double original = x[j], lp, lm;
                x[j] = original + eps;
                using (var plus = torch.tensor(x, shape)) { xs[i] = plus; lp = Loss(xs); }
                x[j] = original - eps;
                using (var minus = torch.tensor(x, shape)) { xs[i] = minus; lm = Loss(xs); }
                x[j] = original;
                double numeric = (lp - lm) / (2 * eps);
                if (!(Math.Abs(a[j] - numeric) <= atol + rtol * Math.Abs(numeric)))
                    throw new AssertFailedException($"{name}: dL/d input{i}[{j}] is {a[j]:R} by autograd but {numeric:R} by central differences (|diff| {Math.Abs(a[j] - numeric):E2})");
                largest = Math.Max(largest, Math.Abs(a[j]));
                checkedElements++;
            }
        }
        // A check that compares zeros with zeros proves nothing.
        Assert.IsTrue(largest > 1e-3, $"{name}: every gradient is (nearly) zero; the check would be vacuous");
        return checkedElements;
    }
}

[TestClass]
public sealed class GradCheckTests
{
    private static Tensor Randn(params long[] shape) => torch.randn(shape, ScalarType.Float64);
    private static Tensor Rand(params long[] shape) => torch.rand(shape, ScalarType.Float64);

    [TestMethod]
    public void HelperDetectsAWrongGradient()
    {
        torch.manual_seed(1);
        using var scope = torch.NewDisposeScope();
        var x = Randn(3, 4);
        // x² is right; x·detach(x) has autograd gradient x where the true one is 2x.
        GradCheck.Check("square", t => t[0] * t[0], [x], [0]);
        var ex = Assert.ThrowsExactly<AssertFailedException>(() => GradCheck.Check("detached", t => t[0] * t[0].detach(), [x], [0]));
        StringAssert.Contains(ex.Message, "central differences");
        // All-zero gradients are reported as vacuous rather than as a pass.
        Assert.ThrowsExactly<AssertFailedException>(() => GradCheck.Check("zero", t => t[0] * 0.0, [x], [0]));
    }

    [TestMethod]
    public void Conv2d()
    {
        torch.manual_seed(2);
        using var scope = torch.NewDisposeScope();
        GradCheck.Check("conv2d stride 2 padding 1", t => F.conv2d(t[0], t[1], t[2], stride: [2], padding: [1]),
                        [Randn(2, 3, 5, 5), Randn(4, 3, 3, 3), Randn(4)], [0, 1, 2]);
        GradCheck.Check("conv2d groups 2 dilation 2", t => F.conv2d(t[0], t[1], groups: 2, dilation: [2], padding: [1, 0]),
                        [Randn(1, 4, 6, 5), Randn(4, 2, 2, 2)], [0, 1]);
    }

    [TestMethod]
    public void ConvTranspose2d()
    {
        torch.manual_seed(3);
        using var scope = torch.NewDisposeScope();
        GradCheck.Check("conv_transpose2d stride 2 output_padding 1",
                        t => F.conv_transpose2d(t[0], t[1], t[2], stride: [2], padding: [1], output_padding: [1]),
                        [Randn(2, 2, 3, 3), Randn(2, 3, 3, 3), Randn(3)], [0, 1, 2]);
        GradCheck.Check("conv_transpose2d groups 2", t => F.conv_transpose2d(t[0], t[1], stride: [1, 2], groups: 2),
                        [Randn(1, 4, 3, 2), Randn(4, 1, 2, 3)], [0, 1]);
    }

    [TestMethod]
    public void BatchNormTraining()
    {
        torch.manual_seed(4);
        using var scope = torch.NewDisposeScope();
        // Fresh running statistics at every evaluation: training mode updates them in place.
        GradCheck.Check("batch_norm training 4-D", t => F.batch_norm(t[0], torch.zeros([3], ScalarType.Float64), torch.ones([3], ScalarType.Float64),
                                                                      t[1], t[2], training: true, momentum: 0.1, eps: 1e-5),
                        [Randn(4, 3, 2, 3) * 2 + 1, Randn(3), Randn(3)], [0, 1, 2]);
        GradCheck.Check("batch_norm training 2-D no stats", t => F.batch_norm(t[0], null, null, t[1], t[2], training: true),
                        [Randn(5, 4), Randn(4), Randn(4)], [0, 1, 2]);
    }

    [TestMethod]
    public void MaxPool2d()
    {
        torch.manual_seed(5);
        using var scope = torch.NewDisposeScope();
        GradCheck.Check("max_pool2d k3 s2 p1", t => F.max_pool2d(t[0], [3], stride: [2], padding: [1]), [Randn(2, 2, 6, 5)], [0]);
        GradCheck.Check("max_pool2d k2 ceil", t => F.max_pool2d(t[0], [2], ceil_mode: true), [Randn(1, 2, 5, 5)], [0]);
    }

    [TestMethod]
    public void AvgPool2d()
    {
        torch.manual_seed(6);
        using var scope = torch.NewDisposeScope();
        GradCheck.Check("avg_pool2d k3 s2 p1", t => F.avg_pool2d(t[0], [3], stride: [2], padding: [1]), [Randn(2, 2, 6, 5)], [0]);
        GradCheck.Check("avg_pool2d exclude pad, ceil", t => F.avg_pool2d(t[0], [3], stride: [2], padding: [1], ceil_mode: true, count_include_pad: false),
                        [Randn(1, 2, 6, 6)], [0]);
    }

    [TestMethod]
    public void InterpolateBilinear()
    {
        torch.manual_seed(7);
        using var scope = torch.NewDisposeScope();
        GradCheck.Check("bilinear up", t => F.interpolate(t[0], size: [5, 7], mode: InterpolationMode.Bilinear), [Randn(1, 2, 3, 4)], [0]);
        GradCheck.Check("bilinear up align_corners", t => F.interpolate(t[0], size: [5, 7], mode: InterpolationMode.Bilinear, align_corners: true),
                        [Randn(1, 2, 3, 4)], [0]);
        GradCheck.Check("bilinear down by scale", t => F.interpolate(t[0], scale_factor: [0.6], mode: InterpolationMode.Bilinear), [Randn(1, 2, 5, 6)], [0]);
    }

    [TestMethod]
    public void CrossEntropy()
    {
        torch.manual_seed(8);
        using var scope = torch.NewDisposeScope();
        var target = torch.tensor(new long[] { 0, 3, 1, 1, 2 });
        GradCheck.Check("cross_entropy", t => F.cross_entropy(t[0], t[1]), [Randn(5, 4) * 2, target], [0]);
        GradCheck.Check("cross_entropy weight + label_smoothing", t => F.cross_entropy(t[0], t[1], weight: t[2], label_smoothing: 0.15),
                        [Randn(5, 4) * 2, target, Rand(4) + 0.5], [0]);
        GradCheck.Check("cross_entropy sum", t => F.cross_entropy(t[0], t[1], reduction: Reduction.Sum), [Randn(5, 4), target], [0]);
    }

    [TestMethod]
    public void MseLoss()
    {
        torch.manual_seed(9);
        using var scope = torch.NewDisposeScope();
        GradCheck.Check("mse_loss", t => F.mse_loss(t[0], t[1]), [Randn(4, 3), Randn(4, 3)], [0, 1]);
        GradCheck.Check("mse_loss none", t => F.mse_loss(t[0], t[1], Reduction.None), [Randn(4, 3), Randn(4, 3)], [0, 1]);
    }

    [TestMethod]
    public void BinaryCrossEntropyWithLogits()
    {
        torch.manual_seed(10);
        using var scope = torch.NewDisposeScope();
        GradCheck.Check("bce_with_logits", t => F.binary_cross_entropy_with_logits(t[0], t[1]), [Randn(4, 3) * 3, Rand(4, 3)], [0, 1]);
        GradCheck.Check("bce_with_logits weight + pos_weight", t => F.binary_cross_entropy_with_logits(t[0], t[1], weight: t[2], pos_weight: t[3]),
                        [Randn(4, 3) * 3, Rand(4, 3), Rand(4, 1) + 0.5, Rand(3) * 2 + 0.5], [0, 1]);
    }

    [TestMethod]
    public void KlDiv()
    {
        torch.manual_seed(11);
        using var scope = torch.NewDisposeScope();
        var logq = Randn(4, 5).log_softmax(1);
        var p = Randn(4, 5).softmax(1);
        GradCheck.Check("kl_div batchmean", t => F.kl_div(t[0], t[1], Reduction.BatchMean), [logq, p], [0, 1]);
        GradCheck.Check("kl_div log_target sum", t => F.kl_div(t[0], t[1], Reduction.Sum, log_target: true), [logq, p.log()], [0, 1]);
    }
}

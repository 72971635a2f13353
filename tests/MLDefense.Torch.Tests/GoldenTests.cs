using MLDefense.Torch.Optim;
using F = MLDefense.Torch.torch.nn.functional;

namespace MLDefense.Torch.Tests;

/// <summary>
/// MLDefense against PyTorch 1.13 on fixed inputs: outputs and input gradients of every op family the binding
/// exposes (fixtures/golden_*.safetensors, written by fixtures/make_golden.py). Tolerances: see <see cref="Approx"/>.
/// </summary>
[TestClass]
public sealed class GoldenTests
{
    private static readonly double Inf = double.PositiveInfinity;

    private static void Check(string family, Action<GoldenFixture> cases, int minGradients)
    {
        using var g = new GoldenFixture(family);
        cases(g);
        g.Verify();
        Assert.IsTrue(g.GradientsChecked >= minGradients, $"{family}: only {g.GradientsChecked} gradients were compared, expected at least {minGradients}");
    }

    [TestMethod]
    public void Elementwise() => Check("elementwise", g =>
    {
        g.Case("add_broadcast", x => x[0] + x[1]);
        g.Case("add_alpha", x => x[0].add(x[1], alpha: -2.5));
        g.Case("sub_broadcast", x => x[0] - x[1]);
        g.Case("mul_broadcast", x => x[0] * x[1]);
        g.Case("div_broadcast", x => x[0] / x[1]);
        g.Case("add_scalar", x => x[0] + 1.75);
        g.Case("sub_scalar", x => x[0] - 0.5);
        g.Case("rsub_scalar", x => 2.0 - x[0]);
        g.Case("mul_scalar", x => x[0] * -3.0);
        g.Case("div_scalar", x => x[0] / 7.0);
        g.Case("rdiv_scalar", x => 3.0 / x[0]);
        g.Case("neg", x => -x[0]);
        g.Case("abs", x => x[0].abs());
        g.Case("sign", x => x[0].sign());
        g.Case("exp", x => x[0].exp());
        g.Case("log", x => x[0].log());
        g.Case("log1p", x => x[0].log1p());
        g.Case("sqrt", x => x[0].sqrt());
        g.Case("rsqrt", x => x[0].rsqrt());
        g.Case("square", x => x[0].square());
        g.Case("reciprocal", x => x[0].reciprocal());
        g.Case("sin", x => x[0].sin());
        g.Case("cos", x => x[0].cos());
        g.Case("floor", x => x[0].floor());
        g.Case("ceil", x => x[0].ceil());
        g.Case("round", x => x[0].round());
        g.Case("pow_scalar_int", x => x[0].pow(3.0));
        g.Case("pow_scalar_frac", x => x[0].pow(0.7));
        g.Case("pow_tensor", x => x[0].pow(x[1]));
        g.Case("scalar_pow", x => torch.pow(2.0, x[0]));
        g.Case("clamp_both", x => x[0].clamp(-0.5, 0.8));
        g.Case("clamp_min", x => x[0].clamp(min: -0.3));
        g.Case("clamp_max", x => x[0].clamp(max: 0.2));
        g.Case("clamp_tensor", x => x[0].clamp(x[1], x[2]));
        g.Case("clamp_tensor_min", x => x[0].clamp(x[1], null));
        g.Case("maximum", x => torch.maximum(x[0], x[1]));
        g.Case("minimum", x => torch.minimum(x[0], x[1]));
        g.Case("where", x => torch.where(x[0], x[1], x[2]));
        g.Case("f32_add_broadcast", x => x[0] + x[1]);
        g.Case("f32_exp_mul", x => x[0].exp() * x[1]);
        g.Case("i64_add_scalar", x => x[0] + 1);
        g.Case("i64_mul_scalar", x => x[0] * 3);
        g.Case("i64_clamp_int", x => x[0].clamp(0, 3));
        g.Case("i64_clamp_frac", x => x[0].clamp(min: 0.5));
    }, minGradients: 50);

    [TestMethod]
    public void ComparisonsAndLogic() => Check("compare", g =>
    {
        g.Case("eq", x => x[0].eq(x[1]));
        g.Case("ne", x => x[0].ne(x[1]));
        g.Case("lt", x => x[0].lt(x[1]));
        g.Case("le", x => x[0].le(x[1]));
        g.Case("gt", x => x[0].gt(x[1]));
        g.Case("ge", x => x[0].ge(x[1]));
        g.Case("eq_scalar", x => x[0].eq(1.0));
        g.Case("ne_scalar", x => x[0].ne(1.0));
        g.Case("lt_scalar", x => x[0].lt(1.0));
        g.Case("le_scalar", x => x[0].le(1.0));
        g.Case("gt_scalar", x => x[0].gt(1.0));
        g.Case("ge_scalar", x => x[0].ge(1.0));
        g.Case("logical_and", x => x[0].logical_and(x[1]));
        g.Case("logical_or", x => x[0].logical_or(x[1]));
        g.Case("logical_xor", x => x[0].logical_xor(x[1]));
        g.Case("logical_not", x => x[0].logical_not());
        g.Case("isnan", x => x[0].isnan());
        g.Case("isfinite", x => x[0].isfinite());
        g.Case("any_true", x => x[0].any());
        g.Case("any_false", x => x[0].any());
        g.Case("all_true", x => x[0].all());
        g.Case("all_false", x => x[0].all());
        g.Case("i64_eq", x => x[0].eq(x[1]));
    }, minGradients: 0);

    [TestMethod]
    public void Reductions() => Check("reduce", g =>
    {
        g.Case("sum_all", x => x[0].sum());
        g.Case("sum_dim1", x => x[0].sum(1));
        g.Case("sum_dims_keepdim", x => x[0].sum([0, 2], keepdim: true));
        g.Case("sum_neg_dim", x => x[0].sum(-1));
        g.Case("mean_all", x => x[0].mean());
        g.Case("mean_dim0", x => x[0].mean(0));
        g.Case("mean_dims_keepdim", x => x[0].mean([1, 2], keepdim: true));
        g.Case("var_all_unbiased", x => x[0].var());
        g.Case("var_all_biased", x => x[0].var(unbiased: false));
        g.Case("var_dim_unbiased", x => x[0].var([1]));
        g.Case("var_dims_biased_keepdim", x => x[0].var([0, 2], unbiased: false, keepdim: true));
        g.Case("std_all_unbiased", x => x[0].std());
        g.Case("std_all_biased", x => x[0].std(unbiased: false));
        g.Case("std_dim_unbiased_keepdim", x => x[0].std([2], keepdim: true));
        g.Case("std_dims_biased", x => x[0].std([0, 1], unbiased: false));
        g.Case("max_all", x => x[0].max());
        g.Case("min_all", x => x[0].min());
        g.Cases("max_dim", x => { var (v, i) = x[0].max(1); return [v, i]; });
        g.Cases("max_dim_keepdim", x => { var (v, i) = x[0].max(2, keepdim: true); return [v, i]; });
        g.Cases("min_dim", x => { var (v, i) = x[0].min(0); return [v, i]; });
        g.Case("argmax_dim", x => x[0].argmax(1));
        g.Case("argmax_dim_keepdim", x => x[0].argmax(2, keepdim: true));
        g.Case("argmax_flat", x => x[0].argmax());
        g.Case("argmin_dim", x => x[0].argmin(0));
        g.Case("argmin_flat", x => x[0].argmin());
        g.Case("argmax_flat_keepdim", x => x[0].argmax(keepdim: true));
        g.Case("argmin_flat_keepdim", x => x[0].argmin(keepdim: true));
        g.Case("norm1_all", x => x[0].norm(1));
        g.Case("norm2_all", x => x[0].norm());
        g.Case("norminf_all", x => x[0].norm(Inf));
        g.Case("norm2_dim", x => x[0].norm(2, [2]));
        g.Case("norm1_dim_keepdim", x => x[0].norm(1, [1], keepdim: true));
        g.Case("norminf_dims", x => x[0].norm(Inf, [0, 2]));
        g.Case("norm2_all_keepdim", x => x[0].norm(keepdim: true));
        g.Case("norm1_all_keepdim", x => x[0].norm(1, keepdim: true));
        g.Case("norminf_all_keepdim", x => x[0].norm(Inf, keepdim: true));
        g.Case("var_all_keepdim", x => x[0].var(keepdim: true));
        g.Case("std_all_biased_keepdim", x => x[0].std(unbiased: false, keepdim: true));
        g.Case("logsumexp_dim", x => x[0].logsumexp(1));
        g.Case("logsumexp_dims_keepdim", x => x[0].logsumexp([0, 2], keepdim: true));
        g.Case("softmax_last", x => x[0].softmax(-1));
        g.Case("softmax_dim0", x => x[0].softmax(0));
        g.Case("log_softmax_last", x => x[0].log_softmax(-1));
        g.Case("log_softmax_dim1", x => F.log_softmax(x[0], 1));
        g.Cases("topk_largest", x => { var (v, i) = x[0].topk(3); return [v, i]; });
        g.Cases("topk_smallest_dim1", x => { var (v, i) = x[0].topk(2, dim: 1, largest: false); return [v, i]; });
        g.Case("cumsum", x => x[0].cumsum(1));
        g.Cases("f32_sum_mean", x => [x[0].sum(0), x[0].mean(1)]);
        g.Case("f32_softmax", x => F.softmax(x[0], -1));
    }, minGradients: 35);

    [TestMethod]
    public void LinearAlgebra() => Check("linalg", g =>
    {
        g.Case("matmul_2d", x => x[0].matmul(x[1]));
        g.Case("matmul_batched_broadcast", x => x[0].matmul(x[1]));
        g.Case("matmul_batch_both", x => torch.matmul(x[0], x[1]));
        g.Case("matmul_vec", x => x[0].matmul(x[1]));
        g.Case("mm", x => x[0].mm(x[1]));
        g.Case("bmm", x => torch.bmm(x[0], x[1]));
        g.Case("t", x => x[0].t());
        g.Case("f32_matmul", x => x[0].matmul(x[1]));
    }, minGradients: 15);

    [TestMethod]
    public void ShapeOps() => Check("shape", g =>
    {
        g.Case("reshape", x => x[0].reshape(4, -1));
        g.Case("reshape_noncontig", x => x[0].transpose(0, 2).reshape(-1, 6));
        g.Case("view", x => x[0].view(6, 4));
        g.Case("flatten", x => x[0].flatten(1));
        g.Case("permute", x => x[0].permute(2, 0, 1));
        g.Case("transpose", x => x[0].transpose(0, 2));
        g.Case("squeeze", x => x[0].squeeze());
        g.Case("squeeze_dim", x => x[0].squeeze(1));
        g.Case("unsqueeze", x => x[0].unsqueeze(1));
        g.Case("unsqueeze_neg", x => x[0].unsqueeze(-1));
        g.Case("expand", x => x[0].expand(2, 3, 4));
        g.Case("expand_keep", x => x[0].expand(5, -1, -1));
        g.Case("repeat", x => x[0].repeat(2, 1, 3));
        g.Case("cat_dim0", x => torch.cat([x[0], x[1]], 0));
        g.Case("cat_dim1", x => torch.cat(x, 1));
        g.Case("stack_dim0", x => torch.stack(x));
        g.Case("stack_dim2", x => torch.stack(x, 2));
        g.Cases("split_size", x => x[0].split(2, 1));
        g.Cases("split_sizes", x => x[0].split([1, 3, 1], 1));
        g.Cases("chunk", x => x[0].chunk(3, 0));
        g.Case("narrow", x => x[0].narrow(2, 1, 2));
        g.Case("select", x => x[0].select(1, 2));
        g.Case("select_neg", x => x[0].select(-1, -1));
        g.Case("index_select", x => x[0].index_select(1, x[1]));
        g.Case("gather", x => x[0].gather(1, x[1]));
        g.Case("scatter", x => x[0].scatter(1, x[1], x[2]));
        g.Case("masked_fill", x => x[0].masked_fill(x[1], -1.5));
        g.Case("masked_select", x => x[0].masked_select(x[1]));
        g.Case("flip", x => x[0].flip(0, 2));
        g.Case("pad_constant", x => F.pad(x[0], [1, 2, 0, 1], value: 0.75));
        g.Case("pad_constant_3d", x => F.pad(x[0], [2, 1]));
        g.Case("pad_reflect", x => F.pad(x[0], [1, 2, 2, 1], PaddingMode.Reflect));
        g.Case("pad_replicate", x => F.pad(x[0], [2, 0, 1, 3], PaddingMode.Replicate));
        g.Case("pad_circular", x => F.pad(x[0], [1, 1, 2, 0], PaddingMode.Circular));
        g.Case("one_hot", x => F.one_hot(x[0], 5));
        g.Case("one_hot_infer", x => F.one_hot(x[0]));
        g.Case("contiguous_clone", x => x[0].permute(1, 0, 2).contiguous().clone() * 2);
    }, minGradients: 35);

    [TestMethod]
    public void SplitWithSizesMustCoverTheDimension()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.arange(5, ScalarType.Float64);
        // PyTorch: x.split([2]) raises (split_with_sizes), x.split(2) gives three pieces.
        Assert.ThrowsExactly<ArgumentException>(() => x.split([2L], 0));
        Assert.ThrowsExactly<TorchException>(() => x.split([2L, 2L], 0));
        Assert.AreEqual(3, x.split(2, 0).Length);
        var whole = x.split([5L], 0);
        Assert.AreEqual(1, whole.Length);
        CollectionAssert.AreEqual(new double[] { 0, 1, 2, 3, 4 }, whole[0].data<double>());
    }

    [TestMethod]
    public void NeuralNetworkFunctions() => Check("nn", g =>
    {
        g.Case("conv2d_bias", x => F.conv2d(x[0], x[1], x[2]));
        g.Case("conv2d_stride_padding", x => F.conv2d(x[0], x[1], x[2], stride: [2], padding: [1]));
        g.Case("conv2d_dilation", x => F.conv2d(x[0], x[1], dilation: [2], padding: [1, 2]));
        g.Case("conv2d_groups", x => F.conv2d(x[0], x[1], x[2], groups: 2, stride: [1, 2]));
        g.Case("conv2d_depthwise", x => F.conv2d(x[0], x[1], groups: 4, padding: [1]));
        g.Case("f32_conv2d", x => F.conv2d(x[0], x[1], x[2], padding: [1]));
        g.Case("conv_transpose2d", x => F.conv_transpose2d(x[0], x[1], x[2]));
        g.Case("conv_transpose2d_stride_outpad", x => F.conv_transpose2d(x[0], x[1], x[2], stride: [2], padding: [1], output_padding: [1]));
        g.Case("conv_transpose2d_groups_dilation", x => F.conv_transpose2d(x[0], x[1], stride: [2, 1], groups: 2, dilation: [2]));
        g.Case("linear", x => F.linear(x[0], x[1], x[2]));
        g.Case("linear_nobias_3d", x => F.linear(x[0], x[1]));
        g.Case("max_pool2d", x => F.max_pool2d(x[0], [2]));
        g.Case("max_pool2d_stride_pad", x => F.max_pool2d(x[0], [3], stride: [2], padding: [1]));
        g.Case("max_pool2d_dilation_ceil", x => F.max_pool2d(x[0], [2, 3], stride: [2, 2], dilation: [1, 2], ceil_mode: true));
        g.Case("avg_pool2d", x => F.avg_pool2d(x[0], [2]));
        g.Case("avg_pool2d_pad_include", x => F.avg_pool2d(x[0], [3], stride: [2], padding: [1]));
        g.Case("avg_pool2d_pad_exclude_ceil", x => F.avg_pool2d(x[0], [3], stride: [2], padding: [1], ceil_mode: true, count_include_pad: false));
        g.Case("adaptive_avg_pool2d", x => F.adaptive_avg_pool2d(x[0], [3, 5]));
        g.Case("adaptive_avg_pool2d_1", x => F.adaptive_avg_pool2d(x[0], [1]));
        g.Case("interp_nearest_size", x => F.interpolate(x[0], size: [7, 3]));
        g.Case("interp_nearest_scale2", x => F.interpolate(x[0], scale_factor: [2.0]));
        g.Case("interp_nearest_scale1_5", x => F.interpolate(x[0], scale_factor: [1.5]));
        g.Case("interp_bilinear_size", x => F.interpolate(x[0], size: [7, 9], mode: InterpolationMode.Bilinear));
        g.Case("interp_bilinear_size_align", x => F.interpolate(x[0], size: [7, 9], mode: InterpolationMode.Bilinear, align_corners: true));
        g.Case("interp_bilinear_scale", x => F.interpolate(x[0], scale_factor: [1.5, 2.0], mode: InterpolationMode.Bilinear));
        g.Case("interp_bilinear_down", x => F.interpolate(x[0], size: [3, 2], mode: InterpolationMode.Bilinear));
        // Training mode updates the running statistics in place: out1/out2 are PyTorch's updated buffers.
        Func<Tensor[], Tensor[]> bnTrain = x =>
            [F.batch_norm(x[0], x[3], x[4], x[1], x[2], training: true, momentum: 0.3, eps: 1e-3), x[3].alias(), x[4].alias()];
        g.Cases("batch_norm_train_4d", bnTrain);
        g.Cases("batch_norm_train_2d", bnTrain);
        g.Case("batch_norm_train_nostats", x => F.batch_norm(x[0], null, null, x[1], x[2], training: true));
        g.Case("batch_norm_eval", x => F.batch_norm(x[0], x[3], x[4], x[1], x[2], training: false, eps: 1e-4));
        g.Case("embedding", x => F.embedding(x[0], x[1]));
        g.Case("embedding_padding_idx", x => F.embedding(x[0], x[1], padding_idx: 2));
        g.Case("embedding_padding_idx_neg", x => F.embedding(x[0], x[1], padding_idx: -1));
        g.Case("relu", x => F.relu(x[0]));
        g.Case("leaky_relu", x => F.leaky_relu(x[0], 0.2));
        g.Case("leaky_relu_default", x => F.leaky_relu(x[0]));
        g.Case("sigmoid", x => F.sigmoid(x[0]));
        g.Case("tanh", x => F.tanh(x[0]));
        g.Case("softplus", x => F.softplus(x[0]));
        g.Case("softplus_beta_threshold", x => F.softplus(x[0], beta: 2.0, threshold: 1.5));
        g.Case("elu", x => F.elu(x[0]));
        g.Case("elu_alpha", x => F.elu(x[0], alpha: 0.7));
        g.Case("gelu", x => F.gelu(x[0]));
        g.Case("dropout_eval", x => F.dropout(x[0], 0.5, training: false));
        g.Case("f32_relu_sigmoid", x => F.sigmoid(F.relu(x[0])));
    }, minGradients: 70);

    [TestMethod]
    public void Losses() => Check("loss", g =>
    {
        g.Case("cross_entropy", x => F.cross_entropy(x[0], x[1]));
        g.Case("cross_entropy_sum", x => F.cross_entropy(x[0], x[1], reduction: Reduction.Sum));
        g.Case("cross_entropy_none", x => F.cross_entropy(x[0], x[1], reduction: Reduction.None));
        g.Case("cross_entropy_weight", x => F.cross_entropy(x[0], x[1], weight: x[2]));
        g.Case("cross_entropy_smoothing", x => F.cross_entropy(x[0], x[1], label_smoothing: 0.1));
        g.Case("cross_entropy_smoothing_weight", x => F.cross_entropy(x[0], x[1], weight: x[2], label_smoothing: 0.2));
        g.Case("cross_entropy_ignore_index", x => F.cross_entropy(x[0], x[1], ignore_index: 2));
        g.Case("cross_entropy_spatial", x => F.cross_entropy(x[0], x[1]));
        g.Case("f32_cross_entropy", x => F.cross_entropy(x[0], x[1]));
        g.Case("cross_entropy_prob_target", x => F.cross_entropy(x[0], x[1]));
        g.Case("nll_loss", x => F.nll_loss(x[0], x[1]));
        g.Case("nll_loss_weight", x => F.nll_loss(x[0], x[1], weight: x[2]));
        g.Case("nll_loss_none", x => F.nll_loss(x[0], x[1], reduction: Reduction.None));
        g.Case("nll_loss_sum_ignore", x => F.nll_loss(x[0], x[1], reduction: Reduction.Sum, ignore_index: 4));
        g.Case("mse_loss", x => F.mse_loss(x[0], x[1]));
        g.Case("mse_loss_sum", x => F.mse_loss(x[0], x[1], Reduction.Sum));
        g.Case("mse_loss_none", x => F.mse_loss(x[0], x[1], Reduction.None));
        g.Case("l1_loss", x => F.l1_loss(x[0], x[1]));
        g.Case("l1_loss_sum", x => F.l1_loss(x[0], x[1], Reduction.Sum));
        g.Case("binary_cross_entropy", x => F.binary_cross_entropy(x[0], x[1]));
        g.Case("binary_cross_entropy_weight_sum", x => F.binary_cross_entropy(x[0], x[1], weight: x[2], reduction: Reduction.Sum));
        g.Case("bce_with_logits", x => F.binary_cross_entropy_with_logits(x[0], x[1]));
        g.Case("bce_with_logits_weight_pos_weight", x => F.binary_cross_entropy_with_logits(x[0], x[1], weight: x[2], pos_weight: x[3]));
        g.Case("bce_with_logits_none", x => F.binary_cross_entropy_with_logits(x[0], x[1], reduction: Reduction.None));
        g.Case("kl_div_batchmean", x => F.kl_div(x[0], x[1], Reduction.BatchMean));
        g.Case("kl_div_mean", x => F.kl_div(x[0], x[1], Reduction.Mean));
        g.Case("kl_div_sum", x => F.kl_div(x[0], x[1], Reduction.Sum));
        g.Case("kl_div_none", x => F.kl_div(x[0], x[1], Reduction.None));
        g.Case("kl_div_log_target", x => F.kl_div(x[0], x[1], Reduction.BatchMean, log_target: true));
        g.Case("cosine_similarity", x => F.cosine_similarity(x[0], x[1]));
        g.Case("cosine_similarity_last", x => F.cosine_similarity(x[0], x[1], dim: -1));
        g.Case("pairwise_distance", x => F.pairwise_distance(x[0], x[1]));
        g.Case("pairwise_distance_p1_keepdim", x => F.pairwise_distance(x[0], x[1], p: 1, keepdim: true));
    }, minGradients: 45);

    /// <summary>
    /// Three steps of each optimiser from the same initial parameters with the same fixed gradients
    /// (keys init.p&lt;i&gt;, grad.s&lt;k&gt;.p&lt;i&gt;, &lt;optimiser&gt;.p&lt;i&gt;; hyper-parameters as in make_golden.py).
    /// </summary>
    [TestMethod]
    public void Optimizers()
    {
        using var g = new GoldenFixture("optim");
        var configs = new (string Name, Func<List<Tensor>, Optimizer> Make)[]
        {
            ("adam", ps => torch.optim.Adam(ps, lr: 0.01)),
            ("adam_wd_amsgrad", ps => torch.optim.Adam(ps, lr: 0.05, betas: (0.8, 0.99), eps: 1e-6, weight_decay: 0.1, amsgrad: true)),
            ("adamw", ps => torch.optim.AdamW(ps, lr: 0.01)),
            ("adamw_wd", ps => torch.optim.AdamW(ps, lr: 0.03, betas: (0.85, 0.995), weight_decay: 0.2)),
            ("sgd", ps => torch.optim.SGD(ps, lr: 0.1)),
            ("sgd_momentum_wd", ps => torch.optim.SGD(ps, lr: 0.05, momentum: 0.9, dampening: 0.1, weight_decay: 0.01)),
            ("sgd_nesterov", ps => torch.optim.SGD(ps, lr: 0.1, momentum: 0.9, nesterov: true)),
        };
        foreach (var (name, make) in configs)
        {
            using var scope = torch.NewDisposeScope();
            var ps = new List<Tensor> { g["init.p0"].clone().requires_grad_(), g["init.p1"].clone().requires_grad_() };
            using var opt = make(ps);
            for (int step = 0; step < 3; step++)
            {
                opt.zero_grad();
                for (int i = 0; i < ps.Count; i++) ps[i].grad = g[$"grad.s{step}.p{i}"].clone();
                opt.step();
            }
            for (int i = 0; i < ps.Count; i++)
            {
                Approx.AssertClose(ps[i].detach(), g[$"{name}.p{i}"], $"{name}.p{i} after 3 steps");
                Assert.IsFalse(ps[i].detach().eq(g[$"init.p{i}"]).all().item<bool>(), $"{name}.p{i}: the parameters did not move");
            }
        }
    }
}

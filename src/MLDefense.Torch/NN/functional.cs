using MLDefense.Torch.Native;
using static MLDefense.Torch.Native.NativeMethods;

namespace MLDefense.Torch;

/// <summary>How a loss reduces over the batch.</summary>
public enum Reduction
{
    /// <summary>One value per element.</summary>
    None = 0,
    /// <summary>The mean (PyTorch's default).</summary>
    Mean = 1,
    /// <summary>The sum.</summary>
    Sum = 2,
    /// <summary>Sum divided by the batch size (kl_div only).</summary>
    BatchMean = 3,
}

/// <summary>Interpolation modes of <see cref="torch.nn.functional.interpolate"/>.</summary>
public enum InterpolationMode
{
    /// <summary>Nearest neighbour.</summary>
    Nearest = 0,
    /// <summary>Bilinear.</summary>
    Bilinear = 1,
}

/// <summary>Padding modes of <see cref="torch.nn.functional.pad"/>.</summary>
public enum PaddingMode
{
    /// <summary>A constant value.</summary>
    Constant = 0,
    /// <summary>Mirror without repeating the edge.</summary>
    Reflect = 1,
    /// <summary>Repeat the edge.</summary>
    Replicate = 2,
    /// <summary>Wrap around.</summary>
    Circular = 3,
}

public static partial class torch
{
    /// <summary>Neural-network layers, initialisers and functional operations.</summary>
    public static partial class nn
    {
        /// <summary>Functional operations, as <c>torch.nn.functional</c> (usually imported as F).</summary>
        public static class functional
        {
            private static TensorHandle H(Tensor? t) => t?.Handle ?? TensorHandle.Null;

            private static long[] Pair(long[] value, string name, string op) => value.Length switch
            {
                1 => [value[0], value[0]],
                2 => value,
                _ => throw new ArgumentException($"{op}: {name} needs 1 or 2 values, got {value.Length}."),
            };

            /// <summary>2-D convolution: input (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW).</summary>
            public static unsafe Tensor conv2d(Tensor input, Tensor weight, Tensor? bias = null, long[]? stride = null, long[]? padding = null, long[]? dilation = null, long groups = 1)
            {
                var s = Pair(stride ?? [1], nameof(stride), nameof(conv2d));
                var p = Pair(padding ?? [0], nameof(padding), nameof(conv2d));
                var d = Pair(dilation ?? [1], nameof(dilation), nameof(conv2d));
                fixed (long* ps = s, pp = p, pd = d)
                    return Tensor.Wrap(mld_nn_conv2d(input.Handle, weight.Handle, H(bias), ps, pp, pd, groups));
            }

            /// <summary>2-D transposed convolution: weight (C_in, C_out/groups, kH, kW).</summary>
            public static unsafe Tensor conv_transpose2d(Tensor input, Tensor weight, Tensor? bias = null, long[]? stride = null, long[]? padding = null,
                                                         long[]? output_padding = null, long groups = 1, long[]? dilation = null)
            {
                var s = Pair(stride ?? [1], nameof(stride), nameof(conv_transpose2d));
                var p = Pair(padding ?? [0], nameof(padding), nameof(conv_transpose2d));
                var o = Pair(output_padding ?? [0], nameof(output_padding), nameof(conv_transpose2d));
                var d = Pair(dilation ?? [1], nameof(dilation), nameof(conv_transpose2d));
                fixed (long* ps = s, pp = p, po = o, pd = d)
                    return Tensor.Wrap(mld_nn_conv_transpose2d(input.Handle, weight.Handle, H(bias), ps, pp, po, groups, pd));
            }

            /// <summary>x·Wᵀ + b.</summary>
            public static Tensor linear(Tensor input, Tensor weight, Tensor? bias = null) => Tensor.Wrap(mld_nn_linear(input.Handle, weight.Handle, H(bias)));

            /// <summary>2-D max pooling (stride defaults to the kernel size).</summary>
            public static unsafe Tensor max_pool2d(Tensor input, long[] kernel_size, long[]? stride = null, long[]? padding = null, long[]? dilation = null, bool ceil_mode = false)
            {
                var k = Pair(kernel_size, nameof(kernel_size), nameof(max_pool2d));
                var s = Pair(stride ?? k, nameof(stride), nameof(max_pool2d));
                var p = Pair(padding ?? [0], nameof(padding), nameof(max_pool2d));
                var d = Pair(dilation ?? [1], nameof(dilation), nameof(max_pool2d));
                fixed (long* pk = k, ps = s, pp = p, pd = d)
                    return Tensor.Wrap(mld_nn_max_pool2d(input.Handle, pk, ps, pp, pd, ceil_mode ? 1 : 0));
            }

            /// <summary>2-D average pooling (stride defaults to the kernel size).</summary>
            public static unsafe Tensor avg_pool2d(Tensor input, long[] kernel_size, long[]? stride = null, long[]? padding = null, bool ceil_mode = false, bool count_include_pad = true)
            {
                var k = Pair(kernel_size, nameof(kernel_size), nameof(avg_pool2d));
                var s = Pair(stride ?? k, nameof(stride), nameof(avg_pool2d));
                var p = Pair(padding ?? [0], nameof(padding), nameof(avg_pool2d));
                fixed (long* pk = k, ps = s, pp = p)
                    return Tensor.Wrap(mld_nn_avg_pool2d(input.Handle, pk, ps, pp, ceil_mode ? 1 : 0, count_include_pad ? 1 : 0));
            }

            /// <summary>Average pooling to a fixed output size.</summary>
            public static unsafe Tensor adaptive_avg_pool2d(Tensor input, long[] output_size)
            {
                var o = Pair(output_size, nameof(output_size), nameof(adaptive_avg_pool2d));
                fixed (long* po = o) return Tensor.Wrap(mld_nn_adaptive_avg_pool2d(input.Handle, po));
            }

            /// <summary>Resizes (N, C, H, W) images to <paramref name="size"/> or by <paramref name="scale_factor"/>.</summary>
            public static unsafe Tensor interpolate(Tensor input, long[]? size = null, double[]? scale_factor = null, InterpolationMode mode = InterpolationMode.Nearest, bool align_corners = false)
            {
                if ((size is null) == (scale_factor is null))
                    throw new ArgumentException("interpolate: give exactly one of size and scale_factor.");
                var sz = size is null ? null : Pair(size, nameof(size), nameof(interpolate));
                var sc = scale_factor is null ? null : scale_factor.Length == 1 ? [scale_factor[0], scale_factor[0]] : scale_factor;
                if (sc is not null && sc.Length != 2) throw new ArgumentException("interpolate: scale_factor needs 1 or 2 values.");
                fixed (long* ps = sz)
                fixed (double* pc = sc)
                    return Tensor.Wrap(mld_nn_interpolate(input.Handle, ps, pc, (int)mode, align_corners ? 1 : 0));
            }

            /// <summary>
            /// Batch normalisation. In training it normalises by the batch statistics and updates the running
            /// statistics in place (running = (1 − momentum)·running + momentum·batch, with the unbiased variance).
            /// </summary>
            public static Tensor batch_norm(Tensor input, Tensor? running_mean, Tensor? running_var, Tensor? weight = null, Tensor? bias = null,
                                            bool training = false, double momentum = 0.1, double eps = 1e-5) =>
                Tensor.Wrap(mld_nn_batch_norm(input.Handle, H(weight), H(bias), H(running_mean), H(running_var), training ? 1 : 0, momentum, eps));

            /// <summary>Zeroes elements with probability p and scales the rest by 1/(1−p) when training.</summary>
            public static Tensor dropout(Tensor input, double p = 0.5, bool training = true)
            {
                if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout: p must be in [0, 1]");
                return Tensor.Wrap(mld_nn_dropout(input.Handle, p, training ? 1 : 0));
            }

            /// <summary>
            /// Rows of <paramref name="weight"/> picked by int64 indices. The row <paramref name="padding_idx"/> (negative counts
            /// from the end, as in PyTorch; null: none) gets no gradient.
            /// </summary>
            public static Tensor embedding(Tensor input, Tensor weight, long? padding_idx = null)
            {
                long idx = -1;
                if (padding_idx is long p)
                {
                    long rows = weight.size(0);
                    if (p < -rows || p >= rows) throw new ArgumentOutOfRangeException(nameof(padding_idx), p, $"embedding: padding_idx must be within [{-rows}, {rows}).");
                    idx = p < 0 ? rows + p : p;
                }
                return Tensor.Wrap(mld_nn_embedding(weight.Handle, input.Handle, idx));
            }

            /// <summary>max(x, 0)</summary>
            public static Tensor relu(Tensor input) => input.relu();
            /// <summary>x if x &gt; 0 else slope·x</summary>
            public static Tensor leaky_relu(Tensor input, double negative_slope = 0.01) => Tensor.Wrap(mld_nn_leaky_relu(input.Handle, negative_slope));
            /// <summary>1/(1+e^-x)</summary>
            public static Tensor sigmoid(Tensor input) => input.sigmoid();
            /// <summary>tanh x</summary>
            public static Tensor tanh(Tensor input) => input.tanh();
            /// <summary>(1/β)·log(1 + e^(βx)), linear above the threshold.</summary>
            public static Tensor softplus(Tensor input, double beta = 1, double threshold = 20) => Tensor.Wrap(mld_nn_softplus(input.Handle, beta, threshold));
            /// <summary>x if x &gt; 0 else α(e^x − 1)</summary>
            public static Tensor elu(Tensor input, double alpha = 1) => Tensor.Wrap(mld_nn_elu(input.Handle, alpha));
            /// <summary>Gaussian error linear unit.</summary>
            public static Tensor gelu(Tensor input) => Tensor.Wrap(mld_nn_gelu(input.Handle));
            /// <summary>Softmax along a dimension.</summary>
            public static Tensor softmax(Tensor input, long dim) => input.softmax(dim);
            /// <summary>Log-softmax along a dimension.</summary>
            public static Tensor log_softmax(Tensor input, long dim) => input.log_softmax(dim);

            /// <summary>Pads the last dimensions: pad = (left, right, top, bottom, ...), as torch.nn.functional.pad.</summary>
            public static unsafe Tensor pad(Tensor input, long[] pad, PaddingMode mode = PaddingMode.Constant, double value = 0)
            {
                if (pad.Length % 2 != 0) throw new ArgumentException("pad: needs an even number of values.", nameof(pad));
                fixed (long* p = pad) return Tensor.Wrap(mld_tensor_pad(input.Handle, p, pad.Length, (int)mode, value));
            }

            /// <summary>One-hot encoding of int64 class indices.</summary>
            public static Tensor one_hot(Tensor input, long num_classes = -1) => Tensor.Wrap(mld_tensor_one_hot(input.Handle, num_classes));

            // ---- Losses -----------------------------------------------------------------------------------

            /// <summary>Cross-entropy of logits (N, C) against int64 class indices (N).</summary>
            public static Tensor cross_entropy(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean, long ignore_index = -100, double label_smoothing = 0) =>
                Tensor.Wrap(mld_nn_cross_entropy(input.Handle, target.Handle, H(weight), (int)CheckReduction(reduction), ignore_index, label_smoothing));
            /// <summary>Negative log-likelihood of log-probabilities against class indices.</summary>
            public static Tensor nll_loss(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean, long ignore_index = -100) =>
                Tensor.Wrap(mld_nn_nll_loss(input.Handle, target.Handle, H(weight), (int)CheckReduction(reduction), ignore_index));
            /// <summary>Mean squared error.</summary>
            public static Tensor mse_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) => Tensor.Wrap(mld_nn_mse_loss(input.Handle, target.Handle, (int)CheckReduction(reduction)));
            /// <summary>Mean absolute error.</summary>
            public static Tensor l1_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) => Tensor.Wrap(mld_nn_l1_loss(input.Handle, target.Handle, (int)CheckReduction(reduction)));
            /// <summary>Binary cross-entropy of probabilities.</summary>
            public static Tensor binary_cross_entropy(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean) =>
                Tensor.Wrap(mld_nn_binary_cross_entropy(input.Handle, target.Handle, H(weight), (int)CheckReduction(reduction)));
            /// <summary>Binary cross-entropy of logits (numerically stable).</summary>
            public static Tensor binary_cross_entropy_with_logits(Tensor input, Tensor target, Tensor? weight = null, Tensor? pos_weight = null, Reduction reduction = Reduction.Mean) =>
                Tensor.Wrap(mld_nn_binary_cross_entropy_with_logits(input.Handle, target.Handle, H(weight), H(pos_weight), (int)CheckReduction(reduction)));
            /// <summary>KL divergence; <paramref name="input"/> holds log-probabilities (and so does target when log_target).</summary>
            public static Tensor kl_div(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, bool log_target = false) =>
                Tensor.Wrap(mld_nn_kl_div(input.Handle, target.Handle, (int)reduction, log_target ? 1 : 0));
            /// <summary>Cosine similarity along a dimension.</summary>
            public static Tensor cosine_similarity(Tensor x1, Tensor x2, long dim = 1, double eps = 1e-8) => Tensor.Wrap(mld_nn_cosine_similarity(x1.Handle, x2.Handle, dim, eps));
            /// <summary>‖x1 − x2 + eps‖_p along the last dimension.</summary>
            public static Tensor pairwise_distance(Tensor x1, Tensor x2, double p = 2, double eps = 1e-6, bool keepdim = false) =>
                Tensor.Wrap(mld_nn_pairwise_distance(x1.Handle, x2.Handle, p, eps, keepdim ? 1 : 0));

            private static Reduction CheckReduction(Reduction r) =>
                r == Reduction.BatchMean ? throw new ArgumentException("BatchMean is only defined for kl_div.") : r;
        }
    }
}

using System.Runtime.InteropServices;

namespace MLDefense.Torch.Native;

/// <summary>
/// P/Invoke declarations of the C ABI in MLDefense.Native (the only place in the solution that calls native code).
/// Conventions: a function returning a tensor returns <see cref="IntPtr.Zero"/> on failure; a function returning
/// <c>int</c> status returns non-zero on failure; in both cases <c>mld_last_error</c> holds the message for this thread.
/// </summary>
internal static partial class NativeMethods
{
    private const string Lib = "mldefense_native";

    [DllImport(Lib)] internal static extern IntPtr mld_last_error();
    [DllImport(Lib)] internal static extern void mld_clear_error();
    [DllImport(Lib)] internal static extern void mld_tensor_free(IntPtr t);
    [DllImport(Lib)] internal static extern long mld_tensor_live_count();
    [DllImport(Lib)] internal static extern int mld_torch_manual_seed(ulong seed);
    [DllImport(Lib)] internal static extern IntPtr mld_torch_get_rng_state(int cudaIndex);
    [DllImport(Lib)] internal static extern int mld_torch_set_rng_state(int cudaIndex, TensorHandle state);
    [DllImport(Lib)] internal static extern int mld_torch_set_num_threads(int n);
    [DllImport(Lib)] internal static extern int mld_torch_get_num_threads();
    [DllImport(Lib)] internal static extern IntPtr mld_torch_version();
    [DllImport(Lib)] internal static extern int mld_cuda_is_available();
    [DllImport(Lib)] internal static extern int mld_cuda_device_count();
    [DllImport(Lib)] internal static extern int mld_cuda_synchronize(int index);

    // Creation
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_from_data(void* data, long* shape, long ndim, int dtype, int devType, int devIndex, int requiresGrad);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_empty(long* shape, long ndim, int dtype, int devType, int devIndex, int requiresGrad);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_zeros(long* shape, long ndim, int dtype, int devType, int devIndex, int requiresGrad);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_ones(long* shape, long ndim, int dtype, int devType, int devIndex, int requiresGrad);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_full(long* shape, long ndim, double value, int dtype, int devType, int devIndex, int requiresGrad);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_rand(long* shape, long ndim, int dtype, int devType, int devIndex, int requiresGrad);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_randn(long* shape, long ndim, int dtype, int devType, int devIndex, int requiresGrad);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_randint(long low, long high, long* shape, long ndim, int dtype, int devType, int devIndex);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_arange(double start, double end, double step, int dtype, int devType, int devIndex);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_randperm(long n, int devType, int devIndex);

    // Inspection and conversion
    [DllImport(Lib)] internal static extern long mld_tensor_ndim(TensorHandle t);
    [DllImport(Lib)] internal static extern unsafe void mld_tensor_shape(TensorHandle t, long* shape);
    [DllImport(Lib)] internal static extern int mld_tensor_dtype(TensorHandle t);
    [DllImport(Lib)] internal static extern int mld_tensor_device_type(TensorHandle t);
    [DllImport(Lib)] internal static extern int mld_tensor_device_index(TensorHandle t);
    [DllImport(Lib)] internal static extern int mld_tensor_requires_grad(TensorHandle t);
    [DllImport(Lib)] internal static extern int mld_tensor_is_leaf(TensorHandle t);
    [DllImport(Lib)] internal static extern long mld_tensor_numel(TensorHandle t);
    [DllImport(Lib)] internal static extern int mld_tensor_set_requires_grad(TensorHandle t, int value);
    [DllImport(Lib)] internal static extern unsafe int mld_tensor_copy_to(TensorHandle t, void* dst, long nbytes);
    [DllImport(Lib)] internal static extern int mld_tensor_item_double(TensorHandle t, out double value);
    [DllImport(Lib)] internal static extern int mld_tensor_item_long(TensorHandle t, out long value);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_to(TensorHandle t, int dtype, int devType, int devIndex, int copy);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_clone(TensorHandle t);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_contiguous(TensorHandle t);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_detach(TensorHandle t);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_alias(TensorHandle t);
    [DllImport(Lib)] internal static extern int mld_tensor_grad(TensorHandle t, out IntPtr grad);
    [DllImport(Lib)] internal static extern int mld_tensor_set_grad(TensorHandle t, TensorHandle grad);

    // In place
    [DllImport(Lib)] internal static extern int mld_tensor_copy_(TensorHandle t, TensorHandle src);
    [DllImport(Lib)] internal static extern int mld_tensor_set_data(TensorHandle t, TensorHandle src);
    [DllImport(Lib)] internal static extern int mld_tensor_zero_(TensorHandle t);
    [DllImport(Lib)] internal static extern int mld_tensor_fill_(TensorHandle t, double value);
    [DllImport(Lib)] internal static extern int mld_tensor_uniform_(TensorHandle t, double low, double high);
    [DllImport(Lib)] internal static extern int mld_tensor_normal_(TensorHandle t, double mean, double std);
    [DllImport(Lib)] internal static extern int mld_tensor_add_(TensorHandle t, TensorHandle other, double alpha);
    [DllImport(Lib)] internal static extern int mld_tensor_mul_scalar_(TensorHandle t, double value);
    [DllImport(Lib)] internal static extern int mld_tensor_clamp_(TensorHandle t, double low, double high);

    // Elementwise, one operand
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_neg(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_abs(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_sign(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_exp(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_log(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_log1p(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_sqrt(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_rsqrt(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_square(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_floor(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_ceil(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_round(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_sin(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_cos(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_reciprocal(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_logical_not(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_isnan(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_isfinite(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_any(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_all(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_sum(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_mean(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_max(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_min(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_t(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_relu(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_sigmoid(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_tanh(TensorHandle a);

    // Elementwise, two operands
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_add(TensorHandle a, TensorHandle b, double alpha);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_sub(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_mul(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_div(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_pow(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_maximum(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_minimum(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_eq(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_ne(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_lt(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_le(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_gt(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_ge(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_logical_and(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_logical_or(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_logical_xor(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_matmul(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_mm(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_bmm(TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_add_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_sub_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_mul_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_div_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_pow_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_rsub_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_rdiv_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_eq_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_ne_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_lt_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_le_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_gt_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_ge_scalar(TensorHandle a, double s);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_scalar_pow(double b, TensorHandle e);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_where(TensorHandle cond, TensorHandle a, TensorHandle b);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_clamp(TensorHandle a, double low, double high);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_clamp_tensor(TensorHandle a, TensorHandle low, TensorHandle high);

    // Reductions
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_sum_dims(TensorHandle a, long* dims, long n, int keepdim);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_mean_dims(TensorHandle a, long* dims, long n, int keepdim);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_var(TensorHandle a, long* dims, long n, int unbiased, int keepdim);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_std(TensorHandle a, long* dims, long n, int unbiased, int keepdim);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_norm(TensorHandle a, double p, long* dims, long n, int keepdim);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_logsumexp(TensorHandle a, long* dims, long n, int keepdim);
    [DllImport(Lib)] internal static extern int mld_tensor_max_dim(TensorHandle a, long dim, int keepdim, out IntPtr values, out IntPtr indices);
    [DllImport(Lib)] internal static extern int mld_tensor_min_dim(TensorHandle a, long dim, int keepdim, out IntPtr values, out IntPtr indices);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_argmax(TensorHandle a, long dim, int hasDim, int keepdim);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_argmin(TensorHandle a, long dim, int hasDim, int keepdim);
    [DllImport(Lib)] internal static extern int mld_tensor_topk(TensorHandle a, long k, long dim, int largest, int sorted, out IntPtr values, out IntPtr indices);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_softmax(TensorHandle a, long dim);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_log_softmax(TensorHandle a, long dim);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_cumsum(TensorHandle a, long dim);

    // Shape and indexing
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_reshape(TensorHandle a, long* shape, long n);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_view(TensorHandle a, long* shape, long n);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_flatten(TensorHandle a, long start, long end);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_permute(TensorHandle a, long* dims, long n);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_transpose(TensorHandle a, long d0, long d1);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_squeeze(TensorHandle a);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_squeeze_dim(TensorHandle a, long dim);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_unsqueeze(TensorHandle a, long dim);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_expand(TensorHandle a, long* shape, long n);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_repeat(TensorHandle a, long* repeats, long n);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_flip(TensorHandle a, long* dims, long n);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_narrow(TensorHandle a, long dim, long start, long length);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_select(TensorHandle a, long dim, long index);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_index_select(TensorHandle a, long dim, TensorHandle index);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_gather(TensorHandle a, long dim, TensorHandle index);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_scatter(TensorHandle a, long dim, TensorHandle index, TensorHandle src);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_masked_fill(TensorHandle a, TensorHandle mask, double value);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_masked_select(TensorHandle a, TensorHandle mask);
    [DllImport(Lib)] internal static extern IntPtr mld_tensor_one_hot(TensorHandle a, long classes);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_pad(TensorHandle a, long* pad, long n, int mode, double value);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_cat(IntPtr* list, long count, long dim);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_tensor_stack(IntPtr* list, long count, long dim);
    [DllImport(Lib)] internal static extern unsafe int mld_tensor_split(TensorHandle a, long* sizes, long n, long dim, IntPtr* outList, out long count);
    [DllImport(Lib)] internal static extern unsafe int mld_tensor_chunk(TensorHandle a, long chunks, long dim, IntPtr* outList, out long count);

    // nn.functional
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_nn_conv2d(TensorHandle x, TensorHandle w, TensorHandle b, long* stride, long* padding, long* dilation, long groups);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_nn_conv_transpose2d(TensorHandle x, TensorHandle w, TensorHandle b, long* stride, long* padding, long* outputPadding, long groups, long* dilation);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_linear(TensorHandle x, TensorHandle w, TensorHandle b);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_nn_max_pool2d(TensorHandle x, long* kernel, long* stride, long* padding, long* dilation, int ceilMode);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_nn_avg_pool2d(TensorHandle x, long* kernel, long* stride, long* padding, int ceilMode, int countIncludePad);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_nn_adaptive_avg_pool2d(TensorHandle x, long* size);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_nn_interpolate(TensorHandle x, long* size, double* scale, int mode, int alignCorners);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_batch_norm(TensorHandle x, TensorHandle w, TensorHandle b, TensorHandle runningMean, TensorHandle runningVar, int training, double momentum, double eps);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_dropout(TensorHandle x, double p, int training);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_embedding(TensorHandle weight, TensorHandle indices, long paddingIdx);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_leaky_relu(TensorHandle x, double slope);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_softplus(TensorHandle x, double beta, double threshold);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_elu(TensorHandle x, double alpha);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_gelu(TensorHandle x);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_cross_entropy(TensorHandle x, TensorHandle target, TensorHandle weight, int reduction, long ignoreIndex, double labelSmoothing);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_nll_loss(TensorHandle x, TensorHandle target, TensorHandle weight, int reduction, long ignoreIndex);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_mse_loss(TensorHandle x, TensorHandle y, int reduction);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_l1_loss(TensorHandle x, TensorHandle y, int reduction);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_binary_cross_entropy(TensorHandle x, TensorHandle y, TensorHandle weight, int reduction);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_binary_cross_entropy_with_logits(TensorHandle x, TensorHandle y, TensorHandle weight, TensorHandle posWeight, int reduction);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_kl_div(TensorHandle x, TensorHandle y, int reduction, int logTarget);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_cosine_similarity(TensorHandle a, TensorHandle b, long dim, double eps);
    [DllImport(Lib)] internal static extern IntPtr mld_nn_pairwise_distance(TensorHandle a, TensorHandle b, double p, double eps, int keepdim);
    [DllImport(Lib)] internal static extern unsafe int mld_nn_clip_grad_norm(IntPtr* parameters, long n, double maxNorm, double normType, out double total);

    // Autograd
    [DllImport(Lib)] internal static extern unsafe int mld_autograd_backward(IntPtr* tensors, long n, IntPtr* grads, int retainGraph, int createGraph);
    [DllImport(Lib)] internal static extern unsafe int mld_autograd_grad(IntPtr* outputs, long nOut, IntPtr* inputs, long nIn, IntPtr* gradOutputs, int retainGraph, int createGraph, int allowUnused, IntPtr* results);
    [DllImport(Lib)] internal static extern int mld_autograd_set_grad_enabled(int enabled);
    [DllImport(Lib)] internal static extern int mld_autograd_is_grad_enabled();
    [DllImport(Lib)] internal static extern IntPtr mld_autograd_inference_mode_enter();
    [DllImport(Lib)] internal static extern void mld_autograd_inference_mode_exit(IntPtr guard);

    // Optimisers
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_optim_sgd_new(IntPtr* parameters, long n, double lr, double momentum, double dampening, double weightDecay, int nesterov);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_optim_adam_new(IntPtr* parameters, long n, double lr, double beta1, double beta2, double eps, double weightDecay, int amsgrad);
    [DllImport(Lib)] internal static extern unsafe IntPtr mld_optim_adamw_new(IntPtr* parameters, long n, double lr, double beta1, double beta2, double eps, double weightDecay, int amsgrad);
    [DllImport(Lib)] internal static extern void mld_optim_free(IntPtr optimizer);
    [DllImport(Lib)] internal static extern int mld_optim_step(OptimizerHandle optimizer);
    [DllImport(Lib)] internal static extern int mld_optim_zero_grad(OptimizerHandle optimizer);
    [DllImport(Lib)] internal static extern int mld_optim_get_lr(OptimizerHandle optimizer, out double lr);
    [DllImport(Lib)] internal static extern int mld_optim_set_lr(OptimizerHandle optimizer, double lr);
    [DllImport(Lib)] internal static extern int mld_optim_state_save(OptimizerHandle optimizer, out IntPtr data, out long length);
    [DllImport(Lib)] internal static extern unsafe int mld_optim_state_load(OptimizerHandle optimizer, byte* data, long length);
    [DllImport(Lib)] internal static extern void mld_optim_free_buffer(IntPtr buffer);
}

// Functional neural-network operations and losses (torch.nn.functional).
#include "mld.h"

using mld::dims;
using mld::optional_tensor;

MLD_API Tensor* mld_nn_conv2d(const Tensor* x, const Tensor* w, const Tensor* b, const int64_t* stride, const int64_t* padding, const int64_t* dilation, int64_t groups) {
  MLD_TRY_TENSOR(at::conv2d(*x, *w, optional_tensor(b), dims(stride, 2), dims(padding, 2), dims(dilation, 2), groups))
}
MLD_API Tensor* mld_nn_conv_transpose2d(const Tensor* x, const Tensor* w, const Tensor* b, const int64_t* stride, const int64_t* padding, const int64_t* output_padding, int64_t groups, const int64_t* dilation) {
  MLD_TRY_TENSOR(at::conv_transpose2d(*x, *w, optional_tensor(b), dims(stride, 2), dims(padding, 2), dims(output_padding, 2), groups, dims(dilation, 2)))
}
MLD_API Tensor* mld_nn_linear(const Tensor* x, const Tensor* w, const Tensor* b) { MLD_TRY_TENSOR(at::linear(*x, *w, optional_tensor(b))) }
MLD_API Tensor* mld_nn_max_pool2d(const Tensor* x, const int64_t* kernel, const int64_t* stride, const int64_t* padding, const int64_t* dilation, int ceil_mode) {
  MLD_TRY_TENSOR(at::max_pool2d(*x, dims(kernel, 2), dims(stride, 2), dims(padding, 2), dims(dilation, 2), ceil_mode != 0))
}
MLD_API Tensor* mld_nn_avg_pool2d(const Tensor* x, const int64_t* kernel, const int64_t* stride, const int64_t* padding, int ceil_mode, int count_include_pad) {
  MLD_TRY_TENSOR(at::avg_pool2d(*x, dims(kernel, 2), dims(stride, 2), dims(padding, 2), ceil_mode != 0, count_include_pad != 0))
}
MLD_API Tensor* mld_nn_adaptive_avg_pool2d(const Tensor* x, const int64_t* size) { MLD_TRY_TENSOR(at::adaptive_avg_pool2d(*x, dims(size, 2))) }

// mode: 0 nearest, 1 bilinear. Either size (2 values) or scale factors (2 values) is given.
MLD_API Tensor* mld_nn_interpolate(const Tensor* x, const int64_t* size, const double* scale, int mode, int align_corners) {
  namespace F = torch::nn::functional;
  MLD_TRY_TENSOR(([&] {
    auto o = F::InterpolateFuncOptions();
    if (size) o.size(std::vector<int64_t>(size, size + 2));
    else o.scale_factor(std::vector<double>(scale, scale + 2));
    if (mode == 0) o.mode(torch::kNearest);
    else if (mode == 1) o.mode(torch::kBilinear).align_corners(align_corners != 0);
    else TORCH_CHECK(false, "interpolate: unknown mode ", mode);
    return F::interpolate(*x, o);
  }()))
}

MLD_API Tensor* mld_nn_batch_norm(const Tensor* x, const Tensor* w, const Tensor* b, const Tensor* running_mean, const Tensor* running_var, int training, double momentum, double eps) {
  MLD_TRY_TENSOR(at::batch_norm(*x, optional_tensor(w), optional_tensor(b), optional_tensor(running_mean), optional_tensor(running_var), training != 0, momentum, eps, /*cudnn_enabled=*/true))
}
MLD_API Tensor* mld_nn_dropout(const Tensor* x, double p, int training) { MLD_TRY_TENSOR(at::dropout(*x, p, training != 0)) }
MLD_API Tensor* mld_nn_embedding(const Tensor* weight, const Tensor* indices, int64_t padding_idx) { MLD_TRY_TENSOR(at::embedding(*weight, *indices, padding_idx)) }

MLD_API Tensor* mld_nn_leaky_relu(const Tensor* x, double slope) { MLD_TRY_TENSOR(at::leaky_relu(*x, slope)) }
MLD_API Tensor* mld_nn_softplus(const Tensor* x, double beta, double threshold) { MLD_TRY_TENSOR(at::softplus(*x, beta, threshold)) }
MLD_API Tensor* mld_nn_elu(const Tensor* x, double alpha) { MLD_TRY_TENSOR(at::elu(*x, alpha)) }
MLD_API Tensor* mld_nn_gelu(const Tensor* x) { MLD_TRY_TENSOR(at::gelu(*x)) }

// reduction: 0 none, 1 mean, 2 sum (at::Reduction).
MLD_API Tensor* mld_nn_cross_entropy(const Tensor* x, const Tensor* target, const Tensor* weight, int reduction, int64_t ignore_index, double label_smoothing) {
  MLD_TRY_TENSOR(at::cross_entropy_loss(*x, *target, optional_tensor(weight), reduction, ignore_index, label_smoothing))
}
MLD_API Tensor* mld_nn_nll_loss(const Tensor* x, const Tensor* target, const Tensor* weight, int reduction, int64_t ignore_index) {
  MLD_TRY_TENSOR(at::nll_loss_nd(*x, *target, optional_tensor(weight), reduction, ignore_index))
}
MLD_API Tensor* mld_nn_mse_loss(const Tensor* x, const Tensor* y, int reduction) { MLD_TRY_TENSOR(at::mse_loss(*x, *y, reduction)) }
MLD_API Tensor* mld_nn_l1_loss(const Tensor* x, const Tensor* y, int reduction) { MLD_TRY_TENSOR(at::l1_loss(*x, *y, reduction)) }
MLD_API Tensor* mld_nn_binary_cross_entropy(const Tensor* x, const Tensor* y, const Tensor* weight, int reduction) {
  MLD_TRY_TENSOR(at::binary_cross_entropy(*x, *y, optional_tensor(weight), reduction))
}
MLD_API Tensor* mld_nn_binary_cross_entropy_with_logits(const Tensor* x, const Tensor* y, const Tensor* weight, const Tensor* pos_weight, int reduction) {
  MLD_TRY_TENSOR(at::binary_cross_entropy_with_logits(*x, *y, optional_tensor(weight), optional_tensor(pos_weight), reduction))
}
// reduction here also allows 3 = batchmean (as torch.nn.functional.kl_div).
MLD_API Tensor* mld_nn_kl_div(const Tensor* x, const Tensor* y, int reduction, int log_target) {
  MLD_TRY_TENSOR(reduction == 3 ? at::kl_div(*x, *y, at::Reduction::Sum, log_target != 0) / x->size(0)
                                : at::kl_div(*x, *y, reduction, log_target != 0))
}
MLD_API Tensor* mld_nn_cosine_similarity(const Tensor* a, const Tensor* b, int64_t dim, double eps) { MLD_TRY_TENSOR(at::cosine_similarity(*a, *b, dim, eps)) }
MLD_API Tensor* mld_nn_pairwise_distance(const Tensor* a, const Tensor* b, double p, double eps, int keepdim) { MLD_TRY_TENSOR(at::pairwise_distance(*a, *b, p, eps, keepdim != 0)) }

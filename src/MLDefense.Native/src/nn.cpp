// Functional neural-network operations and losses (torch.nn.functional).
#include "mld.h"

using mld::dims;
using mld::optional_tensor;

MLD_API Tensor* mld_nn_conv2d(const Tensor* x, const Tensor* w, const Tensor* b, const int64_t* stride, const int64_t* padding, const int64_t* dilation, int64_t groups) {
  MLD_TRY_TENSOR(at::conv2d(*x, *w, optional_tensor(b), dims(stride, 2), dims(padding, 2), dims(dilation, 2), groups))
}
// A transposed convolution computed as an ordinary one: insert (stride - 1) zeros between the input's pixels, pad each side
// by dilation * (kernel - 1) - padding (plus output_padding at the bottom/right), and convolve with stride 1 with the kernel
// flipped and its in/out channels swapped per group. The result is the same function (same values up to summation order,
// same gradients through autograd), but on CPU builds of libtorch with a generic BLAS — Debian's — at::conv_transpose2d
// runs slow_conv_transpose2d, 5-10x slower than this (measured: an AE-GAN decoder batch of 100 took 27 s); conv2d goes
// through oneDNN. Other devices, and shapes conv_transpose2d would reject (so that its error message is the one users see),
// take at::conv_transpose2d itself.
static bool use_convolution_form(const at::Tensor& x, const at::Tensor& w, at::IntArrayRef stride, at::IntArrayRef padding,
                                 at::IntArrayRef output_padding, int64_t groups, at::IntArrayRef dilation) {
  if (!x.device().is_cpu() || x.dim() != 4 || w.dim() != 4 || groups < 1 || !at::isFloatingType(x.scalar_type())) return false;
  if (x.scalar_type() != w.scalar_type() || x.size(1) != w.size(0) || w.size(0) % groups != 0) return false;
  for (int i = 0; i < 2; i++) {
    if (stride[i] < 1 || dilation[i] < 1 || padding[i] < 0 || output_padding[i] < 0) return false;
    if (output_padding[i] >= std::max(stride[i], dilation[i])) return false;
    int64_t out = (x.size(2 + i) - 1) * stride[i] - 2 * padding[i] + dilation[i] * (w.size(2 + i) - 1) + output_padding[i] + 1;
    if (out < 1 || x.size(2 + i) < 1) return false;
  }
  return true;
}

static at::Tensor conv_transpose2d_as_convolution(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b,
                                                  at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef output_padding,
                                                  int64_t groups, at::IntArrayRef dilation) {
  int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  // Zero insertion without in-place writes: [N,C,H,1,W,1] padded to [N,C,H,sh,W,sw], flattened, the trailing zeros cut.
  at::Tensor z = x;
  if (stride[0] > 1 || stride[1] > 1) {
    z = at::constant_pad_nd(x.reshape({n, c, h, 1, wd, 1}), {0, stride[1] - 1, 0, 0, 0, stride[0] - 1, 0, 0});
    z = z.reshape({n, c, h * stride[0], wd * stride[1]})
         .narrow(2, 0, (h - 1) * stride[0] + 1)
         .narrow(3, 0, (wd - 1) * stride[1] + 1);
  }
  int64_t top = dilation[0] * (w.size(2) - 1) - padding[0], left = dilation[1] * (w.size(3) - 1) - padding[1];
  // Negative amounts crop (padding larger than the kernel's reach), as constant_pad_nd does.
  z = at::constant_pad_nd(z, {left, left + output_padding[1], top, top + output_padding[0]});
  int64_t in_per_group = w.size(0) / groups, out_per_group = w.size(1);
  at::Tensor kernel = w.reshape({groups, in_per_group, out_per_group, w.size(2), w.size(3)})
                       .transpose(1, 2)
                       .reshape({groups * out_per_group, in_per_group, w.size(2), w.size(3)})
                       .flip({2, 3});
  const int64_t unit[2] = {1, 1}, none[2] = {0, 0};
  return at::conv2d(z, kernel, b, at::IntArrayRef(unit, 2), at::IntArrayRef(none, 2), dilation, groups);
}

MLD_API Tensor* mld_nn_conv_transpose2d(const Tensor* x, const Tensor* w, const Tensor* b, const int64_t* stride, const int64_t* padding, const int64_t* output_padding, int64_t groups, const int64_t* dilation) {
  MLD_TRY_TENSOR(([&] {
    auto s = dims(stride, 2), p = dims(padding, 2), op = dims(output_padding, 2), d = dims(dilation, 2);
    return use_convolution_form(*x, *w, s, p, op, groups, d)
               ? conv_transpose2d_as_convolution(*x, *w, optional_tensor(b), s, p, op, groups, d)
               : at::conv_transpose2d(*x, *w, optional_tensor(b), s, p, op, groups, d);
  }()))
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

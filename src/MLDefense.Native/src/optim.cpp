// Optimisers bound from libtorch's C++ torch::optim (the same update rules as PyTorch's Python optimisers).
#include "mld.h"

using Optimizer = torch::optim::Optimizer;

MLD_API Optimizer* mld_optim_sgd_new(Tensor* const* params, int64_t n, double lr, double momentum, double dampening, double weight_decay, int nesterov) {
  try {
    auto o = torch::optim::SGDOptions(lr).momentum(momentum).dampening(dampening).weight_decay(weight_decay).nesterov(nesterov != 0);
    return new torch::optim::SGD(mld::tensor_list(params, n), o);
  } MLD_CATCH return nullptr;
}
MLD_API Optimizer* mld_optim_adam_new(Tensor* const* params, int64_t n, double lr, double beta1, double beta2, double eps, double weight_decay, int amsgrad) {
  try {
    auto o = torch::optim::AdamOptions(lr).betas({beta1, beta2}).eps(eps).weight_decay(weight_decay).amsgrad(amsgrad != 0);
    return new torch::optim::Adam(mld::tensor_list(params, n), o);
  } MLD_CATCH return nullptr;
}
MLD_API Optimizer* mld_optim_adamw_new(Tensor* const* params, int64_t n, double lr, double beta1, double beta2, double eps, double weight_decay, int amsgrad) {
  try {
    auto o = torch::optim::AdamWOptions(lr).betas({beta1, beta2}).eps(eps).weight_decay(weight_decay).amsgrad(amsgrad != 0);
    return new torch::optim::AdamW(mld::tensor_list(params, n), o);
  } MLD_CATCH return nullptr;
}
MLD_API void mld_optim_free(Optimizer* o) { delete o; }
MLD_API int mld_optim_step(Optimizer* o) { MLD_TRY(o->step()) }
MLD_API int mld_optim_zero_grad(Optimizer* o) { MLD_TRY(o->zero_grad()) }
MLD_API int mld_optim_get_lr(Optimizer* o, double* lr) { MLD_TRY(*lr = o->param_groups().at(0).options().get_lr()) }
MLD_API int mld_optim_set_lr(Optimizer* o, double lr) {
  MLD_TRY(for (auto& group : o->param_groups()) group.options().set_lr(lr))
}

MLD_API int mld_nn_clip_grad_norm(Tensor* const* params, int64_t n, double max_norm, double norm_type, double* total) {
  MLD_TRY(*total = torch::nn::utils::clip_grad_norm_(mld::tensor_list(params, n), max_norm, norm_type))
}

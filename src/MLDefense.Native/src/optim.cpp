// Optimisers bound from libtorch's C++ torch::optim (the same update rules as PyTorch's Python optimisers).
#include "mld.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

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

// The optimiser's state — per-parameter step counts, moments and momentum buffers, and its parameter groups' options —
// in libtorch's own archive format (what torch::save writes), in a malloc'd buffer the caller frees with
// mld_optim_free_buffer. Loading it into an optimiser over the same parameters resumes the same updates.
MLD_API int mld_optim_state_save(Optimizer* o, uint8_t** data, int64_t* length) {
  MLD_TRY(
    *data = nullptr;
    *length = 0;
    torch::serialize::OutputArchive archive;
    o->save(archive);
    std::ostringstream out;
    archive.save_to(out);
    const std::string bytes = out.str();
    auto* buffer = static_cast<uint8_t*>(std::malloc(bytes.size()));
    TORCH_CHECK(buffer != nullptr, "optimizer state: out of memory for ", bytes.size(), " bytes");
    std::memcpy(buffer, bytes.data(), bytes.size());
    *data = buffer;
    *length = static_cast<int64_t>(bytes.size());
  )
}
MLD_API int mld_optim_state_load(Optimizer* o, const uint8_t* data, int64_t length) {
  MLD_TRY(
    TORCH_CHECK(data != nullptr && length > 0, "optimizer state: no data");
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), static_cast<size_t>(length)));
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    o->load(archive);
  )
}
MLD_API void mld_optim_free_buffer(uint8_t* buffer) { std::free(buffer); }

MLD_API int mld_nn_clip_grad_norm(Tensor* const* params, int64_t n, double max_norm, double norm_type, double* total) {
  MLD_TRY(*total = torch::nn::utils::clip_grad_norm_(mld::tensor_list(params, n), max_norm, norm_type))
}

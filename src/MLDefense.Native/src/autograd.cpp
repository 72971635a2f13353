// Autograd: backward, torch.autograd.grad (with create_graph for double backward), grad modes.
#include "mld.h"

MLD_API int mld_autograd_backward(Tensor* const* tensors, int64_t n, Tensor* const* grads, int retain_graph, int create_graph) {
  MLD_TRY(({
    std::vector<Tensor> g;
    if (grads) for (int64_t i = 0; i < n; ++i) g.push_back(grads[i] ? *grads[i] : Tensor());
    torch::autograd::backward(mld::tensor_list(tensors, n), g,
                              retain_graph < 0 ? c10::optional<bool>() : c10::optional<bool>(retain_graph != 0), create_graph != 0);
  }))
}

// Gradients of `outputs` w.r.t. `inputs`; results[i] is nullptr for an unused input when allow_unused.
MLD_API int mld_autograd_grad(Tensor* const* outputs, int64_t n_out, Tensor* const* inputs, int64_t n_in, Tensor* const* grad_outputs,
                              int retain_graph, int create_graph, int allow_unused, Tensor** results) {
  MLD_TRY(({
    std::vector<Tensor> go;
    if (grad_outputs) for (int64_t i = 0; i < n_out; ++i) go.push_back(grad_outputs[i] ? *grad_outputs[i] : Tensor());
    auto r = torch::autograd::grad(mld::tensor_list(outputs, n_out), mld::tensor_list(inputs, n_in), go,
                                   retain_graph < 0 ? c10::optional<bool>() : c10::optional<bool>(retain_graph != 0),
                                   create_graph != 0, allow_unused != 0);
    for (size_t i = 0; i < r.size(); ++i) results[i] = r[i].defined() ? mld::wrap(r[i]) : nullptr;
  }))
}

// Grad mode is thread-local in libtorch, as the C# scopes over it are.
MLD_API int mld_autograd_set_grad_enabled(int enabled) {
  bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(enabled != 0);
  return previous ? 1 : 0;
}
MLD_API int mld_autograd_is_grad_enabled() { return c10::GradMode::is_enabled() ? 1 : 0; }

// An inference-mode guard lives on the heap between enter and exit; both must run on the same thread.
MLD_API void* mld_autograd_inference_mode_enter() {
  try { return new c10::InferenceMode(true); } MLD_CATCH return nullptr;
}
MLD_API void mld_autograd_inference_mode_exit(void* guard) { delete static_cast<c10::InferenceMode*>(guard); }

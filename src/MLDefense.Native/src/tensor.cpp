// Tensor creation, inspection, conversion and copies to and from host memory.
// Factories use torch:: (not at::) functions: only those honour requires_grad in the options.
#include "mld.h"
#include <cstring>

using mld::dims;
using mld::options;

MLD_API Tensor* mld_tensor_from_data(const void* data, const int64_t* shape, int64_t ndim, int dtype, int device_type, int device_index, int requires_grad) {
  MLD_TRY_TENSOR(([&] {
    auto cpu = at::empty(dims(shape, ndim), at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)));
    if (cpu.numel() > 0) std::memcpy(cpu.data_ptr(), data, cpu.numel() * cpu.element_size());
    auto t = cpu.to(mld::device(device_type, device_index));
    return requires_grad ? t.set_requires_grad(true) : t;
  }()))
}

MLD_API Tensor* mld_tensor_empty(const int64_t* shape, int64_t ndim, int dtype, int dt, int di, int rg) { MLD_TRY_TENSOR(torch::empty(dims(shape, ndim), options(dtype, dt, di, rg))) }
MLD_API Tensor* mld_tensor_zeros(const int64_t* shape, int64_t ndim, int dtype, int dt, int di, int rg) { MLD_TRY_TENSOR(torch::zeros(dims(shape, ndim), options(dtype, dt, di, rg))) }
MLD_API Tensor* mld_tensor_ones(const int64_t* shape, int64_t ndim, int dtype, int dt, int di, int rg) { MLD_TRY_TENSOR(torch::ones(dims(shape, ndim), options(dtype, dt, di, rg))) }
MLD_API Tensor* mld_tensor_full(const int64_t* shape, int64_t ndim, double value, int dtype, int dt, int di, int rg) { MLD_TRY_TENSOR(torch::full(dims(shape, ndim), value, options(dtype, dt, di, rg))) }
MLD_API Tensor* mld_tensor_rand(const int64_t* shape, int64_t ndim, int dtype, int dt, int di, int rg) { MLD_TRY_TENSOR(torch::rand(dims(shape, ndim), options(dtype, dt, di, rg))) }
MLD_API Tensor* mld_tensor_randn(const int64_t* shape, int64_t ndim, int dtype, int dt, int di, int rg) { MLD_TRY_TENSOR(torch::randn(dims(shape, ndim), options(dtype, dt, di, rg))) }
MLD_API Tensor* mld_tensor_randint(int64_t low, int64_t high, const int64_t* shape, int64_t ndim, int dtype, int dt, int di) { MLD_TRY_TENSOR(torch::randint(low, high, dims(shape, ndim), options(dtype, dt, di, false))) }
MLD_API Tensor* mld_tensor_arange(double start, double end, double step, int dtype, int dt, int di) { MLD_TRY_TENSOR(torch::arange(start, end, step, options(dtype, dt, di, false))) }
MLD_API Tensor* mld_tensor_randperm(int64_t n, int dt, int di) { MLD_TRY_TENSOR(torch::randperm(n, options(static_cast<int>(at::kLong), dt, di, false))) }

MLD_API int64_t mld_tensor_ndim(const Tensor* t) { return t->dim(); }
MLD_API void mld_tensor_shape(const Tensor* t, int64_t* out) { for (int64_t i = 0; i < t->dim(); ++i) out[i] = t->size(i); }
MLD_API int mld_tensor_dtype(const Tensor* t) { return static_cast<int>(t->scalar_type()); }
MLD_API int mld_tensor_device_type(const Tensor* t) { return t->device().is_cuda() ? 1 : 0; }
MLD_API int mld_tensor_device_index(const Tensor* t) { return t->device().has_index() ? t->device().index() : -1; }
MLD_API int mld_tensor_requires_grad(const Tensor* t) { return t->requires_grad() ? 1 : 0; }
MLD_API int mld_tensor_is_leaf(const Tensor* t) { return t->is_leaf() ? 1 : 0; }
MLD_API int64_t mld_tensor_numel(const Tensor* t) { return t->numel(); }

MLD_API int mld_tensor_set_requires_grad(Tensor* t, int value) { MLD_TRY(t->set_requires_grad(value != 0)) }

// Copies the tensor's elements (any device, any layout) into host memory of exactly `nbytes`.
MLD_API int mld_tensor_copy_to(const Tensor* t, void* dst, int64_t nbytes) {
  MLD_TRY(({
    auto cpu = t->detach().to(at::kCPU).contiguous();
    int64_t size = cpu.numel() * static_cast<int64_t>(cpu.element_size());
    TORCH_CHECK(size == nbytes, "copy_to: the tensor holds ", size, " bytes but the destination has ", nbytes);
    if (size > 0) std::memcpy(dst, cpu.data_ptr(), static_cast<size_t>(size));
  }))
}

MLD_API int mld_tensor_item_double(const Tensor* t, double* out) { MLD_TRY(*out = t->item<double>()) }
MLD_API int mld_tensor_item_long(const Tensor* t, int64_t* out) { MLD_TRY(*out = t->item<int64_t>()) }

MLD_API Tensor* mld_tensor_to(const Tensor* t, int dtype, int dt, int di, int copy) {
  MLD_TRY_TENSOR(t->to(mld::device(dt, di), static_cast<at::ScalarType>(dtype), /*non_blocking=*/false, copy != 0))
}
MLD_API Tensor* mld_tensor_clone(const Tensor* t) { MLD_TRY_TENSOR(t->clone()) }
MLD_API Tensor* mld_tensor_contiguous(const Tensor* t) { MLD_TRY_TENSOR(t->contiguous()) }
MLD_API Tensor* mld_tensor_detach(const Tensor* t) { MLD_TRY_TENSOR(t->detach()) }
MLD_API Tensor* mld_tensor_alias(const Tensor* t) { MLD_TRY_TENSOR(*t) }

// The accumulated gradient; *out stays nullptr when there is none yet.
MLD_API int mld_tensor_grad(const Tensor* t, Tensor** out) {
  MLD_TRY(({ *out = nullptr; const auto& g = t->grad(); if (g.defined()) *out = mld::wrap(g); }))
}
MLD_API int mld_tensor_set_grad(Tensor* t, const Tensor* grad) {
  MLD_TRY(t->mutable_grad() = grad ? *grad : Tensor())
}

// In-place updates used by initialisers and optimisers written in C#.
MLD_API int mld_tensor_copy_(Tensor* t, const Tensor* src) { MLD_TRY(t->copy_(*src)) }
MLD_API int mld_tensor_zero_(Tensor* t) { MLD_TRY(t->zero_()) }
MLD_API int mld_tensor_fill_(Tensor* t, double v) { MLD_TRY(t->fill_(mld::scalar_for(*t, v))) }
MLD_API int mld_tensor_uniform_(Tensor* t, double low, double high) { MLD_TRY(t->uniform_(low, high)) }
MLD_API int mld_tensor_normal_(Tensor* t, double mean, double std) { MLD_TRY(t->normal_(mean, std)) }
MLD_API int mld_tensor_add_(Tensor* t, const Tensor* other, double alpha) { MLD_TRY(t->add_(*other, mld::scalar_for(*t, alpha))) }
MLD_API int mld_tensor_mul_scalar_(Tensor* t, double v) { MLD_TRY(t->mul_(v)) }
MLD_API int mld_tensor_clamp_(Tensor* t, double low, double high) { MLD_TRY(t->clamp_(low, high)) }


// Replaces the data (and so device/dtype) of a tensor while keeping its identity — how Module.to(device)
// moves parameters without invalidating handles held elsewhere (an optimiser, a caller).
MLD_API int mld_tensor_set_data(Tensor* t, const Tensor* src) { MLD_TRY(t->set_data(*src)) }

// Shared plumbing of the C ABI: handle wrapping, the error channel and argument decoding.
// Every exported function is wrapped in MLD_TRY_*: no C++ exception ever crosses the ABI.
#pragma once
#include <torch/torch.h>
#include <atomic>
#include <string>
#include <vector>

#define MLD_API extern "C" __attribute__((visibility("default")))

using Tensor = at::Tensor;

namespace mld {

void set_error(const char* message);
void clear_error();
extern std::atomic<int64_t> live_tensors;

// Moves a tensor to the heap; C# owns the pointer (through a SafeHandle) and frees it with mld_tensor_free.
inline Tensor* wrap(Tensor t) {
  live_tensors.fetch_add(1, std::memory_order_relaxed);
  return new Tensor(std::move(t));
}

inline at::IntArrayRef dims(const int64_t* values, int64_t count) { return at::IntArrayRef(values, static_cast<size_t>(count)); }

inline c10::optional<Tensor> optional_tensor(const Tensor* t) {
  return t ? c10::optional<Tensor>(*t) : c10::nullopt;
}

inline std::vector<Tensor> tensor_list(Tensor* const* handles, int64_t count) {
  std::vector<Tensor> list;
  list.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) list.push_back(*handles[i]);
  return list;
}

inline at::Device device(int type, int index) {
  return type == 1 ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index)) : at::Device(at::kCPU);
}

inline at::TensorOptions options(int dtype, int device_type, int device_index, bool requires_grad) {
  return at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)).device(device(device_type, device_index)).requires_grad(requires_grad);
}

// A Python number keeps an integer tensor integral (`labels + 1` stays int64); mirror that.
inline at::Scalar scalar_for(const Tensor& t, double value) {
  if (at::isIntegralType(t.scalar_type(), /*includeBool=*/false) && value == static_cast<double>(static_cast<int64_t>(value)))
    return at::Scalar(static_cast<int64_t>(value));
  return at::Scalar(value);
}

// Writes a list of tensors into a caller-provided array of handles (its length is known to the caller).
inline void write_list(const std::vector<Tensor>& list, Tensor** out) {
  for (size_t i = 0; i < list.size(); ++i) out[i] = wrap(list[i]);
}

}  // namespace mld

#define MLD_CATCH                                                          \
  catch (const c10::Error& e) { mld::set_error(e.what_without_backtrace()); } \
  catch (const std::exception& e) { mld::set_error(e.what()); }            \
  catch (...) { mld::set_error("unknown native error"); }

// For functions returning a new tensor: nullptr signals an error (read with mld_last_error).
#define MLD_TRY_TENSOR(expr) \
  try { return mld::wrap(expr); } MLD_CATCH return nullptr;

// For functions returning a status: 0 = success, 1 = error (read with mld_last_error).
#define MLD_TRY(body) \
  try { body; return 0; } MLD_CATCH return 1;

// Error channel, handle lifetime, library-wide settings (seed, threads, devices).
#include "mld.h"

namespace mld {
static thread_local std::string last_error;
static thread_local bool has_error = false;
std::atomic<int64_t> live_tensors{0};
void set_error(const char* message) { last_error = message ? message : "unknown native error"; has_error = true; }
void clear_error() { last_error.clear(); has_error = false; }
}  // namespace mld

// The message of the last failed call on this thread, or nullptr. Read it right after the failing call.
MLD_API const char* mld_last_error() { return mld::has_error ? mld::last_error.c_str() : nullptr; }
MLD_API void mld_clear_error() { mld::clear_error(); }

MLD_API void mld_tensor_free(Tensor* t) {
  if (!t) return;
  delete t;
  mld::live_tensors.fetch_sub(1, std::memory_order_relaxed);
}
MLD_API int64_t mld_tensor_live_count() { return mld::live_tensors.load(); }

MLD_API int mld_torch_manual_seed(uint64_t seed) { MLD_TRY(torch::manual_seed(seed)) }
MLD_API int mld_torch_set_num_threads(int n) { MLD_TRY(at::set_num_threads(n)) }
MLD_API int mld_torch_get_num_threads() { return at::get_num_threads(); }
MLD_API const char* mld_torch_version() { return TORCH_VERSION; }

MLD_API int mld_cuda_is_available() { return torch::cuda::is_available() ? 1 : 0; }
MLD_API int mld_cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }
MLD_API int mld_cuda_synchronize(int index) {
  MLD_TRY(if (torch::cuda::is_available()) torch::cuda::synchronize(index < 0 ? -1 : index))
}

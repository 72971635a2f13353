// Error channel, handle lifetime, library-wide settings (seed, threads, devices).
#include "mld.h"

#include <mutex>

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

// The default random generator of the CPU (cuda_index < 0) or of a CUDA device, as torch.get_rng_state() and
// torch.cuda.get_rng_state(i) reach it; its state is a CPU uint8 tensor, so a training run can stop and resume the
// same random stream.
static at::Generator default_generator(int cuda_index) {
  if (cuda_index < 0) return at::detail::getDefaultCPUGenerator();
  TORCH_CHECK(torch::cuda::is_available(), "this libtorch has no CUDA device");
  TORCH_CHECK(cuda_index < static_cast<int>(torch::cuda::device_count()), "no CUDA device ", cuda_index);
  return at::globalContext().defaultGenerator(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(cuda_index)));
}
MLD_API Tensor* mld_torch_get_rng_state(int cuda_index) {
  MLD_TRY_TENSOR(([&] {
    auto generator = default_generator(cuda_index);
    std::lock_guard<std::mutex> lock(generator.mutex());
    return generator.get_state();
  }()))
}
MLD_API int mld_torch_set_rng_state(int cuda_index, const Tensor* state) {
  MLD_TRY(
    TORCH_CHECK(state != nullptr, "set_rng_state: no state");
    auto generator = default_generator(cuda_index);
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(*state);
  )
}
MLD_API int mld_torch_set_num_threads(int n) { MLD_TRY(at::set_num_threads(n)) }
MLD_API int mld_torch_get_num_threads() { return at::get_num_threads(); }
MLD_API const char* mld_torch_version() { return TORCH_VERSION; }

MLD_API int mld_cuda_is_available() { return torch::cuda::is_available() ? 1 : 0; }
MLD_API int mld_cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }
MLD_API int mld_cuda_synchronize(int index) {
  MLD_TRY(if (torch::cuda::is_available()) torch::cuda::synchronize(index < 0 ? -1 : index))
}

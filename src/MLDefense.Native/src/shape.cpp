// Shape, indexing and joining operations.
#include "mld.h"

using mld::dims;

MLD_API Tensor* mld_tensor_reshape(const Tensor* a, const int64_t* s, int64_t n) { MLD_TRY_TENSOR(a->reshape(dims(s, n))) }
MLD_API Tensor* mld_tensor_view(const Tensor* a, const int64_t* s, int64_t n) { MLD_TRY_TENSOR(a->view(dims(s, n))) }
MLD_API Tensor* mld_tensor_flatten(const Tensor* a, int64_t start, int64_t end) { MLD_TRY_TENSOR(a->flatten(start, end)) }
MLD_API Tensor* mld_tensor_permute(const Tensor* a, const int64_t* d, int64_t n) { MLD_TRY_TENSOR(a->permute(dims(d, n))) }
MLD_API Tensor* mld_tensor_transpose(const Tensor* a, int64_t d0, int64_t d1) { MLD_TRY_TENSOR(a->transpose(d0, d1)) }
MLD_API Tensor* mld_tensor_squeeze(const Tensor* a) { MLD_TRY_TENSOR(a->squeeze()) }
MLD_API Tensor* mld_tensor_squeeze_dim(const Tensor* a, int64_t d) { MLD_TRY_TENSOR(a->squeeze(d)) }
MLD_API Tensor* mld_tensor_unsqueeze(const Tensor* a, int64_t d) { MLD_TRY_TENSOR(a->unsqueeze(d)) }
MLD_API Tensor* mld_tensor_expand(const Tensor* a, const int64_t* s, int64_t n) { MLD_TRY_TENSOR(a->expand(dims(s, n))) }
MLD_API Tensor* mld_tensor_repeat(const Tensor* a, const int64_t* s, int64_t n) { MLD_TRY_TENSOR(a->repeat(dims(s, n))) }
MLD_API Tensor* mld_tensor_flip(const Tensor* a, const int64_t* d, int64_t n) { MLD_TRY_TENSOR(a->flip(dims(d, n))) }
MLD_API Tensor* mld_tensor_narrow(const Tensor* a, int64_t dim, int64_t start, int64_t length) { MLD_TRY_TENSOR(a->narrow(dim, start, length)) }
MLD_API Tensor* mld_tensor_select(const Tensor* a, int64_t dim, int64_t index) { MLD_TRY_TENSOR(a->select(dim, index)) }
MLD_API Tensor* mld_tensor_index_select(const Tensor* a, int64_t dim, const Tensor* index) { MLD_TRY_TENSOR(a->index_select(dim, *index)) }
MLD_API Tensor* mld_tensor_gather(const Tensor* a, int64_t dim, const Tensor* index) { MLD_TRY_TENSOR(a->gather(dim, *index)) }
MLD_API Tensor* mld_tensor_scatter(const Tensor* a, int64_t dim, const Tensor* index, const Tensor* src) { MLD_TRY_TENSOR(a->scatter(dim, *index, *src)) }
MLD_API Tensor* mld_tensor_masked_fill(const Tensor* a, const Tensor* mask, double value) { MLD_TRY_TENSOR(a->masked_fill(*mask, mld::scalar_for(*a, value))) }
MLD_API Tensor* mld_tensor_masked_select(const Tensor* a, const Tensor* mask) { MLD_TRY_TENSOR(a->masked_select(*mask)) }
MLD_API Tensor* mld_tensor_one_hot(const Tensor* a, int64_t classes) { MLD_TRY_TENSOR(at::one_hot(*a, classes)) }

// mode: 0 constant, 1 reflect, 2 replicate, 3 circular (as torch.nn.functional.pad).
MLD_API Tensor* mld_tensor_pad(const Tensor* a, const int64_t* p, int64_t n, int mode, double value) {
  namespace F = torch::nn::functional;
  MLD_TRY_TENSOR(([&] {
    auto o = F::PadFuncOptions(std::vector<int64_t>(p, p + n)).value(value);
    switch (mode) {
      case 0: o.mode(torch::kConstant); break;
      case 1: o.mode(torch::kReflect); break;
      case 2: o.mode(torch::kReplicate); break;
      case 3: o.mode(torch::kCircular); break;
      default: TORCH_CHECK(false, "pad: unknown mode ", mode);
    }
    return F::pad(*a, o);
  }()))
}

MLD_API Tensor* mld_tensor_cat(Tensor* const* list, int64_t count, int64_t dim) { MLD_TRY_TENSOR(at::cat(mld::tensor_list(list, count), dim)) }
MLD_API Tensor* mld_tensor_stack(Tensor* const* list, int64_t count, int64_t dim) { MLD_TRY_TENSOR(at::stack(mld::tensor_list(list, count), dim)) }

// split/chunk return a variable number of tensors: first ask for the count, then fill the array.
MLD_API int mld_tensor_split(const Tensor* a, const int64_t* sizes, int64_t n, int64_t dim, Tensor** out, int64_t* count) {
  MLD_TRY(({
    auto parts = n == 1 ? a->split(sizes[0], dim) : a->split_with_sizes(dims(sizes, n), dim);
    if (out) mld::write_list(parts, out); else *count = static_cast<int64_t>(parts.size());
  }))
}
MLD_API int mld_tensor_chunk(const Tensor* a, int64_t chunks, int64_t dim, Tensor** out, int64_t* count) {
  MLD_TRY(({
    auto parts = a->chunk(chunks, dim);
    if (out) mld::write_list(parts, out); else *count = static_cast<int64_t>(parts.size());
  }))
}

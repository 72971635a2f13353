// Elementwise arithmetic, comparisons, reductions and linear algebra.
#include "mld.h"

using mld::dims;
using mld::scalar_for;

#define UNARY(name, expr) \
  MLD_API Tensor* mld_tensor_##name(const Tensor* a) { MLD_TRY_TENSOR(expr) }
UNARY(neg, a->neg())
UNARY(abs, a->abs())
UNARY(sign, a->sign())
UNARY(exp, a->exp())
UNARY(log, a->log())
UNARY(log1p, a->log1p())
UNARY(sqrt, a->sqrt())
UNARY(rsqrt, a->rsqrt())
UNARY(square, a->square())
UNARY(floor, a->floor())
UNARY(ceil, a->ceil())
UNARY(round, a->round())
UNARY(sin, a->sin())
UNARY(cos, a->cos())
UNARY(reciprocal, a->reciprocal())
UNARY(logical_not, a->logical_not())
UNARY(isnan, a->isnan())
UNARY(isfinite, a->isfinite())
UNARY(any, a->any())
UNARY(all, a->all())
UNARY(sum, a->sum())
UNARY(mean, a->mean())
UNARY(max, a->max())
UNARY(min, a->min())
UNARY(t, a->t())
UNARY(relu, at::relu(*a))
UNARY(sigmoid, at::sigmoid(*a))
UNARY(tanh, at::tanh(*a))

#define BINARY(name, expr) \
  MLD_API Tensor* mld_tensor_##name(const Tensor* a, const Tensor* b) { MLD_TRY_TENSOR(expr) }
#define BINARY_SCALAR(name, expr) \
  MLD_API Tensor* mld_tensor_##name##_scalar(const Tensor* a, double s) { MLD_TRY_TENSOR(expr) }
BINARY(sub, at::sub(*a, *b))
BINARY(mul, at::mul(*a, *b))
BINARY(div, at::div(*a, *b))
BINARY(pow, at::pow(*a, *b))
BINARY(maximum, at::maximum(*a, *b))
BINARY(minimum, at::minimum(*a, *b))
BINARY(eq, at::eq(*a, *b))
BINARY(ne, at::ne(*a, *b))
BINARY(lt, at::lt(*a, *b))
BINARY(le, at::le(*a, *b))
BINARY(gt, at::gt(*a, *b))
BINARY(ge, at::ge(*a, *b))
BINARY(logical_and, at::logical_and(*a, *b))
BINARY(logical_or, at::logical_or(*a, *b))
BINARY(logical_xor, at::logical_xor(*a, *b))
BINARY(matmul, at::matmul(*a, *b))
BINARY(mm, at::mm(*a, *b))
BINARY(bmm, at::bmm(*a, *b))
BINARY_SCALAR(add, at::add(*a, scalar_for(*a, s)))
BINARY_SCALAR(sub, at::sub(*a, scalar_for(*a, s)))
BINARY_SCALAR(mul, at::mul(*a, scalar_for(*a, s)))
BINARY_SCALAR(div, at::div(*a, scalar_for(*a, s)))
BINARY_SCALAR(pow, at::pow(*a, scalar_for(*a, s)))
BINARY_SCALAR(rsub, at::rsub(*a, scalar_for(*a, s)))
BINARY_SCALAR(rdiv, at::mul(at::reciprocal(*a), s))
BINARY_SCALAR(eq, at::eq(*a, scalar_for(*a, s)))
BINARY_SCALAR(ne, at::ne(*a, scalar_for(*a, s)))
BINARY_SCALAR(lt, at::lt(*a, scalar_for(*a, s)))
BINARY_SCALAR(le, at::le(*a, scalar_for(*a, s)))
BINARY_SCALAR(gt, at::gt(*a, scalar_for(*a, s)))
BINARY_SCALAR(ge, at::ge(*a, scalar_for(*a, s)))

MLD_API Tensor* mld_tensor_add(const Tensor* a, const Tensor* b, double alpha) { MLD_TRY_TENSOR(at::add(*a, *b, mld::scalar_for(*a, alpha))) }
MLD_API Tensor* mld_tensor_scalar_pow(double base, const Tensor* e) { MLD_TRY_TENSOR(at::pow(base, *e)) }
MLD_API Tensor* mld_tensor_where(const Tensor* cond, const Tensor* a, const Tensor* b) { MLD_TRY_TENSOR(at::where(*cond, *a, *b)) }

// NaN bounds mean "no bound on that side".
// Integral bounds keep an integer tensor integral, as Python numbers do (scalar_for).
MLD_API Tensor* mld_tensor_clamp(const Tensor* a, double low, double high) {
  MLD_TRY_TENSOR(at::clamp(*a, std::isnan(low) ? c10::optional<at::Scalar>() : scalar_for(*a, low),
                           std::isnan(high) ? c10::optional<at::Scalar>() : scalar_for(*a, high)))
}
MLD_API Tensor* mld_tensor_clamp_tensor(const Tensor* a, const Tensor* low, const Tensor* high) {
  MLD_TRY_TENSOR(at::clamp(*a, mld::optional_tensor(low), mld::optional_tensor(high)))
}

// Reductions over dims (count 0 with `all` semantics is handled on the C# side).
// var/std/norm: count 0 reduces over every dimension; with keepdim the result keeps them all as size 1 (as PyTorch).
static std::vector<int64_t> all_dims(const Tensor& a) {
  std::vector<int64_t> d(static_cast<size_t>(a.dim()));
  for (int64_t i = 0; i < a.dim(); ++i) d[static_cast<size_t>(i)] = i;
  return d;
}
MLD_API Tensor* mld_tensor_sum_dims(const Tensor* a, const int64_t* d, int64_t n, int keepdim) { MLD_TRY_TENSOR(a->sum(dims(d, n), keepdim != 0)) }
MLD_API Tensor* mld_tensor_mean_dims(const Tensor* a, const int64_t* d, int64_t n, int keepdim) { MLD_TRY_TENSOR(a->mean(dims(d, n), keepdim != 0)) }
MLD_API Tensor* mld_tensor_var(const Tensor* a, const int64_t* d, int64_t n, int unbiased, int keepdim) {
  MLD_TRY_TENSOR(n == 0 && keepdim == 0 ? at::var(*a, unbiased != 0)
                                         : at::var(*a, n == 0 ? at::IntArrayRef(all_dims(*a)) : dims(d, n), unbiased != 0, keepdim != 0))
}
MLD_API Tensor* mld_tensor_std(const Tensor* a, const int64_t* d, int64_t n, int unbiased, int keepdim) {
  MLD_TRY_TENSOR(n == 0 && keepdim == 0 ? at::std(*a, unbiased != 0)
                                         : at::std(*a, n == 0 ? at::IntArrayRef(all_dims(*a)) : dims(d, n), unbiased != 0, keepdim != 0))
}
MLD_API Tensor* mld_tensor_norm(const Tensor* a, double p, const int64_t* d, int64_t n, int keepdim) {
  MLD_TRY_TENSOR(n == 0 && keepdim == 0 ? at::norm(*a, p) : at::norm(*a, p, n == 0 ? at::IntArrayRef(all_dims(*a)) : dims(d, n), keepdim != 0))
}
MLD_API Tensor* mld_tensor_logsumexp(const Tensor* a, const int64_t* d, int64_t n, int keepdim) { MLD_TRY_TENSOR(at::logsumexp(*a, dims(d, n), keepdim != 0)) }
MLD_API int mld_tensor_max_dim(const Tensor* a, int64_t dim, int keepdim, Tensor** values, Tensor** indices) {
  MLD_TRY(({ auto r = at::max(*a, dim, keepdim != 0); *values = mld::wrap(std::get<0>(r)); *indices = mld::wrap(std::get<1>(r)); }))
}
MLD_API int mld_tensor_min_dim(const Tensor* a, int64_t dim, int keepdim, Tensor** values, Tensor** indices) {
  MLD_TRY(({ auto r = at::min(*a, dim, keepdim != 0); *values = mld::wrap(std::get<0>(r)); *indices = mld::wrap(std::get<1>(r)); }))
}
MLD_API Tensor* mld_tensor_argmax(const Tensor* a, int64_t dim, int has_dim, int keepdim) {
  MLD_TRY_TENSOR(at::argmax(*a, has_dim ? c10::optional<int64_t>(dim) : c10::nullopt, keepdim != 0))
}
MLD_API Tensor* mld_tensor_argmin(const Tensor* a, int64_t dim, int has_dim, int keepdim) {
  MLD_TRY_TENSOR(at::argmin(*a, has_dim ? c10::optional<int64_t>(dim) : c10::nullopt, keepdim != 0))
}
MLD_API int mld_tensor_topk(const Tensor* a, int64_t k, int64_t dim, int largest, int sorted, Tensor** values, Tensor** indices) {
  MLD_TRY(({ auto r = at::topk(*a, k, dim, largest != 0, sorted != 0); *values = mld::wrap(std::get<0>(r)); *indices = mld::wrap(std::get<1>(r)); }))
}
MLD_API Tensor* mld_tensor_softmax(const Tensor* a, int64_t dim) { MLD_TRY_TENSOR(at::softmax(*a, dim)) }
MLD_API Tensor* mld_tensor_log_softmax(const Tensor* a, int64_t dim) { MLD_TRY_TENSOR(at::log_softmax(*a, dim)) }
MLD_API Tensor* mld_tensor_cumsum(const Tensor* a, int64_t dim) { MLD_TRY_TENSOR(at::cumsum(*a, dim)) }

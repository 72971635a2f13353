using MLDefense.Torch.Native;
using static MLDefense.Torch.Native.NativeMethods;

namespace MLDefense.Torch;

public sealed partial class Tensor
{
    // ---- Elementwise ------------------------------------------------------------------------------------

    /// <summary>-x</summary>
    public Tensor neg() => Wrap(mld_tensor_neg(Handle));
    /// <summary>|x|</summary>
    public Tensor abs() => Wrap(mld_tensor_abs(Handle));
    /// <summary>sign(x) in {-1, 0, 1}</summary>
    public Tensor sign() => Wrap(mld_tensor_sign(Handle));
    /// <summary>e^x</summary>
    public Tensor exp() => Wrap(mld_tensor_exp(Handle));
    /// <summary>ln x</summary>
    public Tensor log() => Wrap(mld_tensor_log(Handle));
    /// <summary>ln(1 + x)</summary>
    public Tensor log1p() => Wrap(mld_tensor_log1p(Handle));
    /// <summary>√x</summary>
    public Tensor sqrt() => Wrap(mld_tensor_sqrt(Handle));
    /// <summary>1/√x</summary>
    public Tensor rsqrt() => Wrap(mld_tensor_rsqrt(Handle));
    /// <summary>x²</summary>
    public Tensor square() => Wrap(mld_tensor_square(Handle));
    /// <summary>⌊x⌋</summary>
    public Tensor floor() => Wrap(mld_tensor_floor(Handle));
    /// <summary>⌈x⌉</summary>
    public Tensor ceil() => Wrap(mld_tensor_ceil(Handle));
    /// <summary>Round half to even.</summary>
    public Tensor round() => Wrap(mld_tensor_round(Handle));
    /// <summary>sin x</summary>
    public Tensor sin() => Wrap(mld_tensor_sin(Handle));
    /// <summary>cos x</summary>
    public Tensor cos() => Wrap(mld_tensor_cos(Handle));
    /// <summary>1/x</summary>
    public Tensor reciprocal() => Wrap(mld_tensor_reciprocal(Handle));
    /// <summary>max(x, 0)</summary>
    public Tensor relu() => Wrap(mld_tensor_relu(Handle));
    /// <summary>1 / (1 + e^-x)</summary>
    public Tensor sigmoid() => Wrap(mld_tensor_sigmoid(Handle));
    /// <summary>tanh x</summary>
    public Tensor tanh() => Wrap(mld_tensor_tanh(Handle));

    /// <summary>this + alpha·other (broadcasting).</summary>
    public Tensor add(Tensor other, double alpha = 1) => Wrap(mld_tensor_add(Handle, other.Handle, alpha));
    /// <summary>this + value</summary>
    public Tensor add(double value) => Wrap(mld_tensor_add_scalar(Handle, value));
    /// <summary>this − other</summary>
    public Tensor sub(Tensor other) => Wrap(mld_tensor_sub(Handle, other.Handle));
    /// <summary>this − value</summary>
    public Tensor sub(double value) => Wrap(mld_tensor_sub_scalar(Handle, value));
    /// <summary>this · other</summary>
    public Tensor mul(Tensor other) => Wrap(mld_tensor_mul(Handle, other.Handle));
    /// <summary>this · value</summary>
    public Tensor mul(double value) => Wrap(mld_tensor_mul_scalar(Handle, value));
    /// <summary>this / other (true division)</summary>
    public Tensor div(Tensor other) => Wrap(mld_tensor_div(Handle, other.Handle));
    /// <summary>this / value</summary>
    public Tensor div(double value) => Wrap(mld_tensor_div_scalar(Handle, value));
    /// <summary>this ^ exponent</summary>
    public Tensor pow(Tensor exponent) => Wrap(mld_tensor_pow(Handle, exponent.Handle));
    /// <summary>this ^ exponent</summary>
    public Tensor pow(double exponent) => Wrap(mld_tensor_pow_scalar(Handle, exponent));
    /// <summary>Elementwise maximum.</summary>
    public Tensor maximum(Tensor other) => Wrap(mld_tensor_maximum(Handle, other.Handle));
    /// <summary>Elementwise minimum.</summary>
    public Tensor minimum(Tensor other) => Wrap(mld_tensor_minimum(Handle, other.Handle));

    /// <summary>Clamps to [min, max]; a null bound is no bound.</summary>
    public Tensor clamp(double? min = null, double? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("clamp: give at least one of min and max.");
        return Wrap(mld_tensor_clamp(Handle, min ?? double.NaN, max ?? double.NaN));
    }

    /// <summary>Clamps elementwise between tensors (broadcasting); a null bound is no bound.</summary>
    public Tensor clamp(Tensor? min, Tensor? max)
    {
        if (min is null && max is null) throw new ArgumentException("clamp: give at least one of min and max.");
        return Wrap(mld_tensor_clamp_tensor(Handle, min?.Handle ?? TensorHandle.Null, max?.Handle ?? TensorHandle.Null));
    }

    /// <summary>Elementwise ==</summary>
    public Tensor eq(Tensor other) => Wrap(mld_tensor_eq(Handle, other.Handle));
    /// <summary>Elementwise ==</summary>
    public Tensor eq(double value) => Wrap(mld_tensor_eq_scalar(Handle, value));
    /// <summary>Elementwise !=</summary>
    public Tensor ne(Tensor other) => Wrap(mld_tensor_ne(Handle, other.Handle));
    /// <summary>Elementwise !=</summary>
    public Tensor ne(double value) => Wrap(mld_tensor_ne_scalar(Handle, value));
    /// <summary>Elementwise &lt;</summary>
    public Tensor lt(Tensor other) => Wrap(mld_tensor_lt(Handle, other.Handle));
    /// <summary>Elementwise &lt;</summary>
    public Tensor lt(double value) => Wrap(mld_tensor_lt_scalar(Handle, value));
    /// <summary>Elementwise &lt;=</summary>
    public Tensor le(Tensor other) => Wrap(mld_tensor_le(Handle, other.Handle));
    /// <summary>Elementwise &lt;=</summary>
    public Tensor le(double value) => Wrap(mld_tensor_le_scalar(Handle, value));
    /// <summary>Elementwise &gt;</summary>
    public Tensor gt(Tensor other) => Wrap(mld_tensor_gt(Handle, other.Handle));
    /// <summary>Elementwise &gt;</summary>
    public Tensor gt(double value) => Wrap(mld_tensor_gt_scalar(Handle, value));
    /// <summary>Elementwise &gt;=</summary>
    public Tensor ge(Tensor other) => Wrap(mld_tensor_ge(Handle, other.Handle));
    /// <summary>Elementwise &gt;=</summary>
    public Tensor ge(double value) => Wrap(mld_tensor_ge_scalar(Handle, value));
    /// <summary>Logical and.</summary>
    public Tensor logical_and(Tensor other) => Wrap(mld_tensor_logical_and(Handle, other.Handle));
    /// <summary>Logical or.</summary>
    public Tensor logical_or(Tensor other) => Wrap(mld_tensor_logical_or(Handle, other.Handle));
    /// <summary>Logical xor.</summary>
    public Tensor logical_xor(Tensor other) => Wrap(mld_tensor_logical_xor(Handle, other.Handle));
    /// <summary>Logical not.</summary>
    public Tensor logical_not() => Wrap(mld_tensor_logical_not(Handle));
    /// <summary>True where NaN.</summary>
    public Tensor isnan() => Wrap(mld_tensor_isnan(Handle));
    /// <summary>True where finite.</summary>
    public Tensor isfinite() => Wrap(mld_tensor_isfinite(Handle));
    /// <summary>True if any element is non-zero.</summary>
    public Tensor any() => Wrap(mld_tensor_any(Handle));
    /// <summary>True if every element is non-zero.</summary>
    public Tensor all() => Wrap(mld_tensor_all(Handle));

    // ---- Operators --------------------------------------------------------------------------------------

    /// <summary>Addition.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.add(b);
    /// <summary>Addition.</summary>
    public static Tensor operator +(Tensor a, double b) => a.add(b);
    /// <summary>Addition.</summary>
    public static Tensor operator +(double a, Tensor b) => b.add(a);
    /// <summary>Subtraction.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.sub(b);
    /// <summary>Subtraction.</summary>
    public static Tensor operator -(Tensor a, double b) => a.sub(b);
    /// <summary>Subtraction.</summary>
    public static Tensor operator -(double a, Tensor b) => Wrap(mld_tensor_rsub_scalar(b.Handle, a), "rsub");
    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => a.neg();
    /// <summary>Multiplication.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.mul(b);
    /// <summary>Multiplication.</summary>
    public static Tensor operator *(Tensor a, double b) => a.mul(b);
    /// <summary>Multiplication.</summary>
    public static Tensor operator *(double a, Tensor b) => b.mul(a);
    /// <summary>Division.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.div(b);
    /// <summary>Division.</summary>
    public static Tensor operator /(Tensor a, double b) => a.div(b);
    /// <summary>Division.</summary>
    public static Tensor operator /(double a, Tensor b) => Wrap(mld_tensor_rdiv_scalar(b.Handle, a), "rdiv");

    // ---- Reductions -------------------------------------------------------------------------------------

    /// <summary>Sum of all elements.</summary>
    public Tensor sum() => Wrap(mld_tensor_sum(Handle));
    /// <summary>Sum over dimensions.</summary>
    public unsafe Tensor sum(long[] dims, bool keepdim = false) { fixed (long* d = dims) return Wrap(mld_tensor_sum_dims(Handle, d, dims.Length, keepdim ? 1 : 0)); }
    /// <summary>Sum over one dimension.</summary>
    public Tensor sum(long dim, bool keepdim = false) => sum([dim], keepdim);
    /// <summary>Mean of all elements.</summary>
    public Tensor mean() => Wrap(mld_tensor_mean(Handle));
    /// <summary>Mean over dimensions.</summary>
    public unsafe Tensor mean(long[] dims, bool keepdim = false) { fixed (long* d = dims) return Wrap(mld_tensor_mean_dims(Handle, d, dims.Length, keepdim ? 1 : 0)); }
    /// <summary>Mean over one dimension.</summary>
    public Tensor mean(long dim, bool keepdim = false) => mean([dim], keepdim);
    /// <summary>Variance over dims (all when null); unbiased divides by N−1.</summary>
    public unsafe Tensor var(long[]? dims = null, bool unbiased = true, bool keepdim = false)
    {
        dims ??= [];
        fixed (long* d = dims) return Wrap(mld_tensor_var(Handle, d, dims.Length, unbiased ? 1 : 0, keepdim ? 1 : 0));
    }
    /// <summary>Standard deviation over dims (all when null); unbiased divides by N−1.</summary>
    public unsafe Tensor std(long[]? dims = null, bool unbiased = true, bool keepdim = false)
    {
        dims ??= [];
        fixed (long* d = dims) return Wrap(mld_tensor_std(Handle, d, dims.Length, unbiased ? 1 : 0, keepdim ? 1 : 0));
    }
    /// <summary>p-norm (p = 1, 2, or <see cref="double.PositiveInfinity"/>) over dims (all when null).</summary>
    public unsafe Tensor norm(double p = 2, long[]? dims = null, bool keepdim = false)
    {
        dims ??= [];
        fixed (long* d = dims) return Wrap(mld_tensor_norm(Handle, p, d, dims.Length, keepdim ? 1 : 0));
    }
    /// <summary>log Σ exp over dims.</summary>
    public unsafe Tensor logsumexp(long[] dims, bool keepdim = false) { fixed (long* d = dims) return Wrap(mld_tensor_logsumexp(Handle, d, dims.Length, keepdim ? 1 : 0)); }
    /// <summary>log Σ exp over one dimension.</summary>
    public Tensor logsumexp(long dim, bool keepdim = false) => logsumexp([dim], keepdim);
    /// <summary>Largest element.</summary>
    public Tensor max() => Wrap(mld_tensor_max(Handle));
    /// <summary>Smallest element.</summary>
    public Tensor min() => Wrap(mld_tensor_min(Handle));
    /// <summary>Largest values along a dimension and where they are.</summary>
    public (Tensor values, Tensor indices) max(long dim, bool keepdim = false)
    {
        Check.Status(mld_tensor_max_dim(Handle, dim, keepdim ? 1 : 0, out var v, out var i), "max");
        return (new Tensor(v), new Tensor(i));
    }
    /// <summary>Smallest values along a dimension and where they are.</summary>
    public (Tensor values, Tensor indices) min(long dim, bool keepdim = false)
    {
        Check.Status(mld_tensor_min_dim(Handle, dim, keepdim ? 1 : 0, out var v, out var i), "min");
        return (new Tensor(v), new Tensor(i));
    }
    /// <summary>Index of the largest element (flattened when dim is null).</summary>
    public Tensor argmax(long? dim = null, bool keepdim = false) => Wrap(mld_tensor_argmax(Handle, dim ?? 0, dim.HasValue ? 1 : 0, keepdim ? 1 : 0));
    /// <summary>Index of the smallest element (flattened when dim is null).</summary>
    public Tensor argmin(long? dim = null, bool keepdim = false) => Wrap(mld_tensor_argmin(Handle, dim ?? 0, dim.HasValue ? 1 : 0, keepdim ? 1 : 0));
    /// <summary>The k largest (or smallest) values along a dimension and their indices.</summary>
    public (Tensor values, Tensor indices) topk(long k, long dim = -1, bool largest = true, bool sorted = true)
    {
        Check.Status(mld_tensor_topk(Handle, k, dim, largest ? 1 : 0, sorted ? 1 : 0, out var v, out var i), "topk");
        return (new Tensor(v), new Tensor(i));
    }
    /// <summary>Softmax along a dimension.</summary>
    public Tensor softmax(long dim) => Wrap(mld_tensor_softmax(Handle, dim));
    /// <summary>Log-softmax along a dimension.</summary>
    public Tensor log_softmax(long dim) => Wrap(mld_tensor_log_softmax(Handle, dim));
    /// <summary>Cumulative sum along a dimension.</summary>
    public Tensor cumsum(long dim) => Wrap(mld_tensor_cumsum(Handle, dim));

    // ---- Linear algebra ---------------------------------------------------------------------------------

    /// <summary>Matrix product with broadcasting (<c>@</c>).</summary>
    public Tensor matmul(Tensor other) => Wrap(mld_tensor_matmul(Handle, other.Handle));
    /// <summary>2-D matrix product.</summary>
    public Tensor mm(Tensor other) => Wrap(mld_tensor_mm(Handle, other.Handle));
    /// <summary>Batched 3-D matrix product.</summary>
    public Tensor bmm(Tensor other) => Wrap(mld_tensor_bmm(Handle, other.Handle));
    /// <summary>Transpose of a 2-D tensor.</summary>
    public Tensor t() => Wrap(mld_tensor_t(Handle));
}

using System.Runtime.CompilerServices;
using MLDefense.Torch.Native;
using static MLDefense.Torch.Native.NativeMethods;

namespace MLDefense.Torch;

/// <summary>
/// A libtorch tensor. Method names mirror PyTorch's so papers' code reads across line by line.
/// Every operation returns a new <see cref="Tensor"/> that owns a native handle: dispose it, or create it
/// inside a <see cref="DisposeScope"/> (<c>using var scope = torch.NewDisposeScope();</c>).
/// Using a disposed tensor throws <see cref="ObjectDisposedException"/>; a failed libtorch call throws
/// <see cref="TorchException"/> with libtorch's message.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    internal readonly TensorHandle Handle;
    internal DisposeScope? Scope;

    internal Tensor(IntPtr native)
    {
        Handle = new TensorHandle(native);
        DisposeScope.Register(this);
    }

    internal static Tensor Wrap(IntPtr native, [CallerMemberName] string op = "") => new(Check.Ptr(native, op));

    /// <summary>True once the native tensor has been freed.</summary>
    public bool IsDisposed => Handle.IsClosed;

    /// <summary>Frees the native tensor now (safe to call more than once).</summary>
    public void Dispose()
    {
        Handle.Dispose();
    }

    /// <summary>Removes the tensor from its dispose scope: the caller now owns it.</summary>
    public Tensor DetachFromDisposeScope()
    {
        DisposeScope.Forget(this);
        return this;
    }

    /// <summary>Moves the tensor to the scope enclosing its current one.</summary>
    public Tensor MoveToOuterDisposeScope() => Scope?.MoveToOuter(this) ?? this;

    // ---- Inspection -------------------------------------------------------------------------------------

    /// <summary>Number of dimensions.</summary>
    public long dim() => mld_tensor_ndim(Handle);

    /// <summary>The sizes of every dimension (<c>tensor.shape</c>).</summary>
    public unsafe long[] shape
    {
        get
        {
            var result = new long[mld_tensor_ndim(Handle)];
            fixed (long* p = result) mld_tensor_shape(Handle, p);
            return result;
        }
    }

    /// <summary>The size of one dimension (negative counts from the end).</summary>
    public long size(long dimension)
    {
        var s = shape;
        long d = dimension < 0 ? dimension + s.Length : dimension;
        if (d < 0 || d >= s.Length)
            throw new ArgumentOutOfRangeException(nameof(dimension), $"size: dimension {dimension} is out of range for a tensor of {s.Length} dimensions");
        return s[d];
    }

    /// <summary>Total number of elements.</summary>
    public long numel() => mld_tensor_numel(Handle);

    /// <summary>Element type.</summary>
    public ScalarType dtype => (ScalarType)mld_tensor_dtype(Handle);

    /// <summary>The device holding the data.</summary>
    public Device device => new((DeviceType)mld_tensor_device_type(Handle), mld_tensor_device_index(Handle));

    /// <summary>Whether autograd records operations on this tensor.</summary>
    public bool requires_grad
    {
        get => mld_tensor_requires_grad(Handle) != 0;
        set => Check.Status(mld_tensor_set_requires_grad(Handle, value ? 1 : 0), "requires_grad");
    }

    /// <summary>Sets <see cref="requires_grad"/> and returns this tensor.</summary>
    public Tensor requires_grad_(bool value = true)
    {
        requires_grad = value;
        return this;
    }

    /// <summary>True for tensors created by the user rather than by an operation.</summary>
    public bool is_leaf => mld_tensor_is_leaf(Handle) != 0;

    /// <summary>The accumulated gradient, or null. Each read returns a new handle to the same storage.</summary>
    public Tensor? grad
    {
        get
        {
            Check.Status(mld_tensor_grad(Handle, out var g), "grad");
            return g == IntPtr.Zero ? null : new Tensor(g);
        }
        set => Check.Status(mld_tensor_set_grad(Handle, value?.Handle ?? TensorHandle.Null), "grad");
    }

    /// <inheritdoc />
    public override string ToString() =>
        IsDisposed ? "Tensor(disposed)" : $"Tensor(shape=[{string.Join(", ", shape)}], dtype={dtype}, device={device})";

    // ---- Host copies ------------------------------------------------------------------------------------

    /// <summary>Copies the elements (row-major) into a new array; <typeparamref name="T"/> must match <see cref="dtype"/>.</summary>
    public unsafe T[] data<T>() where T : unmanaged
    {
        var expected = ScalarTypes.Of<T>();
        if (expected != dtype)
            throw new InvalidOperationException($"data<{typeof(T).Name}>: the tensor holds {dtype}, not {expected}; convert it with to({expected}) first.");
        var result = new T[numel()];
        fixed (T* p = result) Check.Status(mld_tensor_copy_to(Handle, p, (long)result.Length * sizeof(T)), "data");
        return result;
    }

    /// <summary>Copies the elements into <paramref name="destination"/>, which must hold exactly numel() elements.</summary>
    public unsafe void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        var expected = ScalarTypes.Of<T>();
        if (expected != dtype)
            throw new InvalidOperationException($"CopyTo<{typeof(T).Name}>: the tensor holds {dtype}, not {expected}.");
        fixed (T* p = destination) Check.Status(mld_tensor_copy_to(Handle, p, (long)destination.Length * sizeof(T)), "CopyTo");
    }

    /// <summary>The value of a one-element tensor.</summary>
    public T item<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float) || typeof(T) == typeof(double))
        {
            Check.Status(mld_tensor_item_double(Handle, out double d), "item");
            return typeof(T) == typeof(float) ? (T)(object)(float)d : (T)(object)d;
        }
        Check.Status(mld_tensor_item_long(Handle, out long l), "item");
        if (typeof(T) == typeof(long)) return (T)(object)l;
        if (typeof(T) == typeof(int)) return (T)(object)checked((int)l);
        if (typeof(T) == typeof(bool)) return (T)(object)(l != 0);
        throw new NotSupportedException($"item<{typeof(T).Name}> is not supported.");
    }

    // ---- Conversion -------------------------------------------------------------------------------------

    /// <summary>Converts element type and/or device (returns a new handle even when nothing changes, as PyTorch does).</summary>
    public Tensor to(ScalarType type, Device device, bool copy = false) =>
        Wrap(mld_tensor_to(Handle, (int)type, (int)device.Type, device.Index, copy ? 1 : 0), "to");

    /// <summary>Converts the element type.</summary>
    public Tensor to(ScalarType type) => to(type, device);

    /// <summary>Moves to a device.</summary>
    public Tensor to(Device target) => to(dtype, target);

    /// <summary>Copies to host memory.</summary>
    public Tensor cpu() => to(Device.CPU);

    /// <summary>Copies to a CUDA device.</summary>
    public Tensor cuda(int index = -1) => to(Device.CUDA(index));

    /// <summary>A deep copy that stays in the autograd graph.</summary>
    public Tensor clone() => Wrap(mld_tensor_clone(Handle), "clone");

    /// <summary>A contiguous copy, or the same data when already contiguous.</summary>
    public Tensor contiguous() => Wrap(mld_tensor_contiguous(Handle), "contiguous");

    /// <summary>The same data, cut from the autograd graph.</summary>
    public Tensor detach() => Wrap(mld_tensor_detach(Handle), "detach");

    /// <summary>A second handle to the same tensor (shares data and autograd identity).</summary>
    public Tensor alias() => Wrap(mld_tensor_alias(Handle), "alias");

    // ---- In-place updates -------------------------------------------------------------------------------

    /// <summary>Copies <paramref name="source"/> into this tensor (broadcasting).</summary>
    public Tensor copy_(Tensor source) { Check.Status(mld_tensor_copy_(Handle, source.Handle), "copy_"); return this; }
    /// <summary>Replaces this tensor's data (device and dtype included) with <paramref name="source"/>'s, keeping its identity.</summary>
    public Tensor set_data(Tensor source) { Check.Status(mld_tensor_set_data(Handle, source.Handle), "set_data"); return this; }
    /// <summary>Fills with zeros.</summary>
    public Tensor zero_() { Check.Status(mld_tensor_zero_(Handle), "zero_"); return this; }
    /// <summary>Fills with a value.</summary>
    public Tensor fill_(double value) { Check.Status(mld_tensor_fill_(Handle, value), "fill_"); return this; }
    /// <summary>Fills with U(low, high).</summary>
    public Tensor uniform_(double low = 0, double high = 1) { Check.Status(mld_tensor_uniform_(Handle, low, high), "uniform_"); return this; }
    /// <summary>Fills with N(mean, std²).</summary>
    public Tensor normal_(double mean = 0, double std = 1) { Check.Status(mld_tensor_normal_(Handle, mean, std), "normal_"); return this; }
    /// <summary>this += alpha * other.</summary>
    public Tensor add_(Tensor other, double alpha = 1) { Check.Status(mld_tensor_add_(Handle, other.Handle, alpha), "add_"); return this; }
    /// <summary>this *= value.</summary>
    public Tensor mul_(double value) { Check.Status(mld_tensor_mul_scalar_(Handle, value), "mul_"); return this; }
    /// <summary>Clamps in place to [low, high].</summary>
    public Tensor clamp_(double low, double high) { Check.Status(mld_tensor_clamp_(Handle, low, high), "clamp_"); return this; }

    // ---- Autograd ---------------------------------------------------------------------------------------

    /// <summary>Accumulates gradients of this tensor into the leaves (<c>tensor.backward()</c>).</summary>
    public void backward(Tensor? gradient = null, bool? retain_graph = null, bool create_graph = false) =>
        torch.autograd.backward([this], gradient is null ? null : [gradient], retain_graph, create_graph);
}

using System.Runtime.InteropServices;
using MLDefense.Torch.Native;
using static MLDefense.Torch.Native.NativeMethods;

namespace MLDefense.Torch;

/// <summary>
/// The entry point, named as in PyTorch: <c>torch.zeros</c>, <c>torch.cat</c>, <c>torch.nn.functional.conv2d</c>,
/// <c>torch.autograd.grad</c>, <c>torch.manual_seed</c>... Default element type float32, default device the CPU.
/// </summary>
public static partial class torch
{
    /// <summary>The version of the libtorch the native shim was built against.</summary>
    public static string version => Marshal.PtrToStringUTF8(mld_torch_version()) ?? "";

    /// <summary>Native tensors currently alive (allocated by the shim and not yet freed) — for leak tests.</summary>
    public static long LiveNativeTensors => mld_tensor_live_count();

    /// <summary>Managed tensor handles currently alive — for leak tests.</summary>
    public static long LiveTensorHandles => TensorHandle.Live;

    /// <summary>Opens a <see cref="DisposeScope"/> on this thread.</summary>
    public static DisposeScope NewDisposeScope() => new();

    /// <summary>Seeds every generator (CPU and all CUDA devices).</summary>
    public static void manual_seed(ulong seed) => Check.Status(mld_torch_manual_seed(seed), "manual_seed");

    /// <summary>
    /// The state of the CPU's default random generator, a uint8 tensor on the CPU (PyTorch's <c>torch.get_rng_state()</c>):
    /// <see cref="set_rng_state"/> with it later draws the same numbers again, so a stopped training can resume its stream.
    /// </summary>
    public static Tensor get_rng_state() => Tensor.Wrap(mld_torch_get_rng_state(-1));

    /// <summary>Restores the CPU generator's state from <see cref="get_rng_state"/> (PyTorch's <c>torch.set_rng_state</c>).</summary>
    /// <exception cref="TorchException">The tensor is not a generator state.</exception>
    public static void set_rng_state(Tensor state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Check.Status(mld_torch_set_rng_state(-1, state.Handle), "set_rng_state");
    }

    /// <summary>Sets the number of intra-op threads libtorch uses.</summary>
    public static void set_num_threads(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "set_num_threads: need at least one thread");
        Check.Status(mld_torch_set_num_threads(threads), "set_num_threads");
    }

    /// <summary>The number of intra-op threads.</summary>
    public static int get_num_threads() => mld_torch_get_num_threads();

    // ---- Creation ---------------------------------------------------------------------------------------

    /// <summary>A tensor holding a copy of <paramref name="data"/> with the given shape (default: 1-D).</summary>
    public static unsafe Tensor tensor<T>(ReadOnlySpan<T> data, long[]? shape = null, Device? device = null, bool requires_grad = false) where T : unmanaged
    {
        shape ??= [data.Length];
        long count = 1;
        foreach (var s in shape) count *= s;
        if (count != data.Length)
            throw new ArgumentException($"tensor: {data.Length} values cannot fill the shape [{string.Join(", ", shape)}] ({count} elements).", nameof(shape));
        var d = device ?? Device.CPU;
        fixed (T* p = data)
        fixed (long* s = shape)
            return Tensor.Wrap(mld_tensor_from_data(p, s, shape.Length, (int)ScalarTypes.Of<T>(), (int)d.Type, d.Index, requires_grad ? 1 : 0));
    }

    /// <summary>A tensor holding a copy of <paramref name="data"/> with the given shape (default: 1-D).</summary>
    public static Tensor tensor<T>(T[] data, long[]? shape = null, Device? device = null, bool requires_grad = false) where T : unmanaged =>
        tensor<T>(data.AsSpan(), shape, device, requires_grad);

    /// <summary>A zero-dimensional tensor.</summary>
    public static Tensor scalar_tensor(double value, ScalarType dtype = ScalarType.Float32, Device? device = null) => full([], value, dtype, device);

    private static unsafe Tensor Create(long[] shape, ScalarType dtype, Device? device, bool requiresGrad, delegate*<long*, long, int, int, int, int, IntPtr> factory, string op)
    {
        ValidateShape(shape, op);
        var d = device ?? Device.CPU;
        fixed (long* s = shape) return Tensor.Wrap(factory(s, shape.Length, (int)dtype, (int)d.Type, d.Index, requiresGrad ? 1 : 0), op);
    }

    private static void ValidateShape(long[] shape, string op)
    {
        foreach (var s in shape)
            if (s < 0) throw new ArgumentException($"{op}: negative size in shape [{string.Join(", ", shape)}].", nameof(shape));
    }

    /// <summary>Uninitialised memory.</summary>
    public static unsafe Tensor empty(long[] shape, ScalarType dtype = ScalarType.Float32, Device? device = null, bool requires_grad = false) => Create(shape, dtype, device, requires_grad, &mld_tensor_empty, nameof(empty));
    /// <summary>Zeros.</summary>
    public static unsafe Tensor zeros(long[] shape, ScalarType dtype = ScalarType.Float32, Device? device = null, bool requires_grad = false) => Create(shape, dtype, device, requires_grad, &mld_tensor_zeros, nameof(zeros));
    /// <summary>Ones.</summary>
    public static unsafe Tensor ones(long[] shape, ScalarType dtype = ScalarType.Float32, Device? device = null, bool requires_grad = false) => Create(shape, dtype, device, requires_grad, &mld_tensor_ones, nameof(ones));
    /// <summary>U[0, 1).</summary>
    public static unsafe Tensor rand(long[] shape, ScalarType dtype = ScalarType.Float32, Device? device = null, bool requires_grad = false) => Create(shape, dtype, device, requires_grad, &mld_tensor_rand, nameof(rand));
    /// <summary>N(0, 1).</summary>
    public static unsafe Tensor randn(long[] shape, ScalarType dtype = ScalarType.Float32, Device? device = null, bool requires_grad = false) => Create(shape, dtype, device, requires_grad, &mld_tensor_randn, nameof(randn));

    /// <summary>Every element equal to <paramref name="value"/>.</summary>
    public static unsafe Tensor full(long[] shape, double value, ScalarType dtype = ScalarType.Float32, Device? device = null, bool requires_grad = false)
    {
        ValidateShape(shape, nameof(full));
        var d = device ?? Device.CPU;
        fixed (long* s = shape) return Tensor.Wrap(mld_tensor_full(s, shape.Length, value, (int)dtype, (int)d.Type, d.Index, requires_grad ? 1 : 0));
    }

    /// <summary>Integers drawn uniformly from [low, high).</summary>
    public static unsafe Tensor randint(long low, long high, long[] shape, ScalarType dtype = ScalarType.Int64, Device? device = null)
    {
        ValidateShape(shape, nameof(randint));
        var d = device ?? Device.CPU;
        fixed (long* s = shape) return Tensor.Wrap(mld_tensor_randint(low, high, s, shape.Length, (int)dtype, (int)d.Type, d.Index));
    }

    /// <summary>[start, end) in steps (int64 unless a dtype is given).</summary>
    public static Tensor arange(double start, double end, double step = 1, ScalarType dtype = ScalarType.Int64, Device? device = null)
    {
        var d = device ?? Device.CPU;
        return Tensor.Wrap(mld_tensor_arange(start, end, step, (int)dtype, (int)d.Type, d.Index));
    }

    /// <summary>[0, end).</summary>
    public static Tensor arange(long end, ScalarType dtype = ScalarType.Int64, Device? device = null) => arange(0, end, 1, dtype, device);

    /// <summary>A random permutation of 0..n−1.</summary>
    public static Tensor randperm(long n, Device? device = null)
    {
        var d = device ?? Device.CPU;
        return Tensor.Wrap(mld_tensor_randperm(n, (int)d.Type, d.Index));
    }

    /// <summary>Zeros shaped, typed and placed like <paramref name="t"/>.</summary>
    public static Tensor zeros_like(Tensor t, bool requires_grad = false) => zeros(t.shape, t.dtype, t.device, requires_grad);
    /// <summary>Ones like <paramref name="t"/>.</summary>
    public static Tensor ones_like(Tensor t, bool requires_grad = false) => ones(t.shape, t.dtype, t.device, requires_grad);
    /// <summary>A constant like <paramref name="t"/>.</summary>
    public static Tensor full_like(Tensor t, double value, bool requires_grad = false) => full(t.shape, value, t.dtype, t.device, requires_grad);
    /// <summary>U[0, 1) like <paramref name="t"/>.</summary>
    public static Tensor rand_like(Tensor t, bool requires_grad = false) => rand(t.shape, t.dtype, t.device, requires_grad);
    /// <summary>N(0, 1) like <paramref name="t"/>.</summary>
    public static Tensor randn_like(Tensor t, bool requires_grad = false) => randn(t.shape, t.dtype, t.device, requires_grad);
    /// <summary>Uninitialised like <paramref name="t"/>.</summary>
    public static Tensor empty_like(Tensor t, bool requires_grad = false) => empty(t.shape, t.dtype, t.device, requires_grad);

    // ---- Joining and selection --------------------------------------------------------------------------

    /// <summary>Concatenates along an existing dimension.</summary>
    public static unsafe Tensor cat(IReadOnlyList<Tensor> tensors, long dim = 0)
    {
        using var list = new HandleList(tensors);
        fixed (IntPtr* p = list.Pointers) return Tensor.Wrap(mld_tensor_cat(p, tensors.Count, dim));
    }

    /// <summary>Stacks along a new dimension.</summary>
    public static unsafe Tensor stack(IReadOnlyList<Tensor> tensors, long dim = 0)
    {
        using var list = new HandleList(tensors);
        fixed (IntPtr* p = list.Pointers) return Tensor.Wrap(mld_tensor_stack(p, tensors.Count, dim));
    }

    /// <summary>Elementwise choice: <paramref name="a"/> where <paramref name="condition"/>, else <paramref name="b"/>.</summary>
    public static Tensor where(Tensor condition, Tensor a, Tensor b) => Tensor.Wrap(mld_tensor_where(condition.Handle, a.Handle, b.Handle));
    /// <summary>Elementwise maximum.</summary>
    public static Tensor maximum(Tensor a, Tensor b) => a.maximum(b);
    /// <summary>Elementwise minimum.</summary>
    public static Tensor minimum(Tensor a, Tensor b) => a.minimum(b);
    /// <summary>Matrix product.</summary>
    public static Tensor matmul(Tensor a, Tensor b) => a.matmul(b);
    /// <summary>Batched matrix product.</summary>
    public static Tensor bmm(Tensor a, Tensor b) => a.bmm(b);
    /// <summary>base ^ exponent, elementwise.</summary>
    public static Tensor pow(double @base, Tensor exponent) => Tensor.Wrap(mld_tensor_scalar_pow(@base, exponent.Handle));

    // ---- Gradient modes ---------------------------------------------------------------------------------

    /// <summary>Disables gradient recording on this thread until disposed (<c>with torch.no_grad():</c>).</summary>
    public static GradModeScope no_grad() => new(false);
    /// <summary>Enables gradient recording on this thread until disposed.</summary>
    public static GradModeScope enable_grad() => new(true);
    /// <summary>Whether gradient recording is on for this thread.</summary>
    public static bool is_grad_enabled() => mld_autograd_is_grad_enabled() != 0;
    /// <summary>libtorch's inference mode on this thread until disposed (faster than no_grad; its tensors never join a graph).</summary>
    public static InferenceModeScope inference_mode() => new();

    /// <summary>CUDA devices.</summary>
    public static class cuda
    {
        /// <summary>Whether the loaded libtorch has CUDA and a device is present.</summary>
        public static bool is_available() => mld_cuda_is_available() != 0;
        /// <summary>Number of CUDA devices.</summary>
        public static int device_count() => mld_cuda_device_count();
        /// <summary>Waits for all work on a device (−1: the current one); a no-op without CUDA.</summary>
        public static void synchronize(int device = -1) => Check.Status(mld_cuda_synchronize(device), "cuda.synchronize");

        /// <summary>The state of CUDA device <paramref name="device"/>'s default random generator (PyTorch's <c>torch.cuda.get_rng_state</c>), a uint8 CPU tensor.</summary>
        /// <exception cref="TorchException">No such CUDA device.</exception>
        public static Tensor get_rng_state(int device = 0)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(device);
            return Tensor.Wrap(mld_torch_get_rng_state(device));
        }

        /// <summary>Restores CUDA device <paramref name="device"/>'s generator from <see cref="get_rng_state"/>.</summary>
        public static void set_rng_state(Tensor state, int device = 0)
        {
            ArgumentNullException.ThrowIfNull(state);
            ArgumentOutOfRangeException.ThrowIfNegative(device);
            Check.Status(mld_torch_set_rng_state(device, state.Handle), "cuda.set_rng_state");
        }
    }
}

/// <summary>Restores the previous gradient mode of the thread when disposed.</summary>
public sealed class GradModeScope : IDisposable
{
    private readonly bool previous;
    private bool disposed;
    internal GradModeScope(bool enabled) => previous = mld_autograd_set_grad_enabled(enabled ? 1 : 0) != 0;
    /// <summary>Restores the previous mode.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        mld_autograd_set_grad_enabled(previous ? 1 : 0);
    }
}

/// <summary>Leaves libtorch's inference mode when disposed (on the thread that entered it).</summary>
public sealed class InferenceModeScope : IDisposable
{
    private IntPtr guard;
    internal InferenceModeScope() => guard = Check.Ptr(mld_autograd_inference_mode_enter(), "inference_mode");
    /// <summary>Leaves inference mode.</summary>
    public void Dispose()
    {
        if (guard == IntPtr.Zero) return;
        mld_autograd_inference_mode_exit(guard);
        guard = IntPtr.Zero;
    }
}

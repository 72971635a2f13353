using System.Runtime.InteropServices;

namespace MLDefense.Torch.Native;

/// <summary>Owns one native <c>at::Tensor*</c>; releasing it frees the tensor (deterministically via Dispose, else by the finalizer).</summary>
internal sealed class TensorHandle : SafeHandle
{
    private static long live;

    /// <summary>Stands for "no tensor" where an argument is optional (a bias, a weight); never released.</summary>
    internal static readonly TensorHandle Null = new(IntPtr.Zero, owns: false);

    internal TensorHandle(IntPtr handle, bool owns = true) : base(IntPtr.Zero, owns)
    {
        SetHandle(handle);
        if (owns) Interlocked.Increment(ref live);
    }

    /// <summary>Managed tensor handles not yet released.</summary>
    internal static long Live => Interlocked.Read(ref live);

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.mld_tensor_free(handle);
        Interlocked.Decrement(ref live);
        return true;
    }
}

/// <summary>Owns one native <c>torch::optim::Optimizer*</c>.</summary>
internal sealed class OptimizerHandle : SafeHandle
{
    internal OptimizerHandle(IntPtr handle) : base(IntPtr.Zero, true) => SetHandle(handle);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() { NativeMethods.mld_optim_free(handle); return true; }
}

/// <summary>Turns the native error channel into .NET exceptions.</summary>
internal static class Check
{
    /// <summary>Wraps a returned tensor pointer, throwing the native message when it is null.</summary>
    internal static IntPtr Ptr(IntPtr result, string op)
    {
        if (result == IntPtr.Zero) Throw(op);
        return result;
    }

    /// <summary>Throws the native message when a status call failed.</summary>
    internal static void Status(int status, string op)
    {
        if (status != 0) Throw(op);
    }

    internal static void Throw(string op)
    {
        var message = Marshal.PtrToStringUTF8(NativeMethods.mld_last_error()) ?? "unknown native error";
        NativeMethods.mld_clear_error();
        throw new TorchException(op, message);
    }
}

/// <summary>
/// Pins the native pointers of a list of tensors for the duration of a call: each handle is add-ref'd so a
/// concurrent Dispose or the finalizer cannot free a tensor the native side is reading.
/// </summary>
internal readonly ref struct HandleList
{
    private readonly IReadOnlyList<Tensor?> tensors;
    internal readonly IntPtr[] Pointers;

    internal HandleList(IReadOnlyList<Tensor?> tensors)
    {
        this.tensors = tensors;
        Pointers = new IntPtr[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            if (t is null) continue;
            bool added = false;
            t.Handle.DangerousAddRef(ref added);
            Pointers[i] = t.Handle.DangerousGetHandle();
        }
    }

    public void Dispose()
    {
        foreach (var t in tensors) t?.Handle.DangerousRelease();
    }
}

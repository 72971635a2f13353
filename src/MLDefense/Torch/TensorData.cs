using System.Runtime.InteropServices;

namespace MLDefense.Torch;

/// <summary>Tensors from spans of managed memory, copied once (TorchSharp's <c>torch.tensor</c> takes whole arrays).</summary>
public static class TensorData
{
    /// <summary>Reads a tensor [N, ...] (any device, any dtype) back into a row-major float array.</summary>
    public static float[] ToArray(Tensor t)
    {
        using var f = t.dtype == ScalarType.Float32 ? t.alias() : t.to(ScalarType.Float32);
        return f.data<float>().ToArray();
    }

    /// <summary>A float32 tensor of <paramref name="shape"/> holding a copy of <paramref name="values"/>, on <paramref name="device"/>.</summary>
    public static Tensor FromSpan(ReadOnlySpan<float> values, long[] shape, Device device) =>
        FromBytes(MemoryMarshal.AsBytes(values), shape, ScalarType.Float32, device);

    /// <summary>A tensor of <paramref name="shape"/> and <paramref name="dtype"/> whose raw little-endian bytes are <paramref name="raw"/>.</summary>
    /// <exception cref="ArgumentException">The byte count does not match the shape and dtype.</exception>
    public static Tensor FromBytes(ReadOnlySpan<byte> raw, long[] shape, ScalarType dtype, Device device)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(device);
        using var scope = NewDisposeScope();
        var cpu = empty(shape, dtype);
        if (cpu.numel() * cpu.ElementSize != raw.Length)
            throw new ArgumentException($"[{string.Join(", ", shape)}] of {dtype} needs {cpu.numel() * cpu.ElementSize} bytes, got {raw.Length}.", nameof(raw));
        raw.CopyTo(cpu.bytes);
        return (device.type == DeviceType.CPU ? cpu : cpu.to(device)).MoveToOuterDisposeScope();
    }
}

namespace MLDefense.Torch;

/// <summary>Element types, with libtorch's own codes (<c>c10::ScalarType</c>).</summary>
public enum ScalarType
{
    /// <summary>uint8</summary>
    Byte = 0,
    /// <summary>int8</summary>
    Int8 = 1,
    /// <summary>int16</summary>
    Int16 = 2,
    /// <summary>int32</summary>
    Int32 = 3,
    /// <summary>int64 (class indices, <c>torch.long</c>)</summary>
    Int64 = 4,
    /// <summary>float16</summary>
    Float16 = 5,
    /// <summary>float32 (<c>torch.float</c>)</summary>
    Float32 = 6,
    /// <summary>float64 (<c>torch.double</c>)</summary>
    Float64 = 7,
    /// <summary>bool</summary>
    Bool = 11,
    /// <summary>bfloat16</summary>
    BFloat16 = 15,
}

/// <summary>Sizes and .NET counterparts of the element types.</summary>
public static class ScalarTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this ScalarType type) => type switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unsupported element type"),
    };

    /// <summary>True for floating-point types.</summary>
    public static bool IsFloatingPoint(this ScalarType type) =>
        type is ScalarType.Float16 or ScalarType.Float32 or ScalarType.Float64 or ScalarType.BFloat16;

    /// <summary>The element type that holds a .NET type's values.</summary>
    public static ScalarType Of<T>() where T : unmanaged => typeof(T) switch
    {
        var t when t == typeof(float) => ScalarType.Float32,
        var t when t == typeof(double) => ScalarType.Float64,
        var t when t == typeof(long) => ScalarType.Int64,
        var t when t == typeof(int) => ScalarType.Int32,
        var t when t == typeof(short) => ScalarType.Int16,
        var t when t == typeof(byte) => ScalarType.Byte,
        var t when t == typeof(sbyte) => ScalarType.Int8,
        var t when t == typeof(bool) => ScalarType.Bool,
        var t => throw new NotSupportedException($"No tensor element type for {t.Name}."),
    };
}

using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>
/// The type of a column, as in ML.NET. Kept to what the defenses need: numbers, booleans, text and
/// fixed-size float vectors (images are float vectors with an <see cref="ImageShape"/> annotation).
/// </summary>
public abstract class DataViewType : IEquatable<DataViewType>
{
    private protected DataViewType(Type rawType) => RawType = rawType;

    /// <summary>The .NET type of one value (for vectors: <c>float[]</c>).</summary>
    public Type RawType { get; }

    /// <inheritdoc />
    public abstract bool Equals(DataViewType? other);
    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is DataViewType t && Equals(t);
    /// <inheritdoc />
    public override int GetHashCode() => RawType.GetHashCode();
}

/// <summary>A scalar number: <see cref="Single"/>, <see cref="Double"/>, <see cref="Int32"/> (class labels), <see cref="Int64"/>.</summary>
public sealed class NumberDataViewType : DataViewType
{
    private NumberDataViewType(Type raw) : base(raw) { }
    /// <summary>float</summary>
    public static NumberDataViewType Single { get; } = new(typeof(float));
    /// <summary>double</summary>
    public static NumberDataViewType Double { get; } = new(typeof(double));
    /// <summary>int (class labels are 0-based Int32)</summary>
    public static NumberDataViewType Int32 { get; } = new(typeof(int));
    /// <summary>long</summary>
    public static NumberDataViewType Int64 { get; } = new(typeof(long));
    /// <inheritdoc />
    public override bool Equals(DataViewType? other) => ReferenceEquals(this, other);
    /// <inheritdoc />
    public override int GetHashCode() => RawType.GetHashCode();
    /// <inheritdoc />
    public override string ToString() => RawType.Name;
}

/// <summary>bool</summary>
public sealed class BooleanDataViewType : DataViewType
{
    private BooleanDataViewType() : base(typeof(bool)) { }
    /// <summary>The instance.</summary>
    public static BooleanDataViewType Instance { get; } = new();
    /// <inheritdoc />
    public override bool Equals(DataViewType? other) => ReferenceEquals(this, other);
    /// <inheritdoc />
    public override int GetHashCode() => 1;
    /// <inheritdoc />
    public override string ToString() => "Boolean";
}

/// <summary>string</summary>
public sealed class TextDataViewType : DataViewType
{
    private TextDataViewType() : base(typeof(string)) { }
    /// <summary>The instance.</summary>
    public static TextDataViewType Instance { get; } = new();
    /// <inheritdoc />
    public override bool Equals(DataViewType? other) => ReferenceEquals(this, other);
    /// <inheritdoc />
    public override int GetHashCode() => 2;
    /// <inheritdoc />
    public override string ToString() => "Text";
}

/// <summary>A fixed-size vector of floats with known dimensions (row-major), e.g. an image [C, H, W] or class scores [K].</summary>
public sealed class VectorDataViewType : DataViewType
{
    /// <summary>Creates the type; every dimension must be positive.</summary>
    public VectorDataViewType(params int[] dimensions) : base(typeof(float[]))
    {
        if (dimensions.Length == 0 || dimensions.Any(d => d <= 0))
            throw new ArgumentException($"A vector type needs positive dimensions, got [{string.Join(", ", dimensions)}].", nameof(dimensions));
        Dimensions = dimensions.ToArray();
        Size = dimensions.Aggregate(1, (a, b) => checked(a * b));
    }

    /// <summary>The dimensions.</summary>
    public IReadOnlyList<int> Dimensions { get; }
    /// <summary>The number of floats per row.</summary>
    public int Size { get; }

    /// <inheritdoc />
    public override bool Equals(DataViewType? other) => other is VectorDataViewType v && v.Dimensions.SequenceEqual(Dimensions);
    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Size, Dimensions.Count);
    /// <inheritdoc />
    public override string ToString() => $"Vector<Single, {string.Join("x", Dimensions)}>";
}

using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>Names the column a field or property maps to (default: its own name).</summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
public sealed class ColumnNameAttribute(string name) : Attribute
{
    /// <summary>The column name.</summary>
    public string Name { get; } = name;
}

/// <summary>Declares a <c>float[]</c> member as a fixed-size vector column.</summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
public sealed class VectorTypeAttribute(params int[] dimensions) : Attribute
{
    /// <summary>The dimensions.</summary>
    public int[] Dimensions { get; } = dimensions;
}

/// <summary>Declares a <c>float[]</c> member as an image column (CHW, values in [0, 1]).</summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
public sealed class ImageTypeAttribute(int channels, int height, int width) : Attribute
{
    /// <summary>The image shape.</summary>
    public ImageShape Shape { get; } = new ImageShape(channels, height, width).Validate();
}

/// <summary>Excludes a member from the columns.</summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
public sealed class NoColumnAttribute : Attribute;

using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Data;

/// <summary>
/// The image-column convention (DESIGN.md): what ImageAnalytics' <c>ExtractPixels</c> produces — a planar
/// <c>Vector&lt;Single, C, H, W&gt;</c>, the shape carried by the vector type's dimensions — checked the same way by
/// every estimator and transformer, with messages naming the column, what was expected and what was found.
/// </summary>
internal static class ImageColumns
{
    /// <summary>What an image column is, for messages.</summary>
    internal const string Expected = "a Single vector image [C, H, W] (as ExtractPixels makes: ml.Transforms.ExtractPixels(..., scaleImage: 1f / 255))";

    /// <summary>
    /// Checks that <paramref name="name"/> is an image column and, for a fitted model, that its shape is
    /// <paramref name="fittedShape"/>; returns the shape.
    /// </summary>
    /// <param name="schema">The input schema.</param>
    /// <param name="name">The image column.</param>
    /// <param name="fittedShape">The shape the model was fitted on, or null for an estimator.</param>
    /// <param name="role">What the component does with the image ("the image SAEC scores").</param>
    /// <param name="fittedOn">Where <paramref name="fittedShape"/> came from ("the shape SAEC was calibrated on").</param>
    internal static ImageShape Check(DataViewSchema schema, string name, ImageShape? fittedShape, string role, string fittedOn)
    {
        ArgumentNullException.ThrowIfNull(schema);
        string expected = fittedShape is { } f ? $"a Single vector image {f} ({fittedOn})" : Expected;
        var column = schema.GetColumnOrNull(name) ?? throw new ArgumentException(
            $"Column '{name}' ({role}) was not found; expected {expected}. The schema has: {string.Join(", ", schema.Select(c => $"{c.Name} ({c.Type})"))}.");
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType item } vector || item != NumberDataViewType.Single || vector.Dimensions.Length != 3 || !vector.IsKnownSize)
            throw new ArgumentException($"Column '{name}': expected {expected}, found {column.Type}{DimensionsOf(column.Type)}.");
        var shape = new ImageShape(vector.Dimensions[0], vector.Dimensions[1], vector.Dimensions[2]);
        if (fittedShape is not null && shape != fittedShape)
        {
            string what = shape.Channels != fittedShape.Channels ? $"{shape.Channels} channels instead of {fittedShape.Channels}" : "another size";
            throw new ArgumentException($"Column '{name}': expected {expected}, found {shape} images ({what}).");
        }
        return shape;
    }

    /// <summary>
    /// The <see cref="SchemaShape"/> form of <see cref="Check(DataViewSchema, string, ImageShape?, string, string)"/>: a schema shape has no vector dimensions, so this checks
    /// the column exists and is a known-size Single vector; the shape itself is checked by Fit and Transform.
    /// </summary>
    internal static void Check(SchemaShape schema, string name, string role)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var found = schema.Where(c => c.Name == name).ToArray();
        if (found.Length == 0)
            throw new ArgumentException($"Column '{name}' ({role}) was not found; expected {Expected}. The schema has: {string.Join(", ", schema.Select(c => c.Name))}.");
        var column = found[0];
        if (column.Kind != SchemaShape.Column.VectorKind.Vector || column.ItemType != NumberDataViewType.Single)
            throw new ArgumentException($"Column '{name}': expected {Expected}, found {column.Kind} of {column.ItemType}.");
    }

    /// <summary>Throws naming the column and row at the first value outside [0, 1] or NaN (Fit's check: ExtractPixels without scaleImage gives 0–255).</summary>
    internal static void CheckPixelRange(ReadOnlySpan<float> pixels, int valuesPerImage, long firstRow, string column)
    {
        for (int i = 0; i < pixels.Length; i++)
        {
            float v = pixels[i];
            if (!(v >= 0f && v <= 1f)) // also catches NaN
                throw new ArgumentException($"Column '{column}': expected pixel values in [0, 1], found {v} in row {firstRow + i / valuesPerImage}" +
                    (v > 1f ? "; scale the pixels with ExtractPixels(..., scaleImage: 1f / 255)." : "."));
        }
    }

    private static string DimensionsOf(DataViewType type) =>
        type is VectorDataViewType v ? $" (dimensions [{string.Join(", ", v.Dimensions.ToArray())}])" : "";
}

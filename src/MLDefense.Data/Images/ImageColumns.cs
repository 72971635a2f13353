using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>Schema checks shared by the image transforms: each failure names the column, what was expected and what was found.</summary>
internal static class ImageColumns
{
    public static DataViewSchema.Column RequireImage(DataViewSchema schema, string columnName, string transform)
    {
        var column = RequireColumn(schema, columnName, transform);
        if (column.ImageShape is not { } shape || column.Type is not VectorDataViewType vector || vector.Size != shape.Size)
            throw new ArgumentException($"{transform}: column '{columnName}' must be an image column (a float vector with an image shape annotation); found {column.Type}" +
                                        (column.ImageShape is null ? " without an image shape" : "") + ".");
        return column;
    }

    public static DataViewSchema.Column RequireText(DataViewSchema schema, string columnName, string transform)
    {
        var column = RequireColumn(schema, columnName, transform);
        if (column.Type is not TextDataViewType)
            throw new ArgumentException($"{transform}: column '{columnName}' must be Text (image file paths); found {column.Type}.");
        return column;
    }

    private static DataViewSchema.Column RequireColumn(DataViewSchema schema, string columnName, string transform) =>
        schema.GetColumnOrNull(columnName) ?? throw new ArgumentException(
            $"{transform}: input column '{columnName}' was not found; the schema has: {schema}.");

    public static DataViewSchema.Column ImageColumn(string name, ImageShape shape) => new(name, shape.VectorType, new DataViewSchema.Annotations(shape));

    public static void RequireSize(int width, int height, string transform)
    {
        if (width < 1 || height < 1)
            throw new ArgumentOutOfRangeException(width < 1 ? nameof(width) : nameof(height), $"{transform}: width and height must be positive, got {width}x{height}.");
    }

    public static InvalidDataException BadOptions(ModelLoadContext context, Exception inner) =>
        new($"{context.Folder}options.json holds invalid options: {inner.Message}", inner);
}

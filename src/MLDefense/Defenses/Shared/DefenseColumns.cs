using MLDefense.Data;
using MLDefense.Legacy;

namespace MLDefense.Defenses;

/// <summary>
/// The column and value checks every defense makes the same way (DESIGN.md: a missing column, a wrong type or an image
/// of the wrong shape fails at GetOutputSchema and Fit with a message that names the column and what was expected; bad
/// values name the column and the row), and the score and flag columns every detector adds. What a defense checks
/// beyond these (its networks' geometry, a probabilities or label column) stays with the defense.
/// </summary>
internal static class DefenseColumns
{
    /// <summary>
    /// Checks that <paramref name="name"/> is a float vector column with an image shape annotation and, for a fitted model,
    /// that its shape is <paramref name="fittedShape"/>; returns the shape.
    /// </summary>
    /// <param name="schema">The input schema.</param>
    /// <param name="name">The image column.</param>
    /// <param name="fittedShape">The shape the model was fitted on, or null for an estimator.</param>
    /// <param name="role">What the defense does with the image, for the message of a missing column ("the image SAEC scores").</param>
    /// <param name="fittedOn">Where <paramref name="fittedShape"/> came from, for the messages ("the shape SAEC was calibrated on").</param>
    internal static ImageShape CheckImage(DataViewSchema schema, string name, ImageShape? fittedShape, string role, string fittedOn)
    {
        string expected = fittedShape is { } r ? $"a float vector image of {r} ({fittedOn})" : "a float vector image [C, H, W] with an image shape annotation";
        var column = schema.GetColumnOrNull(name) ?? throw new ArgumentException(
            $"Column '{name}' ({role}) was not found; expected {expected}. The schema has: {schema}.");
        if (column.Type is not VectorDataViewType vector || column.ImageShape is not { } shape || shape.Size != vector.Size)
            throw new ArgumentException($"Column '{name}': expected {expected}, found {column.Type}{(column.ImageShape is null ? " without an image shape" : "")}.");
        if (fittedShape is not null && shape != fittedShape)
        {
            string what = shape.Channels != fittedShape.Channels ? $"{shape.Channels} channels instead of {fittedShape.Channels}" : "another size";
            throw new ArgumentException($"Column '{name}': expected {expected}, found {shape} images ({what}).");
        }
        return shape;
    }

    /// <summary>
    /// Checks a tensor of images handed to a fitted model's tensor methods: [N, C, H, W] of <paramref name="fittedShape"/>.
    /// </summary>
    /// <param name="images">The images.</param>
    /// <param name="fittedShape">The shape the model was fitted on.</param>
    /// <param name="fittedOn">Where the shape came from, for the message ("the shape AE-GAN was trained on").</param>
    internal static void CheckImageTensor(Tensor images, ImageShape fittedShape, string fittedOn)
    {
        ArgumentNullException.ThrowIfNull(images);
        var s = images.shape;
        if (s.Length != 4 || s[1] != fittedShape.Channels || s[2] != fittedShape.Height || s[3] != fittedShape.Width)
            throw new ArgumentException($"Expected images [N, {fittedShape.Channels}, {fittedShape.Height}, {fittedShape.Width}] ({fittedOn}); " +
                $"found [{string.Join(", ", s)}].", nameof(images));
    }

    /// <summary>What Fit accepts: throws naming the column and row at the first pixel outside [0, 1] or NaN.</summary>
    /// <param name="pixels">The flat pixels of consecutive images.</param>
    /// <param name="shape">The image shape (its size is the number of values per row).</param>
    /// <param name="firstRow">The row of the first image, for the message.</param>
    /// <param name="column">The column, for the message.</param>
    internal static void CheckPixelRange(float[] pixels, ImageShape shape, long firstRow, string column)
    {
        for (int i = 0; i < pixels.Length; i++)
        {
            float v = pixels[i];
            if (!(v >= 0f && v <= 1f)) // also catches NaN
                throw new ArgumentException($"Column '{column}': expected pixel values in [0, 1], found {v} in row {firstRow + i / shape.Size}.");
        }
    }

    /// <summary>
    /// What Transform accepts: throws naming the column and row at the first NaN or infinite value. (Values slightly outside
    /// [0, 1], e.g. another component's output, are transformed as they are.)
    /// </summary>
    /// <param name="values">The flat values of consecutive rows.</param>
    /// <param name="valuesPerRow">The values of one row.</param>
    /// <param name="firstRow">The row of the first value, for the message.</param>
    /// <param name="column">The column, for the message.</param>
    /// <param name="what">What the values are, for the message ("pixel values", "probabilities").</param>
    internal static void CheckFinite(float[] values, int valuesPerRow, long firstRow, string column, string what = "pixel values")
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"Column '{column}': expected finite {what}, found {values[i]} in row {firstRow + i / valuesPerRow}.");
    }

    /// <summary>A detector's added columns: the float score (higher = more adversarial) and the boolean flag.</summary>
    internal static DataViewSchema.Column[] ScoreAndFlag(string scoreColumnName, string flagColumnName) =>
    [
        new(scoreColumnName, NumberDataViewType.Single),
        new(flagColumnName, BooleanDataViewType.Instance),
    ];
}

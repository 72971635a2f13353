using MLDefense.Data;

namespace MLDefense.Defenses;

/// <summary>
/// The value checks every defense makes the same way (DESIGN.md: bad values name the column and the row; images handed
/// to a tensor method name the shape expected). The column checks are <see cref="ImageColumns"/>'; what a defense checks
/// beyond these (its networks' geometry, a probabilities or label column) stays with the defense.
/// </summary>
internal static class DefenseColumns
{
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
}

using MLDefense.Data;
using Microsoft.ML;

namespace MLDefense.Reporting;

/// <summary>
/// Composes rows of same-shaped images — for example clean, adversarial, purified and reconstructed versions of the
/// same test images — into one picture with a small gap between cells, and writes it as PNG through
/// <see cref="ImageFiles.EncodePng"/> (so values are clamped to [0, 1], scaled by 255 and rounded, and NaN is refused).
/// Point a benchmark's JSON at the file with an <c>"image_grids"</c> entry (<see cref="ImageGridReference.ToJson"/>)
/// and <c>mldefense report</c> embeds it.
/// </summary>
/// <remarks>
/// Images are CHW floats in [0, 1] (1 channel grey, 3 RGB; the project's image format, see <see cref="ImageShape"/>).
/// Rows may hold different numbers of images: the grid is as wide as the longest row and missing cells take the
/// background value, as do the gaps. Row labels are not drawn into the PNG (no font rendering here); the report
/// writes them beside it.
/// </remarks>
public static class ImageGrid
{
    /// <summary>The default gap between cells, in pixels.</summary>
    public const int DefaultGap = 2;

    /// <summary>The default value of the gaps and of missing cells: white.</summary>
    public const float DefaultBackground = 1f;

    /// <summary>
    /// The grid as one CHW image: row r, column c holds <c>rows[r][c]</c>; cells are <paramref name="gap"/> pixels apart.
    /// </summary>
    /// <param name="rows">The rows of images, each image <paramref name="shape"/>.Size floats in CHW order.</param>
    /// <param name="shape">The shape of every image.</param>
    /// <param name="gridShape">The shape of the grid: C × (R·H + (R−1)·gap) × (N·W + (N−1)·gap), N the longest row.</param>
    /// <param name="gap">Pixels between cells (≥ 0).</param>
    /// <param name="background">The value of the gaps and of missing cells, in every channel.</param>
    /// <exception cref="ArgumentException">No rows, no image, an image of another size, or a negative gap.</exception>
    public static float[] Compose(IReadOnlyList<IReadOnlyList<float[]>> rows, ImageShape shape, out ImageShape gridShape,
                                  int gap = DefaultGap, float background = DefaultBackground)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(shape);
        shape.Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(gap);
        if (rows.Count == 0) throw new ArgumentException("An image grid needs at least one row.", nameof(rows));
        int columns = rows.Max(r => r?.Count ?? 0);
        if (columns == 0) throw new ArgumentException("An image grid needs at least one image.", nameof(rows));
        for (int r = 0; r < rows.Count; r++)
        {
            var row = rows[r] ?? throw new ArgumentException($"Row {r} of the image grid is null.", nameof(rows));
            for (int c = 0; c < row.Count; c++)
                if (row[c]?.Length != shape.Size)
                    throw new ArgumentException($"Image {c} of row {r} has {row[c]?.Length ?? 0} values; every image of the grid must be {shape} = {shape.Size} values (CHW).", nameof(rows));
        }

        int cellH = shape.Height, cellW = shape.Width, channels = shape.Channels;
        gridShape = new ImageShape(channels, rows.Count * cellH + (rows.Count - 1) * gap, columns * cellW + (columns - 1) * gap);
        int gridH = gridShape.Height, gridW = gridShape.Width;
        var grid = new float[gridShape.Size];
        Array.Fill(grid, background);
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < rows[r].Count; c++)
            {
                var image = rows[r][c];
                int top = r * (cellH + gap), left = c * (cellW + gap);
                for (int k = 0; k < channels; k++)
                    for (int y = 0; y < cellH; y++)
                        Array.Copy(image, (k * cellH + y) * cellW, grid, (k * gridH + top + y) * gridW + left, cellW);
            }
        return grid;
    }

    /// <summary>The grid (<see cref="Compose"/>) as PNG bytes.</summary>
    public static byte[] EncodePng(IReadOnlyList<IReadOnlyList<float[]>> rows, ImageShape shape, int gap = DefaultGap, float background = DefaultBackground)
    {
        var grid = Compose(rows, shape, out var gridShape, gap, background);
        return ImageFiles.EncodePng(grid, gridShape);
    }

    /// <summary>Writes the grid (<see cref="Compose"/>) as a PNG file, replacing any file there.</summary>
    public static void SavePng(IReadOnlyList<IReadOnlyList<float[]>> rows, ImageShape shape, string path, int gap = DefaultGap, float background = DefaultBackground)
    {
        var grid = Compose(rows, shape, out var gridShape, gap, background);
        ImageFiles.SavePng(grid, gridShape, path);
    }

    /// <summary>The grid of tensor rows as PNG bytes: each row a batch [N, C, H, W] (or one image [C, H, W]) on any device, all of one image shape.</summary>
    public static byte[] EncodePng(IReadOnlyList<Tensor> rows, int gap = DefaultGap, float background = DefaultBackground)
    {
        var (images, shape) = FromTensors(rows);
        return EncodePng(images, shape, gap, background);
    }

    /// <summary>Writes the grid of tensor rows (see <see cref="EncodePng(IReadOnlyList{Tensor}, int, float)"/>) as a PNG file.</summary>
    public static void SavePng(IReadOnlyList<Tensor> rows, string path, int gap = DefaultGap, float background = DefaultBackground)
    {
        var (images, shape) = FromTensors(rows);
        SavePng(images, shape, path, gap, background);
    }

    /// <summary>The images of a batch tensor [N, C, H, W] (or a single image [C, H, W]) as CHW float arrays on the host, with their shape.</summary>
    /// <exception cref="ArgumentException">The tensor is not 3- or 4-dimensional, or its channel count is not 1–4.</exception>
    public static IReadOnlyList<float[]> ImagesOf(Tensor batch, out ImageShape shape)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var dims = batch.shape;
        if (dims.Length is not (3 or 4))
            throw new ArgumentException($"An image batch is [N, C, H, W] (or one image [C, H, W]); got a tensor of shape [{string.Join(", ", dims)}].", nameof(batch));
        int n = dims.Length == 4 ? checked((int)dims[0]) : 1;
        shape = new ImageShape(checked((int)dims[^3]), checked((int)dims[^2]), checked((int)dims[^1])).Validate();
        using var detached = batch.detach();
        using var host = detached.to(ScalarType.Float32, CPU);
        using var contiguous = host.contiguous();
        var values = contiguous.data<float>().ToArray();
        var images = new float[n][];
        for (int i = 0; i < n; i++) images[i] = values.AsSpan(i * shape.Size, shape.Size).ToArray();
        return images;
    }

    private static (IReadOnlyList<IReadOnlyList<float[]>> Images, ImageShape Shape) FromTensors(IReadOnlyList<Tensor> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) throw new ArgumentException("An image grid needs at least one row.", nameof(rows));
        var images = new List<IReadOnlyList<float[]>>(rows.Count);
        ImageShape? shape = null;
        for (int r = 0; r < rows.Count; r++)
        {
            images.Add(ImagesOf(rows[r], out var rowShape));
            if (shape is not null && rowShape != shape)
                throw new ArgumentException($"Row {r} holds {rowShape} images but row 0 holds {shape}; every image of a grid has one shape.", nameof(rows));
            shape ??= rowShape;
        }
        return (images, shape!);
    }
}

namespace MLDefense.Legacy;

/// <summary>
/// The image transforms: <c>ml.Transforms.LoadImages</c>, <c>ResizeImages</c>, <c>ExtractPixels</c>. How they relate:
/// images live in the pipeline as float CHW columns in [0, 1] with an <see cref="ImageShape"/> annotation.
/// <c>LoadImages</c> (<see cref="LoadImagesTransformer"/>) is the one way from files to such a column (it decodes, converts channels and resizes,
/// since a column's images must share one shape); <c>ResizeImages</c> (<see cref="ResizeImagesTransformer"/>) changes the size of an image column
/// already in the pipeline; <c>ExtractPixels</c> (<see cref="ExtractPixelsTransformer"/>) converts channels and lays values out for a model (grey ↔ RGB,
/// interleaving, scale and offset). The way back to files is <see cref="ImageFiles"/> and
/// <see cref="ImageSavingExtensions.SaveImagesAsPng"/>.
/// </summary>
public static class ImageTransformsCatalogExtensions
{
    /// <summary>
    /// Decodes the image files (PNG/JPEG/BMP/PPM/PGM) named by a Text column into an image column of
    /// <paramref name="channels"/>×<paramref name="height"/>×<paramref name="width"/> (see <see cref="LoadImagesTransformer"/>).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The image column to add.</param>
    /// <param name="imageFolder">The folder relative paths are resolved against (null: the current directory).</param>
    /// <param name="inputColumnName">The Text column of file paths.</param>
    /// <param name="width">The width every image is resized to.</param>
    /// <param name="height">The height every image is resized to.</param>
    /// <param name="channels">1 (grey) or 3 (RGB, the default).</param>
    public static LoadImagesEstimator LoadImages(this TransformsCatalog catalog, string outputColumnName, string? imageFolder, string inputColumnName,
        int width, int height, int channels = 3) =>
        new(new LoadImagesOptions
        {
            OutputColumnName = outputColumnName, ImageFolder = imageFolder, InputColumnName = inputColumnName,
            Width = width, Height = height, Channels = channels,
        });

    /// <summary>Resizes an image column bilinearly to <paramref name="width"/>×<paramref name="height"/> (see <see cref="ResizeImagesTransformer"/>).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The resized image column to add.</param>
    /// <param name="width">The new width.</param>
    /// <param name="height">The new height.</param>
    /// <param name="inputColumnName">The image column to resize (null: <paramref name="outputColumnName"/>).</param>
    public static ResizeImagesEstimator ResizeImages(this TransformsCatalog catalog, string outputColumnName, int width, int height, string? inputColumnName = null) =>
        new(new ResizeImagesOptions { OutputColumnName = outputColumnName, Width = width, Height = height, InputColumnName = inputColumnName });

    /// <summary>Converts an image column's channels and layout for a model (see <see cref="ExtractPixelsTransformer"/>).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to add.</param>
    /// <param name="inputColumnName">The image column to read (null: <paramref name="outputColumnName"/>).</param>
    /// <param name="channels">0 keeps the channels, 1 converts to grey, 3 to RGB.</param>
    /// <param name="interleave">Lay values out H×W×C instead of C×H×W.</param>
    /// <param name="scale">Each value is multiplied by this…</param>
    /// <param name="offset">…then this is added.</param>
    public static ExtractPixelsEstimator ExtractPixels(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null,
        int channels = 0, bool interleave = false, float scale = 1f, float offset = 0f) =>
        new(new ExtractPixelsOptions
        {
            OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Channels = channels,
            Interleave = interleave, Scale = scale, Offset = offset,
        });

    /// <summary>The options form of <c>LoadImages</c>.</summary>
    public static LoadImagesEstimator LoadImages(this TransformsCatalog catalog, LoadImagesOptions options) => new(options);
    /// <summary>The options form of <c>ResizeImages</c>.</summary>
    public static ResizeImagesEstimator ResizeImages(this TransformsCatalog catalog, ResizeImagesOptions options) => new(options);
    /// <summary>The options form of <c>ExtractPixels</c>.</summary>
    public static ExtractPixelsEstimator ExtractPixels(this TransformsCatalog catalog, ExtractPixelsOptions options) => new(options);
}

/// <summary><c>ml.Data.SaveImagesAsPng</c>: an image column back to files (purified images, reports).</summary>
public static class ImageSavingExtensions
{
    /// <summary>
    /// Writes each row's image as <c>&lt;folder&gt;/&lt;filePrefix&gt;&lt;row, 6 digits&gt;.png</c> (values clamped to [0, 1],
    /// × 255, rounded), creating the folder if needed, and returns the paths in row order.
    /// </summary>
    /// <exception cref="ArgumentException">The column is missing or not an image column, or an image holds NaN.</exception>
    public static IReadOnlyList<string> SaveImagesAsPng(this DataOperationsCatalog catalog, IDataView data, string imageColumnName, string folder, string filePrefix = "img")
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (filePrefix.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || filePrefix.Contains(".."))
            throw new ArgumentException($"'{filePrefix}' cannot start a file name.", nameof(filePrefix));
        var shape = ImageColumns.RequireImage(data.Schema, imageColumnName, "SaveImagesAsPng").ImageShape!;
        var root = Path.GetFullPath(folder);
        Directory.CreateDirectory(root);
        var written = new List<string>();
        foreach (var batch in data.GetBatches(256, [imageColumnName]))
        {
            var images = batch.Get<float>(imageColumnName);
            var paths = Enumerable.Range(0, batch.RowCount).Select(r => Path.Combine(root, $"{filePrefix}{batch.FirstRow + r:D6}.png")).ToArray();
            ImageFiles.ParallelFor(batch.RowCount, r => ImageFiles.SavePng(images.AsSpan(r * shape.Size, shape.Size), shape, paths[r]));
            written.AddRange(paths);
        }
        return written;
    }
}

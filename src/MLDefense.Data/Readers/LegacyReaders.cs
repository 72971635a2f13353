using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>The look-alike layer's side of the dataset readers: in-memory views over the records <see cref="MLDefense.Data"/> reads.</summary>
internal static class LegacyLabelColumns
{
    /// <summary>The legacy layer's Int32 label column, with the class names as slot names when known.</summary>
    public static DataViewSchema.Column LabelColumn(string name, IReadOnlyList<string>? classNames) =>
        new(name, NumberDataViewType.Int32, classNames is null ? null : new DataViewSchema.Annotations(SlotNames: classNames));
}

/// <summary>The look-alike layer's <c>ImageShape.VectorType</c>.</summary>
public static class ImageShapeVectorTypes
{
    extension(ImageShape shape)
    {
        /// <summary>The vector type of a column holding this image shape.</summary>
        public VectorDataViewType VectorType => new(shape.Channels, shape.Height, shape.Width);
    }
}

/// <summary>
/// Reads image datasets in the IDX format of MNIST and Fashion-MNIST: an images file (magic 0x00000803: unsigned
/// bytes, 3 dimensions N×H×W) and a labels file (magic 0x00000801: unsigned bytes, 1 dimension N), each raw or
/// gzip-compressed.
/// </summary>
public static class IdxReaderExtensions
{
    /// <summary>
    /// Loads an IDX images file and its labels file into memory.
    /// <list type="table">
    /// <listheader><term>output column</term><description>type</description></listheader>
    /// <item><term><paramref name="imageColumnName"/></term><description>image 1×H×W, float in [0, 1] (byte / 255), with the <see cref="ImageShape"/> annotation</description></item>
    /// <item><term><paramref name="labelColumnName"/></term><description>Int32, the class index stored in the labels file</description></item>
    /// </list>
    /// </summary>
    /// <exception cref="InvalidDataException">A file has the wrong magic number or dimension count, is truncated or too long, or the counts differ (the message names the file).</exception>
    public static IDataView LoadIdxImages(this DataOperationsCatalog catalog, string imagesPath, string labelsPath,
        string imageColumnName = "Image", string labelColumnName = "Label") =>
        Load(imagesPath, labelsPath, imageColumnName, labelColumnName, classNames: null);

    internal static InMemoryDataView Load(string imagesPath, string labelsPath, string imageColumnName, string labelColumnName, IReadOnlyList<string>? classNames)
    {
        ArgumentException.ThrowIfNullOrEmpty(imageColumnName);
        ArgumentException.ThrowIfNullOrEmpty(labelColumnName);
        if (imageColumnName == labelColumnName) throw new ArgumentException($"The image and label columns need different names (both are '{imageColumnName}').");

        var (images, count, height, width, labelValues) = IdxRecords.Read(imagesPath, labelsPath, classNames?.Count);
        var pixels = new float[images.Length - 16];
        DatasetFiles.ToUnitFloats(images.AsSpan(16), pixels);
        var shape = new ImageShape(1, height, width);
        var schema = new DataViewSchema([ImageColumns.ImageColumn(imageColumnName, shape), LegacyLabelColumns.LabelColumn(labelColumnName, classNames)]);
        return new InMemoryDataView(schema, [pixels, labelValues]);
    }
}

/// <summary>
/// Reads the binary version of CIFAR-10: records of 1 label byte then 3 × 1024 pixel bytes (the red, green and
/// blue planes of a 32×32 image, each row-major), files raw or gzip-compressed.
/// </summary>
public static class Cifar10ReaderExtensions
{
    /// <summary>
    /// Loads CIFAR-10 binary files into memory, their records concatenated in the order given.
    /// <list type="table">
    /// <listheader><term>output column</term><description>type</description></listheader>
    /// <item><term>Image</term><description>image 3×32×32 (CHW: R, G, B planes), float in [0, 1] (byte / 255), with the <see cref="ImageShape"/> annotation</description></item>
    /// <item><term>Label</term><description>Int32 in 0..9, with the class names as slot names</description></item>
    /// </list>
    /// </summary>
    /// <exception cref="InvalidDataException">A file is empty, its length is not a multiple of 3073 bytes, or it holds a label above 9 (the message names the file).</exception>
    public static IDataView LoadCifar10Binary(this DataOperationsCatalog catalog, params string[] paths)
    {
        var (files, count, labels) = Cifar10Records.Read(paths);
        var pixels = new float[checked(count * Cifar10Records.PixelBytes)];
        int row = 0;
        foreach (var bytes in files)
            for (int offset = 0; offset < bytes.Length; offset += Cifar10Records.RecordBytes, row++)
                DatasetFiles.ToUnitFloats(bytes.AsSpan(offset + 1, Cifar10Records.PixelBytes), pixels.AsSpan(row * Cifar10Records.PixelBytes, Cifar10Records.PixelBytes));
        var shape = new ImageShape(3, 32, 32);
        var schema = new DataViewSchema([ImageColumns.ImageColumn("Image", shape), LegacyLabelColumns.LabelColumn("Label", Cifar10Records.ClassNames)]);
        return new InMemoryDataView(schema, [pixels, labels]);
    }
}

/// <summary><c>ml.Data.LoadKnownDataset</c>.</summary>
public static class KnownDatasetExtensions
{
    /// <summary>
    /// Loads the training or test split of a known dataset (see <see cref="KnownDatasets"/>) with columns
    /// <c>Image</c> (float CHW in [0, 1] with the image shape annotation) and <c>Label</c> (Int32, class names as slot names).
    /// </summary>
    public static IDataView LoadKnownDataset(this DataOperationsCatalog catalog, string name, bool train, string? dataDirectory = null)
    {
        var files = KnownDatasets.Resolve(name, dataDirectory);
        return files.Format == KnownDatasetFormat.Cifar10Binary
            ? catalog.LoadCifar10Binary(files.ImagesPath(train))
            : IdxReaderExtensions.Load(files.ImagesPath(train), files.LabelsPath(train), "Image", "Label", files.ClassNames);
    }
}

using MLDefense.Data;


namespace Microsoft.ML;

/// <summary>
/// <c>ml.Data.LoadIdxImages</c>, <c>ml.Data.LoadCifar10Binary</c> and <c>ml.Data.LoadKnownDataset</c>: image datasets
/// as lazy ML.NET data views with an <c>Image</c> column (Single [C, H, W] in [0, 1], as ExtractPixels makes) and a
/// <c>Label</c> key whose key values are the class names. Files may be gzip-compressed. (In ML.NET's namespace, as
/// ML.NET's own packages put their catalog extensions.)
/// </summary>
public static class ImageDatasetCatalog
{
    /// <summary>An IDX pair (MNIST, Fashion-MNIST): images [N, H, W] and labels [N], unsigned bytes.</summary>
    /// <param name="catalog">ML.NET's data catalog.</param>
    /// <param name="imagesPath">The images file (<c>*-images-idx3-ubyte[.gz]</c>).</param>
    /// <param name="labelsPath">The labels file (<c>*-labels-idx1-ubyte[.gz]</c>).</param>
    /// <param name="classNames">The class names (default: the label values 0..K−1, K = the largest label + 1).</param>
    /// <exception cref="InvalidDataException">A file is not IDX, truncated, or the pair does not match (the message names the file).</exception>
    public static IDataView LoadIdxImages(this DataOperationsCatalog catalog, string imagesPath, string labelsPath, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var (images, count, height, width, labels) = IdxRecords.Read(imagesPath, labelsPath, classNames?.Count);
        int size = height * width;
        var names = classNames ?? Enumerable.Range(0, Math.Max(2, labels.DefaultIfEmpty(0).Max() + 1)).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return ImageRecordsDataView.FromBytes(new ImageShape(1, height, width), labels, row => images.AsMemory(16 + (int)row * size, size), names);
    }

    /// <summary>CIFAR-10 binary files (records of a label byte and 3 × 32 × 32 pixel bytes), in order.</summary>
    /// <param name="catalog">ML.NET's data catalog.</param>
    /// <param name="paths">The files.</param>
    /// <exception cref="InvalidDataException">A file is empty, truncated, or holds a label above 9 (the message names the file).</exception>
    public static IDataView LoadCifar10Binary(this DataOperationsCatalog catalog, params string[] paths)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var (files, count, labels) = Cifar10Records.Read(paths);
        var starts = new long[files.Count + 1];
        for (int f = 0; f < files.Count; f++) starts[f + 1] = starts[f] + files[f].Length / Cifar10Records.RecordBytes;
        const int pixels = Cifar10Records.RecordBytes - 1;
        return ImageRecordsDataView.FromBytes(new ImageShape(3, 32, 32), labels, row =>
        {
            int f = Array.FindLastIndex(starts, s => s <= row);
            if (f == files.Count) f--;
            return files[f].AsMemory((int)(row - starts[f]) * Cifar10Records.RecordBytes + 1, pixels);
        }, Cifar10Records.ClassNames);
    }

    /// <summary>
    /// The training or test split of a known dataset (<see cref="KnownDatasets"/>: mnist, fashion-mnist — Debian's
    /// <c>dataset-fashion-mnist</c> package — and the cifar10-subset under <c>shared/datasets</c>), found as
    /// <see cref="KnownDatasets.Resolve"/> describes.
    /// </summary>
    /// <param name="catalog">ML.NET's data catalog.</param>
    /// <param name="name">The dataset's name.</param>
    /// <param name="train">The training split (else the test split).</param>
    /// <param name="dataDirectory">Where its files are (default: the known places).</param>
    public static IDataView LoadKnownDataset(this DataOperationsCatalog catalog, string name, bool train, string? dataDirectory = null)
    {
        var files = KnownDatasets.Resolve(name, dataDirectory);
        return files.Format == KnownDatasetFormat.Cifar10Binary
            ? catalog.LoadCifar10Binary(files.ImagesPath(train))
            : catalog.LoadIdxImages(files.ImagesPath(train), files.LabelsPath(train), files.ClassNames);
    }
}

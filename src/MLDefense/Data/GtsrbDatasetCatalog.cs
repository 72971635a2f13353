using MLDefense.Data;

namespace Microsoft.ML;

/// <summary>
/// <c>ml.Data.LoadGtsrbSubset</c>: the GTSRB subset of <c>shared/datasets/gtsrb-subset</c> (43 classes of road signs, 35×35 RGB records in
/// CIFAR-10's binary layout) as a lazy ML.NET data view with an <c>Image</c> column (Single [3, size, size] in [0, 1]) and a <c>Label</c>
/// key whose key values are the sign names — resized, as CMAG (Sec. 4.1) and MixDefense evaluate GTSRB, to 32×32 by default.
/// </summary>
public static class GtsrbDatasetCatalog
{
    /// <summary>The folder name under <c>shared/datasets</c>.</summary>
    public const string FolderName = "gtsrb-subset";

    private const int StoredSide = 35;
    private const int RecordBytes = 1 + 3 * StoredSide * StoredSide;

    /// <summary>
    /// The training (<c>train.bin.gz</c>) or test (<c>test.bin.gz</c>) split. Each row's pixels are decoded and resized when a cursor reads
    /// them: bilinear interpolation with half-pixel centres (PyTorch's <c>interpolate(mode="bilinear", align_corners=False)</c>, no
    /// antialiasing), from 35×35 to <paramref name="size"/>×<paramref name="size"/>.
    /// </summary>
    /// <param name="catalog">ML.NET's data catalog.</param>
    /// <param name="train">The training split (else the test split).</param>
    /// <param name="directory">The folder holding the files; null looks for <c>shared/datasets/gtsrb-subset</c> above the current and the application directories.</param>
    /// <param name="size">The side of the images served (default 32, the papers').</param>
    /// <exception cref="FileNotFoundException">The files are not there (the message says where it looked).</exception>
    /// <exception cref="InvalidDataException">A file is truncated or holds a label above 42.</exception>
    public static IDataView LoadGtsrbSubset(this DataOperationsCatalog catalog, bool train, string? directory = null, int size = 32)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        string folder = directory ?? Path.Combine(MLDefense.Data.KnownDatasets.FindSharedDatasetsDirectory()
            ?? throw new FileNotFoundException($"The GTSRB subset was not found: no shared/datasets folder above {Directory.GetCurrentDirectory()} or {AppContext.BaseDirectory}; give its directory."), FolderName);
        string path = Path.Combine(folder, train ? "train.bin.gz" : "test.bin.gz");
        string classesPath = Path.Combine(folder, "classes.csv");
        if (!File.Exists(path) || !File.Exists(classesPath))
            throw new FileNotFoundException($"The GTSRB subset was not found: expected {path} and {classesPath} (see shared/datasets/README.md).", path);
        var bytes = MLDefense.Data.DatasetFiles.ReadAllBytes(path);
        if (bytes.Length == 0 || bytes.Length % RecordBytes != 0)
            throw new InvalidDataException($"'{path}' is {bytes.Length} bytes long, not a whole number of {RecordBytes}-byte records (1 label byte, 3×35×35 pixel bytes).");
        var names = File.ReadAllLines(classesPath).Skip(1).Where(l => l.Length > 0).Select(l => l[(l.IndexOf(',') + 1)..].Trim()).ToArray();
        int count = bytes.Length / RecordBytes;
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = bytes[(long)i * RecordBytes];
            if (labels[i] >= names.Length)
                throw new InvalidDataException($"'{path}': record {i} has label {labels[i]}; {classesPath} names {names.Length} classes.");
        }
        var shape = new ImageShape(3, size, size);
        return new ImageRecordsDataView(shape, labels, (row, target) => Resize(bytes.AsSpan((int)(row * RecordBytes) + 1, RecordBytes - 1), target, size), names);
    }

    /// <summary>Bilinear resize of planar 3×35×35 bytes to 3×size×size values in [0, 1] (half-pixel centres, edges clamped).</summary>
    internal static void Resize(ReadOnlySpan<byte> source, Span<float> target, int size)
    {
        double scale = StoredSide / (double)size;
        for (int c = 0; c < 3; c++)
        {
            var plane = source.Slice(c * StoredSide * StoredSide, StoredSide * StoredSide);
            for (int y = 0; y < size; y++)
            {
                double sy = Math.Max((y + 0.5) * scale - 0.5, 0);
                int y0 = Math.Min((int)sy, StoredSide - 1), y1 = Math.Min(y0 + 1, StoredSide - 1);
                double fy = sy - y0;
                for (int x = 0; x < size; x++)
                {
                    double sx = Math.Max((x + 0.5) * scale - 0.5, 0);
                    int x0 = Math.Min((int)sx, StoredSide - 1), x1 = Math.Min(x0 + 1, StoredSide - 1);
                    double fx = sx - x0;
                    double top = plane[y0 * StoredSide + x0] * (1 - fx) + plane[y0 * StoredSide + x1] * fx;
                    double bottom = plane[y1 * StoredSide + x0] * (1 - fx) + plane[y1 * StoredSide + x1] * fx;
                    target[c * size * size + y * size + x] = (float)Math.Clamp((top * (1 - fy) + bottom * fy) / 255.0, 0, 1);
                }
            }
        }
    }
}

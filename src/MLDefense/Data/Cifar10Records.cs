namespace MLDefense.Data;

/// <summary>
/// CIFAR-10 binary files read and checked: the decompressed files (record r of a file is its label byte at r·3073, then
/// 3072 pixel bytes: the R, G and B planes of 32×32) and every label. 
/// </summary>
public static class Cifar10Records
{
    /// <summary>Bytes per record: 1 label + 3 × 32 × 32 pixels.</summary>
    public const int RecordBytes = 1 + PixelBytes;

    /// <summary>Pixel bytes per record: the R, G and B planes of 32×32.</summary>
    public const int PixelBytes = 3 * 32 * 32;

    /// <summary>The ten class names, in label order.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Reads and checks the files, in order.</summary>
    /// <exception cref="InvalidDataException">A file is empty, its length is not a multiple of 3073 bytes, or it holds a label above 9 (the message names the file).</exception>
    public static (IReadOnlyList<byte[]> Files, int Count, int[] Labels) Read(IReadOnlyList<string> paths)
    {
        if (paths is null || paths.Count == 0) throw new ArgumentException("Give at least one CIFAR-10 binary file.", nameof(paths));
        var files = paths.Select(p => (Path: p, Bytes: DatasetFiles.ReadAllBytes(p))).ToList();
        foreach (var (path, bytes) in files)
        {
            if (bytes.Length == 0) throw new InvalidDataException($"'{path}' is empty: it holds no CIFAR-10 records.");
            if (bytes.Length % RecordBytes != 0)
                throw new InvalidDataException($"'{path}' is {bytes.Length} bytes long, not a whole number of {RecordBytes}-byte CIFAR-10 records " +
                                               $"({bytes.Length / RecordBytes} records and {bytes.Length % RecordBytes} bytes left over: truncated, or not the binary version).");
        }
        int count = checked(files.Sum(f => f.Bytes.Length / RecordBytes));
        var labels = new int[count];
        int row = 0;
        foreach (var (path, bytes) in files)
            for (int offset = 0; offset < bytes.Length; offset += RecordBytes, row++)
            {
                int label = bytes[offset];
                if (label > 9)
                    throw new InvalidDataException($"'{path}': record {offset / RecordBytes} has label {label}; CIFAR-10 labels are 0 to 9.");
                labels[row] = label;
            }
        return (files.Select(f => f.Bytes).ToArray(), count, labels);
    }
}

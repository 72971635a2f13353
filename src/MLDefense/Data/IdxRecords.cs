namespace MLDefense.Data;

/// <summary>
/// An IDX pair of files (images: unsigned bytes [N, H, W]; labels: unsigned bytes [N]), read and checked: the
/// decompressed image file (pixels of row i start at 16 + i·H·W) and the labels. Shared by the readers of both data layers.
/// </summary>
public static class IdxRecords
{
    private const int UnsignedByteType = 0x08;

    /// <summary>Reads and checks the pair; labels must be below <paramref name="classCount"/> when it is given.</summary>
    /// <exception cref="InvalidDataException">A file is not IDX, truncated, or the pair does not match (the message names the file).</exception>
    public static (byte[] Images, int Count, int Height, int Width, int[] Labels) Read(string imagesPath, string labelsPath, int? classCount)
    {
        var images = DatasetFiles.ReadAllBytes(imagesPath);
        var imageDims = ReadHeader(images, imagesPath, expectedDimensions: 3, "images");
        var labels = DatasetFiles.ReadAllBytes(labelsPath);
        var labelDims = ReadHeader(labels, labelsPath, expectedDimensions: 1, "labels");

        int count = imageDims[0], height = imageDims[1], width = imageDims[2];
        if (height < 1 || width < 1) throw new InvalidDataException($"'{imagesPath}' declares images of {height}x{width} pixels.");
        if (labelDims[0] != count)
            throw new InvalidDataException($"'{imagesPath}' holds {count} images but '{labelsPath}' holds {labelDims[0]} labels; they must be a matching pair.");
        CheckLength(images, imagesPath, headerBytes: 16, (long)count * height * width, $"{count} images of {height}x{width}");
        CheckLength(labels, labelsPath, headerBytes: 8, count, $"{count} labels");

        var labelValues = new int[count];
        for (int i = 0; i < count; i++) labelValues[i] = labels[8 + i];
        if (classCount is { } k && labelValues.FirstOrDefault(l => l >= k, -1) is var bad and >= 0)
            throw new InvalidDataException($"'{labelsPath}' holds label {bad}, but the dataset has {k} classes.");
        return (images, count, height, width, labelValues);
    }

    // An IDX header: two zero bytes, a type byte, a dimension count, then one big-endian Int32 per dimension.
    private static int[] ReadHeader(byte[] bytes, string path, int expectedDimensions, string what)
    {
        int headerBytes = 4 + 4 * expectedDimensions;
        if (bytes.Length < 4)
            throw new InvalidDataException($"'{path}' is {bytes.Length} bytes long: too short for an IDX {what} header ({headerBytes} bytes).");
        int magic = DatasetFiles.ReadBigEndianInt32(bytes, 0);
        int expectedMagic = UnsignedByteType << 8 | expectedDimensions;
        if (magic != expectedMagic)
            throw new InvalidDataException($"'{path}' is not an IDX {what} file: its magic number is 0x{magic:X8}, expected 0x{expectedMagic:X8} " +
                                           $"(unsigned bytes, {expectedDimensions} dimension(s)).");
        // The magic number is checked first: a wrong kind of file says more than a short one.
        if (bytes.Length < headerBytes)
            throw new InvalidDataException($"'{path}' is {bytes.Length} bytes long: too short for an IDX {what} header ({headerBytes} bytes).");
        var dims = new int[expectedDimensions];
        for (int d = 0; d < expectedDimensions; d++)
        {
            dims[d] = DatasetFiles.ReadBigEndianInt32(bytes, 4 + 4 * d);
            if (dims[d] < 0) throw new InvalidDataException($"'{path}' declares a negative size ({dims[d]}) for dimension {d}.");
        }
        return dims;
    }

    private static void CheckLength(byte[] bytes, string path, int headerBytes, long dataBytes, string what)
    {
        long expected = headerBytes + dataBytes;
        if (bytes.Length < expected)
            throw new InvalidDataException($"'{path}' is truncated: its header declares {what} ({expected} bytes in all) but it holds {bytes.Length} bytes.");
        if (bytes.Length > expected)
            throw new InvalidDataException($"'{path}' has {bytes.Length - expected} bytes after the {what} its header declares; it is not a well-formed IDX file.");
    }
}

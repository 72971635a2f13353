using System.IO.Compression;

namespace MLDefense.Tests;

/// <summary>
/// Writes a small IDX dataset in MNIST's layout (gzip-compressed, MNIST's file names): 28×28 grey images of four
/// classes, each a brighter quadrant (class k brightens quadrant k) over noise — learnable in a few epochs. With more
/// classes (up to 14), class k brightens the k-th horizontal band of two rows instead.
/// </summary>
internal static class SyntheticIdx
{
    public const int Classes = 4;

    public static void Write(string directory, int trainRows, int testRows, int seed, int classes = Classes)
    {
        Directory.CreateDirectory(directory);
        var random = new Random(seed);
        WriteSplit(directory, "train", trainRows, random, classes);
        WriteSplit(directory, "t10k", testRows, random, classes);
    }

    private static void WriteSplit(string directory, string prefix, int rows, Random random, int classes)
    {
        const int side = 28;
        var images = new byte[rows * side * side];
        var labels = new byte[rows];
        for (int row = 0; row < rows; row++)
        {
            int label = random.Next(classes);
            labels[row] = (byte)label;
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                {
                    int quadrant = classes <= Classes ? (y < side / 2 ? 0 : 2) + (x < side / 2 ? 0 : 1) : y / 2;
                    int value = random.Next(80) + (quadrant == label ? 150 : 0);
                    images[(row * side + y) * side + x] = (byte)value;
                }
        }
        WriteGzip(Path.Combine(directory, $"{prefix}-images-idx3-ubyte.gz"), [0x00000803, rows, side, side], images);
        WriteGzip(Path.Combine(directory, $"{prefix}-labels-idx1-ubyte.gz"), [0x00000801, rows], labels);
    }

    private static void WriteGzip(string path, int[] header, byte[] data)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        foreach (int value in header)
        {
            // IDX integers are big-endian.
            gzip.Write([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
        }
        gzip.Write(data);
    }
}

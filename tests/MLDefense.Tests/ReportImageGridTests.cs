using MLDefense.Data;
using MLDefense.Reporting;

namespace MLDefense.Tests;

[TestClass]
public sealed class ReportImageGridTests
{
    /// <summary>A grey h×w image whose pixel (y, x) is (seed·10 + y·w + x) / 255: every pixel of every image differs.</summary>
    private static float[] Grey(int seed, int h, int w) =>
        Enumerable.Range(0, h * w).Select(i => (seed * 10 + i) / 255f).ToArray();

    [TestMethod]
    public void GreyRowsComposeWithGapsAndDecodeBackPixelForPixel()
    {
        const int h = 2, w = 3, gap = 2;
        var shape = new ImageShape(1, h, w);
        float[][][] rows = [[Grey(1, h, w), Grey(2, h, w), Grey(3, h, w)], [Grey(4, h, w), Grey(5, h, w), Grey(6, h, w)]];

        var path = Path.Combine(Path.GetTempPath(), $"mldefense-grid-{Guid.NewGuid():N}.png");
        try
        {
            ImageGrid.SavePng(rows, shape, path, gap);
            var decoded = ImageFiles.Decode(File.ReadAllBytes(path), 0, out var decodedShape);

            Assert.AreEqual(new ImageShape(1, 2 * h + gap, 3 * w + 2 * gap), decodedShape, "stored as a grey PNG of the grid's size");
            int width = decodedShape.Width;
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < h; y++)
                        for (int x = 0; x < w; x++)
                            Assert.AreEqual(rows[r][c][y * w + x], decoded[(r * (h + gap) + y) * width + c * (w + gap) + x], 0.5f / 255,
                                            $"row {r}, image {c}, pixel ({y}, {x})");
            for (int y = 0; y < decodedShape.Height; y++)
            {
                Assert.AreEqual(1f, decoded[y * width + w], "the gap after the first column is white");
                Assert.AreEqual(1f, decoded[y * width + w + 1]);
            }
            for (int x = 0; x < width; x++) Assert.AreEqual(1f, decoded[h * width + x], "the gap between the rows is white");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void RgbTensorRowsKeepTheirChannels()
    {
        // Row 0: one pure-red and one pure-blue 4x4 image; row 1: one green image (the second cell stays background).
        using var red = torch.zeros([1, 3, 4, 4]);
        using var redChannel = red.select(1, 0);
        redChannel.fill_(1);
        using var blue = torch.zeros([1, 3, 4, 4]);
        using var blueChannel = blue.select(1, 2);
        blueChannel.fill_(1);
        using var firstRow = torch.cat([red, blue], 0);
        using var green = torch.zeros([3, 4, 4]);
        using var greenChannel = green.select(0, 1);
        greenChannel.fill_(1);

        var png = ImageGrid.EncodePng([firstRow, green], gap: 1, background: 0.5f);
        var decoded = ImageFiles.Decode(png, 0, out var shape);

        Assert.AreEqual(new ImageShape(3, 9, 9), shape);
        float At(int channel, int y, int x) => decoded[(channel * 9 + y) * 9 + x];
        CollectionAssert.AreEqual(new[] { 1f, 0f, 0f }, new[] { At(0, 1, 1), At(1, 1, 1), At(2, 1, 1) }, "red at the top left");
        CollectionAssert.AreEqual(new[] { 0f, 0f, 1f }, new[] { At(0, 1, 6), At(1, 1, 6), At(2, 1, 6) }, "blue at the top right");
        CollectionAssert.AreEqual(new[] { 0f, 1f, 0f }, new[] { At(0, 6, 1), At(1, 6, 1), At(2, 6, 1) }, "green at the bottom left");
        Assert.AreEqual(128 / 255f, At(0, 6, 6), 1e-6, "the missing cell takes the background");
        Assert.AreEqual(128 / 255f, At(1, 4, 4), 1e-6, "so does the gap");
    }

    [TestMethod]
    public void BadGridsAreRefused()
    {
        var shape = new ImageShape(1, 2, 2);

        Assert.Throws<ArgumentException>(() => ImageGrid.EncodePng(Array.Empty<float[][]>(), shape));
        Assert.Throws<ArgumentException>(() => ImageGrid.EncodePng([Array.Empty<float[]>()], shape));
        var wrongSize = Assert.Throws<ArgumentException>(() => ImageGrid.EncodePng([[new float[4], new float[5]]], shape));
        StringAssert.Contains(wrongSize.Message, "Image 1 of row 0 has 5 values");
        Assert.Throws<ArgumentException>(() => ImageGrid.EncodePng([[new[] { 0f, float.NaN, 0f, 0f }]], shape));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageGrid.EncodePng([[new float[4]]], shape, gap: -1));
        using var grey = torch.zeros([1, 1, 2, 2]);
        using var rgb = torch.zeros([1, 3, 2, 2]);
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => ImageGrid.EncodePng([grey, rgb])).Message, "one shape");
        using var flat = torch.zeros([4]);
        Assert.Throws<ArgumentException>(() => ImageGrid.EncodePng([flat]));
    }
}

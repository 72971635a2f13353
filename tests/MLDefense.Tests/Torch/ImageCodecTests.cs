using System.Text;

using MLDefense.Data;
namespace MLDefense.Tests.Torch;

[TestClass]
public sealed class ImageCodecTests
{
    private static byte[] Pattern(int count) => Enumerable.Range(0, count).Select(i => (byte)(i * 37 % 256)).ToArray();

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(3)]
    [DataRow(4)]
    public void PngRoundTripIsExact(int channels)
    {
        var pixels = Pattern(5 * 3 * channels);
        var png = Images.EncodePng(pixels, width: 5, height: 3, channels);
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        int stored = channels == 2 ? 4 : channels;   // SkiaSharp's PNG encoder writes grey + alpha as RGBA
        Assert.AreEqual(new ImageInfo(5, 3, stored), Images.GetInfo(png));
        Assert.AreEqual(stored, Images.Decode(png).Channels);
        var decoded = Images.Decode(png, channels);
        Assert.AreEqual((5, 3, channels), (decoded.Width, decoded.Height, decoded.Channels));
        CollectionAssert.AreEqual(pixels, decoded.Pixels);
        Assert.AreEqual(pixels[(2 * 5 + 4) * channels + channels - 1], decoded[2, 4, channels - 1]);
    }

    [TestMethod]
    public void DecodeConvertsChannelsOnRequest()
    {
        var rgb = new byte[] { 255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 10, 10 };
        var png = Images.EncodePng(rgb, 2, 2, 3);
        var grey = Images.Decode(png, channels: 1);
        Assert.AreEqual(1, grey.Channels);
        Assert.AreEqual(10, grey.Pixels[3], "grey stays grey");
        Assert.IsTrue(grey.Pixels[1] > grey.Pixels[0] && grey.Pixels[0] > grey.Pixels[2], "luminance weighs green most, then red, then blue");
        var back = Images.Decode(Images.EncodePng(grey), channels: 3);
        CollectionAssert.AreEqual(grey.Pixels.SelectMany(v => new[] { v, v, v }).ToArray(), back.Pixels, "grey → RGB repeats the value");
        Assert.AreEqual(4, Images.Decode(png, 4).Channels);
    }

    [TestMethod]
    public void RefusesNetpbmFilesNamingTheFormatsItReads()
    {
        // SkiaSharp (the image library of ML.NET's ImageAnalytics) reads no Netpbm; the refusal says what it does read.
        var ppm = Encoding.ASCII.GetBytes("P6\n2 1\n255\n").Concat(new byte[] { 1, 2, 3, 4, 5, 6 }).ToArray();
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => Images.Decode(ppm)).Message, "not a PNG, JPEG or BMP image");
        CollectionAssert.DoesNotContain(Images.DecodableExtensions.ToList(), ".ppm");
    }

    [TestMethod]
    public void RefusesAHeaderClaimingAHugeImageBeforeDecoding()
    {
        var png = Images.EncodePng(Pattern(2 * 2), 2, 2, 1);
        // IHDR's width and height (big-endian, bytes 16-23) rewritten to 100000 x 100000, with the chunk's CRC redone:
        // a well-formed header that claims 10^10 pixels.
        var huge = png.ToArray();
        foreach (int at in new[] { 16, 20 }) { huge[at] = 0; huge[at + 1] = 0x01; huge[at + 2] = 0x86; huge[at + 3] = 0xA0; }
        uint crc = Crc32(huge.AsSpan(12, 17));   // chunk type + 13 data bytes
        huge[29] = (byte)(crc >> 24); huge[30] = (byte)(crc >> 16); huge[31] = (byte)(crc >> 8); huge[32] = (byte)crc;
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => Images.GetInfo(huge));
        StringAssert.Contains(ex.Message, "too large");
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    [TestMethod]
    public void DecodesBmpFilesBottomUpAndBgr()
    {
        // A 1x2 24-bit BMP written by hand: rows are stored bottom-up, pixels as B, G, R, rows padded to 4 bytes.
        var bmp = new byte[54 + 2 * 4];
        "BM"u8.CopyTo(bmp);
        BitConverter.GetBytes(bmp.Length).CopyTo(bmp, 2);
        BitConverter.GetBytes(54).CopyTo(bmp, 10);
        BitConverter.GetBytes(40).CopyTo(bmp, 14);
        BitConverter.GetBytes(1).CopyTo(bmp, 18);
        BitConverter.GetBytes(2).CopyTo(bmp, 22);
        BitConverter.GetBytes((short)1).CopyTo(bmp, 26);
        BitConverter.GetBytes((short)24).CopyTo(bmp, 28);
        new byte[] { 3, 2, 1, 0, 30, 20, 10, 0 }.CopyTo(bmp, 54);
        var decoded = Images.Decode(bmp);
        Assert.AreEqual((1, 2, 3), (decoded.Width, decoded.Height, decoded.Channels));
        CollectionAssert.AreEqual(new byte[] { 10, 20, 30, 1, 2, 3 }, decoded.Pixels, "top row first, RGB order");
    }

    [TestMethod]
    public void UndecodableDataIsRejectedClearly()
    {
        var garbage = Assert.ThrowsExactly<InvalidDataException>(() => Images.Decode(Encoding.ASCII.GetBytes("certainly not an image")));
        StringAssert.Contains(garbage.Message, "not a PNG, JPEG or BMP image");
        Assert.ThrowsExactly<InvalidDataException>(() => Images.Decode([]));
        var png = Images.EncodePng(Pattern(64 * 64 * 3), 64, 64, 3);
        Assert.ThrowsExactly<InvalidDataException>(() => Images.Decode(png.AsSpan(0, png.Length / 2)), "a truncated PNG");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Images.Decode(png, channels: 5));

        var path = Path.Combine(Path.GetTempPath(), $"mld-not-an-image-{Guid.NewGuid():N}.png");
        File.WriteAllText(path, "text");
        try
        {
            StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => Images.DecodeFile(path)).Message, path);
        }
        finally { File.Delete(path); }
    }

    [TestMethod]
    public void EncodeChecksThePixelBuffer()
    {
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Images.EncodePng(new byte[5], 2, 2, 1)).Message, "needs 4 bytes");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Images.EncodePng(new byte[10], 1, 2, 5));
        Assert.ThrowsExactly<ArgumentException>(() => Images.EncodePng([], 0, 2, 1));
        var dir = Path.Combine(Path.GetTempPath(), $"mld-missing-{Guid.NewGuid():N}");
        var io = Assert.ThrowsExactly<IOException>(() => Images.WritePng(Path.Combine(dir, "x.png"), new byte[4], 2, 2, 1));
        StringAssert.Contains(io.Message, dir);
    }

    [TestMethod]
    public void ImageFilesRoundTripsFloatChwImagesExactly()
    {
        var shape = new ImageShape(3, 4, 5);
        var chw = Pattern(shape.Size).Select(b => b / 255f).ToArray();
        var decoded = ImageFiles.Decode(ImageFiles.EncodePng(chw, shape), 0, out var decodedShape);
        Assert.AreEqual(shape, decodedShape);
        CollectionAssert.AreEqual(chw, decoded);

        var path = Path.Combine(Path.GetTempPath(), $"mld-{Guid.NewGuid():N}.png");
        try
        {
            ImageFiles.SavePng(chw, shape, path);
            var image = Images.DecodeFile(path);
            Assert.AreEqual((5, 4, 3), (image.Width, image.Height, image.Channels));
            Assert.AreEqual((byte)Math.Round(chw[2 * 20 + 7] * 255), image[1, 2, 2], "CHW → HWC: channel 2, row 1, column 2");
        }
        finally { File.Delete(path); }
    }

    [TestMethod]
    public void ImageFilesClampsOutOfRangeValuesAndRefusesNaN()
    {
        var shape = new ImageShape(1, 1, 4);
        var png = ImageFiles.EncodePng(new[] { -0.5f, 1.5f, 0.5f, 0.2f }, shape);
        CollectionAssert.AreEqual(new byte[] { 0, 255, 128, 51 }, Images.Decode(png).Pixels);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ImageFiles.EncodePng(new[] { 0f, float.NaN, 0f, 0f }, shape)).Message, "NaN");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ImageFiles.EncodePng(new float[3], shape)).Message, "needs 4 values");
    }

    [TestMethod]
    public void DecodeToATargetShapeResizesBilinearly()
    {
        // One row [0, 255] widened to 4 columns: PyTorch's bilinear with align_corners=False gives a, ¾a+¼b, ¼a+¾b, b.
        var png = Images.EncodePng(new byte[] { 0, 255 }, 2, 1, 1);
        var resized = ImageFiles.Decode(png, new ImageShape(1, 1, 4));
        CollectionAssert.AreEqual(new[] { 0f, 0.25f, 0.75f, 1f }, resized);
        var rgb = ImageFiles.Decode(png, new ImageShape(3, 1, 2));
        CollectionAssert.AreEqual(new[] { 0f, 1f, 0f, 1f, 0f, 1f }, rgb);
    }
}

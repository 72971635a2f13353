using SkiaSharp;

namespace MLDefense.Torch;

/// <summary>
/// A decoded image: 8-bit pixels, rows top to bottom, channels interleaved (HWC: the value of channel c at row y,
/// column x is <c>Pixels[(y * Width + x) * Channels + c]</c>). One channel is grey, two grey + alpha, three RGB,
/// four RGBA.
/// </summary>
public sealed record DecodedImage(int Width, int Height, int Channels, byte[] Pixels)
{
    /// <summary>The value of one channel of one pixel.</summary>
    public byte this[int y, int x, int channel] => Pixels[((long)y * Width + x) * Channels + channel];
}

/// <summary>The size and stored channel count of an image file, read without decoding its pixels.</summary>
public readonly record struct ImageInfo(int Width, int Height, int Channels);

/// <summary>
/// Image files through SkiaSharp 2.88 — the version Microsoft.ML.ImageAnalytics 5.0.1 is built on, so the project
/// carries one image library: decodes PNG, JPEG (baseline and progressive) and BMP; encodes PNG (lossless). 16-bit
/// PNGs are decoded to 8 bits. Data that is not a decodable image raises <see cref="InvalidDataException"/> saying why.
/// </summary>
/// <remarks>
/// The stored channel count is 1 for a grey file, 3 for an opaque colour file and 4 for one with transparency
/// (a grey file with alpha reads as 4, and a two-channel image is written as RGBA: SkiaSharp's PNG encoder has no
/// grey + alpha). Conversion to grey uses the luminance weights (77 R + 150 G + 29 B) / 256.
/// </remarks>
public static class Images
{
    /// <summary>The most pixels one image may have (100 megapixels): larger headers are refused before decoding.</summary>
    public const long MaxPixels = 100_000_000;

    /// <summary>The file extensions <see cref="Decode"/> reads (lower case, with the dot).</summary>
    public static IReadOnlyList<string> DecodableExtensions { get; } = [".png", ".jpg", ".jpeg", ".bmp"];

    /// <summary>Reads the size and stored channel count of encoded image bytes.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an image SkiaSharp can read, or it is too large.</exception>
    public static ImageInfo GetInfo(ReadOnlySpan<byte> encoded)
    {
        using var codec = OpenCodec(encoded);
        return new ImageInfo(codec.Info.Width, codec.Info.Height, StoredChannels(codec.Info));
    }

    /// <summary>
    /// Decodes PNG/JPEG/BMP bytes. <paramref name="channels"/>: 1 converts to grey, 2 to grey + alpha, 3 to RGB,
    /// 4 to RGBA, 0 keeps what the file stores.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> is not 0 to 4.</exception>
    /// <exception cref="InvalidDataException">The bytes are not a decodable image (the message says why).</exception>
    public static DecodedImage Decode(ReadOnlySpan<byte> encoded, int channels = 0)
    {
        if (channels is < 0 or > 4)
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "Ask for 1 (grey), 2 (grey + alpha), 3 (RGB), 4 (RGBA) channels, or 0 for what the file stores.");
        using var codec = OpenCodec(encoded);
        int width = codec.Info.Width, height = codec.Info.Height, stored = StoredChannels(codec.Info);
        int wanted = channels == 0 ? stored : channels;
        var pixels = new byte[(long)width * height * wanted];
        if (stored == 1)
        {
            // A grey file decodes as grey, so its values come back exactly.
            var grey = GetPixels(codec, new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
            for (long i = 0, n = (long)width * height; i < n; i++)
                for (int c = 0; c < wanted; c++) pixels[i * wanted + c] = c == 3 || (wanted == 2 && c == 1) ? (byte)255 : grey[i];
            return new DecodedImage(width, height, wanted, pixels);
        }
        var rgba = GetPixels(codec, new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (long i = 0, n = (long)width * height; i < n; i++)
        {
            byte r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2], a = rgba[4 * i + 3];
            switch (wanted)
            {
                case 1: pixels[i] = Luminance(r, g, b); break;
                case 2: pixels[2 * i] = Luminance(r, g, b); pixels[2 * i + 1] = a; break;
                case 3: pixels[3 * i] = r; pixels[3 * i + 1] = g; pixels[3 * i + 2] = b; break;
                default: pixels[4 * i] = r; pixels[4 * i + 1] = g; pixels[4 * i + 2] = b; pixels[4 * i + 3] = a; break;
            }
        }
        return new DecodedImage(width, height, wanted, pixels);
    }

    /// <summary>Decodes an image file (see <see cref="Decode"/>); errors name the file.</summary>
    /// <exception cref="InvalidDataException">The file is not a decodable image.</exception>
    public static DecodedImage DecodeFile(string path, int channels = 0)
    {
        var bytes = File.ReadAllBytes(path);
        try
        {
            return Decode(bytes, channels);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"'{path}' is not a decodable image: {ex.Message}", ex);
        }
    }

    /// <summary>Encodes HWC 8-bit pixels (see <see cref="DecodedImage"/>) as a PNG file's bytes.</summary>
    public static byte[] EncodePng(ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        CheckPixels(pixels, width, height, channels);
        using var image = ToImage(pixels, width, height, channels);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"SkiaSharp could not encode a {width}x{height} PNG.");
        return data.ToArray();
    }

    /// <summary>Encodes a decoded image as PNG bytes.</summary>
    public static byte[] EncodePng(DecodedImage image) => EncodePng(image.Pixels, image.Width, image.Height, image.Channels);

    /// <summary>Writes HWC 8-bit pixels as a PNG file (replacing any file there).</summary>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void WritePng(string path, ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var png = EncodePng(pixels, width, height, channels);
        try
        {
            File.WriteAllBytes(Path.GetFullPath(path), png);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cannot write '{path}': {ex.Message}", ex);
        }
    }

    private static SKCodec OpenCodec(ReadOnlySpan<byte> encoded)
    {
        if (encoded.IsEmpty) throw new InvalidDataException("Cannot decode an image from 0 bytes.");
        var stream = new SKMemoryStream(encoded.ToArray());
        var codec = SKCodec.Create(stream, out var result);   // takes the stream when it succeeds
        if (codec is null) stream.Dispose();
        if (codec is null)
            throw new InvalidDataException(result == SKCodecResult.IncompleteInput
                ? "the image data ends early (truncated)"
                : "not a PNG, JPEG or BMP image");
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Png or SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Bmp))
        {
            var format = codec.EncodedFormat;
            codec.Dispose();
            throw new InvalidDataException($"{format} images are not supported (PNG, JPEG or BMP)");
        }
        long pixelCount = (long)codec.Info.Width * codec.Info.Height;
        if (codec.Info.Width < 1 || codec.Info.Height < 1 || pixelCount > MaxPixels)
        {
            var (w, h) = (codec.Info.Width, codec.Info.Height);
            codec.Dispose();
            throw new InvalidDataException($"the image is {w}x{h}, too large to decode (at most {MaxPixels:N0} pixels)");
        }
        return codec;
    }

    private static byte[] GetPixels(SKCodec codec, SKImageInfo info)
    {
        var pixels = new byte[info.BytesSize64];
        unsafe
        {
            fixed (byte* p = pixels)
            {
                var result = codec.GetPixels(info, (IntPtr)p);
                if (result != SKCodecResult.Success)
                    throw new InvalidDataException(result == SKCodecResult.IncompleteInput
                        ? "the image data ends early (truncated)"
                        : $"the image cannot be decoded ({result})");
            }
        }
        return pixels;
    }

    private static int StoredChannels(SKImageInfo info) =>
        info.ColorType is SKColorType.Gray8 ? 1 : info.AlphaType == SKAlphaType.Opaque ? 3 : 4;

    private static byte Luminance(byte r, byte g, byte b) => (byte)((r * 77 + g * 150 + b * 29) >> 8);

    private static unsafe SKImage ToImage(ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        if (channels == 1)
        {
            var greyInfo = new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque);
            fixed (byte* p = pixels) return SKImage.FromPixelCopy(greyInfo, (IntPtr)p, width);
        }
        var rgba = new byte[(long)width * height * 4];
        for (long i = 0, n = (long)width * height; i < n; i++)
        {
            var (r, g, b, a) = channels switch
            {
                2 => (pixels[(int)(2 * i)], pixels[(int)(2 * i)], pixels[(int)(2 * i)], pixels[(int)(2 * i + 1)]),
                3 => (pixels[(int)(3 * i)], pixels[(int)(3 * i + 1)], pixels[(int)(3 * i + 2)], (byte)255),
                _ => (pixels[(int)(4 * i)], pixels[(int)(4 * i + 1)], pixels[(int)(4 * i + 2)], pixels[(int)(4 * i + 3)]),
            };
            rgba[4 * i] = r; rgba[4 * i + 1] = g; rgba[4 * i + 2] = b; rgba[4 * i + 3] = a;
        }
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, channels == 3 ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        fixed (byte* p = rgba) return SKImage.FromPixelCopy(info, (IntPtr)p, width * 4);
    }

    private static void CheckPixels(ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"An image needs a positive width and height, got {width}x{height}.");
        if (channels is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(channels), channels, "PNG stores 1 to 4 channels.");
        long expected = (long)width * height * channels;
        if (pixels.Length != expected)
            throw new ArgumentException($"A {width}x{height} image with {channels} channel(s) needs {expected} bytes (HWC), got {pixels.Length}.", nameof(pixels));
    }
}

using System.Runtime.InteropServices;
using MLDefense.Torch.Native;
using static MLDefense.Torch.Native.NativeMethods;

namespace MLDefense.Torch.IO;

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
/// Image files through stb (<c>stb_image</c> / <c>stb_image_write</c>, compiled into the native shim): decodes PNG,
/// JPEG (baseline and progressive), BMP, PPM and PGM; encodes PNG (lossless). 16-bit PNGs are decoded to 8 bits.
/// Data that is not a decodable image raises <see cref="InvalidDataException"/> with stb's reason.
/// </summary>
public static class Images
{
    /// <summary>The file extensions <see cref="Decode"/> reads (lower case, with the dot).</summary>
    public static IReadOnlyList<string> DecodableExtensions { get; } = [".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm"];

    /// <summary>Reads the size and stored channel count of encoded image bytes.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an image stb can read.</exception>
    public static unsafe ImageInfo GetInfo(ReadOnlySpan<byte> encoded)
    {
        if (encoded.IsEmpty) throw new InvalidDataException("Cannot read an image from 0 bytes.");
        int width, height, channels;
        fixed (byte* data = encoded)
            CheckData(mld_image_info(data, encoded.Length, out width, out height, out channels), "image info");
        return new ImageInfo(width, height, channels);
    }

    /// <summary>
    /// Decodes PNG/JPEG/BMP/PPM/PGM bytes. <paramref name="channels"/>: 1 converts to grey (stb's luminance
    /// weights), 3 to RGB, 4 to RGBA, 0 keeps what the file stores.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> is not 0 to 4.</exception>
    /// <exception cref="InvalidDataException">The bytes are not an image stb can decode (the message says why).</exception>
    public static unsafe DecodedImage Decode(ReadOnlySpan<byte> encoded, int channels = 0)
    {
        if (channels is < 0 or > 4)
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "Ask for 1 (grey), 3 (RGB), 4 (RGBA) channels, or 0 for what the file stores.");
        if (encoded.IsEmpty) throw new InvalidDataException("Cannot decode an image from 0 bytes.");
        IntPtr pixels;
        int width, height, stored;
        fixed (byte* data = encoded)
            CheckData(mld_image_decode(data, encoded.Length, channels, out pixels, out width, out height, out stored), "decode image");
        try
        {
            var copy = new byte[checked(width * height * stored)];
            Marshal.Copy(pixels, copy, 0, copy.Length);
            return new DecodedImage(width, height, stored, copy);
        }
        finally
        {
            mld_image_free_pixels(pixels);
        }
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
    public static unsafe byte[] EncodePng(ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        CheckPixels(pixels, width, height, channels);
        IntPtr png;
        long length;
        fixed (byte* p = pixels)
            Check.Status(mld_image_encode_png(p, width, height, channels, out png, out length), "encode PNG");
        try
        {
            var bytes = new byte[length];
            Marshal.Copy(png, bytes, 0, bytes.Length);
            return bytes;
        }
        finally
        {
            mld_image_free_buffer(png);
        }
    }

    /// <summary>Encodes a decoded image as PNG bytes.</summary>
    public static byte[] EncodePng(DecodedImage image) => EncodePng(image.Pixels, image.Width, image.Height, image.Channels);

    /// <summary>Writes HWC 8-bit pixels as a PNG file (replacing any file there).</summary>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static unsafe void WritePng(string path, ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        CheckPixels(pixels, width, height, channels);
        fixed (byte* p = pixels)
        {
            try
            {
                Check.Status(mld_image_write_png(Path.GetFullPath(path), p, width, height, channels), "write PNG");
            }
            catch (TorchException ex)
            {
                throw new IOException(ex.NativeMessage, ex);
            }
        }
    }

    private static void CheckPixels(ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"An image needs a positive width and height, got {width}x{height}.");
        if (channels is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(channels), channels, "PNG stores 1 to 4 channels.");
        long expected = (long)width * height * channels;
        if (pixels.Length != expected)
            throw new ArgumentException($"A {width}x{height} image with {channels} channel(s) needs {expected} bytes (HWC), got {pixels.Length}.", nameof(pixels));
    }

    // Undecodable input is a data problem, not an engine failure: surface it as InvalidDataException with stb's reason.
    private static void CheckData(int status, string operation)
    {
        try
        {
            Check.Status(status, operation);
        }
        catch (TorchException ex)
        {
            throw new InvalidDataException(ex.NativeMessage, ex);
        }
    }
}

using System.Runtime.ExceptionServices;

using MLDefense.Torch;

namespace MLDefense.Data;

/// <summary>
/// Conversions between image files and the project's image values: float vectors in CHW order with values in
/// [0, 1] (see <see cref="ImageShape"/>). Decoding divides each 8-bit value by 255; encoding clamps to [0, 1],
/// multiplies by 255 and rounds to the nearest integer, so decode → encode reproduces a PNG's pixels exactly.
/// </summary>
public static class ImageFiles
{
    /// <summary>Decodes image bytes (PNG/JPEG/BMP/PPM/PGM) at their own size. <paramref name="channels"/>: 1 grey, 3 RGB, 4 RGBA, 0 as stored.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a decodable image.</exception>
    public static float[] Decode(ReadOnlySpan<byte> encoded, int channels, out ImageShape shape)
    {
        var image = Images.Decode(encoded, channels);
        shape = new ImageShape(image.Channels, image.Height, image.Width);
        return ToChw(image);
    }

    /// <summary>
    /// Decodes image bytes into <paramref name="target"/>'s channels and size: stb converts the channels (1 grey by
    /// its luminance weights, 3 RGB), then a bilinear resize (PyTorch's <c>interpolate</c>, <c>align_corners=False</c>,
    /// no antialiasing) brings it to the target height and width when they differ.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not a decodable image.</exception>
    public static float[] Decode(ReadOnlySpan<byte> encoded, ImageShape target)
    {
        var pixels = Decode(encoded, target.Channels, out var shape);
        return shape == target ? pixels : Resize(pixels, 1, shape, target.Height, target.Width);
    }

    /// <summary>Encodes one CHW image in [0, 1] as PNG bytes (for web responses and reports).</summary>
    /// <exception cref="ArgumentException">The values do not fit the shape, or one is NaN.</exception>
    public static byte[] EncodePng(ReadOnlySpan<float> chw, ImageShape shape)
    {
        var pixels = ToHwcBytes(chw, shape);
        return Images.EncodePng(pixels, shape.Width, shape.Height, shape.Channels);
    }

    /// <summary>Writes one CHW image in [0, 1] as a PNG file (replacing any file there).</summary>
    /// <exception cref="ArgumentException">The values do not fit the shape, or one is NaN.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void SavePng(ReadOnlySpan<float> chw, ImageShape shape, string path)
    {
        var pixels = ToHwcBytes(chw, shape);
        Images.WritePng(path, pixels, shape.Width, shape.Height, shape.Channels);
    }

    /// <summary>HWC bytes → CHW floats in [0, 1].</summary>
    internal static float[] ToChw(DecodedImage image)
    {
        int c = image.Channels, plane = image.Width * image.Height;
        var chw = new float[plane * c];
        var hwc = image.Pixels;
        for (int p = 0; p < plane; p++)
            for (int k = 0; k < c; k++)
                chw[k * plane + p] = hwc[p * c + k] / 255f;
        return chw;
    }

    /// <summary>CHW floats → HWC bytes: clamped to [0, 1], × 255, rounded. NaN has no pixel value, so it is refused.</summary>
    internal static byte[] ToHwcBytes(ReadOnlySpan<float> chw, ImageShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        shape.Validate();
        if (chw.Length != shape.Size)
            throw new ArgumentException($"An image of shape {shape} needs {shape.Size} values (CHW), got {chw.Length}.", nameof(chw));
        int c = shape.Channels, plane = shape.Width * shape.Height;
        var hwc = new byte[chw.Length];
        for (int k = 0; k < c; k++)
            for (int p = 0; p < plane; p++)
            {
                float v = chw[k * plane + p];
                if (float.IsNaN(v)) throw new ArgumentException($"The image holds NaN at channel {k}, pixel {p}; it cannot be written as an image.", nameof(chw));
                hwc[p * c + k] = (byte)MathF.Round(Math.Clamp(v, 0f, 1f) * 255f);
            }
        return hwc;
    }

    /// <summary>Resizes <paramref name="count"/> CHW images of one shape, bilinearly (align_corners false), on the CPU.</summary>
    internal static float[] Resize(float[] images, int count, ImageShape source, int height, int width)
    {
        if (source.Height == height && source.Width == width) return images;
        using var input = torch.tensor(images, [count, source.Channels, source.Height, source.Width]);
        using var resized = torch.nn.functional.interpolate(input, size: [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
        // A convex combination of values in [0, 1] stays there but for rounding; clamp so the [0, 1] promise holds exactly.
        resized.clamp_(0, 1);
        return resized.data<float>().ToArray();
    }

    /// <summary>Runs <paramref name="body"/> for 0..count−1 in parallel, rethrowing the first failure as itself (not an AggregateException).</summary>
    internal static void ParallelFor(int count, Action<int> body)
    {
        try
        {
            Parallel.For(0, count, body);
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
        }
    }
}

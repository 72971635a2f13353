using System.Buffers.Binary;
using MLDefense.Torch;

namespace MLDefense.Samples.ImageApi;

/// <summary>Why an upload was refused: the HTTP status and a message for the client.</summary>
/// <param name="StatusCode">400 not an image or a malformed body, 413 too large, 415 wrong content type, 422 wrong size.</param>
/// <param name="Message">What was wrong and what is expected.</param>
public sealed record UploadError(int StatusCode, string Message);

/// <summary>
/// Reads the uploaded image of a <c>POST /predict</c> request and decodes it to the model's input: either the file field
/// <c>image</c> of a <c>multipart/form-data</c> body, or the whole body with <c>Content-Type: image/png</c> or
/// <c>image/jpeg</c>. The bytes must be a PNG or a JPEG (checked by their signature, whatever the content type says) of
/// exactly 28×28 pixels (read from the file's header before any pixel is decoded); colour images are converted to grey
/// (luminance weights, by the project's SkiaSharp image code).
/// </summary>
public static class ImageUpload
{
    /// <summary>The multipart form field that carries the image.</summary>
    public const string FormField = "image";

    /// <summary>Extra room for the multipart framing (boundaries, part headers) on top of the file's own limit.</summary>
    public const long MultipartOverheadBytes = 16 * 1024;

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private static ReadOnlySpan<byte> JpegSignature => [0xFF, 0xD8, 0xFF];

    /// <summary>Reads the upload's bytes, at most <paramref name="maxBytes"/>; returns them or why not.</summary>
    public static async Task<(byte[]? Bytes, UploadError? Error)> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes + (request.HasFormContentType ? MultipartOverheadBytes : 0))
            return (null, TooLarge(maxBytes));
        try
        {
            if (request.HasFormContentType)
            {
                if (!request.ContentType!.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
                    return (null, WrongContentType(request.ContentType));
                var form = await request.ReadFormAsync(cancellationToken);
                var file = form.Files.GetFile(FormField);
                if (file is null)
                    return (null, new UploadError(StatusCodes.Status400BadRequest, $"The multipart form has no file field named '{FormField}'."));
                if (file.Length > maxBytes) return (null, TooLarge(maxBytes));
                var bytes = new byte[file.Length];
                await using var stream = file.OpenReadStream();
                await stream.ReadExactlyAsync(bytes, cancellationToken);
                return (bytes, null);
            }

            var mediaType = request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
            if (mediaType is not ("image/png" or "image/jpeg"))
                return (null, WrongContentType(request.ContentType));
            var body = await ReadBodyAsync(request.Body, maxBytes, cancellationToken);
            return body is null ? (null, TooLarge(maxBytes)) : (body, null);
        }
        catch (BadHttpRequestException ex)
        {
            // Kestrel's own body-size limit (set a little above ours) and malformed request framing land here.
            return (null, ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? TooLarge(maxBytes)
                : new UploadError(ex.StatusCode, $"The request body could not be read: {ex.Message}"));
        }
        catch (InvalidDataException ex)
        {
            return (null, new UploadError(StatusCodes.Status400BadRequest, $"The multipart body is malformed: {ex.Message}"));
        }
        catch (IOException) when (request.HasFormContentType && !cancellationToken.IsCancellationRequested)
        {
            // ASP.NET Core's multipart reader ends a body that stops before its closing boundary (an upload cut off
            // mid-file, or no multipart framing at all) with IOException("Unexpected end of Stream..."): the client's input.
            return (null, new UploadError(StatusCodes.Status400BadRequest,
                "The multipart body ends before its closing boundary: the upload was cut off, or the body has no multipart framing."));
        }
    }

    /// <summary>Decodes PNG or JPEG bytes to the model's input (CHW floats in [0, 1]), or says why they cannot be.</summary>
    public static (float[]? Image, UploadError? Error) Decode(byte[] bytes, ImageSize shape)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(shape);
        if (bytes.Length == 0)
            return (null, new UploadError(StatusCodes.Status400BadRequest, "The upload is empty; send a PNG or JPEG image."));
        bool png = bytes.AsSpan().StartsWith(PngSignature);
        if (!png && !bytes.AsSpan().StartsWith(JpegSignature))
            return (null, new UploadError(StatusCodes.Status400BadRequest, "The upload is not a PNG or JPEG image (its first bytes are neither signature)."));
        // The size comes from the header alone, so an image of the wrong size is refused before its pixels are decoded,
        // and a header claiming a huge image is named for what it is (the decoder would only say it cannot open it).
        var size = png ? PngSize(bytes) : JpegSize(bytes);
        if (size is null)
            return (null, new UploadError(StatusCodes.Status400BadRequest,
                $"The upload is not a decodable image: its {(png ? "PNG header (IHDR)" : "JPEG header (no frame marker)")} is missing or cut off."));
        var (width, height) = size.Value;
        if (width != shape.Width || height != shape.Height)
        {
            string what = (long)width * height > (long)shape.Width * shape.Height ? "too large" : "too small";
            return (null, new UploadError(StatusCodes.Status422UnprocessableEntity,
                $"The image is {width}×{height} pixels, {what}: the model takes {shape.Width}×{shape.Height} (resize it first)."));
        }
        try
        {
            var decoded = Images.Decode(bytes, shape.Channels);
            if (decoded.Width != shape.Width || decoded.Height != shape.Height)
                return (null, new UploadError(StatusCodes.Status422UnprocessableEntity,
                    $"The image is {decoded.Width}×{decoded.Height} pixels; the model takes {shape.Width}×{shape.Height} (resize it first)."));
            return (ToChw(decoded), null);
        }
        catch (InvalidDataException ex)
        {
            return (null, new UploadError(StatusCodes.Status400BadRequest, $"The upload is not a decodable image: {ex.Message}"));
        }
    }

    /// <summary>HWC 8-bit pixels → CHW floats in [0, 1] (each value / 255).</summary>
    public static float[] ToChw(DecodedImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        int channels = image.Channels, plane = image.Width * image.Height;
        var chw = new float[plane * channels];
        for (int p = 0; p < plane; p++)
            for (int c = 0; c < channels; c++)
                chw[c * plane + p] = image.Pixels[p * channels + c] / 255f;
        return chw;
    }

    /// <summary>CHW floats → PNG bytes: each value clamped to [0, 1], × 255 and rounded.</summary>
    /// <exception cref="ArgumentException">The values do not fit the shape, or one is NaN (which has no pixel value).</exception>
    public static byte[] EncodePng(ReadOnlySpan<float> chw, ImageSize shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (chw.Length != shape.Length)
            throw new ArgumentException($"An image of {shape} needs {shape.Length} values (CHW), got {chw.Length}.", nameof(chw));
        int channels = shape.Channels, plane = shape.Width * shape.Height;
        var hwc = new byte[chw.Length];
        for (int c = 0; c < channels; c++)
            for (int p = 0; p < plane; p++)
            {
                float value = chw[c * plane + p];
                if (float.IsNaN(value)) throw new ArgumentException($"The image holds NaN at channel {c}, pixel {p}; it cannot be written as a PNG.", nameof(chw));
                hwc[p * channels + c] = (byte)MathF.Round(Math.Clamp(value, 0f, 1f) * 255f);
            }
        return Images.EncodePng(hwc, shape.Width, shape.Height, channels);
    }

    /// <summary>A PNG's width and height from its first chunk (IHDR, bytes 16–23, big-endian), or null when it is not there.</summary>
    private static (long Width, long Height)? PngSize(ReadOnlySpan<byte> png) =>
        png.Length >= 24 && png[12..16].SequenceEqual("IHDR"u8)
            ? (BinaryPrimitives.ReadUInt32BigEndian(png[16..20]), BinaryPrimitives.ReadUInt32BigEndian(png[20..24]))
            : null;

    /// <summary>A JPEG's width and height from its first frame header (SOF0–SOF15 but DHT, JPG and DAC), or null when there is none before the scan.</summary>
    private static (long Width, long Height)? JpegSize(ReadOnlySpan<byte> jpeg)
    {
        int at = 2;
        while (at + 4 <= jpeg.Length)
        {
            if (jpeg[at] != 0xFF) return null;
            byte marker = jpeg[at + 1];
            if (marker == 0xFF) { at++; continue; }                                            // fill byte
            if (marker is 0x01 or (>= 0xD0 and <= 0xD7)) { at += 2; continue; }                // markers without a length
            if (marker is 0xD9 or 0xDA) return null;                                           // end of image, start of scan
            int length = BinaryPrimitives.ReadUInt16BigEndian(jpeg[(at + 2)..]);
            if (marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC))
                return at + 9 <= jpeg.Length
                    ? (BinaryPrimitives.ReadUInt16BigEndian(jpeg[(at + 7)..]), BinaryPrimitives.ReadUInt16BigEndian(jpeg[(at + 5)..]))
                    : null;
            if (length < 2) return null;
            at += 2 + length;
        }
        return null;
    }

    /// <summary>The whole stream, or null when it holds more than <paramref name="maxBytes"/>.</summary>
    private static async Task<byte[]?> ReadBodyAsync(Stream body, long maxBytes, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static UploadError TooLarge(long maxBytes) =>
        new(StatusCodes.Status413PayloadTooLarge, $"The upload is larger than the limit of {maxBytes} bytes (MaxUploadBytes).");

    private static UploadError WrongContentType(string? contentType) =>
        new(StatusCodes.Status415UnsupportedMediaType,
            $"Content type '{contentType ?? "(none)"}' is not accepted: send the image as the file field '{FormField}' of a multipart/form-data body, " +
            "or as the body itself with Content-Type image/png or image/jpeg.");
}

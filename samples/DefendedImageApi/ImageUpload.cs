using MLDefense.Torch;
using MLDefense.Legacy;

namespace MLDefense.Samples.ImageApi;

/// <summary>Why an upload was refused: the HTTP status and a message for the client.</summary>
/// <param name="StatusCode">400 not an image, 413 too large, 415 wrong content type, 422 wrong size.</param>
/// <param name="Message">What was wrong and what is expected.</param>
public sealed record UploadError(int StatusCode, string Message);

/// <summary>
/// Reads the uploaded image of a <c>POST /predict</c> request and decodes it to the model's input: either the file field
/// <c>image</c> of a <c>multipart/form-data</c> body, or the whole body with <c>Content-Type: image/png</c> or
/// <c>image/jpeg</c>. The bytes must be a PNG or a JPEG (checked by their signature, whatever the content type says) of
/// exactly 28×28 pixels; colour images are converted to grey (stb's luminance weights).
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
    }

    /// <summary>Decodes PNG or JPEG bytes to the model's input, or says why they cannot be.</summary>
    public static (float[]? Image, UploadError? Error) Decode(byte[] bytes, ImageShape shape)
    {
        if (bytes.Length == 0)
            return (null, new UploadError(StatusCodes.Status400BadRequest, "The upload is empty; send a PNG or JPEG image."));
        if (!bytes.AsSpan().StartsWith(PngSignature) && !bytes.AsSpan().StartsWith(JpegSignature))
            return (null, new UploadError(StatusCodes.Status400BadRequest, "The upload is not a PNG or JPEG image (its first bytes are neither signature)."));
        ImageInfo info;
        try
        {
            // The size comes from the header alone, so an image of the wrong size is refused before its pixels are decoded.
            info = Images.GetInfo(bytes);
        }
        catch (InvalidDataException ex)
        {
            return (null, new UploadError(StatusCodes.Status400BadRequest, $"The upload is not a decodable image: {ex.Message}"));
        }
        if (info.Width != shape.Width || info.Height != shape.Height)
            return (null, new UploadError(StatusCodes.Status422UnprocessableEntity,
                $"The image is {info.Width}×{info.Height} pixels; the model takes {shape.Width}×{shape.Height} (resize it first)."));
        try
        {
            return (ImageFiles.Decode(bytes, shape.Channels, out _), null);
        }
        catch (InvalidDataException ex)
        {
            return (null, new UploadError(StatusCodes.Status400BadRequest, $"The upload is not a decodable image: {ex.Message}"));
        }
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

using System.Buffers.Binary;
using System.IO.Compression;

namespace MLDefense.Data;

/// <summary>Reads dataset files that may be gzip-compressed, recognised by their magic bytes rather than their extension.</summary>
public static class DatasetFiles
{
    /// <summary>The whole (decompressed) content of a file; errors name the file.</summary>
    public static byte[] ReadAllBytes(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Dataset file '{path}' does not exist.", path);
        var raw = File.ReadAllBytes(path);
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
        try
        {
            if (raw.Length < 18) throw new InvalidDataException($"{raw.Length} bytes is too short for a gzip file");
            // The trailer's ISIZE is the uncompressed length mod 2^32 (single-member files, as every dataset ships).
            // GZipStream stops quietly at the end of a truncated file, so the length read is compared with it.
            uint recorded = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(raw.Length - 4));
            using var gzip = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            // The trailer is only a hint for the buffer: a lying one must not allocate gigabytes up front.
            using var content = new MemoryStream(capacity: (int)Math.Min(recorded, 1u << 28));
            gzip.CopyTo(content);
            if ((uint)content.Length != recorded)
                throw new InvalidDataException($"it decompresses to {content.Length} bytes but its trailer records {recorded}");
            return content.ToArray();
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"'{path}' starts like a gzip file but does not decompress (truncated or corrupt): {ex.Message}", ex);
        }
    }

    /// <summary>A big-endian Int32 at <paramref name="offset"/> (IDX headers).</summary>
    public static int ReadBigEndianInt32(byte[] bytes, int offset) => BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(offset, 4));

    // byte / 255 as torchvision's ToTensor computes it, looked up rather than divided in the loop.
    private static readonly float[] UnitFloats = Enumerable.Range(0, 256).Select(i => i / 255f).ToArray();

    /// <summary>Pixel bytes → floats in [0, 1] (byte / 255), written into <paramref name="destination"/>.</summary>
    public static void ToUnitFloats(ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        for (int i = 0; i < bytes.Length; i++) destination[i] = UnitFloats[bytes[i]];
    }
}

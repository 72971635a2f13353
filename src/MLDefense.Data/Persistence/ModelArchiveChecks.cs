using System.IO.Compression;

using MLDefense.Data;
namespace MLDefense.Legacy;

/// <summary>
/// The checks a model zip passes before any component reads from it: the file is a zip, every entry name is a plain
/// relative path, no name appears twice, and every entry decompresses to its recorded length and CRC-32.
/// </summary>
internal static class ModelArchiveChecks
{
    /// <summary>Opens a zip for reading, telling a truncated file from one that is no zip at all.</summary>
    public static ZipArchive Open(Stream stream, string source)
    {
        try
        {
            return new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException(StartsLikeZip(stream)
                ? $"{source} starts like a zip but its central directory cannot be read: the file is truncated or corrupt ({ex.Message})"
                : $"{source} is not a model zip: it is not a zip archive ({ex.Message})", ex);
        }
    }

    private static bool StartsLikeZip(Stream stream)
    {
        if (!stream.CanSeek || stream.Length < 4) return false;
        stream.Seek(0, SeekOrigin.Begin);
        Span<byte> signature = stackalloc byte[4];
        return stream.ReadAtLeast(signature, 4, throwOnEndOfStream: false) == 4 && signature.SequenceEqual("PK\x03\x04"u8);
    }

    /// <summary>Rejects unsafe or duplicated entry names. Runs before any entry is read.</summary>
    public static void CheckEntryNames(ZipArchive archive, string source)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in archive.Entries)
        {
            if (UnsafeReason(entry.FullName) is { } reason)
                throw new InvalidDataException($"{source} is rejected: entry '{entry.FullName}' {reason}. A model zip only holds plain relative paths.");
            if (!seen.Add(entry.FullName))
                throw new InvalidDataException($"{source} is rejected: entry '{entry.FullName}' appears twice, so which one a reader sees is ambiguous.");
        }
    }

    /// <summary>Why a name is unsafe, or null. Also used to check folders named in the manifest.</summary>
    public static string? UnsafeReason(string name)
    {
        if (name.Length == 0) return "has an empty name";
        if (name.Contains('\\')) return "contains a backslash (a Windows path separator could escape the folder)";
        if (name.Contains('\0')) return "contains a NUL character";
        if (name.StartsWith('/')) return "is an absolute path";
        if (name.Length >= 2 && name[1] == ':') return "starts with a drive letter (an absolute Windows path)";
        var segments = name.Split('/');
        // A trailing '/' marks a directory entry, so only the last segment may be empty.
        for (int i = 0; i < segments.Length; i++)
        {
            if (segments[i] == "..") return "climbs out of the archive ('..')";
            if (segments[i] == ".") return "has a '.' path segment";
            if (segments[i].Length == 0 && i < segments.Length - 1) return "has an empty path segment ('//')";
        }
        return null;
    }

    /// <summary>
    /// Reads every entry once, checking its length and CRC-32 against the central directory. .NET's ZipArchive does
    /// not verify CRCs, so without this a flipped byte in stored weights would load silently as different weights.
    /// </summary>
    public static void CheckIntegrity(ZipArchive archive, string source)
    {
        var buffer = new byte[81920];
        foreach (var entry in archive.Entries)
        {
            if (entry.FullName.EndsWith('/')) continue;
            uint crc = Crc32.Initial;
            long length = 0;
            try
            {
                using var stream = entry.Open();
                int read;
                while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
                {
                    crc = Crc32.Update(crc, buffer.AsSpan(0, read));
                    length += read;
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException)
            {
                throw new InvalidDataException($"{source} is corrupt: entry '{entry.FullName}' cannot be decompressed ({ex.Message}).", ex);
            }
            if (length != entry.Length || Crc32.Finish(crc) != entry.Crc32)
                throw new InvalidDataException($"{source} is corrupt: entry '{entry.FullName}' does not match its recorded length and CRC-32 " +
                    $"(read {length} bytes, CRC {Crc32.Finish(crc):x8}; recorded {entry.Length} bytes, CRC {entry.Crc32:x8}).");
        }
    }

    /// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum zip records per entry.</summary>
    private static class Crc32
    {
        public const uint Initial = 0xFFFFFFFFu;
        private static readonly uint[] Table = BuildTable();

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (uint i = 0; i < 256; i++)
            {
                uint value = i;
                for (int bit = 0; bit < 8; bit++) value = (value & 1) != 0 ? 0xEDB88320u ^ (value >> 1) : value >> 1;
                table[i] = value;
            }
            return table;
        }

        public static uint Update(uint crc, ReadOnlySpan<byte> data)
        {
            foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            return crc;
        }

        public static uint Finish(uint crc) => crc ^ 0xFFFFFFFFu;
    }
}

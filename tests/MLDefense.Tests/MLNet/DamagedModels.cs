using System.IO.Compression;
using System.Text;
using Microsoft.ML;

namespace MLDefense.Tests.MLNet;

/// <summary>Damaging a saved model zip on purpose, and reading what loading it says.</summary>
internal static class DamagedModels
{
    /// <summary>
    /// A copy of <paramref name="zip"/> named <paramref name="name"/>.zip beside it, in which every entry
    /// <paramref name="change"/> returns bytes for is replaced (null leaves the entry as it is); fails when nothing changed.
    /// </summary>
    internal static string Rewrite(string zip, string name, Func<string, byte[], byte[]?> change)
    {
        string copy = Path.Combine(Path.GetDirectoryName(zip)!, $"{name}.zip");
        File.Copy(zip, copy, overwrite: true);
        using var archive = ZipFile.Open(copy, ZipArchiveMode.Update);
        bool changed = false;
        foreach (var entry in archive.Entries.ToArray())
        {
            byte[] bytes;
            using (var stream = entry.Open()) { using var buffer = new MemoryStream(); stream.CopyTo(buffer); bytes = buffer.ToArray(); }
            if (change(entry.FullName, bytes) is not { } replaced) continue;
            string fullName = entry.FullName;
            entry.Delete();
            using var target = archive.CreateEntry(fullName).Open();
            target.Write(replaced);
            changed = true;
        }
        Assert.IsTrue(changed, $"{name}: no entry of the model was changed; entries: {string.Join(", ", archive.Entries.Select(e => e.FullName))}");
        return copy;
    }

    /// <summary>The exception ML.NET's Model.Load throws for <paramref name="zip"/> (the test fails if it loads).</summary>
    internal static Exception LoadFails(string zip) => Assert.Throws<Exception>(() => new MLContext().Model.Load(zip, out _));

    /// <summary>Every message of an exception and its inner ones, with their types: what a user reads.</summary>
    internal static string Messages(Exception error)
    {
        var text = new StringBuilder();
        for (var e = error; e is not null; e = e.InnerException) text.Append(e.GetType().Name).Append(": ").Append(e.Message).Append(" | ");
        return text.ToString();
    }
}

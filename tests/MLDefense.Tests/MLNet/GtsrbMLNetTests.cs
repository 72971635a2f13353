using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Tests.MLNet;

/// <summary><c>ml.Data.LoadGtsrbSubset</c>: the GTSRB subset of shared/datasets as a lazy ML.NET data view, resized as CMAG evaluates it.</summary>
[TestClass]
public sealed class GtsrbMLNetTests
{
    private static string Folder => Path.Combine(MLDefense.Data.KnownDatasets.FindSharedDatasetsDirectory()
        ?? throw new AssertInconclusiveException("shared/datasets is not beside the checkout"), "gtsrb-subset");

    [TestMethod]
    public void TheTestSplitReadsAt32By32WithSignNamesAsKeyValues()
    {
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadGtsrbSubset(train: false, Folder);
        Assert.AreEqual(7949L, view.GetRowCount(), "the README's test count");
        Assert.AreEqual("Vector<Single, 3, 32, 32>", view.Schema["Image"].Type.ToString());
        Assert.AreEqual("Key<UInt32, 0-42>", view.Schema["Label"].Type.ToString());
        var first = ml.Data.CreateEnumerable<Row32>(ml.Data.TakeRows(view, 3), reuseRowObject: false).ToArray();
        Assert.IsTrue(first.All(r => r.Image.All(p => p is >= 0 and <= 1) && r.Image.Any(p => p > 0)), "pixels in [0, 1], not all black");
    }

    [TestMethod]
    public void AtItsStoredSizeTheImagesAreTheFilesBytesAndResizingAveragesNeighbours()
    {
        var ml = new MLContext(seed: 1);
        byte[] raw;
        using (var gz = new GZipStream(File.OpenRead(Path.Combine(Folder, "test.bin.gz")), CompressionMode.Decompress))
        using (var buffer = new MemoryStream()) { gz.CopyTo(buffer); raw = buffer.ToArray(); }
        const int record = 1 + 3 * 35 * 35;
        var stored = ml.Data.CreateEnumerable<Row35>(ml.Data.TakeRows(ml.Data.LoadGtsrbSubset(train: false, Folder, size: 35), 2), reuseRowObject: false).ToArray();
        for (int r = 0; r < 2; r++)
        {
            Assert.AreEqual(raw[r * record] + 1u, stored[r].Label, $"row {r}: the key is the class id + 1");
            for (int i = 0; i < 3 * 35 * 35; i++) Assert.AreEqual(raw[r * record + 1 + i] / 255f, stored[r].Image[i], 1e-6f, $"row {r}, value {i}");
        }
        // 35 → 32 bilinear with half-pixel centres: output (0, 0) samples (0.5·35/32 − 0.5) = 0.046875 along each axis.
        var resized = ml.Data.CreateEnumerable<Row32>(ml.Data.TakeRows(ml.Data.LoadGtsrbSubset(train: false, Folder), 1), reuseRowObject: false).Single();
        double f = 0.5 * 35 / 32 - 0.5;
        double P(int y, int x) => raw[1 + y * 35 + x] / 255.0;
        double expected = (P(0, 0) * (1 - f) + P(0, 1) * f) * (1 - f) + (P(1, 0) * (1 - f) + P(1, 1) * f) * f;
        Assert.AreEqual(expected, resized.Image[0], 1e-6);
    }

    private sealed class Row32
    {
        [VectorType(3, 32, 32)] public float[] Image { get; set; } = [];
        public uint Label { get; set; }
    }

    private sealed class Row35
    {
        [VectorType(3, 35, 35)] public float[] Image { get; set; } = [];
        public uint Label { get; set; }
    }
}

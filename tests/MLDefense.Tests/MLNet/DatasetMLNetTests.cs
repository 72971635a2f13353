using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Tests.MLNet;

/// <summary>The image datasets as lazy ML.NET data views (<c>ml.Data.LoadKnownDataset</c> and the IDX / CIFAR-10 readers).</summary>
[TestClass]
public sealed class DatasetMLNetTests
{
    private sealed class Named
    {
        public string Label { get; set; } = "";
    }

    [TestMethod]
    public void MnistReadsAsTheIdxFilesHoldWithKeyLabels()
    {
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadKnownDataset(MLDefense.Data.KnownDatasets.Mnist, train: false);
        Assert.AreEqual(10_000L, view.GetRowCount());
        Assert.AreEqual("Vector<Single, 1, 28, 28>", view.Schema["Image"].Type.ToString());
        Assert.AreEqual("Key<UInt32, 0-9>", view.Schema["Label"].Type.ToString());
        Assert.IsTrue(view.Schema["Label"].HasKeyValues(), "the class names are the label's key values");

        var files = AeGanMLNetTests.Mnist(train: false, 50);
        var rows = ml.Data.CreateEnumerable<AeGanMLNetTests.DigitRow>(ml.Data.TakeRows(view, 50), reuseRowObject: false).ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            CollectionAssert.AreEqual(files[i].Image, rows[i].Image, $"row {i} pixels");
            Assert.AreEqual(files[i].Label + 1, rows[i].Label, $"row {i}: the key is the class + 1");
        }
        var names = ml.Data.CreateEnumerable<Named>(ml.Transforms.Conversion.MapKeyToValue("Label").Fit(view).Transform(ml.Data.TakeRows(view, 3)), false).ToArray();
        CollectionAssert.AreEqual(files.Take(3).Select(r => r.Label.ToString()).ToArray(), names.Select(n => n.Label).ToArray(), "MapKeyToValue gives the class names");
    }

    [TestMethod]
    public void CifarReadsAsTheBinaryRecordsHold()
    {
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadKnownDataset(MLDefense.Data.KnownDatasets.Cifar10Subset, train: true);
        Assert.AreEqual(4000L, view.GetRowCount());
        Assert.AreEqual("Vector<Single, 3, 32, 32>", view.Schema["Image"].Type.ToString());
        var files = SaecMLNetTests.Cifar(train: true, 20);
        var rows = ml.Data.CreateEnumerable<SaecMLNetTests.ImageRow>(ml.Data.TakeRows(view, 20), reuseRowObject: false).ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            CollectionAssert.AreEqual(files[i].Image, rows[i].Image, $"row {i} pixels");
            Assert.AreEqual(files[i].Label + 1, rows[i].Label, $"row {i} label");
        }
    }

    [TestMethod]
    public void AShufflingCursorVisitsEveryRowOnce()
    {
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadKnownDataset(MLDefense.Data.KnownDatasets.Cifar10Subset, train: false);
        Assert.IsTrue(view.CanShuffle);
        var ids = new List<ulong>();
        using (var cursor = view.GetRowCursor(view.Schema, new Random(5)))
        {
            var id = cursor.GetIdGetter();
            DataViewRowId value = default;
            while (cursor.MoveNext()) { id(ref value); ids.Add(value.Low); }
        }
        Assert.AreEqual(1000, ids.Count);
        Assert.AreEqual(1000, ids.Distinct().Count());
        Assert.IsFalse(ids.Take(20).SequenceEqual(Enumerable.Range(0, 20).Select(i => (ulong)i)), "the order is shuffled");
    }

    [TestMethod]
    public void AFileThatIsNotIdxIsNamed()
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("mldefense-idx-").FullName, "not-idx");
        File.WriteAllBytes(path, new byte[64]);
        var error = Assert.ThrowsExactly<InvalidDataException>(() => new MLContext().Data.LoadIdxImages(path, path));
        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "not an IDX");
    }
}

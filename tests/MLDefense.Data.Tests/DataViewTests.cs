using MLDefense.Data;

namespace MLDefense.Legacy.Tests;

[TestClass]
public sealed class DataViewTests
{
    public sealed class Digit
    {
        [ImageType(1, 2, 2)] public float[] Image { get; set; } = [];
        public int Label { get; set; }
        [ColumnName("Name")] public string Tag { get; set; } = "";
        public bool Flag;
    }

    private static Digit[] Rows(int n) => Enumerable.Range(0, n).Select(i => new Digit
    {
        Image = [i, i + 0.25f, i + 0.5f, i + 0.75f], Label = i % 3, Tag = $"row{i}", Flag = i % 2 == 0,
    }).ToArray();

    [TestMethod]
    public void LoadFromEnumerableBuildsTheSchemaFromAttributes()
    {
        var ml = new MLContext(1);
        var view = ml.Data.LoadFromEnumerable(Rows(3));
        Assert.AreEqual("Image: Image 1x2x2, Label: Int32, Name: Text, Flag: Boolean", view.Schema.ToString());
        Assert.AreEqual(new ImageShape(1, 2, 2), view.Schema["Image"].ImageShape);
        Assert.AreEqual(3L, view.GetRowCount());
    }

    [TestMethod]
    public void CreateEnumerableRoundTripsEveryColumn()
    {
        var ml = new MLContext(1);
        var rows = Rows(700);
        var back = ml.Data.CreateEnumerable<Digit>(ml.Data.LoadFromEnumerable(rows)).ToList();
        Assert.AreEqual(700, back.Count);
        for (int i = 0; i < rows.Length; i++)
        {
            CollectionAssert.AreEqual(rows[i].Image, back[i].Image);
            Assert.AreEqual(rows[i].Label, back[i].Label);
            Assert.AreEqual(rows[i].Tag, back[i].Tag);
            Assert.AreEqual(rows[i].Flag, back[i].Flag);
        }
    }

    [TestMethod]
    public void CursorGettersReadTypedValuesAndReuseVectorBuffers()
    {
        var view = new MLContext().Data.LoadFromEnumerable(Rows(300));
        using var cursor = view.GetRowCursor([view.Schema["Image"], view.Schema["Label"]]);
        var image = cursor.GetGetter<float[]>(view.Schema["Image"]);
        var label = cursor.GetGetter<int>(view.Schema["Label"]);
        float[] buffer = null!;
        int count = 0, l = 0;
        float[]? first = null;
        while (cursor.MoveNext())
        {
            image(ref buffer);
            label(ref l);
            first ??= buffer;
            Assert.AreSame(first, buffer, "the getter reuses a buffer of the right size");
            Assert.AreEqual(count + 0.75f, buffer[3]);
            Assert.AreEqual(count % 3, l);
            Assert.AreEqual(count, cursor.Position);
            count++;
        }
        Assert.AreEqual(300, count);
        Assert.ThrowsExactly<InvalidOperationException>(() => cursor.GetGetter<float>(view.Schema["Label"]));
        Assert.ThrowsExactly<InvalidOperationException>(() => cursor.GetGetter<string>(view.Schema["Name"]));
    }

    [TestMethod]
    public void BatchesBecomeTensorsWithTheImageShape()
    {
        var view = new MLContext().Data.LoadFromEnumerable(Rows(10));
        var batches = view.GetBatches(4, ["Image", "Label"]).ToList();
        CollectionAssert.AreEqual(new[] { 4, 4, 2 }, batches.Select(b => b.RowCount).ToArray());
        using var images = batches[1].ToTensor("Image", CPU);
        using var labels = batches[1].ToTensor("Label", CPU);
        CollectionAssert.AreEqual(new long[] { 4, 1, 2, 2 }, images.shape);
        Assert.AreEqual(ScalarType.Int64, labels.dtype);
        CollectionAssert.AreEqual(new long[] { 1, 2, 0, 1 }, labels.data<long>().ToArray());
        Assert.ThrowsExactly<InvalidOperationException>(() => batches[0].ToTensor("Name", CPU));
        var missing = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => view.GetBatches(4, ["Nope"]).ToList());
        StringAssert.Contains(missing.Message, "Column 'Nope' was not found");
    }

    [TestMethod]
    public void SplitShuffleTakeAndSkipKeepEveryRowOnce()
    {
        var ml = new MLContext(seed: 5);
        var view = ml.Data.LoadFromEnumerable(Rows(100));
        var split = ml.Data.TrainTestSplit(view, testFraction: 0.2);
        var train = ml.Data.CreateEnumerable<Digit>(split.TrainSet).Select(d => d.Tag).ToList();
        var test = ml.Data.CreateEnumerable<Digit>(split.TestSet).Select(d => d.Tag).ToList();
        Assert.AreEqual(80, train.Count);
        Assert.AreEqual(20, test.Count);
        CollectionAssert.AreEquivalent(Rows(100).Select(r => r.Tag).ToList(), train.Concat(test).ToList());

        var again = new MLContext(seed: 5).Data.TrainTestSplit(new MLContext().Data.LoadFromEnumerable(Rows(100)), 0.2);
        CollectionAssert.AreEqual(test, ml.Data.CreateEnumerable<Digit>(again.TestSet).Select(d => d.Tag).ToList(), "same seed, same split");

        var shuffled = ml.Data.CreateEnumerable<Digit>(ml.Data.ShuffleRows(view)).Select(d => d.Tag).ToList();
        CollectionAssert.AreEquivalent(Rows(100).Select(r => r.Tag).ToList(), shuffled);
        CollectionAssert.AreNotEqual(Rows(100).Select(r => r.Tag).ToList(), shuffled);

        Assert.AreEqual(7L, ml.Data.TakeRows(view, 7).GetRowCount());
        Assert.AreEqual("row97", ml.Data.CreateEnumerable<Digit>(ml.Data.SkipRows(view, 97)).First().Tag);
    }

    [TestMethod]
    public void BadTypesAreRejectedNamingTheMember()
    {
        var ml = new MLContext();
        var ex = Assert.ThrowsExactly<ArgumentException>(() => ml.Data.LoadFromEnumerable(new[] { new NoShape() }));
        StringAssert.Contains(ex.Message, "NoShape.Values");
        var wrongSize = Assert.ThrowsExactly<ArgumentException>(() => ml.Data.LoadFromEnumerable(new[] { new Digit { Image = [1, 2] } }));
        StringAssert.Contains(wrongSize.Message, "'Image' has 2 values");
    }

    public sealed class NoShape { public float[] Values { get; set; } = []; }
}

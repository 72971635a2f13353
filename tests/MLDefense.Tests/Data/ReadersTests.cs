using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Data;
using MLDefense.Tests.MLNet;

namespace MLDefense.Tests.Data;

/// <summary>The dataset readers (IDX, CIFAR-10 binary, the known datasets) as ML.NET data views: contents, compression, bad files.</summary>
[TestClass]
public sealed class ReadersTests
{
    private string folder = null!;

    [TestInitialize]
    public void CreateFolder() => folder = Directory.CreateTempSubdirectory("mld-readers-").FullName;

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(folder, recursive: true);

    private static byte[] IdxImages(int count, int height, int width, Func<int, byte> pixel)
    {
        var bytes = new byte[16 + count * height * width];
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(0), 0x803);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), height);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), width);
        for (int i = 16; i < bytes.Length; i++) bytes[i] = pixel(i - 16);
        return bytes;
    }

    private static byte[] IdxLabels(params byte[] labels)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(0), 0x801);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), labels.Length);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest)) gzip.Write(bytes);
        return buffer.ToArray();
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [TestMethod]
    public void IdxLoadsRawAndGzippedFilesRecognisedByContent()
    {
        var images = IdxImages(3, 2, 4, i => (byte)(i * 7));
        var labels = IdxLabels(2, 0, 9);
        var ml = new MLContext(seed: 1);
        // The gzipped pair carries no .gz extension and the raw pair does: detection must be by magic bytes.
        var raw = ml.Data.LoadIdxImages(Write("images.gz", images), Write("labels.gz", labels));
        var gz = ml.Data.LoadIdxImages(Write("images.idx", Gzip(images)), Write("labels.idx", Gzip(labels)));

        Assert.AreEqual("Vector<Single, 1, 2, 4>", raw.Schema["Image"].Type.ToString());
        Assert.AreEqual("Key<UInt32, 0-9>", raw.Schema["Label"].Type.ToString(), "K = the largest label + 1 without class names");
        Assert.AreEqual(3L, raw.GetRowCount());
        var batch = TestViews.Read(raw);
        CollectionAssert.AreEqual(images.Skip(16).Select(b => b / 255f).ToArray(), batch.Floats("Image"));
        CollectionAssert.AreEqual(new[] { 2, 0, 9 }, batch.Classes("Label"));
        var gzBatch = TestViews.Read(gz);
        CollectionAssert.AreEqual(batch.Floats("Image"), gzBatch.Floats("Image"));
        CollectionAssert.AreEqual(batch.Classes("Label"), gzBatch.Classes("Label"));
    }

    [TestMethod]
    public void IdxRejectsBadFilesNamingThem()
    {
        var ml = new MLContext(seed: 1);
        var images = Write("images", IdxImages(3, 2, 2, i => (byte)i));
        var labels = Write("labels", IdxLabels(1, 2, 3));

        void Rejects(string images, string labels, string badFile, string expected)
        {
            var ex = Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadIdxImages(images, labels));
            StringAssert.Contains(ex.Message, badFile);
            StringAssert.Contains(ex.Message, expected);
        }

        Rejects(labels, labels, labels, "magic number is 0x00000801, expected 0x00000803");
        Rejects(images, images, images, "is not an IDX labels file");
        Rejects(images, Write("two-labels", IdxLabels(1, 2)), "two-labels", "holds 3 images but");
        var full = IdxImages(3, 2, 2, i => (byte)i);
        Rejects(Write("truncated", full[..^1]), labels, "truncated", "is truncated");
        Rejects(Write("long", [.. full, 0]), labels, "long", "1 bytes after");
        Rejects(Write("short-header", full[..10]), labels, "short-header", "too short");
        Rejects(Write("bad.gz", Gzip(full)[..20]), labels, "bad.gz", "does not decompress");
        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => ml.Data.LoadIdxImages(Path.Combine(folder, "nope"), labels));
        StringAssert.Contains(missing.Message, "nope");
    }

    private static byte[] CifarRecords(params (byte Label, Func<int, byte> Pixel)[] records) =>
        records.SelectMany(r => new[] { r.Label }.Concat(Enumerable.Range(0, 3072).Select(r.Pixel))).ToArray();

    [TestMethod]
    public void CifarLoadsRecordsAsChwImagesFromSeveralFiles()
    {
        var first = CifarRecords((3, i => (byte)(i % 251)), (9, i => (byte)(i / 1024 * 100)));
        var second = CifarRecords((0, _ => 255));
        var view = new MLContext(seed: 1).Data.LoadCifar10Binary(Write("a.bin", first), Write("b.bin", Gzip(second)));

        Assert.AreEqual("Vector<Single, 3, 32, 32>", view.Schema["Image"].Type.ToString());
        VBuffer<ReadOnlyMemory<char>> names = default;
        view.Schema["Label"].GetKeyValues(ref names);
        CollectionAssert.AreEqual(Cifar10Records.ClassNames.ToArray(), names.DenseValues().Select(n => n.ToString()).ToArray(), "the class names are the label's key values");
        var batch = TestViews.Read(view);
        CollectionAssert.AreEqual(new[] { 3, 9, 0 }, batch.Classes("Label"));
        var pixels = batch.Floats("Image");
        Assert.AreEqual(3 * 3072, pixels.Length);
        Assert.AreEqual(1000 % 251 / 255f, pixels[1000]);
        Assert.AreEqual(0f, pixels[3072 + 5], "record 2: red plane");
        Assert.AreEqual(100 / 255f, pixels[3072 + 1024 + 5], "record 2: green plane");
        Assert.AreEqual(200 / 255f, pixels[3072 + 2048 + 5], "record 2: blue plane");
        Assert.AreEqual(1f, pixels[^1]);
    }

    [TestMethod]
    public void CifarRejectsPartialRecordsAndBadLabels()
    {
        var ml = new MLContext(seed: 1);
        var partial = Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadCifar10Binary(Write("partial.bin", CifarRecords((1, _ => 0))[..^7])));
        StringAssert.Contains(partial.Message, "partial.bin");
        StringAssert.Contains(partial.Message, "not a whole number of 3073-byte");
        var label = Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadCifar10Binary(Write("label.bin", CifarRecords((1, _ => 0), (10, _ => 0)))));
        StringAssert.Contains(label.Message, "label.bin': record 1 has label 10");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadCifar10Binary(Write("empty.bin", []))).Message, "empty");
        Assert.ThrowsExactly<ArgumentException>(() => ml.Data.LoadCifar10Binary());
    }

    [TestMethod]
    public void RealMnistHasItsPublishedCountsLabelsAndPixels()
    {
        var files = KnownDatasets.Resolve(KnownDatasets.Mnist);
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadIdxImages(files.TrainImagesPath, files.TrainLabelsPath);
        var test = ml.Data.LoadKnownDataset("mnist", train: false);
        Assert.AreEqual(60000L, train.GetRowCount());
        Assert.AreEqual(10000L, test.GetRowCount());
        Assert.AreEqual("Vector<Single, 1, 28, 28>", train.Schema["Image"].Type.ToString());
        var first = TestViews.Read(ml.Data.TakeRows(train, 5));
        CollectionAssert.AreEqual(new[] { 5, 0, 4, 1, 9 }, first.Classes("Label"));
        var image = first.Floats("Image");
        Assert.AreEqual(3 / 255f, image[5 * 28 + 12], "image 0, row 5, column 12");
        Assert.AreEqual(240 / 255f, image[14 * 28 + 14], "image 0, row 14, column 14");
        Assert.AreEqual(0f, image[0]);
        VBuffer<ReadOnlyMemory<char>> names = default;
        test.Schema["Label"].GetKeyValues(ref names);
        Assert.AreEqual("7", names.GetValues()[7].ToString());
    }

    [TestMethod]
    public void RealCifarSubsetAgreesWithAnIndependentParse()
    {
        var files = KnownDatasets.Resolve("cifar10-subset");
        Assert.AreEqual(files.TrainImagesPath, files.TrainLabelsPath, "CIFAR records hold labels and images together");
        byte[] raw;
        using (var gzip = new GZipStream(File.OpenRead(files.TrainImagesPath), CompressionMode.Decompress))
        using (var buffer = new MemoryStream())
        {
            gzip.CopyTo(buffer);
            raw = buffer.ToArray();
        }
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadKnownDataset(KnownDatasets.Cifar10Subset, train: true);
        var test = ml.Data.LoadCifar10Binary(files.TestImagesPath);
        Assert.AreEqual(4000L, train.GetRowCount());
        Assert.AreEqual(raw.Length / 3073L, train.GetRowCount());
        Assert.AreEqual(1000L, test.GetRowCount());
        var batch = TestViews.Read(ml.Data.TakeRows(train, 2));
        CollectionAssert.AreEqual(new int[] { raw[0], raw[3073] }, batch.Classes("Label"));
        var image = batch.Floats("Image");
        foreach (int i in new[] { 0, 1023, 1024, 2048, 3071 }) Assert.AreEqual(raw[1 + i] / 255f, image[i], $"pixel value {i} of record 0");
        Assert.AreEqual(raw[3073 + 1 + 77] / 255f, image[3072 + 77], "record 1");
    }

    [TestMethod]
    public void FashionMnistResolvesToSharedOrDebianFiles()
    {
        var files = KnownDatasets.Resolve("Fashion-MNIST");
        Assert.AreEqual(KnownDatasetFormat.Idx, files.Format);
        Assert.AreEqual("Ankle boot", files.ClassNames[9]);
        Assert.IsTrue(File.Exists(files.TestLabelsPath));
        var test = new MLContext(seed: 1).Data.LoadKnownDataset("fashion-mnist", train: false);
        Assert.AreEqual(10000L, test.GetRowCount());
        Assert.AreEqual("Vector<Single, 1, 28, 28>", test.Schema["Image"].Type.ToString());
    }

    [TestMethod]
    public void KnownDatasetsHonourAnExplicitDirectoryAndExplainWhatIsMissing()
    {
        var shared = KnownDatasets.FindSharedDatasetsDirectory();
        Assert.IsNotNull(shared, "the workspace keeps shared/datasets beside the repository");
        Assert.AreEqual(Path.Combine(shared, "mnist"), KnownDatasets.Resolve("mnist", shared).Directory, "a folder holding <name>/");
        var direct = Path.Combine(shared, "mnist");
        Assert.AreEqual(direct, KnownDatasets.Resolve("mnist", direct).Directory, "the dataset's own folder");

        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => KnownDatasets.Resolve("mnist", folder));
        StringAssert.Contains(missing.Message, folder);
        StringAssert.Contains(missing.Message, "train-images-idx3-ubyte.gz");
        var fashion = Assert.ThrowsExactly<FileNotFoundException>(() => KnownDatasets.Resolve("fashion-mnist", folder));
        StringAssert.Contains(fashion.Message, "apt-get install dataset-fashion-mnist");
        var unknown = Assert.ThrowsExactly<ArgumentException>(() => KnownDatasets.Resolve("imagenet"));
        StringAssert.Contains(unknown.Message, "mnist, fashion-mnist, cifar10-subset");
    }
}

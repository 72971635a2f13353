using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

using MLDefense.Data;
namespace MLDefense.Legacy.Tests;

[TestClass]
public sealed class PersistenceTests
{
    private string directory = "";

    [TestInitialize]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("mldefense-persist-").FullName;

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(directory, recursive: true);

    private static (MLContext Ml, IDataView Data, TransformerChain<LinearScoreTransformer> Model) FitChain()
    {
        var ml = new MLContext(seed: 3);
        var data = ml.Data.LoadFromEnumerable(TestData.Rows(20));
        var model = new AddOffsetEstimator().Append(new LinearScoreEstimator(ml)).Fit(data);
        return (ml, data, model);
    }

    private static byte[] SaveToBytes(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var stream = new MemoryStream();
        ml.Model.Save(model, schema, stream);
        return stream.ToArray();
    }

    private static ITransformer LoadBytes(byte[] bytes)
    {
        using var stream = new MemoryStream(bytes);
        return new MLContext().Model.Load(stream, out _);
    }

    private static InvalidDataException Rejected(byte[] bytes) => Assert.ThrowsExactly<InvalidDataException>(() => (LoadBytes(bytes) as IDisposable)?.Dispose());

    /// <summary>A copy of a zip with entries edited (return null to drop one) and extra entries added.</summary>
    private static byte[] Rewrite(byte[] zip, Func<string, byte[], byte[]?> edit, params (string Name, byte[] Content)[] extra)
    {
        using var output = new MemoryStream();
        using (var source = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read))
        using (var target = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in source.Entries)
            {
                using var buffer = new MemoryStream();
                using (var s = entry.Open()) s.CopyTo(buffer);
                if (edit(entry.FullName, buffer.ToArray()) is not { } content) continue;
                using var t = target.CreateEntry(entry.FullName).Open();
                t.Write(content);
            }
            foreach (var (name, content) in extra)
            {
                using var t = target.CreateEntry(name).Open();
                t.Write(content);
            }
        }
        return output.ToArray();
    }

    private static byte[] EditManifest(byte[] zip, Action<JsonObject> edit) => Rewrite(zip, (name, content) =>
    {
        if (name != "manifest.json") return content;
        var manifest = JsonNode.Parse(content)!.AsObject();
        edit(manifest);
        return Encoding.UTF8.GetBytes(manifest.ToJsonString());
    });

    /// <summary>Rewrites a safetensors header (keeping the data) after <paramref name="edit"/> changed it.</summary>
    private static byte[] EditSafetensorsHeader(byte[] file, Action<JsonObject> edit)
    {
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var header = JsonNode.Parse(file.AsSpan(8, (int)headerLength))!.AsObject();
        edit(header);
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var padded = new byte[(json.Length + 7) / 8 * 8];
        Array.Fill(padded, (byte)' ');
        json.CopyTo(padded, 0);
        var result = new byte[8 + padded.Length + file.Length - 8 - headerLength];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)padded.Length);
        padded.CopyTo(result, 8);
        file.AsSpan(8 + (int)headerLength).CopyTo(result.AsSpan(8 + padded.Length));
        return result;
    }

    [TestMethod]
    public void ChainRoundTripsThroughAFileWithBitIdenticalOutputs()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var path = Path.Combine(directory, "model.zip");
        ml.Model.Save(model, data.Schema, path);

        using (var zip = ZipFile.OpenRead(path))
        {
            var names = zip.Entries.Select(e => e.FullName).ToList();
            CollectionAssert.IsSubsetOf(new[]
            {
                "manifest.json", "components/01-Tests.AddOffset/options.json",
                "components/02-Tests.LinearScore/options.json", "components/02-Tests.LinearScore/weights.safetensors",
            }, names);
            using var manifestStream = zip.GetEntry("manifest.json")!.Open();
            var manifest = JsonNode.Parse(manifestStream)!;
            Assert.AreEqual(1, manifest["formatVersion"]!.GetValue<int>());
            StringAssert.StartsWith(manifest["createdBy"]!.GetValue<string>(), "MLDefense");
            Assert.AreEqual("Tests.LinearScore", manifest["components"]![1]!["name"]!.GetValue<string>());
            Assert.AreEqual(2, manifest["components"]![1]!["version"]!.GetValue<int>());
            Assert.AreEqual("components/02-Tests.LinearScore/", manifest["components"]![1]!["folder"]!.GetValue<string>());
            Assert.AreEqual("Features", manifest["inputSchema"]![0]!["name"]!.GetValue<string>());
            Assert.AreEqual(4, manifest["inputSchema"]![0]!["dimensions"]![0]!.GetValue<int>());
        }

        var loaded = ml.Model.Load(path, out var inputSchema);
        using var loadedChain = loaded as TransformerChain<ITransformer>;
        Assert.IsNotNull(loadedChain, "a saved chain loads back as TransformerChain<ITransformer>");
        Assert.AreEqual(2, loadedChain.Transformers.Count);
        Assert.IsInstanceOfType<AddOffsetTransformer>(loadedChain.Transformers[0]);
        Assert.IsInstanceOfType<LinearScoreTransformer>(loadedChain.Transformers[1]);
        Assert.IsTrue(inputSchema.SameAs(data.Schema));
        Workout.AssertSameData(model.Transform(data), loadedChain.Transform(data), 0, "save → load");
        Assert.IsFalse(Directory.EnumerateFiles(directory).Any(f => f != path), "no temporary file is left beside the model");
    }

    [TestMethod]
    public void InputSchemaKeepsImageShapeAndSlotNames()
    {
        var ml = new MLContext(1);
        var schema = new DataViewSchema([
            new DataViewSchema.Column("Image", new VectorDataViewType(1, 2, 2), new DataViewSchema.Annotations(new ImageShape(1, 2, 2))),
            new DataViewSchema.Column("Label", NumberDataViewType.Int32, new DataViewSchema.Annotations(SlotNames: ["cat", "dog"])),
            new DataViewSchema.Column("Name", TextDataViewType.Instance),
            new DataViewSchema.Column("Flag", BooleanDataViewType.Instance),
            new DataViewSchema.Column("Weight", NumberDataViewType.Double),
            new DataViewSchema.Column("Id", NumberDataViewType.Int64),
            new DataViewSchema.Column("Features", new VectorDataViewType(4)),
        ]);
        var model = new AddOffsetTransformer(new("Features", "Shifted", 1));
        var loaded = LoadWithSchema(SaveToBytes(ml, model, schema), out var loadedSchema);
        Assert.IsTrue(loadedSchema.SameAs(schema), $"recorded {loadedSchema}");
        Assert.IsInstanceOfType<AddOffsetTransformer>(loaded, "a single transformer loads back as itself");
        Assert.AreEqual(1f, ((AddOffsetTransformer)loaded).Settings.Offset);

        static ITransformer LoadWithSchema(byte[] bytes, out DataViewSchema schema)
        {
            using var stream = new MemoryStream(bytes);
            return new MLContext().Model.Load(stream, out schema);
        }
    }

    [TestMethod]
    public void NestedChainsAreSavedFlatAndAOneComponentChainStaysAChain()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var nested = new TransformerChain<ITransformer>(model, new AddOffsetTransformer(new("Score", "Final", 0.5f)));
        using var loaded = (TransformerChain<ITransformer>)LoadBytes(SaveToBytes(ml, nested, data.Schema));
        Assert.AreEqual(3, loaded.Transformers.Count);
        Workout.AssertSameData(nested.Transform(data), loaded.Transform(data), 0, "nested chain");

        var single = new TransformerChain<AddOffsetTransformer>(new AddOffsetTransformer(new("Features", "Shifted", 2)));
        Assert.IsInstanceOfType<TransformerChain<ITransformer>>(LoadBytes(SaveToBytes(ml, single, data.Schema)));
    }

    [TestMethod]
    public void LoadingFromANonSeekableStreamWorks()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var bytes = SaveToBytes(ml, model, data.Schema);
        using var loaded = (TransformerChain<ITransformer>)ml.Model.Load(new ForwardOnlyStream(bytes), out _);
        Workout.AssertSameData(model.Transform(data), loaded.Transform(data), 0, "non-seekable stream");
    }

    [TestMethod]
    public void SaveRefusesComponentsThatCannotBeSavedAndNamesTheType()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(TestData.Rows(2));
        var path = Path.Combine(directory, "model.zip");

        var notSavable = Assert.ThrowsExactly<InvalidOperationException>(() =>
            ml.Model.Save(new AddOffsetTransformer(new("Features", "Shifted", 1)).Append(new NotSavableTransformer()), data.Schema, path));
        StringAssert.Contains(notSavable.Message, nameof(NotSavableTransformer));
        StringAssert.Contains(notSavable.Message, "ISavableTransformer");

        var noAttribute = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Model.Save(new SavableWithoutAttributeTransformer(), data.Schema, path));
        StringAssert.Contains(noAttribute.Message, nameof(SavableWithoutAttributeTransformer));
        StringAssert.Contains(noAttribute.Message, "[ModelComponent");

        var noLoader = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Model.Save(new NoLoaderTransformer(), data.Schema, path));
        StringAssert.Contains(noLoader.Message, nameof(NoLoaderTransformer));
        StringAssert.Contains(noLoader.Message, "no loader");

        var clash = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Model.Save(new DuplicateNameOneTransformer(), data.Schema, path));
        StringAssert.Contains(clash.Message, nameof(DuplicateNameTwoTransformer));

        Assert.IsFalse(Directory.EnumerateFileSystemEntries(directory).Any(), "nothing was written");
    }

    [TestMethod]
    public void SaveRefusesASchemaTheModelDoesNotAccept()
    {
        var ml = new MLContext(1);
        var wrong = new DataViewSchema([new DataViewSchema.Column("Other", NumberDataViewType.Single)]);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => ml.Model.Save(new AddOffsetTransformer(new("Features", "Shifted", 1)), wrong, Path.Combine(directory, "m.zip")));
        StringAssert.Contains(ex.Message, "Features");
    }

    [TestMethod]
    public void DuplicateComponentNamesAreAClearError()
    {
        var ml = new MLContext(1);
        var schema = ml.Data.LoadFromEnumerable(TestData.Rows(1)).Schema;
        var bytes = SaveToBytes(ml, new AddOffsetTransformer(new("Features", "Shifted", 1)), schema);
        var claimed = EditManifest(bytes, m => m["components"]![0]!["name"] = "Tests.Duplicate");
        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => LoadBytes(claimed));
        StringAssert.Contains(ex.Message, nameof(DuplicateNameOneTransformer));
        StringAssert.Contains(ex.Message, nameof(DuplicateNameTwoTransformer));

        ThirdPartyScaleTransformer.EnsureRegistered();
        var again = Assert.ThrowsExactly<InvalidOperationException>(() => ModelComponentRegistry.Register("Tests.AddOffset", 1, _ => new ThrowsOnSaveTransformer()));
        StringAssert.Contains(again.Message, "already registered");
    }

    [TestMethod]
    public void AThirdPartyComponentRegisteredExplicitlyRoundTrips()
    {
        ThirdPartyScaleTransformer.EnsureRegistered();
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(TestData.Rows(5));
        var model = new AddOffsetTransformer(new("Features", "Shifted", 1)).Append(new ThirdPartyScaleTransformer(2.5f));
        using var loaded = (TransformerChain<ITransformer>)LoadBytes(SaveToBytes(ml, model, data.Schema));
        Assert.AreEqual(2.5f, ((ThirdPartyScaleTransformer)loaded.Transformers[1]).Factor);
        Workout.AssertSameData(model.Transform(data), loaded.Transform(data), 0, "third-party component");
    }

    [TestMethod]
    public void AnInterruptedSaveLeavesTheEarlierFileIntactAndNoTemporaryFile()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var path = Path.Combine(directory, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var before = File.ReadAllBytes(path);

        var failing = new AddOffsetTransformer(new("Features", "Shifted", 5)).Append(new ThrowsOnSaveTransformer());
        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Model.Save(failing, data.Schema, path));
        StringAssert.Contains(ex.Message, "Tests.ThrowsOnSave");
        StringAssert.Contains(ex.Message, "simulated failure");

        CollectionAssert.AreEqual(before, File.ReadAllBytes(path), "the earlier model is untouched");
        CollectionAssert.AreEqual(new[] { path }, Directory.EnumerateFileSystemEntries(directory).ToArray(), "no temporary file is left behind");
        using var loaded = (TransformerChain<ITransformer>)ml.Model.Load(path, out _);
        Workout.AssertSameData(model.Transform(data), loaded.Transform(data), 0, "the earlier model still loads");
    }

    [TestMethod]
    public void RejectsAFileThatIsNotAZip()
    {
        var random = new byte[1000];
        new Random(1).NextBytes(random);
        var ex = Rejected(random);
        StringAssert.Contains(ex.Message, "not a zip archive");

        var path = Path.Combine(directory, "garbage.zip");
        File.WriteAllBytes(path, random);
        var fromFile = Assert.ThrowsExactly<InvalidDataException>(() => new MLContext().Model.Load(path, out _));
        StringAssert.Contains(fromFile.Message, path, "the message names the file");
    }

    [TestMethod]
    public void RejectsATruncatedZip()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var bytes = SaveToBytes(ml, model, data.Schema);
        var ex = Rejected(bytes[..(bytes.Length * 2 / 3)]);
        StringAssert.Contains(ex.Message, "truncated");
    }

    [TestMethod]
    public void RejectsCorruptBytesInsideAnEntry()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        // Stored (uncompressed) entries put the weights' bytes in the file as they are, so a flipped byte is a wrong
        // weight that still decompresses fine: only the CRC can notice it.
        var rewritten = new MemoryStream();
        long weightsLength = 0;
        using (var source = new ZipArchive(new MemoryStream(SaveToBytes(ml, model, data.Schema)), ZipArchiveMode.Read))
        using (var target = new ZipArchive(rewritten, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var entry in source.Entries)
            {
                if (entry.FullName.EndsWith("weights.safetensors")) weightsLength = entry.Length;
                using var s = entry.Open();
                using var t = target.CreateEntry(entry.FullName, CompressionLevel.NoCompression).Open();
                s.CopyTo(t);
            }
        var bytes = rewritten.ToArray();
        // The local header's name comes first in the file; the entry's data follows it directly. Flip a byte of the last tensor.
        int dataStart = IndexOf(bytes, "weights.safetensors"u8.ToArray()) + "weights.safetensors".Length;
        bytes[dataStart + (int)weightsLength - 6] ^= 0x55;
        var ex = Rejected(bytes);
        StringAssert.Contains(ex.Message, "corrupt");
        StringAssert.Contains(ex.Message, "weights.safetensors");

        static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);
    }

    [TestMethod]
    public void RejectsAZipWithoutManifest()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var ex = Rejected(Rewrite(SaveToBytes(ml, model, data.Schema), (name, content) => name == "manifest.json" ? null : content));
        StringAssert.Contains(ex.Message, "manifest.json");
        StringAssert.Contains(ex.Message, "not an MLDefense model");
    }

    [TestMethod]
    public void RejectsAFutureFormatVersion()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var ex = Rejected(EditManifest(SaveToBytes(ml, model, data.Schema), m => m["formatVersion"] = 2));
        StringAssert.Contains(ex.Message, "written by a newer MLDefense");
        StringAssert.Contains(ex.Message, "format version 2");
    }

    [TestMethod]
    public void RejectsAnUnknownComponent()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var ex = Rejected(EditManifest(SaveToBytes(ml, model, data.Schema), m => m["components"]![1]!["name"] = "Evil.Component"));
        StringAssert.Contains(ex.Message, "'Evil.Component'");
        StringAssert.Contains(ex.Message, "no loaded assembly registers");
    }

    [TestMethod]
    public void RejectsAComponentVersionNewerThanTheRegisteredOne()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var ex = Rejected(EditManifest(SaveToBytes(ml, model, data.Schema), m => m["components"]![1]!["version"] = 3));
        StringAssert.Contains(ex.Message, "Tests.LinearScore");
        StringAssert.Contains(ex.Message, "version 3");
        StringAssert.Contains(ex.Message, "up to version 2");
    }

    [TestMethod]
    [DataRow("../evil", "'..'")]
    [DataRow("components/../../evil", "'..'")]
    [DataRow("/etc/evil", "absolute path")]
    [DataRow("C:/evil", "drive letter")]
    [DataRow("components\\01-Tests.AddOffset\\options.json", "backslash")]
    public void RejectsPathTraversalEntries(string entryName, string reason)
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var ex = Rejected(Rewrite(SaveToBytes(ml, model, data.Schema), (_, content) => content, (entryName, "x"u8.ToArray())));
        StringAssert.Contains(ex.Message, entryName);
        StringAssert.Contains(ex.Message, reason);
    }

    [TestMethod]
    public void RejectsAManifestFolderOutsideTheComponentsFolder()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var ex = Rejected(EditManifest(SaveToBytes(ml, model, data.Schema), m => m["components"]![0]!["folder"] = "components/../"));
        StringAssert.Contains(ex.Message, "not a plain folder");
    }

    [TestMethod]
    public void RejectsDuplicateEntries()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var ex = Rejected(Rewrite(SaveToBytes(ml, model, data.Schema), (_, content) => content, ("manifest.json", "{}"u8.ToArray())));
        StringAssert.Contains(ex.Message, "appears twice");
    }

    [TestMethod]
    public void RejectsASafetensorsHeaderWhoseShapeDiffersFromTheData()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var tampered = Rewrite(SaveToBytes(ml, model, data.Schema), (name, content) => name.EndsWith("weights.safetensors")
            ? EditSafetensorsHeader(content, h => h["weight"]!["shape"] = new JsonArray(3, 5))
            : content);
        var ex = Rejected(tampered);
        StringAssert.Contains(ex.Message, "'Tests.LinearScore'", "the message names the component");
        StringAssert.Contains(ex.Message, "shape [3, 5]");
    }

    [TestMethod]
    public void RejectsWeightsWhoseShapesDoNotFitTheModel()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        // Same byte count, so the file itself is consistent; the model expects weight [3, 4].
        var tampered = Rewrite(SaveToBytes(ml, model, data.Schema), (name, content) => name.EndsWith("weights.safetensors")
            ? EditSafetensorsHeader(content, h => h["weight"]!["shape"] = new JsonArray(4, 3))
            : content);
        var ex = Rejected(tampered);
        StringAssert.Contains(ex.Message, "'Tests.LinearScore'");
        StringAssert.Contains(ex.Message, "does not fit the model");
    }

    [TestMethod]
    public void RejectsMissingWeights()
    {
        var (ml, data, model) = FitChain();
        using var fitted = model;
        var ex = Rejected(Rewrite(SaveToBytes(ml, model, data.Schema), (name, content) => name.EndsWith("weights.safetensors") ? null : content));
        StringAssert.Contains(ex.Message, "'Tests.LinearScore'");
        StringAssert.Contains(ex.Message, "missing components/02-Tests.LinearScore/weights.safetensors");
    }

    /// <summary>A stream that can only be read forward, like a network response.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

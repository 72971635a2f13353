using System.Buffers.Binary;
using System.Text;

namespace MLDefense.Tests.Torch;

[TestClass]
public sealed class SafetensorsTests
{
    private string dir = "";

    [TestInitialize]
    public void Init() => Directory.CreateDirectory(dir = Path.Combine(Path.GetTempPath(), "mld-st-" + Guid.NewGuid().ToString("N")));

    [TestCleanup]
    public void Cleanup() => Directory.Delete(dir, recursive: true);

    private static Dictionary<string, Tensor> Sample() => new()
    {
        ["f32"] = torch.tensor(new float[] { 1.5f, -2, 3, 4, 5, 6 }, [2, 3]),
        ["f64"] = torch.tensor(new double[] { Math.PI, double.NegativeInfinity }),
        ["i64"] = torch.tensor(new long[] { long.MaxValue, -1, 0 }),
        ["u8"] = torch.tensor(new byte[] { 0, 255 }),
        ["b"] = torch.tensor(new bool[] { true, false, true }),
        ["scalar"] = torch.full([], 7, ScalarType.Int32),
        ["empty"] = torch.zeros([0, 4]),
    };

    [TestMethod]
    public void RoundTripPreservesEveryDtypeShapeAndValue()
    {
        var original = Sample();
        var path = Path.Combine(dir, "a.safetensors");
        Safetensors.Save(original, path, new Dictionary<string, string> { ["format"] = "pt", ["component"] = "test" });
        var loaded = Safetensors.Load(path);
        try
        {
            CollectionAssert.AreEquivalent(original.Keys.ToList(), loaded.Keys.ToList());
            foreach (var (name, t) in original)
            {
                var l = loaded[name];
                Assert.AreEqual(t.dtype, l.dtype, name);
                CollectionAssert.AreEqual(t.shape, l.shape, name);
                using var eq = t.eq(l).all();
                Assert.IsTrue(eq.item<bool>(), name);
            }
            Assert.AreEqual("test", Safetensors.ReadMetadata(path)["component"]);
        }
        finally
        {
            foreach (var t in original.Values.Concat(loaded.Values)) t.Dispose();
        }
    }

    [TestMethod]
    public void HeaderIsPaddedToEightBytesAndDataIsLittleEndian()
    {
        var path = Path.Combine(dir, "le.safetensors");
        using (var t = torch.tensor(new int[] { 0x01020304 }))
            Safetensors.Save(new Dictionary<string, Tensor> { ["x"] = t }, path);
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.AreEqual(0UL, n % 8);
        CollectionAssert.AreEqual(new byte[] { 4, 3, 2, 1 }, bytes[^4..]);
        StringAssert.Contains(Encoding.UTF8.GetString(bytes, 8, (int)n), "\"dtype\":\"I32\"");
    }

    private string WriteRaw(string header, byte[] data)
    {
        var path = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".safetensors");
        var h = Encoding.UTF8.GetBytes(header);
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)h.Length);
        File.WriteAllBytes(path, [.. prefix, .. h, .. data]);
        return path;
    }

    [TestMethod]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "file holds 4")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "offsets span 8 bytes")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap or hole")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap or hole")]
    [DataRow("{\"x\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unsupported dtype")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "negative")]
    [DataRow("{\"x\": [1, 2", 4, "not valid JSON")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets")]
    public void CorruptFilesAreRejectedWithAClearMessage(string header, int dataBytes, string expected)
    {
        var path = WriteRaw(header, new byte[dataBytes]);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => Safetensors.Load(path));
        StringAssert.Contains(ex.Message, expected);
    }

    [TestMethod]
    public void HeaderLengthBeyondTheFileIsRejected()
    {
        var path = Path.Combine(dir, "huge.safetensors");
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, ulong.MaxValue / 2);
        File.WriteAllBytes(path, [.. prefix, (byte)'{', (byte)'}']);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => Safetensors.Load(path));
        StringAssert.Contains(ex.Message, "header claims");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.ThrowsExactly<InvalidDataException>(() => Safetensors.Load(path));
    }

    [TestMethod]
    public void TruncatedFileIsRejected()
    {
        var path = Path.Combine(dir, "t.safetensors");
        using (var t = torch.rand([10, 10]))
            Safetensors.Save(new Dictionary<string, Tensor> { ["w"] = t }, path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^7]);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => Safetensors.Load(path));
        StringAssert.Contains(ex.Message, "truncated");
    }

    [TestMethod]
    public void ModuleStateDictRoundTripsAndChecksKeysAndShapes()
    {
        torch.manual_seed(3);
        using var a = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3));
        using var b = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3));
        var path = Path.Combine(dir, "m.safetensors");
        var state = a.state_dict();
        Safetensors.Save(state, path);

        var loaded = Safetensors.Load(path);
        b.LoadStateStrict(loaded);
        using var x = torch.rand([5, 4]);
        a.eval(); b.eval();
        using var ya = a.forward(x);
        using var yb = b.forward(x);
        CollectionAssert.AreEqual(ya.data<float>().ToArray(), yb.data<float>().ToArray());

        loaded.Remove("0.bias", out var removed);
        removed!.Dispose();
        var missing = Assert.ThrowsExactly<ArgumentException>(() => b.LoadStateStrict(loaded));
        StringAssert.Contains(missing.Message, "missing 1 key(s): 0.bias");

        using var wrong = torch.zeros([3, 5]);
        var wrongShape = new Dictionary<string, Tensor>(loaded) { ["0.weight"] = wrong };
        using var bias = torch.zeros([3]);
        wrongShape["0.bias"] = bias;   // present, so the check reaches the shapes
        using var before = b.state_dict()["0.weight"].clone();
        var shapeError = Assert.ThrowsExactly<ArgumentException>(() => b.LoadStateStrict(wrongShape));
        StringAssert.Contains(shapeError.Message, "'0.weight' has shape [3, 5]");
        CollectionAssert.AreEqual(before.data<float>().ToArray(), b.state_dict()["0.weight"].data<float>().ToArray(), "a state that does not fit leaves the module as it was");
        foreach (var t in loaded.Values) t.Dispose();
    }

    [TestMethod]
    public void SaveIsAtomicAndLeavesTheOldFileWhenItFails()
    {
        var path = Path.Combine(dir, "keep.safetensors");
        using (var t = torch.ones([3]))
            Safetensors.Save(new Dictionary<string, Tensor> { ["w"] = t }, path);
        var before = File.ReadAllBytes(path);
        using var bad = torch.ones([2]);
        // A reserved name fails half-way through writing; the earlier file must survive untouched.
        Assert.ThrowsExactly<ArgumentException>(() => Safetensors.Save(new Dictionary<string, Tensor> { ["__metadata__"] = bad }, path));
        CollectionAssert.AreEqual(before, File.ReadAllBytes(path));
        Assert.AreEqual(1, Directory.GetFiles(dir).Length, "no temp file is left behind");
    }
}

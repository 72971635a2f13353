using System.IO.Compression;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Defenses;

namespace MLDefense.Tests.MLNet;

/// <summary>AE-GAN+sr as a real ML.NET component: the workout, PredictionEngine, and damaged weights.</summary>
[TestClass]
public sealed class AeGanMLNetTests
{
    internal const int Size = 28 * 28;

    /// <summary>An MNIST image row as ExtractPixels would make it from a grey image: [1, 28, 28] in [0, 1].</summary>
    internal sealed class DigitRow
    {
        [VectorType(1, 28, 28)]
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }
    }

    private sealed class PurifiedRow
    {
        [VectorType(1, 28, 28)]
        public float[] Purified { get; set; } = [];
        public float AeGanScore { get; set; }
        public bool AeGanFlag { get; set; }
    }

    /// <summary>The first <paramref name="count"/> MNIST images (../shared/datasets), read from the IDX files themselves (byte / 255), not through a data view.</summary>
    internal static DigitRow[] Mnist(bool train, int count)
    {
        var files = MLDefense.Data.KnownDatasets.Resolve(MLDefense.Data.KnownDatasets.Mnist, null);
        var (images, _, _, _, labels) = MLDefense.Data.IdxRecords.Read(files.ImagesPath(train), files.LabelsPath(train), 10);
        return Enumerable.Range(0, count).Select(i => new DigitRow
        {
            Image = images.AsSpan(16 + i * Size, Size).ToArray().Select(b => b / 255f).ToArray(),
            Label = (uint)labels[i],
        }).ToArray();
    }

    /// <summary>A small AE-GAN (the tests' size: latent 16, width 8, 2 epochs) that still exercises the search.</summary>
    internal static AeGanOptions Tiny => new()
    {
        LatentDimension = 16, BaseChannels = 8, Epochs = 2, BatchSize = 50, LearningRate = 2e-3, Seed = 7, SearchSteps = 3,
    };

    private static readonly Lazy<(string Zip, IDataView Data)> Saved = new(() =>
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Mnist(train: true, 100));
        using var model = ml.Transforms.Defenses.AeGanPurifier(Tiny).Fit(data);
        string zip = Path.Combine(Directory.CreateTempSubdirectory("mldefense-aegan-").FullName, "aegan.zip");
        ml.Model.Save(model, data.Schema, zip);
        return (zip, data);
    });

    [TestMethod]
    public void WorksOutOnRealMLNet()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Mnist(train: true, 100));
        var test = ml.Data.LoadFromEnumerable(Mnist(train: false, 20));
        var wrongShape = ml.Data.LoadFromEnumerable(SaecMLNetTests.Cifar(train: true, 30).Select(r => new SaecMLNetTests.ImageRow { Image = r.Image }));
        var scaled = ml.Data.LoadFromEnumerable(Mnist(train: true, 30).Select(r => new DigitRow { Image = r.Image.Select(p => p * 255).ToArray() }));
        var (model, output) = MLNetWorkout.Run(ml, ml.Transforms.Defenses.AeGanPurifier(Tiny), train, test,
        [
            new("a missing image column", ml.Data.LoadFromEnumerable(new[] { new { Other = 1f } }), "'Image'"),
            new("pixels in 0-255", scaled, "scaleImage", SchemaProblem: false),
        ]);
        using (model)
        {
            var purified = output.Schema["Purified"].Type as VectorDataViewType;
            Assert.IsNotNull(purified);
            CollectionAssert.AreEqual(new[] { 1, 28, 28 }, purified.Dimensions.ToArray(), "the purified image keeps the input's type");
            // A colour image of another size is rejected by the fitted purifier, naming the column and the fitted shape.
            var error = Assert.ThrowsExactly<ArgumentException>(() => ((ITransformer)model).Transform(wrongShape));
            StringAssert.Contains(error.Message, "'Image'");
            StringAssert.Contains(error.Message, "1x28x28");
        }
    }

    [TestMethod]
    public void PredictionEnginePurifiesOneImageAsTheDataViewDoes()
    {
        var ml = new MLContext(seed: 1);
        var loaded = ml.Model.Load(Saved.Value.Zip, out _);
        var rows = Mnist(train: false, 4);
        var batch = ml.Data.CreateEnumerable<PurifiedRow>(loaded.Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false).ToArray();
        using var engine = ml.Model.CreatePredictionEngine<DigitRow, PurifiedRow>(loaded);
        for (int i = 0; i < rows.Length; i++)
        {
            var one = engine.Predict(rows[i]);
            Assert.AreEqual(batch[i].AeGanScore, one.AeGanScore, 1e-6, $"row {i}");
            Assert.AreEqual(batch[i].AeGanFlag, one.AeGanFlag, $"row {i}");
            // A batch of one runs other convolution kernels than a batch of four: equal up to float rounding.
            float largest = batch[i].Purified.Zip(one.Purified).Max(p => MathF.Abs(p.First - p.Second));
            Assert.IsTrue(largest < 1e-4f, $"row {i}: the purified images differ by up to {largest}");
        }
    }

    private static string Rewrite(string name, Func<string, byte[], byte[]?> change) => DamagedModels.Rewrite(Saved.Value.Zip, name, change);

    private static string LoadError(string zip) => DamagedModels.Messages(DamagedModels.LoadFails(zip));

    [TestMethod]
    public void FlippedBytesInTheWeightsFailTheChecksum()
    {
        string zip = Rewrite("flipped", (name, bytes) =>
        {
            if (!name.EndsWith("generator.safetensors", StringComparison.Ordinal)) return null;
            var copy = bytes.ToArray();
            copy[^10] ^= 0x40;
            return copy;
        });
        string message = LoadError(zip);
        StringAssert.Contains(message, "The AE-GAN purifier in");
        StringAssert.Contains(message, "checksum");
    }

    [TestMethod]
    public void WeightsOfAnotherNetworkDoNotLoad()
    {
        // The options say latent 17; the weights were trained for 16: shapes differ, and the load names the tensor.
        string zip = Rewrite("wrong-shape", (name, bytes) => name.EndsWith("options.json", StringComparison.Ordinal)
            ? Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(bytes).Replace("\"LatentDimension\": 16", "\"LatentDimension\": 17")) : null);
        string message = LoadError(zip);
        StringAssert.Contains(message, "The AE-GAN purifier in");
        StringAssert.Contains(message, "does not fit the network");
    }

    [TestMethod]
    public void WeightsOfAnotherDtypeDoNotLoad()
    {
        // Rewrite the generator's weights as float64 (with a valid checksum): the strict load rejects the dtype.
        string zip = Rewrite("wrong-dtype", (name, bytes) =>
        {
            if (!name.EndsWith("generator.safetensors", StringComparison.Ordinal) && !name.EndsWith("generator.safetensors.sha256", StringComparison.Ordinal)) return null;
            return name.EndsWith(".sha256", StringComparison.Ordinal) ? Rewritten.Value.Sha : Rewritten.Value.Double;
        });
        string message = LoadError(zip);
        StringAssert.Contains(message, "The AE-GAN purifier in");
        StringAssert.Contains(message, "generator.safetensors");
    }

    private static readonly Lazy<(byte[] Original, byte[] Double, byte[] Sha)> Rewritten = new(() =>
    {
        using var archive = ZipFile.OpenRead(Saved.Value.Zip);
        var entry = archive.Entries.Single(e => e.FullName.EndsWith("generator.safetensors", StringComparison.Ordinal));
        using var stream = entry.Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        byte[] original = buffer.ToArray();
        var tensors = Safetensors.Load(new MemoryStream(original));
        var doubles = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float64));
        using var output = new MemoryStream();
        Safetensors.Save(doubles, output);
        foreach (var t in tensors.Values.Concat(doubles.Values)) t.Dispose();
        byte[] rewritten = output.ToArray();
        return (original, rewritten, Encoding.ASCII.GetBytes(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(rewritten))));
    });
}

using System.IO.Compression;
using System.Text;
using Microsoft.ML;

namespace MLDefense.Tests.MLNet;

/// <summary>
/// The ML.NET bridge (src/MLDefense/MLNet): a damaged or foreign model fails with one clear error naming the component,
/// and nothing half-loaded is returned.
/// </summary>
[TestClass]
public sealed class BridgeTests
{
    private static readonly Lazy<(string Zip, IDataView Data)> Saved = new(() =>
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SaecMLNetTests.Cifar(train: true, 60));
        var model = ml.Transforms.Defenses.Saec().Fit(data);
        string zip = Path.Combine(Directory.CreateTempSubdirectory("mldefense-bridge-").FullName, "saec.zip");
        ml.Model.Save(model, data.Schema, zip);
        return (zip, data);
    });

    /// <summary>A copy of the saved model with one entry's bytes changed.</summary>
    private static string Damaged(string name, Func<string, byte[], byte[]?> change) => DamagedModels.Rewrite(Saved.Value.Zip, name, change);

    private static byte[]? Patch(byte[] bytes, string find, Action<byte[], int> patch)
    {
        int at = bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(find));
        if (at < 0) return null;
        var copy = bytes.ToArray();
        patch(copy, at);
        return copy;
    }

    private static Exception LoadFails(string zip) => DamagedModels.LoadFails(zip);

    private static string Messages(Exception error) => DamagedModels.Messages(error);

    [TestMethod]
    public void ASavedModelLoads()
    {
        var model = new MLContext().Model.Load(Saved.Value.Zip, out var schema);
        Assert.IsNotNull(model.GetOutputSchema(schema).GetColumnOrNull("SaecScore"));
    }

    [TestMethod]
    public void CorruptOptionsNameTheComponentAndTheStream()
    {
        string zip = Damaged("corrupt-json", (name, bytes) => name.EndsWith("calibration.json", StringComparison.Ordinal)
            ? Patch(bytes, "Threshold", (b, at) => { b[at - 2] = (byte)'#'; }) : null);
        string messages = Messages(LoadFails(zip));
        StringAssert.Contains(messages, "The SAEC detector in");
        StringAssert.Contains(messages, "calibration.json is not valid JSON");
    }

    [TestMethod]
    public void AnImpossibleModelNamesWhatIsWrong()
    {
        string zip = Damaged("impossible", (name, bytes) => name.EndsWith("options.json", StringComparison.Ordinal)
            ? Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(bytes).Replace("\"TargetFalsePositiveRate\": 0.01", "\"TargetFalsePositiveRate\": 7")) : null);
        string messages = Messages(LoadFails(zip));
        StringAssert.Contains(messages, "The SAEC detector in");
        StringAssert.Contains(messages, "TargetFalsePositiveRate");
    }

    [TestMethod]
    public void AFuturePayloadVersionAsksForANewerMLDefense()
    {
        // ML.NET's model header: the 8-character model signature, then the versions written and readable (UInt32 each).
        string zip = Damaged("future", (name, bytes) => Patch(bytes, "MLDSAEC_", (b, at) =>
        {
            BitConverter.TryWriteBytes(b.AsSpan(at + 8, 4), 2u);
            BitConverter.TryWriteBytes(b.AsSpan(at + 12, 4), 2u);
        }));
        string messages = Messages(LoadFails(zip));
        StringAssert.Contains(messages, "The SAEC detector in");
        StringAssert.Contains(messages, "format version 2 by a newer MLDefense");
    }

    [TestMethod]
    public void AnUnknownLoaderSignatureFailsToLoad()
    {
        // ML.NET looks the loader up itself and, when no assembly registers the name, says only which part of the chain
        // failed; MLDefense's loader is never called, so this message is ML.NET's (README, "Saving and loading").
        string zip = Damaged("unknown-loader", (name, bytes) => Patch(bytes, "MLDefenseSaec", (b, at) => b[at + 3] = (byte)'X'));
        var error = LoadFails(zip);
        Assert.IsInstanceOfType<FormatException>(error, Messages(error));
        StringAssert.Contains(error.Message, "Couldn't load model");
    }

    [TestMethod]
    public void ATruncatedZipFailsToLoad()
    {
        string copy = Path.Combine(Path.GetDirectoryName(Saved.Value.Zip)!, "truncated.zip");
        var bytes = File.ReadAllBytes(Saved.Value.Zip);
        File.WriteAllBytes(copy, bytes[..(bytes.Length / 2)]);
        string messages = Messages(LoadFails(copy));
        Assert.IsTrue(messages.Contains("zip", StringComparison.OrdinalIgnoreCase) || messages.Contains("central directory", StringComparison.OrdinalIgnoreCase), messages);
    }
}

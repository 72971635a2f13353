using Microsoft.ML;
using MLDefense.Samples.ImageApi;
using MLDefense.Data;

namespace MLDefense.Samples.Tests;

/// <summary>
/// One tiny defended model for every test here, trained once by the DefendedClassifier sample's own training code on
/// the first 1000 Fashion-MNIST training images (classifier A for 2 epochs, toy-sized SAEC / AE-GAN+sr / MIAED for one
/// epoch): seconds on two cores instead of the sample's minutes, with the same pipeline and the same zip.
/// </summary>
[TestClass]
public static class TinyDefendedModel
{
    /// <summary>The trained model: where its zip is, the sample's evaluation of it, and what training printed.</summary>
    public sealed record Trained(string ModelPath, Evaluation Evaluation, string Log);

    private static readonly string Folder = Path.Combine(Path.GetTempPath(), $"mldefense-samples-{Guid.NewGuid():N}");
    private static readonly Lazy<Trained> Model = new(Train);

    /// <summary>The tiny settings (the sample's <see cref="NetworkSize.Tiny"/> networks).</summary>
    public static TrainingSettings Settings(string modelPath) => new()
    {
        ModelPath = modelPath,
        TrainImages = 1000,
        TestImages = 200,
        ClassifierEpochs = 2,
        DefenseEpochs = 1,
        Networks = NetworkSize.Tiny,
        FgsmEpsilon = 0.3,
        Seed = 1,
    };

    /// <summary>The model, trained on first use.</summary>
    public static Trained Value => Model.Value;

    /// <summary>A folder for the tests' files, removed at the end.</summary>
    public static string TemporaryFolder
    {
        get
        {
            Directory.CreateDirectory(Folder);
            return Folder;
        }
    }

    /// <summary>The first <paramref name="count"/> Fashion-MNIST test images and key labels (from Debian's package), through ML.NET.</summary>
    public static List<ModelInput> TestImages(int count)
    {
        var ml = new MLContext(seed: 1);
        var view = ml.Data.TakeRows(ml.Data.LoadKnownDataset(KnownDatasets.FashionMnist, train: false), count);
        return ml.Data.CreateEnumerable<ModelInput>(view, reuseRowObject: false, ignoreMissingColumns: true).ToList();
    }

    /// <summary>A 28×28 grey image (CHW floats in [0, 1]) as PNG bytes.</summary>
    public static byte[] Png(float[] image) => ImageUpload.EncodePng(image, DefendedModel.InputShape);

    private static Trained Train()
    {
        var path = Path.Combine(TemporaryFolder, "tiny-defended.zip");
        var log = new StringWriter();
        var evaluation = DefendedClassifier.Train(Settings(path), log);
        return new Trained(path, evaluation, log.ToString());
    }

    [AssemblyCleanup]
    public static void RemoveFiles()
    {
        if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
    }
}

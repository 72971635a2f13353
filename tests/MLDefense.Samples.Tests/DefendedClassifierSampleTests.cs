using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace MLDefense.Samples.Tests;

/// <summary>The DefendedClassifier sample's training, evaluation, saving and consumption code, run in-process with tiny settings.</summary>
[TestClass]
public sealed class DefendedClassifierSampleTests
{
    [TestMethod]
    public void TrainingEvaluatesTheDefendedModelAndSavesItsZip()
    {
        var trained = TinyDefendedModel.Value;
        var e = trained.Evaluation;
        Console.WriteLine(trained.Log);

        Assert.AreEqual(200, e.Images);
        // Chance is 0.1 on Fashion-MNIST's ten classes.
        Assert.IsTrue(e.UndefendedCleanAccuracy > 0.5, $"classifier A alone on clean images: {e.UndefendedCleanAccuracy:P1}");
        Assert.IsTrue(e.UndefendedAdversarialAccuracy < e.UndefendedCleanAccuracy - 0.3,
            $"FGSM at ε = 0.3 must hurt classifier A: {e.UndefendedCleanAccuracy:P1} clean, {e.UndefendedAdversarialAccuracy:P1} attacked");
        // A purifier trained for one epoch at toy size reconstructs poorly, so only "above chance" is asked of it here;
        // how well the defenses work at full size is the benchmarks' business.
        Assert.IsTrue(e.DefendedCleanAccuracy > 0.15, $"classifier A behind the tiny purifier on clean images: {e.DefendedCleanAccuracy:P1}");
        // Every detector calibrated its threshold on clean training images (SAEC to 1%, AE-GAN+sr to 5%, MIAED to 2%
        // false positives), so on clean test images each flags few.
        foreach (var (name, rate) in new[] { ("SAEC", e.CleanFlags.Saec), ("AE-GAN+sr", e.CleanFlags.AeGan), ("MIAED", e.CleanFlags.Miaed) })
            Assert.IsTrue(rate <= 0.15, $"{name} flags {rate:P0} of clean test images");
        // SAEC needs no training, so it works at any size: ±0.3 sign noise raises its score above the clean threshold more often.
        Assert.IsTrue(e.AdversarialFlags.Saec > e.CleanFlags.Saec + 0.05, $"SAEC flags {e.AdversarialFlags.Saec:P0} of FGSM images, {e.CleanFlags.Saec:P0} of clean ones");
        foreach (var f in new[] { e.CleanFlags, e.AdversarialFlags })
            Assert.IsTrue(f.Any >= new[] { f.Saec, f.AeGan, f.Miaed }.Max() && f.Any <= f.Saec + f.AeGan + f.Miaed + 1e-9, $"'any flag' is the union: {f}");

        StringAssert.Contains(trained.Log, "Classifier A trained");
        StringAssert.Contains(trained.Log, "Pipeline fitted");
        StringAssert.Contains(trained.Log, "FGSM ε = 0.3");
        // The zip is an ML.NET model: a fresh MLContext loads it with no registration call, with the training data's schema.
        var ml = new MLContext();
        using var loaded = (TransformerChain<ITransformer>)ml.Model.Load(trained.ModelPath, out var schema);
        Assert.AreEqual("Vector<Single, 1, 28, 28>", schema["Image"].Type.ToString());
        Assert.AreEqual("Key<UInt32, 0-9>", schema["Label"].Type.ToString());
        string[] fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
        CollectionAssert.AreEqual(fashion, DefendedClassifier.KeyNames(schema["Label"]).ToArray());
        var output = loaded.GetOutputSchema(schema);
        foreach (var column in new[] { "SaecScore", "SaecFlag", "Purified", "AeGanScore", "AeGanFlag", "Score", "PredictedLabel", "MiaedScore", "MiaedFlag" })
            Assert.IsNotNull(output.GetColumnOrNull(column), $"the defended model adds {column}");
        Assert.AreEqual("Key<UInt32, 0-9>", output["PredictedLabel"].Type.ToString());
        CollectionAssert.AreEqual(fashion, DefendedClassifier.KeyNames(output["PredictedLabel"]).ToArray(), "PredictedLabel carries the class names");
    }

    [TestMethod]
    public void ConsumptionPredictsWhatTheSavedModelComputes()
    {
        var trained = TinyDefendedModel.Value;
        var output = new StringWriter();
        var error = new StringWriter();
        // --threads as it is now: Run sets libtorch's thread count for the whole process.
        var threads = torch.get_num_threads().ToString();
        int exit = Program.Run(["--predict-only", "--model", trained.ModelPath, "--predictions", "3", "--threads", threads], output, error);
        Assert.AreEqual(0, exit, error.ToString());
        StringAssert.Contains(output.ToString(), "Predicting 3 test images");
        StringAssert.Contains(output.ToString(), "#2: ");
        Assert.AreEqual(trained.ModelPath, DefendedClassifier.MLNetModelPath);

        // The static Predict (one row at a time through the lazily loaded engine) against the whole pipeline run as a batch.
        var images = TinyDefendedModel.TestImages(8);
        var ml = new MLContext();
        using var model = (TransformerChain<ITransformer>)ml.Model.Load(trained.ModelPath, out _);
        var batch = ml.Data.CreateEnumerable<ModelOutput>(model.Transform(ml.Data.LoadFromEnumerable(images)), reuseRowObject: false, ignoreMissingColumns: true).ToList();
        for (int i = 0; i < images.Count; i++)
        {
            var single = DefendedClassifier.Predict(new ModelInput { Image = images[i].Image });
            Assert.AreEqual(batch[i].PredictedLabel, single.PredictedLabel, $"image {i}");
            Assert.AreEqual(batch[i].SaecScore, single.SaecScore, 1e-5, $"image {i}");
            Assert.AreEqual(batch[i].AeGanScore, single.AeGanScore, 1e-5, $"image {i}");
            Assert.AreEqual(batch[i].MiaedScore, single.MiaedScore, 1e-5, $"image {i}");
            Assert.AreEqual(batch[i].IsAdversarial, single.IsAdversarial, $"image {i}");
            Assert.AreEqual(1.0, single.Score.Sum(), 1e-4);
            Assert.AreEqual(784, single.Purified.Length);
            Assert.IsTrue(single.PredictedLabel is >= 1 and <= 10, $"image {i}: the key {single.PredictedLabel} is a class");
            var ranked = DefendedClassifier.GetSortedScoresWithLabels(single).ToList();
            Assert.AreEqual(DefendedClassifier.ClassNames[single.PredictedIndex], ranked[0].Key);
        }
    }

    [TestMethod]
    public void BadArgumentsGiveOneLineAndExitCodeTwo()
    {
        foreach (var args in new[] { new[] { "--epochs", "zero" }, ["--networks", "huge"], ["--epsilon", "2"], ["--bogus"], ["--model"] })
        {
            var output = new StringWriter();
            var error = new StringWriter();
            Assert.AreEqual(2, Program.Run(args, output, error), string.Join(" ", args));
            Assert.AreEqual(1, error.ToString().Trim().Split('\n').Length, error.ToString());
            StringAssert.StartsWith(error.ToString(), "DefendedClassifier: ");
            Assert.AreEqual("", output.ToString());
        }
    }

    [TestMethod]
    public void HelpListsTheOptionsAndAMissingModelFailsWithExitCodeOne()
    {
        var output = new StringWriter();
        Assert.AreEqual(0, Program.Run(["--help"], output, new StringWriter()));
        foreach (var option in new[] { "--model", "--data", "--train-images", "--epochs", "--defense-epochs", "--networks", "--full", "--predict-only" })
            StringAssert.Contains(output.ToString(), option);

        var error = new StringWriter();
        var missing = Path.Combine(TinyDefendedModel.TemporaryFolder, "missing.zip");
        Assert.AreEqual(1, Program.Run(["--predict-only", "--model", missing, "--threads", torch.get_num_threads().ToString()], new StringWriter(), error));
        StringAssert.Contains(error.ToString(), "No model at");
    }
}

using MLDefense.Attacks;
using System.Diagnostics;
using MLDefense.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Tests.MLNet;
using MLDefense.Defenses;
using MLDefense.Evaluation;
using MLDefense.Classifiers;

namespace MLDefense.Tests;

/// <summary>
/// The AE-GAN+sr purifier on a small MNIST slice with tiny networks (latent 16, width 8, a few epochs): training,
/// the latent search, the detector, the search policies, the workout, cancellation and tensor hygiene.
/// </summary>
[TestClass]
public sealed class AeGanTests
{
    private static readonly ImageShape Mnist = new(1, 28, 28);
    private static readonly Lazy<IDataView> MnistTrain = new(() => LoadMnist(train: true, 400));
    private static readonly Lazy<IDataView> MnistTest = new(() => LoadMnist(train: false, 200));
    private static readonly Lazy<AeGanTransformer> Trained = new(() => new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(Tiny(epochs: 6)).Fit(MnistTrain.Value));

    /// <summary>A configuration that trains in seconds on two CPU cores; the higher learning rate makes up for the few steps.</summary>
    private static AeGanOptions Tiny(AeGanSearchPolicy policy = AeGanSearchPolicy.WhenFlagged, int epochs = 4) => new()
    {
        LatentDimension = 16,
        BaseChannels = 8,
        Epochs = epochs,
        BatchSize = 50,
        LearningRate = 2e-3,
        SearchPolicy = policy,
        Seed = 7,
    };

    private static IDataView LoadMnist(bool train, int rows) => TestViews.Known(KnownDatasets.Mnist, train, rows);

    private static float[] Pixels(IDataView view) => TestViews.Floats(view, "Image");

    private static IDataView Images(float[] pixels, ImageShape shape, string name = "Image") => TestViews.Images(pixels, shape, name);

    private static Tensor TestImages(int count, Device device) =>
        torch.tensor(Pixels(MnistTest.Value).AsSpan(0, count * Mnist.Size).ToArray(), [count, 1, 28, 28], device: device);

    private static double MeanSquaredError(Tensor a, Tensor b)
    {
        using var difference = a - b;
        using var squared = difference.square();
        using var mean = squared.mean();
        return mean.item<float>();
    }

    [ClassCleanup]
    public static void DisposeTrainedModel()
    {
        if (Trained.IsValueCreated) Trained.Value.Dispose();
    }

    [TestMethod]
    public void TrainingReconstructsHeldOutDigitsFarBetterThanAtInitialisation()
    {
        var model = Trained.Value;
        using var images = TestImages(200, model.Device);
        torch.manual_seed(7);
        using var encoder = new AeGanEncoder(Mnist, 16, 8);
        using var generator = new AeGanGenerator(Mnist, 16, 8);
        encoder.eval();
        generator.eval();
        double initial, trained;
        using (torch.no_grad())
        {
            using var code = encoder.forward(images);
            using var untrained = generator.forward(code);
            initial = MeanSquaredError(untrained, images);
        }
        using (var reconstruction = model.MagNetReconstruct(images)) trained = MeanSquaredError(reconstruction, images);
        Console.WriteLine($"held-out MNIST reconstruction MSE per pixel: {initial:F4} untrained, {trained:F4} after {model.Options.Epochs} epochs on 400 images");
        Assert.IsTrue(trained < 0.5 * initial, $"trained MSE {trained} vs untrained {initial}");
    }

    [TestMethod]
    public void BatchNormStatisticsAreReestimatedOnCleanReconstructionsAfterTraining()
    {
        var model = Trained.Value;
        var norms = model.Encoder.modules().Concat(model.Generator.modules()).OfType<BatchNorm>().ToList();

        Assert.IsTrue(norms.Count >= 4, $"F and G normalise their hidden layers (Table 6): {norms.Count}");
        // Training ran 4 epochs × 8 batches, G twice per batch; the re-estimate runs G(F(x)) once per batch of the 400 images.
        foreach (var norm in norms)
        {
            Assert.AreEqual(400L / 50, norm.num_batches_tracked!.item<long>(), "statistics come from one pass of G(F(x)) over the training images");
            Assert.AreEqual(0.1, norm.momentum, "the default momentum is back for any later training");
        }
    }

    [TestMethod]
    public void EncoderAssistedSearchLowersTheReconstructionDistanceStepByStep()
    {
        var model = Trained.Value;
        using var images = TestImages(100, model.Device);
        var trace = new List<double>();
        using var searched = model.EncoderAssistedSearch(images, steps: 15, trace: trace);
        Console.WriteLine("mean ‖G(z_t) − x‖² per image: " + string.Join(", ", trace.Select(v => v.ToString("F2"))));
        Assert.AreEqual(16, trace.Count, "L + 1 values: before each step and after the last");
        Assert.IsTrue(trace[^1] < trace[0] * 0.97, $"the search must lower ‖G(z) − x‖² from z₀ = F(x): {trace[0]} → {trace[^1]}");
        for (int t = 1; t < trace.Count; t++)
            Assert.IsTrue(trace[t] <= trace[t - 1] * (1 + 1e-5), $"the mean distance rose at step {t}: {trace[t - 1]} → {trace[t]}");

        using var reconstruction = model.MagNetReconstruct(images);
        Assert.IsTrue(MeanSquaredError(searched, images) < MeanSquaredError(reconstruction, images), "G(z_L) is closer to x than G(F(x))");
    }

    [TestMethod]
    public void SearchNeverEndsFartherFromAnImageThanItsStartEvenWithAnOvershootingStep()
    {
        var model = Trained.Value;
        using var scope = torch.NewDisposeScope();
        var images = TestImages(50, model.Device);
        Tensor start, before;
        using (torch.no_grad())
        {
            start = model.Encoder.forward(images);
            before = PerImageDistance(model.Generator.forward(start), images);
        }
        const double overshooting = 50;

        // The premise: one plain step of this size from F(x) lands farther from x for most images.
        var z = start.detach().clone();
        z.requires_grad = true;
        using (torch.enable_grad())
        {
            var gradient = torch.autograd.grad([(model.Generator.forward(z) - images).square().sum()], [z])[0];
            using var _ = torch.no_grad();
            var plain = PerImageDistance(model.Generator.forward((start - gradient * overshooting).clamp(-1, 1)), images);
            Assert.IsTrue(plain.gt(before).to(ScalarType.Float32).mean().item<float>() > 0.5f, "a plain step of 50 overshoots for most images");
        }

        var trace = new List<double>();
        var found = AeGanPurification.SearchLatent(model.Generator, start, images, 15, overshooting, 5, trace);
        Console.WriteLine("mean ‖G(z_t) − x‖² per image: " + string.Join(", ", trace.Select(v => v.ToString("F2"))));
        using var noGrad = torch.no_grad();
        var after = PerImageDistance(model.Generator.forward(found), images);
        var rose = after.gt(before * 1.00001f).sum().item<long>();
        Assert.AreEqual(0L, rose, "no image ends farther from x than G(F(x))");
        Assert.IsTrue(trace[^1] < trace[0], $"the halved steps still descend: {trace[0]} → {trace[^1]}");
    }

    private static Tensor PerImageDistance(Tensor reconstruction, Tensor images) => (reconstruction - images).square().flatten(1).sum(1);

    [TestMethod]
    public void DefenseGanSearchImprovesOnItsRandomStarts()
    {
        var model = Trained.Value;
        using var images = TestImages(20, model.Device);
        using var starts = model.DefenseGanSearch(images, restarts: 3, iterations: 0, seed: 5);
        var clock = Stopwatch.StartNew();
        using var searched = model.DefenseGanSearch(images, restarts: 3, iterations: 40, seed: 5);
        Console.WriteLine($"Defense-GAN-style search (R = 3, L = 40) on 20 images: {clock.Elapsed.TotalMilliseconds / 20:F1} ms per image; " +
                          $"MSE {MeanSquaredError(starts, images):F4} at the best start → {MeanSquaredError(searched, images):F4}");
        CollectionAssert.AreEqual(images.shape, searched.shape);
        Assert.IsTrue(MeanSquaredError(searched, images) < MeanSquaredError(starts, images));
    }

    [TestMethod]
    public void NoiseImagesScoreHigherThanCleanDigitsAndAreFlagged()
    {
        var model = Trained.Value;
        var clean = MnistTest.Value;
        var random = new Random(3);
        var noise = Images(Array.ConvertAll(new float[100 * Mnist.Size], _ => random.NextSingle()), Mnist);
        var cleanOut = TestViews.Read(model.Transform(clean));
        var noiseOut = TestViews.Read(model.Transform(noise));
        var cleanScores = cleanOut.Floats("AeGanScore");
        var noiseScores = noiseOut.Floats("AeGanScore");
        double auc = RocCurve.AucOf(cleanScores, noiseScores);
        double cleanFlagged = ThresholdCalibration.FlaggedFraction(cleanScores, model.Threshold);
        double noiseFlagged = (noiseOut.Bools("AeGanFlag")).Count(f => f) / 100.0;
        Console.WriteLine($"threshold {model.Threshold:F4} (calibration: {model.Calibration}); AUC clean vs uniform noise {auc:F4}; " +
                          $"flagged: clean {cleanFlagged:P1}, noise {noiseFlagged:P1}");
        Assert.IsTrue(auc > 0.99, $"AUC {auc}");
        Assert.IsTrue(noiseScores.Average() > cleanScores.Average());
        Assert.IsTrue(noiseFlagged >= 0.95, $"noise flagged {noiseFlagged}");
        Assert.IsTrue(cleanFlagged <= 0.2, $"held-out clean flagged {cleanFlagged} at a 5% training target");
        Assert.AreEqual(0.05, model.Calibration.TrainingFalsePositiveRate, 1e-9, "⌊0.05·400⌋ = 20 images above the threshold");
    }

    [TestMethod]
    public void SearchPoliciesDecideWhichImagesAreSearched()
    {
        var test = FirstRows(MnistTest.Value, 60);
        var random = new Random(4);
        // Half clean digits, half uniform noise, so that WhenFlagged has both kinds of rows.
        var pixels = Pixels(test);
        for (int i = 30 * Mnist.Size; i < pixels.Length; i++) pixels[i] = random.NextSingle();
        var data = Images(pixels, Mnist);
        using var images = torch.tensor(pixels, [60, 1, 28, 28]);

        foreach (var policy in Enum.GetValues<AeGanSearchPolicy>())
        {
            using var model = new MLContext(seed: 2).Transforms.Defenses.AeGanPurifier(Tiny(policy)).Fit(MnistTrain.Value);
            var output = TestViews.Read(model.Transform(data));
            var purified = output.Floats("Purified");
            var flags = output.Bools("AeGanFlag");
            using var reconstruction = model.MagNetReconstruct(images);
            using var searched = model.EncoderAssistedSearch(images);
            var plain = reconstruction.data<float>().ToArray();
            var found = searched.data<float>().ToArray();
            Console.WriteLine($"{policy}: {flags.Count(f => f)} of 60 flagged");
            Assert.IsTrue(flags.Take(30).Count(f => f) < flags.Skip(30).Count(f => f), "the noise half is flagged more often");
            for (int row = 0; row < 60; row++)
            {
                bool search = policy switch
                {
                    AeGanSearchPolicy.Always => true,
                    AeGanSearchPolicy.Never => false,
                    _ => flags[row],
                };
                var expected = (search ? found : plain).AsSpan(row * Mnist.Size, Mnist.Size);
                var actual = purified.AsSpan(row * Mnist.Size, Mnist.Size);
                for (int i = 0; i < Mnist.Size; i++)
                    Assert.AreEqual(expected[i], actual[i], 1e-5f, $"{policy}: row {row} (flagged {flags[row]}) should be {(search ? "searched" : "G(F(x))")}");
            }
        }
    }

    [TestMethod]
    public void WithSearchTakesOverTheNetworksUnderOtherSearchSettings()
    {
        var source = new MLContext(seed: 5).Transforms.Defenses.AeGanPurifier(Tiny(epochs: 1)).Fit(FirstRows(MnistTrain.Value, 200));
        using var images = TestImages(10, source.Device);
        using var before = source.MagNetReconstruct(images);
        Assert.Throws<ArgumentException>(() => source.WithSearch(steps: -1));
        using (source.MagNetReconstruct(images)) { } // a rejected setting leaves the source usable (no ObjectDisposedException)

        using var changed = source.WithSearch(AeGanSearchPolicy.Always, steps: 2, stepSize: 0.05);
        Assert.ThrowsExactly<ObjectDisposedException>(() => source.MagNetReconstruct(images), "the source handed its networks over");
        Assert.AreEqual(source.Options with { SearchPolicy = AeGanSearchPolicy.Always, SearchSteps = 2, SearchStepSize = 0.05 }, changed.Options);
        Assert.AreEqual(source.Calibration, changed.Calibration);
        using var after = changed.MagNetReconstruct(images);
        using (var difference = (after - before).abs().max()) Assert.AreEqual(0f, difference.item<float>(), "the same networks");
        using var purified = changed.Purify(images);
        using var searched = changed.EncoderAssistedSearch(images);
        using (var difference = (purified - searched).abs().max()) Assert.IsTrue(difference.item<float>() < 1e-5f, "Always searches every image, 2 steps of 0.05");
    }

    private static IDataView FirstRows(IDataView view, int rows) => TestViews.First(view, rows);

    [TestMethod]
    public void BadImagesAreRejectedAndThePurifiedColumnIsAnImageColumn()
    {
        var ml = new MLContext(seed: 3);
        var train = FirstRows(MnistTrain.Value, 200);
        var test = FirstRows(MnistTest.Value, 40);
        var pixels = Pixels(FirstRows(MnistTrain.Value, 40));
        var withNaN = (float[])pixels.Clone();
        withNaN[Mnist.Size * 7 + 5] = float.NaN;
        var options = Tiny(epochs: 1) with { SearchPolicy = AeGanSearchPolicy.Always, SearchSteps = 3 };
        var estimator = ml.Transforms.Defenses.AeGanPurifier(options);
        // (what, data, expected part of the message, whether a schema shape shows it: image sizes only show at Fit)
        (string What, IDataView Data, string Part, bool AtSchema)[] bad =
        [
            ("no image column", Images(pixels, Mnist, "Pixels"), "'Image'", true),
            ("images too small", Images(new float[40 * 16], new ImageShape(1, 4, 4)), "at least 8x8", false),
            ("a shape the decoder cannot retrace", Images(new float[40 * 28 * 30], new ImageShape(1, 28, 30)), "same parity", false),
            ("a NaN pixel", Images(withNaN, Mnist), "NaN in row 7", false),
            ("too few images", Images(pixels.AsSpan(0, Mnist.Size * 10).ToArray(), Mnist), "at least 20", false),
        ];
        foreach (var (what, data, part, atSchema) in bad)
        {
            if (atSchema)
                StringAssert.Contains(Assert.Throws<ArgumentException>(() => estimator.GetOutputSchema(MLDefense.MLNet.SchemaShapes.From(data.Schema)), what).Message, part, what);
            StringAssert.Contains(Assert.Throws<ArgumentException>(() => estimator.Fit(data), what).Message, part, what);
        }

        using var model = estimator.Fit(train);
        var output = model.Transform(test);
        Assert.AreEqual(test.Schema["Image"].Type, output.Schema["Purified"].Type, "the purified column keeps the input's type");
        var columns = TestViews.Read(output);
        var purified = columns.Floats("Purified");
        Assert.IsTrue(purified.All(v => v is >= 0 and <= 1), "purified values are images");
        var scores = columns.Floats("AeGanScore");
        var flags = columns.Bools("AeGanFlag");
        for (int i = 0; i < scores.Length; i++) Assert.AreEqual(ThresholdCalibration.IsFlagged(scores[i], model.Threshold), flags[i]);

        // Purified images can be written for a report.
        var path = Path.Combine(Path.GetTempPath(), $"aegan-{Guid.NewGuid():N}.png");
        try
        {
            ImageFiles.SavePng(purified.AsSpan(0, Mnist.Size), Mnist, path);
            var decoded = ImageFiles.Decode(File.ReadAllBytes(path), Mnist);
            for (int i = 0; i < Mnist.Size; i++) Assert.AreEqual(purified[i], decoded[i], 0.5 / 255 + 1e-6);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void TransformerRejectsAnotherShapeAnotherChannelCountAndNaN()
    {
        var model = Trained.Value;
        var ex = Assert.Throws<ArgumentException>(() => model.GetOutputSchema(Images(new float[3 * 28 * 28], new ImageShape(3, 28, 28)).Schema));
        StringAssert.Contains(ex.Message, "'Image'");
        StringAssert.Contains(ex.Message, "3 channels instead of 1");
        ex = Assert.Throws<ArgumentException>(() => model.GetOutputSchema(Images(new float[32 * 32], new ImageShape(1, 32, 32)).Schema));
        StringAssert.Contains(ex.Message, "trained on");
        ex = Assert.Throws<ArgumentException>(() => model.GetOutputSchema(Images(new float[Mnist.Size], Mnist, "Pixels").Schema));
        StringAssert.Contains(ex.Message, "'Image'");

        var pixels = Pixels(FirstRows(MnistTest.Value, 3));
        pixels[Mnist.Size * 2 + 100] = float.NaN;
        ex = Assert.Throws<ArgumentException>(() => TestViews.Read(model.Transform(Images(pixels, Mnist))));
        StringAssert.Contains(ex.Message, "Column 'Image'");
        StringAssert.Contains(ex.Message, "NaN in row 2");

        using var wrong = torch.zeros([2, 1, 32, 32]);
        Assert.Throws<ArgumentException>(() => model.Purify(wrong));
    }

    [TestMethod]
    public void CancellationStopsFitAndLeavesNoTensorsBehind()
    {
        var data = FirstRows(MnistTrain.Value, 200);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var ml = new MLContext(seed: 5);
        Assert.Throws<OperationCanceledException>(() => ml.Transforms.Defenses.AeGanPurifier(Tiny() with { CancellationToken = cancelled.Token }).Fit(data));

        long before = LiveTensors.Count();
        using var midway = new CancellationTokenSource();
        var reports = new List<AeGanTrainingProgress>();
        var progress = new SynchronousProgress<AeGanTrainingProgress>(p =>
        {
            reports.Add(p);
            if (reports.Count == 2) midway.Cancel();
        });
        var options = Tiny(epochs: 3) with { CancellationToken = midway.Token, Progress = progress };
        Assert.Throws<OperationCanceledException>(() => ml.Transforms.Defenses.AeGanPurifier(options).Fit(data));
        Assert.AreEqual(2, reports.Count, "training stopped at the next batch after the cancellation");
        Assert.AreEqual(before, LiveTensors.Count(), "a cancelled Fit frees every network and tensor it built");
    }

    [TestMethod]
    public void CheckpointedFitResumesAfterACancellationWithTheSameModel()
    {
        var data = FirstRows(MnistTrain.Value, 200);
        string path = Path.Combine(Path.GetTempPath(), $"aegan-{Guid.NewGuid():N}", "purifier.checkpoint");
        var options = Tiny(epochs: 3);
        using var uninterrupted = new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(options).Fit(data);

        using var midway = new CancellationTokenSource();
        var stopAfterEpoch2 = new SynchronousProgress<AeGanTrainingProgress>(p => { if (p.EpochCompleted && p.Epoch == 2) midway.Cancel(); });
        Assert.Throws<OperationCanceledException>(() => new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(
            options with { CheckpointPath = path, Progress = stopAfterEpoch2, CancellationToken = midway.Token }).Fit(data));
        Assert.IsTrue(File.Exists(path), "the checkpoint of epoch 2 outlives the cancelled Fit (its folder was created)");

        var other = Assert.Throws<ArgumentException>(() => new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(
            options with { CheckpointPath = path, NoiseBound = 0.2 }).Fit(data));
        StringAssert.Contains(other.Message, "noise_bound: 0.3 there, 0.2 here");
        var otherData = Assert.Throws<ArgumentException>(() => new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(
            options with { CheckpointPath = path }).Fit(FirstRows(MnistTrain.Value, 199)));
        StringAssert.Contains(otherData.Message, "images: 200 there, 199 here");
        Assert.IsTrue(File.Exists(path), "a refused checkpoint is left alone");

        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => log.Add(e.RawMessage);
        var epochs = new List<int>();
        var recordEpochs = new SynchronousProgress<AeGanTrainingProgress>(p => { if (p.EpochCompleted) epochs.Add(p.Epoch); });
        using var resumed = ml.Transforms.Defenses.AeGanPurifier(options with { CheckpointPath = path, Progress = recordEpochs }).Fit(data);

        CollectionAssert.AreEqual(new[] { 3 }, epochs, "only the third epoch is trained");
        Assert.IsTrue(log.Any(m => m.Contains("resumed from the checkpoint", StringComparison.Ordinal)));
        Assert.IsFalse(File.Exists(path), "a finished Fit deletes its checkpoint");
        Assert.IsNull(resumed.Options.CheckpointPath);
        Assert.AreEqual(uninterrupted.Threshold, resumed.Threshold);
        using var images = TestImages(20, resumed.Device);
        using var expected = uninterrupted.Purify(images);
        using var actual = resumed.Purify(images);
        CollectionAssert.AreEqual(expected.data<float>().ToArray(), actual.data<float>().ToArray(), "resuming gives the uninterrupted model bit for bit");
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    [TestMethod]
    public void KeptCheckpointExtendsTheTrainingToTheModelOfTheLongerFit()
    {
        var data = FirstRows(MnistTrain.Value, 200);
        string path = Path.Combine(Path.GetTempPath(), $"aegan-{Guid.NewGuid():N}", "purifier.checkpoint");
        var options = Tiny(epochs: 3);
        using var uninterrupted = new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(options).Fit(data);

        using var first = new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(options with { Epochs = 2, CheckpointPath = path, KeepCheckpoint = true }).Fit(data);
        Assert.IsTrue(File.Exists(path), "a kept checkpoint outlives the finished Fit");
        var fewer = Assert.Throws<ArgumentException>(() => new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(
            options with { Epochs = 1, CheckpointPath = path }).Fit(data));
        StringAssert.Contains(fewer.Message, "completed 2 epochs, more than this Fit's 1");

        var epochs = new List<int>();
        var recordEpochs = new SynchronousProgress<AeGanTrainingProgress>(p => { if (p.EpochCompleted) epochs.Add(p.Epoch); });
        using var extended = new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(options with { CheckpointPath = path, Progress = recordEpochs }).Fit(data);
        CollectionAssert.AreEqual(new[] { 3 }, epochs, "the longer Fit trains the one epoch the kept checkpoint lacks");
        Assert.IsFalse(File.Exists(path), "without KeepCheckpoint the finished Fit deletes it");
        using var images = TestImages(20, extended.Device);
        using var expected = uninterrupted.Purify(images);
        using var actual = extended.Purify(images);
        using var shorter = first.Purify(images);
        CollectionAssert.AreEqual(expected.data<float>().ToArray(), actual.data<float>().ToArray(), "2 + 1 epochs give the 3-epoch model bit for bit");
        CollectionAssert.AreNotEqual(expected.data<float>().ToArray(), shorter.data<float>().ToArray(), "the 2-epoch model differs from the 3-epoch one");
        Assert.Throws<ArgumentException>(() => new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(options with { KeepCheckpoint = true }));
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    [TestMethod]
    public void UnreadableCheckpointIsAClearError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"aegan-{Guid.NewGuid():N}.checkpoint");
        File.WriteAllText(path, "not a zip");
        try
        {
            var ex = Assert.Throws<InvalidDataException>(() => new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(
                Tiny() with { CheckpointPath = path }).Fit(FirstRows(MnistTrain.Value, 100)));
            StringAssert.Contains(ex.Message, path);
            StringAssert.Contains(ex.Message, "delete it to start afresh");
            Assert.Throws<ArgumentException>(() => new MLContext(seed: 1).Transforms.Defenses.AeGanPurifier(Tiny() with { CheckpointPath = " " }));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void FitReportsProgressWithLossesAndAnEstimate()
    {
        var reports = new List<AeGanTrainingProgress>();
        var options = Tiny(epochs: 2) with { Progress = new SynchronousProgress<AeGanTrainingProgress>(reports.Add) };
        var ml = new MLContext(seed: 6);
        var log = new List<string>();
        ml.Log += (_, e) => log.Add(e.RawMessage);
        using var model = ml.Transforms.Defenses.AeGanPurifier(options).Fit(FirstRows(MnistTrain.Value, 200));
        var ends = reports.Where(r => r.EpochCompleted).ToList();
        Assert.AreEqual(2, ends.Count);
        Assert.IsTrue(ends.All(r => double.IsFinite(r.DiscriminatorLoss) && double.IsFinite(r.GeneratorLoss) && r.ReconstructionLoss > 0));
        Assert.AreEqual(TimeSpan.Zero, ends[^1].EstimatedRemaining);
        Assert.IsTrue(reports.Count > 2, "reports come during epochs too");
        Assert.IsTrue(log.Any(m => m.StartsWith("calibrated")), string.Join(" | ", log));
    }

    [TestMethod]
    public void TransformLeaksNoTensors()
    {
        var model = Trained.Value;
        var data = FirstRows(MnistTest.Value, 50);
        TestViews.Read(model.Transform(data)); // warm-up: lazy initialisation inside the engine is not a leak
        long before = LiveTensors.Count();
        for (int i = 0; i < 3; i++) TestViews.Read(model.Transform(data));
        using (var images = TestImages(10, model.Device))
        {
            using var a = model.Purify(images);
            using var b = model.ReconstructionError(images);
            using var c = model.DefenseGanSearch(images, 2, 3);
        }
        Assert.AreEqual(before, LiveTensors.Count());
    }

    [TestMethod]
    public void BadOptionsAreRejectedNamingTheOption()
    {
        var ml = new MLContext();
        void Expect(AeGanOptions options, string part)
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Defenses.AeGanPurifier(options));
            StringAssert.Contains(ex.Message, part);
        }
        Expect(new AeGanOptions { LatentDimension = 0 }, "LatentDimension");
        Expect(new AeGanOptions { BatchSize = 1 }, "BatchSize");
        Expect(new AeGanOptions { NoiseBound = -1 }, "NoiseBound");
        Expect(new AeGanOptions { TargetFalsePositiveRate = 1 }, "false-positive rate");
        Expect(new AeGanOptions { SearchHalvingInterval = 0 }, "SearchHalvingInterval");
        Expect(new AeGanOptions { SearchStepSize = double.NaN }, "SearchStepSize");
        Assert.Throws<ArgumentException>(() => ml.Transforms.Defenses.AeGanPurifier(scoreColumnName: "X", flagColumnName: "X"));
    }

    [TestMethod]
    public void NetworksFollowTable6AndSupportSquareShapes()
    {
        using var encoder = new AeGanEncoder(new ImageShape(3, 32, 32), 128);
        using var generator = new AeGanGenerator(new ImageShape(3, 32, 32), 128);
        using var discriminator = new AeGanDiscriminator(new ImageShape(3, 32, 32));
        var convolutions = encoder.named_parameters().Where(p => p.name.EndsWith("weight") && p.parameter.dim() == 4).Select(p => p.parameter.shape).ToList();
        CollectionAssert.AreEqual(new long[] { 64, 128, 256 }, convolutions.Select(s => s[0]).ToArray());
        Assert.IsTrue(convolutions.All(s => s[2] == 5 && s[3] == 5));
        using var images = torch.rand([2, 3, 32, 32]);
        using var _ = torch.no_grad();
        encoder.eval(); generator.eval(); discriminator.eval();
        using var code = encoder.forward(images);
        using var decoded = generator.forward(code);
        using var real = discriminator.forward(images);
        CollectionAssert.AreEqual(new long[] { 2, 128 }, code.shape);
        CollectionAssert.AreEqual(new long[] { 2, 3, 32, 32 }, decoded.shape);
        CollectionAssert.AreEqual(new long[] { 2, 1 }, real.shape);
        foreach (var side in new[] { 8, 9, 28, 31, 64 }) Assert.IsNull(AeGanGeometry.Check(new ImageShape(1, side, side)), $"{side}x{side}");
        Assert.IsNotNull(AeGanGeometry.Check(new ImageShape(1, 28, 30)));
    }

    [TestMethod]
    public void TensorMethodsRejectNaNAndInfinity()
    {
        var model = Trained.Value;
        using var images = TestImages(3, model.Device);
        var pixels = Pixels(FirstRows(MnistTest.Value, 3));
        pixels[Mnist.Size + 145] = float.NaN;
        using var copy = torch.tensor(pixels, [3, 1, 28, 28], device: model.Device);
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => model.Purify(copy)).Message, "NaN or infinite");
        Assert.Throws<ArgumentException>(() => model.ReconstructionError(copy));
        Assert.Throws<ArgumentException>(() => model.PurifyStraightThrough(copy));
        using var infinite = images * float.PositiveInfinity;
        Assert.Throws<ArgumentException>(() => model.DefenseGanSearch(infinite, 1, 1));
        using var doubles = images.to(ScalarType.Float64);
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => model.Purify(doubles)).Message, "float32");
    }

    /// <summary>A fixed random linear classifier: its input gradient is W's row, pulled back through whatever precedes it.</summary>
    private sealed class LinearProbe(Device device, ImageShape? shape = null, ScalarType dtype = ScalarType.Float32) : IDifferentiableClassifier, IDisposable
    {
        private readonly Tensor weights = torch.tensor(RandomWeights(), [10, 784], device: device).to(dtype);

        private static float[] RandomWeights()
        {
            var random = new Random(11);
            return Array.ConvertAll(new float[10 * 784], _ => (float)(random.NextDouble() - 0.5));
        }

        public Device Device => device;
        public ImageShape InputShape => shape ?? Mnist;
        public int ClassCount => 10;
        public IReadOnlyList<int>? FeatureMapShape => null;
        public Tensor Logits(Tensor images)
        {
            using var flat = images.flatten(1);
            using var transposed = weights.t();
            return flat.matmul(transposed);
        }
        public Tensor FeatureMap(Tensor images) => throw new NotSupportedException();
        public void Dispose() => weights.Dispose();
    }

    private static Tensor InputGradient(Func<Tensor, Tensor> logits, Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        var input = images.detach().requires_grad_();
        var selected = logits(input).narrow(1, 3, 1).sum();
        return torch.autograd.grad([selected], [input])[0].MoveToOuterDisposeScope();
    }

    [TestMethod]
    public void BpdaWrapperPurifiesForwardAndTreatsTheSearchAsTheIdentityBackward()
    {
        var model = Trained.Value;
        using var probe = new LinearProbe(model.Device);
        var bpda = new AeGanBpdaClassifier(model, probe);
        Assert.AreEqual(10, bpda.ClassCount);
        Assert.IsNull(bpda.FeatureMapShape);

        // Clean digits (mostly not flagged: G(F(x))) and uniform noise (flagged: searched).
        var random = new Random(9);
        var pixels = Pixels(FirstRows(MnistTest.Value, 6));
        var noise = Array.ConvertAll(new float[4 * Mnist.Size], _ => random.NextSingle());
        using var images = torch.tensor([.. pixels, .. noise], [10, 1, 28, 28], device: model.Device);
        var (purified, _, flags) = model.PurifyWithScores(images);
        using (purified)
        {
            Assert.IsTrue(flags.Skip(6).All(f => f), "the noise images are searched");
            Assert.IsTrue(flags.Take(6).Any(f => !f), "some digits are not");

            // Forward: exactly the purifier's output, classified.
            using var logits = bpda.Logits(images);
            using var expected = probe.Logits(purified);
            using (var difference = (logits - expected).abs().max()) Assert.IsTrue(difference.item<float>() < 1e-3f, $"forward differs by {difference.item<float>()}");
        }

        // Backward: the gradient of W·G(F(x) + sg(z_L − F(x))), with z_L = F(x) for the rows not searched.
        using var actual = InputGradient(bpda.Logits, images);
        using var reference = InputGradient(x =>
        {
            var start = model.Encoder.forward(x);
            using var detached = start.detach();
            var searched = Enumerable.Range(0, 10).Where(r => flags[r]).ToArray();
            using var rows = torch.tensor(Array.ConvertAll(searched, r => (long)r), [searched.Length], device: model.Device);
            using var subset = detached.index_select(0, rows);
            using var target = images.index_select(0, rows);
            using var found = AeGanPurification.SearchLatent(model.Generator, subset, target, model.Options.SearchSteps, model.Options.SearchStepSize,
                                                             model.Options.SearchHalvingInterval);
            using var codes = detached.clone();
            for (int k = 0; k < searched.Length; k++)
            {
                using var destination = codes[searched[k]];
                using var source = found[k];
                using (torch.no_grad()) destination.copy_(source);
            }
            using var offset = codes - detached;
            var z = start + offset;
            return probe.Logits(model.Generator.forward(z));
        }, images);
        using var plain = InputGradient(x => probe.Logits(model.Generator.forward(model.Encoder.forward(x))), images);
        using (var error = (actual - reference).abs().max())
        using (var scale = reference.abs().max())
            Assert.IsTrue(error.item<float>() < 1e-3f * scale.item<float>(), $"BPDA gradient off by {error.item<float>()} (scale {scale.item<float>()})");
        for (int row = 0; row < 10; row++)
        {
            using var a = actual[row];
            using var p = plain[row];
            using var gap = (a - p).abs().max();
            if (!flags[row]) Assert.IsTrue(gap.item<float>() < 1e-5f, $"row {row}: unflagged, the gradient is that of G(F(x))");
        }
        Assert.IsTrue(actual.isfinite().all().item<bool>());
        using (var norm = actual.abs().sum()) Assert.IsTrue(norm.item<float>() > 0, "the gradient reaches the input");
    }

    /// <summary>Σ w ⊙ G(z_L) for the unrolled search from <paramref name="start"/> toward <paramref name="images"/> (a scalar loss to differentiate).</summary>
    private static Tensor SearchedLoss(Module<Tensor, Tensor> generator, Tensor start, Tensor images, Tensor weights, int steps, double stepSize)
    {
        using var scope = torch.NewDisposeScope();
        var z = AeGanPurification.SearchLatent(generator, start, images, steps, stepSize, halvingInterval: 2, unrolled: true);
        return (generator.forward(z) * weights).sum().MoveToOuterDisposeScope();
    }

    [TestMethod]
    public void UnrolledSearchesHaveTheGradientOfFiniteDifferences()
    {
        // The trained G copied to float64, so central differences are exact to about 1e-9; three digits and a noise image as targets.
        using var scope = torch.NewDisposeScope();
        var model = Trained.Value;
        using var generator = new AeGanGenerator(Mnist, latentDimension: 16, baseChannels: 8);
        generator.load_state_dict(model.Generator.state_dict());
        generator.to(ScalarType.Float64);
        generator.eval();
        var random = new Random(13);
        var noise = Array.ConvertAll(new float[Mnist.Size], _ => random.NextSingle());
        var images32 = torch.tensor([.. Pixels(FirstRows(MnistTest.Value, 3)), .. noise], [4, 1, 28, 28], device: model.Device);
        Tensor start;
        using (torch.no_grad()) start = model.Encoder.forward(images32).to(ScalarType.Float64);
        var images = images32.to(ScalarType.Float64);
        torch.manual_seed(3);
        var weights = torch.randn([4, 1, 28, 28], ScalarType.Float64);
        var direction = torch.randn([4, 1, 28, 28], ScalarType.Float64);
        var startDirection = torch.randn([4, 16], ScalarType.Float64);
        const int steps = 6;
        const double eta = 0.5, h = 1e-6;

        // The unrolled search ends at the plain search's codes; with η = 0.5 some of its 6 steps are rejected, so the safeguard is in play.
        var trace = new List<double>();
        var plain = AeGanPurification.SearchLatent(generator, start, images, steps, eta, 2, trace);
        Console.WriteLine("mean ‖G(z_t) − x‖²: " + string.Join(", ", trace.Select(v => v.ToString("F4"))));
        int rejected = 0;
        for (int i = 0; i < 4; i++)
        {
            var alone = new List<double>();
            AeGanPurification.SearchLatent(generator, start.narrow(0, i, 1), images.narrow(0, i, 1), steps, eta, 2, alone);
            rejected += Enumerable.Range(1, steps).Count(t => alone[t] == alone[t - 1]);
        }
        Assert.IsTrue(rejected > 0, "a step is rejected somewhere (an image's distance stays put)");
        var x = images.detach().requires_grad_();
        var z0 = start.detach().requires_grad_();
        var unrolledCodes = AeGanPurification.SearchLatent(generator, z0, x, steps, eta, 2, unrolled: true);
        Assert.IsTrue(unrolledCodes.requires_grad, "the unrolled search keeps its history");
        Assert.IsFalse(plain.requires_grad);
        Assert.IsTrue((unrolledCodes - plain).abs().max().item<double>() < 1e-12, "the same values either way");
        Assert.IsTrue(trace[^1] < trace[0]);

        var loss = SearchedLoss(generator, z0, x, weights, steps, eta);
        var gradients = torch.autograd.grad([loss], [x, z0]);
        double analytic = (gradients[0] * direction).sum().item<double>() + (gradients[1] * startDirection).sum().item<double>();
        using (torch.no_grad())
        {
            double up = SearchedLoss(generator, start + startDirection * h, images + direction * h, weights, steps, eta).item<double>();
            double down = SearchedLoss(generator, start - startDirection * h, images - direction * h, weights, steps, eta).item<double>();
            double numeric = (up - down) / (2 * h);
            Console.WriteLine($"unrolled AE-GAN search: directional derivative {analytic:G8} (autograd) vs {numeric:G8} (central differences)");
            Assert.AreEqual(numeric, analytic, 1e-6 * Math.Max(1, Math.Abs(numeric)));
        }
        // The start does not depend on the images here, so their gradient comes from the unrolled steps alone (none without the unrolling).
        double throughSearchOnly = (gradients[0] * direction).sum().item<double>();
        Assert.IsTrue(Math.Abs(throughSearchOnly) > 1e-6, $"the images' own gradient comes through the unrolled steps: {throughSearchOnly}");

        // The Defense-GAN-style projection: 2 random starts × 5 momentum steps, unrolled.
        Tensor Projected(Tensor target) => (AeGanPurification.DefenseGanProjection(generator, target, 16, restarts: 2, iterations: 5, stepSize: 0.02, seed: 4,
                                                                                    unrolled: true) * weights).sum();
        var y = images.detach().requires_grad_();
        var projectionGradient = torch.autograd.grad([Projected(y)], [y])[0];
        double projectionAnalytic = (projectionGradient * direction).sum().item<double>();
        using (torch.no_grad())
        {
            double numeric = (Projected(images + direction * h).item<double>() - Projected(images - direction * h).item<double>()) / (2 * h);
            Console.WriteLine($"unrolled Defense-GAN-style search: {projectionAnalytic:G8} (autograd) vs {numeric:G8} (central differences)");
            Assert.AreEqual(numeric, projectionAnalytic, 1e-6 * Math.Max(1, Math.Abs(numeric)));
            Assert.IsTrue(Math.Abs(numeric) > 1e-6);
        }
    }

    [TestMethod]
    public void WhiteBoxWrapperPurifiesForwardAndDifferentiatesThroughTheUnrolledSearch()
    {
        var model = Trained.Value;
        using var probe = new LinearProbe(model.Device);
        var whiteBox = AeGanWhiteBoxClassifier.ThroughSearch(model, probe);
        var reconstruction = AeGanWhiteBoxClassifier.ThroughReconstruction(model, probe);
        Assert.AreEqual(AeGanWhiteBoxPath.Search, whiteBox.Path);
        Assert.AreEqual(10, whiteBox.ClassCount);
        Assert.IsNull(whiteBox.FeatureMapShape);

        // Clean digits (mostly not flagged: G(F(x))) and uniform noise (flagged: searched).
        var random = new Random(9);
        var pixels = Pixels(FirstRows(MnistTest.Value, 6));
        var noise = Array.ConvertAll(new float[4 * Mnist.Size], _ => random.NextSingle());
        using var images = torch.tensor([.. pixels, .. noise], [10, 1, 28, 28], device: model.Device);
        var (purified, _, flags) = model.PurifyWithScores(images);
        using (purified)
        {
            Assert.IsTrue(flags.Skip(6).All(f => f) && flags.Take(6).Any(f => !f), "both branches of Alg. 2 are in the batch");
            using var logits = whiteBox.Logits(images);
            using var expected = probe.Logits(purified);
            using (var difference = (logits - expected).abs().max()) Assert.IsTrue(difference.item<float>() < 1e-3f, $"forward differs by {difference.item<float>()}");
        }

        using (var warm = InputGradient(whiteBox.Logits, images)) { }
        long before = LiveTensors.Count();
        using (var again = InputGradient(whiteBox.Logits, images)) { }
        Assert.AreEqual(before, LiveTensors.Count(), "the unrolled graph is freed with its tensors");
        using var actual = InputGradient(whiteBox.Logits, images);
        using var plain = InputGradient(reconstruction.Logits, images);
        using var bpda = InputGradient(new AeGanBpdaClassifier(model, probe).Logits, images);
        Assert.IsTrue(actual.isfinite().all().item<bool>());
        for (int row = 0; row < 10; row++)
        {
            using var a = actual[row];
            using var p = plain[row];
            using var b = bpda[row];
            using var gap = (a - p).abs().max();
            using var bpdaGap = (a - b).abs().max();
            using var scale = b.abs().max();
            if (!flags[row]) Assert.IsTrue(gap.item<float>() < 1e-5f, $"row {row}: unflagged, the gradient is that of G(F(x))");
            else Assert.IsTrue(bpdaGap.item<float>() > 1e-2f * scale.item<float>(), $"row {row}: searched, the unrolled gradient differs from BPDA's ({bpdaGap.item<float>()} of {scale.item<float>()})");
        }
    }

    [TestMethod]
    public void WhiteBoxWrapperGradientMatchesFiniteDifferencesOnATinyPurifier()
    {
        // A purifier trained one epoch, its networks converted to float64 so that central differences are exact to about
        // 1e-9 (in float32 the steps' ReLU Jacobians jump within any usable h); clean digits and noise, every image searched.
        using var tiny = new MLContext(seed: 4).Transforms.Defenses.AeGanPurifier(Tiny(AeGanSearchPolicy.Always, epochs: 1) with { SearchSteps = 6 })
            .Fit(FirstRows(MnistTrain.Value, 200));
        tiny.Encoder.to(ScalarType.Float64);
        tiny.Generator.to(ScalarType.Float64);
        using var probe = new LinearProbe(tiny.Device, dtype: ScalarType.Float64);
        var whiteBox = AeGanWhiteBoxClassifier.ThroughSearch(tiny, probe);
        using var scope = torch.NewDisposeScope();
        var random = new Random(21);
        var noise = Array.ConvertAll(new float[2 * Mnist.Size], _ => random.NextSingle());
        var images = torch.tensor([.. Pixels(FirstRows(MnistTest.Value, 2)), .. noise], [4, 1, 28, 28], device: tiny.Device).to(ScalarType.Float64);

        var gradient = InputGradient(whiteBox.Logits, images);
        var bpda = InputGradient(new AeGanBpdaClassifier(tiny, probe).Logits, images);
        torch.manual_seed(5);
        var direction = torch.randn([4, 1, 28, 28], ScalarType.Float64).to(tiny.Device);
        const double h = 1e-6;
        Tensor Logit(Tensor x) { using var _ = torch.no_grad(); return whiteBox.Logits(x).narrow(1, 3, 1).view(4); }
        var numeric = ((Logit(images + direction * h) - Logit(images - direction * h)) / (2 * h)).data<double>().ToArray();
        var analytic = (gradient * direction).flatten(1).sum(1).data<double>().ToArray();
        var straight = (bpda * direction).flatten(1).sum(1).data<double>().ToArray();
        for (int row = 0; row < 4; row++)
        {
            Console.WriteLine($"row {row}: directional derivative {analytic[row]:G8} (unrolled), {numeric[row]:G8} (central differences), {straight[row]:G8} (BPDA)");
            Assert.AreEqual(numeric[row], analytic[row], 1e-6 * Math.Max(1, Math.Abs(numeric[row])), $"row {row}");
            Assert.IsTrue(Math.Abs(straight[row] - numeric[row]) > 1e-3 * Math.Abs(numeric[row]), $"row {row}: BPDA's gradient is not the true one");
        }
    }

    [TestMethod]
    public void WhiteBoxAttacksThroughAnIdentityPurifierAreThePlainAttacks()
    {
        var model = Trained.Value;
        using var probe = new LinearProbe(model.Device);
        using var images = TestImages(8, model.Device);
        using var labels = torch.tensor(new long[] { 7, 2, 1, 0, 4, 1, 4, 9 }, device: model.Device);
        var identity = new PurifiedClassifier(probe, x => x.alias());
        IAdversarialAttack[] attacks =
        [
            new FastGradientAttack(new FastGradientOptions { Epsilon = 0.3 }),
            new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = 0.3, StepSize = 0.01, Iterations = 5 }),
            new CarliniWagnerL2Attack(new CarliniWagnerL2Options { BinarySearchSteps = 2, MaxIterations = 10, InitialConstant = 1 }),
        ];
        foreach (var attack in attacks)
        {
            torch.manual_seed(12);
            using var expected = attack.Generate(probe, images, labels);
            torch.manual_seed(12);
            using var actual = attack.Generate(identity, images, labels);
            CollectionAssert.AreEqual(expected.data<float>().ToArray(), actual.data<float>().ToArray(), $"{attack.Name} through the identity is {attack.Name}");
        }

        // AE-GAN+sr with its search switched off is G(F(x)): the white-box attack through it is the one through the reconstruction.
        using var never = new MLContext(seed: 5).Transforms.Defenses.AeGanPurifier(Tiny(AeGanSearchPolicy.Never, epochs: 1)).Fit(FirstRows(MnistTrain.Value, 200));
        var fgsm = new FastGradientAttack(new FastGradientOptions { Epsilon = 0.3 });
        using var throughSearch = fgsm.Generate(AeGanWhiteBoxClassifier.ThroughSearch(never, probe), images, labels);
        using var throughReconstruction = fgsm.Generate(AeGanWhiteBoxClassifier.ThroughReconstruction(never, probe), images, labels);
        using var onProbe = fgsm.Generate(probe, images, labels);
        CollectionAssert.AreEqual(throughReconstruction.data<float>().ToArray(), throughSearch.data<float>().ToArray());
        CollectionAssert.AreNotEqual(onProbe.data<float>().ToArray(), throughSearch.data<float>().ToArray(), "going through G∘F changes the attack");

        var wrong = new LinearProbe(model.Device, new ImageShape(1, 32, 32));
        Assert.Throws<ArgumentException>(() => AeGanWhiteBoxClassifier.ThroughSearch(model, wrong));
        Assert.Throws<ArgumentOutOfRangeException>(() => AeGanWhiteBoxClassifier.ThroughDefenseGanSearch(model, probe, restarts: 0));
        wrong.Dispose();
    }

    /// <summary>Reports on the training thread (<see cref="Progress{T}"/> would post to the thread pool, after Fit returns).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

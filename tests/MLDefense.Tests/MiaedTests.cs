using MLDefense.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Tests.MLNet;
using MLDefense.Defenses;
using MLDefense.Evaluation;

namespace MLDefense.Tests;

/// <summary>
/// The MIAED estimator and transformer (Gao et al., Sec. 3) on small synthetic data: 1×8×8 "images" of three classes
/// (a bright 4×4 patch whose place is the class, on a noisy background) with hand-made target-model probabilities, and
/// tiny networks, so that every test trains in about a second on a CPU.
/// </summary>
[TestClass]
public sealed class MiaedTests
{
    private const int Classes = 3;
    private static readonly ImageShape Shape = new(1, 8, 8);

    /// <summary>The paper's structure at a toy size (the defaults are paper-scale).</summary>
    private static MiaedOptions Tiny(int epochs = 3) => new()
    {
        
        BaseChannels = 4, LatentDimension = 8, DiscriminatorHiddenUnits = 16,
        SimpleNetworkHiddenUnits = [32, 16], SimpleNetworkEpochs = 20, SimpleNetworkLearningRate = 1e-2,
        Epochs = epochs, BatchSize = 32, LearningRate = 1e-3, Seed = 1, TargetFalsePositiveRate = 0.05,
    };

    private static (float[] Pixels, int[] Labels) Synthetic(int rows, int seed)
    {
        var random = new Random(seed);
        var pixels = new float[rows * Shape.Size];
        var labels = new int[rows];
        for (int n = 0; n < rows; n++)
        {
            int label = labels[n] = n % Classes;
            int top = label == 2 ? 4 : 0, left = label == 1 ? 4 : 0;
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++)
                {
                    bool patch = y >= top && y < top + 4 && x >= left && x < left + 4 && (label != 2 || x >= 2 && x < 6);
                    pixels[n * Shape.Size + y * 8 + x] = (patch ? 0.8f : 0f) + 0.2f * random.NextSingle();
                }
        }
        return (pixels, labels);
    }

    /// <summary>Target-model probabilities: 0.9 on <c>predicted[i]</c>, the rest shared.</summary>
    private static float[] Probabilities(int[] predicted, int classes = Classes)
    {
        var p = new float[predicted.Length * classes];
        for (int i = 0; i < predicted.Length; i++)
            for (int k = 0; k < classes; k++) p[i * classes + k] = k == predicted[i] ? 0.9f : 0.1f / (classes - 1);
        return p;
    }

    private static IDataView View(float[] pixels, int[]? labels, float[]? probabilities, ImageShape? shape = null, int classes = Classes,
        string imageName = "Image", string labelName = "Label", string scoreName = "Score") =>
        TestViews.Build(shape ?? Shape, pixels, labels, Classes, probabilities, classes, imageName: imageName, labelName: labelName, scoreName: scoreName);

    private static IDataView FloatLabelView(float[] pixels, float[] probabilities) =>
        TestViews.Build(Shape, pixels, scores: probabilities, scoreLength: Classes, floatLabels: new float[pixels.Length / Shape.Size]);

    private static IDataView Training(int rows = 240, int seed = 1)
    {
        var (pixels, labels) = Synthetic(rows, seed);
        return View(pixels, labels, Probabilities(labels));
    }

    [TestMethod]
    public void ATinyTrainingRunLowersTheTotalLossAndReportsEveryTermWithAnEta()
    {
        var reports = new List<MiaedTrainingProgress>();
        var options = Tiny(epochs: 8) with { Progress = new SynchronousProgress<MiaedTrainingProgress>(reports.Add) };
        using var model = new MLContext(seed: 1).Transforms.Defenses.Miaed(options).Fit(Training());

        var epochs = reports.Where(r => r.Stage == MiaedTrainingStage.Autoencoder && r.EpochCompleted).ToList();
        Assert.AreEqual(8, epochs.Count);
        foreach (var r in epochs) Console.WriteLine(r);
        Assert.IsTrue(epochs[^1].TotalLoss < epochs[0].TotalLoss, $"Eq. 15 fell: {epochs[0].TotalLoss} → {epochs[^1].TotalLoss}");
        Assert.IsTrue(epochs[^1].Reconstruction < epochs[0].Reconstruction, "the reconstruction stream (Eq. 13) improved");
        Assert.IsTrue(epochs[^1].GlobalMi > epochs[0].GlobalMi, $"global MI (Eq. 9) rose: {epochs[0].GlobalMi} → {epochs[^1].GlobalMi}");
        Assert.IsTrue(epochs.All(r => r.GlobalMi is not null && r.LocalMi is not null && r.PriorLoss is not null && r.CriticLoss is not null && r.NoiseReconstruction is not null));
        Assert.AreEqual(TimeSpan.Zero, epochs[^1].EstimatedRemaining);
        Assert.IsTrue(epochs[0].EstimatedRemaining > TimeSpan.Zero);
        var simple = reports.Where(r => r.Stage == MiaedTrainingStage.SimpleNetwork).ToList();
        Assert.AreEqual(20, simple.Count, "one report per simple-network epoch");
        Assert.IsTrue(simple.All(r => r.Accuracy is not null && r.GlobalMi is null));
    }

    [TestMethod]
    public void AblationSwitchesDecideWhichLossTermsAreComputed()
    {
        var (pixels, _) = Synthetic(16, 2);
        using var images = torch.tensor(pixels, [16, 1, 8, 8]);
        foreach (var (global, local, prior) in new[] { (true, true, true), (false, false, false), (true, false, false), (false, true, false), (false, false, true) })
        {
            torch.manual_seed(4);
            using var autoencoder = new MiaedAutoencoder(Tiny() with { UseGlobalMi = global, UseLocalMi = local, UsePriorMatching = prior }, Shape, CPU);
            var terms = autoencoder.TrainStep(images);
            string what = $"global {global}, local {local}, prior {prior}: {terms}";
            Assert.AreEqual(global, terms.GlobalMi is not null, what);
            Assert.AreEqual(local, terms.LocalMi is not null, what);
            Assert.AreEqual(prior, terms.PriorLoss is not null && terms.CriticLoss is not null, what);
            Assert.AreEqual((global, local, prior), (autoencoder.HasGlobalMiDiscriminator, autoencoder.HasLocalMiDiscriminator, autoencoder.HasPriorCritic), what);
            var o = Tiny();
            double expected = o.ReconstructionWeight * terms.Reconstruction + o.NoiseReconstructionWeight * terms.NoiseReconstruction
                - o.GlobalMiWeight * (terms.GlobalMi ?? 0) - o.LocalMiWeight * (terms.LocalMi ?? 0) + o.PriorWeight * (terms.PriorLoss ?? 0);
            Assert.AreEqual(expected, terms.Total, 1e-5, $"Eq. 15 holds the switched-on terms only; {what}");
        }
    }

    [TestMethod]
    public void TheSimpleNetworkBeatsChanceOnHeldOutLatents()
    {
        using var model = new MLContext(seed: 2).Transforms.Defenses.Miaed(Tiny()).Fit(Training());
        var (pixels, labels) = Synthetic(90, 99);
        using var images = torch.tensor(pixels, [90, 1, 8, 8]);
        using var latents = model.Latents(images);
        CollectionAssert.AreEqual(new long[] { 90, 8 }, latents.shape);
        using var probabilities = model.SimpleNetworkProbabilities(images);
        var predicted = probabilities.argmax(1).data<long>().ToArray();
        double accuracy = predicted.Zip(labels).Count(p => p.First == p.Second) / 90.0;
        Console.WriteLine($"simple network: training accuracy {model.Info.SimpleNetworkTrainingAccuracy:P1}, held-out {accuracy:P1} (chance 33%)");
        Assert.IsTrue(accuracy > 0.8, $"held-out accuracy {accuracy}");
        Assert.IsTrue(model.Info.SimpleNetworkTrainingAccuracy > 0.8);
    }

    [TestMethod]
    public void SelectionDataStopsTheSimpleNetworkAndKeepsItsBestEpochThroughSaveAndLoad()
    {
        // Selection images whose labels are shifted by one class: the better the simple network learns the digits' real
        // classes, the worse its selection loss, so the best epoch comes early and training stops 20 epochs after it.
        var (pixels, labels) = Synthetic(60, 7);
        var shifted = Array.ConvertAll(labels, l => (l + 1) % Classes);
        var reports = new List<MiaedTrainingProgress>();
        var ml = new MLContext(seed: 3);
        var options = Tiny() with
        {
            SimpleNetworkEpochs = 60, SimpleNetworkSelectionData = View(pixels, shifted, null),
            Progress = new SynchronousProgress<MiaedTrainingProgress>(reports.Add),
        };
        var train = Training();
        using var model = ml.Transforms.Defenses.Miaed(options).Fit(train);
        var info = model.Info;
        Console.WriteLine(info);
        var simple = reports.Where(r => r.Stage == MiaedTrainingStage.SimpleNetwork).ToList();
        Assert.IsTrue(simple.All(r => r.SelectionLoss is not null), "every simple-network epoch reports its selection loss");
        Assert.IsNotNull(info.SimpleNetworkSelectedEpoch);
        int selected = info.SimpleNetworkSelectedEpoch.Value;
        Assert.AreEqual(Math.Min(60, selected + MiaedOptions.SelectionStoppingPatience), info.SimpleNetworkTrainedEpochs, "stops 20 epochs after the best");
        Assert.IsTrue(info.SimpleNetworkTrainedEpochs < 60, $"the shifted labels make the loss rise, so training stops early: {info}");
        Assert.AreEqual(simple.Count, info.SimpleNetworkTrainedEpochs);
        Assert.AreEqual(simple.Min(r => r.SelectionLoss!.Value), info.SimpleNetworkSelectionLoss!.Value, 1e-6, "the kept epoch is the best one");
        Assert.AreEqual(60, info.SelectionImageCount);

        // The kept weights are the best epoch's: the transformer's simple network gives that epoch's selection loss.
        using var images = torch.tensor(pixels, [60, 1, 8, 8]);
        using var probabilities = model.SimpleNetworkProbabilities(images);
        using var targets = torch.tensor(Array.ConvertAll(shifted, l => (long)l));
        using var loss = torch.nn.functional.nll_loss(probabilities.log(), targets);
        Assert.AreEqual(info.SimpleNetworkSelectionLoss.Value, loss.item<float>(), 1e-4);

        // The record of the selection is saved with the model; the selection data is not.
        string path = Path.Combine(Path.GetTempPath(), $"miaed-selection-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, train.Schema, path);
            using var loaded = (MiaedTransformer)ml.Model.Load(path, out _);
            Assert.AreEqual(info, loaded.Info);
            Assert.IsNull(loaded.Options.SimpleNetworkSelectionData);
        }
        finally
        {
            File.Delete(path);
        }

        // Without selection data nothing is selected; bad selection data is refused naming the option.
        using var plain = ml.Transforms.Defenses.Miaed(Tiny()).Fit(train);
        Assert.IsNull(plain.Info.SimpleNetworkSelectedEpoch);
        var wrongShape = Tiny() with { SimpleNetworkSelectionData = View(new float[16 * 16 * 4], [0, 1, 2, 0], null, new ImageShape(1, 16, 16)) };
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => ml.Transforms.Defenses.Miaed(wrongShape).Fit(train)).Message, "SimpleNetworkSelectionData");
        var badLabel = Tiny() with { SimpleNetworkSelectionData = TestViews.Build(Shape, pixels, [.. labels[..59], 3], classes: 4) };
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => ml.Transforms.Defenses.Miaed(badLabel).Fit(train)).Message, "found 3");
    }

    [TestMethod]
    public void DisagreeingProbabilitiesScoreHigherThanAgreeingOnesAndTheThresholdHoldsOnCleanData()
    {
        var ml = new MLContext(seed: 3);
        using var model = ml.Transforms.Defenses.Miaed(Tiny()).Fit(Training());
        var (pixels, labels) = Synthetic(120, 7);
        var wrong = labels.Select(l => (l + 1) % Classes).ToArray();
        var agreeing = TestViews.Read(model.Transform(View(pixels, null, Probabilities(labels))));
        var disagreeing = TestViews.Read(model.Transform(View(pixels, null, Probabilities(wrong))));
        var clean = agreeing.Floats("MiaedScore");
        var adversarial = disagreeing.Floats("MiaedScore");
        double auc = RocCurve.AucOf(clean, adversarial);
        double cleanFlagged = (agreeing.Bools("MiaedFlag")).Count(f => f) / 120.0;
        double detected = (disagreeing.Bools("MiaedFlag")).Count(f => f) / 120.0;
        Console.WriteLine($"AUC {auc:F3}; flagged: clean {cleanFlagged:P1}, disagreeing {detected:P1}; {model.Info}");
        Assert.IsTrue(auc > 0.95, $"AUC {auc}");
        Assert.IsTrue(detected > 0.8, $"detection rate {detected}");
        Assert.IsTrue(cleanFlagged <= 0.15, $"held-out clean false-positive rate {cleanFlagged} (target 5%)");
        Assert.IsTrue(model.Info.CalibrationFalsePositiveRate <= 0.05);
        Assert.IsTrue(clean.Concat(adversarial).All(s => s >= 0 && s <= Math.Log(2) + 1e-6), "JS scores lie in [0, ln 2]");
    }

    [TestMethod]
    public void TheArgmaxRuleFlagsExactlyTheRowsWhoseMostProbableClassesDiffer()
    {
        using var model = new MLContext(seed: 4).Transforms.Defenses.Miaed(Tiny() with { DetectionRule = MiaedDetectionRule.ArgmaxMismatch }).Fit(Training());
        var (pixels, labels) = Synthetic(60, 8);
        var predicted = labels.Select((l, i) => i % 2 == 0 ? l : (l + 2) % Classes).ToArray();
        var output = TestViews.Read(model.Transform(View(pixels, null, Probabilities(predicted))));
        var flags = output.Bools("MiaedFlag");
        using var images = torch.tensor(pixels, [60, 1, 8, 8]);
        using var q = model.SimpleNetworkProbabilities(images);
        var simple = q.argmax(1).data<long>().ToArray();
        for (int i = 0; i < 60; i++) Assert.AreEqual(simple[i] != predicted[i], flags[i], $"row {i}");
        Assert.IsTrue(flags.Count(f => f) >= 25, "most rows with a wrong target-model class are flagged");
    }

    [TestMethod]
    public void BadInputIsRejectedNamingTheColumnAndTheFittedModelChecksItsInputs()
    {
        var ml = new MLContext(seed: 5);
        var train = Training(120);
        var (pixels, labels) = Synthetic(30, 9);
        var test = View(pixels, null, Probabilities(labels));
        var bright = (float[])pixels.Clone();
        bright[64 * 4 + 3] = 1.5f;
        var badLabels = (int[])labels.Clone();
        badLabels[6] = 3;
        var estimator = ml.Transforms.Defenses.Miaed(Tiny() with { ClassCount = Classes });

        // (what, data, expected part of the message, whether a schema shape shows it: vector sizes only show at Fit)
        (string What, IDataView Data, string Part, bool AtSchema)[] bad =
        [
            ("no probabilities column", View(pixels, labels, null), "'Score'", true),
            ("probabilities of the wrong length", View(pixels, labels, Probabilities(labels, 4), classes: 4), "a Single vector of 3 class probabilities", false),
            ("no label column", View(pixels, null, Probabilities(labels)), "'Label'", false),
            ("a float label", FloatLabelView(pixels, Probabilities(labels)), "Int32", true),
            ("no image column", View(pixels, labels, Probabilities(labels), imageName: "Pixels"), "'Image'", true),
            ("images MIAED's encoder cannot halve twice", View(new float[36 * 30], labels, Probabilities(labels), new ImageShape(1, 6, 6)), "divisible by 4", false),
            ("a label outside [0, K)", TestViews.Build(Shape, pixels, badLabels, classes: 4, Probabilities(labels), Classes), "found 3 in row 6", false),
            ("a pixel above 1", View(bright, labels, Probabilities(labels)), "1.5 in row 4", false),
            ("too few rows", View(pixels.AsSpan(0, 64 * 10).ToArray(), labels[..10], Probabilities(labels[..10])), "at least 20", false),
        ];
        foreach (var (what, data, part, atSchema) in bad)
        {
            if (atSchema)
                StringAssert.Contains(Assert.Throws<ArgumentException>(() => estimator.GetOutputSchema(MLDefense.MLNet.SchemaShapes.From(data.Schema)), what).Message, part, what);
            StringAssert.Contains(Assert.Throws<ArgumentException>(() => estimator.Fit(data), what).Message, part, what);
        }

        using var model = estimator.Fit(train);
        var output = TestViews.Read(model.Transform(test));
        var scores = output.Floats("MiaedScore");
        var flags = output.Bools("MiaedFlag");
        for (int i = 0; i < scores.Length; i++) Assert.AreEqual(scores[i] > model.Threshold, flags[i]);

        // The fitted transformer checks the probabilities' length against its class count, and the image shape.
        var ex = Assert.Throws<ArgumentException>(() => model.GetOutputSchema(View(pixels, null, Probabilities(labels, 4), classes: 4).Schema));
        StringAssert.Contains(ex.Message, "found 4");
        ex = Assert.Throws<ArgumentException>(() => model.GetOutputSchema(View(new float[16 * 16 * 30], null, Probabilities(labels), new ImageShape(1, 16, 16)).Schema));
        StringAssert.Contains(ex.Message, "trained on");
    }

    [TestMethod]
    public void TheLabelIsOptionalAtTransformAndTheClassCountComesFromTheProbabilities()
    {
        using var model = new MLContext(seed: 6).Transforms.Defenses.Miaed(Tiny(epochs: 1)).Fit(Training(60));
        Assert.AreEqual(Classes, model.ClassCount);
        var (pixels, labels) = Synthetic(5, 3);
        var schema = model.GetOutputSchema(View(pixels, null, Probabilities(labels)).Schema);
        Assert.IsNotNull(schema.GetColumnOrNull("MiaedScore"));
    }

    [TestMethod]
    public void CancellationStopsFitAndLeavesNoTensorBehind()
    {
        var train = Training(120);
        var ml = new MLContext(seed: 7);
        // Warm up lazily created native state (thread pools, allocator caches) before counting.
        ml.Transforms.Defenses.Miaed(Tiny(epochs: 1)).Fit(train).Dispose();
        var before = LiveTensors.Count();

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => ml.Transforms.Defenses.Miaed(Tiny() with { CancellationToken = cancelled.Token }).Fit(train));

        using var midway = new CancellationTokenSource();
        int reports = 0;
        var progress = new SynchronousProgress<MiaedTrainingProgress>(_ => { if (++reports == 2) midway.Cancel(); });
        Assert.Throws<OperationCanceledException>(() => ml.Transforms.Defenses.Miaed(Tiny(epochs: 5) with { CancellationToken = midway.Token, Progress = progress }).Fit(train));
        Assert.AreEqual(2, reports, "Fit stopped at the next step after the cancellation");
        Assert.AreEqual(before, LiveTensors.Count(), "a cancelled Fit frees its networks, optimisers and data");
    }

    [TestMethod]
    public void CheckpointedFitResumesAfterACancellationWithTheSameDetector()
    {
        var train = Training(120);
        string path = Path.Combine(Path.GetTempPath(), $"miaed-{Guid.NewGuid():N}", "detector.checkpoint");
        var options = Tiny(epochs: 3);
        using var uninterrupted = new MLContext(seed: 1).Transforms.Defenses.Miaed(options).Fit(train);

        using var midway = new CancellationTokenSource();
        var stopAfterEpoch2 = new SynchronousProgress<MiaedTrainingProgress>(p =>
        {
            if (p.Stage == MiaedTrainingStage.Autoencoder && p.EpochCompleted && p.Epoch == 2) midway.Cancel();
        });
        Assert.Throws<OperationCanceledException>(() => new MLContext(seed: 1).Transforms.Defenses.Miaed(
            options with { CheckpointPath = path, Progress = stopAfterEpoch2, CancellationToken = midway.Token }).Fit(train));
        Assert.IsTrue(File.Exists(path), "the checkpoint of epoch 2 outlives the cancelled Fit");

        var other = Assert.Throws<ArgumentException>(() => new MLContext(seed: 1).Transforms.Defenses.Miaed(
            options with { CheckpointPath = path, UseLocalMi = false }).Fit(train));
        StringAssert.Contains(other.Message, "local_mi: true there, false here");
        Assert.IsTrue(File.Exists(path), "a refused checkpoint is left alone");

        var epochs = new List<int>();
        var recordEpochs = new SynchronousProgress<MiaedTrainingProgress>(p =>
        {
            if (p.Stage == MiaedTrainingStage.Autoencoder && p.EpochCompleted) epochs.Add(p.Epoch);
        });
        using var resumed = new MLContext(seed: 1).Transforms.Defenses.Miaed(options with { CheckpointPath = path, Progress = recordEpochs }).Fit(train);

        CollectionAssert.AreEqual(new[] { 3 }, epochs, "only the third autoencoder epoch is trained");
        Assert.IsFalse(File.Exists(path), "a finished Fit deletes its checkpoint");
        Assert.IsNull(resumed.Options.CheckpointPath);
        Assert.AreEqual(uninterrupted.Info.Threshold, resumed.Info.Threshold);
        var (pixels, labels) = Synthetic(60, 7);
        var test = View(pixels, null, Probabilities(labels));
        var expected = TestViews.Read(uninterrupted.Transform(test)).Floats("MiaedScore");
        var actual = TestViews.Read(resumed.Transform(test)).Floats("MiaedScore");
        CollectionAssert.AreEqual(expected, actual, "resuming gives the uninterrupted detector bit for bit");
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    [TestMethod]
    public void ACheckpointOfTheFormerDeepInfoMaxStyleNetworksIsRefusedNamingTheNetworks()
    {
        var train = Training(120);
        string path = Path.Combine(Path.GetTempPath(), $"miaed-{Guid.NewGuid():N}", "detector.checkpoint");
        var options = Tiny(epochs: 1);
        using (new MLContext(seed: 1).Transforms.Defenses.Miaed(options with { CheckpointPath = path, KeepCheckpoint = true }).Fit(train)) { }
        // What a checkpoint written before MIAED followed Table 3 described: stride-2 convolutions and an FC hidden layer, no "networks".
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("checkpoint.json")!;
            System.Text.Json.Nodes.JsonObject header;
            using (var reader = new StreamReader(entry.Open())) header = System.Text.Json.Nodes.JsonNode.Parse(reader.ReadToEnd())!.AsObject();
            var run = header["run"]!.AsObject();
            Assert.IsTrue(run.Remove("networks"), "a Table 3 checkpoint names its networks");
            run["downsamplings"] = 2;
            run["encoder_hidden_units"] = 1024;
            entry.Delete();
            using var writer = new StreamWriter(zip.CreateEntry("checkpoint.json").Open());
            writer.Write(header.ToJsonString());
        }

        var refused = Assert.Throws<ArgumentException>(() => new MLContext(seed: 1).Transforms.Defenses.Miaed(
            options with { Epochs = 2, CheckpointPath = path }).Fit(train));
        StringAssert.Contains(refused.Message, "networks: missing there, \"Table 3:");
        Assert.IsTrue(File.Exists(path), "a refused checkpoint is left alone");
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    [TestMethod]
    public void KeptCheckpointExtendsTheTrainingToTheDetectorOfTheLongerFit()
    {
        var train = Training(120);
        string path = Path.Combine(Path.GetTempPath(), $"miaed-{Guid.NewGuid():N}", "detector.checkpoint");
        var options = Tiny(epochs: 3);
        using var uninterrupted = new MLContext(seed: 1).Transforms.Defenses.Miaed(options).Fit(train);

        using var first = new MLContext(seed: 1).Transforms.Defenses.Miaed(options with { Epochs = 2, CheckpointPath = path, KeepCheckpoint = true }).Fit(train);
        Assert.IsTrue(File.Exists(path), "a kept checkpoint outlives the finished Fit");
        Assert.AreEqual(2, first.Options.Epochs);
        Assert.IsFalse(first.Options.KeepCheckpoint, "the fitted detector carries no checkpoint setting");

        var fewer = Assert.Throws<ArgumentException>(() => new MLContext(seed: 1).Transforms.Defenses.Miaed(
            options with { Epochs = 1, CheckpointPath = path }).Fit(train));
        StringAssert.Contains(fewer.Message, "completed 2 epochs, more than this Fit's 1");

        var epochs = new List<int>();
        var recordEpochs = new SynchronousProgress<MiaedTrainingProgress>(p =>
        {
            if (p.Stage == MiaedTrainingStage.Autoencoder && p.EpochCompleted) epochs.Add(p.Epoch);
        });
        using var extended = new MLContext(seed: 1).Transforms.Defenses.Miaed(options with { CheckpointPath = path, Progress = recordEpochs }).Fit(train);
        CollectionAssert.AreEqual(new[] { 3 }, epochs, "the longer Fit trains the one epoch the kept checkpoint lacks");
        Assert.IsFalse(File.Exists(path), "without KeepCheckpoint the finished Fit deletes it");
        var (pixels, labels) = Synthetic(60, 7);
        var test = View(pixels, null, Probabilities(labels));
        var expected = TestViews.Read(uninterrupted.Transform(test)).Floats("MiaedScore");
        CollectionAssert.AreEqual(expected, TestViews.Read(extended.Transform(test)).Floats("MiaedScore"), "2 + 1 epochs give the 3-epoch detector bit for bit");
        CollectionAssert.AreNotEqual(expected, TestViews.Read(first.Transform(test)).Floats("MiaedScore"), "the 2-epoch detector differs from the 3-epoch one");
        Assert.Throws<ArgumentException>(() => new MLContext(seed: 1).Transforms.Defenses.Miaed(options with { KeepCheckpoint = true }));
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    [TestMethod]
    public void FitTransformSaveLoadAndDisposeLeaveNoTensorBehind()
    {
        var ml = new MLContext(seed: 8);
        var train = Training(120);
        ml.Transforms.Defenses.Miaed(Tiny(epochs: 1)).Fit(train).Dispose();
        var before = LiveTensors.Count();
        var path = Path.Combine(Path.GetTempPath(), $"miaed-{Guid.NewGuid():N}.zip");
        try
        {
            using (var model = ml.Transforms.Defenses.Miaed(Tiny(epochs: 1)).Fit(train))
            {
                TestViews.Read(model.Transform(train));
                ml.Model.Save(model, train.Schema, path);
            }
            var loaded = ml.Model.Load(path, out _);
            TestViews.Read(loaded.Transform(train));
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            File.Delete(path);
        }
        Assert.AreEqual(before, LiveTensors.Count());
    }

    [TestMethod]
    [DataRow(1, 28, 28, 32 * 7 * 7, 116_784, 127_505)]
    [DataRow(3, 32, 32, 64 * 8 * 8, 327_776, 368_675)]
    public void PaperSizedNetworksAreTable3sAndTakeAStepOnMnistAndCifarShapes(int channels, int height, int width, int featureSize,
        int encoderParameters, int decoderParameters)
    {
        // Default options: Table 3's widths (16 on grey images, 32 on colour ones), latent 64, discriminators 256-256-1 (Table 4), every term on.
        var shape = new ImageShape(channels, height, width);
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(12);
        using var autoencoder = new MiaedAutoencoder(new MiaedOptions(), shape, CPU);
        var images = torch.rand([4, channels, height, width]);
        var terms = autoencoder.TrainStep(images);
        Assert.IsTrue(new[] { terms.Total, terms.Reconstruction, terms.NoiseReconstruction, terms.GlobalMi!.Value, terms.LocalMi!.Value,
            terms.PriorLoss!.Value, terms.CriticLoss!.Value }.All(double.IsFinite), terms.ToString());
        using var _ = torch.no_grad();
        autoencoder.Encoder.eval();
        autoencoder.Decoder.eval();
        var latents = autoencoder.Encoder.forward(images);
        CollectionAssert.AreEqual(new long[] { 4, 64 }, latents.shape);
        CollectionAssert.AreEqual(images.shape, autoencoder.Decoder.forward(latents).shape);
        int globalInputs = (int)autoencoder.GlobalMiInputSize;
        Assert.AreEqual(64 + featureSize, globalInputs, "the global discriminator reads the latent and the whole pooled feature map M(x)");
        // Table 3 by hand. MNIST encoder: 3×3 convolutions 1→16, 16→16, 16→32, 32→32 (weights + biases) and FC 1568→64;
        // decoder: FC 64→1568, convolutions 32→32 twice, 32→16, 16→16, 16→1. CIFAR-10: 3→32, 32→32, 32→64, 64→64, FC 4096→64
        // and FC 64→4096, 64→64 twice, 64→32, 32→32, 32→3.
        Assert.AreEqual(encoderParameters, autoencoder.Encoder.parameters().Sum(p => p.numel()));
        Assert.AreEqual(decoderParameters, autoencoder.Decoder.parameters().Sum(p => p.numel()));
        var layers = autoencoder.Encoder.modules().Concat(autoencoder.Decoder.modules()).Select(m => m.GetType().Name).ToList();
        Assert.AreEqual(4 + 5, layers.Count(n => n == "Conv2d"), string.Join(", ", layers));
        Assert.AreEqual(2, layers.Count(n => n == "MaxPool2d"));
        Assert.AreEqual(2, layers.Count(n => n == "Upsample"));
        Assert.IsFalse(layers.Any(n => n.StartsWith("BatchNorm", StringComparison.Ordinal) || n.StartsWith("ConvTranspose", StringComparison.Ordinal)),
                       $"Table 3 has no batch norm and no transposed convolution: {string.Join(", ", layers)}");
    }

    [TestMethod]
    public void OnARealMnistSliceTheSimpleNetworkLearnsTheDigitsFromTheLatents()
    {
        var ml = new MLContext(seed: 13);
        var train = TestViews.Read(ml.Data.TakeRows(ml.Data.LoadKnownDataset(KnownDatasets.Mnist, train: true), 600));
        var labels = train.Classes("Label");
        var withScores = WithProbabilities(train, Probabilities(labels, 10), 10);
        using var model = ml.Transforms.Defenses.Miaed(Tiny(epochs: 3) with { LatentDimension = 16, SimpleNetworkEpochs = 30 }).Fit(withScores);
        Assert.AreEqual(new ImageShape(1, 28, 28), model.InputShape);
        Console.WriteLine($"MNIST slice: {model.Info}");
        // A toy encoder (4-8 channels, 16-d latent) after 3 epochs on 600 digits: well above chance, far from the paper's encoder.
        Assert.IsTrue(model.Info.SimpleNetworkTrainingAccuracy > 0.4, $"accuracy {model.Info.SimpleNetworkTrainingAccuracy} (chance 10%)");
    }

    /// <summary>MNIST digits (1×28×28, their labels) with the given target-model probabilities as <c>Score</c>.</summary>
    private static IDataView WithProbabilities(TestViews.Columns digits, float[] probabilities, int classes) =>
        TestViews.Build(new ImageShape(1, 28, 28), digits.Floats("Image"), digits.Classes("Label"), classes, probabilities, classes);

    [TestMethod]
    public void TheCalibrationRowsAreHeldOutAndTheirFalsePositiveRateIsReported()
    {
        using var model = new MLContext(seed: 14).Transforms.Defenses.Miaed(Tiny(epochs: 1) with { CalibrationFraction = 0.25 }).Fit(Training(240));
        Console.WriteLine(model.Info);
        Assert.AreEqual(60, model.Info.CalibrationImageCount);
        Assert.AreEqual(180, model.Info.TrainingImageCount);
        Assert.IsTrue(model.Info.CalibrationFalsePositiveRate <= 0.05, $"at most the target on the calibration rows: {model.Info.CalibrationFalsePositiveRate}");
        Assert.IsTrue(model.Info.CalibrationFalsePositiveRate >= 2 / 60.0, "with distinct scores it flags ⌊0.05 · 60⌋ = 3 rows, not fewer than 2");

        using var defaults = new MLContext(seed: 14).Transforms.Defenses.Miaed(Tiny(epochs: 1) with { CalibrationFraction = new MiaedOptions().CalibrationFraction }).Fit(Training(25));
        Assert.AreEqual((3, 22), (defaults.Info.CalibrationImageCount, defaults.Info.TrainingImageCount), "round(10% of 25) rows held out by default");
    }

    [TestMethod]
    public void OnARealMnistSliceTheFalsePositiveRateOnNewCleanImagesIsNearTheTarget()
    {
        // An over-fitting simple network (wide, many epochs, no dropout, 400 digits) agrees with the target model far more
        // often on its own training rows than on new ones: a threshold calibrated on those would flag new clean digits much
        // more often than the target. The held-out calibration rows estimate the rate on new data without that bias.
        const double target = 0.1;
        var ml = new MLContext(seed: 15);
        var digits = ml.Data.TakeRows(ml.Data.LoadKnownDataset(KnownDatasets.Mnist, train: true), 1800);
        var train = TestViews.Read(ml.Data.TakeRows(digits, 800));
        var newDigits = TestViews.Read(ml.Data.SkipRows(digits, 800));
        var trainLabels = train.Classes("Label");
        var newLabels = newDigits.Classes("Label");
        var options = Tiny(epochs: 1) with
        {
            LatentDimension = 16, SimpleNetworkHiddenUnits = [256, 256], SimpleNetworkDropout = 0,
            SimpleNetworkEpochs = 40, CalibrationFraction = 0.5, TargetFalsePositiveRate = target,
        };
        using var model = ml.Transforms.Defenses.Miaed(options).Fit(WithProbabilities(train, Probabilities(trainLabels, 10), 10));
        var output = TestViews.Read(model.Transform(WithProbabilities(newDigits, Probabilities(newLabels, 10), 10)));
        double heldOut = (output.Bools("MiaedFlag")).Count(f => f) / (double)newLabels.Length;
        Console.WriteLine($"{model.Info}; flagged on {newLabels.Length} new clean digits: {heldOut:P1} (target {target:P0})");

        // 400 calibration rows and 1000 new ones: the standard error of the rate on new data is about 0.02.
        Assert.AreEqual(400, model.Info.CalibrationImageCount);
        Assert.IsTrue(model.Info.CalibrationFalsePositiveRate <= target);
        Assert.IsTrue(Math.Abs(heldOut - target) <= 0.05, $"new clean digits flagged: {heldOut} (target {target})");
        Assert.IsTrue(model.Info.SimpleNetworkTrainingAccuracy > model.Info.SimpleNetworkCalibrationAccuracy + 0.05,
            "the simple network over-fits its training rows (what makes calibrating on them biased)");
        Assert.IsTrue(model.Info.TrainingFalsePositiveRate < target / 2, $"on the training rows the threshold flags far fewer: {model.Info.TrainingFalsePositiveRate}");
    }

    [TestMethod]
    public void JensenShannonDivergenceIsZeroForEqualAndLn2ForDisjointDistributions()
    {
        using var scope = torch.NewDisposeScope();
        var p = torch.tensor(new float[] { 1, 0, 0, 0.5f, 0.5f, 0 }, [2, 3]);
        var q = torch.tensor(new float[] { 0, 1, 0, 0.5f, 0.5f, 0 }, [2, 3]);
        var js = MiaedScoring.JensenShannonDivergence(p, q).data<float>().ToArray();
        Assert.AreEqual(Math.Log(2), js[0], 1e-6, "disjoint one-hot distributions: ln 2, finite where KL would be infinite");
        Assert.AreEqual(0, js[1], 1e-7);
    }

    [TestMethod]
    public void BadOptionsAreRejectedNamingTheOption()
    {
        var ml = new MLContext();
        void Expect(MiaedOptions options, string part)
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Defenses.Miaed(options));
            StringAssert.Contains(ex.Message, part);
        }
        Expect(new MiaedOptions { TargetFalsePositiveRate = 1 }, "TargetFalsePositiveRate");
        Expect(new MiaedOptions { BatchSize = 1 }, "BatchSize");
        Expect(new MiaedOptions { PriorStandardDeviation = 0 }, "PriorStandardDeviation");
        Expect(new MiaedOptions { GlobalMiWeight = -1 }, "GlobalMiWeight");
        Expect(new MiaedOptions { ClassCount = 1 }, "ClassCount");
        Expect(new MiaedOptions { CalibrationFraction = 0 }, "CalibrationFraction");
        Expect(new MiaedOptions { CalibrationFraction = 0.6 }, "CalibrationFraction");
        Assert.Throws<ArgumentException>(() => ml.Transforms.Defenses.Miaed(scoreColumnName: "X", flagColumnName: "X"));
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and race the assertions).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

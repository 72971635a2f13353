using MLDefense.Cli.Infrastructure;
using MLDefense.Data;
using MLDefense.Benchmarks;
using MLDefense.Defenses;
using MLDefense.Evaluation;
using MLDefense.Classifiers;

namespace MLDefense.Tests;

/// <summary>
/// <see cref="MiaedBenchmark"/>: its presets, targets and validation, and one end-to-end run at toy size on a synthetic
/// MNIST-shaped dataset (four bright-quadrant classes), so that every stage — classifier, MIAED fit, the five attacks
/// under the protocol, the ablation — runs in seconds.
/// </summary>
[TestClass]
public sealed class MiaedBenchmarkTests
{
    private static string temp = "";

    [ClassInitialize]
    public static void CreateData(TestContext _)
    {
        temp = Directory.CreateTempSubdirectory("mldefense-miaed-bench-").FullName;
        SyntheticIdx.Write(Path.Combine(temp, KnownDatasets.Mnist), trainRows: 200, testRows: 60, seed: 3);
    }

    [ClassCleanup]
    public static void DeleteData() => Directory.Delete(temp, recursive: true);

    private static MiaedBenchmarkOptions Toy() => new()
    {
        Cases = [MiaedBenchmark.FullCases[0] with { ClassifierEpochs = 3 }],
        Detector = new MiaedOptions
        {
            BaseChannels = 4, LatentDimension = 8, DiscriminatorHiddenUnits = 16, SimpleNetworkHiddenUnits = [32],
            Epochs = 2, BatchSize = 32, LearningRate = 1e-3, SimpleNetworkEpochs = 10, TargetFalsePositiveRate = 0.1, CalibrationFraction = 0.2,
        },
        AblationVariants = [MiaedVariant.Caed],
        Iterations = 30,
        CarliniWagner = new CarliniWagnerBudget(1, 10, 0.1),
        DataDirectory = temp,
        Device = ComputeDevice.Cpu,
    };

    [TestMethod]
    public void AToyRunFillsTable7AndTheAblationWithConsistentRows()
    {
        var stages = new List<string>();
        var result = MiaedBenchmark.Run(Toy(), new InlineProgress<MiaedBenchmarkProgress>(p => stages.Add(p.Stage)));

        var c = result.Cases.Single();
        Assert.AreEqual(200, c.TrainImages);
        Assert.AreEqual(60, c.TestImages);
        Assert.IsTrue(c.ClassifierAccuracy > 0.5, $"the quadrant classes are easy: {c.ClassifierAccuracy}");
        StringAssert.Contains(c.Classifier, "trained for this run");
        CollectionAssert.AreEqual(new[] { "full", "caed" }, c.Detectors.Select(d => d.Variant.Name).ToArray());
        Assert.IsTrue(c.Detectors.All(d => d.Info.CalibrationImageCount == 40 && d.Info.TrainingImageCount == 160));
        Assert.IsTrue(c.Detectors[1].Info.ToString().Length > 0);

        CollectionAssert.AreEqual(new[] { "FGSM", "FGSM", "BIM", "BIM", "PGD", "PGD", "MIM", "MIM", "CW-L2", "CW-L2" }, result.AttackResults.Select(r => r.Row.Attack).ToArray());
        CollectionAssert.AreEqual(Enumerable.Repeat(new[] { "full", "full-argmax" }, 5).SelectMany(v => v).ToArray(), result.AttackResults.Select(r => r.Row.Variant).ToArray());
        Assert.IsTrue(result.AttackResults.All(r => r.Row.Dataset == "mnist" && r.Row.Evaluated == 60));
        for (int i = 0; i < 10; i += 2)
        {
            var (divergence, argmax) = (result.AttackResults[i].Row, result.AttackResults[i + 1].Row);
            Assert.AreEqual(divergence.Kept, argmax.Kept, "both rules are judged on the same kept images");
            Assert.AreEqual(0.5, argmax.Threshold);
            Assert.IsTrue(result.AttackResults[i + 1].Samples.All(x => x.CleanScore is 0 or 1 && x.AdversarialScore is 0 or 1), "the argmax rule's score is the mismatch");
        }
        CollectionAssert.AreEqual(new[] { "full", "caed" }, result.AblationResults.Select(r => r.Row.Variant).ToArray());
        Assert.IsTrue(result.AblationResults.All(r => r.Row.Attack == MiaedBenchmark.AblationAttack));
        Assert.AreSame(result.AttackResults[0], result.AblationResults[0], "the ablation's full row is the main run's FGSM row");
        Assert.AreEqual(result.AblationResults[0].Row.Accuracy - result.AblationResults[1].Row.Accuracy, result.FullOverCaed!.Value, 1e-12);
        foreach (var row in c.Results.Select(r => r.Row))
        {
            Assert.AreEqual(2L * row.Kept, row.Positives, "positives doubled");
            Assert.AreEqual(2L * row.Kept, row.Negatives);
            if (row.Kept > 0)
                Assert.IsTrue(row.Accuracy is >= 0 and <= 1 && row.Specificity is >= 0 and <= 1, row.ToString());
        }
        Assert.IsTrue(result.AttackResults.First(r => r.Row.Attack == "PGD").Row.Kept > 0, "PGD fools the toy classifier on some images");
        CollectionAssert.IsSubsetOf(new[] { "load", "classifier", "miaed", "miaed caed", "FGSM", "CW-L2" }, stages.Distinct().ToArray());
    }

    [TestMethod]
    public void ALearningCurveProbesEachEpochOnceAndEndsWithTheDetectorOfOneUninterruptedFit()
    {
        string folder = Path.Combine(temp, "curve");
        var plain = Toy() with { Iterations = 5, AblationVariants = [] };
        var options = plain with { DetectorDirectory = folder, CurveEpochs = [1], CurveTestImages = 30 };
        var uninterrupted = MiaedBenchmark.Run(plain).Cases.Single();
        var first = MiaedBenchmark.Run(options).Cases.Single();

        CollectionAssert.AreEqual(new[] { 1, 2 }, first.Curve.Select(p => p.Epoch).ToArray(), "the probe, then the final detector");
        Assert.IsTrue(first.Curve.All(p => p.TestImages == 30 && p.Rows.Count == 10 && p.Rows.All(r => r.Evaluated == 30)));
        Assert.AreEqual(uninterrupted.Detectors[0].Info.Threshold, first.Detectors[0].Info.Threshold, "1 + 1 epochs give the 2-epoch detector");
        CollectionAssert.AreEqual(uninterrupted.Results.Select(r => r.Row).ToArray(), first.Results.Select(r => r.Row).ToArray(),
                                  "the final detector is evaluated on every test image, as without a curve");
        CollectionAssert.AreNotEqual(first.Curve[0].Rows.Select(r => r.Auc).ToArray(), first.Curve[1].Rows.Select(r => r.Auc).ToArray(),
                                     "the probes score different detectors");
        CollectionAssert.AreEquivalent(new[] { "miaed-mnist-full.zip", "miaed-mnist-full.checkpoint", "miaed-mnist-full.curve.json" },
                                       Directory.GetFiles(folder).Select(Path.GetFileName).ToArray(), "the checkpoint is kept, so the curve can be extended");

        var details = new List<string>();
        var second = MiaedBenchmark.Run(options, new InlineProgress<MiaedBenchmarkProgress>(p => details.Add(p.Detail))).Cases.Single();
        Assert.IsFalse(details.Any(s => s.StartsWith("autoencoder epoch", StringComparison.Ordinal)), "a finished curve trains nothing again");
        Assert.AreEqual(Path.Combine(folder, "miaed-mnist-full.zip"), second.Detectors[0].Source);
        CollectionAssert.AreEqual(first.Curve.SelectMany(p => p.Rows).ToArray(), second.Curve.SelectMany(p => p.Rows).ToArray(), "the kept probes are read back");

        var longer = MiaedBenchmark.Run(options with { CurveEpochs = [1, 2], Detector = options.Detector with { Epochs = 3 } },
                                        new InlineProgress<MiaedBenchmarkProgress>(p => details.Add(p.Detail))).Cases.Single();
        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, longer.Curve.Select(p => p.Epoch).ToArray(), "extending the training adds the new epoch's probe");
        Assert.IsTrue(details.Any(s => s.StartsWith("autoencoder epoch 3/3", StringComparison.Ordinal)) && !details.Any(s => s.StartsWith("autoencoder epoch 1/", StringComparison.Ordinal)),
                      "only the third epoch is trained");
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => MiaedBenchmark.Run(plain with { CurveEpochs = [1] })).Message, "DetectorDirectory");
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => MiaedBenchmark.Run(options with { CurveEpochs = [5] })).Message, "[1, 2]");
    }

    [TestMethod]
    public void ADetectorFolderKeepsTheFittedDetectorsAndASecondRunLoadsThemInsteadOfFitting()
    {
        string folder = Path.Combine(temp, "detectors");
        var options = Toy() with { Iterations = 5, DetectorDirectory = folder };
        var first = MiaedBenchmark.Run(options);
        var c = first.Cases.Single();
        CollectionAssert.AreEquivalent(new[] { "miaed-mnist-full.zip", "miaed-mnist-caed.zip" }, Directory.GetFiles(folder).Select(Path.GetFileName).ToArray());
        Assert.IsTrue(c.Detectors.All(d => d.Source is null && d.FitSeconds > 0), "the first run fits both");

        var stages = new List<string>();
        var second = MiaedBenchmark.Run(options with { Detector = options.Detector with { Epochs = 50 } },
                                        new InlineProgress<MiaedBenchmarkProgress>(p => stages.Add(p.Detail)));
        var loaded = second.Cases.Single().Detectors;
        CollectionAssert.AreEqual(new[] { Path.Combine(folder, "miaed-mnist-full.zip"), Path.Combine(folder, "miaed-mnist-caed.zip") },
                                  loaded.Select(d => d.Source).ToArray());
        Assert.IsTrue(loaded.All(d => d.FitSeconds == 0 && d.Settings.StartsWith("2 autoencoder epochs", StringComparison.Ordinal)),
                      "a loaded detector reports the settings it was fitted with, not the run's 50 epochs");
        Assert.IsFalse(stages.Any(s => s.StartsWith("autoencoder epoch", StringComparison.Ordinal)), "nothing is trained again");
        for (int i = 0; i < 2; i++) Assert.AreEqual(c.Detectors[i].Info.Threshold, loaded[i].Info.Threshold);
        CollectionAssert.AreEqual(first.Cases.Single().Results.Select(r => r.Row).ToArray(), second.Cases.Single().Results.Select(r => r.Row).ToArray(),
                                  "the same detectors, attacks and seed give the same rows");

        // A zip of another variant under a variant's name is refused, not used.
        File.Copy(Path.Combine(folder, "miaed-mnist-full.zip"), Path.Combine(folder, "miaed-mnist-caed.zip"), overwrite: true);
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => MiaedBenchmark.Run(options)).Message, "not as variant caed");
    }

    [TestMethod]
    public void ASecondOpinionAddsTheDisagreementBaselineOnTheSameKeptImages()
    {
        string folder = Directory.CreateTempSubdirectory("mldefense-miaed-second-").FullName;
        try
        {
            var ml = new Microsoft.ML.MLContext(seed: 1);
            string Train(ClassifierArchitecture architecture, int seed)
            {
                var (model, schema, _) = ClassifierTraining.Run(ml, new ClassifierTrainingRequest
                {
                    Dataset = KnownDatasets.Mnist, Architecture = architecture, Epochs = 3, DataDirectory = temp, Seed = seed,
                });
                string path = Path.Combine(folder, $"{architecture}-{seed}.zip");
                using (model) ml.Model.Save(model, schema, path);
                return path;
            }
            string target = Train(ClassifierArchitecture.MnistC1, 1), other = Train(ClassifierArchitecture.DefenseGanA, 2);
            var options = Toy() with { AblationVariants = [], Iterations = 10, ModelPaths = new Dictionary<string, string> { ["mnist/c1"] = target } };

            var rows = MiaedBenchmark.Run(options with { SecondOpinionPaths = new Dictionary<string, string> { ["mnist/c1"] = other } }).AttackResults;
            CollectionAssert.AreEqual(Enumerable.Repeat(new[] { "full", "full-argmax", MiaedBenchmark.SecondOpinionVariant }, 5).SelectMany(v => v).ToArray(),
                                      rows.Select(r => r.Row.Variant).ToArray());
            for (int i = 0; i < rows.Count; i += 3)
            {
                var second = rows[i + 2];
                Assert.AreEqual(rows[i].Row.Kept, second.Row.Kept, "judged on the full model's kept images");
                Assert.AreEqual(0.5, second.Row.Threshold);
                Assert.IsTrue(second.Samples.All(x => x.CleanScore is 0 or 1 && x.NoisyScore is 0 or 1 && x.AdversarialScore is 0 or 1), "the score is the disagreement");
            }
            Assert.IsTrue(rows.Any(r => r.Row.Variant == MiaedBenchmark.SecondOpinionVariant && r.Row.Kept > 0 && r.Row.Recall > 0),
                          "an independent classifier is not fooled into the target's wrong class on every example");

            // The target model as its own second opinion never disagrees: nothing is flagged, clean or adversarial.
            var self = MiaedBenchmark.Run(options with { SecondOpinionPaths = new Dictionary<string, string> { ["mnist/c1"] = target } }).AttackResults
                .Where(r => r.Row.Variant == MiaedBenchmark.SecondOpinionVariant && r.Row.Kept > 0).ToList();
            Assert.IsTrue(self.Count > 0);
            Assert.IsTrue(self.All(r => r.Row.Recall == 0 && r.Row.Specificity == 1), string.Join("; ", self.Select(r => r.Row)));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void TargetsApplyToMnistPgdAndCwOfTheFullModelOnly()
    {
        MiaedRow Row(string dataset, string attack, string variant, double accuracy, double specificity) =>
            new(dataset, attack, variant, 0, 0, 0, specificity, accuracy, 0, 0, 0, 0, 0, 0, 100, 90, 80, 160, 160, 0, 0, 0, 0, 0.1, specificity, specificity);

        Assert.AreEqual(true, MiaedBenchmark.MeetsTarget(Row("mnist", "PGD", "full", 0.962, 0.98)));
        Assert.AreEqual(false, MiaedBenchmark.MeetsTarget(Row("mnist", "PGD", "full", 0.961, 0.99)));
        Assert.AreEqual(false, MiaedBenchmark.MeetsTarget(Row("mnist", "PGD", "full", 0.99, 0.979)), "specificity below 0.98 fails");
        Assert.AreEqual(0.99, MiaedBenchmark.TargetAccuracy(Row("mnist", "CW-L2", "full", 0, 0)));
        Assert.IsNull(MiaedBenchmark.MeetsTarget(Row("mnist", "FGSM", "full", 0.99, 0.99)));
        Assert.IsNull(MiaedBenchmark.MeetsTarget(Row("mnist", "PGD", "caed", 0.99, 0.99)));
        Assert.AreEqual(true, MiaedBenchmark.MeetsTarget(Row("mnist", "CW-L2", "full-argmax", 0.995, 0.99)), "the official code's rule is held to the same targets");
        Assert.IsNull(MiaedBenchmark.MeetsTarget(Row("fashion-mnist", "PGD", "full", 0.99, 0.99)));
    }

    [TestMethod]
    public void TheQuickPresetSaysWhatItShortens()
    {
        var quick = MiaedBenchmark.DescribeShortening(MiaedBenchmarkOptions.Quick);
        StringAssert.Contains(quick, "cases fashion-mnist/c1, cifar10-subset/c2 skipped");
        StringAssert.Contains(quick, "mnist/c1: first 12000 training images, first 300 test images");
        StringAssert.Contains(quick, "ablation without caed+global-mi, caed+local-mi, caed+prior");
        Assert.AreEqual("mnist/c1: all training images, all test images, a classifier trained here gets 10 epochs",
                        MiaedBenchmark.DescribeShortening(MiaedBenchmarkOptions.Full with { Cases = [MiaedBenchmark.FullCases[0]] })
                            .Split("; ").Last(p => p.StartsWith("mnist/c1")));
        Assert.AreEqual(8.0 / 255, MiaedBenchmark.FullCases.Single(c => c.Dataset == KnownDatasets.Cifar10Subset).Epsilon);
        var attacks = MiaedBenchmark.Attacks(MiaedBenchmark.FullCases[0], MiaedBenchmarkOptions.Full);
        CollectionAssert.AreEqual(new[] { "FGSM", "BIM", "PGD", "MIM", "CW-L2" }, attacks.Select(a => a.Name).ToArray());
    }

    [TestMethod]
    public void OfficialWeightsSetTheOfficialCodesLossWeightsPriorAndBatchAndTheRunSaysSo()
    {
        var quick = MiaedBenchmark.QuickDetector;
        var official = MiaedBenchmark.WithOfficialWeights(quick);

        // The official code's MNIST arguments: both reconstruction streams × 10, MI terms × 0.1, prior × 1e-4, N(0, 5²), batch 256.
        Assert.AreEqual(10, official.ReconstructionWeight);
        Assert.AreEqual(10, official.NoiseReconstructionWeight);
        Assert.AreEqual(0.1, official.GlobalMiWeight);
        Assert.AreEqual(0.1, official.LocalMiWeight);
        Assert.AreEqual(1e-4, official.PriorWeight);
        Assert.AreEqual(5, official.PriorStandardDeviation);
        Assert.AreEqual(256, official.BatchSize);
        Assert.AreEqual(quick with
        {
            ReconstructionWeight = 10, NoiseReconstructionWeight = 10, GlobalMiWeight = 0.1, LocalMiWeight = 0.1, PriorWeight = 1e-4,
            PriorStandardDeviation = 5, BatchSize = 256,
        }, official, "nothing else changes: epochs, learning rate, networks");
        var described = MiaedBenchmark.DescribeShortening(MiaedBenchmarkOptions.Quick with { Detector = official });
        foreach (var change in new[] { "reconstruction weight ε 10 instead of 1", "noisy-latent weight δ 10 instead of 1", "global MI weight α 0.1 instead of 0.01",
                                       "local MI weight β 0.1 instead of 0.01", "prior weight γ 0.0001 instead of 0.001", "prior N(0, 5²) instead of N(0, 1²)",
                                       "batch 256 instead of 128" })
            StringAssert.Contains(described, change);
        var paperRun = MiaedBenchmark.DescribeShortening(MiaedBenchmarkOptions.Quick);
        foreach (var term in new[] { "N(0,", "weight", "batch" })
            Assert.IsFalse(paperRun.Contains(term, StringComparison.Ordinal), $"the paper's {term} is not a departure: {paperRun}");
        StringAssert.Contains(MiaedBenchmark.DescribeDetector(official), "batch 256");
        StringAssert.Contains(MiaedBenchmark.DescribeDetector(official), "α 0.1, β 0.1, γ 0.0001, ε 10, δ 10, prior N(0, 5²)");
        StringAssert.Contains(MiaedBenchmark.DescribeOfficialWeights(), "reconstruction weight ε 10 (paper 1), noisy-latent weight δ 10 (1)");
    }

    [TestMethod]
    public void PaperNetworksGiveTheQuickDetectorTable4sSimpleNetworkAndKeepItsTraining()
    {
        var quick = MiaedBenchmark.QuickDetector;
        Assert.IsNull(quick.BaseChannels, "the quick run's autoencoder is Table 3's already");
        var widened = MiaedBenchmark.WithPaperNetworks(quick with { BaseChannels = 8 });

        Assert.IsNull(widened.BaseChannels, "Table 3's width, chosen from the image");
        CollectionAssert.AreEqual(new[] { 1024, 512 }, widened.SimpleNetworkHiddenUnits.ToArray(), "Table 4's simple network");
        Assert.AreEqual(quick.Epochs, widened.Epochs);
        Assert.AreEqual(quick.LearningRate, widened.LearningRate);
        Assert.AreEqual(quick.SimpleNetworkEpochs, widened.SimpleNetworkEpochs);
        var described = MiaedBenchmark.DescribeShortening(MiaedBenchmarkOptions.Quick with { Detector = widened });
        StringAssert.Contains(described, "7 of 100 autoencoder epochs");
        foreach (var size in new[] { "base channels", "simple network 256" })
            Assert.IsFalse(described.Contains(size, StringComparison.Ordinal), $"{size} is the paper's: {described}");
        StringAssert.Contains(MiaedBenchmark.DescribeShortening(MiaedBenchmarkOptions.Quick with { Detector = quick with { BaseChannels = 8 } }),
                              "base channels 8 instead of Table 3's (16 grey, 32 colour)");
        StringAssert.Contains(MiaedBenchmark.DescribeShortening(MiaedBenchmarkOptions.Quick), "simple network 256-128 instead of 1024-512");
    }

    [TestMethod]
    public void ASelectionClassifierSelectsTheFullModelsSimpleNetworkOnFgsmExamplesOfTrainingImagesNothingElseUses()
    {
        string folder = Directory.CreateTempSubdirectory("mldefense-miaed-selection-").FullName;
        try
        {
            var ml = new Microsoft.ML.MLContext(seed: 1);
            var (model, schema, _) = ClassifierTraining.Run(ml, new ClassifierTrainingRequest
            {
                Dataset = KnownDatasets.Mnist, Architecture = ClassifierArchitecture.MnistC1, Epochs = 3, DataDirectory = temp, Seed = 1, TrainImages = 150,
            });
            string target = Path.Combine(folder, "c1.zip");
            using (model) ml.Model.Save(model, schema, target);
            var paths = new Dictionary<string, string> { ["mnist/c1"] = target };
            // MIAED on the first 150 of the 200 training images; the selection's FGSM examples from the other 50.
            var options = Toy() with
            {
                Cases = [MiaedBenchmark.FullCases[0] with { TrainImages = 150 }], Iterations = 5, ModelPaths = paths,
                SelectionFgsmPaths = paths, SelectionImages = 50,
            };
            var c = MiaedBenchmark.Run(options).Cases.Single();
            var full = c.Detectors.Single(d => d.Variant == MiaedVariant.Full);
            Console.WriteLine(full.Info);
            Assert.AreEqual(150, c.TrainImages);
            Assert.AreEqual(50, full.Info.SelectionImageCount);
            Assert.IsNotNull(full.Info.SimpleNetworkSelectedEpoch);
            Assert.IsTrue(full.Info.SimpleNetworkTrainedEpochs is >= 1 and <= MiaedBenchmark.OfficialSelectionEpochs, $"{full.Info}");
            Assert.IsTrue(full.Info.SimpleNetworkSelectedEpoch <= full.Info.SimpleNetworkTrainedEpochs);
            StringAssert.Contains(full.Settings, "up to 100 epochs, selected on FGSM examples");
            var caed = c.Detectors.Single(d => d.Variant == MiaedVariant.Caed);
            Assert.IsNull(caed.Info.SimpleNetworkSelectedEpoch, "the ablation compares the autoencoders: its variants are not selected");

            // More selection images than the training set has after the case's own: refused, naming both counts.
            var tooMany = Assert.Throws<ArgumentException>(() => MiaedBenchmark.Run(options with { SelectionImages = 60, AblationVariants = [] }));
            StringAssert.Contains(tooMany.Message, "60 selection images after the first 150");
            StringAssert.Contains(tooMany.Message, "has 50 there");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void BadSettingsAreRejectedBeforeAnythingRuns()
    {
        void Expect<T>(MiaedBenchmarkOptions options, string part) where T : Exception
        {
            var ex = Assert.Throws<T>(() => MiaedBenchmark.Run(options));
            StringAssert.Contains(ex.Message, part);
        }
        Expect<ArgumentException>(Toy() with { Cases = [] }, "no cases");
        Expect<ArgumentException>(Toy() with { Cases = [MiaedBenchmark.FullCases[0] with { Architecture = ClassifierArchitecture.CifarC2 }] }, "c2 takes 3x32x32");
        Expect<ArgumentOutOfRangeException>(Toy() with { Cases = [MiaedBenchmark.FullCases[0] with { TrainImages = 5 }] }, "at least 20");
        Expect<ArgumentException>(Toy() with { ModelPaths = new Dictionary<string, string> { ["cifar10-subset/c2"] = "x.zip" } }, "not among the cases");
        Expect<FileNotFoundException>(Toy() with { ModelPaths = new Dictionary<string, string> { ["mnist/c1"] = "/no/such/model.zip" } }, "/no/such/model.zip");
        Expect<ArgumentException>(Toy() with { SecondOpinionPaths = new Dictionary<string, string> { ["cifar10-subset/c2"] = "x.zip" } }, "not among the cases");
        Expect<FileNotFoundException>(Toy() with { SecondOpinionPaths = new Dictionary<string, string> { ["mnist/c1"] = "/no/such/second.zip" } }, "/no/such/second.zip");
        Expect<ArgumentException>(Toy() with { SelectionFgsmPaths = new Dictionary<string, string> { ["cifar10-subset/c2"] = "x.zip" } }, "not among the cases");
        Expect<ArgumentException>(Toy() with { SelectionFgsmPaths = new Dictionary<string, string> { ["mnist/c1"] = typeof(MiaedBenchmarkTests).Assembly.Location } },
                                  "none are left to select the simple network on");
        Expect<ArgumentOutOfRangeException>(Toy() with { SelectionImages = 0 }, "SelectionImages");
        Expect<ArgumentException>(Toy() with { AblationVariants = [MiaedVariant.Caed with { Name = "full" }] }, "distinct names");
        Expect<ArgumentOutOfRangeException>(Toy() with { Iterations = 0 }, "Iterations");
        Expect<ArgumentException>(Toy() with { DetectorDirectory = typeof(MiaedBenchmarkTests).Assembly.Location }, "is a file");
        Expect<ArgumentOutOfRangeException>(Toy() with { Detector = new MiaedOptions { CalibrationFraction = 0.9 } }, "CalibrationFraction");
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => CommonOptions.SelectCases(MiaedBenchmark.FullCases, c => c.Key, ["mnist/c9"], "cases")).Message, "mnist/c9 is not one of the cases mnist/c1");
    }
}

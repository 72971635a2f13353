using Microsoft.ML;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Tests.MLNet;
using MLDefense.Training;
using static MLDefense.Tests.Classifiers.ImageClassifierTestData;
using static MLDefense.Tests.Training.AdversarialTrainingTestData;

namespace MLDefense.Tests.Training;

/// <summary>PGD-AT, TRADES and MART through <c>ml.MulticlassClassification.Trainers.AdversarialTraining</c>.</summary>
[TestClass]
public sealed class AdversarialTrainingTests
{
    private static IDataView train = null!, test = null!;
    private static double plainPgdAccuracy;

    [ClassInitialize]
    public static void TrainPlainClassifier(TestContext _)
    {
        train = RobustTask(100, 1, 0.8);
        test = RobustTask(30, 2, 1.0);
        // Plain training with the image-classifier trainer's defaults (Adam 1e-3) and the same epochs, batch and seed.
        using var plain = new MLContext(seed: 1).MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { Epochs = 8, BatchSize = 32, Seed = 3 }).Fit(train);
        Assert.IsTrue(Accuracy(plain.Transform(test)) >= 0.9, "plain training learns the task");
        plainPgdAccuracy = PgdAccuracy(plain, test);
    }

    [TestMethod]
    [DataRow(AdversarialTrainingMethod.StandardAT)]
    [DataRow(AdversarialTrainingMethod.Trades)]
    [DataRow(AdversarialTrainingMethod.Mart)]
    public void EachMethodRaisesPgdAccuracyWellAbovePlainTraining(AdversarialTrainingMethod method)
    {
        var ml = new MLContext(seed: 1);
        using var model = ml.MulticlassClassification.Trainers.AdversarialTraining(Quick(new AdversarialTrainingOptions { Method = method }, epochs: 8)).Fit(train);
        double clean = Accuracy(model.Transform(test)), robust = PgdAccuracy(model, test);
        Assert.IsTrue(clean >= 0.9, $"{method}: clean accuracy {clean:P1}");
        Assert.IsTrue(robust >= plainPgdAccuracy + 0.2,
            $"{method}: PGD-20 (ε = {Epsilon}) accuracy {robust:P1}, plain training {plainPgdAccuracy:P1}: adversarial training must add 20 points");
        Assert.AreEqual(8, model.TrainingHistory.Count, "one report per epoch");
    }

    [TestMethod]
    public void SavesAndLoadsInAFreshProcessAsTheImageClassifier()
    {
        var ml = new MLContext(seed: 1);
        var data = RobustTask(10, 3, 1.0);
        using var model = ml.MulticlassClassification.Trainers.AdversarialTraining(Quick(new AdversarialTrainingOptions { Method = AdversarialTrainingMethod.Trades }, epochs: 1)).Fit(data);
        Assert.IsInstanceOfType<ImageClassifierTransformer>(model);
        string folder = Path.Combine(Path.GetTempPath(), $"at-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            string zip = Path.Combine(folder, "model.zip");
            ml.Model.Save(model, data.Schema, zip);
            MLNetWorkout.AssertSameInFreshProcess(ml, zip, data, MLNetWorkout.ReadAll(model.Transform(data)), "TRADES classifier loaded in a fresh process");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void BadInputIsRejectedNamingTheOption()
    {
        var ml = new MLContext(seed: 1);
        foreach (var epsilon in new[] { 0.0, -0.1, 1.5, double.NaN })
        {
            var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.AdversarialTraining(new AdversarialTrainingOptions { Epsilon = epsilon }));
            StringAssert.Contains(error.Message, "AdversarialTrainingOptions.Epsilon must be in (0, 1]");
        }
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.AdversarialTraining(
            new AdversarialTrainingOptions { Steps = 0 })).Message, "AdversarialTrainingOptions.Steps");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.AdversarialTraining(
            new AdversarialTrainingOptions { LearningRateMilestones = [0] })).Message, "AdversarialTrainingOptions.LearningRateMilestones");

        var labelsOutside = Quick(new AdversarialTrainingOptions { ClassCount = 2 }, epochs: 1);
        var outside = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.AdversarialTraining(labelsOutside).Fit(RobustTask(2, 1, 1.0)));
        StringAssert.Contains(outside.Message, "Column 'Label': expected class labels in [0, 2), found 2");

        var colour = Patterns(2, 1, new ImageShape(3, 32, 32));
        var shape = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.AdversarialTraining(Quick(new AdversarialTrainingOptions(), epochs: 1)).Fit(colour));
        StringAssert.Contains(shape.Message, "'Image'");
    }

    [TestMethod]
    public void CancellationStopsTrainingPromptly()
    {
        var ml = new MLContext(seed: 1);
        using var cancellation = new CancellationTokenSource();
        var options = Quick(new AdversarialTrainingOptions { Method = AdversarialTrainingMethod.Mart }, epochs: 1000);
        options.CancellationToken = cancellation.Token;
        var clock = new System.Diagnostics.Stopwatch();
        options.Progress = new Recorder<ClassifierTrainingProgress>(_ => { cancellation.Cancel(); clock.Start(); });
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.AdversarialTraining(options).Fit(train));
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(2), $"stopped {clock.Elapsed} after the cancel");
    }

    [TestMethod]
    public void ACheckpointedFitResumesBitForBit()
    {
        var data = RobustTask(20, 4, 0.8);
        AdversarialTrainingOptions Options() => Quick(new AdversarialTrainingOptions { Method = AdversarialTrainingMethod.Trades, LearningRateMilestones = [2] }, epochs: 3);
        using var uninterrupted = new MLContext(seed: 1).MulticlassClassification.Trainers.AdversarialTraining(Options()).Fit(data);

        string path = Path.Combine(Path.GetTempPath(), $"at-{Guid.NewGuid():N}", "training.checkpoint");
        try
        {
            using var stop = new CancellationTokenSource();
            var first = Options();
            first.CheckpointPath = path;
            first.CancellationToken = stop.Token;
            first.Progress = new Recorder<ClassifierTrainingProgress>(p => { if (p.EpochCompleted && p.Epoch == 2) stop.Cancel(); });
            Assert.ThrowsExactly<OperationCanceledException>(() => new MLContext(seed: 1).MulticlassClassification.Trainers.AdversarialTraining(first).Fit(data));
            Assert.IsTrue(File.Exists(path), "the checkpoint of epoch 2 outlives the cancelled Fit");

            var other = Options();
            other.CheckpointPath = path;
            other.Beta = 1;
            var refused = Assert.ThrowsExactly<ArgumentException>(() => new MLContext(seed: 1).MulticlassClassification.Trainers.AdversarialTraining(other).Fit(data));
            StringAssert.Contains(refused.Message, "beta");

            var second = Options();
            second.CheckpointPath = path;
            var epochs = new Recorder<ClassifierTrainingProgress>();
            second.Progress = epochs;
            using var resumed = new MLContext(seed: 1).MulticlassClassification.Trainers.AdversarialTraining(second).Fit(data);
            CollectionAssert.AreEqual(new[] { 3 }, epochs.Reports.Where(r => r.EpochCompleted).Select(r => r.Epoch).ToArray(), "only epoch 3 is trained again");
            CollectionAssert.AreEqual(TestViews.Floats(uninterrupted.Transform(data), "Score"), TestViews.Floats(resumed.Transform(data), "Score"),
                "resumed training ends bit for bit where the uninterrupted one does");
            Assert.IsFalse(File.Exists(path), "a finished Fit deletes its checkpoint");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [TestMethod]
    public void TheScheduleFollowsTheMilestones()
    {
        var o = new AdversarialTrainingOptions();
        Assert.AreEqual(0.1, o.LearningRateAt(75), 1e-12, "epoch 75 still at 0.1");
        Assert.AreEqual(0.01, o.LearningRateAt(76), 1e-12, "÷10 after epoch 75");
        Assert.AreEqual(0.001, o.LearningRateAt(91), 1e-12, "÷100 after epoch 90");
        Assert.AreEqual(8.0 / 255 / 4, o.Step, 1e-12, "step ε/4");
        Assert.AreEqual(1024, o.BatchSize);
    }
}

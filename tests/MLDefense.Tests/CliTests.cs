using System.CommandLine;
using System.Text.Json.Nodes;
using MLDefense.Benchmarks;
using MLDefense.Cli;
using MLDefense.Cli.Infrastructure;
using MLDefense.Data;
using static MLDefense.Tests.CliRunner;
using MLDefense.Classifiers;

namespace MLDefense.Tests;

[TestClass]
public sealed class CliTests
{
    private static string temp = "";

    [ClassInitialize]
    public static void CreateData(TestContext _)
    {
        temp = Directory.CreateTempSubdirectory("mldefense-cli-").FullName;
        SyntheticIdx.Write(Path.Combine(temp, "data", KnownDatasets.Mnist), trainRows: 240, testRows: 80, seed: 1);
    }

    [ClassCleanup]
    public static void DeleteData() => Directory.Delete(temp, recursive: true);

    [TestMethod]
    [DataRow("bench", "classifier", "--bogus")]
    [DataRow("frobnicate")]
    [DataRow("--threads", "0", "bench", "classifier")]
    [DataRow("bench", "classifier", "--device", "gpu")]
    [DataRow("bench", "classifier", "--only", "mnist/zz")]
    [DataRow("bench", "saec", "--bogus")]
    [DataRow("bench", "engine", "--only", "aegan")]
    [DataRow("train-classifier", "--architecture", "c1")]
    [DataRow("train-classifier", "--dataset", "imagenet", "--architecture", "c1")]
    [DataRow("train-classifier", "--dataset", "mnist", "--architecture", "c7")]
    [DataRow("train-classifier", "--dataset", "mnist", "--architecture", "c2")]
    [DataRow("train-classifier", "--dataset", "mnist", "--architecture", "c1", "--epochs", "0")]
    [DataRow("train-classifier", "--dataset", "mnist", "--architecture", "c1", "--lr", "-1")]
    [DataRow("train-classifier", "--dataset", "mnist", "--architecture", "c1", "--output", "/no/such/folder/model.zip")]
    [DataRow("train-classifier", "--dataset", "mnist", "--architecture", "c1", "--data", "/no/such/folder")]
    public void BadArgumentsExitWithCode2AndOneLine(params string[] args)
    {
        var result = Run(args);

        AssertUsageError(result);
        StringAssert.Contains(result.Error, "--help");
    }

    [TestMethod]
    public void IncompatibleArchitectureSaysWhy()
    {
        var (_, _, error) = Run("train-classifier", "--dataset", "mnist", "--architecture", "c2");
        StringAssert.Contains(error, "c2 takes 3x32x32 images, but mnist has 1x28x28");
    }

    [TestMethod]
    public void HelpOfEveryCommandListsItsOptionsAndTheGlobalOnes()
    {
        var root = Program.CreateRootCommand(CliConsole.Plain(TextWriter.Null, TextWriter.Null));
        foreach (var (path, command) in Commands(root, []))
        {
            var (code, output, error) = Run([.. path, "--help"]);

            Assert.AreEqual(0, code, $"{string.Join(' ', path)} --help: {error}");
            foreach (var option in command.Options.Concat(root.Options.Where(o => o.Recursive)))
                StringAssert.Contains(output, option.Name, $"{string.Join(' ', path)} --help lists {option.Name}");
            StringAssert.Contains(output, $"--threads <N>", "global options are listed with every command");
        }
    }

    [TestMethod]
    public void HelpShowsTheDefaults()
    {
        var (_, output, _) = Run("train-classifier", "--help");

        StringAssert.Contains(output, $"[default: {Environment.ProcessorCount}]", "--threads defaults to the processor count");
        StringAssert.Contains(output, "[default: auto]");
        StringAssert.Contains(output, $"[default: {GlobalOptions.DefaultSeed}]");
        StringAssert.Contains(output, "(c1, a, b, c: 10; c2: 50)", "--epochs names the architectures' defaults");
        StringAssert.Contains(output, "Default: <dataset>-<architecture>.zip");

        var (_, bench, _) = Run("bench", "classifier", "--help");
        StringAssert.Contains(bench, "mnist/c1: 2 of 10 epochs", "--quick says what it shortens");

        var (saecCode, saec, _) = Run("bench", "saec", "--help");
        Assert.AreEqual(0, saecCode);
        StringAssert.Contains(saec, "--quick");
        StringAssert.Contains(saec, "--json <PATH>");
        StringAssert.Contains(saec, "cifar10-subset/c2: 4 of", "--quick says what it shortens");
    }

    [TestMethod]
    public void TrainClassifierTrainsEvaluatesSavesAndTheZipLoadsBack()
    {
        string model = Path.Combine(temp, "c1.zip"), json = Path.Combine(temp, "c1.json");

        var (code, output, error) = Run("train-classifier", "--dataset", "mnist", "--architecture", "c1", "--epochs", "4", "--batch-size", "16",
                                        "--data", Path.Combine(temp, "data"), "--output", model, "--json", json, "--threads", "1");

        Assert.AreEqual(0, code, error);
        Assert.AreEqual("", error);
        StringAssert.Contains(output, "epoch 4/4", "plain progress lines show each epoch's end");
        StringAssert.Contains(output, "test accuracy");
        Assert.IsFalse(output.Contains('\u001b'), "no escape codes when the output is not a terminal");

        var results = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.AreEqual("mnist", (string?)results["dataset"]);
        Assert.AreEqual("c1", (string?)results["architecture"]);
        Assert.AreEqual(4, (int)results["epochs"]!);
        Assert.AreEqual(240, (int)results["train_images"]!);
        Assert.AreEqual(80, (int)results["test_images"]!);
        Assert.AreEqual(4, results["history"]!.AsArray().Count);
        double accuracy = (double)results["test_accuracy"]!;
        Assert.IsTrue(accuracy >= 0.6, $"four quadrant classes are easy; accuracy {accuracy} (chance 0.25)");
        Assert.IsTrue((double)results["train_seconds"]! > 0);

        var ml = new Microsoft.ML.MLContext(seed: 1);
        using var loaded = (ImageClassifierTransformer)ml.Model.Load(model, out var schema);
        Assert.IsNotNull(schema.GetColumnOrNull("Image"));
        Assert.IsNotNull(schema.GetColumnOrNull("Label"));
        Assert.AreEqual(ClassifierArchitecture.MnistC1, loaded.Architecture);
        var test = Microsoft.ML.ImageDatasetCatalog.LoadKnownDataset(ml.Data, KnownDatasets.Mnist, train: false, Path.Combine(temp, "data"));
        var predictions = ((Microsoft.ML.ITransformer)loaded).Transform(test);
        var labels = Microsoft.ML.Data.ColumnCursorExtensions.GetColumn<uint>(predictions, "Label").ToArray();
        var predicted = Microsoft.ML.Data.ColumnCursorExtensions.GetColumn<uint>(predictions, "PredictedLabel").ToArray();
        double reloadedAccuracy = labels.Zip(predicted).Count(p => p.First == p.Second) / (double)labels.Length;
        Assert.AreEqual(accuracy, reloadedAccuracy, 1e-9, "the saved model predicts as the trained one did");
    }

    [TestMethod]
    public void LimitSlicesBothSplits()
    {
        string json = Path.Combine(temp, "limited.json");

        var (code, _, error) = Run("train-classifier", "--dataset", "mnist", "--architecture", "c1", "--epochs", "1", "--limit", "50",
                                   "--data", Path.Combine(temp, "data"), "--output", Path.Combine(temp, "limited.zip"), "--json", json);

        Assert.AreEqual(0, code, error);
        var results = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.AreEqual(50, (int)results["train_images"]!);
        Assert.AreEqual(50, (int)results["test_images"]!);
    }

    [TestMethod]
    public void FailingRunExitsWithCode1AndOneLineWithoutStackTrace()
    {
        string empty = Directory.CreateDirectory(Path.Combine(temp, "empty")).FullName;
        string[] args = ["train-classifier", "--dataset", "mnist", "--architecture", "c1", "--data", empty, "--output", Path.Combine(temp, "never.zip")];

        var (code, _, error) = Run(args);

        Assert.AreEqual(Program.Failure, code);
        var lines = Lines(error);
        Assert.AreEqual(1, lines.Length, error);
        StringAssert.Contains(lines[0], "Dataset 'mnist' was not found");
        Assert.IsFalse(error.Contains("   at "), "no stack trace without --verbose");
        Assert.IsFalse(File.Exists(Path.Combine(temp, "never.zip")));

        var (verboseCode, _, verboseError) = Run([.. args, "--verbose"]);
        Assert.AreEqual(Program.Failure, verboseCode);
        StringAssert.Contains(verboseError, "FileNotFoundException");
        StringAssert.Contains(verboseError, " at ", "--verbose shows the stack trace");
    }

    [TestMethod]
    public void GlobalOptionsGoBeforeOrAfterTheCommand()
    {
        var root = Program.CreateRootCommand(CliConsole.Plain(TextWriter.Null, TextWriter.Null));
        var globals = root.Options.Where(o => o.Recursive).Select(o => o.Name).ToArray();
        CollectionAssert.IsSubsetOf(new[] { "--threads", "--device", "--seed", "--data", "--verbose" }, globals);

        var before = root.Parse(["--seed", "7", "--device", "cpu", "bench", "classifier", "--quick"]);
        var after = root.Parse(["bench", "classifier", "--quick", "--seed", "7", "--device", "cpu"]);
        Assert.AreEqual(0, before.Errors.Count);
        Assert.AreEqual(0, after.Errors.Count);
        Assert.AreEqual(7, before.GetValue<int>("--seed"));
        Assert.AreEqual(7, after.GetValue<int>("--seed"));
    }

    [TestMethod]
    public void BenchClassifierWritesWellFormedJsonRows()
    {
        SyntheticIdx.Write(Path.Combine(temp, "data", KnownDatasets.FashionMnist), trainRows: 96, testRows: 32, seed: 2);
        string json = Path.Combine(temp, "bench-classifier.json");

        // --quick on the synthetic sets: its image caps exceed their sizes, so it trains on all 96 images, quickly.
        var (code, output, error) = Run("bench", "classifier", "--quick", "--only", "mnist/c1,fashion-mnist/c1", "--threads", "1",
                                        "--data", Path.Combine(temp, "data"), "--json", json);

        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "--quick shortens:");
        var results = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.IsTrue((bool)results["quick"]!);
        StringAssert.Contains((string?)results["quick_shortens"], "mnist/c1: 2 of 10 epochs");
        var rows = results["rows"]!.AsArray();
        CollectionAssert.AreEqual(new[] { "mnist", "fashion-mnist" }, rows.Select(r => (string?)r!["dataset"]).ToArray());
        foreach (var row in rows)
        {
            Assert.AreEqual("c1", (string?)row!["architecture"]);
            Assert.AreEqual(2, (int)row["epochs"]!);
            Assert.IsTrue((double)row["test_accuracy"]! is >= 0 and <= 1);
            Assert.IsTrue((double)row["train_seconds"]! > 0);
        }
        Assert.AreEqual(ClassifierBenchmark.MnistTarget, (double)rows[0]!["target"]!);
        Assert.IsNotNull(rows[0]!["meets_target"]);
        Assert.IsNull(rows[1]!["target"], "C1 on Fashion-MNIST has no target");
    }

    [TestMethod]
    public void BenchEngineRunsTheChosenCaseAndReportsItsBatchAndRounds()
    {
        string json = Path.Combine(temp, "bench-engine.json");

        var (code, output, error) = Run("bench", "engine", "--quick", "--only", "INPUT_GRADIENT", "--threads", "1",
                                        "--python", "/no/such/python3", "--json", json);

        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "PyTorch did not run");
        var results = JsonNode.Parse(File.ReadAllText(json))!;
        var row = results["rows"]!.AsArray().Single()!;
        Assert.AreEqual("input_gradient", (string?)row["case"]);
        Assert.AreEqual(EngineBenchmark.BatchSize, (int)row["batch_size"]!);
        Assert.AreEqual(EngineBenchmarkOptions.Quick.Rounds, (int)row["rounds"]!);
        Assert.AreEqual(EngineBenchmarkOptions.Quick.StepsPerRound, (int)row["steps_per_round"]!);
        Assert.IsTrue((double)row["mldefense_images_per_s"]! > 0);
        Assert.IsNull(row["ratio"]);
        Assert.AreEqual(EngineBenchmarkOptions.Quick.Rounds, results["round_images_per_s"]!["input_gradient"]!["mldefense"]!.AsArray().Count);
    }

    private static IEnumerable<(string[] Path, Command Command)> Commands(Command command, string[] path)
    {
        yield return (path, command);
        foreach (var sub in command.Subcommands)
            foreach (var nested in Commands(sub, [.. path, sub.Name]))
                yield return nested;
    }
}

// ---- bench miaed (issue 7) ----------------------------------------------------------------------------------------

/// <summary><c>mldefense bench miaed</c>'s command line: help, presets, and bad arguments (exit code 2, one line).</summary>
[TestClass]
public sealed class CliBenchMiaedTests
{
    [TestMethod]
    public void HelpListsTheOptionsTheQuickShorteningAndTheTargets()
    {
        var (code, output, error) = Run("bench", "miaed", "--help");

        Assert.AreEqual(0, code, error);
        foreach (var option in new[] { "--quick", "--only <DATASET/ARCH>", "--json <PATH>", "--model-c1-mnist <PATH>", "--model-c1-fashion-mnist <PATH>", "--model-c2-cifar10-subset <PATH>",
                                       "--detector-epochs <N>", "--detector-width <C>", "--paper-networks", "--official-weights", "--train-images <N>", "--detectors <DIR>", "--ablation <VARIANTS>", "--second-opinion <CASE=PATH>", "--selection-fgsm <CASE=PATH>", "--selection-images <N>",
                                       "--curve <EPOCHS>", "--curve-images <N>" })
            StringAssert.Contains(output, option);
        StringAssert.Contains(output, "mnist/c1: first 12000 training images, first 300 test images", "--quick says what it shortens");
        StringAssert.Contains(output, "7 of 100 autoencoder epochs");
        StringAssert.Contains(output, "accuracy >= 0.962 against PGD");
        StringAssert.Contains(output, "\"quick_shortens\"", "--json describes its shape");
    }

    [TestMethod]
    public void BadArgumentsExitWithCode2AndOneLine()
    {
        string model = Path.Combine(Path.GetTempPath(), $"mldefense-miaed-cli-{Guid.NewGuid():N}.zip");
        File.WriteAllText(model, "not read: the arguments are rejected first");
        try
        {
            string[][] cases =
            [
                ["bench", "miaed", "--bogus"],
                ["bench", "miaed", "--only", "mnist/zz"],
                ["bench", "miaed", "--only", "mnist/c1,mnist/c1"],
                ["bench", "miaed", "--model-c1-mnist", "/no/such/model.zip"],
                ["bench", "miaed", "--quick", "--model-c2-cifar10-subset", model],
                ["bench", "miaed", "--only", "fashion-mnist/c1", "--model-c1-mnist", model],
                ["bench", "miaed", "--json", "/no/such/folder/out.json"],
                ["bench", "miaed", "--quick", "--threads", "0"],
                ["bench", "miaed", "--quick", "--detector-epochs", "0"],
                ["bench", "miaed", "--quick", "--detector-width", "x"],
                ["bench", "miaed", "--quick", "--train-images", "19"],
                ["bench", "miaed", "--quick", "--paper-networks", "yes"],
                ["bench", "miaed", "--quick", "--official-weights", "no"],
                ["bench", "miaed", "--quick", "--detectors", model],
                ["bench", "miaed", "--second-opinion", "mnist/c1"],
                ["bench", "miaed", "--second-opinion", "mnist/c9=" + model],
                ["bench", "miaed", "--second-opinion", "mnist/c1=/no/such/model.zip"],
                ["bench", "miaed", "--quick", "--second-opinion", "fashion-mnist/c1=" + model],
                ["bench", "miaed", "--quick", "--second-opinion", "mnist/c1=" + model, "--second-opinion", "MNIST/C1=" + model],
                ["bench", "miaed", "--quick", "--selection-fgsm", "fashion-mnist/c1=" + model],
                ["bench", "miaed", "--quick", "--selection-fgsm", "mnist/c1=/no/such/model.zip"],
                ["bench", "miaed", "--quick", "--selection-images", "0"],
            ];
            foreach (var args in cases)
            {
                AssertUsageError(Run(args), string.Join(' ', args));
            }
            var (_, _, mismatch) = Run("bench", "miaed", "--quick", "--model-c2-cifar10-subset", model);
            StringAssert.Contains(mismatch, "--model-c2-cifar10-subset: the run has no cifar10-subset/c2 case");
            StringAssert.Contains(Run("bench", "miaed", "--quick", "--detectors", model).Error, "is a file, not a folder");
            StringAssert.Contains(Run("bench", "miaed", "--quick", "--selection-fgsm", "fashion-mnist/c1=" + model).Error, "--selection-fgsm: the run has no fashion-mnist/c1 case");
        }
        finally
        {
            File.Delete(model);
        }
    }
}

// ---- bench aegan (issue 6) ----------------------------------------------------------------------------------------

/// <summary><c>mldefense bench aegan</c>: help, argument errors, and a tiny real run on synthetic IDX data.</summary>
[TestClass]
public sealed class CliAeganTests
{
    private static string temp = "";

    [ClassInitialize]
    public static void CreateData(TestContext _)
    {
        temp = Directory.CreateTempSubdirectory("mldefense-cli-aegan-").FullName;
        SyntheticIdx.Write(Path.Combine(temp, "data", KnownDatasets.Mnist), trainRows: 200, testRows: 40, seed: 3);
    }

    [ClassCleanup]
    public static void DeleteData() => Directory.Delete(temp, recursive: true);

    [TestMethod]
    public void HelpDocumentsTheOptionsAndTheirDefaults()
    {
        var (code, output, error) = Run("bench", "aegan", "--help");

        Assert.AreEqual(0, code, error);
        foreach (var option in new[] { "--quick", "--only", "--model", "--purifier <DATASET=PATH>", "--save-purifiers <DIR>", "--purifier-epochs",
                                       "--purifier-width", "--purifier-images", "--purifier-reconstruction-weight <LAMBDA>", "--purifier-latent <K>", "--purifier-noise-bound <B>", "--purifier-learning-rate <RATE>", "--purifier-batch-size <N>", "--search-steps",
                                       "--defensegan-restarts",
                                       "--defensegan-iterations", "--images", "--defensegan-images", "--bpda-images", "--white-box", "--white-box-images <N>", "--white-box-attacks <ATTACKS>",
                                       "--white-box-defensegan-images <N>", "--white-box-defensegan-attacks <ATTACKS>", "--white-box-defensegan-batch-size <N>", "--json <PATH>" })
            StringAssert.Contains(output, option);
        StringAssert.Contains(output, "mnist: A 1 of 10 epochs", "--quick says what it shortens");
        StringAssert.Contains(output, "Default: 15 (the paper's)");
        StringAssert.Contains(output, "Default: 10 (Defense-GAN's)");
        StringAssert.Contains(output, "Default: 200 (Defense-GAN's)");
    }

    [TestMethod]
    [DataRow("bench", "aegan", "--bogus")]
    [DataRow("bench", "aegan", "--only", "cifar10-subset")]
    [DataRow("bench", "aegan", "--model", "mnist")]
    [DataRow("bench", "aegan", "--model", "imagenet=/tmp/a.zip")]
    [DataRow("bench", "aegan", "--model", "mnist=/no/such/model.zip")]
    [DataRow("bench", "aegan", "--purifier", "mnist=/no/such/purifier.zip")]
    [DataRow("bench", "aegan", "--purifier", "cifar10-subset=/tmp/a.zip")]
    [DataRow("bench", "aegan", "--search-steps", "-1")]
    [DataRow("bench", "aegan", "--defensegan-restarts", "0")]
    [DataRow("bench", "aegan", "--images", "0")]
    [DataRow("bench", "aegan", "--purifier-width", "x")]
    [DataRow("bench", "aegan", "--purifier-images", "1")]
    [DataRow("bench", "aegan", "--purifier-reconstruction-weight", "0")]
    [DataRow("bench", "aegan", "--purifier-latent", "0")]
    [DataRow("bench", "aegan", "--purifier-noise-bound", "-0.1")]
    [DataRow("bench", "aegan", "--purifier-learning-rate", "0")]
    [DataRow("bench", "aegan", "--purifier-batch-size", "1")]
    [DataRow("bench", "aegan", "--json", "/no/such/folder/out.json")]
    [DataRow("bench", "aegan", "--curve", "5,10")]
    [DataRow("bench", "aegan", "--curve", "5,ten", "--save-purifiers", "/tmp")]
    [DataRow("bench", "aegan", "--curve", "0", "--save-purifiers", "/tmp")]
    [DataRow("bench", "aegan", "--curve-images", "0")]
    [DataRow("bench", "aegan", "--white-box-images", "-1")]
    [DataRow("bench", "aegan", "--white-box-defensegan-attacks", "BIM")]
    [DataRow("bench", "aegan", "--white-box-attacks", "FGSM,MIM")]
    [DataRow("bench", "aegan", "--white-box-defensegan-batch-size", "0")]
    [DataRow("bench", "miaed", "--curve", "5")]
    [DataRow("bench", "miaed", "--ablation", "caed,caed")]
    [DataRow("bench", "miaed", "--ablation", "full")]
    [DataRow("bench", "miaed", "--curve", "-5", "--detectors", "/tmp")]
    public void BadArgumentsExitWithCode2AndOneLine(params string[] args)
    {
        AssertUsageError(Run(args));
    }

    [TestMethod]
    public void TinyRunWritesTable1AndWellFormedJson()
    {
        string json = Path.Combine(temp, "bench-aegan.json");
        var (code, output, error) = Run("bench", "aegan", "--quick", "--only", "mnist", "--threads", "1", "--data", Path.Combine(temp, "data"),
                                        "--purifier-epochs", "1", "--purifier-width", "8", "--purifier-images", "40", "--purifier-reconstruction-weight", "0.5",
                                        "--purifier-latent", "20", "--purifier-noise-bound", "0.5", "--purifier-learning-rate", "0.0002", "--purifier-batch-size", "20", "--images", "12", "--defensegan-images", "2",
                                        "--defensegan-restarts", "2", "--defensegan-iterations", "4", "--bpda-images", "3", "--json", json,
                                        "--save-purifiers", Path.Combine(temp, "purifiers"));

        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "| Dataset | Attack ");
        StringAssert.Contains(output, "AE-GAN+sr");
        StringAssert.Contains(output, "purifier trained for this run");
        StringAssert.Contains(output, "--quick shortens:");
        var results = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.IsTrue((bool)results["quick"]!);
        StringAssert.Contains((string?)results["quick_shortens"], "AE-GAN 1 of 60 epochs at width 8 of 64 on the first 40 training images");
        Assert.AreEqual(40, (int)results["cases"]![0]!["purifier_train_images"]!, "--purifier-images sets AE-GAN's training set");
        StringAssert.Contains((string?)results["quick_shortens"], "reconstruction weight 0.5 (not 1), latent 20 (not 128), noise bound 0.5 (not 0.3)");
        Assert.AreEqual(0.5, (double)results["cases"]![0]!["purifier_reconstruction_weight"]!);
        Assert.AreEqual(20, (int)results["cases"]![0]!["purifier_latent_dimension"]!);
        Assert.AreEqual(0.5, (double)results["cases"]![0]!["purifier_noise_bound"]!);
        Assert.AreEqual(0.0002, (double)results["cases"]![0]!["purifier_learning_rate"]!);
        Assert.AreEqual(20, (int)results["cases"]![0]!["purifier_batch_size"]!);
        StringAssert.Contains((string?)results["quick_shortens"], "at width 8 of 64 on the first 40 training images, batch 20 (not 100)",
                              "the paper's learning rate is not a departure; batch 20 is");
        var rows = results["rows"]!.AsArray();
        var keys = rows.Select(r => $"{r!["attack"]}/{r["method"]}").ToArray();
        foreach (var attack in new[] { "FGSM", "PGD", "CW-L2" })
            foreach (var method in new[] { "none", "magnet", "defensegan", "aegan" })
                CollectionAssert.Contains(keys, $"{attack}/{method}");
        CollectionAssert.Contains(keys, "BPDA-PGD/aegan");
        foreach (var row in rows)
        {
            Assert.IsTrue((double)row!["accuracy"]! is >= 0 and <= 1);
            Assert.IsTrue((double)row["ms_per_image"]! >= 0);
            int steps = (int)row["search_steps"]!;
            int expected = (string?)row["method"] switch { "aegan" => 15, "defensegan" => 2 * 4, _ => 0 };
            Assert.AreEqual(expected, steps, $"{row["attack"]}/{row["method"]}");
            Assert.AreEqual((string?)row["method"] == "defensegan" ? 2 : (string?)row["attack"] == "BPDA-PGD" ? 3 : 12, (int)row["images"]!);
        }
        var none = rows.First(r => (string?)r!["method"] == "none")!;
        Assert.AreEqual((double)none["undefended_accuracy"]!, (double)none["accuracy"]!);
        var c = results["cases"]!.AsArray().Single()!;
        Assert.AreEqual("mnist", (string?)c["dataset"]);
        Assert.AreEqual(3, c["detection"]!.AsArray().Count);
        Assert.AreEqual(16, c["search_trace"]!["clean"]!.AsArray().Count, "L + 1 distances");
        Assert.IsTrue((double)c["search_cost"]!["speedup"]! > 0);
        Assert.IsNotNull(c["purifier_losses"]);
        Assert.IsNull(c["purifier"]);

        // The saved purifier is evaluated again, without training, under other search settings.
        string saved = Path.Combine(temp, "purifiers", "aegan-mnist.zip");
        Assert.IsTrue(File.Exists(saved), "--save-purifiers writes DIR/aegan-DATASET.zip");
        Assert.IsFalse(File.Exists(Path.Combine(temp, "purifiers", "aegan-mnist.checkpoint")), "the training checkpoint is gone once the purifier is fitted");
        string again = Path.Combine(temp, "bench-aegan-again.json");
        (code, output, error) = Run("bench", "aegan", "--quick", "--only", "mnist", "--threads", "1", "--data", Path.Combine(temp, "data"),
                                    "--purifier", $"mnist={saved}", "--search-steps", "3", "--search-step-size", "0.05", "--images", "12",
                                    "--defensegan-images", "0", "--bpda-images", "0", "--json", again);
        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, $"purifier {saved}");
        var reloadedRun = JsonNode.Parse(File.ReadAllText(again))!;
        string shortens = (string)reloadedRun["quick_shortens"]!;
        StringAssert.Contains(shortens, "A 1 of 10 epochs", "A was trained by this run");
        Assert.IsFalse(shortens.Contains("AE-GAN"), $"the loaded purifier was not trained by this run: {shortens}");
        var reloaded = reloadedRun["cases"]![0]!;
        Assert.AreEqual(saved, (string?)reloaded["purifier"]);
        Assert.AreEqual(0.0, (double)reloaded["purifier_train_seconds"]!, "nothing was trained");
        Assert.IsNull(reloaded["purifier_losses"]);
        Assert.AreEqual(40, (int)reloaded["purifier_train_images"]!, "what the loaded purifier was trained on");
        Assert.AreEqual((double)c["threshold"]!, (double)reloaded["threshold"]!, "the same purifier");
        Assert.AreEqual((double)c["clean_test_flagged"]!, (double)reloaded["clean_test_flagged"]!, "the same detector on the same images");
        Assert.AreEqual(0.05, (double)reloaded["search_step_size"]!, "the command's search settings replace the saved ones");
        Assert.AreEqual(4, reloaded["search_trace"]!["clean"]!.AsArray().Count, "L + 1 distances with --search-steps 3");
        foreach (var row in reloadedRun["rows"]!.AsArray())
            Assert.AreEqual("gray-box", (string?)row!["threat"], "without --white-box every row attacks A alone");

        // --white-box adds the rows whose attacks go through the defense, each marked and graded by its threat.
        string white = Path.Combine(temp, "bench-aegan-white.json");
        (code, output, error) = Run("bench", "aegan", "--quick", "--only", "mnist", "--threads", "1", "--data", Path.Combine(temp, "data"),
                                    "--purifier", $"mnist={saved}", "--search-steps", "2", "--images", "6", "--defensegan-images", "0", "--bpda-images", "0",
                                    "--white-box", "--white-box-images", "4", "--white-box-attacks", "FGSM,pgd,CW-L2", "--white-box-defensegan-images", "2",
                                    "--white-box-defensegan-attacks", "fgsm",
                                    "--white-box-defensegan-batch-size", "1", "--defensegan-restarts", "2", "--defensegan-iterations", "2", "--json", white);
        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "White-box rows");
        StringAssert.Contains(output, "A∘AE-GAN+sr, search unrolled");
        var whiteRows = JsonNode.Parse(File.ReadAllText(white))!["rows"]!.AsArray().Select(r => r!).ToList();
        var whiteBox = whiteRows.Where(r => (string?)r["threat"] == "white-box").ToList();
        CollectionAssert.AreEquivalent(new[] { "reconstruction", "search", "defensegan-search" }, whiteBox.Select(r => (string)r["attack_through"]!).Distinct().ToArray());
        Assert.AreEqual(3 * 3 + 1, whiteBox.Count, "per attack: magnet and aegan through G∘F, aegan through the search; FGSM through the Defense-GAN-style search");
        foreach (var row in whiteBox)
        {
            Assert.IsTrue((double)row["attack_ms_per_image"]! > 0);
            Assert.AreEqual((string?)row["attack_through"] == "defensegan-search" ? 2 : 4, (int)row["images"]!);
            Assert.IsNotNull(row["paper_white_box"], "Table 1 has every MNIST white-box cell");
            Assert.AreEqual((string?)row["method"] == "aegan" ? 0.97 : null, (double?)row["target"]);
        }
        var grayAegan = whiteRows.First(r => (string?)r["threat"] == "gray-box" && (string?)r["method"] == "aegan" && (string?)r["attack"] == "FGSM");
        Assert.AreEqual(0.882, (double)grayAegan["target"]!, "gray-box rows are graded against the paper's gray-box figure");
        Assert.AreEqual("classifier", (string?)grayAegan["attack_through"]);
    }

    [TestMethod]
    public void AnUnknownCommandIsNamedWithTheNearestOne()
    {
        var result = Run("trian");
        AssertUsageError(result);
        StringAssert.Contains(result.Error, "unknown command 'trian'; did you mean 'train-classifier'?");
        var bench = Run("bench", "engnie");
        AssertUsageError(bench);
        StringAssert.Contains(bench.Error, "unknown command 'engnie' of 'bench'; did you mean 'engine'?");
    }
}

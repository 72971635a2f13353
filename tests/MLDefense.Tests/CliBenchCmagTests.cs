using MLDefense.Cli.Commands;
using static MLDefense.Tests.CliRunner;

namespace MLDefense.Tests;

/// <summary><c>mldefense bench cmag</c>'s command line: help and bad arguments (exit code 2, one line).</summary>
[TestClass]
public sealed class CliBenchCmagTests
{
    [TestMethod]
    public void HelpListsTheOptionsTheQuickShorteningAndTheTarget()
    {
        var (code, output, error) = Run("bench", "cmag", "--help");
        Assert.AreEqual(0, code, error);
        foreach (var option in new[] { "--quick", "--json <PATH>", "--train-images <N>", "--test-images <N>", "--classifier-epochs <N>", "--cmag-epochs <N>",
                                       "--cmag-batch <N>", "--cw-constant <C>", "--cw-iterations <N>", "--cw-steps <N>", "--cw-learning-rate <LR>", "--baselines <METHOD>",
                                       "--only <DATASET>" })
            StringAssert.Contains(output, option);
        StringAssert.Contains(output, "mnist: 5000 train / 200 test images, classifier 10 epochs, CMAG 20 + 20 epochs at batch 100", "--quick says what it shortens");
        StringAssert.Contains(output, "Run only these datasets (comma-separated or repeated): mnist, fashion-mnist, gtsrb-subset");
        StringAssert.Contains(output, "detection accuracy >= 0.99");
        StringAssert.Contains(output, "\"detection_accuracy\", \"tpr\", \"fpr\", \"auc\", \"mean_ssim\", \"mean_l2\"", "--json describes its rows");
        StringAssert.Contains(output, "\"clean_fpr\"");
        StringAssert.Contains(output, "method is cmag, magnet or defensegan");
        StringAssert.Contains(output, "\"image_grids\"");
    }

    [TestMethod]
    public void BaselinesDefaultToBothWhenTheOptionIsNotGiven()
    {
        var option = BenchCmagCommand.BaselinesOption();
        var command = new System.CommandLine.RootCommand { option, new System.CommandLine.Option<bool>("--quick") };
        IReadOnlyList<string> Selected(params string[] args) => BenchCmagCommand.SelectedBaselines(command.Parse(args), option);
        CollectionAssert.AreEqual(new[] { "magnet", "defensegan" }, Selected("--quick").ToArray(), "no --baselines: both (an omitted array option reads as empty)");
        CollectionAssert.AreEqual(Array.Empty<string>(), Selected("--baselines", "none").ToArray());
        CollectionAssert.AreEqual(new[] { "defensegan" }, Selected("--baselines", "defensegan").ToArray());
        CollectionAssert.AreEqual(new[] { "magnet", "defensegan" }, Selected("--baselines", "magnet", "--baselines", "defensegan").ToArray());
    }

    [TestMethod]
    public void BadArgumentsExitWithCode2AndOneLine()
    {
        string[][] cases =
        [
            ["bench", "cmag", "--bogus"],
            ["bench", "cmag", "--quick", "--cmag-epochs", "0"],
            ["bench", "cmag", "--quick", "--train-images", "19"],
            ["bench", "cmag", "--quick", "--cw-constant", "-1"],
            ["bench", "cmag", "--quick", "--cw-learning-rate", "x"],
            ["bench", "cmag", "--json", "/no/such/folder/out.json"],
            ["bench", "cmag", "--quick", "--baselines", "magnet,feature-squeezing"],
            ["bench", "cmag", "--quick", "--only", "fashion-mnist,cifar10-subset"],
            ["bench", "cmag", "--only", ","],
        ];
        foreach (var args in cases) AssertUsageError(Run(args), string.Join(' ', args));
        var (_, _, error) = Run("bench", "cmag", "--quick", "--only", "svhn");
        StringAssert.Contains(error, "--only: svhn is not one of the datasets mnist, fashion-mnist, gtsrb-subset", "the error names the option and the choices");
    }
}

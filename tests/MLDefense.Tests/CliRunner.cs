using MLDefense.Cli;
using MLDefense.Cli.Infrastructure;

namespace MLDefense.Tests;

/// <summary>
/// Runs <c>mldefense</c> in-process, the one way the CLI tests do it: <see cref="Program.Run"/> over a plain console that
/// writes to strings, so that a test sees the exit code and exactly what went to stdout and stderr.
/// </summary>
internal static class CliRunner
{
    /// <summary>Runs the command line <paramref name="args"/>; returns the exit code and what it wrote to stdout and stderr.</summary>
    public static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, CliConsole.Plain(output, error));
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>The non-empty lines of <paramref name="text"/>, trimmed.</summary>
    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// Asserts what every command does with a bad command line: exit code <see cref="Program.Usage"/>, one line on stderr
    /// that starts with <c>mldefense: </c>, and nothing on stdout. <paramref name="what"/> prefixes the failure messages.
    /// </summary>
    public static void AssertUsageError((int ExitCode, string Output, string Error) result, string what = "")
    {
        var (code, output, error) = result;
        string context = what.Length > 0 ? $"{what}: " : "";
        Assert.AreEqual(Program.Usage, code, $"{context}{error}");
        var lines = Lines(error);
        Assert.AreEqual(1, lines.Length, $"{context}{error}");
        StringAssert.StartsWith(lines[0], "mldefense: ", what);
        Assert.AreEqual("", output, $"{context}nothing but the error is written");
    }

    /// <summary>
    /// Trains a tiny C1 on the synthetic MNIST under <paramref name="data"/> (2 epochs, batch 16, one thread) and saves it
    /// to <paramref name="model"/>, for the tests that attack a saved classifier.
    /// </summary>
    public static void TrainTinyClassifier(string data, string model)
    {
        var (code, _, error) = Run("train-classifier", "--dataset", "mnist", "--architecture", "c1", "--epochs", "2", "--batch-size", "16",
                                   "--data", data, "--output", model, "--threads", "1");
        Assert.AreEqual(0, code, error);
    }
}

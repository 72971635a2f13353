using System.Globalization;
using Microsoft.ML;
using TorchSharp;
using KnownDatasets = MLDefense.Data.KnownDatasets;

namespace MLDefense.Samples;

/// <summary>Trains and saves the defended classifier, then predicts a few test images with the saved zip.</summary>
public static class Program
{
    private const string Usage = """
        DefendedClassifier: trains classifier A on Fashion-MNIST, fits the defended pipeline
        (SAEC → AE-GAN+sr purifier → classifier A → MIAED), evaluates it briefly, saves it to one zip,
        and predicts a few test images with the saved model.

        Usage: dotnet run -c Release --project samples/DefendedClassifier -- [options]

          --model PATH            the zip to write (and read) (default: DefendedClassifier.zip)
          --data DIR              folder with Fashion-MNIST's IDX files (default: Debian's /usr/share/datasets/fashion-mnist)
          --train-images N        first N training images, 0 = all 60000 (default: 3000)
          --test-images N         first N test images evaluated, 0 = all 10000 (default: 500)
          --epochs N              classifier A's epochs (default: 2; the paper's: 10)
          --defense-epochs N      AE-GAN+sr's and MIAED's epochs, or "paper" for 60 and 100 (default: 2)
          --networks SIZE         tiny | small | paper: the defenses' network widths (default: small)
          --epsilon X             FGSM's L∞ budget in the evaluation (default: 0.3)
          --predictions N         test images predicted with the saved zip at the end (default: 5)
          --full                  the papers' settings: all images, 10 classifier epochs, paper networks and epochs
          --predict-only          skip training: load --model and predict
          --seed N                seed of everything random (default: 1)
          --threads N             libtorch threads (default: the processor count)
          --help                  this text
        """;

    /// <summary>The entry point.</summary>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the sample with command-line arguments; returns the exit code (0 done, 1 failed, 2 bad arguments).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (FormatException ex)
        {
            error.WriteLine($"DefendedClassifier: {ex.Message} (see --help)");
            return 2;
        }
        if (options.Help)
        {
            output.WriteLine(Usage);
            return 0;
        }

        try
        {
            torch.set_num_threads(options.Threads);
            var settings = options.Settings;
            if (!options.PredictOnly) DefendedClassifier.Train(settings, output);
            else if (!File.Exists(settings.ModelPath)) throw new FileNotFoundException($"No model at {Path.GetFullPath(settings.ModelPath)}: train one first (leave out --predict-only).");

            DefendedClassifier.MLNetModelPath = Path.GetFullPath(settings.ModelPath);
            PredictSome(settings, options.Predictions, output);
            return 0;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
        {
            error.WriteLine($"DefendedClassifier: {ex.Message}");
            return 1;
        }
    }

    /// <summary>Predicts the first test images one by one with the saved model, as an app would.</summary>
    private static void PredictSome(TrainingSettings settings, int count, TextWriter output)
    {
        if (count == 0) return;
        var ml = new MLContext(seed: settings.Seed);
        var test = ml.Data.TakeRows(ml.Data.LoadKnownDataset(KnownDatasets.FashionMnist, train: false, settings.DataDirectory), count);
        output.WriteLine($"Predicting {count} test images with {DefendedClassifier.MLNetModelPath}:");
        foreach (var (input, index) in ml.Data.CreateEnumerable<ModelInput>(test, reuseRowObject: false, ignoreMissingColumns: true).Select((row, i) => (row, i)))
        {
            var truth = input.LabelIndex;
            var result = DefendedClassifier.Predict(new ModelInput { Image = input.Image });
            var best = DefendedClassifier.GetSortedScoresWithLabels(result).First();
            var flags = new[] { ("SAEC", result.SaecFlag), ("AE-GAN", result.AeGanFlag), ("MIAED", result.MiaedFlag) }.Where(f => f.Item2).Select(f => f.Item1).ToList();
            output.WriteLine($"  #{index}: {DefendedClassifier.ClassNames[truth],-11} → {best.Key,-11} ({best.Value:P1}); " +
                $"scores SAEC {result.SaecScore:F4}, AE-GAN {result.AeGanScore:F4}, MIAED {result.MiaedScore:F4}; " +
                $"flags: {(flags.Count == 0 ? "none" : string.Join(", ", flags))}");
        }
    }

    private sealed record Options(TrainingSettings Settings, int Predictions, int Threads, bool PredictOnly, bool Help)
    {
        public static Options Parse(string[] args)
        {
            // --full first, so that options given with it change its settings rather than the defaults'.
            var settings = args.Contains("--full") ? TrainingSettings.Full : new TrainingSettings();
            int predictions = 5, threads = Environment.ProcessorCount;
            bool predictOnly = false, help = false;
            for (int i = 0; i < args.Length; i++)
            {
                string name = args[i];
                string Value() => i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
                    ? args[++i] : throw new FormatException($"{name} needs a value");
                int Count(int minimum)
                {
                    var text = Value();
                    return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= minimum
                        ? n : throw new FormatException($"{name} must be an integer ≥ {minimum}, got '{text}'");
                }
                switch (name)
                {
                    case "--model": settings = settings with { ModelPath = Value() }; break;
                    case "--data": settings = settings with { DataDirectory = Value() }; break;
                    case "--train-images": settings = settings with { TrainImages = Count(0) }; break;
                    case "--test-images": settings = settings with { TestImages = Count(0) }; break;
                    case "--epochs": settings = settings with { ClassifierEpochs = Count(1) }; break;
                    case "--defense-epochs":
                        settings = settings with { DefenseEpochs = i + 1 < args.Length && args[i + 1] == "paper" ? Paper(ref i) : Count(1) };
                        break;
                    case "--networks":
                        var size = Value();
                        settings = settings with
                        {
                            Networks = Enum.TryParse<NetworkSize>(size, ignoreCase: true, out var s) && Enum.IsDefined(s)
                                ? s : throw new FormatException($"--networks must be tiny, small or paper, got '{size}'"),
                        };
                        break;
                    case "--epsilon":
                        var text = Value();
                        settings = settings with
                        {
                            FgsmEpsilon = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var e) && e > 0 && e <= 1
                                ? e : throw new FormatException($"--epsilon must be a number in (0, 1], got '{text}'"),
                        };
                        break;
                    case "--predictions": predictions = Count(0); break;
                    case "--seed": settings = settings with { Seed = Count(0) }; break;
                    case "--threads": threads = Count(1); break;
                    case "--full": break;
                    case "--predict-only": predictOnly = true; break;
                    case "--help" or "-h": help = true; break;
                    default: throw new FormatException($"unknown option '{name}'");
                }
            }
            return new Options(settings, predictions, threads, predictOnly, help);
        }

        private static int? Paper(ref int i)
        {
            i++;
            return null;
        }
    }
}

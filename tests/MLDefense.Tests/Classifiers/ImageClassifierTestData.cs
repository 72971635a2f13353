using Microsoft.ML;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Tests.MLNet;

namespace MLDefense.Tests.Classifiers;

/// <summary>Small synthetic image sets the image-classifier tests train on in seconds.</summary>
internal static class ImageClassifierTestData
{
    /// <summary>
    /// Separable classes over uniform noise in [0, 0.3]: class 0 brightens the left half, class 1 the right half,
    /// class 2 the top half (and class 3, when asked for, the bottom half). Labels are a key of <paramref name="classes"/> values.
    /// </summary>
    public static IDataView Patterns(int rowsPerClass, int seed, ImageShape? shape = null, int classes = 3, string imageColumn = "Image")
    {
        var s = shape ?? new ImageShape(1, 28, 28);
        var random = new Random(seed);
        int rows = rowsPerClass * classes;
        var pixels = new float[rows * s.Size];
        var labels = new int[rows];
        for (int row = 0; row < rows; row++)
        {
            int label = row % classes;
            labels[row] = label;
            for (int c = 0; c < s.Channels; c++)
                for (int y = 0; y < s.Height; y++)
                    for (int x = 0; x < s.Width; x++)
                    {
                        bool bright = label switch
                        {
                            0 => x < s.Width / 2,
                            1 => x >= s.Width / 2,
                            2 => y < s.Height / 2,
                            _ => y >= s.Height / 2,
                        };
                        pixels[row * s.Size + (c * s.Height + y) * s.Width + x] = (float)(random.NextDouble() * 0.3 + (bright ? 0.6 : 0));
                    }
        }
        return TestViews.Build(s, pixels, labels, classes, imageName: imageColumn);
    }

    /// <summary>The fraction of rows whose PredictedLabel equals Label (both keys).</summary>
    public static double Accuracy(IDataView scored)
    {
        var columns = TestViews.Read(scored);
        var labels = columns.Classes("Label");
        var predicted = columns.Classes("PredictedLabel");
        return labels.Zip(predicted).Count(p => p.First == p.Second) / (double)labels.Length;
    }

    /// <summary>Fast settings for the tests: few epochs, small batches.</summary>
    public static ImageClassifierOptions QuickOptions(ClassifierArchitecture architecture = ClassifierArchitecture.MnistC1, int epochs = 2) => new()
    {
        Architecture = architecture,
        Epochs = epochs,
        BatchSize = 16,
        Seed = 3,
    };

    /// <summary>A synchronous IProgress (Progress&lt;T&gt; posts to the thread pool, so reports would arrive late).</summary>
    public sealed class Recorder<T>(Action<T>? onReport = null) : IProgress<T>
    {
        public List<T> Reports { get; } = new();
        public void Report(T value)
        {
            Reports.Add(value);
            onReport?.Invoke(value);
        }
    }
}

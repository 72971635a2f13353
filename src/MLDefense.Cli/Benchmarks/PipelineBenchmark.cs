using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Defenses;

namespace MLDefense.Benchmarks;

/// <summary>Settings of <see cref="PipelineBenchmark.Run"/>; <see cref="Full"/> and <see cref="Quick"/> are the CLI's presets.</summary>
public sealed record PipelineBenchmarkOptions
{
    /// <summary>Test images transformed per round (the row: 10,000 Fashion-MNIST test images).</summary>
    public int Images { get; init; } = 10_000;

    /// <summary>Training images the components are fitted on, one epoch each: the benchmark times inference, not training.</summary>
    public int FitImages { get; init; } = 1_000;

    /// <summary>Timed rounds of each path, interleaved; the reported figures are medians.</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Single-image predictions timed through ML.NET's PredictionEngine (after 5 untimed ones).</summary>
    public int Predictions { get; init; } = 100;

    /// <summary>The seed of the context and the components.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Where everything runs.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    /// <summary>Where Fashion-MNIST is (default: the known places, Debian's package first).</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The full run: 10,000 images, 3 rounds.</summary>
    public static PipelineBenchmarkOptions Full => new();

    /// <summary>The quick run: 1,000 images, 3 rounds, fitted on 500.</summary>
    public static PipelineBenchmarkOptions Quick => new() { Images = 1_000, FitImages = 500 };
}

/// <summary>What <see cref="PipelineBenchmark.Run"/> measured.</summary>
/// <param name="Images">Images per round.</param>
/// <param name="PipelineSeconds">Each round of <c>Transform</c> read through a row cursor, every added column.</param>
/// <param name="DirectSeconds">Each round of the same networks called directly on the same batches of 256.</param>
/// <param name="PredictionMilliseconds">Each single-image PredictionEngine call.</param>
/// <param name="Device">Where it ran.</param>
/// <param name="Threads">libtorch's intra-op threads.</param>
public sealed record PipelineBenchmarkResult(int Images, IReadOnlyList<double> PipelineSeconds, IReadOnlyList<double> DirectSeconds,
    IReadOnlyList<double> PredictionMilliseconds, string Device, int Threads)
{
    /// <summary>The bound on <see cref="Ratio"/>: the cursor must not cost more than 10%.</summary>
    public const double Target = 1.1;

    /// <summary>Median pipeline time ÷ median direct time.</summary>
    public double Ratio => Median(PipelineSeconds) / Median(DirectSeconds);

    /// <summary>Median milliseconds of one PredictionEngine call.</summary>
    public double PredictionMedianMilliseconds => Median(PredictionMilliseconds);

    /// <summary>The median of a list.</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>
/// <c>mldefense bench pipeline</c>: what ML.NET's cursor contract costs. The defended pipeline SAEC → AE-GAN+sr →
/// classifier A → MIAED (fitted briefly on Fashion-MNIST: inference is what is timed) transforms the test images and a
/// row cursor reads every added column; the same networks are then called directly on the same batches of 256 images
/// (the transformers' own batch code, without the data views). Rounds alternate; the ratio of medians is the cursor's
/// cost. Also: the latency of one image through ML.NET's PredictionEngine (a batch of one).
/// </summary>
public static class PipelineBenchmark
{
    /// <summary>Fits the pipeline, then times both paths and the prediction engine.</summary>
    public static PipelineBenchmarkResult Run(PipelineBenchmarkOptions options, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var ml = Runtime.CreateMLContext(options.Seed, options.Device);
        var fit = ml.Data.TakeRows(ml.Data.LoadKnownDataset(KnownDatasets.FashionMnist, train: true, options.DataDirectory), options.FitImages);
        var test = ml.Data.TakeRows(ml.Data.LoadKnownDataset(KnownDatasets.FashionMnist, train: false, options.DataDirectory), options.Images);
        var classNames = KnownDatasets.Resolve(KnownDatasets.FashionMnist, options.DataDirectory).ClassNames;

        progress?.Report($"fitting the pipeline on {options.FitImages} images (one epoch each)");
        using var classifier = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            Architecture = ClassifierArchitecture.DefenseGanA, Epochs = 1, Seed = options.Seed, CancellationToken = cancellationToken,
        }).Fit(fit);
        using var model = ml.Transforms.Defenses.Saec(new SaecOptions { Seed = options.Seed })
            .Append(ml.Transforms.Defenses.AeGanPurifier(new AeGanOptions { OutputColumnName = "Purified", Epochs = 1, Seed = options.Seed, CancellationToken = cancellationToken }))
            .Append(classifier.AsEstimator(inputColumnName: "Purified"))
            .Append(ml.Transforms.Defenses.Miaed(new MiaedOptions { ImageColumnName = "Purified", Epochs = 1, SimpleNetworkEpochs = 1, Seed = options.Seed, CancellationToken = cancellationToken }))
            .Fit(fit);
        var saec = model.OfType<SaecTransformer>().Single();
        var aegan = model.OfType<AeGanTransformer>().Single();
        var reused = model.OfType<ImageClassifierTransformer>().Single();
        var miaed = model.LastTransformer;

        // Both paths start from the same images in memory, so neither pays for reading the dataset file.
        using var images = Evaluation.LabelledImages.Load(test, torch.CPU);
        var pixels = images.Images.data<float>().ToArray();
        var labels = Array.ConvertAll(images.Labels.data<long>().ToArray(), l => (int)l);
        var source = ImageRecordsDataView.FromPixels(images.Shape, pixels, labels, classNames);
        int count = labels.Length, size = images.Shape.Size;

        var pipelineSeconds = new List<double>();
        var directSeconds = new List<double>();
        for (int round = 0; round < options.Rounds; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report($"round {round + 1}/{options.Rounds}: Transform through a row cursor");
            pipelineSeconds.Add(Time(() => ReadEverything(model.Transform(source))));
            progress?.Report($"round {round + 1}/{options.Rounds}: the same networks called directly");
            directSeconds.Add(Time(() =>
            {
                for (int start = 0; start < count; start += DefenseInference.ChunkSize)
                {
                    int rows = Math.Min(DefenseInference.ChunkSize, count - start);
                    var batch = pixels.AsSpan(start * size, rows * size).ToArray();
                    saec.ScoreAndFlag(batch, rows, start);
                    var purified = (float[])aegan.PurifyAll(batch, rows, start)[0];
                    var (scores, _, _) = reused.Classify(purified, rows, start);
                    miaed.ScoreAll(purified, scores, rows, start);
                }
            }));
        }

        progress?.Report($"{options.Predictions} single-image predictions");
        // The engine must not own the model: ML.NET's PredictionEngine disposes an owned transformer with itself.
        using var engine = ml.Model.CreatePredictionEngine<PipelineInput, PipelineOutput>(model, new PredictionEngineOptions { OwnsTransformer = false });
        var inputs = Enumerable.Range(0, Math.Min(count, options.Predictions + 5)).Select(i => new PipelineInput { Image = pixels.AsSpan(i * size, size).ToArray() }).ToArray();
        var predictionMilliseconds = new List<double>();
        for (int i = 0; i < inputs.Length; i++)
        {
            var clock = Stopwatch.StartNew();
            engine.Predict(inputs[i]);
            if (i >= 5) predictionMilliseconds.Add(clock.Elapsed.TotalMilliseconds);
        }
        return new PipelineBenchmarkResult(count, pipelineSeconds, directSeconds, predictionMilliseconds, reused.Device.ToString(), Runtime.Threads);
    }

    private static double Time(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Reads every column the pipeline added, row by row, as an ML.NET consumer would.</summary>
    private static void ReadEverything(IDataView view)
    {
        using var cursor = view.GetRowCursor(view.Schema);
        var purified = cursor.GetGetter<VBuffer<float>>(view.Schema["Purified"]);
        var score = cursor.GetGetter<VBuffer<float>>(view.Schema["Score"]);
        var predicted = cursor.GetGetter<uint>(view.Schema["PredictedLabel"]);
        var singles = new[] { "SaecScore", "AeGanScore", "MiaedScore" }.Select(c => cursor.GetGetter<float>(view.Schema[c])).ToArray();
        var flags = new[] { "SaecFlag", "AeGanFlag", "MiaedFlag" }.Select(c => cursor.GetGetter<bool>(view.Schema[c])).ToArray();
        VBuffer<float> image = default, probabilities = default;
        uint key = 0;
        float value = 0;
        bool flag = false;
        while (cursor.MoveNext())
        {
            purified(ref image);
            score(ref probabilities);
            predicted(ref key);
            foreach (var getter in singles) getter(ref value);
            foreach (var getter in flags) getter(ref flag);
        }
    }

    /// <summary>One image for the prediction engine.</summary>
    public sealed class PipelineInput
    {
        /// <summary>The image, 1×28×28 in [0, 1].</summary>
        [VectorType(1, 28, 28)] public float[] Image { get; set; } = [];
    }

    /// <summary>What the engine returns (the columns a web service would).</summary>
    public sealed class PipelineOutput
    {
        /// <summary>The predicted class (a key).</summary>
        [KeyType(10)] public uint PredictedLabel { get; set; }
        /// <summary>The probabilities.</summary>
        [VectorType(10)] public float[] Score { get; set; } = [];
        /// <summary>SAEC's flag.</summary>
        public bool SaecFlag { get; set; }
        /// <summary>AE-GAN+sr's flag.</summary>
        public bool AeGanFlag { get; set; }
        /// <summary>MIAED's flag.</summary>
        public bool MiaedFlag { get; set; }
    }
}

using System.Diagnostics;
using System.Globalization;
using MLDefense.Attacks;
using MLDefense.Benchmarks;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Tests.MLNet;
using MLDefense.Classifiers;

namespace MLDefense.Tests;

/// <summary>
/// The attack tests' fixtures, made once per test run in a temporary folder (nothing generated is committed):
/// <list type="bullet">
/// <item><see cref="ClassifierFile"/>: <see cref="SmallC1"/> trained by MLDefense for 2 epochs on the first 5 000 MNIST
/// training images (seed 1), saved with MLDefense's state-dict names;</item>
/// <item><see cref="InputsFile"/>: the first 64 MNIST test images ("images", U8 [64, 1, 28, 28]) and labels ("labels", I64);</item>
/// <item><see cref="ReferenceFile"/>: what <c>attacks_reference.py fixtures</c> — the independent PyTorch implementation,
/// run by Debian's /usr/bin/python3 with python3-torch (<c>scripts/setup.sh test</c> installs it) — makes of them on one
/// thread; its metadata holds the attack parameters. Made only when a test asks for it.</item>
/// </list>
/// </summary>
internal static class AttackFixtures
{
    public const string ClassifierFile = "attacks_classifier.safetensors";
    public const string InputsFile = "attacks_inputs.safetensors";
    public const string ReferenceFile = "attacks_reference.safetensors";
    public const int Count = 64;
    private const string Python = "/usr/bin/python3";

    private static readonly Lazy<string> trained = new(TrainClassifierAndWriteInputs);
    private static readonly Lazy<string> referenced = new(RunPyTorchReference);

    /// <summary>
    /// MIAED's C1 at a quarter of its widths (8 and 16 channels, 64 hidden units), so that training it takes seconds:
    /// Conv(8, 3×3)-ReLU-MaxPool2-Conv(16, 3×3)-ReLU | MaxPool2-Flatten-FC 64-ReLU-FC K.
    /// </summary>
    public static FeatureMapClassifier SmallC1(int classes) => new(
        Sequential(Conv2d(1, 8, 3), ReLU(), MaxPool2d(2), Conv2d(8, 16, 3), ReLU()),
        Sequential(MaxPool2d(2), Flatten(), Linear(16 * 5 * 5, 64), ReLU(), Linear(64, classes)));

    /// <summary>The fixture classifier (CPU, evaluation mode); the caller disposes it.</summary>
    public static ModuleClassifier LoadClassifier()
    {
        var network = SmallC1(10);
        var state = Safetensors.Load(System.IO.Path.Combine(trained.Value, ClassifierFile));
        try { network.LoadStateStrict(state); }
        finally { foreach (var t in state.Values) t.Dispose(); }
        network.eval();
        return new ModuleClassifier(network, new ImageShape(1, 28, 28), 10);
    }

    /// <summary>The 64 fixture images (float32 in [0, 1]) and labels (int64), owned by the caller.</summary>
    public static (Tensor Images, Tensor Labels) LoadInputs()
    {
        var tensors = Safetensors.Load(System.IO.Path.Combine(trained.Value, InputsFile));
        using var bytes = tensors["images"];
        var images = bytes.to(ScalarType.Float32).div(255).DetachFromDisposeScope();
        return (images, tensors["labels"]);
    }

    /// <summary>PyTorch's outputs (float16 images converted to float32) and the metadata.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) LoadReference()
    {
        var path = referenced.Value;
        var tensors = Safetensors.Load(path);
        foreach (var name in tensors.Keys.ToList())
            if (tensors[name].dtype == ScalarType.Float16)
            {
                using var half = tensors[name];
                tensors[name] = half.to(ScalarType.Float32).DetachFromDisposeScope();
            }
        return (tensors, Safetensors.ReadMetadata(path));
    }

    public static double Number(this Dictionary<string, string> metadata, string key) => double.Parse(metadata[key], CultureInfo.InvariantCulture);

    /// <summary>Deletes the folder the fixtures were made in, if they were.</summary>
    public static void DeleteMade()
    {
        if (trained.IsValueCreated) Directory.Delete(trained.Value, recursive: true);
    }

    private static string TrainClassifierAndWriteInputs()
    {
        var directory = Directory.CreateTempSubdirectory("mldefense-attack-fixtures-").FullName;
        var ml = new MLContext(seed: 1);
        var train = ml.Data.TakeRows(ml.Data.LoadKnownDataset(KnownDatasets.Mnist, train: true), 5000);
        var options = new ImageClassifierOptions { CustomModule = (_, classes) => SmallC1(classes), ClassCount = 10, Epochs = 2, BatchSize = 64, Seed = 1 };
        using (var model = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(train))
            Safetensors.Save(model.Network.state_dict(), System.IO.Path.Combine(directory, ClassifierFile));

        var test = ml.Data.TakeRows(ml.Data.LoadKnownDataset(KnownDatasets.Mnist, train: false), Count);
        var bytes = Array.ConvertAll(TestViews.Floats(test, "Image"), v => (byte)Math.Round(v * 255));
        using (var images = torch.tensor(bytes, [Count, 1, 28, 28]))
        using (var labels = torch.tensor(Array.ConvertAll(TestViews.Classes(test), v => (long)v)))
            Safetensors.Save(new Dictionary<string, Tensor> { ["images"] = images, ["labels"] = labels }, System.IO.Path.Combine(directory, InputsFile));
        return directory;
    }

    private static string RunPyTorchReference()
    {
        var directory = trained.Value;
        var output = System.IO.Path.Combine(directory, ReferenceFile);
        var script = System.IO.Path.Combine(AppContext.BaseDirectory, AttackBenchmark.PyTorchScriptName);
        if (!File.Exists(Python))
            throw new AssertFailedException($"{Python} is missing: the attack reference tests run PyTorch (Debian's python3-torch; run scripts/setup.sh test).");
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { script, "fixtures", "--weights", System.IO.Path.Combine(directory, ClassifierFile),
                                    "--inputs", System.IO.Path.Combine(directory, InputsFile), "--output", output, "--threads", "1" })
            start.ArgumentList.Add(arg);
        using var python = Process.Start(start)!;
        var errors = python.StandardError.ReadToEndAsync();
        python.StandardOutput.ReadToEnd();
        python.WaitForExit();
        if (python.ExitCode != 0)
            throw new AssertFailedException($"attacks_reference.py failed (exit {python.ExitCode}; is python3-torch installed? scripts/setup.sh test installs it):\n{errors.Result}");
        return output;
    }
}

/// <summary>A network seen as an <see cref="IDifferentiableClassifier"/> (what the attacks need), for tests.</summary>
internal sealed class ModuleClassifier(Module<Tensor, Tensor> network, ImageShape inputShape, int classCount) : IDifferentiableClassifier, IDisposable
{
    /// <summary>Called with the running count of Logits calls (tests cancel from it).</summary>
    public Action<int>? OnLogits { get; set; }

    /// <summary>How many times Logits has been called.</summary>
    public int Calls { get; private set; }

    public Device Device { get; init; } = CPU;
    public ImageShape InputShape => inputShape;
    public int ClassCount => classCount;
    public IReadOnlyList<int>? FeatureMapShape => null;

    public Tensor Logits(Tensor images)
    {
        OnLogits?.Invoke(++Calls);
        return network.forward(images);
    }

    public Tensor FeatureMap(Tensor images) => throw new NotSupportedException();

    public void Dispose() => network.Dispose();
}

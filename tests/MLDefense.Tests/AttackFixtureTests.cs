using System.Diagnostics;
using System.Globalization;
using MLDefense.Attacks;
using MLDefense.Data;
using MLDefense.Torch.IO;
using MLDefense.Torch.Modules;
using static MLDefense.Torch.torch.nn;

namespace MLDefense.Tests;

/// <summary>
/// The committed attack fixtures (tests/MLDefense.Tests/fixtures/attacks_*.safetensors) and how to rebuild them:
/// <list type="bullet">
/// <item><c>attacks_classifier.safetensors</c>: <see cref="SmallC1"/> trained by MLDefense for 2 epochs on the first 5 000
/// MNIST training images (state-dict names as MLDefense saves them);</item>
/// <item><c>attacks_inputs.safetensors</c>: the first 64 MNIST test images ("images", U8 [64, 1, 28, 28]) and labels ("labels", I64);</item>
/// <item><c>attacks_reference.safetensors</c>: what <c>src/MLDefense/Attacks/Reference/attacks_reference.py fixtures</c>
/// (PyTorch, Debian's /usr/bin/python3) makes of them; its metadata holds the attack parameters.</item>
/// </list>
/// To regenerate: <c>MLDEFENSE_REGENERATE_ATTACK_FIXTURES=1 dotnet test tests/MLDefense.Tests --filter RegenerateFixtures</c>
/// (needs ../shared/datasets/mnist and python3-torch); otherwise MSTest reports that test as skipped.
/// </summary>
[TestClass]
public sealed class AttackFixtureTests
{
    private const string RegenerateVariable = "MLDEFENSE_REGENERATE_ATTACK_FIXTURES";

    // A fixture generator, not a check: MSTest reports it skipped (with the reason) unless the variable is set.
    [TestMethod]
    [RunWhenEnvironmentVariable(RegenerateVariable)]
    public void RegenerateFixtures()
    {
        var directory = AttackFixtures.SourceDirectory();
        var ml = new MLContext(seed: 1);
        var train = DataViews.SelectRows(ml.Data.LoadKnownDataset(KnownDatasets.Mnist, train: true), Enumerable.Range(0, 5000).ToArray());
        var options = new ImageClassifierOptions { CustomModule = (_, classes) => AttackFixtures.SmallC1(classes), ClassCount = 10, Epochs = 2, BatchSize = 64, Seed = 1 };
        using (var model = ml.MulticlassClassification.Trainers.ImageClassifier(options).Fit(train))
            Safetensors.Save(model.Network.state_dict(), Path.Combine(directory, AttackFixtures.ClassifierFile));

        var test = DataViews.SelectRows(ml.Data.LoadKnownDataset(KnownDatasets.Mnist, train: false), Enumerable.Range(0, AttackFixtures.Count).ToArray());
        var batch = test.GetBatches(AttackFixtures.Count, ["Image", "Label"]).Single();
        var bytes = Array.ConvertAll(batch.Get<float>("Image"), v => (byte)Math.Round(v * 255));
        using (var images = torch.tensor(bytes, [AttackFixtures.Count, 1, 28, 28]))
        using (var labels = torch.tensor(Array.ConvertAll(batch.Get<int>("Label"), v => (long)v)))
            Safetensors.Save(new Dictionary<string, Tensor> { ["images"] = images, ["labels"] = labels }, Path.Combine(directory, AttackFixtures.InputsFile));

        var script = Path.Combine(AttackFixtures.RepositoryRoot(), "src", "MLDefense", "Attacks", "Reference", "attacks_reference.py");
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { script, "fixtures", "--weights", Path.Combine(directory, AttackFixtures.ClassifierFile),
                                    "--inputs", Path.Combine(directory, AttackFixtures.InputsFile), "--output", Path.Combine(directory, AttackFixtures.ReferenceFile) })
            start.ArgumentList.Add(arg);
        using var python = Process.Start(start)!;
        string output = python.StandardOutput.ReadToEnd(), errors = python.StandardError.ReadToEnd();
        python.WaitForExit();
        Assert.AreEqual(0, python.ExitCode, errors);
        Console.WriteLine(output);
    }
}

/// <summary>Loads the committed attack fixtures.</summary>
internal static class AttackFixtures
{
    public const string ClassifierFile = "attacks_classifier.safetensors";
    public const string InputsFile = "attacks_inputs.safetensors";
    public const string ReferenceFile = "attacks_reference.safetensors";
    public const int Count = 64;

    /// <summary>
    /// MIAED's C1 at a quarter of its widths (8 and 16 channels, 64 hidden units), so its weights stay small enough to
    /// commit: Conv(8, 3×3)-ReLU-MaxPool2-Conv(16, 3×3)-ReLU | MaxPool2-Flatten-FC 64-ReLU-FC K.
    /// </summary>
    public static FeatureMapClassifier SmallC1(int classes) => new(
        Sequential(Conv2d(1, 8, 3), ReLU(), MaxPool2d(2), Conv2d(8, 16, 3), ReLU()),
        Sequential(MaxPool2d(2), Flatten(), Linear(16 * 5 * 5, 64), ReLU(), Linear(64, classes)));

    public static string Path(string file) => System.IO.Path.Combine(AppContext.BaseDirectory, "fixtures", file);

    /// <summary>The fixture classifier (CPU, evaluation mode); the caller disposes it.</summary>
    public static ModuleClassifier LoadClassifier()
    {
        var network = SmallC1(10);
        var state = Safetensors.Load(Path(ClassifierFile));
        try { network.load_state_dict(state); }
        finally { foreach (var t in state.Values) t.Dispose(); }
        network.eval();
        return new ModuleClassifier(network, new ImageShape(1, 28, 28), 10);
    }

    /// <summary>The 64 fixture images (float32 in [0, 1]) and labels (int64), owned by the caller.</summary>
    public static (Tensor Images, Tensor Labels) LoadInputs()
    {
        var tensors = Safetensors.Load(Path(InputsFile));
        using var bytes = tensors["images"];
        var images = bytes.to(ScalarType.Float32).div(255).DetachFromDisposeScope();
        return (images, tensors["labels"]);
    }

    /// <summary>The reference tensors (float16 images converted to float32) and the metadata.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) LoadReference()
    {
        var tensors = Safetensors.Load(Path(ReferenceFile));
        foreach (var name in tensors.Keys.ToList())
            if (tensors[name].dtype == ScalarType.Float16)
            {
                using var half = tensors[name];
                tensors[name] = half.to(ScalarType.Float32).DetachFromDisposeScope();
            }
        return (tensors, Safetensors.ReadMetadata(Path(ReferenceFile)));
    }

    public static double Number(this Dictionary<string, string> metadata, string key) => double.Parse(metadata[key], CultureInfo.InvariantCulture);

    public static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(System.IO.Path.Combine(d.FullName, "MLDefense.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("MLDefense.sln was not found above the test binaries.");
    }

    public static string SourceDirectory() => System.IO.Path.Combine(RepositoryRoot(), "tests", "MLDefense.Tests", "fixtures");
}

/// <summary>A network seen as an <see cref="IDifferentiableClassifier"/> (what the attacks need), for tests.</summary>
internal sealed class ModuleClassifier(Module<Tensor, Tensor> network, ImageShape inputShape, int classCount) : IDifferentiableClassifier, IDisposable
{
    /// <summary>Called with the running count of Logits calls (tests cancel from it).</summary>
    public Action<int>? OnLogits { get; set; }

    /// <summary>How many times Logits has been called.</summary>
    public int Calls { get; private set; }

    public Device Device { get; init; } = Device.CPU;
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

/// <summary>Runs a test only when an environment variable is "1"; otherwise MSTest reports it skipped, saying why.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class RunWhenEnvironmentVariableAttribute : ConditionBaseAttribute
{
    private readonly string variable;

    public RunWhenEnvironmentVariableAttribute(string variable) : base(ConditionMode.Include)
    {
        this.variable = variable;
        IgnoreMessage = $"Set {variable}=1 to run it.";
    }

    public override bool IsConditionMet => Environment.GetEnvironmentVariable(variable) == "1";
    public override string GroupName => nameof(RunWhenEnvironmentVariableAttribute);
}

namespace MLDefense.Data;

/// <summary>How a known dataset's files are laid out.</summary>
public enum KnownDatasetFormat
{
    /// <summary>IDX images and labels files (MNIST, Fashion-MNIST).</summary>
    Idx,
    /// <summary>CIFAR-10 binary records: one file holds both images and labels.</summary>
    Cifar10Binary,
}

/// <summary>
/// Where a known dataset's files are. For <see cref="KnownDatasetFormat.Cifar10Binary"/> a file holds images and
/// labels together, so each split's labels path is the same as its images path.
/// </summary>
public sealed record KnownDatasetFiles(
    string Name,
    KnownDatasetFormat Format,
    string Directory,
    string TrainImagesPath,
    string TrainLabelsPath,
    string TestImagesPath,
    string TestLabelsPath,
    IReadOnlyList<string> ClassNames)
{
    /// <summary>The images path of a split.</summary>
    public string ImagesPath(bool train) => train ? TrainImagesPath : TestImagesPath;
    /// <summary>The labels path of a split.</summary>
    public string LabelsPath(bool train) => train ? TrainLabelsPath : TestLabelsPath;
}

/// <summary>
/// Finds the datasets the project uses by name — <c>mnist</c>, <c>fashion-mnist</c>, <c>cifar10-subset</c> — without
/// downloading anything. Looks, in order: in the directory given explicitly (the CLI's <c>--data</c>: either the
/// dataset's own folder or a folder holding <c>&lt;name&gt;/</c>); else in <c>shared/datasets/&lt;name&gt;</c> beside
/// any parent of the current directory or of the application's directory (the workspace keeps the repository and
/// <c>shared/</c> side by side); else, for Fashion-MNIST, in Debian's <c>/usr/share/datasets/fashion-mnist</c>.
/// </summary>
public static class KnownDatasets
{
    /// <summary>MNIST (IDX, 60 000 + 10 000 grey 28×28 digits).</summary>
    public const string Mnist = "mnist";
    /// <summary>Fashion-MNIST (IDX, 60 000 + 10 000 grey 28×28 articles of clothing).</summary>
    public const string FashionMnist = "fashion-mnist";
    /// <summary>The first 4 000 training and 1 000 test images of CIFAR-10 (binary records, RGB 32×32).</summary>
    public const string Cifar10Subset = "cifar10-subset";

    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs its files.</summary>
    public const string DebianFashionMnistDirectory = "/usr/share/datasets/fashion-mnist";

    private static readonly string[] IdxFiles =
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];
    private static readonly string[] CifarFiles = ["train_first4000.bin.gz", "test_first1000.bin.gz"];

    private static readonly string[] FashionClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
    private static readonly string[] DigitClassNames = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>The names this class knows.</summary>
    public static IReadOnlyList<string> Names { get; } = [Mnist, FashionMnist, Cifar10Subset];

    /// <summary>Finds a dataset's files (see the class remarks for where it looks).</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Names"/>.</exception>
    /// <exception cref="FileNotFoundException">The dataset is nowhere; the message lists where it looked and how to get it.</exception>
    public static KnownDatasetFiles Resolve(string name, string? dataDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        var key = name.Trim().ToLowerInvariant();
        if (!Names.Contains(key))
            throw new ArgumentException($"Unknown dataset '{name}'; known datasets: {string.Join(", ", Names)}.", nameof(name));

        var looked = new List<string>();
        foreach (var candidate in Candidates(key, dataDirectory))
        {
            looked.Add(candidate);
            if (Files(key).All(f => File.Exists(Path.Combine(candidate, f)))) return Describe(key, candidate);
        }
        throw new FileNotFoundException(
            $"Dataset '{key}' was not found. Looked for {string.Join(", ", Files(key))} in: {string.Join("; ", looked.Distinct())}. {HowToGet(key, dataDirectory)}");
    }

    /// <summary>The <c>shared/datasets</c> folder found by walking up from the current and the application directories, or null.</summary>
    public static string? FindSharedDatasetsDirectory() =>
        StartDirectories().SelectMany(Ancestors).Select(d => Path.Combine(d, "shared", "datasets")).FirstOrDefault(Directory.Exists);

    private static IEnumerable<string> Candidates(string key, string? dataDirectory)
    {
        if (dataDirectory is not null)
        {
            // An explicit directory is authoritative: falling back elsewhere would silently use other data.
            var full = Path.GetFullPath(dataDirectory);
            yield return Path.Combine(full, key);
            yield return full;
            yield break;
        }
        foreach (var start in StartDirectories())
            foreach (var ancestor in Ancestors(start))
            {
                var shared = Path.Combine(ancestor, "shared", "datasets", key);
                if (Directory.Exists(shared)) yield return shared;
            }
        if (key == FashionMnist) yield return DebianFashionMnistDirectory;
    }

    private static IEnumerable<string> StartDirectories() =>
        new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory }.Select(Path.GetFullPath).Distinct();

    private static IEnumerable<string> Ancestors(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent) yield return dir.FullName;
    }

    private static string[] Files(string key) => key == Cifar10Subset ? CifarFiles : IdxFiles;

    private static KnownDatasetFiles Describe(string key, string directory)
    {
        var files = Files(key).Select(f => Path.Combine(directory, f)).ToArray();
        return key == Cifar10Subset
            ? new KnownDatasetFiles(key, KnownDatasetFormat.Cifar10Binary, directory, files[0], files[0], files[1], files[1], Cifar10Records.ClassNames)
            : new KnownDatasetFiles(key, KnownDatasetFormat.Idx, directory, files[0], files[1], files[2], files[3], key == Mnist ? DigitClassNames : FashionClassNames);
    }

    private static string HowToGet(string key, string? dataDirectory)
    {
        var explicitHint = dataDirectory is null ? "" : "Check the data directory given, or leave it out to search the default places. ";
        return key == FashionMnist
            ? explicitHint + $"Install it with `sudo apt-get install dataset-fashion-mnist` (into {DebianFashionMnistDirectory}), or give a directory holding the four IDX files."
            : explicitHint + $"Put the files in shared/datasets/{key} beside the repository (see shared/datasets/README.md), or give a directory holding them.";
    }
}

using System.CommandLine;
using MLDefense.Benchmarks;
using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Classifiers;

namespace MLDefense.Cli.Infrastructure;

/// <summary>Options several commands share, built the same way each time (a command owns its option instances).</summary>
public static class CommonOptions
{
    /// <summary><c>--dataset NAME</c> (required): one of the known datasets.</summary>
    public static Option<string> Dataset() => new("--dataset")
    {
        Description = $"The dataset, by name: {string.Join(", ", KnownDatasets.Names)} (found under --data, shared/datasets, or Debian's path).",
        HelpName = string.Join('|', KnownDatasets.Names),
        Required = true,
        CustomParser = result =>
        {
            var text = result.Tokens[0].Value.ToLowerInvariant();
            if (!KnownDatasets.Names.Contains(text))
                result.AddError($"--dataset: '{result.Tokens[0].Value}' is not one of {string.Join(", ", KnownDatasets.Names)}.");
            return text;
        },
    };

    /// <summary><c>--architecture c1|c2|a|b|c</c> (required): a built-in classifier.</summary>
    public static Option<ClassifierArchitecture> Architecture() => new("--architecture")
    {
        Description = "The classifier: c1 (MIAED's MNIST C1), c2 (the Carlini-Wagner CIFAR-10 network), a, b, c (Defense-GAN's classifiers A, B, C). "
                    + "c2 takes 3x32x32 images (cifar10-subset); the others 1x28x28 (mnist, fashion-mnist).",
        HelpName = string.Join('|', ClassifierTraining.ArchitecturesByShortName.Keys),
        Required = true,
        CustomParser = result =>
        {
            var text = result.Tokens[0].Value;
            if (ClassifierTraining.ArchitecturesByShortName.TryGetValue(text.ToLowerInvariant(), out var architecture)) return architecture;
            result.AddError($"--architecture: '{text}' is not one of {string.Join(", ", ClassifierTraining.ArchitecturesByShortName.Keys)}.");
            return default;
        },
    };

    /// <summary><c>--model PATH</c> (required): a model zip that exists.</summary>
    public static Option<FileInfo> Model() => new("--model")
    {
        Description = "The classifier: a model zip from `mldefense train-classifier` (loaded with ml.Model.Load).",
        HelpName = "PATH",
        Required = true,
        CustomParser = ExistingFile,
    };

    /// <summary>A file that exists.</summary>
    public static FileInfo ExistingFile(System.CommandLine.Parsing.ArgumentResult result)
    {
        var file = new FileInfo(result.Tokens[0].Value);
        if (!file.Exists) result.AddError($"{OptionParsers.OptionName(result)}: the file {file.FullName} does not exist.");
        return file;
    }

    /// <summary><c>--model PATH</c>-style option (named <paramref name="name"/>), not required: a model zip that exists, or null for "train one first".</summary>
    public static Option<FileInfo?> OptionalModel(string name, string description) =>
        OptionParsers.Create(name, description, "PATH", r => (FileInfo?)ExistingFile(r));

    /// <summary><c>--quick</c>: a bench's short preset instead of its full one; <paramref name="description"/> says what it shortens.</summary>
    public static Option<bool> Quick(string description) => new("--quick") { Description = description };

    /// <summary>
    /// <c>--curve EPOCHS</c>: the epochs (comma-separated, e.g. <c>5,10,20,40</c>) at which a long training is probed on its
    /// way to its last epoch — a learning curve (<see cref="Benchmarks.LearningCurves"/>).
    /// </summary>
    public static Option<IReadOnlyList<int>?> Curve(string what, string folderOption) => OptionParsers.Create<IReadOnlyList<int>?>("--curve",
        $"Probe {what} at these epochs on its way to its last one (comma-separated, e.g. 5,10,20,40; the last epoch is probed too): a learning curve, "
      + $"each probe continuing the previous one's training through the checkpoint kept in the {folderOption} folder (required), then evaluated on the "
      + "first --curve-images test images; the probes done are kept there, so an interrupted run resumes without repeating them. Default: no curve.",
        "EPOCHS", result =>
        {
            try { return Benchmarks.LearningCurves.ParseEpochs(result.Tokens[0].Value); }
            catch (FormatException e) { result.AddError($"--curve: {e.Message}"); return null; }
        });

    /// <summary><c>--curve-images N</c>: the test images each probe of <see cref="Curve"/> is evaluated on.</summary>
    public static Option<int?> CurveImages(int defaultImages) => OptionParsers.Create("--curve-images",
        $"Evaluate each probe of --curve on the first N test images. Default: {defaultImages}.", "N", r => (int?)OptionParsers.WholeNumber(r, minimum: 1));

    /// <summary>
    /// <c>--only KEY[,KEY...]</c>, repeatable: the cases of a bench to run. <paramref name="check"/> throws an
    /// <see cref="ArgumentException"/> for a list it rejects; its message becomes the one-line error.
    /// </summary>
    public static Option<string[]> Only(string description, string helpName, Action<string[]> check) => new("--only")
    {
        Description = description,
        HelpName = helpName,
        AllowMultipleArgumentsPerToken = true,
        CustomParser = result =>
        {
            var keys = SplitList(result.Tokens);
            try
            {
                check(keys);
            }
            catch (ArgumentException e)
            {
                result.AddError($"--only: {OptionParsers.MessageOf(e)}");
            }
            return keys;
        },
    };

    /// <summary>
    /// The cases of a bench that <c>--only</c> names: those of <paramref name="cases"/> whose <paramref name="key"/> (a dataset,
    /// or MIAED's dataset/architecture) is one of <paramref name="names"/> (case-insensitive, trimmed), in <paramref name="cases"/>'
    /// order. Every bench selects its cases here, so they share the rule and the error.
    /// </summary>
    /// <param name="cases">The bench's cases.</param>
    /// <param name="key">A case's name on the command line.</param>
    /// <param name="names">The names given.</param>
    /// <param name="what">What the names are, for the error ("datasets", "cases").</param>
    /// <exception cref="ArgumentException">A name that is no case's key (the message lists the keys), one listed twice, or none given.</exception>
    public static T[] SelectCases<T>(IReadOnlyList<T> cases, Func<T, string> key, IReadOnlyCollection<string> names, string what = "datasets")
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(names);
        string known = string.Join(", ", cases.Select(key));
        bool Named(T c, string name) => string.Equals(key(c), name.Trim(), StringComparison.OrdinalIgnoreCase);
        if (names.Count == 0) throw new ArgumentException($"none given; the {what} are {known}.", nameof(names));
        var unknown = names.Where(n => !cases.Any(c => Named(c, n))).ToArray();
        if (unknown.Length > 0)
            throw new ArgumentException($"{string.Join(", ", unknown)} is not one of the {what} {known}.", nameof(names));
        var twice = names.GroupBy(n => n.Trim(), StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (twice.Length > 0) throw new ArgumentException($"{string.Join(", ", twice)} is listed twice.", nameof(names));
        return cases.Where(c => names.Any(n => Named(c, n))).ToArray();
    }

    /// <summary>
    /// A repeatable <c>KEY=PATH</c> option (<c>--model mnist=c1.zip</c>): each key one of <paramref name="keys"/>
    /// (case-insensitive; the value holds it in lower case), each file existing, no key twice. The value maps each key to
    /// the file's full path.
    /// </summary>
    /// <param name="name">The option's name, e.g. <c>--model</c>.</param>
    /// <param name="description">Its help text.</param>
    /// <param name="keyName">What a key is, in the help and the errors: <c>DATASET</c>, <c>CASE</c>.</param>
    /// <param name="keys">The keys allowed.</param>
    public static Option<Dictionary<string, string>> KeyedPaths(string name, string description, string keyName, IReadOnlyCollection<string> keys) => new(name)
    {
        Description = description,
        HelpName = $"{keyName}=PATH",
        CustomParser = result =>
        {
            var paths = new Dictionary<string, string>();
            foreach (var value in result.Tokens.Select(t => t.Value))
            {
                int equals = value.IndexOf('=');
                string key = equals > 0 ? value[..equals].Trim().ToLowerInvariant() : "";
                string file = equals > 0 ? value[(equals + 1)..] : "";
                if (!keys.Contains(key, StringComparer.OrdinalIgnoreCase) || file.Length == 0)
                    result.AddError($"{name}: '{value}' is not {keyName}=PATH with {keyName} one of {string.Join(", ", keys)}.");
                else if (!File.Exists(file)) result.AddError($"{name}: the file {Path.GetFullPath(file)} does not exist.");
                else if (!paths.TryAdd(key, Path.GetFullPath(file))) result.AddError($"{name}: {key} is given twice.");
            }
            return paths;
        },
    };

    /// <summary>
    /// A repeatable, comma-separated list of names from <paramref name="choices"/> (<c>--methods saec,fs</c>): an unknown name,
    /// or an empty list, is a parse error that lists the choices. With <paramref name="allowNone"/>, <c>none</c> alone is the
    /// empty list. Not given, the value is empty too: a caller that must tell "none" from "not given" asks the parse result.
    /// </summary>
    public static Option<string[]> Choices(string name, string description, IReadOnlyCollection<string> choices, bool allowNone = false) => new(name)
    {
        Description = description,
        HelpName = "METHOD",
        AllowMultipleArgumentsPerToken = true,
        CustomParser = result =>
        {
            var names = SplitList(result.Tokens);
            if (allowNone && names is ["none"]) return [];
            var unknown = names.Where(n => !choices.Contains(n)).ToArray();
            if (unknown.Length > 0 || names.Length == 0)
                result.AddError($"{name}: {(names.Length == 0 ? "nothing given" : string.Join(", ", unknown))} is not one of {string.Join(", ", choices)}{(allowNone ? ", or none" : "")}.");
            return names;
        },
    };

    /// <summary>The values of a repeatable, comma-separated option such as <c>--only</c>, one per item.</summary>
    public static string[] SplitList(IEnumerable<System.CommandLine.Parsing.Token> tokens) =>
        tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();

    /// <summary><c>--python PATH</c>: the interpreter that runs a bench's PyTorch side (default Debian's <c>/usr/bin/python3</c>).</summary>
    public static Option<string> Python(string description) => new("--python")
    {
        Description = description,
        DefaultValueFactory = _ => "/usr/bin/python3",
        HelpName = "PATH",
    };

    /// <summary><c>--json PATH</c>: also write the results as JSON, shaped as <paramref name="shape"/> describes.</summary>
    public static Option<FileInfo?> Json(string shape) => OptionParsers.Create<FileInfo?>("--json",
        $"Also write the results to this file as JSON: {shape}. Default: no file.", "PATH", OptionParsers.FileInExistingFolder);
}

using System.Diagnostics;
using System.Globalization;
using MLDefense.Samples.ImageApi;

namespace MLDefense.Samples.Tests;

/// <summary>
/// A user's own app, outside this repository, that references the MLDefense package: it gets the package's build
/// targets (the fix that lets TorchSharp load on Debian 12's libstdc++) and nothing else of this repository's build.
/// The packages are packed from the source here into a folder feed; the app is restored, built and run as a new
/// process, and must initialise torch, then load a saved defended model with <c>new MLContext().Model.Load</c> (no
/// registration call: nothing but the zip names the components) and predict with ML.NET's PredictionEngine what the
/// model predicts in this process.
/// </summary>
[TestClass]
public sealed class PackageConsumerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(8);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MLDefense.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No MLDefense.sln above {AppContext.BaseDirectory}.");
    }

    private static async Task<string> Dotnet(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Patience);
        await process.WaitForExitAsync(timeout.Token);
        string all = await output + await error;
        Assert.AreEqual(0, process.ExitCode, $"dotnet {string.Join(' ', args)} failed:\n{all}");
        return all;
    }

    [TestMethod]
    public async Task AnAppReferencingThePackageLoadsTorchInAFreshProcess()
    {
        string root = RepositoryRoot();
        string work = Path.Combine(Path.GetTempPath(), $"mld-consumer-{Guid.NewGuid():N}");
        string feed = Path.Combine(work, "feed");
        string app = Path.Combine(work, "app");
        Directory.CreateDirectory(app);
        try
        {
            const string version = "0.0.1-test";
            // --no-build: the test run built these (the samples this project references depend on them).
            foreach (var project in new[] { "src/MLDefense/MLDefense.csproj" })
                await Dotnet(root, "pack", Path.Combine(root, project), "-c", "Release", "--no-build", "-o", feed, $"-p:Version={version}", "--nologo");
            // The app restores into a folder of its own (so no stale copy of the test package can be picked up), with
            // the machine's package folder as a read-only fallback (so TorchSharp's 500 MB of natives are not copied).
            string machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="mldefense-local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <RestorePackagesPath>{Path.Combine(work, "packages")}</RestorePackagesPath>
                    <RestoreFallbackFolders>{machinePackages}</RestoreFallbackFolders>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="MLDefense" Version="{version}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using System.Globalization;
                using Microsoft.ML;
                using Microsoft.ML.Data;
                using TorchSharp;

                var sum = torch.ones(3).sum().ToSingle();
                Console.WriteLine($"torch {torch.__version__} sum {sum} saec {typeof(MLDefense.Defenses.SaecEstimator).Name}");

                // The model zip the command line names, loaded and run the way an ML.NET app does, nothing else.
                var ml = new MLContext();
                var model = ml.Model.Load(args[0], out var schema);
                var engine = ml.Model.CreatePredictionEngine<Input, Output>(model);
                var image = Enumerable.Range(0, 784).Select(i => (i % 28) / 27f).ToArray();
                var p = engine.Predict(new Input { Image = image });
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"predicted {p.PredictedLabel} scores {p.SaecScore:R} {p.AeGanScore:R} {p.MiaedScore:R} probabilities {string.Join(' ', p.Score.Select(s => s.ToString("R", CultureInfo.InvariantCulture)))}"));

                class Input
                {
                    [VectorType(1, 28, 28)]
                    public float[] Image { get; set; } = [];
                }

                class Output
                {
                    public uint PredictedLabel { get; set; }
                    public float[] Score { get; set; } = [];
                    public float SaecScore { get; set; }
                    public float AeGanScore { get; set; }
                    public float MiaedScore { get; set; }
                }
                """);

            await Dotnet(app, "build", "-c", "Release", "--nologo");
            string output = await Dotnet(app, Path.Combine(app, "bin", "Release", "net10.0", "Consumer.dll"), TinyDefendedModel.Value.ModelPath);
            StringAssert.Contains(output, "sum 3 saec SaecEstimator");
            StringAssert.Contains(output, "torch 2.10");

            // What the same zip predicts here, for the same image.
            using var reference = DefendedModel.Load(TinyDefendedModel.Value.ModelPath);
            var expected = reference.Predict(Enumerable.Range(0, 784).Select(i => (i % 28) / 27f).ToArray());
            var line = output.Split('\n').SingleOrDefault(l => l.StartsWith("predicted ", StringComparison.Ordinal))
                ?? throw new AssertFailedException($"The app printed no prediction:\n{output}");
            var words = line.Trim().Split(' ');
            Assert.AreEqual(expected.PredictedLabel.ToString(CultureInfo.InvariantCulture), words[1], line);
            float[] Numbers(int from, int count) => words.Skip(from).Take(count).Select(w => float.Parse(w, CultureInfo.InvariantCulture)).ToArray();
            var scores = Numbers(3, 3);
            Assert.AreEqual(expected.SaecScore, scores[0], 1e-4f, line);
            Assert.AreEqual(expected.AeGanScore, scores[1], 1e-4f, line);
            Assert.AreEqual(expected.MiaedScore, scores[2], 1e-4f, line);
            var probabilities = Numbers(7, expected.Score.Length);
            for (int k = 0; k < expected.Score.Length; k++) Assert.AreEqual(expected.Score[k], probabilities[k], 1e-4f, $"class {k}: {line}");
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }
}

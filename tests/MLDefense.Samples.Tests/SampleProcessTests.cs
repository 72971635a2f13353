using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace MLDefense.Samples.Tests;

/// <summary>
/// The two samples as their own processes, loading the zip as a fresh app does: nothing but the model file tells them
/// which components to rebuild, so these catch what in-process tests cannot (such as the defenses' assembly not being
/// loaded yet when the zip is read).
/// </summary>
[TestClass]
public sealed class SampleProcessTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    private static Process Start(string assembly, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // Away from the test's output folder, so that the web app finds no appsettings.json and runs on its defaults.
            WorkingDirectory = TinyDefendedModel.TemporaryFolder,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, assembly));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        return Process.Start(info) ?? throw new InvalidOperationException($"dotnet {assembly} did not start.");
    }

    [TestMethod]
    public async Task TheConsoleSamplePredictsFromTheZipInAFreshProcess()
    {
        var model = TinyDefendedModel.Value.ModelPath;
        using var process = Start("DefendedClassifier.dll", "--predict-only", "--model", model, "--predictions", "2", "--threads", "1");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Patience);
        await process.WaitForExitAsync(timeout.Token);
        Assert.AreEqual(0, process.ExitCode, await error);
        StringAssert.Contains(await output, "Predicting 2 test images");
        StringAssert.Contains(await output, "#1: ");
    }

    [TestMethod]
    public async Task TheWebSampleServesTheZipInAFreshProcess()
    {
        var model = TinyDefendedModel.Value.ModelPath;
        using var process = Start("DefendedImageApi.dll", "--model", model, "--urls", "http://127.0.0.1:0");
        try
        {
            var address = await ListeningAddressAsync(process);
            using var client = new HttpClient { BaseAddress = new Uri(address) };
            using (var health = await client.GetAsync("/health"))
                Assert.AreEqual(HttpStatusCode.OK, health.StatusCode, await health.Content.ReadAsStringAsync());

            var image = TinyDefendedModel.TestImages(1)[0].Image;
            using var content = new ByteArrayContent(TinyDefendedModel.Png(image));
            content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            using var response = await client.PostAsync("/predict", content);
            var text = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, text);
            StringAssert.Contains(text, "\"isAdversarial\":");
        }
        finally
        {
            if (!process.HasExited) process.Kill();
            await process.WaitForExitAsync();
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MLDefense.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No MLDefense.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>
    /// <c>dotnet run -c Release --no-build --project PROJECT -- ARGS</c> started in <paramref name="workingDirectory"/>, as a
    /// user types the READMEs' commands (with <c>--no-build</c>: this test run has just built the samples).
    /// </summary>
    private static Process DotnetRun(string workingDirectory, string project, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory,
        };
        foreach (var arg in new[] { "run", "-c", "Release", "--no-build", "--project", Path.Combine(RepositoryRoot(), project), "--" }.Concat(args))
            info.ArgumentList.Add(arg);
        return Process.Start(info) ?? throw new InvalidOperationException($"dotnet run {project} did not start.");
    }

    /// <summary>A folder holding the tiny model as DefendedClassifier.zip, the name the READMEs' commands use.</summary>
    private static string CallersFolder()
    {
        var folder = Directory.CreateDirectory(Path.Combine(TinyDefendedModel.TemporaryFolder, $"caller-{Guid.NewGuid():N}")).FullName;
        File.Copy(TinyDefendedModel.Value.ModelPath, Path.Combine(folder, "DefendedClassifier.zip"));
        return folder;
    }

    [TestMethod]
    public async Task TheWebReadmesCommandFindsTheModelInTheCallersDirectory()
    {
        // samples/DefendedImageApi/README.md: `dotnet run -c Release --project samples/DefendedImageApi -- --model DefendedClassifier.zip --urls ...`,
        // typed where the DefendedClassifier sample wrote its zip. `dotnet run` starts a web project in its project folder
        // unless the project says otherwise; the relative path must mean the caller's file. The same for the default path.
        string caller = CallersFolder();
        string expected = Path.Combine(caller, "DefendedClassifier.zip");
        foreach (var args in new[] { new[] { "--model", "DefendedClassifier.zip", "--urls", "http://127.0.0.1:0" }, ["--urls", "http://127.0.0.1:0"] })
        {
            using var process = DotnetRun(caller, "samples/DefendedImageApi", args);
            try
            {
                var address = await ListeningAddressAsync(process);
                using var client = new HttpClient { BaseAddress = new Uri(address) };
                var health = await client.GetStringAsync("/health");
                StringAssert.Contains(health, $"\"model\":\"{expected}\"", string.Join(' ', args));
            }
            finally
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }

    [TestMethod]
    public async Task TheConsoleReadmesPredictOnlyCommandReadsTheCallersZip()
    {
        // samples/DefendedClassifier/README.md: `dotnet run -c Release --project samples/DefendedClassifier -- --predict-only --model DefendedClassifier.zip`.
        string caller = CallersFolder();
        using var process = DotnetRun(caller, "samples/DefendedClassifier", "--predict-only", "--model", "DefendedClassifier.zip", "--predictions", "1", "--threads", "1");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Patience);
        await process.WaitForExitAsync(timeout.Token);
        Assert.AreEqual(0, process.ExitCode, await error);
        StringAssert.Contains(await output, $"Predicting 1 test images with {Path.Combine(caller, "DefendedClassifier.zip")}");
    }

    /// <summary>Reads the app's log until Kestrel says where it listens (the port was 0: the system chose one).</summary>
    private static async Task<string> ListeningAddressAsync(Process process)
    {
        const string marker = "Now listening on: ";
        var seen = new List<string>();
        using var timeout = new CancellationTokenSource(Patience);
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            seen.Add(line);
            int at = line.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0) return line[(at + marker.Length)..].Trim();
        }
        Assert.Fail($"The app exited (code {(process.HasExited ? process.ExitCode : -1)}) before listening. Output: {string.Join('\n', seen)} " +
            $"Errors: {await process.StandardError.ReadToEndAsync()}");
        return "";
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using MLDefense.Legacy;

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
            using var content = new ByteArrayContent(ImageFiles.EncodePng(image, new ImageShape(1, 28, 28)));
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

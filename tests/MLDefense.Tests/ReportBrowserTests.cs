using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MLDefense.Cli;
using MLDefense.Data;
using MLDefense.Reporting;
using static MLDefense.Tests.ReportFixtures;

namespace MLDefense.Tests;

/// <summary>
/// Opens a report made by <c>mldefense report</c> in headless Chromium (Debian's <c>chromium</c>, which
/// <c>scripts/setup.sh test</c> installs) and checks that the browser builds the charts and paints them. Without
/// Chromium the test fails and says how to install it: a report nobody checked in a browser is not a tested report.
/// </summary>
[TestClass]
public sealed class ReportBrowserTests
{
    /// <summary>Names tried on PATH, after the MLDEFENSE_CHROMIUM environment variable.</summary>
    private static readonly string[] Names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

    private static string? FindChromium()
    {
        if (Environment.GetEnvironmentVariable("MLDEFENSE_CHROMIUM") is { Length: > 0 } configured && File.Exists(configured)) return configured;
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return Names.SelectMany(name => path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Select(folder => Path.Combine(folder, name)))
                    .FirstOrDefault(File.Exists);
    }

    /// <summary>Runs headless Chromium on <paramref name="page"/> with <paramref name="arguments"/>; returns its standard output.</summary>
    private static string RunChromium(string chromium, string profile, string page, params string[] arguments)
    {
        var start = new ProcessStartInfo(chromium)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--no-first-run",
                                  "--disable-extensions", $"--user-data-dir={profile}" }.Concat(arguments))
            start.ArgumentList.Add(a);
        start.ArgumentList.Add(new Uri(page).AbsoluteUri);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"Chromium did not finish within 120 s ({string.Join(' ', start.ArgumentList)}).");
        }
        Assert.AreEqual(0, process.ExitCode, $"Chromium failed: {stderr.Result}");
        return stdout.Result;
    }

    [TestMethod]
    public void ReportOpensInHeadlessChromiumWithEveryChartDrawn()
    {
        var chromium = FindChromium();
        if (chromium is null)
            Assert.Fail("Chromium is not installed, so the report cannot be checked in a browser: install it with `sudo apt-get install -y chromium` "
                      + "(scripts/setup.sh test does; or point MLDEFENSE_CHROMIUM at a Chromium or Chrome binary).");

        var folder = TempFolder();
        try
        {
            var png = ImageGrid.EncodePng([[Enumerable.Repeat(0f, 64).ToArray(), Enumerable.Repeat(1f, 64).ToArray()],
                                           [Enumerable.Range(0, 64).Select(i => i / 63f).ToArray(), Enumerable.Repeat(0.5f, 64).ToArray()]],
                                          new ImageShape(1, 8, 8));
            File.WriteAllBytes(Path.Combine(folder, "grid.png"), png);
            var attacks = AttackResults();
            attacks[ReportInputs.ImageGridsProperty] = new JsonArray(new ImageGridReference("clean / FGSM", Path.Combine(folder, "grid.png"), ["clean", "FGSM"]).ToJson(folder));
            Write(folder, "attacks.json", attacks);
            Write(folder, "saec.json", Saec(withRoc: true));
            var page = Path.Combine(folder, "report.html");
            var (code, _, error) = CliRunner.Run("report", "--input", folder, "--output", page);
            Assert.AreEqual(0, code, error);
            var profile = Directory.CreateDirectory(Path.Combine(folder, "profile")).FullName;

            // The DOM the browser built: every chart is an SVG element with its lines, bars and legend.
            var dom = RunChromium(chromium!, profile, page, "--dump-dom");
            Assert.AreEqual(8, Regex.Matches(dom, "<svg[^>]*class=\"chart ").Count, "charts: attacks 4 (accuracy, perturbation, speed, ratio), saec 4 (Acc_Detector, Acc_RC, 2 ROC)");
            Assert.AreEqual(2 + 2 + 8, Regex.Matches(dom, "<path[^>]*class=\"series-line\"").Count, "lines: 2 attacks × (Acc_Detector, Acc_RC) + 8 ROC curves");
            Assert.AreEqual(6 + 6 + 2 + 1, Regex.Matches(dom, "<rect[^>]*class=\"bar\"").Count, "bars: accuracy 6, perturbation 6, speed 2, ratio 1");
            Assert.AreEqual(2 * 4 + 2 * 4, Regex.Matches(dom, "class=\"series-point\"").Count, "a marker per budget on the sweep charts");
            StringAssert.Contains(dom, "data:image/png;base64," + Convert.ToBase64String(png));

            // The pixels the browser painted: the series colours are on screen, not just in the markup.
            var screenshot = Path.Combine(folder, "screenshot.png");
            RunChromium(chromium!, profile, page, $"--screenshot={screenshot}", "--window-size=1400,4200");
            var pixels = ImageFiles.Decode(File.ReadAllBytes(screenshot), 3, out var shape);
            int plane = shape.Height * shape.Width;
            int Near(string hex)
            {
                int r = Convert.ToInt32(hex[1..3], 16), g = Convert.ToInt32(hex[3..5], 16), b = Convert.ToInt32(hex[5..7], 16);
                int count = 0;
                for (int p = 0; p < plane; p++)
                    if (Math.Abs(pixels[p] * 255 - r) + Math.Abs(pixels[plane + p] * 255 - g) + Math.Abs(pixels[2 * plane + p] * 255 - b) < 24) count++;
                return count;
            }
            int blue = Near(SvgChart.Palette[0]), orange = Near(SvgChart.Palette[1]);
            Assert.IsTrue(blue > 2000, $"the first series colour covers {blue} pixels");
            Assert.IsTrue(orange > 2000, $"the second series colour covers {orange} pixels");
            int inked = 0;
            for (int p = 0; p < plane; p++)
                if (pixels[p] + pixels[plane + p] + pixels[2 * plane + p] < 2.7f) inked++;
            Assert.IsTrue(inked > plane / 50, $"{inked} of {plane} pixels are not background: the page is not blank");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

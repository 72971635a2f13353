using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace MLDefense.Benchmarks;

/// <summary>
/// A long-lived PyTorch twin of a benchmark (<c>bench_engine.py --serve</c>, <c>attacks_reference.py serve</c>): it
/// first prints a JSON line with <c>torch_version</c> and <c>threads</c>, then answers one request line
/// ("CASE WARMUP STEPS") per round with one JSON line holding <c>images_per_s</c>. Keeping it alive lets rounds
/// alternate with MLDefense's without paying Python's start-up.
/// </summary>
internal sealed class PyTorchReference : IDisposable
{
    internal const string InstallHint = "install PyTorch for Debian's interpreter with `sudo apt-get install python3-torch`";

    private readonly Process process;
    private readonly StderrTail stderr = new();

    private readonly string scriptName;

    private PyTorchReference(Process process, string scriptName)
    {
        this.process = process;
        this.scriptName = scriptName;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) stderr.Add(e.Data); };
        process.BeginErrorReadLine();
    }

    /// <summary>torch.__version__ as the interpreter reports it.</summary>
    public string Version { get; private set; } = "";

    /// <summary>Starts the interpreter, or says why it cannot run (with how to fix it).</summary>
    public static (PyTorchReference? Reference, string? Unavailable) TryStart(EngineBenchmarkOptions options, Device device) =>
        TryStart(options.PythonExecutable, options.PyTorchScript!, options.Threads,
                 ["--serve", "--threads", options.Threads.ToString(CultureInfo.InvariantCulture), "--device", device.ToString(),
                  "--seed", options.Seed.ToString(CultureInfo.InvariantCulture)]);

    /// <summary>
    /// Starts <paramref name="script"/> with <paramref name="arguments"/> under <paramref name="pythonExecutable"/> and
    /// checks that it runs <paramref name="threads"/> threads, or says why it cannot run (with how to fix it).
    /// </summary>
    public static (PyTorchReference? Reference, string? Unavailable) TryStart(string pythonExecutable, string script, int threads,
                                                                              IEnumerable<string> arguments)
    {
        var scriptName = Path.GetFileName(script);
        if (!File.Exists(script)) return (null, $"the PyTorch script {script} is missing (it ships next to the mldefense binary).");
        if (pythonExecutable.Contains('/') && !File.Exists(pythonExecutable)) return (null, $"{pythonExecutable} was not found; {InstallHint}.");

        var start = new ProcessStartInfo(pythonExecutable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["-u", script, .. arguments])
            start.ArgumentList.Add(arg);
        // The thread count is set explicitly on both sides; keep the environment from overriding either.
        start.Environment.Remove("OMP_NUM_THREADS");
        start.Environment.Remove("MKL_NUM_THREADS");

        Process process;
        try { process = Process.Start(start) ?? throw new InvalidOperationException("no process"); }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            return (null, $"{pythonExecutable} could not be started ({e.Message}); {InstallHint}.");
        }

        var reference = new PyTorchReference(process, scriptName);
        var ready = process.StandardOutput.ReadLine();
        if (ready is null)
        {
            process.WaitForExit();
            var why = reference.stderr.Text.Contains("No module named 'torch'", StringComparison.Ordinal)
                ? $"{pythonExecutable} cannot import torch; {InstallHint}."
                : $"{scriptName} failed to start: {reference.stderr.LastLine}";
            reference.Dispose();
            return (null, why);
        }
        using var header = JsonDocument.Parse(ready);
        reference.Version = header.RootElement.GetProperty("torch_version").GetString() ?? "?";
        int actualThreads = header.RootElement.GetProperty("threads").GetInt32();
        if (actualThreads != threads)
        {
            reference.Dispose();
            return (null, $"PyTorch runs {actualThreads} threads where {threads} were asked for.");
        }
        return (reference, null);
    }

    /// <summary>Runs one round in the interpreter and returns its images/s.</summary>
    public double RunRound(string caseName, int warmupSteps, int steps)
    {
        process.StandardInput.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{caseName} {warmupSteps} {steps}"));
        process.StandardInput.Flush();
        var line = process.StandardOutput.ReadLine()
                   ?? throw new InvalidOperationException($"{scriptName} stopped: {stderr.LastLine}");
        using var reply = JsonDocument.Parse(line);
        return reply.RootElement.GetProperty("images_per_s").GetDouble();
    }

    /// <summary>Closes the interpreter's input (it exits) and waits for it, killing it if it lingers.</summary>
    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.StandardInput.Close();
                if (!process.WaitForExit(5000)) process.Kill();
            }
        }
        catch (InvalidOperationException) { }
        process.Dispose();
    }

    /// <summary>The last lines the interpreter wrote to stderr (thread-safe: they arrive on a pool thread).</summary>
    private sealed class StderrTail
    {
        private readonly List<string> lines = new();
        public void Add(string line) { lock (lines) { lines.Add(line); if (lines.Count > 50) lines.RemoveAt(0); } }
        public string Text { get { lock (lines) return string.Join('\n', lines); } }
        public string LastLine { get { lock (lines) return lines.Count > 0 ? lines[^1] : "(no message)"; } }
    }
}

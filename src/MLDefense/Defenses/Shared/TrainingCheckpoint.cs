using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLDefense.Data;

namespace MLDefense.Defenses;

/// <summary>
/// A long training's state at the end of an epoch, in one zip, so that a Fit stopped by cancellation, a crash or a power
/// cut resumes after its last completed epoch and ends bit for bit where an uninterrupted Fit would: the networks'
/// weights and buffers (safetensors), the optimisers' states (libtorch's archive), the default random generators' states
/// (the CPU's and, on a GPU, the device's), and a description of the run — settings and a digest of the data — that the
/// resuming Fit must match. Written atomically (a temporary file renamed into place), so a stop while writing leaves the
/// previous epoch's checkpoint.
/// </summary>
internal sealed class TrainingCheckpoint
{
    private const int FormatVersion = 1;
    private const string RunEntry = "checkpoint.json";

    private readonly string path;
    private readonly JsonObject run;
    private readonly Device device;

    private TrainingCheckpoint(string path, JsonObject run, Device device)
    {
        this.path = Path.GetFullPath(path);
        this.run = run;
        this.device = device;
    }

    /// <summary>
    /// The checkpoint at <paramref name="path"/> of a <paramref name="component"/> run on <paramref name="images"/> images of
    /// <paramref name="shape"/> (their <paramref name="pixels"/> digested with SHA-256), with <paramref name="seed"/> on
    /// <paramref name="device"/> and the training <paramref name="settings"/>; null when <paramref name="path"/> is null
    /// (no checkpoint asked for), so that the data is digested only when one is.
    /// </summary>
    public static TrainingCheckpoint? Create(string? path, string component, ImageShape shape, ReadOnlySpan<float> pixels, int images, int seed,
        Device device, JsonObject settings)
    {
        if (path is null) return null;
        var run = new JsonObject
        {
            ["component"] = component,
            ["image_shape"] = shape.ToString(),
            ["images"] = images,
            ["data_sha256"] = Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(pixels))),
            ["seed"] = seed,
            ["device"] = device.ToString(),
        };
        foreach (var (key, value) in settings) run[key] = value?.DeepClone();
        return new TrainingCheckpoint(path, run, device);
    }

    /// <summary>The file.</summary>
    public string FilePath => path;

    /// <summary>Saves the state after <paramref name="epochsCompleted"/> epochs, atomically.</summary>
    public void Write(int epochsCompleted, IReadOnlyList<(string Name, Module Module)> modules, IReadOnlyList<(string Name, OptimizerHelper Optimizer)> optimizers)
    {
        string temporary = path + ".tmp";
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try
        {
            using (var file = File.Create(temporary))
            using (var zip = new ZipArchive(file, ZipArchiveMode.Create))
            {
                var header = new JsonObject { ["format_version"] = FormatVersion, ["epochs_completed"] = epochsCompleted, ["run"] = run.DeepClone() };
                WriteEntry(zip, RunEntry, s => JsonSerializer.Serialize(s, header));
                foreach (var (name, module) in modules)
                {
                    var state = module.state_dict();
                    // TorchSharp's state_dict holds the module's own tensors: nothing to dispose.
                    WriteEntry(zip, $"{name}.safetensors", s => Safetensors.Save(state, s));
                }
                foreach (var (name, optimizer) in optimizers)
                {
                    WriteEntry(zip, $"{name}.optimizer", s =>
                    {
                        using var writer = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
                        optimizer.save_state_dict(writer);
                    });
                }
                foreach (var (name, generator) in Generators())
                {
                    using var state = generator.Get();
                    var bytes = state.data<byte>().ToArray();
                    WriteEntry(zip, $"{name}.rng", s => s.Write(bytes));
                }
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>
    /// Loads the checkpoint into the modules, optimisers and generators and returns the epochs it completed, or returns 0
    /// (touching nothing) when there is no such file. A checkpoint of fewer epochs than the resuming Fit's
    /// <paramref name="epochs"/> is continued — for a training whose epochs do not shape its steps (a constant learning
    /// rate), this is how one run is extended (see the options' <c>KeepCheckpoint</c>); one of more epochs is refused.
    /// </summary>
    /// <exception cref="ArgumentException">The checkpoint belongs to another run, or completed more than <paramref name="epochs"/> epochs; the message names what differs.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable checkpoint.</exception>
    public int Restore(IReadOnlyList<(string Name, Module Module)> modules, IReadOnlyList<(string Name, OptimizerHelper Optimizer)> optimizers, int epochs)
    {
        if (!File.Exists(path)) return 0;
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var header = JsonNode.Parse(ReadEntry(zip, RunEntry))?.AsObject() ?? throw new InvalidDataException("its description is empty");
            int version = (int?)header["format_version"] ?? -1;
            if (version != FormatVersion) throw new InvalidDataException($"format version {version}, where this build reads {FormatVersion}");
            var saved = header["run"]?.AsObject() ?? throw new InvalidDataException("it does not describe its run");
            var differences = run.Select(kv => (kv.Key, Here: kv.Value?.ToJsonString(), There: saved[kv.Key]?.ToJsonString()))
                .Where(d => d.Here != d.There).Select(d => $"{d.Key}: {d.There ?? "missing"} there, {d.Here} here").ToList();
            if (differences.Count > 0)
                throw new ArgumentException($"The checkpoint '{path}' was written by another training run ({string.Join("; ", differences)}); " +
                    "resume with the settings and data it was written with, or delete it (or choose another checkpoint path) to start afresh.");
            int completed = (int?)header["epochs_completed"] ?? throw new InvalidDataException("it does not say how many epochs it completed");
            if (completed > epochs)
                throw new ArgumentException($"The checkpoint '{path}' completed {completed} epochs, more than this Fit's {epochs}; " +
                    "ask for at least as many epochs, or delete it (or choose another checkpoint path) to start afresh.");

            foreach (var (name, module) in modules)
            {
                using var stream = new MemoryStream(ReadEntry(zip, $"{name}.safetensors"));
                var state = Safetensors.Load(stream, device, $"{path}:{name}");
                try { module.LoadStateStrict(state); }
                catch (ArgumentException e) { throw new InvalidDataException($"its {name} weights do not fit: {e.Message}", e); }
                finally { foreach (var t in state.Values) t.Dispose(); }
            }
            foreach (var (name, optimizer) in optimizers)
            {
                using var reader = new BinaryReader(new MemoryStream(ReadEntry(zip, $"{name}.optimizer")));
                optimizer.load_state_dict(reader);
            }
            foreach (var (name, generator) in Generators())
            {
                var bytes = ReadEntry(zip, $"{name}.rng");
                using var state = torch.tensor(bytes, [bytes.Length]);
                generator.Set(state);
            }
            return completed;
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or ExternalException or IOException or InvalidOperationException)
        {
            throw new InvalidDataException($"The checkpoint '{path}' cannot be read ({e.Message}); delete it to start afresh.", e);
        }
    }

    /// <summary>Removes the checkpoint once training is done (no error when there is none).</summary>
    public void Delete() => File.Delete(path);

    // The CPU generator only: TorchSharp 0.107 exposes no CUDA generator state, so a training resumed on a GPU draws
    // other random numbers there than an uninterrupted one would (GPU training is not bit-reproducible anyway).
    private static IEnumerable<(string Name, (Func<Tensor> Get, Action<Tensor> Set) Generator)> Generators()
    {
        yield return ("cpu", (torch.get_rng_state, torch.set_rng_state));
    }

    private static void WriteEntry(ZipArchive zip, string name, Action<Stream> write)
    {
        using var stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        write(stream);
    }

    private static byte[] ReadEntry(ZipArchive zip, string name)
    {
        var entry = zip.GetEntry(name) ?? throw new InvalidDataException($"it has no entry '{name}'");
        using var stream = entry.Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
